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

# Subjects grouped with the actions that make sense for them, so every base prompt is plausible.
SUBJECT_ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "animal": (
        ("a golden retriever", "a tabby cat", "a red fox", "a brown bear", "a white horse", "a pair of otters",
         "a snow leopard", "a flock of pigeons", "a young elephant", "a barn owl", "a hedgehog", "a deer",
         "a sea turtle", "a hummingbird", "a wolf", "a squirrel"),
        ("running", "playing with a stick", "drinking water", "resting in the shade", "searching for food",
         "leaping over a log", "shaking off water", "walking slowly", "grooming itself", "looking around curiously"),
    ),
    "person": (
        ("an old fisherman", "a street dancer", "a young violinist", "a chef", "a marathon runner",
         "a grandmother", "a skateboarder", "a painter", "two children", "a cyclist", "a mountain climber",
         "a potter", "a ballet dancer", "a street vendor", "a surfer", "a blacksmith"),
        ("walking with an umbrella", "laughing with friends", "practising a routine", "carrying a wooden crate",
         "tying a knot", "reading a letter", "stretching before a run", "waving goodbye",
         "sketching in a notebook", "sipping hot tea"),
    ),
    "vehicle": (
        ("a vintage red convertible", "a steam locomotive", "a small fishing boat", "a hot air balloon",
         "a yellow taxi", "a delivery drone", "a sailboat", "a motorcycle", "a city tram", "a cargo ship"),
        ("moving slowly", "speeding past", "turning a corner", "gliding forward", "coming to a stop",
         "drifting along", "rising steadily", "crossing a bridge"),
    ),
    "thing": (
        ("a paper lantern", "a spinning top", "a bonfire", "a field of sunflowers", "a waterfall",
         "an old windmill", "a glass of iced lemonade", "a stack of pancakes", "a bouquet of tulips",
         "a wind chime", "a candle", "a kite"),
        ("swaying in the breeze", "glowing softly", "catching the light", "turning slowly", "flickering",
         "standing still"),
    ),
}

PLACES = (
    "on a quiet beach", "in a snowy forest", "on a busy city street", "in a desert canyon", "beside a mountain lake",
    "in a sunflower field", "on a rooftop", "in an old library", "at a harbour", "in a bamboo grove",
    "on a country road", "in a rainy alley", "in a greenhouse", "at a night market", "on a frozen pond",
    "in a misty valley", "near a lighthouse", "in a cobblestone square", "on a wooden pier", "in a rice terrace",
    "at a train station", "in a lavender field", "on a volcanic shore", "in a tropical garden", "in a small village",
    "on a hilltop", "in a botanical garden", "along a riverbank", "in an autumn park", "on a salt flat",
)

# Places that keep the original's meaning but move the scene (the "setting" axis).
NEARBY_SETTING = {
    "on a quiet beach": "on a wide sandy shore", "in a snowy forest": "among snow-laden pines",
    "on a busy city street": "on a crowded downtown avenue", "in a desert canyon": "between red sandstone walls",
    "beside a mountain lake": "at the edge of an alpine lake", "on a rooftop": "on a high terrace above the city",
    "in an old library": "between tall wooden bookshelves", "at a harbour": "by the harbour docks",
    "on a country road": "on a dusty rural lane", "in a rainy alley": "in a narrow wet backstreet",
    "in a misty valley": "in a fog-filled valley", "along a riverbank": "on the grassy bank of a river",
}

CAMERA_MOVEMENTS = (
    "the camera slowly dollies in", "a smooth tracking shot follows alongside", "the camera orbits around the subject",
    "a drone shot pulls back to reveal the surroundings", "a handheld camera moves with gentle shake",
    "the camera cranes up from the ground", "a slow pan sweeps across the scene", "the camera stays locked off",
    "a steadicam glides behind", "a rapid whip pan lands on the subject", "the camera tilts down from the sky",
)
SHOT_SIZES = (
    "An extreme close-up", "A close-up", "A medium shot", "A wide shot", "An extreme wide shot",
    "A full-body shot", "An over-the-shoulder shot", "A macro shot",
)
ANGLES = ("low-angle", "high-angle", "eye-level", "bird's-eye", "Dutch-angle", "worm's-eye")
LENSES = (
    "a 24mm wide-angle lens", "an 85mm portrait lens", "a 200mm telephoto lens", "an anamorphic lens with lens flares",
    "a fisheye lens", "a 50mm lens with shallow depth of field", "a tilt-shift lens",
)
LIGHTING = (
    "soft golden backlight", "harsh midday sun", "moody low-key lighting", "neon reflections",
    "warm candlelight tones", "cool blue ambient light", "dramatic rim lighting", "dappled light through leaves",
    "high-contrast film noir shadows", "pastel diffused light",
)
TIMES = ("at dawn", "at sunrise", "in the late afternoon", "at golden hour", "at dusk", "at night", "at noon", "in the blue hour")
WEATHER = ("light rain", "falling snow", "drifting fog", "a clear sky", "a gusty wind", "a passing storm", "a hazy heat shimmer")
SUBJECT_DETAILS = ("weathered", "graceful", "tiny", "elegant", "lively", "solitary", "colourful", "calm")
MOTION_MANNERS = ("in slow motion", "in real time", "in a time-lapse", "with fluid motion", "with quick bursts of movement")

# What people append to a prompt: a look, a view, a camera instruction. A faithful rewrite keeps it, so
# the warm-start data carries it on some base prompts (the trained policy used to drop "pixel art").
QUERY_SUFFIXES = (
    "pixel art", "black and white", "oil painting", "watercolor painting", "in cyberpunk style", "in anime style",
    "claymation", "Van Gogh style", "ukiyo-e woodblock print", "sepia tone", "low poly 3D render", "surrealism style",
    "vintage film look", "comic book style", "front view", "side view", "rear view", "pan left", "pan right",
    "tilt up", "tilt down", "zoom in", "zoom out", "with an intense shaking effect",
)


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
