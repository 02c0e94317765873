"""Expand tab: rewrite one prompt into K prompts and watch each step's DPP marginal gain live.

Handlers are plain generators (`expand_stream`, `compare_stream`) tested without a browser;
`build(ctx)` lays out the tab and wires them. The expand event is the API endpoint `/expand`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import queue
import statistics
import threading
import time
from pathlib import Path

import gradio as gr
import torch

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import (
    DEFAULT_METHOD,
    METHOD_NOTES,
    METHODS,
    ExpandConfig,
    check_arguments,
    expand,
)
from dppgrpo_core.maths.dpp import cosine_kernel, log_det
from dppgrpo_core.sets import PromptSet
from dppgrpo_core.settings import Settings
from pages.context import (
    AppContext,
    enabled_policies,
    gpu,
    on_page_load,
    refused,
    settings_for_policy,
)
from pages.expand_view import (
    TABLE_COLUMNS,
    compare_figure,
    compare_sets_html,
    gains_figure,
    rerun_command,
    set_summary,
    similarity_heatmap,
    steps_table,
    write_downloads,
)

MAX_K_APP = 20
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


def _validate(prompt: str, k, method: str) -> tuple[str, int]:
    try:
        k = checks.number(k, "K", 1, MAX_K_APP, whole=True)
        return check_arguments(prompt, k, method), k
    except UserFacingError as exc:
        raise refused(str(exc)) from None


def _options(seed, lambda_div, lambda_rel, temperature, n_candidates) -> tuple[int, ExpandConfig]:
    """The seed and the expansion options of a request, checked (NaN, inf, out of range: a gr.Error)."""
    try:
        return checks.seed(0 if seed is None else seed), ExpandConfig(
            lambda_div=lambda_div, lambda_rel=lambda_rel, temperature=temperature, n_candidates=n_candidates).check()
    except UserFacingError as exc:
        raise refused(str(exc)) from None


def _settings_for(settings: Settings, policy: str | None) -> Settings:
    try:
        return settings_for_policy(settings, policy)
    except UserFacingError as exc:
        raise refused(str(exc)) from None


def request_problems(settings: Settings, prompt, k, method, seed, lambda_div, lambda_rel, policy="",
                     temperature=0.8, n_candidates=4) -> list[str | None]:
    """What is wrong with each input of an Expand request (None where it is fine), in the inputs' order.

    >>> request_problems(Settings(device="cpu"), "  ", 3, "iid", 0, 0.5, 0.5)[:3]
    ['The prompt is empty: type a text-to-video prompt.', None, None]
    """
    def problem(check) -> str | None:
        try:
            check()
        except UserFacingError as exc:
            return str(exc)
        return None

    problems = [
        problem(lambda: check_arguments(prompt, 1, DEFAULT_METHOD)),
        problem(lambda: checks.number(k, "K", 1, MAX_K_APP, whole=True)),
        problem(lambda: check_arguments("q", 1, method)),
        problem(lambda: checks.seed(0 if seed is None else seed)),
    ]
    values = {"lambda_div": lambda_div, "lambda_rel": lambda_rel, "temperature": temperature,
              "n_candidates": n_candidates}
    for name, value in values.items():
        low, high = ExpandConfig.RANGES[name]
        problems.append(problem(lambda: checks.number(value, name, low, high, whole=name == "n_candidates")))
    if problems[4] is None and problems[5] is None and float(lambda_div) + float(lambda_rel) == 0:
        problems[4] = "lambda_div and lambda_rel cannot both be 0."
    policy_problem = problem(lambda: settings_for_policy(settings, policy))
    # The inputs' order: prompt, k, method, seed, lambda_div, lambda_rel, policy, temperature, n_candidates.
    return problems[:6] + [policy_problem] + problems[6:]


def validator(settings: Settings, n_extra: int = 0):
    """A `validator=` for the Expand and Compare events: the handler runs only on valid input, and a refused
    request shows its message on the input at fault while the outputs stay as they were (no error badges).
    `n_extra` inputs after the method (Compare's second method) are checked as methods."""
    def validate(prompt, k, method, *rest):
        extra, rest = rest[:n_extra], rest[n_extra:]
        problems = request_problems(settings, prompt, k, method, *rest)
        extra_problems = [request_problems(settings, "q", 1, value, 0, 0.5, 0.5)[2] for value in extra]
        ordered = problems[:3] + extra_problems + problems[3:]
        return [gr.validate(message is None, message or "") for message in ordered]

    return validate


def _records_with_ticks(records, tick: float | None):
    """Each record of `records`, and None every `tick` seconds while the next one is still being made.

    The records are made in a worker thread, so a long step (a policy batch, a model load) still shows
    its elapsed time. Without `tick`, just the records."""
    if not tick:
        yield from records
        return
    inbox: queue.Queue = queue.Queue()
    stop = threading.Event()

    def work():
        try:
            for record in records:
                inbox.put(("record", record))
                if stop.is_set():
                    break
            inbox.put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread and raised there
            inbox.put(("error", exc))

    threading.Thread(target=work, daemon=True, name="expand-steps").start()
    try:
        while True:
            try:
                kind, value = inbox.get(timeout=tick)
            except queue.Empty:
                yield None
                continue
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()


def step_status(method: str, k: int, done: list[dict], step_elapsed: float, n_candidates: int) -> str:
    """The status line while step len(done)+1 runs: its elapsed seconds and, after one step, the time left.

    >>> step_status("dpp-rerank", 4, [{"generate_s": 10.0, "score_s": 0.5}], 3.2, 4)
    '⏳ dpp-rerank: prompt 2 of 4 · 3 s on this step (4 candidates drawn in one batch) · about 28 s left'
    """
    line = f"⏳ {method}: prompt {len(done) + 1} of {k} · {step_elapsed:.0f} s on this step"
    if method == "dpp-rerank":
        line += f" ({n_candidates} candidates drawn in one batch)"
    if done:
        per_step = statistics.median(s["generate_s"] + s["score_s"] for s in done)
        left = max(per_step * (k - len(done)) - step_elapsed, 0.0)
        line += f" · about {_duration(left)} left"
    elif step_elapsed > 5:
        line += " (the first step also loads the models)"
    return line


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


# Typical seconds per prompt on a CPU with the packaged SmolLM2 (dpp-rerank: per candidate), from the benchmark
# runs in BENCHMARKS.md (iid 3.7, dpp-grpo 6.5, dpp-rerank 9.2 per prompt with 4 candidates); a loaded machine is
# slower. Replaced by this session's own measurement after a run. The other methods run no language model.
CPU_SECONDS_PER_PROMPT = {"original": 0.1, "composer": 0.3, "dpp-compose": 1.0, "iid": 3.7, "dpp-grpo": 6.5,
                          "dpp-rerank": 2.3}
POLICY_METHODS = ("iid", "dpp-grpo", "dpp-rerank")


def estimate_line(method: str, k, n_candidates, timings: dict | None, device: str) -> str:
    """One line before the click: about how long `method` takes for K prompts here.

    From `timings` (this session's measured seconds per prompt, by method), else from CPU_SECONDS_PER_PROMPT.

    >>> estimate_line("dpp-rerank", 6, 4, {}, "cpu")
    'Estimated time for dpp-rerank, K = 6: about 55 s on this CPU (a typical figure; your runs here refine it), plus model loading on the first run.'
    >>> estimate_line("iid", 6, 4, {"iid": 0.5}, "cpu")
    'Estimated time for iid, K = 6: about 3 s on this machine (measured in this session; a first run includes loading the models).'
    """
    try:
        k = checks.number(k, "K", 1, MAX_K_APP, whole=True)
        n_candidates = checks.number(n_candidates, "n", 1, 16, whole=True)
    except UserFacingError:
        return ""
    per_unit = (timings or {}).get(method)
    units = k * (n_candidates if method == "dpp-rerank" else 1)
    if per_unit is not None:
        total = per_unit * units
        return (f"Estimated time for {method}, K = {k}: about {_duration(total) if total >= 3 else 'a few seconds'} "
                "on this machine (measured in this session; a first run includes loading the models).")
    if method not in CPU_SECONDS_PER_PROMPT:
        return ""
    total = CPU_SECONDS_PER_PROMPT[method] * units
    if method not in POLICY_METHODS:
        return (f"Estimated time for {method}, K = {k}: a few seconds (no language model; the first run loads "
                "the embedder).")
    if device.startswith("cuda"):
        return (f"Estimated time for {method}, K = {k}: up to about {_duration(total)} (a CPU figure; a GPU is "
                "faster: your first run here measures it).")
    return (f"Estimated time for {method}, K = {k}: about {_duration(total)} on this CPU (a typical figure; your runs "
            "here refine it), plus model loading on the first run.")


def measured_timings(timings: dict | None, prompt_set: dict | None) -> dict:
    """`timings` with the seconds per prompt (dpp-rerank: per candidate) of the set just made: its whole time
    over its K (a first run's includes loading the models). A set loaded from a file measures nothing."""
    timings = dict(timings or {})
    total = ((prompt_set or {}).get("timing") or {}).get("total_s")
    if total is not None and prompt_set.get("k"):
        units = prompt_set["k"]
        if prompt_set.get("method") == "dpp-rerank":
            units *= max(int((prompt_set.get("config") or {}).get("n_candidates") or 1), 1)
        timings[prompt_set["method"]] = total / units
    return timings


def _shown_name(value: str | None) -> str | None:
    """A model setting as a client may see it: a folder's last part only, never the server's path."""
    if not value:
        return None
    return Path(value).name if Path(value).is_absolute() else value


def finished_set(settings: Settings, run_settings: Settings, query: str, method: str, seed: int, k: int,
                 config: ExpandConfig, policy_label: str, steps: list[dict], vectors, elapsed: float,
                 note: str = ""):
    """The final outputs of a set: (status, table, gains, heatmap, summary, json, csv, prompt set).

    The JSON holds everything needed to make the set again: query, method, seed, K, every option, the policy
    (as the name a client picks), the embedder, and the command line that reruns it."""
    from eval.metrics import vendi_score

    prompts = [s["prompt"] for s in steps]
    result = {"query": query, "method": method, "seed": seed, "k": k, "config": dataclasses.asdict(config),
              "policy": policy_label, "adapter": _shown_name(run_settings.adapter),
              "embedder": _shown_name(run_settings.embedder), "steps": steps,
              "timing": {"generate_s": sum(s["generate_s"] for s in steps),
                         "score_s": sum(s["score_s"] for s in steps), "total_s": elapsed}}
    result["rerun"] = rerun_command(result)
    json_path, csv_path = write_downloads(result)
    # A set made here, not loaded, keeps its time: a measurement for the estimate.
    prompt_set = PromptSet(prompts, query, method, seed, k, result["config"], policy_label, steps,
                           None if note else result["timing"]).to_json()
    status = note or f"✅ {method}: {k} prompts in {elapsed:.1f} s"
    return (status, steps_table(steps), gains_figure(steps, k),
            similarity_heatmap(prompts, cosine_kernel(vectors).numpy()),
            set_summary(vendi_score(vectors.numpy()), log_det(vectors), steps, elapsed), json_path, csv_path,
            prompt_set)


def expand_stream(settings: Settings, prompt, k, method, seed, lambda_div, lambda_rel, policy="",
                  temperature=0.8, n_candidates=4, progress=None, tick: float | None = None):
    """Yield (status, table, gains plot, heatmap, summary, json path, csv path, prompt set) after every step.

    With `tick` (seconds), also a status-only update (the other outputs `gr.skip()`) every `tick` seconds
    while a step runs: its elapsed time and the time left."""
    query, k = _validate(prompt, k, method)
    seed, config = _options(seed, lambda_div, lambda_rel, temperature, n_candidates)
    run_settings = _settings_for(settings, policy)
    policy_label = policy or next(iter(enabled_policies(settings)))
    start = step_start = time.perf_counter()
    empty = steps_table([])
    # First update at once, before any model loads: the user sees the run has started.
    yield (f"⏳ {method}: generating prompt 1 of {k}…", empty, gains_figure([], k), None, "", None, None, None)
    steps: list[dict] = []
    vectors = []
    skip = gr.skip()
    try:
        records = expand(query, k, method, seed, settings=run_settings, config=config)
        for record in _records_with_ticks(records, tick):
            if record is None:
                status = step_status(method, k, steps, time.perf_counter() - step_start, config.n_candidates)
                if progress is not None:
                    progress((len(steps), k), desc=status.removeprefix("⏳ "))
                yield (status, skip, skip, skip, skip, skip, skip, skip)
                continue
            step_start = time.perf_counter()
            steps.append(record.to_dict())
            vectors.append(record.embedding)
            if progress is not None:
                progress((len(steps), k), desc=f"{method}: prompt {len(steps)} of {k}")
            status = f"⏳ {method}: {len(steps)} of {k} prompts" if len(steps) < k else f"✅ {method}: {k} prompts"
            yield (status, steps_table(steps), gains_figure(steps, k), None, "", None, None, None)
    except UserFacingError as exc:
        raise refused(str(exc))
    # The expansion's own embeddings: no second embedding pass.
    yield finished_set(settings, run_settings, query, method, seed, k, config, policy_label, steps,
                       torch.stack(vectors), time.perf_counter() - start)


def compare_stream(settings: Settings, prompt, k, method_a, method_b, seed, lambda_div, lambda_rel, policy="",
                   temperature=0.8, n_candidates=4):
    """Run two methods on the same prompt with the same K and options.

    Yields (status, gain curves, the two sets side by side as HTML) after every step of either; each set shows
    its prompts, mean relevance and log det as it grows, and its Vendi score once complete."""
    from eval.metrics import vendi_score

    query, k = _validate(prompt, k, method_a)
    _validate(prompt, k, method_b)
    seed, config = _options(seed, lambda_div, lambda_rel, temperature, n_candidates)
    run_settings = _settings_for(settings, policy)
    runs: dict[str, list[dict]] = {}
    sets: dict[str, dict] = {}

    def view():
        return compare_figure(runs, k), compare_sets_html(list(sets.values()))

    yield (f"⏳ comparing {method_a} and {method_b} (K = {k})…", *view())
    try:
        for method in dict.fromkeys([method_a, method_b]):
            runs[method], vectors = [], []
            for record in expand(query, k, method, seed, settings=run_settings, config=config):
                runs[method].append(record.to_dict())
                vectors.append(record.embedding)
                steps = runs[method]
                sets[method] = {"method": method, "prompts": [s["prompt"] for s in steps], "vendi": None,
                                "relevance": sum(s["relevance"] for s in steps) / len(steps),
                                "log_det": steps[-1]["log_det"]}
                if len(steps) == k:
                    sets[method]["vendi"] = float(vendi_score(torch.stack(vectors).numpy()))
                yield (f"⏳ {method}: {len(steps)} of {k}", *view())
    except UserFacingError as exc:
        raise refused(str(exc))
    totals = ", ".join(f"{m}: Vendi {item['vendi']:.3f}, log det {item['log_det']:.3f}" for m, item in sets.items())
    yield (f"✅ K = {k} · {totals}", *view())


SET_FILE_MAX_BYTES = 1_000_000  # a downloaded set of 20 prompts with every candidate is well under this


def set_from_json(settings: Settings, data) -> dict:
    """A set read from a downloaded JSON, checked strictly: {query, method, seed, k, config, policy, prompts}.

    The numbers in the file are not trusted: the set is scored again from its prompts. A policy name this
    server does not offer becomes None (the server's own). UserFacingError (one line) for anything else.

    >>> set_from_json(Settings(), {"query": "a dog", "method": "iid", "seed": 1, "k": 1,
    ...               "steps": [{"prompt": "a dog running"}]})["prompts"]
    ['a dog running']
    >>> set_from_json(Settings(), {"query": "a dog", "method": "iid", "k": 2, "steps": [{"prompt": "a dog"}]})
    Traceback (most recent call last):
    ...
    dppgrpo_core.errors.UserFacingError: The set file says k = 2 but holds 1 prompts.
    """
    if not isinstance(data, dict):
        raise UserFacingError("A set file holds one JSON object: a set downloaded from the Expand tab.")
    query = check_arguments(data.get("query"), 1, DEFAULT_METHOD)
    method = data.get("method")
    if not isinstance(method, str) or method not in METHODS:
        raise UserFacingError(f"The set file's method must be one of {', '.join(METHODS)}, got "
                              f"{checks.shown(method)}.")
    steps = data.get("steps")
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_K_APP:
        raise UserFacingError(f"The set file must hold 1 to {MAX_K_APP} steps, each with its prompt.")
    prompts = []
    for i, step in enumerate(steps, 1):
        if not isinstance(step, dict):
            raise UserFacingError(f"Step {i} of the set file is not an object with a prompt.")
        prompts.append(checks.text(step.get("prompt"), f"The prompt of step {i}", max_chars=2000))
    k = checks.number(data.get("k", len(prompts)), "The set file's k", 1, MAX_K_APP, whole=True)
    if k != len(prompts):
        raise UserFacingError(f"The set file says k = {k} but holds {len(prompts)} prompts.")
    seed = checks.seed(data.get("seed", 0), "The set file's seed")
    options = data.get("config") or {}
    names = {f.name for f in dataclasses.fields(ExpandConfig)}
    if not isinstance(options, dict) or not set(options) <= names:
        raise UserFacingError(f"The set file's config may hold only {', '.join(sorted(names))}.")
    config = ExpandConfig(**options).check()
    policy = data.get("policy")
    policy = policy if isinstance(policy, str) and policy in enabled_policies(settings) else None
    return {"query": query, "method": method, "seed": seed, "k": k, "config": config, "policy": policy,
            "prompts": prompts}


def read_set_file(path) -> object:
    """The JSON in an uploaded file (gradio's upload folder only; at most SET_FILE_MAX_BYTES); gr.Error otherwise."""
    from gradio.utils import get_upload_folder

    if not isinstance(path, str) or not path:
        raise refused("Choose a set file: the JSON downloaded from this tab.")
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(Path(get_upload_folder()).resolve()) or not resolved.is_file():
        raise refused("Upload the set file through the form.")  # never a server path sent by a client
    if resolved.stat().st_size > SET_FILE_MAX_BYTES:
        raise refused(f"The set file is too large (over {SET_FILE_MAX_BYTES // 1000} kB); a set is a few kB.")
    try:
        return json.loads(resolved.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise refused(f"The set file is not JSON ({type(exc).__name__}); use a set downloaded from this tab.") \
            from None


def upload_problem(settings: Settings, path):
    """The upload's validator: a bad set file shows its one-line message and the tab stays as it was."""
    try:
        set_from_json(settings, read_set_file(path))
    except (gr.Error, UserFacingError) as exc:
        return gr.validate(False, exc.message if isinstance(exc, gr.Error) else str(exc))
    return gr.validate(True, "")


def restored_outputs(settings: Settings, loaded: dict, how: str) -> tuple:
    """The tab's outputs and form values for a checked set (see `set_from_json`), scored again from its prompts:
    (status, table, gains, heatmap, summary, json, csv, prompt set, prompt, K, method, seed, λ_div, λ_rel,
    policy, temperature, candidates)."""
    from dppgrpo_core.expand import SetScorer
    from dppgrpo_core.models.embedder import load_embedder

    start = time.perf_counter()
    config = loaded["config"]
    policy = loaded["policy"] or next(iter(enabled_policies(settings)))
    run_settings = settings_for_policy(settings, policy)
    scorer = SetScorer(loaded["query"], load_embedder(settings=run_settings), config.lambda_div, config.lambda_rel)
    steps, total, vectors = [], 0.0, []
    for index, text in enumerate(loaded["prompts"], 1):
        vector, gains, rels, rewards = scorer.score([text])
        scorer.add(vector[0])
        total += float(gains[0])
        vectors.append(vector[0])
        steps.append({"index": index, "prompt": text, "gain": float(gains[0]), "relevance": float(rels[0]),
                      "reward": float(rewards[0]), "log_det": total, "generate_s": 0.0, "score_s": 0.0,
                      "retries": 0, "flag": None, "candidates": []})
    k = loaded["k"]
    note = (f"↩ {how}: {loaded['method']}, {k} prompts (scores recomputed from the prompts; "
            "Expand makes the set again with the same options).")
    outputs = finished_set(settings, run_settings, loaded["query"], loaded["method"], loaded["seed"], k, config,
                           policy, steps, torch.stack(vectors), time.perf_counter() - start, note=note)
    form = (loaded["query"], k, loaded["method"], loaded["seed"], config.lambda_div, config.lambda_rel, policy,
            config.temperature, config.n_candidates)
    return (*outputs, *form)


def load_set_upload(settings: Settings, path) -> tuple:
    """The "Load a set" upload: a downloaded JSON set back into the table, plots, form and the session's set."""
    try:
        loaded = set_from_json(settings, read_set_file(path))
        return restored_outputs(settings, loaded, "Loaded from the file")
    except UserFacingError as exc:
        raise refused(str(exc)) from None


def saved_copy(prompt_set: dict | None):
    """What the browser keeps of the session's set across a reload: the request and the prompts, no scores."""
    if not prompt_set or not prompt_set.get("prompts"):
        return gr.skip()
    kept = PromptSet.from_json(prompt_set)
    return dataclasses.replace(kept, steps=[{"prompt": p} for p in kept.prompts], timing=None).to_json()


def restore_saved(settings: Settings, saved) -> tuple:
    """On page load: the set this browser kept (see `saved_copy`), checked like an uploaded file, back in the tab.
    Nothing kept, or something that does not check: the tab as it was (every output skipped)."""
    n_outputs = 17
    if not saved:
        return (gr.skip(),) * n_outputs
    try:
        loaded = set_from_json(settings, saved)
    except (UserFacingError, TypeError, ValueError):
        return (gr.skip(),) * n_outputs
    try:
        return restored_outputs(settings, loaded, "Restored after the reload")
    except Exception:  # noqa: BLE001 - a restore that fails (a model gone) must not paint the fresh page red
        return (gr.skip(),) * n_outputs


def build(ctx: AppContext) -> None:
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
            method_note = gr.Markdown(f"*{METHOD_NOTES[DEFAULT_METHOD]}*")
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
        to_render = gr.Button("Send set to Render ▶", visible=importlib.util.find_spec("pages.render") is not None)
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
    method.change(lambda name: f"*{METHOD_NOTES.get(name, '')}*", method, method_note, api_visibility="private")
    gr.on([method.change, k.change, n_candidates.change, timings.change],
          lambda m, kk, n, t: estimate_line(m, kk, n, t, device), [method, k, n_candidates, timings], estimate,
          api_visibility="private", show_progress="hidden")

    @gpu
    def on_expand(prompt, k, method, seed, lambda_div, lambda_rel, policy, temperature, n_candidates,
                  progress=gr.Progress()):
        yield from expand_stream(settings, prompt, k, method, seed, lambda_div, lambda_rel, policy,
                                 temperature, n_candidates, progress=progress, tick=1.0)

    @gpu
    def on_compare(prompt, method, method_b, compare_k, seed, lambda_div, lambda_rel, policy, temperature,
                   n_candidates):
        yield from compare_stream(settings, prompt, compare_k, method, method_b, seed, lambda_div, lambda_rel,
                                  policy, temperature, n_candidates)

    set_outputs = [status, table, gains_plot, heatmap, summary, json_file, csv_file, ctx.prompt_set]
    form = [prompt, k, method, *options[:3], policy, temperature, n_candidates]
    expanded = []
    for trigger, extra in ((run.click, {"api_name": "expand"}), (prompt.submit, {"api_visibility": "private"})):
        expanded.append(trigger(on_expand, [prompt, k, method, *options], set_outputs,
                                validator=validator(settings), **extra, **ctx.model_queue))
    # The second method and the comparison's own K come after the method, so the validator checks them too.
    compare.click(on_compare, [prompt, method, method_b, compare_k, *options],
                  [compare_status, compare_plot, compare_sets], api_name="compare",
                  validator=_compare_validator(settings), **ctx.model_queue)

    def on_upload(path):
        return load_set_upload(settings, path)

    loaded = set_upload.upload(on_upload, set_upload, set_outputs + form, api_visibility="private",
                               validator=lambda path: upload_problem(settings, path), **ctx.model_queue)
    for event in (*expanded, loaded):
        event.success(measured_timings, [timings, ctx.prompt_set], timings, api_visibility="private",
                      show_progress="hidden")
        if ctx.saved_set is not None:
            event.success(saved_copy, ctx.prompt_set, ctx.saved_set, api_visibility="private",
                          show_progress="hidden")
    if ctx.saved_set is not None:
        # Two steps, so that a page with nothing kept runs no event on the form (an event on an input would
        # clear the message of a refused click made while it ran): only a kept set changes `kept`.
        kept = gr.State(None)
        on_page_load(lambda saved: saved or None, ctx.saved_set, kept, api_visibility="private",
                     show_progress="hidden")
        kept.change(lambda saved: restore_saved(settings, saved), kept, set_outputs + form,
                    api_visibility="private", show_progress="hidden", **ctx.model_queue)

    def send_to_render(prompt_set):
        if not prompt_set:
            gr.Warning("Expand a prompt first: there is no set to render yet.")
            return gr.Tabs()
        return gr.Tabs(selected="render")

    to_render.click(send_to_render, ctx.prompt_set, ctx.tabs, api_visibility="private")


def _compare_validator(settings: Settings):
    """Compare's inputs are (prompt, method, second method, K, options...): checked like an expansion."""
    check = validator(settings, n_extra=1)

    def validate(prompt, method, method_b, k, *rest):
        results = check(prompt, k, method, method_b, *rest)  # prompt, k, method, method_b, options...
        return [results[0], results[2], results[3], results[1], *results[4:]]

    return validate
