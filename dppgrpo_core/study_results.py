"""What a human study found, from the ratings table alone (pure: no database, no Gradio).

    ratings = AnnotationStore(path).ratings()
    method_summary(ratings)        # per method: items, annotators, ratings, mean and 95% bootstrap CI per scale
    agreement(ratings)             # ordinal Krippendorff's alpha per scale
    attention_failures(ratings)    # per annotator: attention checks seen and failed
    distribution_figure(ratings)   # plotly: score histograms per method and scale

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
