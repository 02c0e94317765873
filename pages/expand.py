"""Expand tab: rewrite one prompt into K prompts and watch each step's DPP marginal gain live.

Handlers are plain generators (`expand_stream`, `compare_stream`) tested without a browser;
`build(ctx)` lays out the tab and wires them. The expand event is the API endpoint `/expand`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time

import gradio as gr
import torch

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import DEFAULT_METHOD, METHOD_NOTES, METHODS, ExpandConfig, check_arguments, check_seed, expand
from dppgrpo_core.dpp import cosine_kernel, log_det
from dppgrpo_core.settings import Settings
from pages.context import AppContext, enabled_policies, gpu, settings_for_policy
from pages.expand_view import (
    TABLE_COLUMNS, compare_figure, gains_figure, set_summary, similarity_heatmap, steps_table, write_downloads,
)

MAX_K_APP = 20
FALLBACK_EXAMPLES = [
    "a dog playing with a ball at the beach",
    "a red car driving through a rainy city at night",
    "a person riding a bicycle on a mountain road",
]


def example_prompts(n: int = 6) -> list[str]:
    """A few VBench prompts (seeded), or built-in ones when the vbench wheel is absent."""
    try:
        from eval.prompts import sample_prompts, vbench_prompts

        return [p["prompt"] for p in sample_prompts(vbench_prompts(), n, seed=1)]
    except Exception:  # the examples are a convenience; the tab works without them
        return FALLBACK_EXAMPLES


def _validate(prompt: str, k, method: str) -> tuple[str, int]:
    try:
        k = checks.number(k, "K", 1, MAX_K_APP, whole=True)
        return check_arguments(prompt, k, method), k
    except UserFacingError as exc:
        raise gr.Error(str(exc)) from None


def _options(seed, lambda_div, lambda_rel, temperature, n_candidates) -> tuple[int, ExpandConfig]:
    """The seed and the expansion options of a request, checked (NaN, inf, out of range: a gr.Error)."""
    try:
        return check_seed(0 if seed is None else seed), ExpandConfig(
            lambda_div=lambda_div, lambda_rel=lambda_rel, temperature=temperature, n_candidates=n_candidates).check()
    except UserFacingError as exc:
        raise gr.Error(str(exc)) from None


def _settings_for(settings: Settings, policy: str | None) -> Settings:
    try:
        return settings_for_policy(settings, policy)
    except UserFacingError as exc:
        raise gr.Error(str(exc)) from None


def expand_stream(settings: Settings, prompt, k, method, seed, lambda_div, lambda_rel, policy="",
                  temperature=0.8, n_candidates=4, progress=None):
    """Yield (status, table, gains plot, heatmap, summary, json path, csv path, prompt set) after every step."""
    query, k = _validate(prompt, k, method)
    seed, config = _options(seed, lambda_div, lambda_rel, temperature, n_candidates)
    run_settings = _settings_for(settings, policy)
    start = time.perf_counter()
    empty = steps_table([])
    # First update at once, before any model loads: the user sees the run has started.
    yield (f"⏳ {method}: generating prompt 1 of {k}…", empty, gains_figure([], k), None, "", None, None, None)
    steps: list[dict] = []
    vectors = []
    try:
        for record in expand(query, k, method, seed, settings=run_settings, config=config):
            steps.append(record.to_dict())
            vectors.append(record.embedding)
            if progress is not None:
                progress((len(steps), k), desc=f"{method}: prompt {len(steps)} of {k}")
            status = f"⏳ {method}: {len(steps)} of {k} prompts" if len(steps) < k else f"✅ {method}: {k} prompts"
            yield (status, steps_table(steps), gains_figure(steps, k), None, "", None, None, None)
    except UserFacingError as exc:
        raise gr.Error(str(exc))
    prompts = [s["prompt"] for s in steps]
    vectors = torch.stack(vectors)  # the expansion's own embeddings: no second embedding pass
    from eval.metrics import vendi_score

    elapsed = time.perf_counter() - start
    result = {"query": query, "method": method, "seed": seed, "k": k, "config": dataclasses.asdict(config),
              "policy": run_settings.policy, "adapter": run_settings.adapter, "steps": steps,
              "timing": {"generate_s": sum(s["generate_s"] for s in steps),
                         "score_s": sum(s["score_s"] for s in steps), "total_s": elapsed}}
    json_path, csv_path = write_downloads(result)
    prompt_set = {"query": query, "method": method, "seed": seed, "prompts": prompts, "steps": steps}
    yield (f"✅ {method}: {k} prompts in {elapsed:.1f} s", steps_table(steps), gains_figure(steps, k),
           similarity_heatmap(prompts, cosine_kernel(vectors).numpy()),
           set_summary(vendi_score(vectors.numpy()), log_det(vectors), steps, elapsed), json_path, csv_path, prompt_set)


def compare_stream(settings: Settings, prompt, k, method_a, method_b, seed, lambda_div, lambda_rel, policy="",
                   temperature=0.8, n_candidates=4):
    """Run two methods on the same prompt; yield (status, comparison plot) after every step of either."""
    query, k = _validate(prompt, k, method_a)
    _validate(prompt, k, method_b)
    seed, config = _options(seed, lambda_div, lambda_rel, temperature, n_candidates)
    run_settings = _settings_for(settings, policy)
    runs: dict[str, list[dict]] = {}
    yield f"⏳ comparing {method_a} and {method_b}…", compare_figure({}, k)
    try:
        for method in dict.fromkeys([method_a, method_b]):
            runs[method] = []
            for record in expand(query, k, method, seed, settings=run_settings, config=config):
                runs[method].append(record.to_dict())
                yield f"⏳ {method}: {len(runs[method])} of {k}", compare_figure(runs, k)
    except UserFacingError as exc:
        raise gr.Error(str(exc))
    totals = ", ".join(f"{m}: log det {steps[-1]['log_det']:.3f}" for m, steps in runs.items())
    yield f"✅ {totals}", compare_figure(runs, k)


def build(ctx: AppContext) -> None:
    settings = ctx.settings
    with gr.Row():
        with gr.Column(scale=3):
            prompt = gr.Textbox(label="Prompt", placeholder="a dog playing with a ball at the beach", lines=2,
                                max_lines=6)
            gr.Examples(example_prompts(), inputs=prompt, label="VBench prompts")
        with gr.Column(scale=2):
            with gr.Row():
                k = gr.Slider(1, MAX_K_APP, value=6, step=1, label="K (prompts in the set)")
                seed = gr.Number(value=0, precision=0, label="Seed")
            method = gr.Dropdown(list(METHODS), value=DEFAULT_METHOD, label="Method")
            method_note = gr.Markdown(f"*{METHOD_NOTES[DEFAULT_METHOD]}*")
            with gr.Row():
                lambda_div = gr.Slider(0, 1, value=0.5, step=0.05, label="λ_div (diversity)")
                lambda_rel = gr.Slider(0, 1, value=0.5, step=0.05, label="λ_rel (relevance)")
    with gr.Accordion("Advanced", open=False):
        policies = list(enabled_policies(settings))
        policy = gr.Dropdown(policies, value=policies[0],
                             label="Policy (the server's, or a packaged one; the server's flags add others)")
        with gr.Row():
            temperature = gr.Slider(0, 1.5, value=0.8, step=0.05, label="Temperature (0 = greedy)")
            n_candidates = gr.Slider(1, 8, value=4, step=1, label="Candidates per step (dpp-rerank)")
    with gr.Row():
        run = gr.Button("Expand", variant="primary")
        to_render = gr.Button("Send set to Render ▶", visible=importlib.util.find_spec("pages.render") is not None)
    status = gr.Markdown()
    table = gr.Dataframe(headers=TABLE_COLUMNS, label="Prompt set", wrap=True, interactive=False,
                         column_widths=["6%", "64%", "10%", "10%", "10%"])
    with gr.Row():
        gains_plot = gr.Plot(label="Per-step marginal gain")
        heatmap = gr.Plot(label="Similarity of the set")
    summary = gr.Markdown()
    with gr.Row():
        json_file = gr.File(label="Set as JSON")
        csv_file = gr.File(label="Set as CSV")
    with gr.Accordion("Compare two methods on this prompt", open=False):
        with gr.Row():
            method_b = gr.Dropdown(list(METHODS), value="iid", label="Second method")
            compare = gr.Button("Compare")
        compare_status = gr.Markdown()
        compare_plot = gr.Plot(label="Gain curves")

    options = [seed, lambda_div, lambda_rel, policy, temperature, n_candidates]
    method.change(lambda name: f"*{METHOD_NOTES.get(name, '')}*", method, method_note, api_visibility="private")

    @gpu
    def on_expand(prompt, k, method, seed, lambda_div, lambda_rel, policy, temperature, n_candidates,
                  progress=gr.Progress()):
        yield from expand_stream(settings, prompt, k, method, seed, lambda_div, lambda_rel, policy,
                                 temperature, n_candidates, progress=progress)

    @gpu
    def on_compare(prompt, k, method, method_b, seed, lambda_div, lambda_rel, policy, temperature, n_candidates):
        yield from compare_stream(settings, prompt, k, method, method_b, seed, lambda_div, lambda_rel, policy,
                                  temperature, n_candidates)

    run.click(on_expand, [prompt, k, method, *options],
              [status, table, gains_plot, heatmap, summary, json_file, csv_file, ctx.prompt_set],
              api_name="expand", **ctx.model_queue)
    prompt.submit(on_expand, [prompt, k, method, *options],
                  [status, table, gains_plot, heatmap, summary, json_file, csv_file, ctx.prompt_set],
                  api_visibility="private", **ctx.model_queue)
    compare.click(on_compare, [prompt, k, method, method_b, *options], [compare_status, compare_plot],
                  api_name="compare", **ctx.model_queue)

    def send_to_render(prompt_set):
        if not prompt_set:
            gr.Warning("Expand a prompt first: there is no set to render yet.")
            return gr.Tabs()
        return gr.Tabs(selected="render")

    to_render.click(send_to_render, ctx.prompt_set, ctx.tabs, api_visibility="private")
