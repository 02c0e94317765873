"""DPP-GRPO: diverse text-to-video prompt sets, as a multi-tab Gradio app.

    python app.py                       # http://127.0.0.1:7860 (or $GRADIO_SERVER_PORT)
    python app.py --host 0.0.0.0 --port 8000 --share
    python app.py --auth alice:pw --auth bob:pw --admin alice   # human study with sign-in

Model choices come from the settings (flags below or DPPGRPO_* environment variables).
"""

from __future__ import annotations

import argparse
import importlib
import os

import gradio as gr

from dppgrpo_core.settings import Settings
from pages import TABS
from pages.context import AppContext

TITLE = "DPP-GRPO: diverse video prompt sets"


def build_app(settings: Settings | None = None, auth=None, admins=None) -> gr.Blocks:
    """Assemble the tabs of `pages/` into one Blocks app (not launched)."""
    settings = settings or Settings.from_env()
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(
            f"# {TITLE}\nRewrite one prompt into K prompts that each add new *volume* to the set "
            "(DPP marginal gain) while staying faithful to it; render them; rate them."
        )
        # States are made outside gr.Tabs: created inside it, Gradio mislabels and misroutes the tab buttons.
        prompt_set, rendered_set = gr.State(None), gr.State(None)
        with gr.Tabs() as tabs:
            ctx = AppContext(
                settings=settings,
                tabs=tabs,
                prompt_set=prompt_set,
                rendered_set=rendered_set,
                auth=auth,
                admins=set(admins or []),
            )
            for label, module_name in TABS:
                try:
                    module = importlib.import_module(f"pages.{module_name}")
                except ModuleNotFoundError as exc:
                    if exc.name != f"pages.{module_name}":
                        raise
                    continue
                with gr.Tab(label, id=module_name):
                    module.build(ctx)
    demo.queue(default_concurrency_limit=4)
    return demo


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also serve through a public Gradio link")
    parser.add_argument("--auth", action="append", default=[], metavar="USER:PASSWORD", help="sign-in (repeatable)")
    parser.add_argument("--admin", action="append", default=[], metavar="USER", help="may read the Results tab")
    Settings.add_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    auth = [tuple(pair.split(":", 1)) for pair in args.auth] or None
    if auth and any(len(pair) != 2 or not all(pair) for pair in auth):
        raise SystemExit("--auth takes USER:PASSWORD")
    demo = build_app(Settings.from_args(args), auth=auth, admins=args.admin)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth)


if __name__ == "__main__":
    main()
