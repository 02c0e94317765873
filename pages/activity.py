"""What this server is busy with, so a person whose request waits sees why, for about how long, and can stop it.

Server-wide (one per process, shared by every browser): the runs queued or running, each keyed by its browser
session, and which models this process has loaded (a first run also loads them). It holds no user data beyond
a method name and K, and forgets a run when it ends, is stopped, or is older than STALE_S.

    ACTIVITY.queue("s1", "dpp-rerank", 8, expected_s=40)    # clicked: waiting for a slot
    ACTIVITY.start("s1", "dpp-rerank", 8, expected_s=40)    # the handler runs
    ACTIVITY.waiting_line("s2")                              # what session s2 reads while it waits
    ACTIVITY.finish("s1")

>>> a = Activity(clock=lambda: 100.0)
>>> a.start("alice", "dpp-rerank", 8, expected_s=40)
>>> a.queue("bob", "dpp-compose", 4, expected_s=5)
>>> print(a.waiting_line("bob"))
⏳ **Queued, place 1**: waiting behind another user's policy run (dpp-rerank, K = 8), about 40 s left; then yours takes about 5 s. Press **Stop** to withdraw it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from dppgrpo_core.expand import POLICY_METHODS  # the methods that run the language policy

STALE_S = 1800.0  # a run not finished after this long is forgotten (a closed tab, a killed worker)
NOTICE_S = 5.0  # how long the line about a refused click stays


@dataclass
class Run:
    method: str
    k: int
    expected_s: float
    queued_at: float
    started_at: float | None = None  # None while it waits for a slot

    @property
    def kind(self) -> str:
        return "policy run" if self.method in POLICY_METHODS else "run"

    def describe(self) -> str:
        return f"{self.kind} ({self.method}, K = {self.k})"


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 90 else f"{value / 60:.0f} min"


class Activity:
    """The runs of this process by session, and the models it has loaded; thread-safe."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}
        self._loaded: set[tuple[str, str]] = set()
        self._rates: dict[str, float] = {}
        self._notices: dict[str, tuple[str, float]] = {}

    def _prune(self, now: float) -> None:
        for session in [s for s, run in self._runs.items() if now - run.queued_at > STALE_S]:
            del self._runs[session]

    def queue(self, session: str, method: str, k: int, expected_s: float) -> None:
        """A click: this session's run waits for a slot (until `start`)."""
        with self._lock:
            now = self._clock()
            self._prune(now)
            self._runs[session] = Run(method, int(k), float(expected_s), now)

    def start(self, session: str, method: str, k: int, expected_s: float) -> None:
        """The run's handler began (an API call, which had no click, is added here)."""
        with self._lock:
            now = self._clock()
            run = self._runs.get(session) or Run(method, int(k), float(expected_s), now)
            run.method, run.k, run.expected_s, run.started_at = method, int(k), float(expected_s), now
            self._runs[session] = run

    def finish(self, session: str) -> None:
        with self._lock:
            self._runs.pop(session, None)

    def busy(self, session: str) -> bool:
        """Whether this session already has a run queued or running."""
        with self._lock:
            self._prune(self._clock())
            return session in self._runs

    def age(self, session: str) -> float:
        """Seconds since this session's run was queued (0 without one)."""
        with self._lock:
            run = self._runs.get(session)
            return self._clock() - run.queued_at if run else 0.0

    def notify(self, session: str, text: str, seconds: float = NOTICE_S) -> None:
        """A line this session's page shows for `seconds` (a refused click), whatever else its run says."""
        with self._lock:
            self._notices[session] = (text, self._clock() + seconds)

    def notice(self, session: str) -> str:
        with self._lock:
            text, until = self._notices.get(session, ("", 0.0))
            if self._clock() >= until:
                self._notices.pop(session, None)
                return ""
            return text

    def started(self, session: str) -> bool:
        with self._lock:
            run = self._runs.get(session)
            return run is not None and run.started_at is not None

    def mark_loaded(self, model: str, name: str) -> None:
        """A run finished with `model` ("embedder", "policy") named `name`: later runs skip its loading."""
        with self._lock:
            self._loaded.add((model, name))

    def loaded(self, model: str, name: str) -> bool:
        with self._lock:
            return (model, name) in self._loaded

    def measure(self, method: str, per_unit: float, warm: bool) -> None:
        """A run's seconds per prompt (dpp-rerank: per candidate), its loading left out. A warm run replaces the
        figure; a first run (its loading only estimated) is kept only while there is none."""
        with self._lock:
            if warm or method not in self._rates:
                self._rates[method] = max(float(per_unit), 0.01)

    def rates(self) -> dict[str, float]:
        """Measured seconds per prompt by method on this server (see `measure`)."""
        with self._lock:
            return dict(self._rates)

    def sharing_line(self, session: str) -> str:
        """While this session's policy run runs beside other users' policy runs: why its steps are slower."""
        with self._lock:
            mine = self._runs.get(session)
            if mine is None or mine.started_at is None or mine.method not in POLICY_METHODS:
                return ""
            others = [r for s, r in self._runs.items()
                      if s != session and r.started_at is not None and r.method in POLICY_METHODS]
        if not others:
            return ""
        names = " and ".join(f"another user's {r.describe()}" for r in others[:3])
        return f"⏳ Sharing the language policy with {names}: it takes turns between you, so each step takes longer."

    def waiting_line(self, session: str) -> str:
        """Why this session's run waits, its place, and about how long until it is done; "" once it runs."""
        with self._lock:
            now = self._clock()
            mine = self._runs.get(session)
            if mine is None or mine.started_at is not None:
                return ""
            running = [r for s, r in self._runs.items() if s != session and r.started_at is not None]
            ahead = [r for s, r in self._runs.items()
                     if s != session and r.started_at is None and r.queued_at <= mine.queued_at]
        place = len(ahead) + 1
        if not running and not ahead:
            return "⏳ **Starting**: your run is next."
        left = sum(max(r.expected_s - (now - r.started_at), 0.0) for r in running)
        left += sum(r.expected_s for r in ahead)
        reasons = [f"another user's {r.describe()}" for r in running]
        if ahead:
            reasons.append(f"{len(ahead)} earlier request{'s' if len(ahead) > 1 else ''}")
        overdue = any(now - r.started_at > r.expected_s for r in running)
        wait = "taking longer than expected" if overdue and left < 1 else f"about {_seconds(left)} left"
        return (f"⏳ **Queued, place {place}**: waiting behind {' and '.join(reasons)}, {wait}; then yours takes "
                f"about {_seconds(mine.expected_s)}. Press **Stop** to withdraw it.")


ACTIVITY = Activity()
