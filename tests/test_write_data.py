"""The written dataset (issue 24): plans that spread, a critic that refuses, one source of the rules, seeded and resumed."""

import json
import random
import re

import pytest

from dppgrpo_core.models import chat
from dppgrpo_core.models.embedder import load_embedder
from dppgrpo_core.vocabulary import CONTENT, WRITING, contradictions
from eval import judge
from tests.fakes import CONVERTIBLE, CONVERTIBLE_QUERY
from training import write_data as wd

QUERY, SUBJECT = "a red fox running on a quiet beach", "a red fox"
BASE = wd.BasePrompt(SUBJECT, "running", "on a quiet beach")


class PlanRealiser:
    """A stand-in architect: writes each plan out in a fixed ~50-word form; every `bad_every`-th prompt drops q."""

    name = "plan-realiser"

    def __init__(self, bad_every: int = 4):
        self.calls, self.bad_every = 0, bad_every

    def generate_raw(self, messages_batch, temperature=0.7, seed=None, **kwargs):
        self.calls += 1
        out = []
        for i, messages in enumerate(messages_batch):
            user = messages[-1]["content"]
            query = re.search(r'"([^"]+)"', user).group(1)
            plan = dict(re.findall(r"^- ([^:]+): (.+)$", user, re.MULTILINE))
            bad = i % self.bad_every == self.bad_every - 1
            head = "An animal waits" if bad else f"{query[0].upper() + query[1:]}, {plan['the subject']}, {plan['the action']}"
            parts = [head,
                     plan.get("the place", ""), plan.get("the light", ""), plan.get("the camera", "")]
            body = ". ".join(p for p in parts if p) + "."
            out.append(body + " The scene stays simple and clear, with every detail easy to read in one short clip"
                       " that keeps the subject in view from start to end.")
        return out


@pytest.fixture(scope="module")
def embedder():
    return load_embedder("packaged:all-MiniLM-L6-v2", device="cpu")


def test_plans_spread_the_look_the_motion_and_the_camera():
    rng, used = random.Random(0), {}
    plans = [wd.plan_for(QUERY, SUBJECT, rng, used) for _ in range(8)]
    looks = [p["look"] for p in plans]
    assert len(set(looks)) == 8 and set(looks) <= set(CONTENT["look"]["animal"])
    assert len({p.get("motion") for p in plans}) >= 7
    assert len({p.get("camera") for p in plans if "camera" in p}) >= 6
    # q names a place (a beach): the plan details it in most plans, never moves it.
    assert all(p.get("setting", "with")[:4] == "with" for p in plans)
    assert len({p["setting"] for p in plans if "setting" in p}) >= 3


def test_a_still_or_paced_query_gets_no_motion_manner_and_no_camera_move():
    plan = wd.plan_for("a candle flickering, in slow motion", "a candle", random.Random(1), {})
    assert "motion" not in plan


def test_the_critic_refuses_unfaithful_contradicting_and_short_prompts():
    good = ("A red fox running on a quiet beach, lean and alert, its paws kicking up wet sand as it races along the "
            "waterline. Waves break behind it under soft golden backlight at dusk. A low-angle tracking shot moves "
            "alongside at the fox's height, a 200mm telephoto lens compressing the dunes behind.")
    assert wd.problems(good, QUERY) == []
    assert wd.problems(good.replace("red fox", "grey wolf").replace("fox", "wolf"), QUERY) == ["drops q"]
    still_and_moving = good.replace("A low-angle tracking shot moves alongside", "A fixed camera with no movement, "
                                    "a slow pan sweeps across the scene")
    assert wd.problems(still_and_moving, QUERY) == ["contradicts: camera both still and moving"]
    assert wd.problems("A red fox running on a quiet beach.", QUERY) == ["8 words (40 to 100)"]


def test_one_source_of_the_rules_for_the_writer_the_architect_and_the_checks():
    for part in ("covers", "keeps", "avoid"):
        assert WRITING[part] in chat.SYSTEM_PROMPT
    messages = wd.architect_messages(QUERY, BASE, {"look": "lean and alert"}, WRITING["examples"][2])
    assert messages[0]["content"] == chat.SYSTEM_PROMPT  # the architect writes to the student's own instruction
    assert messages[1]["content"].endswith(WRITING["examples"][2])
    assert WRITING["vary"] in chat.build_messages(QUERY, ["An earlier prompt."])[1]["content"]
    low, high = WRITING["words"]
    assert judge.is_rich(" ".join(["word"] * low)) and not judge.is_rich(" ".join(["word"] * (low - 1)))
    assert judge.is_rich(" ".join(["word"] * high)) and not judge.is_rich(" ".join(["word"] * (high + 1)))


def test_the_example_prompts_shown_to_the_architect_keep_the_rules():
    assert len(WRITING["examples"]) >= 4
    for example in WRITING["examples"]:
        assert judge.is_rich(example) and contradictions(example) == [], example
        assert not re.search(r"\bThe (?:setting|camera) is\b", example)  # what the architect is told not to write


def test_the_critic_refuses_a_prompt_that_copies_the_example_it_was_shown():
    example = WRITING["examples"][0]  # the heron: "... a telephoto lens pressing the reeds into soft stripes ..."
    good = ("A red fox running on a quiet beach, lean and alert, its paws kicking up wet sand as it races along the "
            "waterline. Waves break behind it under soft golden backlight at dusk. A low-angle tracking shot moves "
            "alongside at the fox's height, a 200mm telephoto lens compressing the dunes behind.")
    assert wd.problems(good, QUERY, example) == []
    copied = good.replace("compressing the dunes behind", "pressing the reeds into soft stripes")
    assert wd.problems(copied, QUERY, example)[0].startswith("copies the example: ")


def test_the_critic_refuses_an_echoed_instruction_and_q_words_said_over_and_over():
    query = "a tabby cat playing with a stick beside a mountain lake, side view"
    good = ("A grey tabby cat, old and grey around the muzzle, plays with a stick beside a mountain lake, side view, "
            "batting it across the pebbles and pouncing as it rolls toward the water. A storm rolls in over the "
            "peaks and the light turns flat and cold. A crane shot rises from ground level, the cat small in the "
            "lower third.")
    assert wd.problems(good, query) == []
    echoed = good.replace("the cat small in the lower third", "weaves the parts together in any order")
    assert "echoes the instruction" in wd.problems(echoed, query)
    repeated = good.replace("the pebbles", "the pebbles, side view, side view")
    assert wd.problems(repeated, query) == ["says 'side view' more than twice"]


def test_the_critic_refuses_a_loop_and_drops_a_restating_sentence_before_judging():
    query = CONVERTIBLE_QUERY
    good = CONVERTIBLE
    assert wd.problems(good, query) == []
    # The student's loop, as the warm start wrote it: within one sentence, so no repair can save it.
    looped = good.replace("on a wide-angle lens", "on a 28mm wide-angle lens, 30mm wide-angle lens, 30mm wide-angle "
                          "lens, 24mm wide-angle lens, 54mm wide-angle lens, 24mm wide-angle lens")
    assert wd.problems(looped, query) == ["repeats itself: 24mm wide angle lens"]
    assert wd.without_restatements(looped, query) == looped
    # A last sentence that says an added phrase again (the 1.5B's restatement) is dropped, and the rest is judged.
    restated = good + " Steam drifts from vents in the rock as the camera holds."
    assert wd.without_restatements(restated, query) == good
    record = wd.judge({"query": query, "written": [restated], "plans": [{}]},
                      wd.BasePrompt("a vintage red convertible", "gliding forward", "on a volcanic shore"))
    assert record["written"] == [good] and record["problems"] == [[]]


def test_the_critic_puts_back_q_style_words_drops_a_sentence_said_again_and_refuses_a_filled_in_label():
    query = f"{CONVERTIBLE_QUERY}, black and white"
    base = wd.BasePrompt("a vintage red convertible", "gliding forward", "on a volcanic shore")
    body = CONVERTIBLE
    # One word of a long q may go, but not one of its style words: "black and white" left out is "drops q".
    assert wd.problems(body, query) == ["drops q's style words"]
    said_again = body + " The vintage red convertible glides forward on the volcanic shore."
    record = wd.judge({"query": query, "written": [said_again], "plans": [{}]}, base)
    assert record["written"] == [body[:-1] + ", black and white."] and record["problems"] == [[]]
    # Said again and left in (`problems` judges any writer's prompt, the student's too): refused.
    middle = body.replace(" A tracking", " The vintage red convertible glides forward on the volcanic shore. A tracking")
    assert wd.problems(middle + " Black and white.", query) == [
        "says a sentence again: The vintage red convertible glides forward on the volcanic shore."]
    labelled = body.replace("Steam drifts from vents in the rock behind it", "The setting is a rocky shore")
    assert wd.problems(labelled + " Black and white.", query) == ["fills in the plan: The setting is a",
                                                                 "talks about itself: The setting"]
    listed = body.replace("A tracking shot keeps pace",
                          "The shot size and angle are low and wide, a tracking shot keeping pace")
    assert wd.problems(listed + " Black and white.", query) == ["fills in the plan: The shot size and angle are",
                                                              "talks about itself: shot size"]
    assert f'"The {WRITING["labels"][0]} is"' in wd.architect_messages(query, base, {}, "")[1]["content"]
    assert f"{WRITING['labels'][1]} is" in wd.DECODING["suppress"]  # what the architect's engine cannot write


def test_the_critic_refuses_the_plan_listed_back_and_a_prompt_about_itself_and_the_engine_cannot_write_it():
    base = wd.BasePrompt("a vintage red convertible", "gliding forward", "on a volcanic shore")
    plan = {"look": "dusty and dented", "light": "at dusk", "shot": "a close-up", "camera": "a dolly zoom warps the background"}
    asked = wd.plan_lines(base, plan, CONVERTIBLE_QUERY)
    assert wd.problems(CONVERTIBLE, CONVERTIBLE_QUERY, asked=asked) == []
    # The plan's values strung together with commas: refused from three on, q's own parts not counted.
    listed = CONVERTIBLE.replace("A tracking shot keeps pace", "A vintage red convertible, dusty and dented, gliding "
                                 "forward, at dusk, a close-up, a dolly zoom warps the background. A tracking shot "
                                 "keeps pace")
    assert wd.problems(listed, CONVERTIBLE_QUERY, asked=asked) == [
        "lists the plan: dusty and dented, at dusk, a close-up, a dolly zoom warps the background"]
    two = listed.replace(", at dusk, a close-up", "")
    assert wd.problems(two, CONVERTIBLE_QUERY, asked=asked) == []
    woven = CONVERTIBLE.replace("A tracking shot", "At dusk, in a close-up, the dusty, dented car slows. A tracking "
                                "shot")
    assert wd.problems(woven, CONVERTIBLE_QUERY, asked=asked) == []
    for about in ("The action involves gliding forward.", "Its angle and camera movement are as described.",
                  "It glides forward, its moves shown in time order.", "The setting feels calm and still.",
                  "The shot lets the viewer feel the heat."):
        found = wd.problems(CONVERTIBLE + " " + about, CONVERTIBLE_QUERY)
        assert [f.split(":")[0] for f in found] == ["talks about itself"], found
    # A label heading a sentence is the plan filled in; a label word inside a sentence is not.
    headed = CONVERTIBLE.replace("A tracking shot keeps", "The camera, a tracking shot, keeps")
    assert wd.problems(headed, CONVERTIBLE_QUERY) == ["fills in the plan: The camera,"]
    assert wd.problems(CONVERTIBLE.replace("pass.", "pass toward the camera, slowly."), CONVERTIBLE_QUERY) == []
    echoed = CONVERTIBLE + " It is all told in your own words, never as phrases joined by commas."
    assert wd.problems(echoed, CONVERTIBLE_QUERY) == ["echoes the instruction"]
    # The plain phrases of the rules are what the architect's engine cannot write.
    assert {"as described", "in time order", "the setting", "The camera,", "joined by commas"} <= set(
        wd.DECODING["suppress"])


def test_a_bird_plan_gets_a_bird_look_not_a_coat():
    rng, used = random.Random(0), {}
    looks = {wd.plan_for("a barn owl flying over a lake", "a barn owl", rng, used)["look"] for _ in range(6)}
    assert looks <= set(CONTENT["look"]["bird"]) and len(looks) == 6


def test_the_critic_refuses_a_second_place_but_not_q_place_in_other_words_or_the_plan_setting():
    query = "a brown bear looking around curiously on a wooden pier"
    good = ("A brown bear with a thick glossy coat looks around curiously on a wooden pier, turning its head in slow "
            "arcs and sniffing the salt air as gulls wheel overhead. Late-afternoon light warms the weathered planks "
            "and the calm water below. A wide shot from a low angle, the camera slowly dollies in on the bear.")
    assert wd.problems(good, query) == []
    moved = "In a warm, sunny backyard, " + good[0].lower() + good[1:]  # as the 1.5B wrote it: both places
    assert wd.problems(moved, query) == ["moves q's place: In a warm, sunny backyard"]
    by_the_harbour = good.replace("and the calm water below", "at the edge of the harbour")
    assert wd.problems(by_the_harbour, query, asked="the harbour behind") == []  # the plan's setting asked for it
    assert wd.problems(good.replace("on a wooden pier", "on the wooden piers"), query) == []  # q's place, plural
    assert wd.problems(moved, "a brown bear") == []  # q names no place: the writer may add them


def test_the_plan_names_q_action_and_place_so_the_manner_and_setting_attach_to_them():
    plan = {"look": "lean and alert", "motion": "in short bursts", "setting": "with driftwood", "shot": "a wide shot"}
    lines = wd.plan_lines(BASE, plan).splitlines()
    assert lines[:3] == ["- the subject: a red fox, lean and alert", "- the action: running, in short bursts",
                         "- the place: on a quiet beach, with driftwood"]
    # q's style or camera suffix is named to keep; a q without one gets no such line.
    assert wd.plan_lines(BASE, plan, QUERY + ", pixel art").splitlines()[-1] == "- keep these words as given: pixel art"
    assert "keep these words" not in wd.plan_lines(BASE, plan, QUERY)


def test_the_build_is_seeded_and_resumes_where_it_stopped(tmp_path, embedder):
    kwargs = dict(seed=3, k=3, n_candidates=4, vbench=[], progress=False, embedder=embedder)
    first = PlanRealiser()
    rows_a, stats_a = wd.build(2, out=tmp_path / "a", policy=first, **kwargs)
    assert len(rows_a) == 2 and first.calls >= 2
    assert stats_a["refused"].get("drops q", 0) >= first.calls  # every 4th prompt dropped q and was refused
    for row in rows_a:
        assert len(row["variants"]) == 3 and all(judge.keeps_subject_and_action(v, row["query"]) for v in row["variants"])
    # A crash mid-line: the cut record is ignored, the finished ones are kept.
    log = tmp_path / "a" / "progress.jsonl"
    log.write_text(log.read_text() + '{"index": 99, "query": "cut sho')
    resumed = PlanRealiser()
    rows_resumed, _ = wd.build(3, out=tmp_path / "a", policy=resumed, **kwargs)
    fresh = PlanRealiser()
    rows_fresh, _ = wd.build(3, out=tmp_path / "b", policy=fresh, **kwargs)
    assert rows_resumed == rows_fresh  # same seed, same rows, whether resumed or built at once
    assert resumed.calls == fresh.calls - first.calls  # the resumed run wrote only what was missing
    records = [json.loads(line) for line in (tmp_path / "b" / "progress.jsonl").read_text().splitlines()]
    assert [r["query"] for r in records if r["variants"]] == [r["query"] for r in rows_fresh]


def test_the_command_refuses_bad_input_in_one_line(capsys):
    assert wd.main(["--out", "/tmp/x", "--k", "8", "--candidates", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--candidates" in err[0]


def test_the_written_sets_are_compared_with_dpp_compose_on_the_same_base_prompts(tmp_path, embedder):
    from eval.written import compare_dataset
    from training.build_data import write_dataset

    rows, stats = wd.build(2, seed=5, out=tmp_path, policy=PlanRealiser(), k=3, n_candidates=4, vbench=[],
                           progress=False, embedder=embedder)
    for row in rows:
        row["split"] = "train"
    write_dataset(rows, stats, "card", tmp_path)
    table = compare_dataset(str(tmp_path), 2, embedder=embedder,
                            judge_encode=lambda texts: embedder.encode(texts, normalize_embeddings=True))
    written, compose = [line.split("|")[2].strip() for line in table.splitlines()[2:4]]
    assert table.splitlines()[2].startswith("| written") and table.splitlines()[3].startswith("| dpp-compose")
    assert int(written) >= WRITING["words"][0] and int(compose) > 0  # rich teacher prompts, within the rules


def test_shards_write_their_own_files_and_the_dataset_merges_them(tmp_path, embedder):
    kwargs = dict(seed=3, k=3, n_candidates=4, vbench=[], progress=False, embedder=embedder)
    for part in (0, 1):
        wd.build(2, out=tmp_path, policy=PlanRealiser(), shard=(part, 2), **kwargs)
    for part in (0, 1):
        records = [json.loads(line) for line in (tmp_path / f"progress-{part}of2.jsonl").read_text().splitlines()]
        assert records and all(r["index"] % 2 == part for r in records)
        assert sum(bool(r["variants"]) for r in records) == 1  # its share of 2
    rows, stats = wd.build(2, out=tmp_path, policy=None, **kwargs)  # --finish: both files, nothing new written
    assert len(rows) == 2 == stats["n_base"]
    assert wd.main(["--out", str(tmp_path), "--finish", "--shard", "2/2"]) == 2  # one line, nothing written


def test_the_critic_keeps_no_added_phrase_in_more_than_max_sharing_of_a_set(embedder):
    from dppgrpo_core.models.embedder import embed
    from eval.written import added_phrases
    from training.critic import select_variants

    query = "a red fox running"
    candidates = [f"The camera is a {view} shot of a red fox running." for view in ("wide", "low", "high", "close")]
    candidates += ["A red fox running along a beach at dawn.", "A red fox running through snow at night."]
    vectors = embed([query] + candidates, embedder)
    kept = select_variants(vectors[0], candidates, vectors[1:], 4, min_relevance=-1.0, max_similarity=0.999,
                           phrases=lambda p: added_phrases(p, query), max_sharing=2).variants
    assert len(kept) == 4 and sum("The camera is a" in p for p in kept) == 2
    too_few = select_variants(vectors[0], candidates, vectors[1:], 5, min_relevance=-1.0, max_similarity=0.999,
                              phrases=lambda p: added_phrases(p, query), max_sharing=2)
    assert too_few.variants == []  # 2 + 2 is all the cap allows: fewer than k, so the base prompt is not kept


def test_comparing_a_dataset_without_rows_is_one_line(tmp_path, capsys):
    from eval.written import main
    from training.build_data import write_dataset

    write_dataset([], {}, "card", tmp_path)
    capsys.readouterr()
    assert main(["--dataset", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {tmp_path} has no training rows yet: nothing "
                                                            "to compare."]


def test_the_dataset_follows_todays_critic_whatever_was_decided_when_written(tmp_path, embedder):
    kwargs = dict(seed=3, k=3, n_candidates=4, vbench=[], progress=False, embedder=embedder)
    rows, _ = wd.build(2, out=tmp_path, policy=PlanRealiser(), **kwargs)
    assert len(rows) == 2
    log = tmp_path / "progress.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    first = next(r for r in records if r["variants"])
    # As if written under an older rule: every prompt a 120-word run-on that today's critic refuses.
    first["written"] = [" ".join([first["query"]] + ["and on"] * 60) for _ in first["written"]]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    rows, stats = wd.build(2, out=tmp_path, policy=None, **kwargs)  # --finish
    assert [r["query"] for r in rows] == [r["query"] for r in records if r["variants"] and r is not first]
    assert stats["refused"]["length"] >= len(first["written"])
    assert json.loads(log.read_text().splitlines()[records.index(first)])["variants"]  # the log keeps what was decided
