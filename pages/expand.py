"""Expand tab: rewrite one prompt into K prompts and watch each step's DPP marginal gain live.

`build(ctx)` lays out the tab and wires module-level handlers: the runs in `expand_run.py`, set files and
the browser's kept set in `expand_sets.py`, the views in `expand_view.py`, the estimates in `estimates.py`, the
queue's side (one run per session, the waiting line, Stop) in `expand_queue.py`. The expand event is the API
endpoint `/expand`, the comparison `/compare`.
"""

from __future__ import annotations

import time

import gradio as gr

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import (
    APP_SLIDER_RANGES,
    DEFAULT_METHOD,
    MAX_K_APP,
    METHOD_NOTES,
    METHODS,
    ExpandConfig,
)
from dppgrpo_core.settings import Settings
from pages.context import (
    AppContext,
    bind,
    enabled_policies,
    handler,
    kept_or_none,
    on_page_load,
)
from pages.activity import ACTIVITY
from pages.estimates import POLICY_METHODS, compare_line, estimate_line, expected_seconds
from pages.expand_queue import (
    Buttons,
    QueueView,
    compare_gate,
    expand_gate,
    idle_buttons,
    loading_ahead,
    on_stop,
    queue_tick,
    run_over,
    waiting_for_compare,
    waiting_for_expand,
    whole,
)
from pages.expand_run import compare_stream, expand_stream
from pages.expand_sets import load_set_upload, restore_saved, saved_copy, upload_problem
from pages.expand_view import TABLE_COLUMNS, CompareView, FormValues, SetView

FALLBACK_EXAMPLES = [
    "a dog playing with a ball at the beach",
    "a red car driving through a rainy city at night",
    "a person riding a bicycle on a mountain road",
]


MIN_EXAMPLE_WORDS = 4  # VBench also holds one-word prompts ("bar", "kitchen"): poor examples of a prompt


def example_prompts(n: int = 6) -> list[str]:
    """A few full VBench prompts (seeded, at least MIN_EXAMPLE_WORDS words), or built-in ones without the wheel."""
    try:
        from eval.prompts import sample_prompts, vbench_prompts

        sampled = [p["prompt"] for p in sample_prompts(vbench_prompts(), 10 * n, seed=1)]
        return [p for p in sampled if len(p.split()) >= MIN_EXAMPLE_WORDS][:n] or FALLBACK_EXAMPLES
    except Exception:  # the examples are a convenience; the tab works without them
        return FALLBACK_EXAMPLES


def _record_run(settings: Settings, method: str, policy, k: int, n_candidates, elapsed: float,
                loading: float) -> None:
    """A finished run teaches the server's estimates: its models are loaded now, and its seconds per prompt."""
    ACTIVITY.mark_loaded("embedder", settings.embedder)
    if method in POLICY_METHODS:
        ACTIVITY.mark_loaded("policy", policy or "")
    units = k * (int(n_candidates) if method == "dpp-rerank" else 1)
    ACTIVITY.measure(method, max(elapsed - loading, 0.0) / units, warm=loading == 0)


@handler(uses_gpu=True)
def on_expand(settings: Settings, prompt, k, method, seed, lambda_div, lambda_rel, policy, temperature,
              n_candidates, request: gr.Request = None, progress=gr.Progress()):
    """The Expand button: `expand_stream` with the progress bar and a status line every second; the run is in
    the server's record of runs (`ACTIVITY`) while it lasts, so others see what they wait behind."""
    k, session = whole(k), getattr(request, "session_hash", None) or "api"
    loading = loading_ahead(settings, method, policy)
    ACTIVITY.start(session, method, k, expected_seconds(method, k, n_candidates, ACTIVITY.rates(), loading))
    start = time.perf_counter()
    try:
        yield from expand_stream(settings, prompt, k, method, seed, lambda_div, lambda_rel, policy, temperature,
                                 n_candidates, progress=progress, tick=1.0)
    finally:
        ACTIVITY.finish(session)
    _record_run(settings, method, policy, k, n_candidates, time.perf_counter() - start, loading)


@handler(uses_gpu=True)
def on_compare(settings: Settings, prompt, method, method_b, compare_k, seed, lambda_div, lambda_rel, policy,
               temperature, n_candidates, request: gr.Request = None):
    """The Compare button: both methods with the comparison's own K (the inputs' order puts K after them)."""
    compare_k, session = whole(compare_k), getattr(request, "session_hash", None) or "api"
    slowest = max([method, method_b], key=lambda m: m in POLICY_METHODS)
    loading = loading_ahead(settings, slowest, policy)
    expected = sum(expected_seconds(m, compare_k, n_candidates, ACTIVITY.rates()) for m in {method, method_b})
    ACTIVITY.start(session, slowest, compare_k, expected + loading)
    try:
        yield from compare_stream(settings, prompt, compare_k, method, method_b, seed, lambda_div, lambda_rel,
                                  policy, temperature, n_candidates)
    finally:
        ACTIVITY.finish(session)
    ACTIVITY.mark_loaded("embedder", settings.embedder)
    if slowest in POLICY_METHODS:
        ACTIVITY.mark_loaded("policy", policy or "")


def method_note(name: str) -> str:
    """The one line under the method dropdown.

    >>> method_note("iid")
    '*K independent policy rewrites of q (no set conditioning)*'
    """
    return f"*{METHOD_NOTES.get(name, '')}*"


def on_estimate(settings: Settings, device: str, method: str, k, n_candidates, policy) -> str:
    """The line under the buttons: this run's time here, loading included, or what is wrong with K."""
    return estimate_line(method, whole(k), n_candidates, ACTIVITY.rates(), device,
                         loading_ahead(settings, method, policy))


def on_compare_estimate(settings: Settings, device: str, method: str, method_b: str, compare_k, n_candidates,
                        policy) -> str:
    slowest = max([method, method_b], key=lambda m: m in POLICY_METHODS)
    return compare_line(method, method_b, whole(compare_k), n_candidates, ACTIVITY.rates(), device,
                        loading_ahead(settings, slowest, policy))


def set_loaded(settings: Settings) -> None:
    """A set loaded or restored scored its prompts: the embedder is loaded now."""
    ACTIVITY.mark_loaded("embedder", settings.embedder)


def send_to_render(prompt_set: dict | None):
    """The "Send set to Render" button: the Render tab, or a warning when there is no set yet."""
    if not prompt_set:
        gr.Warning("Expand a prompt first: there is no set to render yet.")
        return gr.Tabs()
    return gr.Tabs(selected="render")


def build(ctx: AppContext) -> None:
    # Long but flat: the layout, then the wiring of module-level handlers (nothing else happens here). The prompt,
    # the buttons and the lines about the run come first, so Tab reaches Expand from the prompt in one press.
    settings = ctx.settings
    try:
        device = settings.check_device()
    except UserFacingError:
        device = "cpu"
    live = ["dpp-live"]  # status lines a screen reader announces (app.HEAD marks them aria-live)
    with gr.Row():
        with gr.Column(scale=3):
            # One line to start (it grows to six): Enter runs the expansion, Shift+Enter adds a line.
            prompt = gr.Textbox(label="Prompt", lines=1, max_lines=6, elem_id="expand-prompt",
                                placeholder="a dog playing with a ball at the beach (Enter runs)")
            with gr.Row(elem_classes=["dpp-buttons"]):
                run = gr.Button("Expand", variant="primary", elem_id="expand-run")
                stop = gr.Button("Stop", variant="stop", visible=False, elem_id="expand-stop")
                to_render = gr.Button("Send set to Render ▶")
            estimate = gr.Markdown(estimate_line(DEFAULT_METHOD, 6, 4, {}, device),
                                   elem_id="expand-estimate", elem_classes=live)
            queue_note = gr.Markdown(elem_id="expand-queue", elem_classes=live)
            status = gr.Markdown(elem_id="expand-status", elem_classes=live)
            gr.Examples(example_prompts(), inputs=prompt, label="VBench prompts")
        with gr.Column(scale=2):
            with gr.Row():
                # A number field, not a slider: a typed K out of range is refused with its line, never clamped.
                k = gr.Number(value=6, label=f"K (prompts in the set, 1 to {MAX_K_APP})", elem_id="expand-k")
                seed = gr.Number(value=0, precision=0, label="Seed")
            method = gr.Dropdown(list(METHODS), value=DEFAULT_METHOD, label="Method")
            note = gr.Markdown(method_note(DEFAULT_METHOD))
            with gr.Row():
                lambda_div = gr.Slider(*ExpandConfig.RANGES["lambda_div"], value=ExpandConfig.lambda_div, step=0.05,
                                       label="λ_div (diversity)")
                lambda_rel = gr.Slider(*ExpandConfig.RANGES["lambda_rel"], value=ExpandConfig.lambda_rel, step=0.05,
                                       label="λ_rel (relevance)")
    with gr.Accordion("Advanced", open=False):
        policies = list(enabled_policies(settings))
        policy = gr.Dropdown(policies, value=policies[0],
                             label="Policy (the server's, or a packaged one; the server's flags add others)")
        with gr.Row():
            temperature = gr.Slider(*APP_SLIDER_RANGES["temperature"], value=ExpandConfig.temperature, step=0.05,
                                    label="Temperature (0 = greedy)")
            n_candidates = gr.Slider(*APP_SLIDER_RANGES["n_candidates"], value=ExpandConfig.n_candidates, step=1,
                                     label="Candidates per step (dpp-rerank)")
    timer = gr.Timer(1.0, active=False)  # ticks while this session's run waits for a slot
    table = gr.Dataframe(headers=TABLE_COLUMNS, label="Prompt set", wrap=True, interactive=False, elem_id="expand-table",
                         column_widths=["48px", "60%", "72px", "72px", "72px"])  # numbers stay readable on a phone
    with gr.Row():
        gains_plot = gr.Plot(label="Per-step marginal gain")
        heatmap = gr.Plot(label="Similarity of the set")
    summary = gr.Markdown()
    with gr.Row():
        json_file = gr.File(label="Set as JSON (everything needed to make it again)")
        csv_file = gr.File(label="Set as CSV")
        set_upload = gr.File(label="Load a set (a JSON downloaded here)", file_types=[".json"], type="filepath",
                             elem_id="expand-load-set")
    with gr.Accordion("Compare two methods on this prompt", open=False):
        with gr.Row():
            method_b = gr.Dropdown(list(METHODS), value="iid", label="Second method")
            compare_k = gr.Number(value=4, label=f"K for the comparison (1 to {MAX_K_APP})")
            compare = gr.Button("Compare")
            compare_stop = gr.Button("Stop", variant="stop", visible=False)
        compare_estimate = gr.Markdown(compare_line(DEFAULT_METHOD, "iid", 4, 4, {}, device), elem_classes=live)
        compare_status = gr.Markdown(elem_classes=live)
        compare_plot = gr.Plot(label="Gain curves")
        compare_sets = gr.HTML()

    quiet = {"api_visibility": "private", "show_progress": "hidden"}
    # The outputs and the form declared once, by name; every list below is derived from them (no counted positions).
    view = SetView(status=status, table=table, gains=gains_plot, heatmap=heatmap, summary=summary, json_file=json_file,
                   csv_file=csv_file, prompt_set=ctx.prompt_set)
    form = FormValues(query=prompt, k=k, method=method, seed=seed, lambda_div=lambda_div, lambda_rel=lambda_rel,
                      policy=policy, temperature=temperature, n_candidates=n_candidates)
    options = list(form)[3:]  # seed, λ_div, λ_rel, policy, temperature, candidates: Compare's too
    method.change(method_note, method, note, api_visibility="private")
    estimate_inputs = [method, k, n_candidates, policy]
    compare_inputs = [method, method_b, compare_k, n_candidates, policy]
    # Not queued: an estimate is arithmetic, and it must answer while a run holds the queue.
    gr.on([method.change, k.change, n_candidates.change, policy.change], bind(on_estimate, settings, device),
          estimate_inputs, estimate, queue=False, **quiet)
    gr.on([method.change, method_b.change, compare_k.change, n_candidates.change, policy.change],
          bind(on_compare_estimate, settings, device), compare_inputs, compare_estimate, queue=False, **quiet)

    ended = gr.State(True)  # this session's run is over: the buttons come back (`idle_buttons`)
    waiting = list(QueueView(line=queue_note, stop=stop, compare_stop=compare_stop, timer=timer, run=run,
                             compare=compare, ended=ended))
    triggers = [run.click, prompt.submit]
    # Wired first and not queued, so Stop and "Running…" show at once, before the run is queued.
    gr.on(triggers, bind(waiting_for_expand, settings), list(form), waiting, queue=False, **quiet)
    # "multiple": a click during this session's run reaches the gate, which says so (never dropped silently).
    expanded = gr.on(triggers, bind(on_expand, settings), list(form), list(view),
                     validator=bind(expand_gate, settings), trigger_mode="multiple", api_name="expand",
                     **ctx.expand_queue)
    # The second method and the comparison's own K come after the method, so the validator checks them too.
    compare_args = [prompt, method, method_b, compare_k, *options]
    compare.click(bind(waiting_for_compare, settings), compare_args, waiting, queue=False, **quiet)
    compare_view = CompareView(status=compare_status, figure=compare_plot, sets=compare_sets)
    compared = compare.click(bind(on_compare, settings), compare_args, list(compare_view),
                             api_name="compare", validator=bind(compare_gate, settings), trigger_mode="multiple",
                             **ctx.expand_queue)
    timer.tick(queue_tick, None, [queue_note, timer, ended], queue=False, **quiet)
    ended.change(idle_buttons, ended, list(Buttons(stop=stop, compare_stop=compare_stop, run=run, compare=compare)),
                 queue=False, **quiet)
    for button in (stop, compare_stop):
        button.click(on_stop, None, waiting, cancels=[expanded, compared], queue=False, **quiet)
    for event in (expanded, compared):
        event.then(run_over, None, waiting, **quiet)
        event.then(bind(on_estimate, settings, device), estimate_inputs, estimate, **quiet)
        event.then(bind(on_compare_estimate, settings, device), compare_inputs, compare_estimate, **quiet)

    restored = [*view, *form]  # a loaded or kept set: its view, and the form that makes it again
    loaded = set_upload.upload(bind(load_set_upload, settings), set_upload, restored,
                               api_visibility="private", validator=bind(upload_problem, settings), **ctx.expand_queue)
    for event in (expanded, loaded):
        if ctx.saved_set is not None:
            event.success(saved_copy, ctx.prompt_set, ctx.saved_set, **quiet)
    loaded.success(bind(set_loaded, settings), **quiet)
    if ctx.saved_set is not None:
        # Two steps, so that a page with nothing kept runs no event on the form (an event on an input would
        # clear the message of a refused click made while it ran): only a kept set changes `kept`.
        kept = gr.State(None)
        on_page_load(kept_or_none, ctx.saved_set, kept, **quiet)
        kept.change(bind(restore_saved, settings), kept, restored, **quiet,
                    **ctx.expand_queue).success(bind(set_loaded, settings), **quiet)
    # The estimates depend on what this server has loaded and measured since the page was built.
    on_page_load(bind(on_estimate, settings, device), estimate_inputs, estimate, **quiet)
    to_render.click(send_to_render, ctx.prompt_set, ctx.tabs, api_visibility="private")
