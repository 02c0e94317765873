"""What every tab receives: the settings, the cross-tab state, and the shared queue settings.

    def build(ctx: AppContext) -> None:
        button.click(fn, inputs, outputs, **ctx.model_queue)   # model-heavy: one shared concurrency slot

Per-user data lives in `gr.State` (one copy per browser session), never in module globals.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import inspect
import logging
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.settings import PACKAGED_POLICY, Settings
from dppgrpo_core.study.store import AnnotationStore

try:  # On a ZeroGPU Space, `spaces.GPU` attaches a GPU for the call; elsewhere it is a no-op.
    import spaces

    gpu = spaces.GPU
except ImportError:  # pragma: no cover - depends on the host

    def gpu(fn=None, **_kwargs):
        return fn if fn is not None else (lambda f: f)


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def markdown_text(text: str) -> str:
    r"""User text to show inside gr.Markdown as itself: HTML escaped, Markdown punctuation backslash-escaped,
    so `<b>`, backticks and `*stars*` show literally and nothing renders or runs.

    >>> print(markdown_text("a `dog` <b>*runs*</b>"))
    a \`dog\` &lt;b&gt;\*runs\*&lt;/b&gt;
    """
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(str(text), quote=False))


def refused(message: str) -> gr.Error:
    """A refusal the user caused: shown as a toast, never printed as a traceback in the server's terminal."""
    return gr.Error(message, print_exception=False)


def handler(fn=None, *, uses_gpu: bool = False):
    """The one way to write a page's event handler: a module-level function (tests call it directly) whose
    UserFacingError reaches the user as its one line (`refused`); `uses_gpu` asks a ZeroGPU Space for a GPU
    during the call. The server's own values (settings, flags) come first and are bound in `build`:

        @handler(uses_gpu=True)
        def on_expand(settings: Settings, prompt, k, method, ..., progress=gr.Progress()): ...

        def build(ctx: AppContext) -> None:
            run.click(bind(on_expand, ctx.settings), [prompt, k, method, ...], outputs)

    >>> @handler
    ... def ask(k):
    ...     raise UserFacingError(f"k must be at most 8, got {k}.")
    >>> ask(9)
    Traceback (most recent call last):
    ...
    gradio.exceptions.Error: 'k must be at most 8, got 9.'
    """
    def wrap(fn):
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def checked(*args, **kwargs):
                try:
                    yield from fn(*args, **kwargs)
                except UserFacingError as exc:
                    raise refused(str(exc)) from None
        else:
            @functools.wraps(fn)
            def checked(*args, **kwargs):
                try:
                    return fn(*args, **kwargs)
                except UserFacingError as exc:
                    raise refused(str(exc)) from None
        return gpu(checked) if uses_gpu else checked

    return wrap(fn) if fn is not None else wrap


def bind(fn, *first):
    """`fn` with its first arguments given, as a function Gradio can read like `fn` itself: the signature
    without those arguments, the same type hints (a `gr.Request` parameter, a `gr.Progress()` default) and
    still a generator function when `fn` is one. (`functools.partial` hides the type hints from Gradio.)

    >>> def on_click(settings, text: str, request: gr.Request): ...
    >>> inspect.signature(bind(on_click, "the settings"))
    <Signature (text: 'str', request: 'gr.Request')>
    """
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def bound(*args, **kwargs):
            yield from fn(*first, *args, **kwargs)
    else:
        @functools.wraps(fn)
        def bound(*args, **kwargs):
            return fn(*first, *args, **kwargs)
    parameters = list(inspect.signature(fn).parameters.values())
    bound.__signature__ = inspect.Signature(parameters[len(first):])
    return bound


# Expansions running at once; beyond it a request waits in Gradio's queue (its position shown).
EXPAND_CONCURRENCY = 8


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
    # Kept in the browser across a reload (gr.BrowserState; None in a bare test app): the last Expand set
    # (request and prompts) and the last Render grid (prompts, video file names). Client data: check on restore.
    saved_set: gr.BrowserState | None = None
    saved_grid: gr.BrowserState | None = None
    allow_cpu: bool = False  # app flag --allow-cpu: full-size video models may run on a CPU (hours per video)
    # Every grid this session rendered, oldest first (RenderedSet dicts): the study's "pair these two grids".
    rendered_grids: gr.State | None = None

    @property
    def model_queue(self) -> dict:
        """Event kwargs for video rendering: all renders share one slot (one GPU), so users wait in line."""
        return {"concurrency_id": "models", "concurrency_limit": 1}

    @property
    def expand_queue(self) -> dict:
        """Event kwargs for expansions and set loading: many run at once. Cheap work (dpp-compose, a loaded set)
        never waits behind a policy run; the policy methods take turns at the local engine call by call
        (`dppgrpo_core.models.policy.LOCAL_TURNS`), so concurrent runs share it fairly."""
        return {"concurrency_id": "expand", "concurrency_limit": EXPAND_CONCURRENCY}


def kept_or_none(saved):
    """A browser's kept copy, or None when it kept nothing: the first of the two restore steps (see Expand)."""
    return saved or None


def browser_secret(cache_dir) -> str | None:
    """The key that encrypts what browsers keep (gr.BrowserState), kept in `<cache_dir>/browser-state.key` so a
    kept set and grid survive a server restart (gradio's default key is new in every process). None, and
    gradio's own per-process key, when the cache folder cannot hold it.

    >>> import tempfile; folder = tempfile.mkdtemp()
    >>> browser_secret(folder) == browser_secret(folder) and len(browser_secret(folder))
    64
    """
    import os
    import secrets

    path = Path(cache_dir).expanduser() / "browser-state.key"
    try:
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{os.getpid()}")
            partial.write_text(secrets.token_hex(32))
            os.chmod(partial, 0o600)
            try:
                os.link(partial, path)  # never replaces: two processes starting together share the first key
            except FileExistsError:
                pass
            finally:
                partial.unlink()
        key = path.read_text().strip()
    except OSError as exc:
        logging.getLogger(__name__).warning("kept sets will not survive a restart: %s", exc)
        return None
    return key if re.fullmatch(r"[0-9a-f]{64}", key) else None


def on_page_load(fn, inputs=None, outputs=None, **kwargs):
    """Run `fn` when a browser opens (or reloads) the page: `load` of the Blocks being built."""
    root = gr.context.Context.root_block
    if root is None:
        raise RuntimeError("on_page_load is called while building a gr.Blocks")
    return root.load(fn, inputs, outputs, **kwargs)


def _policy_label(settings: Settings) -> str:
    # A folder path says nothing a user needs and something an attacker wants: show its last part only.
    name = settings.policy if settings.policy.startswith("packaged:") or not Path(settings.policy).is_absolute() \
        else "configured: " + Path(settings.policy).name
    return name + (" + LoRA adapter" if settings.adapter else "")


def enabled_policies(settings: Settings) -> dict[str, Settings]:
    """What a client may pick, name -> the settings to expand with: the server's policy (with its adapter)
    first, then each packaged policy. A client never sends a model folder, Hub id or adapter path.

    The split Qwen policies are offered only where `make models` put their wheels or converted folder
    into this server's cache folder:

    >>> list(enabled_policies(Settings(policy="/srv/models/qwen", adapter="/srv/lora", cache_dir="/srv/empty")))
    ['configured: qwen + LoRA adapter', 'packaged:SmolLM2-135M-Instruct', 'packaged:SmolLM2-135M-DPP-GRPO']
    """
    from dppgrpo_core.models.policy import trained_adapter_shipped
    from dppgrpo_core.models.split import SPLIT_MODELS, split_policy_available
    from dppgrpo_core.settings import PACKAGED_POLICIES, PACKAGED_TRAINED_POLICY

    choices = {_policy_label(settings): settings}
    names = list(PACKAGED_POLICIES)
    if trained_adapter_shipped():  # the packaged SmolLM2 with the LoRA adapter shipped in models/
        names.insert(names.index(PACKAGED_POLICY) + 1, PACKAGED_TRAINED_POLICY)
    for name in names:
        if name in SPLIT_MODELS and not split_policy_available(name, settings.cache_dir):
            continue  # opt-in and large: never listed (nor fetched) unless this server prepared it
        if name != settings.policy or settings.adapter:
            choices.setdefault(name, dataclasses.replace(settings, policy=name, adapter=None))
    return choices


def settings_for_policy(settings: Settings, choice: str | None) -> Settings:
    """The settings behind a client's policy choice (blank = the server's); UserFacingError otherwise."""
    choices = enabled_policies(settings)
    if choice in (None, ""):
        return settings
    if not isinstance(choice, str) or choice not in choices:
        raise UserFacingError(f"Unknown policy: choose one of {', '.join(choices)}.")
    return choices[choice]


# The study store and who may change it: shared by the Annotate, Render and Results tabs.
@functools.lru_cache(maxsize=8)
def _store_at(path: str) -> AnnotationStore:
    return AnnotationStore(path)


def open_store(ctx) -> AnnotationStore:
    """The study store of the app's settings, opened on first use (building the app writes nothing)."""
    try:
        return _store_at(str(Path(ctx.settings.annotations_db).expanduser().resolve()))
    except (UserFacingError, OSError, sqlite3.Error) as exc:
        # The path is the server's business: annotators see that it failed, the server log says where.
        logging.getLogger(__name__).error("cannot open the annotation store %s: %s", ctx.settings.annotations_db, exc)
        raise refused("Cannot open the study's annotation store; tell the study organiser.") from None


def is_admin(ctx, request: gr.Request | None) -> bool:
    """Without sign-in everyone is; with sign-in, only the users named by --admin."""
    if ctx.auth is None:
        return True
    return bool(request is not None and request.username and request.username in ctx.admins)
