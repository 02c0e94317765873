"""What every tab receives: the settings, the cross-tab state, and the shared queue settings.

    def build(ctx: AppContext) -> None:
        button.click(fn, inputs, outputs, **ctx.model_queue)   # model-heavy: one shared concurrency slot

Per-user data lives in `gr.State` (one copy per browser session), never in module globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from dppgrpo_core.settings import Settings

try:  # On a ZeroGPU Space, `spaces.GPU` attaches a GPU for the call; elsewhere it is a no-op.
    import spaces

    gpu = spaces.GPU
except ImportError:  # pragma: no cover - depends on the host

    def gpu(fn=None, **_kwargs):
        return fn if fn is not None else (lambda f: f)


@dataclass
class AppContext:
    settings: Settings
    tabs: gr.Tabs  # switch tab with `gr.Tabs(selected="render")` as an output of `ctx.tabs`
    # The latest prompt set of this browser session: {"query", "method", "prompts": [...], "steps": [...]}.
    prompt_set: gr.State
    # The latest rendered grid of this session: {"query", "method", "prompts": [...], "videos": [...]}.
    rendered_set: gr.State
    auth: list[tuple[str, str]] | None = None  # (user, password) pairs when the app runs with credentials
    admins: set[str] = field(default_factory=set)  # users allowed to read results when auth is on

    @property
    def model_queue(self) -> dict:
        """Event kwargs for model-heavy work: all such events share one queue slot, so users wait in line."""
        return {"concurrency_id": "models", "concurrency_limit": 1}
