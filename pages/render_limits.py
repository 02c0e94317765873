"""The per-user limit of the Render tab's configured model (a folder, or a command that may call a paid API).

Under sign-in, a user who is not an admin renders at most CONFIGURED_PER_CALL prompts per click and
CONFIGURED_PER_HOUR in any hour with the model the server configured; the built-in models are not limited.
The counts live in this process's memory (a restart clears them):

    charge_configured("ann1", 8)     # counted, or UserFacingError with how long to wait
"""

from __future__ import annotations

import threading
import time

from dppgrpo_core.errors import UserFacingError

CONFIGURED_PER_CALL = 20  # prompts per click with the configured model (a set of the Expand tab: K <= 20)
CONFIGURED_PER_HOUR = 60  # prompts per user in any hour with it
_SPENT: dict[str, list[float]] = {}  # user -> times of the prompts they sent to the configured model
_SPENT_LOCK = threading.Lock()


def charge_configured(user: str, n: int, now: float | None = None) -> None:
    """Count `n` prompts for `user` with the configured model; UserFacingError (nothing counted) past the
    per-click or hourly limit. Every prompt sent counts, cached or not: the limit is on what a user may ask."""
    if n > CONFIGURED_PER_CALL:
        raise UserFacingError(f"At most {CONFIGURED_PER_CALL} prompts per click with the server's configured model, "
                              f"got {n}.")
    now = time.time() if now is None else now
    with _SPENT_LOCK:
        recent = [t for t in _SPENT.get(user, []) if now - t < 3600]
        if len(recent) + n > CONFIGURED_PER_HOUR:
            wait = 3600 - (now - sorted(recent)[len(recent) + n - CONFIGURED_PER_HOUR - 1])  # n <= PER_CALL < PER_HOUR
            raise UserFacingError(f"You have sent {len(recent)} prompts to the server's configured model in the last "
                                  f"hour; the limit is {CONFIGURED_PER_HOUR}. Try again in {max(1, round(wait / 60))} min.")
        _SPENT[user] = recent + [now] * n
