"""What a human study found, from the ratings table alone (pure: no database, no Gradio).

    ratings = AnnotationStore(path).ratings()
    method_summary(ratings)        # per method: items, annotators, ratings, mean and 95% bootstrap CI per scale
    agreement(ratings)             # ordinal Krippendorff's alpha per scale
    attention_failures(ratings)    # per annotator: attention checks seen and failed
    distribution_figure(ratings)   # plotly: score histograms per method and scale
    votes = pairwise.votes(store)
    win_rates(votes); bradley_terry(votes); position_bias(votes)   # pairwise mode
    answer_times(ratings, votes)   # per annotator: seconds per item, answers under FAST_ANSWER_S

Attention-check items (identical clips) are left out of the method results; an annotator fails a
check by giving it a diversity score above ATTENTION_MAX_DIVERSITY.
"""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd

SCALES = ("diversity", "alignment")
SCORES = (1, 2, 3, 4, 5)
ATTENTION_MAX_DIVERSITY = 2  # identical clips are "near-identical" (1); 2 forgives a hesitant rater
N_BOOT = 2000


def bootstrap_ci(scores: np.ndarray, items: np.ndarray, n_boot: int = N_BOOT, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap over items (ratings of one item move together, since
    annotators of the same item are not independent draws).

    >>> mean, lo, hi = bootstrap_ci(np.array([1, 2, 4, 5]), np.array(["a", "a", "b", "b"]))
    >>> mean, lo <= mean <= hi
    (3.0, True)
    """
    scores = np.asarray(scores, dtype=float)
    if scores.size == 0:
        return float("nan"), float("nan"), float("nan")
    _, index = np.unique(np.asarray(items), return_inverse=True)
    sums = np.bincount(index, weights=scores)
    counts = np.bincount(index).astype(float)
    draws = np.random.default_rng(seed).integers(0, len(sums), size=(n_boot, len(sums)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(scores.mean()), float(low), float(high)


def _rated(ratings: pd.DataFrame) -> pd.DataFrame:
    return ratings[~ratings["attention_check"].astype(bool)]


def method_summary(ratings: pd.DataFrame, n_boot: int = N_BOOT, seed: int = 0) -> pd.DataFrame:
    """One row per method: n_items, n_annotators, n_ratings, and <scale>_mean / _ci_low / _ci_high."""
    rows = []
    for method, group in _rated(ratings).groupby("method", sort=True):
        row = {"method": method, "n_items": group["item_id"].nunique(), "n_annotators": group["annotator"].nunique(),
               "n_ratings": len(group)}
        for scale in SCALES:
            mean, low, high = bootstrap_ci(group[scale].to_numpy(), group["item_id"].to_numpy(), n_boot, seed=seed)
            row.update({f"{scale}_mean": mean, f"{scale}_ci_low": low, f"{scale}_ci_high": high})
        rows.append(row)
    columns = ["method", "n_items", "n_annotators", "n_ratings"] + [
        f"{s}_{part}" for s in SCALES for part in ("mean", "ci_low", "ci_high")]
    return pd.DataFrame(rows, columns=columns)


def distributions(ratings: pd.DataFrame) -> pd.DataFrame:
    """Long table (method, scale, score, count, share): how often each score was given, zeros included."""
    rows = []
    for method, group in _rated(ratings).groupby("method", sort=True):
        for scale in SCALES:
            counts = group[scale].value_counts()
            for score in SCORES:
                count = int(counts.get(score, 0))
                rows.append({"method": method, "scale": scale, "score": score, "count": count,
                             "share": count / len(group)})
    return pd.DataFrame(rows, columns=["method", "scale", "score", "count", "share"])


def krippendorff_alpha(ratings: pd.DataFrame, scale: str) -> float:
    """Ordinal Krippendorff's alpha of one scale over all non-check items; NaN when it is undefined
    (fewer than two ratings of any item, or every rating the same value)."""
    rated = _rated(ratings)
    if rated.empty:
        return float("nan")
    table = rated.pivot_table(index="annotator", columns="item_id", values=scale, aggfunc="first")
    if (table.notna().sum(axis=0) >= 2).sum() == 0 or rated[scale].nunique() < 2:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=table.to_numpy(dtype=float), value_domain=list(SCORES),
                                    level_of_measurement="ordinal"))


def agreement(ratings: pd.DataFrame) -> dict[str, float]:
    """{"diversity": alpha, "alignment": alpha} (ordinal Krippendorff's alpha)."""
    return {scale: krippendorff_alpha(ratings, scale) for scale in SCALES}


def attention_failures(ratings: pd.DataFrame, max_diversity: int = ATTENTION_MAX_DIVERSITY) -> pd.DataFrame:
    """Per annotator who met an attention check: checks, failed (diversity > max_diversity), failed_items."""
    checks = ratings[ratings["attention_check"].astype(bool)]
    rows = []
    for annotator, group in checks.groupby("annotator", sort=True):
        failed = group[group["diversity"] > max_diversity]
        rows.append({"annotator": annotator, "checks": len(group), "failed": len(failed),
                     "failed_items": ", ".join(failed["item_id"])})
    return pd.DataFrame(rows, columns=["annotator", "checks", "failed", "failed_items"])


def distribution_figure(ratings: pd.DataFrame):
    """Plotly figure: one panel per scale, bars of the share of each score per method."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    table = distributions(ratings)
    figure = make_subplots(rows=1, cols=len(SCALES), subplot_titles=[s.capitalize() for s in SCALES], shared_yaxes=True)
    for column, scale in enumerate(SCALES, 1):
        for index, (method, group) in enumerate(table[table["scale"] == scale].groupby("method", sort=True)):
            figure.add_trace(go.Bar(x=group["score"], y=group["share"], name=method, legendgroup=method,
                                    showlegend=column == 1, marker_color=_COLORS[index % len(_COLORS)],
                                    customdata=group["count"], hovertemplate="score %{x}: %{customdata} ratings"),
                             row=1, col=column)
        figure.update_xaxes(title_text="score (1-5)", tickvals=list(SCORES), row=1, col=column)
    figure.update_yaxes(title_text="share of ratings", row=1, col=1)
    figure.update_layout(barmode="group", height=380, margin=dict(t=40, b=40, l=50, r=10))
    return figure


_COLORS = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D"]


def study_overview(ratings: pd.DataFrame, n_items: int) -> dict:
    """Counts for a headline: items in the study, items rated, annotators, ratings, checks failed."""
    failures = attention_failures(ratings)
    return {"items": n_items, "items_rated": int(ratings["item_id"].nunique()),
            "annotators": int(ratings["annotator"].nunique()), "ratings": len(ratings),
            "attention_checks": int(failures["checks"].sum()), "attention_failed": int(failures["failed"].sum())}


# ----- quality control (both modes) -----
FAST_ANSWER_S = 4.0  # an answer under 4 s after the item appeared cannot have watched a few-second clip loop
# once, nor read a set of prompts: flagged "too fast" per answer and counted per annotator.


def flag_fast(frame: pd.DataFrame, threshold: float = FAST_ANSWER_S) -> pd.DataFrame:
    """The table with a `too_fast` column: seconds recorded and below `threshold`."""
    frame = frame.copy()
    frame["too_fast"] = frame["seconds"].notna() & (frame["seconds"] < threshold)
    return frame


def answer_times(ratings: pd.DataFrame, votes: pd.DataFrame, threshold: float = FAST_ANSWER_S) -> pd.DataFrame:
    """Per annotator and mode: answers, median and fastest seconds per item, answers under `threshold` s."""
    rows = []
    for mode, frame in (("likert", ratings), ("pairwise", votes)):
        for annotator, group in flag_fast(frame, threshold).groupby("annotator", sort=True):
            seconds = group["seconds"].dropna()
            rows.append({"annotator": annotator, "mode": mode, "answers": len(group),
                         "median_s": round(float(seconds.median()), 1) if len(seconds) else float("nan"),
                         "fastest_s": round(float(seconds.min()), 1) if len(seconds) else float("nan"),
                         "too_fast": int(group["too_fast"].sum())})
    return pd.DataFrame(rows, columns=["annotator", "mode", "answers", "median_s", "fastest_s", "too_fast"])


# ----- pairwise mode -----
def _outcomes(votes: pd.DataFrame) -> pd.DataFrame:
    """One row per (vote, method of the pair): score 1 win, 0 loss, 0.5 tie; "both bad" votes left out."""
    decided = votes[votes["choice"] != "both_bad"]
    rows = []
    for _, vote in decided.iterrows():
        for method, other in ((vote["a_method"], vote["b_method"]), (vote["b_method"], vote["a_method"])):
            score = 0.5 if vote["choice"] == "tie" else float(vote["winner"] == method)
            rows.append({"method": method, "opponent": other, "pair_id": vote["pair_id"], "score": score})
    return pd.DataFrame(rows, columns=["method", "opponent", "pair_id", "score"])


def win_rates(votes: pd.DataFrame, n_boot: int = N_BOOT, seed: int = 0) -> pd.DataFrame:
    """Per method: votes, wins, ties, losses, both_bad, and the win rate (ties count half; "both bad" votes
    left out) with a 95% bootstrap CI over pairs (votes on one pair move together)."""
    outcomes = _outcomes(votes)
    rows = []
    for method in sorted(set(votes["a_method"]) | set(votes["b_method"])):
        mine = outcomes[outcomes["method"] == method]
        seen = votes[(votes["a_method"] == method) | (votes["b_method"] == method)]
        rate, low, high = bootstrap_ci(mine["score"].to_numpy(), mine["pair_id"].to_numpy(), n_boot, seed=seed)
        rows.append({"method": method, "votes": len(seen), "wins": int((mine["score"] == 1).sum()),
                     "ties": int((mine["score"] == 0.5).sum()), "losses": int((mine["score"] == 0).sum()),
                     "both_bad": int((seen["choice"] == "both_bad").sum()),
                     "win_rate": rate, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["method", "votes", "wins", "ties", "losses", "both_bad", "win_rate",
                                       "ci_low", "ci_high"])


def bradley_terry(votes: pd.DataFrame, iterations: int = 1000, prior: float = 0.5, tol: float = 1e-10) -> pd.DataFrame:
    """Bradley–Terry strengths by Hunter's (2004) MM algorithm: p_i <- W_i / sum_j n_ij / (p_i + p_j).

    A tie is half a win for each side; "both bad" votes are left out; `prior` virtual wins each way between
    every two methods keep a method that never won finite. Returns method, strength (summing to 1),
    P(beats an average method) and rank (1 = most diverse), best first.
    """
    outcomes = _outcomes(votes)
    methods = sorted(set(votes["a_method"]) | set(votes["b_method"])) if len(votes) else []
    index = {m: i for i, m in enumerate(methods)}
    n = len(methods)
    wins = np.full((n, n), prior) - np.eye(n) * prior  # wins[i, j]: times i beat j
    for _, row in outcomes.iterrows():
        wins[index[row["method"]], index[row["opponent"]]] += row["score"]
    games = wins + wins.T
    strength = np.ones(n) / max(n, 1)
    for _ in range(iterations):
        denominator = (games / (strength[:, None] + strength[None, :] + 1e-300)).sum(axis=1)
        updated = wins.sum(axis=1) / np.maximum(denominator, 1e-300)
        updated /= updated.sum() or 1
        if np.abs(updated - strength).max() < tol:
            strength = updated
            break
        strength = updated
    mean = strength.mean() if n else 0
    frame = pd.DataFrame({"method": methods, "strength": strength,
                          "p_beats_average": strength / (strength + mean) if n else []})
    frame = frame.sort_values("strength", ascending=False, kind="stable").reset_index(drop=True)
    frame["rank"] = np.arange(1, n + 1)
    return frame


def position_bias(votes: pd.DataFrame) -> dict:
    """Share of decisive votes (left or right) that went to the left side, with a 95% Wilson interval;
    about 0.5 when the layout does not sway annotators."""
    decisive = votes[votes["choice"].isin(["left", "right"])]
    n = len(decisive)
    if n == 0:
        return {"decisive": 0, "left_share": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    share, z = float((decisive["choice"] == "left").mean()), 1.959964
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"decisive": n, "left_share": share, "ci_low": float(centre - half), "ci_high": float(centre + half)}
