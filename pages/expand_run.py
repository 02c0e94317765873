"""The Expand tab's runs: an expansion or a comparison streamed step by step, checked on the way in.

`expand_stream` and `compare_stream` are generators a test iterates without a browser; each update is the
tab's outputs. A bad request is refused before anything loads (`validator`, and the handlers themselves).
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from pathlib import Path

import gradio as gr
import torch

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import (
    DEFAULT_METHOD,
    POLICY_METHODS,
    ExpandConfig,
    check_arguments,
    expand,
)
from dppgrpo_core.maths.dpp import cosine_kernel, log_det
from dppgrpo_core.models.policy import LOCAL_TURNS
from dppgrpo_core.sets import PromptSet
from dppgrpo_core.settings import Settings
from pages.context import (
    enabled_policies,
    handler,
    settings_for_policy,
)
from pages.expand_view import (
    MAX_K_APP,
    compare_figure,
    compare_sets_html,
    gains_figure,
    rerun_command,
    set_summary,
    similarity_heatmap,
    step_status,
    steps_table,
    write_downloads,
)


def _validate(prompt: str, k, method: str) -> tuple[str, int]:
    k = checks.number(k, "K", 1, MAX_K_APP, whole=True)
    return check_arguments(prompt, k, method), k


def _options(seed, lambda_div, lambda_rel, temperature, n_candidates) -> tuple[int, ExpandConfig]:
    """The seed and the expansion options of a request, checked (NaN, inf, out of range: UserFacingError)."""
    return checks.seed(0 if seed is None else seed), ExpandConfig(
        lambda_div=lambda_div, lambda_rel=lambda_rel, temperature=temperature, n_candidates=n_candidates).check()


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


def compare_validator(settings: Settings):
    """Compare's inputs are (prompt, method, second method, K, options...): checked like an expansion."""
    check = validator(settings, n_extra=1)

    def validate(prompt, method, method_b, k, *rest):
        results = check(prompt, k, method, method_b, *rest)  # prompt, k, method, method_b, options...
        return [results[0], results[2], results[3], results[1], *results[4:]]

    return validate


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


@handler
def expand_stream(settings: Settings, prompt, k, method, seed, lambda_div, lambda_rel, policy="",
                  temperature=0.8, n_candidates=4, progress=None, tick: float | None = None):
    """Yield (status, table, gains plot, heatmap, summary, json path, csv path, prompt set) after every step.

    With `tick` (seconds), also a status-only update (the other outputs `gr.skip()`) every `tick` seconds
    while a step runs: its elapsed time and the time left."""
    query, k = _validate(prompt, k, method)
    seed, config = _options(seed, lambda_div, lambda_rel, temperature, n_candidates)
    run_settings = settings_for_policy(settings, policy)
    policy_label = policy or next(iter(enabled_policies(settings)))
    start = step_start = time.perf_counter()
    empty = steps_table([])
    # First update at once, before any model loads: the user sees the run has started.
    yield (f"⏳ {method}: generating prompt 1 of {k}…", empty, gains_figure([], k), None, "", None, None, None)
    steps: list[dict] = []
    vectors = []
    skip = gr.skip()
    records = expand(query, k, method, seed, settings=run_settings, config=config)
    for record in _records_with_ticks(records, tick):
        if record is None:
            status = step_status(method, k, steps, time.perf_counter() - step_start, config.n_candidates)
            if LOCAL_TURNS.waiting and method in POLICY_METHODS:  # why a step takes longer than the estimate
                status += (f" · the policy engine is shared with {LOCAL_TURNS.waiting} other waiting "
                           "request(s): runs take turns prompt by prompt")
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
    # The expansion's own embeddings: no second embedding pass.
    yield finished_set(settings, run_settings, query, method, seed, k, config, policy_label, steps,
                       torch.stack(vectors), time.perf_counter() - start)


@handler
def compare_stream(settings: Settings, prompt, k, method_a, method_b, seed, lambda_div, lambda_rel, policy="",
                   temperature=0.8, n_candidates=4):
    """Run two methods on the same prompt with the same K and options.

    Yields (status, gain curves, the two sets side by side as HTML) after every step of either; each set shows
    its prompts, mean relevance and log det as it grows, and its Vendi score once complete."""
    from eval.metrics import vendi_score

    query, k = _validate(prompt, k, method_a)
    _validate(prompt, k, method_b)
    seed, config = _options(seed, lambda_div, lambda_rel, temperature, n_candidates)
    run_settings = settings_for_policy(settings, policy)
    runs: dict[str, list[dict]] = {}
    sets: dict[str, dict] = {}

    def view():
        return compare_figure(runs, k), compare_sets_html(list(sets.values()))

    yield (f"⏳ comparing {method_a} and {method_b} (K = {k})…", *view())
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
    totals = ", ".join(f"{m}: Vendi {item['vendi']:.3f}, log det {item['log_det']:.3f}" for m, item in sets.items())
    yield (f"✅ K = {k} · {totals}", *view())
