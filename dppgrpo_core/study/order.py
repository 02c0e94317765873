"""Blind order: each annotator's items shuffled by their logged seed, each item's clips by (seed, item_id).

    >>> item_order(["a", "b", "c"], seed=1) == item_order(["a", "b", "c"], seed=1)
    True
"""

from __future__ import annotations

import random

from dppgrpo_core.study.store import AnnotationStore


def item_order(item_ids: list[str], seed: int) -> list[str]:
    """This annotator's order: the sorted ids shuffled by their seed (same seed, same order).

    >>> item_order(["a", "b", "c", "d"], 3) == item_order(["d", "c", "b", "a"], 3)
    True
    """
    order = sorted(item_ids)
    random.Random(seed).shuffle(order)
    return order


def clip_order(n: int, seed: int, item_id: str) -> list[int]:
    """The display order of an item's n clips for one annotator (a stable permutation of range(n))."""
    order = list(range(n))
    random.Random(f"{seed}:{item_id}").shuffle(order)
    return order


def next_item(store: AnnotationStore, annotator: str, skip=()) -> tuple[dict | None, int, int]:
    """(the annotator's next unrated item with its clips in display order, or None; done; total).

    The item's "shown" list holds what to display (video paths or prompts) in the annotator's order;
    its method stays in the dict for the caller, which must not show it. Items in `skip` (those the caller
    cannot show now, such as a clip gone from disk) are passed over, so one cannot block the rest.
    """
    seed = store.annotator_seed(annotator)
    ids = store.item_ids()
    done = store.rated_item_ids(annotator) & set(ids)
    for item_id in item_order(ids, seed):
        if item_id not in done and item_id not in skip:
            item = store.item(item_id)
            content = item["videos"] or item["prompts"]
            item["shown"] = [content[i] for i in clip_order(len(content), seed, item_id)]
            return item, len(done), len(ids)
    return None, len(done), len(ids)
