"""The Results tab's tables and lines, honest about small samples (pure: no Gradio).

A bootstrap interval over one item is a point ("3.50 [3.50, 3.50]"), and α over two items is noise, so an
interval is shown only from MIN_ITEMS items (pairs for win rates) and α only from MIN_ITEMS items rated by two
or more annotators; below that the line says how many there are and how many it needs. Answers under
`FAST_ANSWER_S` seconds are left out of every table (and counted in the overview), and pairs of clips and pairs
of prompt sets (text) are ranked apart: they ask different questions.

>>> import pandas as pd
>>> ratings = pd.DataFrame({"annotator": ["a", "b"], "item_id": ["i1", "i1"], "prompt": ["p", "p"],
...     "method": ["m", "m"], "attention_check": [False, False], "diversity": [3, 4], "alignment": [4, 4],
...     "seconds": [9.0, 12.0]})
>>> summary_table(ratings)["diversity mean [95% CI]"].tolist()
['3.50 (1 item: an interval needs 5)']
"""

from __future__ import annotations

import math

import pandas as pd

from dppgrpo_core.study import results as study_results

MIN_ITEMS = 5  # items (or pairs) below which an interval or an agreement figure says nothing yet
PAIR_KINDS = {"clips": "pairs of clips", "text": "pairs of prompt sets (text)", "mixed": "pairs of clips vs text"}


def without_fast(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(the answers that took at least FAST_ANSWER_S seconds or were not timed, how many were left out)."""
    if frame is None or frame.empty:
        return frame, 0
    flagged = study_results.flag_fast(frame)
    return frame[~flagged["too_fast"]].reset_index(drop=True), int(flagged["too_fast"].sum())


def _items(n: int, what: str = "item") -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def mean_ci(mean: float, low: float, high: float, n: int, what: str = "item") -> str:
    """'mean [low, high]', or the mean and why there is no interval yet.

    >>> mean_ci(1.0, 1.0, 1.0, 1, "pair")
    '1.00 (1 pair: an interval needs 5)'
    """
    if n < MIN_ITEMS:
        return f"{mean:.2f} ({_items(n, what)}: an interval needs {MIN_ITEMS})"
    return f"{mean:.2f} [{low:.2f}, {high:.2f}]"


def summary_table(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per method: counts and 'mean [95% CI]' of each scale (the interval only from MIN_ITEMS items)."""
    summary = study_results.method_summary(ratings)
    table = summary[["method", "n_items", "n_annotators", "n_ratings"]].copy()
    for scale in study_results.SCALES:
        table[f"{scale} mean [95% CI]"] = [
            mean_ci(row[f"{scale}_mean"], row[f"{scale}_ci_low"], row[f"{scale}_ci_high"], int(row["n_items"]))
            for _, row in summary.iterrows()]
    return table


def shared_items(ratings: pd.DataFrame) -> int:
    """Items (attention checks aside) rated by two or more annotators: what an agreement figure rests on."""
    rated = ratings[~ratings["attention_check"].astype(bool)]
    return int((rated.groupby("item_id")["annotator"].nunique() >= 2).sum()) if len(rated) else 0


def alpha_text(value: float, shared: int) -> str:
    """Krippendorff's α as a reader should take it.

    >>> alpha_text(-0.5, 2)
    'not yet readable (-0.50 from 2 items rated by two or more annotators; it needs 5)'
    """
    if math.isnan(value):
        return "undefined (needs items rated by two or more annotators, and some disagreement)"
    if shared < MIN_ITEMS:
        return (f"not yet readable ({value:.2f} from {_items(shared)} rated by two or more annotators; "
                f"it needs {MIN_ITEMS})")
    return f"{value:.3f}"


def overview_markdown(ratings: pd.DataFrame, n_items: int, left_out: int = 0) -> str:
    counts = study_results.study_overview(ratings, n_items)
    alpha, shared = study_results.agreement(ratings), shared_items(ratings)
    fast = (f"  \n{left_out} answers under {study_results.FAST_ANSWER_S:g} s are left out of these results "
            "(the study dashboard lists them)." if left_out else "")
    return (f"**{counts['items']}** items in the study, **{counts['items_rated']}** rated; "
            f"**{counts['annotators']}** annotators, **{counts['ratings']}** ratings.  \n"
            f"Agreement (ordinal Krippendorff's α): diversity {alpha_text(alpha['diversity'], shared)}, "
            f"alignment {alpha_text(alpha['alignment'], shared)}.  \n"
            f"Attention checks: {counts['attention_failed']} failed of {counts['attention_checks']} "
            f"(a check fails when identical clips get diversity > {study_results.ATTENTION_MAX_DIVERSITY})." + fast)


def pair_kind(pair: dict) -> str:
    """"clips", "text" or "mixed": what the two sides of a pair show.

    >>> pair_kind({"a": {"videos": ["x.mp4"]}, "b": {"prompts": ["p"]}})
    'mixed'
    """
    sides = [bool((pair.get(key) or {}).get("videos")) for key in ("a", "b")]
    return "clips" if all(sides) else "text" if not any(sides) else "mixed"


def pairwise_table(votes: pd.DataFrame, kinds: dict[str, str] | None = None) -> pd.DataFrame:
    """Per kind of pair (`kinds`: pair id -> kind; all one kind without it), per method, best first:
    Bradley–Terry rank and strength, win rate [95% CI over pairs, from MIN_ITEMS pairs], counts."""
    if votes is None or votes.empty:
        return pd.DataFrame()
    kinds = kinds or {}
    tables = []
    for kind, group in votes.groupby(votes["pair_id"].map(lambda p: kinds.get(p, "clips")), sort=True):
        rates = study_results.win_rates(group)
        table = study_results.bradley_terry(group).merge(rates, on="method")
        pairs = {m: group[(group["a_method"] == m) | (group["b_method"] == m)]["pair_id"].nunique()
                 for m in table["method"]}
        table["win rate [95% CI]"] = [mean_ci(r.win_rate, r.ci_low, r.ci_high, pairs[r.method], "pair")
                                      for r in table.itertuples()]
        table["Bradley–Terry strength"] = table["strength"].round(3)
        table.insert(0, "pairs of", PAIR_KINDS.get(kind, kind))
        tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    return table[["pairs of", "rank", "method", "Bradley–Terry strength", "win rate [95% CI]", "votes", "wins",
                  "ties", "losses", "both_bad"]]


def pairwise_markdown(votes: pd.DataFrame, n_pairs: int, left_out: int = 0) -> str:
    fast = f" {left_out} votes under {study_results.FAST_ANSWER_S:g} s are left out." if left_out else ""
    if votes.empty:
        return f"Pairwise mode: {n_pairs} pairs in the study, no votes yet.{fast}"
    bias = study_results.position_bias(votes)
    left = ("no decisive votes yet" if not bias["decisive"] else
            f"{bias['left_share']:.0%} of {bias['decisive']} decisive votes went to the left side" + (
                f" [95% CI {bias['ci_low']:.0%}, {bias['ci_high']:.0%}]; about 50% means no position bias"
                if bias["decisive"] >= MIN_ITEMS else f" (too few to tell a bias; it needs {MIN_ITEMS})"))
    return (f"Pairwise mode: **{n_pairs}** pairs, **{votes['pair_id'].nunique()}** voted, **{len(votes)}** votes by "
            f"**{votes['annotator'].nunique()}** annotators. Position: {left}.{fast}")
