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

SHOTS = ("an extreme close-up", "a close-up", "a medium close-up", "a medium shot", "a full shot", "a wide shot",
         "an extreme wide shot", "an establishing shot", "a macro shot", "an over-the-shoulder shot",
         "a point-of-view shot", "a two-shot")
ANGLES = ("low-angle", "high-angle", "eye-level", "bird's-eye", "top-down", "Dutch-angle", "worm's-eye",
          "shoulder-height")
CAMERAS = ("the camera slowly dollies in", "the camera dollies back to reveal the surroundings",
           "a tracking shot moves alongside", "the camera orbits slowly around the subject",
           "a crane shot rises from ground level", "a drone flies over and then circles back",
           "a handheld camera follows closely", "a steadicam glides behind", "a slow pan sweeps across the scene",
           "the camera tilts up from the ground", "a quick whip pan lands on the subject",
           "a locked-off camera holds the frame", "a slow push-in tightens the frame",
           "a rack focus pulls from the foreground to the subject", "an FPV drone dives toward the subject",
           "a dolly zoom warps the background")
STILL_CAMERAS = ("a locked-off camera holds the frame", "the camera stays perfectly still on a tripod",
                 "a fixed camera with no movement")
# Shots that are a point of view of their own: an angle does not combine with them.
NO_ANGLE_SHOTS = ("an over-the-shoulder shot", "a point-of-view shot", "a two-shot", "an establishing shot")
PEOPLE_SHOTS = ("an over-the-shoulder shot", "a two-shot")  # they need people (two or more) in the scene
LENSES = ("a 14mm ultra-wide lens", "a 24mm wide-angle lens", "a 35mm lens", "a 50mm lens with shallow depth of field",
          "an 85mm portrait lens", "a 135mm lens with creamy bokeh", "a 200mm telephoto lens compressing the background",
          "an anamorphic lens with horizontal flares", "a fisheye lens", "a 100mm macro lens",
          "a tilt-shift lens for a miniature look")
LIGHTS = ("soft golden backlight", "harsh overhead sun with crisp shadows", "moody low-key lighting",
          "neon reflections in pink and cyan", "warm practical lamps", "cool blue ambient light",
          "dramatic rim lighting", "dappled light through leaves", "high-contrast film-noir shadows",
          "soft pastel diffused light", "volumetric light shafts through haze", "flickering firelight",
          "flat overcast light", "a single hard spotlight")
TIMES = ("at dawn", "at sunrise", "in the late afternoon", "at golden hour", "at dusk", "in the blue hour",
         "at night", "at midday")
WEATHERS = ("in light rain", "as snow falls", "in drifting fog", "under a clear sky", "in a gusty wind",
            "as a storm rolls in", "through a shimmering heat haze", "in a fine drizzle")
COMPOSITIONS = ("the subject small in the lower third with vast negative space", "a centred, symmetrical frame",
                "framed by out-of-focus foreground shapes", "following the rule of thirds",
                "the subject silhouetted against a bright background", "strong leading lines drawing the eye in",
                "seen from behind", "a tight crop on textures and details", "layered foreground, midground and "
                "background in deep focus", "reflected in a glossy surface", "the horizon tilted for tension",
                "filling the frame edge to edge")
MOTIONS = ("in slow motion", "in real time", "as a time-lapse", "as a hyperlapse", "with a speed ramp",
           "in one continuous take", "with subtle, natural motion", "in crisp 60 fps motion")
# Where a q that names no place could happen; the ones closest to q in the embedding are offered.
PLACES = ("on a quiet beach", "in a snowy forest", "on a busy city street", "in a desert canyon",
          "beside a mountain lake", "in a sunflower field", "on a rooftop at the edge of the city", "in an old library",
          "at a harbour", "in a bamboo grove", "on a country road", "in a rainy alley", "in a greenhouse",
          "at a night market", "on a frozen pond", "in a misty valley", "in a cobblestone square", "on a wooden pier",
          "at a train station", "in a lavender field", "in a tropical garden", "in a small village", "on a hilltop",
          "along a riverbank", "in an autumn park", "on a salt flat", "in a cosy kitchen", "in a sunlit living room",
          "in a bustling café", "in an empty warehouse", "in a neon-lit arcade", "on a stage under spotlights",
          "in a school classroom", "in an underwater reef", "in a grassy meadow", "on a suburban street corner",
          "in a laboratory", "on a racetrack", "in a farmyard", "in a subway car", "in a museum hall",
          "on a mountain trail", "in a jungle clearing", "in outer space above the Earth", "on a pool deck",
          "in a studio against a seamless backdrop")
# Details that keep q's place but move the scene around it (the setting axis when q names a place).
SETTING_DETAILS = ("with waves breaking in the background", "with snow-capped peaks far behind",
                   "with a crowd blurred in the background", "with steam rising in the foreground",
                   "with puddles reflecting the lights", "with tall grass swaying in the foreground",
                   "with dust drifting through the air", "with city lights twinkling far behind",
                   "with clouds racing overhead", "with leaves drifting past the lens",
                   "with shelves and clutter filling the background", "with warm windows glowing behind",
                   "with palm trees lining the edge of the frame", "with rocks and driftwood in the foreground",
                   "with traffic streaking past behind", "with flowers in soft focus in the foreground",
                   "with string lights hanging overhead", "with an open horizon behind",
                   "with water glistening nearby", "with long shadows stretching across the ground",
                   "with rain-streaked glass in the foreground", "with hills rolling into the distance",
                   "with bubbles rising through the water", "with curious onlookers at the edges")

# Values that need open sky: not in an indoor scene (q's own, or an indoor place drawn).
OUTDOOR_ONLY = ("a crane shot rises from ground level", "a drone flies over and then circles back",
                "an FPV drone dives toward the subject", "with clouds racing overhead", "with an open horizon behind",
                "with hills rolling into the distance", "with snow-capped peaks far behind",
                "with palm trees lining the edge of the frame", "with traffic streaking past behind")
INDOOR_ONLY = ("with shelves and clutter filling the background", "with rain-streaked glass in the foreground",
               "warm practical lamps")
# Details of a place that also fit indoors (the others need open air: waves, peaks, traffic, driftwood).
INDOOR_DETAILS = ("with steam rising in the foreground", "with a crowd blurred in the background",
                  "with dust drifting through the air", "with shelves and clutter filling the background",
                  "with warm windows glowing behind", "with string lights hanging overhead",
                  "with rain-streaked glass in the foreground", "with long shadows stretching across the ground",
                  "with curious onlookers at the edges", "with flowers in soft focus in the foreground")
DAYLIGHT_WORDS = ("sun", "golden", "dappled", "overcast", "pastel")  # lights that contradict q's night
# Values that need distance: not with a close shot (q's own "close up", or a close shot drawn).
CLOSE_SHOTS = ("an extreme close-up", "a close-up", "a medium close-up", "a macro shot")
WIDE_ONLY = ("the camera dollies back to reveal the surroundings", "a crane shot rises from ground level",
             "a drone flies over and then circles back", "an FPV drone dives toward the subject",
             "the subject small in the lower third with vast negative space", "a slow pan sweeps across the scene")

AXES = ("shot", "angle", "camera", "lens", "light", "time", "weather", "setting", "composition", "motion")

_WORDS = {
    "camera": r"shot|close[- ]?up|camera|pan(?:s|ning)?|tilt|zoom|dolly|track(?:ing)?|aerial|drone|footage|lens|"
              r"angle|pov|view",
    "still": r"still|static|frozen|motionless",
    "time": r"dawn|sunrise|sunset|dusk|night|midnight|noon|midday|morning|evening|afternoon|twilight|golden hour|"
            r"daytime|daylight",
    "weather": r"rain(?:y|ing)?|snow(?:y|ing)?|storm(?:y)?|fog(?:gy)?|mist(?:y)?|sunny|cloud(?:y|s)|wind(?:y)?|"
               r"thunder|lightning|blizzard|drizzle|hail",
    "light": r"light(?:s|ing)?|lit|neon|candle|shadow(?:s)?|glow(?:ing)?|dark",
    "indoor": r"room|kitchen|office|library|classroom|studio|indoors?|inside|bedroom|bathroom|hall|museum|"
              r"restaurant|caf[eé]|bar|shop|store|gym|lab(?:oratory)?|theat(?:er|re)|church|house|home",
    "style": r"style|painting|cartoon|anime|sketch|watercolou?r|oil|pixel|3d render|black and white",
    "close": r"close[- ]?up|macro|detail|closeup",
    "outdoor": r"beach|street|park|sky|field|forest|mountain|ocean|sea|river|lake|city|road|garden|snow|desert|"
               r"cliff|shore|hill|valley|meadow|outdoors?|outside|harbou?r|island|jungle|farm|countryside|trail|"
               r"bridge|waterfall|coast|rooftop|village|town|square|alley|highway|canyon|volcano|glacier|pond",
    "people": r"people|men|women|children|kids|couple|friends|family|crowd|dancers|players|workers|two|group|team|"
              r"[a-z]+ers",
}
_PLACE = re.compile(r"\b(?:in|on|at|near|beside|under|inside|along|through|across|by|over|above|into|underwater|"
                    r"around|behind|outside)\s+(?:the\s+|a\s+|an\s+|some\s+)?[a-z]", re.IGNORECASE)
_FINITE_VERB = re.compile(r"\b(?:is|are|was|were|has|have|had|does|do|did|can|will|gets|got|being)\b", re.IGNORECASE)
_NOUN_START = re.compile(r"^(?:a|an|the|two|three|four|several|some|many|few|one|this|his|her|their|people|"
                         r"[a-z]+s)\b", re.IGNORECASE)


def _mentions(kind: str, text: str) -> bool:
    return re.search(rf"\b(?:{_WORDS[kind]})\b", text, re.IGNORECASE) is not None


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
        return cls(q, _mentions("camera", q), _mentions("still", q), _mentions("time", q), _mentions("weather", q),
                   _mentions("light", q), _PLACE.search(q) is not None, _mentions("indoor", q), _mentions("style", q),
                   _mentions("people", q), _mentions("close", q), _mentions("outdoor", q))

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


# Axes whose values say something about the scene: only those plausible for q are offered.
RANKED_AXES = {"setting": 10, "light": 8, "weather": 4}  # how many of the closest to q to keep


def palette(frame: Frame, closeness=None) -> dict[str, tuple[str, ...]]:
    """The values each open axis may take for this q.

    `closeness(texts) -> list of float` scores scene values against q (the expansion passes
    cos(embedding, q)); the top `RANKED_AXES[axis]` are kept, so a dog on a beach gets waves and
    golden light rather than shelves and firelight. Without it, every value is offered.
    """
    shots = SHOTS if frame.has_people else tuple(s for s in SHOTS if s not in PEOPLE_SHOTS)
    values = {"shot": shots, "angle": ANGLES, "camera": STILL_CAMERAS if frame.is_still else CAMERAS,
              "lens": LENSES, "light": LIGHTS, "time": TIMES, "weather": WEATHERS, "composition": COMPOSITIONS,
              "motion": ("in real time", "in one continuous take") if frame.is_still else MOTIONS,
              "setting": setting_options(frame)}
    if re.search(r"\b(?:night|midnight|dusk|evening|twilight|dark)\b", frame.query, re.IGNORECASE):
        values["light"] = tuple(v for v in values["light"] if not any(w in v for w in DAYLIGHT_WORDS))
    if frame.is_indoor:  # no sky, sun, foliage or weather indoors
        values["light"] = tuple(v for v in values["light"] if not any(w in v for w in ("sun", "overcast", "leaves")))
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
    outdoor = frame.is_outdoor or (not frame.has_place and pick.get("setting") and not _mentions("indoor",
                                                                                               pick["setting"]))
    indoor = frame.is_indoor or (not frame.has_place and pick.get("setting") and _mentions("indoor", pick["setting"]))
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
    return tuple(p for p in PLACES if not frame.is_indoor or _mentions("indoor", p))
