"""Checks of values from outside (flags, files, requests): the value itself, or one UserFacingError line.

    >>> number("0.5", "λ_div", 0, 1)
    0.5
    >>> seed(7)
    7
    >>> number(float("nan"), "guidance", 0, 100)
    Traceback (most recent call last):
    ...
    dppgrpo_core.errors.UserFacingError: guidance must be a number from 0 to 100, got nan.
    >>> boolean("false", "attention_check")
    Traceback (most recent call last):
    ...
    dppgrpo_core.errors.UserFacingError: attention_check must be true or false, got 'false'.
    >>> text("a dog\\x00", "prompt")
    Traceback (most recent call last):
    ...
    dppgrpo_core.errors.UserFacingError: prompt contains a control character (U+0000).

Messages show the offending value through `repr`, cut short, so a huge value, a newline or a lone
surrogate never reaches a terminal or a JSON answer raw.
"""

from __future__ import annotations

import math
import numbers
import re

from dppgrpo_core.errors import UserFacingError

SEED_MAX = 2**63 - 1  # seeds are signed 64-bit everywhere (torch generators, the expansion's seeds)
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 and C1 controls but tab, newline, CR
_LINE_BREAK = re.compile("[\t\n\r\u2028\u2029]")


def shown(value, limit: int = 60) -> str:
    """`repr(value)`, cut to about `limit` characters: safe to put in a one-line message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _refuse(name: str | None, requirement: str, value) -> UserFacingError:
    return UserFacingError(f"{name + ' ' if name else ''}must be {requirement}, got {shown(value)}.")


def number(value, name: str | None, low=None, high=None, whole: bool = False):
    """A finite number within [low, high] (either may be None), from a number or numeric text.

    `whole=True` returns an int (3.0 is accepted as 3). Booleans, NaN, infinities and other text are refused.
    """
    kind = "a whole number" if whole else "a number"
    if low is not None and high is not None:
        requirement = f"{kind} from {low} to {high}"
    elif low is not None:
        requirement = f"{kind} ≥ {low}"
    elif high is not None:
        requirement = f"{kind} ≤ {high}"
    else:
        requirement = f"{kind}"
    parsed = value
    if isinstance(value, str):
        try:
            parsed = int(value.strip())
        except ValueError:
            try:
                parsed = float(value.strip())
            except ValueError:
                raise _refuse(name, requirement, value) from None
    if isinstance(parsed, bool) or not isinstance(parsed, numbers.Real):
        raise _refuse(name, requirement, value)
    if isinstance(parsed, numbers.Integral):
        parsed = int(parsed)
    else:
        parsed = float(parsed)
        if not math.isfinite(parsed) or (whole and not parsed.is_integer()):
            raise _refuse(name, requirement, value)
        if whole:
            parsed = int(parsed)
    if (low is not None and parsed < low) or (high is not None and parsed > high):
        raise _refuse(name, requirement, value)
    return parsed


def seed(value, name: str | None = "seed", high: int = SEED_MAX) -> int:
    """A whole number from 0 to `high` (default 2**63 - 1)."""
    return number(value, name, 0, high, whole=True)


def boolean(value, name: str) -> bool:
    """True or False, and nothing else: a JSON "false" string or a 0 is refused rather than guessed."""
    if value is True or value is False:
        return value
    raise _refuse(name, "true or false", value)


def text(value, name: str, max_chars: int = 2000, multiline: bool = False, allow_empty: bool = False) -> str:
    """A string of valid Unicode (no lone surrogates), without control characters (newlines and tabs only
    when `multiline`), at most `max_chars` long and not blank unless `allow_empty`."""
    if not isinstance(value, str):
        raise UserFacingError(f"{name} must be text, got {type(value).__name__}.")
    if _SURROGATE.search(value):
        raise UserFacingError(f"{name} is not valid Unicode text (it holds a lone surrogate).")
    bad = _CONTROL.search(value) or (None if multiline else _LINE_BREAK.search(value))
    if bad:
        raise UserFacingError(f"{name} contains a control character (U+{ord(bad.group()):04X}).")
    if len(value) > max_chars:
        raise UserFacingError(f"{name} is too long ({len(value):,} characters; at most {max_chars:,}).")
    if not allow_empty and not value.strip():
        raise UserFacingError(f"{name} is empty.")
    return value
