"""The prompt vocabulary (`vocabulary.yaml`): axis values, the detectors that recognise them, the coherence rules
(`coherence.yaml`).

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
    >>> contradictions("A skateboarder in an empty parking garage, with traffic streaking past behind.",
    ...                "a skateboarder in an empty parking garage")
    ['busy yet empty']

One vocabulary (two files), read by the generator (`dppgrpo_core.expand.composer`), the data builder
(`training.architect`) and the checks (`eval.judge`, `contradictions` here), so a value one of them
writes is a value the others recognise (tests/test_vocabulary.py holds them to it). Its sections:
`axes` (what the composer writes along each axis, in draw order), `instead` (what an axis takes
when q fixes it), `needs` (values that carry a constraint), `ranked`, `content` (what is filmed:
subject detail, look, motion manner), `writing` (the rules of a rich prompt), `detect` (whole-word detectors), `grammar` and `builder` (base prompts
and the builder's phrasings); `coherence.yaml` holds the rules (sides that cannot stand in one prompt),
which the composer draws by (`fits`) and the judge checks by (`contradictions`).
"""

from __future__ import annotations

import collections
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
WRITING: dict = _DATA["writing"]  # the rules of a rich prompt: `words` (inclusive range), `covers`, `keeps`, `avoid`, `vary`
GRAMMAR: dict[str, tuple[str, ...]] = {name: tuple(words) for name, words in _DATA["grammar"].items()}
COHERENCE: dict[str, dict[str, tuple[str, ...]]] = {
    rule: {side: tuple(words) for side, words in sides.items()}
    for rule, sides in yaml.safe_load(FILE.with_name("coherence.yaml").read_text(encoding="utf-8")).items()}


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


@functools.lru_cache(maxsize=16384)  # the composer asks about the same few hundred values again and again
def said(text: str) -> frozenset[tuple[str, str]]:
    """The (rule, side) pairs of the coherence rules that `text` says.

    >>> sorted(said("a 100mm macro lens"))
    [('close-up from afar', 'close'), ('close-up from the air', 'close'), ('two lenses', 'long')]
    """
    return frozenset((rule, side) for rule in COHERENCE for side, pattern in _sides(rule).items()
                     if pattern.search(text))


def broken(prompt_said: frozenset, query_said: frozenset = frozenset()) -> list[str]:
    """The rules broken by what a prompt says (`said`) read with what q says: two sides of one rule between them,
    unless q alone says both, which is q's own business."""
    both = prompt_said | query_said
    if len(both) < 2:
        return []
    per_rule = collections.Counter(rule for rule, _ in both)
    if max(per_rule.values()) < 2:  # the common case, and the composer asks it for every value it draws
        return []
    per_rule_q = collections.Counter(rule for rule, _ in query_said)
    return [rule for rule in COHERENCE if per_rule[rule] > 1 and per_rule_q[rule] < 2]


@functools.lru_cache(maxsize=65536)  # a composed set asks the same few thousand questions
def fits(value: str, so_far: frozenset, query_said: frozenset = frozenset()) -> bool:
    """Whether `value` can join a prompt that already says `so_far` (q's sides included) without breaking a rule.

    >>> q = said("a bee on a flower, a crane shot rises")
    >>> fits("a 100mm macro lens", q, q), fits("a 35mm lens", q, q)
    (False, True)
    """
    return not broken(so_far | said(value), query_said)


def contradictions(prompt: str, query: str = "") -> list[str]:
    """The coherence rules (`coherence.yaml`) that the prompt, read together with q, breaks.

    A rule is broken when the prompt and q between them say two of its sides (a still camera and a
    moving one; indoors and open sky; a close-up from a drone; two times of day; a crowd in an empty
    place; ...), unless q alone already says both, which is q's own business. Lexical, like the judge's
    other checks.
    """
    return broken(said(prompt), said(query))
