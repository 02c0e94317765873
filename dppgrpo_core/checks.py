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
surrogate never reaches a terminal or a JSON answer raw. Files and JSON from outside are read here too
(`read_file`, `json_value`), and every CSV export writes its cells through `csv_cell`.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import stat
import unicodedata

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
    if not allow_empty and not stripped(value):
        raise UserFacingError(f"{name} is empty.")
    return value


def stripped(value: str) -> str:
    """The text without whitespace or invisible format characters (zero-width spaces, joiners, a BOM) at
    either end, so a value made only of those counts as blank.

    >>> stripped("\\u200b a dog \\ufeff")
    'a dog'
    """
    start, end = 0, len(value)
    while start < end and _blank(value[start]):
        start += 1
    while end > start and _blank(value[end - 1]):
        end -= 1
    return value[start:end]


def _blank(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) == "Cf"


# ----- files and JSON from outside -----
MAX_JSON_DIGITS = 100  # digits of one JSON integer: a seed needs 19; Python itself stops at 4,300, vaguely


def read_file(path, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most `max_bytes`; UserFacingError (one line) for a missing file, a
    folder, a device (/dev/zero), a FIFO or socket (never waited on), or a file that reads past the limit
    (/proc files claim a size of 0).

        data = read_file("set.json", 10_000_000, "prompts file")
    """
    name = shown(str(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # non-blocking: opening a FIFO must not wait for a writer
    except FileNotFoundError:
        raise UserFacingError(f"No such {what}: {name}.") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise UserFacingError(f"Cannot read the {what} {name}: {getattr(exc, 'strerror', None) or exc}.") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UserFacingError(f"The {what} {name} is a folder; give a file.")
        if not stat.S_ISREG(mode):
            raise UserFacingError(f"The {what} {name} is not a regular file (a device, a pipe or a socket).")
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read(max_bytes + 1)
    except OSError as exc:
        raise UserFacingError(f"Cannot read the {what} {name}: {exc.strerror or exc}.") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise UserFacingError(f"The {what} {name} is larger than {max_bytes:,} bytes.")
    return data


class _NotStrict(ValueError):
    pass


def _object(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise _NotStrict(f"the key {shown(key)} appears twice in one object")
        seen[key] = value
    return seen


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_JSON_DIGITS:
        raise _NotStrict(f"a number has {len(digits.lstrip('-')):,} digits (at most {MAX_JSON_DIGITS})")
    return int(digits)


def _real(digits: str) -> float:
    value = float(digits)
    if not math.isfinite(value):
        raise _NotStrict(f"{shown(digits)} is too large a number")
    return value


def _constant(word: str):
    raise _NotStrict(f"{word} is not a JSON number")


def json_value(text, name: str):
    """The JSON value of `text` (str, or bytes in UTF-8), read strictly: no NaN or infinity, no key twice in one
    object, no integer past MAX_JSON_DIGITS digits; UserFacingError (one line) naming `name` otherwise, also for
    text nested too deeply to read.

    >>> json_value('{"k": 8}', "The set")
    {'k': 8}
    >>> json_value('{"k": 8, "k": 9}', "The set")
    Traceback (most recent call last):
    ...
    dppgrpo_core.errors.UserFacingError: The set: not strict JSON (the key 'k' appears twice in one object).
    """
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, object_pairs_hook=_object, parse_int=_integer, parse_float=_real,
                          parse_constant=_constant)
    except UnicodeDecodeError:
        raise UserFacingError(f"{name}: not JSON (not UTF-8 text).") from None
    except json.JSONDecodeError as exc:
        raise UserFacingError(f"{name}: not JSON ({exc.msg}, line {exc.lineno} column {exc.colno}).") from None
    except _NotStrict as exc:
        raise UserFacingError(f"{name}: not strict JSON ({exc}).") from None
    except RecursionError:
        raise UserFacingError(f"{name}: not JSON this reads (nested too deeply, brackets inside brackets).") from None


# ----- exports -----
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A value as a CSV cell that no spreadsheet runs as a formula: text beginning with = + - @ (or a tab or
    carriage return) gets a leading apostrophe, unless it is a number; everything else is unchanged.

    >>> csv_cell("=cmd|' /C calc'!A0"), csv_cell("-1.5"), csv_cell(-2), csv_cell("a dog")
    ("'=cmd|' /C calc'!A0", '-1.5', -2, 'a dog')
    """
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    try:
        if math.isfinite(float(value)):
            return value
    except ValueError:
        pass
    return "'" + value
