"""The composer: q kept word for word, axes q fixes left alone, seeded, values spread over a set."""

import random

import pytest

from dppgrpo_core.expand import composer
from dppgrpo_core.expand.composer import (
    AXES,
    Frame,
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
    return Frame.of(query).query


@pytest.mark.parametrize("query", QUERIES)
def test_every_draw_keeps_q_verbatim_and_names_a_shot_or_camera(query):
    frame, rng = Frame.of(query), random.Random(3)
    values = palette(frame)
    for _ in range(50):
        p = draw(frame, values, rng, {})
        assert q_text(query).lower() in p.lower()
        assert any(v.lower() in p.lower() for v in composer.SHOTS + composer.CAMERAS + composer.STILL_CAMERAS
                   + composer.ANGLES)


def test_draws_are_seeded():
    frame = Frame.of(QUERIES[0])
    values = palette(frame)
    first = [draw(frame, values, random.Random(7), {}) for _ in range(5)]
    again = [draw(frame, values, random.Random(7), {}) for _ in range(5)]
    other = [draw(frame, values, random.Random(8), {}) for _ in range(5)]
    assert first == again and first != other


def test_axes_that_q_fixes_are_left_to_q():
    night = Frame.of("two people dancing in a kitchen at night")
    assert night.has_time and night.is_indoor and "time" not in night.open_axes()
    assert "weather" not in night.open_axes()
    still = Frame.of(QUERIES[4])
    assert set(palette(still)["camera"]) <= set(composer.STILL_CAMERAS)
    rng = random.Random(0)
    for _ in range(30):
        p = draw(night, palette(night), rng, {})
        assert not any(t in p for t in composer.TIMES if t != "at night")


def test_palette_ranks_scene_values_by_closeness_to_q():
    frame = Frame.of(QUERIES[0])
    # A closeness that prefers values mentioning water: the kept settings are those.
    wet = palette(frame, lambda texts: [1.0 if any(w in t for w in ("wave", "water", "rain")) else 0.0 for t in texts])
    assert len(wet["setting"]) == composer.RANKED_AXES["setting"]
    assert any("wave" in v for v in wet["setting"])


def test_used_values_are_avoided_until_an_axis_runs_out():
    frame = Frame.of(QUERIES[0])
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
    kitchen = Frame.of("two people dancing in a kitchen at night")
    meadow = Frame.of("a red barn nestled in a picturesque meadow")
    rng = random.Random(2)
    for _ in range(60):
        inside = draw(kitchen, palette(kitchen), rng, {})
        assert not any(v in inside for v in composer.OUTDOOR_ONLY + ("waves", "driftwood", "leaves", "sun"))
        outside = draw(meadow, palette(meadow), rng, {})
        assert not any(v in outside for v in composer.INDOOR_ONLY)


def test_a_clause_is_not_put_after_of():
    frame = Frame.of("A person is reading book")
    assert frame.subject_phrase() is None
    rng = random.Random(0)
    assert all(d.startswith("A person is reading book") for d in (draw(frame, palette(frame), rng, {}) for _ in range(30)))
    assert Frame.of("a dog running on a beach").subject_phrase() == "a dog running on a beach"


def test_a_night_scene_gets_no_sunlight():
    frame = Frame.of("a red car driving through a rainy city at night")
    lights = palette(frame)["light"]
    assert lights and not any(w in v for v in lights for w in composer.DAYLIGHT_WORDS)
    assert any("sun" in v for v in palette(Frame.of("a red car driving through a city"))["light"])


def test_an_indoor_night_scene_gets_neither_sun_nor_golden_light():
    lights = palette(Frame.of("two people dancing in a kitchen at night"))["light"]
    assert lights and not any(w in v for v in lights for w in composer.DAYLIGHT_WORDS + ("leaves",))
