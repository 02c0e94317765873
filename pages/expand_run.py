"""The Expand tab's runs: an expansion or a comparison streamed step by step, checked on the way in.

`expand_stream` and `compare_stream` are generators a test iterates without a browser; each update is a typed view
(`SetView`, `CompareView`) whose fields `build` wires by name. A bad request is refused before anything loads:
the event's `validator` shows each input's problem on its field, and each handler makes its `ExpandRequest` with
the core's one `check_inputs` (a UserFacingError there becomes the user's gr.Error line).
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import gradio as gr
import torch

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import (
    MAX_K_APP,
    POLICY_METHODS,
    ExpandRequest,
    check_inputs,
    check_method,
    expand,
    input_problems,
    set_json,
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
    CompareView,
    FormValues,
    SetView,
    compare_figure,
    compare_sets_html,
    filled,
    gains_figure,
    rerun_command,
    set_summary,
    similarity_heatmap,
    step_status,
    steps_table,
    write_downloads,
)


def _problem(check, *args) -> str | None:
    """The one-line message of `check(*args)`, or None when it passes."""
    try:
        check(*args)
    except UserFacingError as exc:
        return str(exc)
    return None


def _in_core(check, prompt, k, method, seed, lambda_div, lambda_rel, temperature, n_candidates):
    """The core's `check` (`check_inputs`, or `input_problems` for every fault) on the form's request, with the
    app's K limit: the handlers and the validator check with the same function."""
    return check(prompt, k, method, seed, max_k=MAX_K_APP, lambda_div=lambda_div, lambda_rel=lambda_rel,
                 temperature=temperature, n_candidates=n_candidates)


def request_problems(settings: Settings, prompt, k, method, seed, lambda_div, lambda_rel, policy="",
                     temperature=0.8, n_candidates=4) -> list[str | None]:
    """What is wrong with each input of an Expand request (None where it is fine), in the form's order
    (`FormValues`): the core's checks (`input_problems`, with the app's MAX_K_APP), and the server's policies.

    >>> request_problems(Settings(device="cpu"), "  ", 3, "iid", 0, 0.5, 0.5)[:3]
    ['The prompt is empty: type a text-to-video prompt.', None, None]
    """
    problems = _in_core(input_problems, prompt, k, method, seed, lambda_div, lambda_rel, temperature, n_candidates)
    problems["policy"] = _problem(settings_for_policy, settings, policy)
    return [problems.get(name) for name in FormValues._fields]


def validator(settings: Settings, n_extra: int = 0):
    """A `validator=` for the Expand and Compare events: the handler runs only on valid input, and a refused
    request shows its message on the input at fault while the outputs stay as they were (no error badges).
    `n_extra` inputs after the method (Compare's second method) are checked as methods."""
    def validate(prompt, k, method, *rest):
        extra, rest = rest[:n_extra], rest[n_extra:]
        problems = request_problems(settings, prompt, k, method, *rest)
        extra_problems = [_problem(check_method, value) for value in extra]
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


def finished_view(run_settings: Settings, request: ExpandRequest, policy_label: str, steps: list[dict], vectors,
                  elapsed: float, note: str = "") -> SetView:
    """The tab's view of a finished set: table, gains, heatmap, summary, the JSON and CSV files, the session's set.

    The JSON (`set_json`) holds everything needed to make the set again: query, method, seed, K, every option, the
    policy (as the name a client picks), the embedder, and the command line that reruns it."""
    from eval.metrics import vendi_score

    prompts = [s["prompt"] for s in steps]
    result = set_json(request, steps, policy=policy_label, adapter=_shown_name(run_settings.adapter),
                      embedder=_shown_name(run_settings.embedder), total_s=elapsed)
    result["rerun"] = rerun_command(result)
    json_path, csv_path = write_downloads(result)
    # A set made here, not loaded, keeps its time: a measurement for the estimate.
    prompt_set = PromptSet(prompts, request.query, request.method, request.seed, request.k, result["config"],
                           policy_label, steps, None if note else result["timing"]).to_json()
    return SetView(
        status=note or f"✅ {request.method}: {request.k} prompts in {elapsed:.1f} s", table=steps_table(steps),
        gains=gains_figure(steps, request.k), heatmap=similarity_heatmap(prompts, cosine_kernel(vectors).numpy()),
        summary=set_summary(vendi_score(vectors.numpy()), log_det(vectors), steps, elapsed), json_file=json_path,
        csv_file=csv_path, prompt_set=prompt_set)


@handler
def expand_stream(settings: Settings, prompt, k, method, seed, lambda_div, lambda_rel, policy="",
                  temperature=0.8, n_candidates=4, progress=None, tick: float | None = None):
    """Yield a `SetView` at once, after every step, and for the finished set.

    With `tick` (seconds), also a status-only update (the other fields `gr.skip()`) every `tick` seconds
    while a step runs: its elapsed time and the time left."""
    request: ExpandRequest = _in_core(check_inputs, prompt, k, method, seed, lambda_div, lambda_rel, temperature,
                                      n_candidates)
    run_settings = settings_for_policy(settings, policy)
    policy_label = policy or next(iter(enabled_policies(settings)))
    method, k = request.method, request.k
    start = step_start = time.perf_counter()
    # First update at once, before any model loads: the user sees the run has started.
    yield SetView(f"⏳ {method}: generating prompt 1 of {k}…", table=steps_table([]), gains=gains_figure([], k))
    steps: list[dict] = []
    vectors = []
    skipped = filled(SetView, gr.skip())
    records = expand(request.query, k, method, request.seed, settings=run_settings, config=request.config)
    for record in _records_with_ticks(records, tick):
        if record is None:
            status = step_status(method, k, steps, time.perf_counter() - step_start, request.config.n_candidates)
            if LOCAL_TURNS.waiting and method in POLICY_METHODS:  # why a step takes longer than the estimate
                status += (f" · the policy engine is shared with {LOCAL_TURNS.waiting} other waiting "
                           "request(s): runs take turns prompt by prompt")
            if progress is not None:
                progress((len(steps), k), desc=status.removeprefix("⏳ "))
            yield skipped._replace(status=status)
            continue
        step_start = time.perf_counter()
        steps.append(record.to_dict())
        vectors.append(record.embedding)
        if progress is not None:
            progress((len(steps), k), desc=f"{method}: prompt {len(steps)} of {k}")
        status = f"⏳ {method}: {len(steps)} of {k} prompts" if len(steps) < k else f"✅ {method}: {k} prompts"
        yield SetView(status, table=steps_table(steps), gains=gains_figure(steps, k))
    # The expansion's own embeddings: no second embedding pass.
    yield finished_view(run_settings, request, policy_label, steps, torch.stack(vectors),
                        time.perf_counter() - start)


@handler
def compare_stream(settings: Settings, prompt, k, method_a, method_b, seed, lambda_div, lambda_rel, policy="",
                   temperature=0.8, n_candidates=4):
    """Run two methods on the same prompt with the same K and options.

    Yields a `CompareView` after every step of either; each set shows its prompts, mean relevance and log det
    as it grows, and its Vendi score once complete."""
    from eval.metrics import vendi_score

    request: ExpandRequest = _in_core(check_inputs, prompt, k, method_a, seed, lambda_div, lambda_rel, temperature,
                                      n_candidates)
    check_method(method_b)
    run_settings = settings_for_policy(settings, policy)
    k = request.k
    runs: dict[str, list[dict]] = {}
    sets: dict[str, dict] = {}

    def view(status: str) -> CompareView:
        return CompareView(status, compare_figure(runs, k), compare_sets_html(list(sets.values())))

    yield view(f"⏳ comparing {method_a} and {method_b} (K = {k})…")
    for method in dict.fromkeys([method_a, method_b]):
        runs[method], vectors = [], []
        for record in expand(request.query, k, method, request.seed, settings=run_settings, config=request.config):
            runs[method].append(record.to_dict())
            vectors.append(record.embedding)
            steps = runs[method]
            sets[method] = {"method": method, "prompts": [s["prompt"] for s in steps], "vendi": None,
                            "relevance": sum(s["relevance"] for s in steps) / len(steps),
                            "log_det": steps[-1]["log_det"]}
            if len(steps) == k:
                sets[method]["vendi"] = float(vendi_score(torch.stack(vectors).numpy()))
            yield view(f"⏳ {method}: {len(steps)} of {k}")
    totals = ", ".join(f"{m}: Vendi {item['vendi']:.3f}, log det {item['log_det']:.3f}" for m, item in sets.items())
    yield view(f"✅ K = {k} · {totals}")
