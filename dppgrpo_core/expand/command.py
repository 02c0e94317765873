"""The command line `python -m dppgrpo_core.expand` (see `run.py` for examples)."""

from __future__ import annotations

import json
import sys

from dppgrpo_core import cli
from dppgrpo_core.expand.config import MAX_K, MAX_SEED, ExpandConfig
from dppgrpo_core.expand.methods import DEFAULT_METHOD, METHOD_NOTES, METHODS
from dppgrpo_core.expand.run import check_inputs, format_table, run_expansion
from dppgrpo_core.settings import POLICY_SETTINGS, Settings


def _main(argv: list[str]) -> int:
    parser = cli.ArgumentParser(prog="python -m dppgrpo_core.expand", description="Expand a prompt into K diverse prompts.")
    parser.add_argument("query", help="the text-to-video prompt to expand")
    parser.add_argument("-k", type=cli.whole(1, MAX_K), default=8, help=f"number of prompts (1-{MAX_K})")
    parser.add_argument("--method", default=DEFAULT_METHOD, choices=list(METHODS),
                        help="; ".join(f"{name}: {note}" for name, note in METHOD_NOTES.items()))
    parser.add_argument("--seed", type=cli.seed(), default=0, help=f"a whole number from 0 to {MAX_SEED}")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ExpandConfig.add_arguments(parser)
    Settings.add_arguments(parser, only=(*POLICY_SETTINGS, "embedder", "device", "cache_dir"))
    args = parser.parse_args(argv)
    # The one check of this entry path, before the progress bar: a bad input is one line and nothing else.
    request = check_inputs(args.query, args.k, args.method, args.seed,
                           **{name: getattr(args, name) for name in ExpandConfig.RANGES})
    from tqdm.auto import tqdm

    with tqdm(total=request.k, desc=request.method, unit="prompt", file=sys.stderr) as bar:
        result = run_expansion(request.query, request.k, request.method, request.seed, progress=bar,
                               settings=Settings.from_args(args), config=request.config)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


def main(argv=None) -> int:
    """The command line (see the module doc): 0, or 2 with one line on stderr for bad input."""
    return cli.run_main(_main, argv)
