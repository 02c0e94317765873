"""The vocabulary as data: the generator, the builder and the detector read one file and agree with each other."""

import random

import pytest

from dppgrpo_core import vocabulary
from dppgrpo_core.expand import composer
from dppgrpo_core.vocabulary import AXES, BUILDER, INSTEAD, NEEDS, contradictions, mentions
from eval.judge import checks, names_shot_camera_or_lens
from training import architect

# Every value a generator can write on the camera side: the composer's and the builder's.
CAMERA_WORK = [*AXES["shot"], *AXES["angle"], *AXES["camera"], *AXES["lens"], *INSTEAD["still_camera"],
               *BUILDER["shot"], *BUILDER["angle"], *BUILDER["camera"], *BUILDER["lens"]]


@pytest.mark.parametrize("value", CAMERA_WORK)
def test_the_judge_recognises_every_shot_angle_camera_move_and_lens_a_generator_writes(value):
    assert names_shot_camera_or_lens(value)


@pytest.mark.parametrize("axis", ["time", "weather", "light"])
def test_the_composer_recognises_every_scene_value_a_generator_writes(axis):
    # ParsedQuery.of reads these detectors to leave an axis to q: a prompt that already says "in the blue hour"
    # or "a hazy heat shimmer" must not get a second time of day or weather.
    missed = [v for v in AXES[axis] + tuple(BUILDER[axis]) if not mentions(axis, v)]
    assert missed == []


def test_the_builder_suffixes_are_recognised_as_a_look_or_camera_work():
    missed = [s for s in BUILDER["query_suffixes"]
              if not (mentions("style", s) or mentions("camera_any", s) or names_shot_camera_or_lens(s))]
    assert missed == []


def test_every_constrained_value_is_a_value_the_composer_can_write():
    writable = {v for values in (*AXES.values(), *INSTEAD.values()) for v in values}
    for name, values in NEEDS.items():
        if not name.endswith("_words"):  # the *_words lists are words inside values, not values
            assert set(values) <= writable, name


def test_the_readers_hold_the_file_values_in_file_order():
    # Seeded draws index these lists: the order in the file is the order drawn from.
    assert composer.AXES == ("shot", "angle", "camera", "lens", "light", "time", "weather", "setting", "composition",
                             "motion")
    assert composer.SHOTS == AXES["shot"] and composer.PLACES == AXES["setting"]
    assert architect.SHOT_SIZES == tuple(BUILDER["shot"]) and architect.QUERY_SUFFIXES == tuple(BUILDER["query_suffixes"])
    assert architect.all_base_prompts()[0].text == "a golden retriever running on a quiet beach"


@pytest.mark.parametrize("text, kind, expected", [
    ("a vase of flowers on a table", "people", False),  # "[a-z]+ers" used to count flowers as people
    ("Yellow flowers swing in the wind", "people", False),
    ("two dancers under a spotlight", "people", True),
    ("a couple walking their dog", "people", True),
    ("a bar of soap in a dish", "indoor", False),  # "bar" used to send soap indoors
    ("friends laughing in a crowded bar", "indoor", True),
    ("a couple going home in a heavy downpour", "indoor", False),
    ("a cat asleep at home", "indoor", True),
    ("a lighthouse in the blue hour", "time", True),
    ("a bird in flight", "light", False),
    # Issue 24: roofed places counted as open air, a place named without a preposition, space and the sea floor.
    ("a skateboarder grinding a handrail in an empty parking garage", "indoor", True),
    ("in an empty warehouse", "indoor", True), ("in a neon-lit arcade", "indoor", True),
    ("in a subway car", "indoor", True), ("supermarket", "indoor", True), ("aquarium", "indoor", True),
    ("a meteor shower over the desert", "indoor", False), ("a car in a parking lot", "indoor", False),
    ("a man raking the beach", "outdoor", True), ("downtown", "outdoor", True), ("The bund Shanghai", "outdoor", True),
    ("An astronaut flying in space", "skyless", True), ("underwater coral reef", "skyless", True),
    ("The bund Shanghai, in super slow motion", "motion", True), ("fireworks at night, time-lapse", "motion", True),
])
def test_detectors_and_their_former_misfires(text, kind, expected):
    assert mentions(kind, text) is expected


def test_every_place_the_composer_writes_is_of_a_known_kind():
    # The kind decides what the place may hold (weather and drones need open air), so none is left to a default.
    kinds = {place: composer.place_kind(place, default=None) for place in AXES["setting"]}
    assert None not in kinds.values(), [p for p, k in kinds.items() if k is None]
    assert {p for p, k in kinds.items() if k == "indoor"} == {
        "in an old library", "in a greenhouse", "in a cosy kitchen", "in a sunlit living room", "in a bustling café",
        "in an empty warehouse", "in a neon-lit arcade", "on a stage under spotlights", "in a school classroom",
        "in a laboratory", "in a subway car", "in a museum hall", "in a studio against a seamless backdrop"}
    assert {p for p, k in kinds.items() if k == "skyless"} == {"in an underwater reef",
                                                               "in outer space above the Earth"}


@pytest.mark.parametrize("query, place", [
    ("a man raking the beach", True), ("supermarket", True), ("a skateboarder in an empty parking garage", True),
    ("a traffic light on the left of a fire hydrant, front view", False),  # a relation between things, not a place
    ("an oven on the bottom of a toaster, front view", False), ("The bund Shanghai, in super slow motion", True),
    ("a keyboard", False), ("a dog, in cyberpunk style", False), ("a cat in the style of Ukiyo", False)])
def test_q_names_a_place_with_or_without_a_preposition(query, place):
    assert composer.ParsedQuery.of(query).has_place is place


def test_a_vase_of_flowers_gets_no_shot_that_needs_people():
    frame = composer.ParsedQuery.of("a vase of flowers on a table")
    assert not frame.has_people
    assert not set(composer.palette(frame)["shot"]) & set(composer.PEOPLE_SHOTS)


CONTRADICTING = [
    ("A fixed camera with no movement, a slow pan sweeps across the scene.", "a lake at dawn",
     ["camera both still and moving"]),
    ("A macro shot of a bee on a flower; a crane shot rises from ground level.", "a bee on a flower",
     ["close-up from the air"]),
    ("A drone flies over a cat asleep in the kitchen, under a clear sky.", "a cat asleep in the kitchen",
     ["sky indoors"]),
    ("A fox crossing a road at dawn, at night, a wide shot.", "a fox crossing a road", ["two times of day"]),
    # q's own words count: q is still, the prompt adds a move; q is indoors, the prompt adds rain.
    ("A cup of coffee steams on a table. A handheld camera follows closely.",
     "In a still frame, a cup of coffee steams on a table", ["camera both still and moving"]),
    ("Two people dancing, in light rain, a wide shot.", "two people dancing in a kitchen", ["sky indoors"]),
    # Issue 24's composed prompts: a parking garage is under a roof, an empty one has no traffic.
    ("A skateboarder grinding a handrail in an empty parking garage with rocks and driftwood in the foreground.",
     "a skateboarder grinding a handrail in an empty parking garage", ["sky indoors"]),
    ("A skateboarder grinding a handrail in an empty parking garage, dappled light through leaves.",
     "a skateboarder grinding a handrail in an empty parking garage", ["sky indoors"]),
    ("A skateboarder grinding a handrail in an empty parking garage with traffic streaking past behind.",
     "a skateboarder grinding a handrail in an empty parking garage", ["busy yet empty"]),
    ("A street musician at midday, moody low-key lighting.", "a street musician", ["daylight in the dark"]),
    ("A point-of-view shot of a cyclist, an FPV drone dives toward the subject, as a time-lapse.", "a cyclist",
     ["point of view seen from outside", "a time-lapse with a quick move"]),
    ("The bund Shanghai, pan right. A locked-off camera holds the frame.", "The bund Shanghai, pan right",
     ["camera both still and moving"]),
    ("A bee on a flower, an extreme wide shot, shot on a 100mm macro lens.", "a bee on a flower",
     ["close-up from afar"]),
    ("A man raking the beach at golden hour, harsh overhead sun with crisp shadows.", "a man raking the beach",
     ["a low sun overhead"]),
    ("A man raking the beach at dawn, harsh overhead sun.", "a man raking the beach", ["two times of day"]),
    ("A dog on a beach in light rain, harsh overhead sun with crisp shadows.", "a dog on a beach",
     ["sun in bad weather"]),
    ("A waterfall in slow motion, as a time-lapse.", "a waterfall", ["two speeds of time"]),
    ("A traffic light on the left of a fire hydrant, front view, a steadicam glides behind.",
     "a traffic light on the left of a fire hydrant, front view", ["two views"]),
    ("A panda drinking coffee in a cafe in Paris, black and white, neon reflections in pink and cyan.",
     "A panda drinking coffee in a cafe in Paris, black and white", ["colour in black and white"]),
    ("A drone turns a corner, a 200mm telephoto lens compressing the background, a 300mm wide angle lens.",
     "a delivery drone turning a corner", ["two lenses"]),
]
CLEAN = [
    ("A wide shot of a lake at dawn, a slow pan sweeps across the scene.", "a lake at dawn"),
    ("A close-up of a cat asleep in the kitchen, warm practical lamps, with rain-streaked glass in the foreground.",
     "a cat asleep in the kitchen"),
    ("A storm trooper vacuuming the beach, a tracking shot moves alongside.", "A storm trooper vacuuming the beach."),
    ("At a night market at dusk, a handheld camera follows closely.", "a street vendor"),
    ("A Dutch-angle shot, the horizon tilted for tension, in an old library.", "a cat in an old library"),
    ("A skateboarder grinding a handrail in an empty parking garage, warm practical lamps, a handheld camera follows "
     "closely.", "a skateboarder grinding a handrail in an empty parking garage"),
    ("A point-of-view shot from an FPV drone skimming a lake at golden hour.", "a lake"),  # FPV is a point of view
    ("An empty-handed man on a busy street, a slow push-in.", "an empty-handed man"),
    ("A fisheye lens on a skateboarder, then a close-up of his 200 shoes.", "a skateboarder"),  # one lens, a number
    ("A golden retriever on a beach at golden hour, soft golden backlight.", "a golden retriever on a beach"),
    ("A traffic light on the left of a fire hydrant, front view. On a busy city street, a slow push-in tightens the "
     "frame.", "a traffic light on the left of a fire hydrant, front view"),
]


@pytest.mark.parametrize("prompt, query, rules", CONTRADICTING)
def test_contradictions_are_found(prompt, query, rules):
    assert contradictions(prompt, query) == rules
    assert checks(prompt, query)["coherent"] is False


@pytest.mark.parametrize("prompt, query", CLEAN)
def test_clean_prompts_contradict_nothing(prompt, query):
    assert contradictions(prompt, query) == []


def test_a_query_that_says_two_sides_itself_is_not_held_against_the_prompt():
    query = "a timelapse from dawn to night"
    assert contradictions("A wide shot of " + query, query) == []


def test_the_composer_writes_no_contradiction():
    # The coherence rules are data the generator draws by: over many q (the builder's, with and without its
    # suffixes: "pan left", "black and white") and draws, a composed prompt never says two sides of a rule.
    queries = [b.text for b in architect.all_base_prompts()[::97]] + [
        "two people dancing in a kitchen at night", "a lighthouse on a cliff during a storm",
        "A storm trooper vacuuming the beach.", "a cup of coffee on a table in a cosy kitchen",
        "a hot air balloon rising over a valley at sunrise", "a snail crawling on a leaf, extreme close-up"] + [
        f"{b.text}, {suffix}" for b, suffix in zip(architect.all_base_prompts()[::211], BUILDER["query_suffixes"])]
    rng = random.Random(0)
    for query in queries:
        frame = composer.ParsedQuery.of(query)
        values = composer.palette(frame)
        for _ in range(15):
            prompt = composer.draw(frame, values, rng, {})
            assert contradictions(prompt, query) == [], prompt


def test_every_coherence_rule_has_two_sides_or_more():
    assert all(len(sides) >= 2 for sides in vocabulary.COHERENCE.values())
