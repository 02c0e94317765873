"""The human study: a SQLite store of items, ratings, pairs and votes; manifests; blind order; results.

    from dppgrpo_core.study import AnnotationStore, import_manifest, next_item
    store = AnnotationStore("data/annotations.db")
    import_manifest(store, "manifest.jsonl")
    item, done, total = next_item(store, "ann-1")

The parts: `store.py` (the SQLite store and its schema upgrades), `manifest.py` (items from
manifests or app sets, the ratings export), `order.py` (each annotator's blind order),
`pairwise.py` (pairs of sets, one vote per annotator), `results.py` (agreement, win rates,
Bradley–Terry), `command.py` (`python -m dppgrpo_core.study`).
"""

from dppgrpo_core.study.manifest import (
                                         ATTENTION_METHOD,
                                         VIDEO_SUFFIXES,
                                         add_manifest_entries,
                                         attention_check_for,
                                         clip_path,
                                         export_ratings,
                                         import_manifest,
                                         item_from_set,
                                         read_manifest,
                                         votes_path,
                                         write_table,
)
from dppgrpo_core.study.order import clip_order, item_order, next_item
from dppgrpo_core.study.store import AnnotationError, AnnotationStore

__all__ = ["ATTENTION_METHOD", "VIDEO_SUFFIXES", "add_manifest_entries", "attention_check_for", "clip_path",
           "export_ratings", "import_manifest", "item_from_set", "read_manifest", "votes_path", "write_table",
           "clip_order", "item_order", "next_item", "AnnotationError", "AnnotationStore"]
