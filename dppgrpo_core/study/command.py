"""The command line of the human study: import a manifest, export the ratings, show the status.

    python -m dppgrpo_core.study import MANIFEST.jsonl --db data/annotations.db
    python -m dppgrpo_core.study export --db data/annotations.db --out ratings.csv    # or ratings.jsonl
    python -m dppgrpo_core.study status --db data/annotations.db

A manifest's format, and how its clips are confined: `manifest.py`.
"""

from __future__ import annotations

import argparse

from dppgrpo_core.cli import ArgumentParser, run_main
from dppgrpo_core.settings import Settings
from dppgrpo_core.study import pairwise
from dppgrpo_core.study.manifest import (
    add_manifest_entries,
    export_ratings,
    missing_clips,
    read_manifest,
    votes_path,
)
from dppgrpo_core.study.store import AnnotationStore


def parse_args(argv=None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m dppgrpo_core.study", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    imp = commands.add_parser("import", help="add the items of a JSONL manifest to the study")
    imp.add_argument("manifest")
    Settings.add_arguments(imp, only=("media_root",))
    exp = commands.add_parser("export", help="write every rating to a .csv or .jsonl file")
    exp.add_argument("--out", required=True)
    commands.add_parser("status", help="count items, annotators and ratings")
    for sub in (imp, exp, commands.choices["status"]):
        sub.add_argument("--db", default=None, help="SQLite file (default: the annotations_db setting)")
    return parser.parse_args(argv)


def _main(argv) -> int:
    args = parse_args(argv)
    settings = Settings.from_args(args)
    db = args.db or settings.annotations_db
    if args.command == "import":
        items = read_manifest(args.manifest, media_root=settings.media_root)  # all checked before the store opens
        store = AnnotationStore(db)
        added, pairs = add_manifest_entries(store, items)
        print(f"added {added} items" + (f" and {pairs} pairs" if pairs else "")
              + f" to {store.path} ({len(store.item_ids())} items, {len(pairwise.pair_ids(store))} pairs in the study)")
    elif args.command == "export":
        store = AnnotationStore(db, create=False)
        out = export_ratings(store, args.out)
        voted = len(pairwise.votes(store))
        print(f"wrote {len(store.ratings())} ratings to {out}" + (f" and {voted} votes to {votes_path(out)}" if voted else ""))
    else:
        store = AnnotationStore(db, create=False)
        ratings = store.ratings()
        print(f"{store.path}: {len(store.item_ids())} items, {ratings['annotator'].nunique()} annotators, "
              f"{len(ratings)} ratings; {len(pairwise.pair_ids(store))} pairs, {len(pairwise.votes(store))} votes")
        gone = missing_clips(store)
        if gone:  # annotators pass over these until their clips are back
            print(f"{len(gone)} items or pairs have a clip missing on disk (annotators skip them): "
                  + ", ".join(gone[:10]) + (" ..." if len(gone) > 10 else ""))
    return 0


def main(argv=None) -> int:
    """The command line (see the module doc): 0, or 2 with one line on stderr for bad input."""
    return run_main(_main, argv)
