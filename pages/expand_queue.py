"""The Expand tab's side of the server queue: a run is let in once per session, a waiting person sees why and for
about how long (`ACTIVITY`), and the Stop button withdraws a queued run or ends a running one.

    expanded = button.click(on_expand, ..., validator=bind(expand_gate, settings), trigger_mode="multiple")
    timer.tick(queue_tick, None, [queue_note, stop, timer])     # the waiting line, every second
    stop.click(on_stop, None, [queue_note, stop, timer], cancels=[expanded])

A second click while this session's run is queued or running is refused on the prompt field with a line that
says so (never silently dropped: the event's trigger mode lets the click reach the gate).
"""

from __future__ import annotations

import gradio as gr

from dppgrpo_core.settings import Settings
from pages.activity import ACTIVITY
from pages.estimates import EMBEDDER_LOAD_S, POLICY_LOAD_S, POLICY_METHODS, expected_seconds
from pages.expand_run import compare_validator, validator


def whole(value):
    """A float that is a whole number as an int (the K field sends 4.0), anything else as it is.

    >>> whole(4.0), whole(2.5), whole("x")
    (4, 2.5, 'x')
    """
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "api"


def loading_ahead(settings: Settings, method: str, policy: str | None) -> float:
    """Seconds of model loading a run of `method` still needs in this server process."""
    seconds = 0.0 if ACTIVITY.loaded("embedder", settings.embedder) else EMBEDDER_LOAD_S
    if method in POLICY_METHODS and not ACTIVITY.loaded("policy", policy or ""):
        seconds += POLICY_LOAD_S
    return seconds


def _busy_line(session: str) -> str:
    return ("A run of yours is already queued or running: it continues. Wait for it, or press Stop and then "
            "start another." if ACTIVITY.busy(session) else "")


def expand_gate(settings: Settings, prompt, k, method, seed, lambda_div, lambda_rel, policy, temperature,
                n_candidates, request: gr.Request = None):
    """The Expand event's validator: the request's own checks (`expand_run.validator`), then one run per session;
    a request let in is entered in the queue's record (`ACTIVITY.queue`) so others see what they wait behind."""
    k = whole(k)
    results = validator(settings)(prompt, k, method, seed, lambda_div, lambda_rel, policy, temperature, n_candidates)
    if not all(r["is_valid"] for r in results):
        return results
    session = _session(request)
    busy = _busy_line(session)
    if busy:
        return [gr.validate(False, busy)] + [gr.validate(True, "")] * (len(results) - 1)
    expected = expected_seconds(method, k, n_candidates, ACTIVITY.rates(), loading_ahead(settings, method, policy))
    ACTIVITY.queue(session, method, k, expected)
    return results


def compare_gate(settings: Settings, prompt, method, method_b, compare_k, seed, lambda_div, lambda_rel, policy,
                 temperature, n_candidates, request: gr.Request = None):
    """The Compare event's validator: like `expand_gate`, for both methods one after the other."""
    compare_k = whole(compare_k)
    results = compare_validator(settings)(prompt, method, method_b, compare_k, seed, lambda_div, lambda_rel, policy,
                                          temperature, n_candidates)
    if not all(r["is_valid"] for r in results):
        return results
    session = _session(request)
    busy = _busy_line(session)
    if busy:
        return [gr.validate(False, busy)] + [gr.validate(True, "")] * (len(results) - 1)
    rates = ACTIVITY.rates()
    expected = sum(expected_seconds(m, compare_k, n_candidates, rates) for m in dict.fromkeys([method, method_b]))
    slowest = max([method, method_b], key=lambda m: m in POLICY_METHODS)
    ACTIVITY.queue(session, slowest, compare_k, expected + loading_ahead(settings, slowest, policy))
    return results


def waiting_outputs(prompt, *_rest):
    """On the click, beside the gated run: show Stop and start the waiting line's timer (nothing for an empty
    prompt, which the gate refuses anyway)."""
    if not isinstance(prompt, str) or not prompt.strip():
        return gr.skip(), gr.skip(), gr.skip()
    return gr.skip(), gr.Button(visible=True), gr.Timer(active=True)


def queue_tick(request: gr.Request = None):
    """Every second while this session's run waits or runs: (the line saying why it waits, or whose policy run it
    shares the engine with; Stop; the timer). Once the run is over, the line, Stop and the timer go."""
    session = _session(request)
    if not ACTIVITY.busy(session):
        return "", gr.Button(visible=False), gr.Timer(active=False)
    if ACTIVITY.started(session):
        return ACTIVITY.sharing_line(session), gr.Button(visible=True), gr.Timer(active=True)
    return ACTIVITY.waiting_line(session), gr.Button(visible=True), gr.Timer(active=True)


def on_stop(request: gr.Request = None):
    """The Stop button (its event cancels the runs): the session's run leaves the queue's record."""
    session = _session(request)
    line = ("⏹ Nothing was running." if not ACTIVITY.busy(session) else
            "⏹ Stopped. The prompts made so far stay in the table." if ACTIVITY.started(session) else
            "⏹ Withdrawn from the queue: nothing ran.")
    ACTIVITY.finish(session)
    return line, gr.Button(visible=False), gr.Timer(active=False)


def run_over(request: gr.Request = None):
    """After a run ends (done, refused or failed): the waiting line and Stop go."""
    ACTIVITY.finish(_session(request))
    return "", gr.Button(visible=False), gr.Timer(active=False)
