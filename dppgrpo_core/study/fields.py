"""The checks of what a study stores: scores, texts, annotator ids, clip lists; and its time format.

    >>> check_annotator("ann 07")
    'ann 07'
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime, timezone

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError

SCORE_MIN, SCORE_MAX = 1, 5
MAX_CLIPS = 16  # clips in one item: the Annotate tab's video slots; import refuses larger items
MAX_TEXT = 2000  # characters of a prompt or a comment (the Expand tab's prompt limit)
MAX_NAME = 100  # characters of an item id, a method or an annotator id

def iso_time(seconds: float | None) -> str | None:
    """A Unix time as ISO 8601 with its zone (UTC), as exports write it.

    >>> iso_time(0)
    '1970-01-01T00:00:00+00:00'
    """
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return None
    return datetime.fromtimestamp(float(seconds), timezone.utc).isoformat(timespec="seconds")



class AnnotationError(UserFacingError):
    """A rating or item the store refuses: out-of-range score, unknown item, duplicate rating, bad item."""


class QuotaReached(AnnotationError):
    """An answer beyond the lead's quota per annotator (`plan.py`): the page says the quota is reached."""


def check_score(name: str, value) -> int:
    """An integer Likert score in 1..5, from an int, a whole float or a digit string; else AnnotationError."""
    if isinstance(value, bool) or value is None:
        raise AnnotationError(f"{name} must be a whole number from {SCORE_MIN} to {SCORE_MAX}, got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AnnotationError(f"{name} must be a whole number from {SCORE_MIN} to {SCORE_MAX}, got {value!r}.") from None
    if not math.isfinite(number) or not number.is_integer():
        raise AnnotationError(f"{name} must be a whole number from {SCORE_MIN} to {SCORE_MAX}, got {value!r}.")
    if not SCORE_MIN <= number <= SCORE_MAX:
        raise AnnotationError(f"{name} must be from {SCORE_MIN} to {SCORE_MAX}, got {value!r}.")
    return int(number)


def check_text(value, name: str, max_chars: int = MAX_NAME, multiline: bool = False) -> str:
    try:
        return checks.text(value, name, max_chars, multiline=multiline).strip()
    except UserFacingError as exc:
        raise AnnotationError(str(exc)) from None


ANNOTATOR_CHARACTERS = re.compile(r"[\w .@+'-]+")  # letters and digits of any script, and " .@+'-_"


# Scripts that one name may mix (Japanese writes kanji, hiragana and katakana together; Korean, hangul and hanja).
_SCRIPT_GROUPS = {"CJK": "HAN", "HIRAGANA": "HAN", "KATAKANA": "HAN", "KATAKANA-HIRAGANA": "HAN", "HANGUL": "HAN",
                  "BOPOMOFO": "HAN", "ARABIC-INDIC": "ARABIC", "EXTENDED": "ARABIC"}


def _scripts(name: str) -> set[str]:
    """The scripts of a name's letters and non-ASCII digits, by their Unicode names ("LATIN", "CYRILLIC", ...)."""
    words = {unicodedata.name(ch, "?").split(" ")[0] for ch in name
             if ch.isalpha() or (ch.isdigit() and not ch.isascii())}
    return {_SCRIPT_GROUPS.get(word, word) for word in words}


def check_annotator(annotator) -> str:
    """An annotator id (a typed id or a sign-in user name), stripped: 1 to MAX_NAME characters of letters,
    digits, spaces and . @ + - ' _ only, so no markup, path or control character ever names a rater. Letters
    that only look like others cannot make a second "ann1": an id is written in one script (a Cyrillic "а"
    among Latin letters is refused) and in its plain form (NFKC: no fullwidth "ａ" or bold "𝐚").

    >>> check_annotator("  ann07 ")
    'ann07'
    >>> check_annotator("../x")
    Traceback (most recent call last):
    ...
    dppgrpo_core.study.fields.AnnotationError: an annotator id may hold letters, digits, spaces and . @ + - ' _ only, got '../x'.
    """
    if not isinstance(annotator, str) or not annotator.strip() or len(annotator.strip()) > MAX_NAME:
        raise AnnotationError(f"an annotator id must be 1 to {MAX_NAME} characters.")
    name = check_text(annotator.strip(), "an annotator id")
    if not ANNOTATOR_CHARACTERS.fullmatch(name):
        raise AnnotationError("an annotator id may hold letters, digits, spaces and . @ + - ' _ only, "
                              f"got {checks.shown(name)}.")
    if unicodedata.normalize("NFKC", name) != name:
        raise AnnotationError(f"write the annotator id in plain letters: {checks.shown(name)} is "
                              f"{checks.shown(unicodedata.normalize('NFKC', name))} in another form.")
    if len(_scripts(name)) > 1:
        raise AnnotationError(f"an annotator id is written in one script, got {checks.shown(name)} mixing "
                              f"{' and '.join(word.title() for word in sorted(_scripts(name)))}: its letters could pass for another id.")
    return name


def checked_clips(videos: list, clip, where: str = "") -> list[str]:
    """A manifest's list of clips, each resolved and confined by `clip(path)`; UserFacingError past MAX_CLIPS.

    >>> checked_clips(["a.mp4"], str.upper)
    ['A.MP4']
    """
    if len(videos) > MAX_CLIPS:
        raise UserFacingError(f"{where}{len(videos)} clips; the Annotate tab shows at most {MAX_CLIPS} per set.")
    return [clip(video) for video in videos]


def check_string_list(item_id: str, key: str, value) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise AnnotationError(f"item {item_id!r}: {key} must be a non-empty list of non-empty strings.")
    if key == "videos" and len(value) > MAX_CLIPS:
        raise AnnotationError(f"item {item_id!r} has {len(value)} clips; the Annotate tab shows at most {MAX_CLIPS}.")
    return [check_text(v, f"item {item_id!r}: an entry of {key}", MAX_TEXT) for v in value]


