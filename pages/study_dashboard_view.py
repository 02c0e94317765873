"""The study dashboard's tables and coverage map, from the store's ratings and votes (pure: no Gradio).

    coverage_figure(ratings, items, annotators)         # items × annotators: rated, flagged, not yet
    annotator_progress(ratings, votes, annotators, n_items, n_pairs, quota)
    answers_per_item(ratings, items, overlap)           # fewest first: what still needs raters
    flagged_answers(ratings, votes)                     # too fast, failed attention check, commented

>>> import pandas as pd
>>> ratings = pd.DataFrame({"annotator": ["ann1", "ann1"], "item_id": ["a", "b"], "prompt": ["p", "p"],
...     "method": ["m", "attention-check"], "attention_check": [False, True], "diversity": [3, 5],
...     "alignment": [4, 4], "comment": [None, "odd"], "seconds": [2.0, 9.0]})
>>> flagged_answers(ratings, pd.DataFrame())["reason"].tolist()
['too fast (2 s)', 'failed attention check (diversity 5 for identical clips); comment: odd']
"""

from __future__ import annotations

import math

import pandas as pd

from dppgrpo_core.study.results import ATTENTION_MAX_DIVERSITY, FAST_ANSWER_S

NOT_YET, RATED, FLAGGED = 0, 1, 2


def _fast(seconds) -> bool:
    return seconds is not None and not (isinstance(seconds, float) and math.isnan(seconds)) and seconds < FAST_ANSWER_S


def _reasons(row, attention: bool) -> list[str]:
    reasons = []
    if _fast(row.get("seconds")):
        reasons.append(f"too fast ({row['seconds']:.0f} s)")
    if attention and row.get("diversity", 0) > ATTENTION_MAX_DIVERSITY:
        reasons.append(f"failed attention check (diversity {row['diversity']} for identical clips)")
    comment = row.get("comment")
    if isinstance(comment, str) and comment.strip():
        reasons.append(f"comment: {comment.strip()[:200]}")
    return reasons


def flagged_answers(ratings: pd.DataFrame, votes: pd.DataFrame) -> pd.DataFrame:
    """Every answer a lead should look at: answered too fast, a failed attention check, or a comment."""
    rows = []
    for _, row in ratings.iterrows():
        reasons = _reasons(row, bool(row.get("attention_check")))
        if reasons:
            rows.append({"annotator": row["annotator"], "mode": "rating", "item or pair": row["item_id"],
                         "answer": f"diversity {row['diversity']}, alignment {row['alignment']}",
                         "reason": "; ".join(reasons)})
    for _, row in votes.iterrows() if len(votes) else []:
        if _fast(row.get("seconds")):
            rows.append({"annotator": row["annotator"], "mode": "vote", "item or pair": row["pair_id"],
                         "answer": str(row["choice"]), "reason": f"too fast ({row['seconds']:.0f} s)"})
    return pd.DataFrame(rows, columns=["annotator", "mode", "item or pair", "answer", "reason"])


def coverage(ratings: pd.DataFrame, items: list[dict], annotators: list[str]) -> pd.DataFrame:
    """Items × annotators: NOT_YET, RATED or FLAGGED (a flagged answer, see `flagged_answers`)."""
    frame = pd.DataFrame(NOT_YET, index=[i["item_id"] for i in items], columns=annotators, dtype=int)
    for _, row in ratings.iterrows():
        if row["item_id"] in frame.index and row["annotator"] in frame.columns:
            flagged = bool(_reasons(row, bool(row.get("attention_check"))) and not _only_comment(row))
            frame.loc[row["item_id"], row["annotator"]] = FLAGGED if flagged else RATED
    return frame


def _only_comment(row) -> bool:
    return not _fast(row.get("seconds")) and not (row.get("attention_check")
                                                   and row.get("diversity", 0) > ATTENTION_MAX_DIVERSITY)


def coverage_figure(ratings: pd.DataFrame, items: list[dict], annotators: list[str]):
    """Plotly heatmap of `coverage`: one row per item (its prompt on hover), one column per annotator."""
    import plotly.graph_objects as go

    table = coverage(ratings, items, annotators)
    labels = {i["item_id"]: f"{i['prompt'][:40]} · {i['item_id'][-6:]}" for i in items}
    words = {NOT_YET: "not yet", RATED: "rated", FLAGGED: "rated, flagged"}
    hover = [[f"{labels[item]}<br>{who}: {words[int(v)]}" for who, v in row.items()] for item, row in table.iterrows()]
    colours = [[0, "#e5e7eb"], [0.33, "#e5e7eb"], [0.34, "#22c55e"], [0.66, "#22c55e"], [0.67, "#f97316"], [1, "#f97316"]]
    figure = go.Figure(go.Heatmap(z=table.to_numpy(), x=list(table.columns), y=[labels[i] for i in table.index],
                                  zmin=0, zmax=2, colorscale=colours, showscale=False, text=hover,
                                  hovertemplate="%{text}<extra></extra>", xgap=2, ygap=2))
    figure.update_layout(title="Coverage: grey not yet, green rated, orange flagged", height=max(260, 28 * len(items)
                         + 120), margin={"l": 10, "r": 10, "t": 50, "b": 40}, yaxis={"autorange": "reversed"})
    return figure


def annotator_progress(ratings: pd.DataFrame, votes: pd.DataFrame, annotators: list[str], n_items: int,
                       n_pairs: int, quota: int | None) -> pd.DataFrame:
    """Per annotator: items rated and pairs voted of their targets (the quota caps each, else every item and pair),
    share done, median seconds per answer, flagged answers, and whether the quota is reached."""
    flagged = flagged_answers(ratings, votes)
    rows = []
    for who in annotators:
        mine = ratings[ratings["annotator"] == who]
        voted = votes[votes["annotator"] == who] if len(votes) else votes
        target = min(quota, n_items) if quota else n_items
        pair_target = min(quota, n_pairs) if quota else n_pairs
        seconds = pd.concat([mine["seconds"], voted["seconds"] if len(voted) else pd.Series(dtype=float)]).dropna()
        answered = len(mine) + len(voted)
        wanted = target + pair_target
        modes = [(kind, done) for kind, done, n in (("items", len(mine), n_items), ("pairs", len(voted), n_pairs)) if n]
        reached = [kind for kind, done in modes if quota and done >= quota]
        rows.append({"annotator": who, "items rated": f"{len(mine)} of {target}",
                     "pairs voted": f"{len(voted)} of {pair_target}",
                     "done": f"{answered / wanted:.0%}" if wanted else "–",
                     "median s": round(float(seconds.median()), 1) if len(seconds) else float("nan"),
                     "flagged": int((flagged["annotator"] == who).sum()),
                     "quota": ("reached" if reached and len(reached) == len(modes) else
                               f"reached ({reached[0]})" if reached else str(quota) if quota else "none")})
    return pd.DataFrame(rows, columns=["annotator", "items rated", "pairs voted", "done", "median s", "flagged",
                                       "quota"])


def answers_per_item(ratings: pd.DataFrame, items: list[dict], overlap: int) -> pd.DataFrame:
    """Per item, fewest ratings first: ratings so far, still needed to reach `overlap`, mean scores."""
    rows = []
    for item in items:
        mine = ratings[ratings["item_id"] == item["item_id"]]
        rows.append({"item": item["item_id"], "prompt": item["prompt"][:80], "method": item["method"],
                     "ratings": len(mine), "needed": max(overlap - len(mine), 0),
                     "diversity": round(float(mine["diversity"].mean()), 2) if len(mine) else float("nan"),
                     "alignment": round(float(mine["alignment"].mean()), 2) if len(mine) else float("nan")})
    frame = pd.DataFrame(rows, columns=["item", "prompt", "method", "ratings", "needed", "diversity", "alignment"])
    return frame.sort_values(["ratings", "item"], kind="stable").reset_index(drop=True)


def headline(ratings: pd.DataFrame, items: list[dict], annotators: list[str], overlap: int) -> str:
    """One line: how far the study is from `overlap` ratings on every item."""
    if not items:
        return "The study has no items yet: add them from the Render tab or the Annotate tab's set-up panel."
    counts = ratings.groupby("item_id").size() if len(ratings) else pd.Series(dtype=int)
    complete = sum(int(counts.get(i["item_id"], 0)) >= overlap for i in items)
    wanted = overlap * len(items)
    have = sum(min(int(counts.get(i["item_id"], 0)), overlap) for i in items)
    return (f"**{complete} of {len(items)}** items have their {overlap} ratings ({have / wanted:.0%} of the "
            f"{wanted} wanted); **{len(annotators)}** annotators so far, **{len(ratings)}** ratings.")
