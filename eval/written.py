"""What a written set is judged by besides Vendi (issue 24): its length, its content diversity, its stock phrases.

    >>> content_text("A low-angle wide shot of a fox at dusk, the camera orbits slowly around the subject.")
    'A of a fox , .'
    >>> recurring_phrase(["a fox runs with water glistening nearby", "a fox naps with water glistening nearby"],
    ...                  "a fox")
    ('with water glistening nearby', 2)

*Content diversity* is Vendi after the shot, camera, lens, light and time words are masked (`content_text`): what
is left is what is filmed (the subject's look, its motion, the setting), so a set that varies only the camera
scores low. A *recurring phrase* is a run of four words not in q that several prompts of one set share (the
trained policy's "with water glistening nearby" in 7 of 8): the acceptance allows at most 3 of 8.
"""

from __future__ import annotations

import collections
import re

from dppgrpo_core.vocabulary import AXES, DETECT, words_pattern

# Whole axis values first (longest first, so "a slow push-in tightens the frame" goes as one), then the detectors'
# words for what is left ("golden hour", "85mm", "pan").
_MASKED_AXES = ("shot", "angle", "camera", "lens", "light", "time")
_VALUES = sorted({v for axis in _MASKED_AXES for v in AXES[axis]}, key=len, reverse=True)
_MASK = [re.compile(re.escape(v), re.IGNORECASE) for v in _VALUES] + [
    words_pattern(DETECT[name]) for name in ("shot", "camera_move", "lens", "light", "time")]
_WORD = re.compile(r"[a-z0-9']+")


def content_text(prompt: str) -> str:
    """The prompt with its shot, angle, camera, lens, light and time words taken out (what is filmed is left)."""
    for pattern in _MASK:
        prompt = pattern.sub(" ", prompt)
    prompt = re.sub(r"\b(?:the camera|shot on|camera|shots?|lens|angle)\b", " ", prompt, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", prompt).strip()


def recurring_phrase(prompts: list[str], query: str, n: int = 4) -> tuple[str, int]:
    """The n-word phrase (not in q) that the most prompts of a set share, and how many share it ("", 0 if none)."""
    in_query = set(_ngrams(query, n))
    counts = collections.Counter(g for p in prompts for g in set(_ngrams(p, n)) if g not in in_query)
    if not counts:
        return "", 0
    phrase, count = max(counts.items(), key=lambda item: (item[1], item[0]))
    return phrase, count


def _ngrams(text: str, n: int) -> list[str]:
    words = _WORD.findall(text.lower())
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
