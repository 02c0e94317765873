"""The Expand tab's side of the server queue: a run is let in once per session, a waiting person sees why and for
about how long (`ACTIVITY`), and the Stop button withdraws a queued run or ends a running one.

    expanded = button.click(on_expand, ..., validator=bind(expand_gate, settings), trigger_mode="multiple")
    button.click(bind(waiting_for_expand, settings), inputs, waiting, queue=False)  # at once: Stop, "Running…"
    timer.tick(queue_tick, None, [line, timer, ended])           # the waiting line, every second
    stop.click(on_stop, None, waiting, cancels=[expanded, compared])

While a run goes on, Expand and Compare read "Running…" and cannot be clicked; Enter in the prompt reaches the
gate (the event's trigger mode lets it), which refuses it, and the line under the buttons says why for a few
seconds: a second request is never dropped silently.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from dppgrpo_core.settings import Settings
from pages.activity import ACTIVITY
from pages.estimates import EMBEDDER_LOAD_S, POLICY_LOAD_S, POLICY_METHODS, expected_seconds
from pages.expand_run import compare_validator, validator
from pages.expand_view import filled


class Buttons(NamedTuple):
    """The run's buttons, by name (`idle_buttons`' outputs, wired in this order)."""

    stop: Any
    compare_stop: Any
    run: Any  # Expand
    compare: Any


class QueueView(NamedTuple):
    """The queue's side of the tab, by name: the line under the buttons, the buttons, the timer that refreshes the
    line, and whether this session's run is over (`idle_buttons` follows it)."""

    line: Any
    stop: Any
    compare_stop: Any
    timer: Any
    run: Any
    compare: Any
    ended: Any


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


def _admit(results: list, request, method: str, k, expected: float) -> list:
    """Checked inputs let in: refused on the first field while this session has a run, else entered in the
    queue's record (`ACTIVITY.queue`)."""
    session = _session(request)
    busy = _busy_line(session)
    if busy:
        return [gr.validate(False, busy)] + [gr.validate(True, "")] * (len(results) - 1)
    ACTIVITY.queue(session, method, k, expected)
    return results


def expand_gate(settings: Settings, prompt, k, method, seed, lambda_div, lambda_rel, policy, temperature,
                n_candidates, request: gr.Request = None):
    """The Expand event's validator: the request's own checks (`expand_run.validator`), then one run per session;
    a request let in is entered in the queue's record (`ACTIVITY.queue`) so others see what they wait behind."""
    k = whole(k)
    results = validator(settings)(prompt, k, method, seed, lambda_div, lambda_rel, policy, temperature, n_candidates)
    if not all(r["is_valid"] for r in results):
        return results
    expected = expected_seconds(method, k, n_candidates, ACTIVITY.rates(), loading_ahead(settings, method, policy))
    return _admit(results, request, method, k, expected)


def compare_gate(settings: Settings, prompt, method, method_b, compare_k, seed, lambda_div, lambda_rel, policy,
                 temperature, n_candidates, request: gr.Request = None):
    """The Compare event's validator: like `expand_gate`, for both methods one after the other."""
    compare_k = whole(compare_k)
    results = compare_validator(settings)(prompt, method, method_b, compare_k, seed, lambda_div, lambda_rel, policy,
                                          temperature, n_candidates)
    if not all(r["is_valid"] for r in results):
        return results
    rates = ACTIVITY.rates()
    expected = sum(expected_seconds(m, compare_k, n_candidates, rates) for m in dict.fromkeys([method, method_b]))
    slowest = max([method, method_b], key=lambda m: m in POLICY_METHODS)
    return _admit(results, request, slowest, compare_k, expected + loading_ahead(settings, slowest, policy))


def idle_buttons(ended: bool = True) -> Buttons:
    """The buttons once this session's run is over (`ended`): no Stop, Expand and Compare back; else as they are."""
    if not ended:
        return filled(Buttons, gr.skip())
    return Buttons(stop=gr.Button(visible=False), compare_stop=gr.Button(visible=False),
                   run=gr.Button("Expand", interactive=True), compare=gr.Button("Compare", interactive=True))


def _idle(line="") -> QueueView:
    """The queue's side when this session has no run: the line, the buttons back, the timer stopped."""
    return QueueView(line=line, timer=gr.Timer(active=False), ended=True, **idle_buttons()._asdict())


def _waiting(which: str, problems: list[dict], request) -> QueueView:
    unchanged = filled(QueueView, gr.skip())
    session = _session(request)
    if ACTIVITY.busy(session):
        if ACTIVITY.age(session) > 1.0:  # not the request this very click entered
            ACTIVITY.notify(session, "⚠️ " + _busy_line(session))
            return unchanged._replace(line=ACTIVITY.notice(session), timer=gr.Timer(active=True))
        return unchanged
    if not all(r["is_valid"] for r in problems):  # the gate refuses it on its field: nothing to show here
        return unchanged
    return QueueView(line="", stop=gr.Button(visible=which == "expand"),
                     compare_stop=gr.Button(visible=which == "compare"), timer=gr.Timer(active=True),
                     run=gr.Button("Running…", interactive=False), compare=gr.Button(interactive=False), ended=False)


def waiting_for_expand(settings: Settings, prompt, k, method, seed, lambda_div, lambda_rel, policy, temperature,
                       n_candidates, request: gr.Request = None):
    """On the click, beside the gated run (not queued itself, so it shows at once): a `QueueView`. A request the
    gate lets in: its Stop shows, both buttons read as busy, the timer starts. A click while this session's run goes
    on: the line says so (the gate refuses it). Anything else the gate refuses: nothing here."""
    problems = validator(settings)(prompt, whole(k), method, seed, lambda_div, lambda_rel, policy, temperature,
                                   n_candidates)
    return _waiting("expand", problems, request)


def waiting_for_compare(settings: Settings, prompt, method, method_b, compare_k, seed, lambda_div, lambda_rel, policy,
                        temperature, n_candidates, request: gr.Request = None):
    """`waiting_for_expand` for the Compare button."""
    problems = compare_validator(settings)(prompt, method, method_b, whole(compare_k), seed, lambda_div, lambda_rel,
                                           policy, temperature, n_candidates)
    return _waiting("compare", problems, request)


def queue_tick(request: gr.Request = None):
    """Every second while this session's run waits or runs: (the line: a notice of a refused click, why it waits,
    or whose policy run it shares the engine with; the timer; run over). The buttons are not among its outputs
    (redrawn every second they could not be clicked): "run over" turning True brings them back (`idle_buttons`)."""
    session = _session(request)
    if not ACTIVITY.busy(session):
        return ACTIVITY.notice(session), gr.Timer(active=False), True
    line = ACTIVITY.notice(session) or (ACTIVITY.sharing_line(session) if ACTIVITY.started(session)
                                        else ACTIVITY.waiting_line(session))
    return line, gr.Timer(active=True), gr.skip()


def on_stop(request: gr.Request = None):
    """A Stop button (its event cancels the runs): the session's run leaves the queue's record."""
    session = _session(request)
    line = ("⏹ Nothing was running." if not ACTIVITY.busy(session) else
            "⏹ Stopped. The prompts made so far stay in the table." if ACTIVITY.started(session) else
            "⏹ Withdrawn from the queue: nothing ran.")
    ACTIVITY.finish(session)
    ACTIVITY.notify(session, line)  # kept a few seconds: the cancelled run's own ending must not wipe it
    return _idle(line)


def run_over(request: gr.Request = None):
    """After a run ends (done, refused or failed): the line, Stop and the timer go; the buttons come back."""
    ACTIVITY.finish(_session(request))
    return _idle(ACTIVITY.notice(_session(request)))
