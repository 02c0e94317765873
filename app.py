"""DPP-GRPO: diverse text-to-video prompt sets, as a multi-tab Gradio app.

    python app.py                       # http://127.0.0.1:7860 (or $GRADIO_SERVER_PORT)
    python app.py --host 0.0.0.0 --port 8000 --share
    python app.py --auth alice:pw --auth bob:pw --admin alice   # human study with sign-in
    http://127.0.0.1:7860/annotate?annotator=ann07       # the annotator page: the annotation form alone

Model choices come from the settings (flags below or DPPGRPO_* environment variables).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError


def _default_port() -> int:
    """--port's default: $GRADIO_SERVER_PORT, else 7860. Read as gradio reads it (int()), so a value this
    accepts never crashes gradio's import; UserFacingError (one line) otherwise."""
    value = os.environ.get("GRADIO_SERVER_PORT", "7860")
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise UserFacingError(f"GRADIO_SERVER_PORT must be a whole number from 1 to 65535, got "
                              f"{checks.shown(value)} (the environment's default for --port).")
    return port


if __name__ == "__main__":  # gradio reads GRADIO_SERVER_PORT with int() as it is imported: check it first
    try:
        _default_port()
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)

import gradio as gr  # noqa: E402

from dppgrpo_core.cli import ArgumentParser, run_main, whole  # noqa: E402
from dppgrpo_core.settings import Settings  # noqa: E402
from dppgrpo_core.study.fields import check_annotator  # noqa: E402
from pages import TABS  # noqa: E402
from pages.annotate_page import add_page as add_annotator_page  # noqa: E402
from pages.context import AppContext, browser_secret  # noqa: E402
from pages.fields import check_fields  # noqa: E402
from pages.layout import launch_options  # noqa: E402

TITLE = "DPP-GRPO: diverse video prompt sets"


def build_app(settings: Settings | None = None, auth=None, admins=None, allow_cpu: bool = False) -> gr.Blocks:
    """Assemble the tabs of `pages/` into one Blocks app (not launched)."""
    settings = settings or Settings.from_env()
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(
            f"# {TITLE}\nRewrite one prompt into K prompts that each add new *volume* to the set "
            "(DPP marginal gain) while staying faithful to it; render them; rate them."
        )
        # States are made outside gr.Tabs: created inside it, Gradio mislabels and misroutes the tab buttons.
        prompt_set, rendered_set = gr.State(None), gr.State(None)
        # This browser's last set and grid, kept across a reload and a server restart (encrypted in localStorage
        # with a key kept in the cache folder; checked on restore).
        secret = browser_secret(settings.cache_dir)
        saved_set = gr.BrowserState(None, storage_key="dppgrpo-last-set", secret=secret)
        saved_grid = gr.BrowserState(None, storage_key="dppgrpo-last-grid", secret=secret)
        rendered_grids = gr.State([])  # every grid this session rendered: the study pairs two of them
        # "wrap": on a narrow screen the tabs take a second row instead of hiding behind a menu.
        with gr.Tabs(overflow_behavior="wrap") as tabs:
            ctx = AppContext(
                settings=settings,
                tabs=tabs,
                prompt_set=prompt_set,
                rendered_set=rendered_set,
                auth=auth,
                admins=set(admins or []),
                saved_set=saved_set,
                saved_grid=saved_grid,
                allow_cpu=allow_cpu,
                rendered_grids=rendered_grids,
            )
            for label, module_name in TABS:
                with gr.Tab(label, id=module_name):
                    importlib.import_module(f"pages.{module_name}").build(ctx)
        gr.Navbar(visible=False)  # the annotator page is reached by its link only
    # /annotate: the annotation form alone, the page study leads send to annotators (no set-up, no other tab).
    add_annotator_page(demo, TITLE, settings, auth, admins)
    check_fields(demo)  # NaN, infinity or text in any numeric field: a gr.Error message, never a blank one
    demo.queue(default_concurrency_limit=4)
    return demo


def _auth_pair(value: str) -> tuple[str, str]:
    user, colon, password = value.partition(":")
    if not colon or not user or not password:
        raise argparse.ArgumentTypeError("takes USER:PASSWORD")
    try:
        check_annotator(user)  # the user name is the annotator id of the study
        checks.text(password, "the password", 1000)
    except UserFacingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return user, password


def parse_args(argv=None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python app.py", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=whole(1, 65535), default=None,
                        help="default: $GRADIO_SERVER_PORT, else 7860")
    parser.add_argument("--share", action="store_true", help="also serve through a public Gradio link")
    parser.add_argument("--auth", action="append", type=_auth_pair, default=[], metavar="USER:PASSWORD",
                        help="sign-in (repeatable)")
    parser.add_argument("--admin", action="append", default=[], metavar="USER", help="may read the Results tab")
    parser.add_argument("--allow-cpu", action="store_true",
                        help="let the Render tab run a full-size video model (wan2.1, cogvideox) on a CPU: hours per "
                             "video; without it, a machine with no CUDA GPU defaults to tiny-random-wan")
    Settings.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.port is None:
        args.port = _default_port()
    return args


def _main(argv) -> int:
    args = parse_args(argv)
    auth = args.auth or None
    users = {user for user, _ in auth or []}
    unknown = [admin for admin in args.admin if admin not in users]
    if auth and unknown:
        raise UserFacingError(f"--admin {checks.shown(unknown[0])} is not a user of --auth.")
    demo = build_app(Settings.from_args(args), auth=auth, admins=args.admin, allow_cpu=args.allow_cpu)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth, **launch_options())
    return 0


def main(argv=None) -> int:
    """Start the app; bad flags give one line on stderr and exit status 2."""
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
