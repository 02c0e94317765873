"""The composer: q kept word for word, axes q fixes left alone, seeded, values spread over a set."""

import random

import pytest

from dppgrpo_core.expand import composer
from dppgrpo_core.expand.composer import (
    AXES,
    ParsedQuery,
    compose,
    draw,
    palette,
    record_use,
    reuse,
)

QUERIES = ["a dog playing with a ball at the beach", "A storm trooper vacuuming the beach.",
           "a lighthouse on a cliff during a storm", "two people dancing in a kitchen at night",
           "In a still frame, a cup of coffee steams on a table"]


def q_text(query: str) -> str:
    return ParsedQuery.of(query).query


@pytest.mark.parametrize("query", QUERIES)
def test_every_draw_keeps_q_verbatim_and_names_a_shot_or_camera(query):
    frame, rng = ParsedQuery.of(query), random.Random(3)
    values = palette(frame)
    for _ in range(50):
        p = draw(frame, values, rng, {})
        assert q_text(query).lower() in p.lower()
        assert any(v.lower() in p.lower() for v in composer.SHOTS + composer.CAMERAS + composer.STILL_CAMERAS
                   + composer.ANGLES)


def test_draws_are_seeded():
    frame = ParsedQuery.of(QUERIES[0])
    values = palette(frame)
    first = [draw(frame, values, random.Random(7), {}) for _ in range(5)]
    again = [draw(frame, values, random.Random(7), {}) for _ in range(5)]
    other = [draw(frame, values, random.Random(8), {}) for _ in range(5)]
    assert first == again and first != other


def test_axes_that_q_fixes_are_left_to_q():
    night = ParsedQuery.of("two people dancing in a kitchen at night")
    assert night.has_time and night.is_indoor and "time" not in night.open_axes()
    assert "weather" not in night.open_axes()
    still = ParsedQuery.of(QUERIES[4])
    assert set(palette(still)["camera"]) <= set(composer.STILL_CAMERAS)
    rng = random.Random(0)
    for _ in range(30):
        p = draw(night, palette(night), rng, {})
        assert not any(t in p for t in composer.TIMES if t != "at night")


def test_palette_ranks_scene_values_by_closeness_to_q():
    frame = ParsedQuery.of(QUERIES[0])
    # A closeness that prefers values mentioning water: the kept settings are those.
    wet = palette(frame, lambda texts: [1.0 if any(w in t for w in ("wave", "water", "rain")) else 0.0 for t in texts])
    assert len(wet["setting"]) == composer.RANKED_AXES["setting"]
    assert any("wave" in v for v in wet["setting"])


def test_used_values_are_avoided_until_an_axis_runs_out():
    frame = ParsedQuery.of(QUERIES[0])
    values = palette(frame)
    rng, used = random.Random(1), {}
    picks_seen = []
    for _ in range(6):
        picks = {}
        compose(frame, values, rng, ("shot", "lens"), used, picks)
        assert reuse(picks, used) == 0  # twelve shots and eleven lenses: six draws never repeat
        record_use(picks, used)
        picks_seen.append(picks)
    assert len({p["shot"] for p in picks_seen}) == 6
    assert set(AXES) >= set(used)


def test_indoor_scenes_get_no_sky_and_outdoor_scenes_no_shelves():
    kitchen = ParsedQuery.of("two people dancing in a kitchen at night")
    meadow = ParsedQuery.of("a red barn nestled in a picturesque meadow")
    rng = random.Random(2)
    for _ in range(60):
        inside = draw(kitchen, palette(kitchen), rng, {})
        assert not any(v in inside for v in composer.OUTDOOR_ONLY + ("waves", "driftwood", "leaves", "sun"))
        outside = draw(meadow, palette(meadow), rng, {})
        assert not any(v in outside for v in composer.INDOOR_ONLY)


def test_a_clause_is_not_put_after_of():
    frame = ParsedQuery.of("A person is reading book")
    assert frame.subject_phrase() is None
    rng = random.Random(0)
    assert all(d.startswith("A person is reading book") for d in (draw(frame, palette(frame), rng, {}) for _ in range(30)))
    assert ParsedQuery.of("a dog running on a beach").subject_phrase() == "a dog running on a beach"


def test_a_night_scene_gets_no_sunlight():
    frame = ParsedQuery.of("a red car driving through a rainy city at night")
    lights = palette(frame)["light"]
    assert lights and not any(w in v for v in lights for w in composer.DAYLIGHT_WORDS)
    assert any("sun" in v for v in palette(ParsedQuery.of("a red car driving through a city"))["light"])


def test_an_indoor_night_scene_gets_neither_sun_nor_golden_light():
    lights = palette(ParsedQuery.of("two people dancing in a kitchen at night"))["light"]
    assert lights and not any(w in v for v in lights for w in composer.DAYLIGHT_WORDS + ("leaves",))


# ---------------------------------------------------------------- issue 24: the composer never contradicts q
# VBench-like q (the held-out kinds: bare places, spatial relations with "front view", camera and style suffixes)
# and the cases the issue found; each q with the values a composed prompt must never hold.
VBENCH_LIKE = [
    "A tranquil tableau of a picturesque barn was painted a warm shade of red and nestled in a picturesque meadow",
    "A person is reading book", "a bicycle gliding through a snowy field",
    "a sheep bending down to drink water from a river", "a surfboard", "a keyboard", "a pink bicycle", "an orange bird",
    "A beautiful coastal beach in spring, waves lapping on sand, pixel art",
    "A panda drinking coffee in a cafe in Paris, black and white", "The bund Shanghai, pan right",
    "aquarium", "downtown", "supermarket", "a traffic light on the left of a fire hydrant, front view",
    "a pizza on the bottom of a donut, front view", "The bund Shanghai, zoom in",
    "The bund Shanghai, with an intense shaking effect", "The bund Shanghai, in super slow motion",
    "A cute happy Corgi playing in park, sunset, black and white", "An astronaut flying in space, Van Gogh style",
    "a shark is swimming in the ocean, Van Gogh style", "underwater coral reef", "parking lot", "indoor gymnasium",
    "a man vacuuming the beach", "a man raking the beach",
    "a skateboarder grinding a handrail in an empty parking garage",
    "In a still frame, a cup of coffee steams on a table", "a snail crawling on a leaf, extreme close-up",
    "two people dancing in a kitchen at night", "a lighthouse on a cliff during a storm",
    "A couple in formal evening wear going home get caught in a heavy downpour with umbrellas",
    "a cat wakes up its sleeping owner demanding breakfast", "a drone view of a city at midday",
    "fireworks at night, time-lapse", "a person is skiing", "a train speeding through an empty tunnel",
    "an empty street at dawn", "a crowd cheering in a stadium"]


def composed(query: str, n: int, seed: int = 0) -> list[str]:
    """n draws for q over every value the palette offers (no ranking: the widest choice), as a set would take them."""
    frame, rng, used = ParsedQuery.of(query), random.Random(f"{seed}:{query}"), {}
    values, out = palette(frame), []
    for _ in range(n):
        picks: dict = {}
        out.append(draw(frame, values, rng, used, picks=picks))
        record_use(picks, used)
    return out


def test_composed_prompts_contradict_neither_q_nor_themselves():
    # A property over 400 seeded prompts: the judge's own coherence check finds nothing, and q is kept.
    from dppgrpo_core.vocabulary import contradictions
    from eval.judge import keeps_subject_and_action

    assert len(VBENCH_LIKE) == 40
    for query in VBENCH_LIKE:
        for p in composed(query, 10):
            assert contradictions(p, query) == [], p
            assert q_text(query).lower() in p.lower()
            assert keeps_subject_and_action(p, query)


@pytest.mark.parametrize("query", ["a man raking the beach", "a man vacuuming the beach", "supermarket", "downtown",
                                   "aquarium", "a sheep bending down to drink water from a river",
                                   "a skateboarder grinding a handrail in an empty parking garage"])
def test_q_place_is_kept_even_without_a_preposition(query):
    # "… raking the beach": the beach is the place, so no café, canyon or frozen pond is added.
    assert ParsedQuery.of(query).has_place
    for p in composed(query, 60):
        assert not [place for place in composer.PLACES if place in p.lower()], p


def test_a_skateboarder_in_an_empty_parking_garage_gets_no_sky_no_scenery_and_no_crowd():
    query = "a skateboarder grinding a handrail in an empty parking garage"
    assert ParsedQuery.of(query).place == "indoor"
    banned = composer.OUTDOOR_ONLY + composer.WEATHERS + composer.PLACES + (
        "driftwood", "hills", "leaves", "sun", "traffic", "crowd", "onlookers", "drone")
    for p in composed(query, 80):
        assert not [b for b in banned if b in p.lower()], p


@pytest.mark.parametrize("query", ["The bund Shanghai, pan right", "The bund Shanghai, zoom in",
                                   "The bund Shanghai, tilt up", "The bund Shanghai, with an intense shaking effect"])
def test_q_camera_instruction_gets_no_second_camera_move(query):
    moves = composer.CAMERAS + composer.STILL_CAMERAS
    assert "camera" not in ParsedQuery.of(query).open_axes()
    for p in composed(query, 40):
        assert not [m for m in moves if m.lower() in p.lower()], p


@pytest.mark.parametrize("query, axis, values", [
    ("a macro shot of a bee, 100mm lens", "lens", composer.LENSES),
    ("The bund Shanghai, in super slow motion", "motion", composer.MOTIONS),
    ("fireworks at night, time-lapse", "motion", composer.MOTIONS)])
def test_q_lens_and_pace_are_left_to_q(query, axis, values):
    assert axis not in ParsedQuery.of(query).open_axes()
    for p in composed(query, 30):
        assert not [v for v in values if v in p], p


def test_no_macro_or_close_up_from_a_crane_or_drone():
    aerial = ("crane shot", "drone", "dollies back", "vast negative space", "miniature look")
    for query in ("a bee on a flower", "a red fox running on a quiet beach", "a keyboard", "downtown"):
        for p in composed(query, 80):
            if "macro" in p or "close-up" in p or "tight crop" in p:
                assert not [a for a in aerial if a in p], p


def test_a_drawn_indoor_place_is_indoors():
    # A warehouse, an arcade, a subway car, a stage: no weather, sky, drone, sun or foliage.
    indoor = [p for p in composer.PLACES if composer.place_kind(p) == "indoor"]
    assert {"in an empty warehouse", "in a neon-lit arcade", "in a subway car", "on a stage under spotlights"} <= set(
        indoor)
    outside = composer.WEATHERS + composer.OUTDOOR_ONLY
    seen = 0
    for p in composed("a keyboard", 300) + composed("a pink bicycle", 300):
        if any(place in p for place in indoor):
            seen += 1
            assert not [v for v in outside if v.lower() in p.lower()], p
    assert seen > 20


def test_no_point_of_view_seen_from_outside_no_quick_time_lapse_no_low_key_midday():
    for p in composed("a cyclist riding along a mountain trail", 200) + composed("a keyboard", 200):
        low = p.lower()
        assert not ("point-of-view" in low and any(w in low for w in ("dives toward", "orbits", "drone flies"))), p
        assert not ("time-lapse" in low and any(w in low for w in ("whip pan", "dives toward", "handheld"))), p
        assert not ("midday" in low and "low-key" in low), p
