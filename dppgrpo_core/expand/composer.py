"""Compose text-to-video prompts from q and cinematic axes: faithful by construction, seeded, offline.

    >>> import random
    >>> frame = ParsedQuery.of("a dog playing with a ball at the beach")
    >>> (frame.has_place, frame.place, frame.has_time, frame.has_weather)
    (True, 'outdoor', False, False)
    >>> p = compose(frame, palette(frame), random.Random(0), axes=("shot", "camera", "light"))
    >>> p.startswith("a dog playing with a ball at the beach") or "of a dog playing with a ball at the beach" in p
    True
    >>> ParsedQuery.of("a man raking the beach").place, ParsedQuery.of("a skateboarder in an empty parking garage").place
    ('outdoor', 'indoor')

Every prompt holds q word for word (its subject and action are kept by construction) plus a
cinematic frame drawn from ten axes: shot size, angle, camera movement, lens, lighting, time of
day, weather, setting, composition and motion. An axis that q already fixes is left to q (a
prompt saying "at night" gets no "at dawn"; "…, pan right" gets no camera move; "In a still frame"
gets only a still camera). The setting axis adds a place when q has none, or a detail of q's place
when it has one, stated or not ("… raking the beach": the beach is the place, so no café is added);
both are picked among those closest to q in the sentence embedding, so a lighthouse is not sent
to a library. A place is outdoor, indoor, skyless (underwater, space) or of unknown kind, and only
open air gets weather, sky, drones and hills. Each value is drawn among those that break no rule of
`coherence.yaml` with q and the values drawn before it (`vocabulary.fits`): no macro lens on a
crane, no low-key light at midday, no crowd in an empty place. `draw` takes the values the set has
used so far and prefers unused ones, so the axes spread.
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
DAYLIGHT_WORDS = vocabulary.NEEDS["daylight_words"]
_ATTEMPTS = 20  # draws of one candidate before the last is kept (a check in draw; the values are drawn to fit)
RANKED_AXES = vocabulary.RANKED  # axes whose values say something about the scene: how many closest to q to keep
# The place is drawn first: whether there is sky decides the weather, the light and whether a drone can fly.
DRAW_ORDER = ("setting", *(a for a in AXES if a != "setting"))
# What a place of each kind cannot hold: a roof's lamps in open air, open air's sky under a roof, neither
# underwater or in space, and neither where q's place is of a kind the detectors do not know.
NOT_IN = {"outdoor": frozenset(INDOOR_ONLY), "indoor": frozenset(OUTDOOR_ONLY),
          "skyless": frozenset(INDOOR_ONLY + OUTDOOR_ONLY), "unknown": frozenset(INDOOR_ONLY + OUTDOOR_ONLY)}

_ARTICLE = r"(?:(?:the|a|an|some)\s+)?"
_PLACE = re.compile(rf"\b(?:{'|'.join(vocabulary.GRAMMAR['place_prepositions'])})\s+"
                    rf"(?!{_ARTICLE}(?:{'|'.join(vocabulary.GRAMMAR['not_places'])})\b){_ARTICLE}[a-z]", re.IGNORECASE)
_FINITE_VERB = vocabulary.words_pattern(vocabulary.GRAMMAR["finite_verbs"])
_NOUN_START = re.compile(rf"^(?:{'|'.join(vocabulary.GRAMMAR['noun_starts'])})\b", re.IGNORECASE)


def place_kind(text: str, default: str = "unknown") -> str:
    """'skyless', 'indoor' or 'outdoor' by the vocabulary's detectors, in that order of precedence, else `default`."""
    return next((kind for kind in ("skyless", "indoor", "outdoor") if mentions(kind, text)), default)


@dataclass(frozen=True)
class ParsedQuery:
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
    has_move: bool = False  # q names a camera move of its own ("pan right", "zoom in", "a shaking effect")
    has_lens: bool = False
    has_motion: bool = False  # q sets the pace ("in slow motion", "time-lapse")
    place: str = ""  # q's place: "outdoor", "indoor", "skyless", "unknown" (a place of no known kind), "" (none)

    @classmethod
    def of(cls, query: str) -> "ParsedQuery":
        q = re.sub(r"\s+", " ", query).strip().rstrip(".!;, ")
        # A place is stated ("on a pier") or named ("a man raking the beach", "supermarket").
        has_place = _PLACE.search(q) is not None or any(mentions(k, q) for k in ("skyless", "indoor", "outdoor"))
        return cls(q, mentions("camera_any", q), mentions("still", q), mentions("time", q), mentions("weather", q),
                   mentions("light", q), has_place, mentions("indoor", q), mentions("style", q),
                   mentions("people", q), mentions("close", q), mentions("outdoor", q), mentions("camera_move", q),
                   mentions("lens", q), mentions("motion", q), place_kind(q) if has_place else "")

    def open_axes(self) -> tuple[str, ...]:
        """The axes q leaves open (the setting axis always is: a place, or a detail of q's place)."""
        closed = {"time"} if self.has_time or self.place == "skyless" else set()
        if self.has_weather or self.place in ("indoor", "skyless", "unknown"):
            closed.add("weather")
        if self.has_light:
            closed.add("light")
        if self.has_camera:
            closed |= {"shot", "angle"}
        for fixed, axis in ((self.has_move, "camera"), (self.has_lens, "lens"), (self.has_motion, "motion")):
            if fixed:
                closed.add(axis)
        return tuple(a for a in AXES if a not in closed)

    def subject_phrase(self) -> str | None:
        """q as the object of "… of q" when it reads as a noun phrase ("a dog running"), else None
        ("a person is reading" is a clause: "a close-up of a person is reading" would not parse)."""
        if not _NOUN_START.match(self.query) or "," in self.query or _FINITE_VERB.search(self.query):
            return None
        first, rest = self.query[0], self.query[1:]
        # "A dog" -> "a dog" inside a sentence; a proper noun or acronym keeps its capital.
        return (first.lower() + rest) if self.query.split()[0] in ("A", "An", "The") else self.query


def palette(frame: ParsedQuery, closeness=None) -> dict[str, tuple[str, ...]]:
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
    if frame.place:  # what q's place cannot hold (no sun or foliage indoors), before ranking keeps the best
        values = {axis: tuple(v for v in options if v not in NOT_IN[frame.place]) for axis, options in values.items()}
    if frame.place == "indoor":
        values["time"] = ()
    if closeness is not None:
        for axis, keep in RANKED_AXES.items():
            options = values[axis]
            if len(options) > keep:
                scores = closeness(list(options))
                order = sorted(range(len(options)), key=lambda i: -scores[i])[:keep]
                values[axis] = tuple(options[i] for i in sorted(order))
    return {axis: values[axis] for axis in frame.open_axes()}


def _fits(value: str, axis: str, frame: ParsedQuery, pick: dict, kind: str | None, said, query_said) -> bool:
    """Whether `value` can join q and the values picked so far (`said`: the coherence sides they say)."""
    if kind and value in NOT_IN[kind]:
        return False
    if axis == "angle" and pick.get("shot") in NO_ANGLE_SHOTS:
        return False
    # Nothing that needs distance (a drone flyover, a miniature look) goes with a close shot, lens or crop.
    if value in WIDE_ONLY and (frame.is_close or any(v in CLOSE_SHOTS for v in pick.values())):
        return False
    if value in CLOSE_SHOTS and any(v in WIDE_ONLY for v in pick.values()):
        return False
    return vocabulary.fits(value, said, query_said)


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip(" ,;")
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def compose(frame: ParsedQuery, values: dict, rng: random.Random, axes: tuple[str, ...], used: dict | None = None,
            picks: dict | None = None) -> str:
    """One prompt: q verbatim plus one value from `values` on each of `axes`, in one of several sentence shapes.

    Values the set has `used` are drawn only once an axis has no fresh one left. `picks`, when
    given, receives the value chosen on each axis (what `record_use` notes).
    """
    pick = picks if picks is not None else {}
    query_said = vocabulary.said(frame.query)
    said, kind = query_said, frame.place or None  # no place yet: the drawn one (if any) decides
    for axis in sorted(axes, key=DRAW_ORDER.index):
        if axis == "weather" and kind != "outdoor" or axis == "time" and kind == "skyless":
            continue  # weather needs open air, named by q or by the drawn place; space and the sea floor have no hour
        options = [v for v in values.get(axis, ()) if _fits(v, axis, frame, pick, kind, said, query_said)]
        fresh = [v for v in options if v not in (used or {}).get(axis, set())] or options
        if fresh:
            pick[axis] = rng.choice(fresh)
            said = said | vocabulary.said(pick[axis])
            if axis == "setting" and not frame.place:
                kind = place_kind(pick[axis])
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


def draw(frame: ParsedQuery, values: dict, rng: random.Random, used: dict, n_axes: tuple[int, int] = (5, 7),
         picks: dict | None = None) -> str:
    """A random candidate: a shot or a camera move (unless q names its own), then other open axes, unused values
    first; every value coherent with q and with the others (`vocabulary.contradictions` finds nothing)."""
    open_axes = [a for a in AXES if values.get(a)]
    must = [a for a in ("shot", "camera") if a in open_axes]
    others = [a for a in open_axes if a not in must]
    pick: dict = {}
    for _ in range(_ATTEMPTS):
        k = min(len(others), rng.randint(*n_axes) - len(must))
        chosen = set(must) | set(rng.sample(others, max(k, 0)))
        pick.clear()
        text = compose(frame, values, rng, tuple(a for a in AXES if a in chosen), used, pick)
        # Each value was drawn to fit; this reads the joined sentence too, where two values meet.
        if not vocabulary.contradictions(text, frame.query):
            break
    if picks is not None:
        picks.update(pick)
    return text


def record_use(picks: dict, used: dict) -> None:
    """Note the axis values a chosen prompt took, so later draws prefer the others."""
    for axis, value in picks.items():
        used.setdefault(axis, set()).add(value)


def reuse(picks: dict, used: dict) -> int:
    """How many of a candidate's axis values the set has used already (0 = all fresh)."""
    return sum(value in used.get(axis, ()) for axis, value in picks.items())


def setting_options(frame: ParsedQuery) -> tuple[str, ...]:
    """Places when q names none, else details of q's place that fit its kind (the caller ranks them by closeness
    to q): q's place is never moved, a beach gets no café."""
    if not frame.place:
        return PLACES
    details = INDOOR_DETAILS if frame.place == "indoor" else SETTING_DETAILS
    return tuple(d for d in details if d not in NOT_IN[frame.place])
