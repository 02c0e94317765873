"""The prompt vocabulary (`vocabulary.yaml`): axis values, the detectors that recognise them, the coherence rules.

    >>> "at dawn" in AXES["time"]
    True
    >>> mentions("people", "a vase of flowers on a table"), mentions("people", "two dancers on a stage")
    (False, True)
    >>> mentions("indoor", "a bar of soap"), mentions("indoor", "friends laughing in a bar")
    (False, True)
    >>> contradictions("A fixed camera with no movement, a slow pan sweeps across the scene.", "a calm lake")
    ['camera both still and moving']
    >>> contradictions("A cat on a sofa in the living room at dusk, a drone shot circles above.", "a cat on a sofa")
    ['sky indoors']
    >>> contradictions("A close-up of a dog running on a beach at dusk.", "a dog running on a beach")
    []

One file, read by the generator (`dppgrpo_core.expand.composer`), the data builder
(`training.architect`) and the checks (`eval.judge`, `contradictions` here), so a value one of them
writes is a value the others recognise (tests/test_vocabulary.py holds them to it). Its sections:
`axes` (what the composer writes along each axis, in draw order), `instead` (what an axis takes
when q fixes it), `needs` (values that carry a constraint), `ranked`, `content` (what is filmed:
subject detail, motion manner), `detect` (whole-word detectors), `grammar`, `coherence` (sides that
cannot stand in one prompt) and `builder` (base prompts and the builder's phrasings).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml

FILE = Path(__file__).with_name("vocabulary.yaml")
_DATA = yaml.safe_load(FILE.read_text(encoding="utf-8"))

AXES: dict[str, tuple[str, ...]] = {axis: tuple(values) for axis, values in _DATA["axes"].items()}
INSTEAD: dict[str, tuple[str, ...]] = {name: tuple(values) for name, values in _DATA["instead"].items()}
NEEDS: dict[str, tuple[str, ...]] = {name: tuple(values) for name, values in _DATA["needs"].items()}
RANKED: dict[str, int] = dict(_DATA["ranked"])
CONTENT: dict = _DATA["content"]
BUILDER: dict = _DATA["builder"]
GRAMMAR: dict[str, tuple[str, ...]] = {name: tuple(words) for name, words in _DATA["grammar"].items()}
COHERENCE: dict[str, dict[str, tuple[str, ...]]] = {
    rule: {side: tuple(words) for side, words in sides.items()} for rule, sides in _DATA["coherence"].items()}


def words_pattern(alternatives) -> re.Pattern:
    """One case-insensitive pattern that finds any of the alternatives as a whole word.

    >>> bool(words_pattern(["dawn", "golden hour"]).search("At golden hour."))
    True
    """
    return re.compile(rf"\b(?:{'|'.join(alternatives)})\b", re.IGNORECASE)


DETECT: dict[str, tuple[str, ...]] = {name: tuple(words) for name, words in _DATA["detect"].items()}
DETECTORS: dict[str, re.Pattern] = {name: words_pattern(words) for name, words in DETECT.items()}


def mentions(kind: str, text: str) -> bool:
    """Whether `text` says something the detector `kind` (a key of `detect` in the file) recognises."""
    return DETECTORS[kind].search(text) is not None


@functools.cache
def _sides(rule: str) -> dict[str, re.Pattern]:
    return {side: words_pattern(words) for side, words in COHERENCE[rule].items()}


def contradictions(prompt: str, query: str = "") -> list[str]:
    """The coherence rules (`coherence` in the file) that the prompt, read together with q, breaks.

    A rule is broken when the prompt and q between them say two of its sides (a still camera and a
    moving one; indoors and open sky; a close-up from a drone; two times of day), unless q alone
    already says both, which is q's own business. Lexical, like the judge's other checks.
    """
    broken = []
    for rule in COHERENCE:
        by_query = {side for side, pattern in _sides(rule).items() if pattern.search(query)}
        said = by_query | {side for side, pattern in _sides(rule).items() if pattern.search(prompt)}
        if len(said) > 1 and len(by_query) < 2:
            broken.append(rule)
    return broken
