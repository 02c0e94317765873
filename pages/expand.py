"""Expand tab: rewrite one prompt into K prompts and watch each step's DPP marginal gain live.

`build(ctx)` lays out the tab and wires module-level handlers: the runs in `expand_run.py`, set files and
the browser's kept set in `expand_sets.py`, the views in `expand_view.py`. The expand event is the API
endpoint `/expand`, the comparison `/compare`.
"""

from __future__ import annotations

import gradio as gr

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import (
    DEFAULT_METHOD,
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
from pages.expand_run import compare_stream, compare_validator, expand_stream, validator
from pages.expand_sets import load_set_upload, restore_saved, saved_copy, upload_problem
from pages.expand_view import (
    MAX_K_APP,
    TABLE_COLUMNS,
    estimate_line,
    measured_timings,
)

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


@handler(uses_gpu=True)
def on_expand(settings: Settings, prompt, k, method, seed, lambda_div, lambda_rel, policy, temperature,
              n_candidates, progress=gr.Progress()):
    """The Expand button: `expand_stream` with the progress bar and a status line every second."""
    yield from expand_stream(settings, prompt, k, method, seed, lambda_div, lambda_rel, policy, temperature,
                             n_candidates, progress=progress, tick=1.0)


@handler(uses_gpu=True)
def on_compare(settings: Settings, prompt, method, method_b, compare_k, seed, lambda_div, lambda_rel, policy,
               temperature, n_candidates):
    """The Compare button: both methods with the comparison's own K (the inputs' order puts K after them)."""
    yield from compare_stream(settings, prompt, compare_k, method, method_b, seed, lambda_div, lambda_rel, policy,
                              temperature, n_candidates)


def method_note(name: str) -> str:
    """The one line under the method dropdown.

    >>> method_note("iid")
    '*K independent policy rewrites of q (no set conditioning)*'
    """
    return f"*{METHOD_NOTES.get(name, '')}*"


def on_estimate(device: str, method: str, k, n_candidates, timings: dict | None) -> str:
    return estimate_line(method, k, n_candidates, timings, device)


def send_to_render(prompt_set: dict | None):
    """The "Send set to Render" button: the Render tab, or a warning when there is no set yet."""
    if not prompt_set:
        gr.Warning("Expand a prompt first: there is no set to render yet.")
        return gr.Tabs()
    return gr.Tabs(selected="render")


def build(ctx: AppContext) -> None:
    # Long but flat: the layout, then the wiring of module-level handlers (nothing else happens here).
    settings = ctx.settings
    with gr.Row():
        with gr.Column(scale=3):
            prompt = gr.Textbox(label="Prompt", placeholder="a dog playing with a ball at the beach", lines=2,
                                max_lines=6, elem_id="expand-prompt")
            gr.Examples(example_prompts(), inputs=prompt, label="VBench prompts")
        with gr.Column(scale=2):
            with gr.Row():
                k = gr.Slider(1, MAX_K_APP, value=6, step=1, label="K (prompts in the set)")
                seed = gr.Number(value=0, precision=0, label="Seed")
            method = gr.Dropdown(list(METHODS), value=DEFAULT_METHOD, label="Method")
            note = gr.Markdown(method_note(DEFAULT_METHOD))
            with gr.Row():
                lambda_div = gr.Slider(0, 1, value=ExpandConfig.lambda_div, step=0.05, label="λ_div (diversity)")
                lambda_rel = gr.Slider(0, 1, value=ExpandConfig.lambda_rel, step=0.05, label="λ_rel (relevance)")
    with gr.Accordion("Advanced", open=False):
        policies = list(enabled_policies(settings))
        policy = gr.Dropdown(policies, value=policies[0],
                             label="Policy (the server's, or a packaged one; the server's flags add others)")
        with gr.Row():
            temperature = gr.Slider(0, 1.5, value=ExpandConfig.temperature, step=0.05, label="Temperature (0 = greedy)")
            n_candidates = gr.Slider(1, 8, value=ExpandConfig.n_candidates, step=1, label="Candidates per step (dpp-rerank)")
    try:
        device = settings.check_device()
    except UserFacingError:
        device = "cpu"
    timings = gr.State({})  # this session's measured seconds per prompt, by method
    with gr.Row():
        run = gr.Button("Expand", variant="primary")
        to_render = gr.Button("Send set to Render ▶")
    estimate = gr.Markdown(estimate_line(DEFAULT_METHOD, 6, 4, {}, device), elem_id="expand-estimate")
    status = gr.Markdown(elem_id="expand-status")
    table = gr.Dataframe(headers=TABLE_COLUMNS, label="Prompt set", wrap=True, interactive=False,
                         column_widths=["6%", "64%", "10%", "10%", "10%"])
    with gr.Row():
        gains_plot = gr.Plot(label="Per-step marginal gain")
        heatmap = gr.Plot(label="Similarity of the set")
    summary = gr.Markdown()
    with gr.Row():
        json_file = gr.File(label="Set as JSON (everything needed to make it again)")
        csv_file = gr.File(label="Set as CSV")
        set_upload = gr.File(label="Load a set (a JSON downloaded here)", file_types=[".json"], type="filepath")
    with gr.Accordion("Compare two methods on this prompt", open=False):
        with gr.Row():
            method_b = gr.Dropdown(list(METHODS), value="iid", label="Second method")
            compare_k = gr.Slider(1, MAX_K_APP, value=4, step=1, label="K for the comparison")
            compare = gr.Button("Compare")
        compare_status = gr.Markdown()
        compare_plot = gr.Plot(label="Gain curves")
        compare_sets = gr.HTML()

    options = [seed, lambda_div, lambda_rel, policy, temperature, n_candidates]
    method.change(method_note, method, note, api_visibility="private")
    gr.on([method.change, k.change, n_candidates.change, timings.change], bind(on_estimate, device),
          [method, k, n_candidates, timings], estimate, api_visibility="private", show_progress="hidden")

    set_outputs = [status, table, gains_plot, heatmap, summary, json_file, csv_file, ctx.prompt_set]
    form = [prompt, k, method, *options[:3], policy, temperature, n_candidates]
    expanded = gr.on([run.click, prompt.submit], bind(on_expand, settings), [prompt, k, method, *options],
                     set_outputs, validator=validator(settings), api_name="expand", **ctx.model_queue)
    # The second method and the comparison's own K come after the method, so the validator checks them too.
    compare.click(bind(on_compare, settings), [prompt, method, method_b, compare_k, *options],
                  [compare_status, compare_plot, compare_sets], api_name="compare",
                  validator=compare_validator(settings), **ctx.model_queue)
    loaded = set_upload.upload(bind(load_set_upload, settings), set_upload, set_outputs + form,
                               api_visibility="private", validator=bind(upload_problem, settings), **ctx.model_queue)
    for event in (expanded, loaded):
        event.success(measured_timings, [timings, ctx.prompt_set], timings, api_visibility="private",
                      show_progress="hidden")
        if ctx.saved_set is not None:
            event.success(saved_copy, ctx.prompt_set, ctx.saved_set, api_visibility="private",
                          show_progress="hidden")
    if ctx.saved_set is not None:
        # Two steps, so that a page with nothing kept runs no event on the form (an event on an input would
        # clear the message of a refused click made while it ran): only a kept set changes `kept`.
        kept = gr.State(None)
        on_page_load(kept_or_none, ctx.saved_set, kept, api_visibility="private", show_progress="hidden")
        kept.change(bind(restore_saved, settings), kept, set_outputs + form, api_visibility="private",
                    show_progress="hidden", **ctx.model_queue)
    to_render.click(send_to_render, ctx.prompt_set, ctx.tabs, api_visibility="private")
