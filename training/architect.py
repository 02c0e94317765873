"""The architect: base prompts and candidate variants along cinematic axes, from seeded templates.

    >>> import random
    >>> bases = random.Random(0).sample(all_base_prompts(), 3)
    >>> len(bases), bases[0].text.count(" ") > 2
    (3, True)
    >>> len(propose_variants(bases[0], 12, random.Random(0)))
    12

A base prompt is subject × action × place (several thousand combinations); a variant keeps the
subject, the action and the place's meaning, and adds a camera movement, shot size, angle, lens,
lighting, time of day and weather, sometimes a nearby setting, a subject detail or a motion
manner. The critic (training/critic.py) then keeps the faithful, mutually diverse ones.
Offline and deterministic for a given seed: no model writes text here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from dppgrpo_core.vocabulary import BUILDER, CONTENT

# The builder's part of the vocabulary (dppgrpo_core/vocabulary.yaml, `builder` and `content`), in file order:
# the seeded draws below index these lists, so a data set built with a seed is built again the same.
SUBJECT_ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    kind: (tuple(group["subjects"]), tuple(group["actions"])) for kind, group in BUILDER["subject_actions"].items()}
PLACES = tuple(BUILDER["places"])
NEARBY_SETTING: dict[str, str] = dict(BUILDER["nearby_setting"])
SHOT_SIZES, ANGLES, CAMERA_MOVEMENTS, LENSES, LIGHTING, TIMES, WEATHER = (
    tuple(BUILDER[axis]) for axis in ("shot", "angle", "camera", "lens", "light", "time", "weather"))
SUBJECT_DETAILS = tuple(CONTENT["subject_detail"])
MOTION_MANNERS = tuple(CONTENT["motion_manner"]["builder"])
QUERY_SUFFIXES = tuple(BUILDER["query_suffixes"])


@dataclass(frozen=True)
class BasePrompt:
    subject: str
    action: str
    place: str

    @property
    def text(self) -> str:
        return f"{self.subject} {self.action} {self.place}"


def with_suffixes(texts: list[str], fraction: float, rng: random.Random) -> list[str]:
    """About `fraction` of the texts get ", <suffix>" from QUERY_SUFFIXES (seeded by `rng`).

    >>> with_suffixes(["a deer drinking water"], 1.0, random.Random(0))[0].startswith("a deer drinking water, ")
    True
    """
    return [f"{t}, {rng.choice(QUERY_SUFFIXES)}" if rng.random() < fraction else t for t in texts]


def all_base_prompts() -> list[BasePrompt]:
    """Every subject × action × place combination, in a fixed order (about 15,000)."""
    return [
        BasePrompt(subject, action, place)
        for subjects, actions in SUBJECT_ACTIONS.values()
        for subject in subjects
        for action in actions
        for place in PLACES
    ]


def _with_detail(subject: str, detail: str) -> str:
    """'a tabby cat' + 'graceful' → 'a graceful tabby cat' (articles re-chosen for the new first word)."""
    words = subject.split(" ", 1)
    if words[0] not in ("a", "an") or len(words) == 1:
        return subject  # "two children", "a pair of ..." stay as written
    if words[1].startswith("pair of") or words[1].startswith("flock of") or words[1].startswith("field of"):
        return subject
    article = "an" if detail[0] in "aeiou" else "a"
    return f"{article} {detail} {words[1]}"


def propose_variant(base: BasePrompt, rng: random.Random) -> str:
    """One candidate: the base's subject, action and place, staged along randomly chosen cinematic axes."""
    subject = _with_detail(base.subject, rng.choice(SUBJECT_DETAILS)) if rng.random() < 0.4 else base.subject
    place = NEARBY_SETTING.get(base.place, base.place) if rng.random() < 0.3 else base.place
    action = f"{base.action} {rng.choice(MOTION_MANNERS)}" if rng.random() < 0.3 else base.action
    shot, angle, camera = rng.choice(SHOT_SIZES), rng.choice(ANGLES), rng.choice(CAMERA_MOVEMENTS)
    lens, light, time, weather = rng.choice(LENSES), rng.choice(LIGHTING), rng.choice(TIMES), rng.choice(WEATHER)
    form = rng.randrange(4)
    if form == 0:
        text = f"{shot} of {subject} {action} {place} {time}, {camera}, {light}."
    elif form == 1:
        text = f"A {angle} {shot.split(' ', 1)[1].lower()} of {subject} {action} {place} under {weather}, shot on {lens}."
    elif form == 2:
        text = f"{time.capitalize()}, {subject} {action} {place} in {weather}; {camera}, {light}, {lens}."
    else:
        verb = "are" if subject.startswith("two ") else "is"
        text = f"Filmed with {lens}, {camera} as {subject} {verb} {action} {place}, {light} {time}."
    return text[0].upper() + text[1:]


def propose_variants(base: BasePrompt, n: int, rng: random.Random) -> list[str]:
    """`n` distinct candidates (fewer only if the templates run out after many tries)."""
    seen: dict[str, None] = {}
    for _ in range(n * 20):
        if len(seen) == n:
            break
        seen.setdefault(propose_variant(base, rng), None)
    return list(seen)
