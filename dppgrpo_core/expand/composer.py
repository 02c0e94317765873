"""Compose text-to-video prompts from q and cinematic axes: faithful by construction, seeded, offline.

    >>> import random
    >>> frame = Frame.of("a dog playing with a ball at the beach")
    >>> (frame.has_place, frame.has_time, frame.has_weather)
    (True, False, False)
    >>> p = compose(frame, palette(frame), random.Random(0), axes=("shot", "camera", "light"))
    >>> p.startswith("a dog playing with a ball at the beach") or "of a dog playing with a ball at the beach" in p
    True

Every prompt holds q word for word (its subject and action are kept by construction) plus a
cinematic frame drawn from ten axes: shot size, angle, camera movement, lens, lighting, time of
day, weather, setting, composition and motion. An axis that q already fixes is left to q (a
prompt saying "at night" gets no "at dawn"; "In a still frame" gets no camera move). The setting
axis adds a place when q has none, or a detail of q's place when it has one; both are picked
among those closest to q in the sentence embedding, so a lighthouse is not sent to a library.
`draw` takes the values the set has used so far and prefers unused ones, so the axes spread.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from dppgrpo_core import vocabulary
from dppgrpo_core.vocabulary import mentions

# The values of each axis, read from the vocabulary (dppgrpo_core/vocabulary.yaml), in draw order.
AXES = tuple(vocabulary.AXES)
SHOTS, ANGLES, CAMERAS, LENSES, LIGHTS, TIMES, WEATHERS, PLACES, COMPOSITIONS, MOTIONS = (
    vocabulary.AXES[axis] for axis in ("shot", "angle", "camera", "lens", "light", "time", "weather", "setting",
                                       "composition", "motion"))
STILL_CAMERAS, STILL_MOTIONS = vocabulary.INSTEAD["still_camera"], vocabulary.INSTEAD["still_motion"]
SETTING_DETAILS, INDOOR_DETAILS = vocabulary.INSTEAD["setting_detail"], vocabulary.INSTEAD["indoor_setting_detail"]
NO_ANGLE_SHOTS, PEOPLE_SHOTS, CLOSE_SHOTS = (vocabulary.NEEDS[n] for n in ("no_angle", "needs_people", "close"))
WIDE_ONLY, OUTDOOR_ONLY, INDOOR_ONLY = (vocabulary.NEEDS[n] for n in ("wide_only", "outdoor_only", "indoor_only"))
DAYLIGHT_WORDS, OUTDOOR_LIGHT_WORDS = vocabulary.NEEDS["daylight_words"], vocabulary.NEEDS["outdoor_light_words"]
RANKED_AXES = vocabulary.RANKED  # axes whose values say something about the scene: how many closest to q to keep

_PLACE = re.compile(rf"\b(?:{'|'.join(vocabulary.GRAMMAR['place_prepositions'])})\s+(?:the\s+|a\s+|an\s+|some\s+)?"
                    r"[a-z]", re.IGNORECASE)
_FINITE_VERB = vocabulary.words_pattern(vocabulary.GRAMMAR["finite_verbs"])
_NOUN_START = re.compile(rf"^(?:{'|'.join(vocabulary.GRAMMAR['noun_starts'])})\b", re.IGNORECASE)


@dataclass(frozen=True)
class Frame:
    """q and what it already fixes; the axes it leaves open are the composer's to vary."""

    query: str
    has_camera: bool
    is_still: bool
    has_time: bool
    has_weather: bool
    has_light: bool
    has_place: bool
    is_indoor: bool
    has_style: bool
    has_people: bool
    is_close: bool
    is_outdoor: bool

    @classmethod
    def of(cls, query: str) -> "Frame":
        q = re.sub(r"\s+", " ", query).strip().rstrip(".!;, ")
        return cls(q, mentions("camera_any", q), mentions("still", q), mentions("time", q), mentions("weather", q),
                   mentions("light", q), _PLACE.search(q) is not None, mentions("indoor", q), mentions("style", q),
                   mentions("people", q), mentions("close", q), mentions("outdoor", q))

    def open_axes(self) -> tuple[str, ...]:
        """The axes q leaves open (the setting axis always is: a place, or a detail of q's place)."""
        closed = {"time"} if self.has_time else set()
        if self.has_weather or self.is_indoor:
            closed.add("weather")
        if self.has_light:
            closed.add("light")
        if self.has_camera:
            closed |= {"shot", "angle"}
        return tuple(a for a in AXES if a not in closed)

    def subject_phrase(self) -> str | None:
        """q as the object of "… of q" when it reads as a noun phrase ("a dog running"), else None
        ("a person is reading" is a clause: "a close-up of a person is reading" would not parse)."""
        if not _NOUN_START.match(self.query) or "," in self.query or _FINITE_VERB.search(self.query):
            return None
        first, rest = self.query[0], self.query[1:]
        # "A dog" -> "a dog" inside a sentence; a proper noun or acronym keeps its capital.
        return (first.lower() + rest) if self.query.split()[0] in ("A", "An", "The") else self.query


def palette(frame: Frame, closeness=None) -> dict[str, tuple[str, ...]]:
    """The values each open axis may take for this q.

    `closeness(texts) -> list of float` scores scene values against q (the expansion passes
    cos(embedding, q)); the top `RANKED_AXES[axis]` are kept, so a dog on a beach gets waves and
    golden light rather than shelves and firelight. Without it, every value is offered.
    """
    shots = SHOTS if frame.has_people else tuple(s for s in SHOTS if s not in PEOPLE_SHOTS)
    values = {"shot": shots, "angle": ANGLES, "camera": STILL_CAMERAS if frame.is_still else CAMERAS,
              "lens": LENSES, "light": LIGHTS, "time": TIMES, "weather": WEATHERS, "composition": COMPOSITIONS,
              "motion": STILL_MOTIONS if frame.is_still else MOTIONS,
              "setting": setting_options(frame)}
    if mentions("night", frame.query):
        values["light"] = tuple(v for v in values["light"] if not any(w in v for w in DAYLIGHT_WORDS))
    if frame.is_indoor:  # no sky, sun, foliage or weather indoors
        values["light"] = tuple(v for v in values["light"] if not any(w in v for w in OUTDOOR_LIGHT_WORDS))
        values["time"] = ()
    if closeness is not None:
        for axis, keep in RANKED_AXES.items():
            options = values[axis]
            if len(options) > keep:
                scores = closeness(list(options))
                order = sorted(range(len(options)), key=lambda i: -scores[i])[:keep]
                values[axis] = tuple(options[i] for i in sorted(order))
    return {axis: values[axis] for axis in frame.open_axes()}


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip(" ,;")
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def compose(frame: Frame, values: dict, rng: random.Random, axes: tuple[str, ...], used: dict | None = None,
            picks: dict | None = None) -> str:
    """One prompt: q verbatim plus one value from `values` on each of `axes`, in one of several sentence shapes.

    Values the set has `used` are drawn only once an axis has no fresh one left. `picks`, when
    given, receives the value chosen on each axis (what `record_use` notes).
    """
    pick = picks if picks is not None else {}
    for axis in axes:
        options = values.get(axis, ())
        fresh = [v for v in options if v not in (used or {}).get(axis, set())] or list(options)
        if fresh:
            pick[axis] = rng.choice(fresh)
    if pick.get("shot") in NO_ANGLE_SHOTS:
        pick.pop("angle", None)
    if frame.is_close or pick.get("shot") in CLOSE_SHOTS:  # no drone flyover of a close-up
        for axis in ("camera", "composition"):
            if pick.get(axis) in WIDE_ONLY:
                near = [v for v in values.get(axis, ()) if v not in WIDE_ONLY]
                pick[axis] = rng.choice(near) if near else pick.pop(axis)
    outdoor = frame.is_outdoor or (not frame.has_place and pick.get("setting") and not mentions("indoor",
                                                                                               pick["setting"]))
    indoor = frame.is_indoor or (not frame.has_place and pick.get("setting") and mentions("indoor", pick["setting"]))
    if not outdoor:  # weather and the sky need an outdoor scene, named by q or by the drawn place
        pick.pop("weather", None)
    for axis in ("camera", "setting", "light"):  # no drone in a kitchen, no bookshelves in a meadow
        wrong = OUTDOOR_ONLY if indoor else INDOOR_ONLY if outdoor else ()
        if pick.get(axis) in wrong:
            fits = [v for v in values.get(axis, ()) if v not in wrong and v not in (used or {}).get(axis, set())]
            if fits:
                pick[axis] = rng.choice(fits)
            else:
                pick.pop(axis)
    shot, angle = pick.get("shot"), pick.get("angle")
    framing = " ".join(w for w in (shot, f"{angle}" if angle else None) if w)
    if shot and angle:
        framing = f"{shot.split(' ', 1)[0]} {angle} {shot.split(' ', 1)[1]}"  # "a low-angle wide shot"
        framing = re.sub(r"^a (?=[aeiouAEIOU])", "an ", re.sub(r"^an (?![aeiouAEIOU])", "a ", framing))
    elif angle:
        framing = f"{'an' if angle[0] in 'aeiouAEIOU' else 'a'} {angle} shot"
    scene = " ".join(v for v in (pick.get("setting"), pick.get("time"), pick.get("weather")) if v)
    look = ", ".join(v for v in (pick.get("light"), f"shot on {pick['lens']}" if "lens" in pick else None) if v)
    move = ", ".join(v for v in (pick.get("camera"), pick.get("composition"), pick.get("motion")) if v)
    subject = frame.subject_phrase()
    shape = rng.randrange(3) if subject else 0
    if shape == 1 and framing:  # "A low-angle wide shot of q on a pier at dusk; the camera ..., ...; light."
        parts = [f"{framing} of {subject} {scene}", move, look]
    elif shape == 2:  # "q on a pier, at dusk. Light, lens; a low-angle wide shot, the camera ..."
        parts = [f"{frame.query} {scene}", look, ", ".join(v for v in (framing, move) if v)]
    else:  # "q. A low-angle wide shot on a pier at dusk, the camera ..., light."
        parts = [frame.query, ", ".join(v for v in (framing + (" " + scene if scene else ""), move, look) if v.strip())]
    return " ".join(_sentence(p) for p in parts if p and p.strip())


def draw(frame: Frame, values: dict, rng: random.Random, used: dict, n_axes: tuple[int, int] = (5, 7),
         picks: dict | None = None) -> str:
    """A random candidate: a shot or a camera move always, then other open axes, unused values first."""
    open_axes = [a for a in AXES if values.get(a)]
    must = [a for a in ("shot", "camera") if a in open_axes] or ["camera"]
    others = [a for a in open_axes if a not in must]
    k = min(len(others), rng.randint(*n_axes) - len(must))
    chosen = set(must) | set(rng.sample(others, max(k, 0)))
    return compose(frame, values, rng, tuple(a for a in AXES if a in chosen), used, picks)


def record_use(picks: dict, used: dict) -> None:
    """Note the axis values a chosen prompt took, so later draws prefer the others."""
    for axis, value in picks.items():
        used.setdefault(axis, set()).add(value)


def reuse(picks: dict, used: dict) -> int:
    """How many of a candidate's axis values the set has used already (0 = all fresh)."""
    return sum(value in used.get(axis, ()) for axis, value in picks.items())


def setting_options(frame: Frame) -> tuple[str, ...]:
    """Places when q names none, else details of q's place (the caller ranks them by closeness to q)."""
    if frame.has_place:
        if frame.is_indoor:
            return INDOOR_DETAILS
        return tuple(d for d in SETTING_DETAILS if not (frame.is_outdoor and d in INDOOR_ONLY))
    return tuple(p for p in PLACES if not frame.is_indoor or mentions("indoor", p))
