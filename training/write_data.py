"""The written dataset, the paper's way: an architect language model writes rich variants from plans; a critic keeps
the faithful, coherent, mutually diverse ones (issue 24).

    python -m training.write_data --n-base 400 --k 8 --seed 0 --out data/written     # hours on 2 CPU cores; resumes
    python -m training.write_data --n-base 400 --k 8 --seed 0 --out data/written --finish   # the dataset so far

Per base prompt (subject × action × place from the vocabulary's builder lists, VBench-disjoint, some with a style
or camera suffix a rewrite must keep): `plan_for` draws plans (a look by the subject's kind, a manner of motion,
a few coherent cinematic values, unused ones first); the architect (any policy; by default Qwen2.5-Coder-1.5B
through the fast engine) writes one prompt per plan with the writer's own instruction (`chat.SYSTEM_PROMPT`) plus
the plan and an example of the form, all in one batch; the critic (`judge`: `training.critic.problems`; `select`:
`training.critic.select_variants`) keeps prompts of the rules' length that keep q, break no coherence rule and copy
nothing from the example, with cos(p, q) ≥ MIN_RELEVANCE, drops near-duplicates, caps shared phrases and picks k
by greedy DPP. Each base prompt's outcome is appended to OUT/progress.jsonl (one file per `--shard`) when it is
done: a stopped run resumes where it stopped (plans and seeds depend only on --seed and q), and every run ends by
writing the dataset (train/test parquet, stats.json, README.md) from all the records so far, each judged anew by
today's critic (`rejudged`), so a rule added later applies to what was written before it.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from tqdm import tqdm

from dppgrpo_core.cli import ArgumentParser, real, run_main, seed, shard, whole
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import composer
from dppgrpo_core.models.chat import SYSTEM_PROMPT, clean_prompt
from dppgrpo_core.models.embedder import embed, load_embedder
from dppgrpo_core.settings import POLICY_SETTINGS, Settings
from dppgrpo_core.vocabulary import CONTENT, WRITING
from eval.written import added_phrases

from .architect import SUBJECT_ACTIONS, BasePrompt, all_base_prompts, with_suffixes
from .build_data import VBenchFilter, check_out, vbench_texts, write_dataset
from .compose_data import Closeness
from .critic import (
    MAX_SIMILARITY,
    MIN_RELEVANCE,
    ECHOED,
    problems,
    select_variants,
    with_style_words,
    within_length,
    without_restatements,
)
from .written_card import CARD, rows_and_stats

ARCHITECT = "packaged:Qwen2.5-Coder-1.5B-Instruct"  # the strongest policy that runs on this CPU (README: models)
KIND_OF = {subject: kind for kind, (subjects, _) in SUBJECT_ACTIONS.items() for subject in subjects}
MANNERS = ("speed", "direction", "rhythm")  # one of these, or for a person a gesture
# Asked for 40-100 words the 1.5B architect wrote 25-40: it is asked for more, the critic holds the range (`problems`).
ARCHITECT_WORDS = (WRITING["words"][0] + WRITING["words"][1]) // 2 + 10
# Rounds of writing per base prompt. Two left most base prompts one to four prompts short of k, their work lost:
# a third costs less than the base prompts it saves.
MAX_ROUNDS = 3
# How the architect decodes, besides its seed: no plan's label filled in ("The setting is a …", 590 of its first
# 1,880 prompts, which the critic refuses) and no end before ~48 words (a third of them were 20-39 words; on the
# same plans and seeds this minimum took the prompts passing the critic from 3 of 24 to 9 of 24). Each record
# written since says which (those written before the evening of 2026-12-03 have no "decoding").
# Forced on, it sometimes wrote the instruction back ("… shown for another prompt (take none of its words): …"):
# those words are suppressed too (the critic refuses them as "echoes the instruction").
# Since the night of 2026-12-03 a label heading a sentence ("The camera, a close-up, …") and the plain phrases of a
# prompt talking about itself ("as described", "the setting") are suppressed too.
DECODING = {"suppress": [form.format(label) for form in ("{} is", "and {} are", "The {},")
                         for label in WRITING["labels"]] + list(ECHOED)
            + [p for p in WRITING["about_itself"] if p.replace(" ", "").isalpha()], "min_new_tokens": 64}
# Camera and scene values a plan draws besides the look and the motion (fewest, most), and what the instruction says
# after "Weave the parts together in any order": with (3, 4) and nothing, the 1.5B wrote the plan back as a comma list
# in 5 of 36 prompts and 7 of 36 passed today's critic; with these, 2 and 10 (paired: same base prompts and seeds,
# 2026-12-03 night; with "the setting" and "The <label>," suppressed too, 15 of 36).
SCENE_VALUES = (2, 3)
WEAVE = " in your own words, never as a list of the plan's phrases joined by commas"
# Plans that detail q's place (or give one) besides the draw's picks, which held a setting in 1 plan of 10: what is
# filmed varies with the look, the motion and the setting, not the camera (issue 24's content diversity).
SETTING_SHARE = 0.6
PLAN_AXES = ("shot", "angle", "camera", "lens", "light", "time", "weather", "setting", "composition")


def plan_for(query: str, subject: str, rng: random.Random, used: dict, closeness=None) -> dict:
    """One plan: what the architect should realise, by name. `used` (axis → values) makes later plans prefer others;
    `closeness` ranks the scene values by closeness to q, as the app's dpp-compose does (`composer.palette`).

    >>> plan = plan_for("a red fox running on a quiet beach", "a red fox", random.Random(0), {})
    >>> plan["look"] in CONTENT["look"]["animal"], "camera" in plan or "shot" in plan
    (True, True)
    """
    frame = composer.ParsedQuery.of(query)
    picks: dict = {}
    values = composer.palette(frame, closeness)
    # A shot and a camera move, and at most one more camera or scene value: a longer plan comes back as a list. A
    # plan with a setting takes the camera move alone (with the shot too, 14 of 48 such prompts listed the plan),
    # each value drawn coherent with q and the other as the composer draws them.
    if values.get("setting") and rng.random() < SETTING_SHARE:
        composer.compose(frame, values, rng, ("camera", "setting"), used, picks)
    else:
        composer.draw(frame, values, rng, used, n_axes=SCENE_VALUES, picks=picks)
    kind, fresh = KIND_OF.get(subject, "thing"), lambda vs, seen: rng.choice([v for v in vs if v not in seen] or vs)
    looks = CONTENT["look"][CONTENT["look_of"].get(subject, kind)]  # an owl's look is not a fox's
    content = {"look": fresh(looks, used.get("look", ()))}
    if kind != "thing" and not frame.has_motion:
        axis = rng.choice(MANNERS + (("gesture",) if kind == "person" else ()))  # an owl has no arms to stretch
        content["motion"] = fresh(CONTENT["motion_manner"][axis], used.get("motion", ()))
    composer.record_use(content, used)
    composer.record_use(picks, used)
    return {**content, **{axis: picks[axis] for axis in PLAN_AXES if axis in picks}}


def plan_lines(base: BasePrompt, plan: dict, query: str = "") -> str:
    """The plan as the architect reads it, one line per part; q's action and place are named so that the plan's
    manner and setting attach to them (asked for a bare "motion" the 1.5B wrote a new action in ~1 of 4 prompts),
    and q's style or camera suffix is named to keep (unnamed, it was dropped: 1 of 9 such base prompts kept a set).

    >>> print(plan_lines(BasePrompt("a red fox", "running", "on a beach"), {"look": "lean", "motion": "briskly"}))
    - the subject: a red fox, lean
    - the action: running, briskly
    - the place: on a beach
    """
    camera = ", ".join(plan[a] for a in ("shot", "angle", "camera", "lens", "composition") if a in plan)
    light = ", ".join(plan[a] for a in ("light", "time", "weather") if a in plan)
    lines = [f"the subject: {base.subject}" + (f", {plan['look']}" if "look" in plan else ""),
             f"the action: {base.action}" + (f", {plan['motion']}" if "motion" in plan else ""),
             f"the place: {base.place}" + (f", {plan['setting']}" if "setting" in plan else ""),
             f"the light: {light}" if light else None, f"the camera: {camera}" if camera else None]
    suffix = query[len(base.text):].strip(" ,") if query.startswith(base.text) else ""
    lines.append(f"keep these words as given: {suffix}" if suffix else None)
    return "\n".join(f"- {line}" for line in lines if line)


def architect_messages(query: str, base: BasePrompt, plan: dict, example: str) -> list[dict]:
    """The writer's own instruction (one source of the rules), q with the plan to realise, and one of the rules'
    example prompts for another q: shown the form, the 1.5B writes nearer the length asked (asked alone, 25-40
    words in half its prompts).

    >>> messages = architect_messages("a red fox running on a beach", BasePrompt("a red fox", "running",
    ...                               "on a beach"), {"look": "lean"}, WRITING["examples"][0])
    >>> messages[1]["content"].splitlines()[1:4]
    ['- the subject: a red fox, lean', '- the action: running', '- the place: on a beach']
    """
    ask = (f'Write a video prompt for "{query}" that realises this plan in three or four flowing sentences of your '
           f"own, about {ARCHITECT_WORDS} words:\n{plan_lines(base, plan, query)}\nWeave the parts together in any "
           f"order{WEAVE}; write no \"The {WRITING['labels'][0]} is\" or \"The {WRITING['labels'][1]} is\" "
           f"sentence. The form, shown for another prompt (take none of its words):\n{example}")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": ask}]


def write_one(index: int, query: str, base: BasePrompt, seed: int, n_candidates: int, k: int, policy, embedder,
              min_relevance: float, max_similarity: float, closeness: Closeness, query_vector) -> dict:
    """One base prompt's record: its plans, the architect's prompts, the critic's reasons and the kept set."""
    rng, used = random.Random(f"{seed}:{query}"), {}
    near_q = closeness.of(query_vector)
    plans, shown, written, batch = [], [], [], n_candidates
    for round_ in range(MAX_ROUNDS):  # more when the critic left fewer than k: at the pass rate seen so far
        new = [plan_for(query, base.subject, rng, used, near_q) for _ in range(batch)]
        picks = [rng.randrange(len(WRITING["examples"])) for _ in new]
        asks = [architect_messages(query, base, plan, WRITING["examples"][e]) for plan, e in zip(new, picks)]
        raw = policy.generate_raw(asks, temperature=0.7, seed=seed * 100_003 + index * MAX_ROUNDS + round_,
                                  **DECODING)
        plans, shown, written = plans + new, shown + picks, written + [clean_prompt(text) for text in raw]
        record = judge({"index": index, "query": query, "plans": plans, "examples": shown, "written": written,
                        "decoding": DECODING}, base)
        record = select(record, k, embedder, query_vector, min_relevance, max_similarity)
        if record["variants"]:
            break
        passing = sum(not r for r in record["problems"])
        batch = min(n_candidates, max(4, -(-max(k - passing, 1) * len(written) // max(passing, 1))))
    return record


def judge(record: dict, base: BasePrompt) -> dict:
    """The critic's first pass over a record's written prompts, by today's rules: each less its restating sentences
    (`without_restatements`), cut to the rules' length (`within_length`), with q's style words put back
    (`with_style_words`), then its `problems` (with the example it was shown, in records that keep one)."""
    shown = record.get("examples") or [None] * len(record["written"])
    record["written"] = [with_style_words(within_length(without_restatements(p, record["query"])), record["query"])
                         for p in record["written"]]
    record["problems"] = [problems(p, record["query"], "" if e is None else WRITING["examples"][e],
                                   plan_lines(base, plan, record["query"]))
                          for p, e, plan in zip(record["written"], shown, record["plans"])]
    return record


def select(record: dict, k: int, embedder, query_vector, min_relevance: float = MIN_RELEVANCE,
           max_similarity: float = MAX_SIMILARITY) -> dict:
    """The critic's second pass: k of the prompts that passed, by relevance, distinctness, the set-level phrase
    rule and greedy DPP; none when fewer than k pass."""
    passing = [p for p, r in zip(record["written"], record["problems"]) if not r]
    record.update(variants=[], relevances=[], log_det=0.0)
    if len(passing) >= k:
        verdict = select_variants(query_vector, passing, embed(passing, embedder), k, min_relevance, max_similarity,
                                  phrases=lambda p: added_phrases(p, record["query"]))
        record.update(variants=verdict.variants, relevances=verdict.relevances, log_det=verdict.log_det)
    return record


def read_progress(out: Path) -> dict[str, dict]:
    """The records written so far in OUT/progress*.jsonl (every shard's), by query; a line cut short by a crash is
    skipped."""
    done = {}
    for path in sorted(out.glob("progress*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[record["query"]] = record
    return done


def base_queries(seed: int, suffix_fraction: float) -> list[tuple[str, BasePrompt]]:
    """(q, its subject, action and place) in the seeded order the build walks; about `suffix_fraction` end in a style or camera word."""
    rng = random.Random(seed)
    pool = all_base_prompts()
    rng.shuffle(pool)
    texts = with_suffixes([b.text for b in pool], suffix_fraction, rng)
    return list(zip(texts, pool))


def build(n_base: int, seed: int, out: Path, policy, embedder, k: int = 8, n_candidates: int = 12,
          suffix_fraction: float = 0.3, test_fraction: float = 0.05, min_relevance: float = MIN_RELEVANCE,
          max_similarity: float = MAX_SIMILARITY, vbench: list[str] | None = None, progress: bool = True,
          time_limit_s: float | None = None, shard: tuple[int, int] = (0, 1)) -> tuple[list[dict], dict]:
    """Write (or resume) records until `n_base` base prompts have k kept variants, or `time_limit_s` has passed;
    returns the dataset rows and the card's statistics so far. `shard` (i, n): this process writes base prompts
    i, i + n, ... into its own file until it holds its share of `n_base` (one process per core, `--shard i/n`)."""
    out.mkdir(parents=True, exist_ok=True)
    part, parts = shard
    log = out / ("progress.jsonl" if parts == 1 else f"progress-{part}of{parts}.jsonl")
    done = read_progress(out)
    vfilter = VBenchFilter(vbench_texts() if vbench is None else vbench, embedder)
    kept = [r for r in done.values() if r["variants"]]
    share = len([r for r in kept if r["index"] % parts == part]), -(-n_base // parts)  # (held, owed) by this shard
    closeness = Closeness(embedder) if policy is not None else None
    bar = tqdm(total=n_base, initial=min(len(kept), n_base), desc="base prompts", unit="prompt", disable=not progress)
    start = time.monotonic()
    for index, (query, base) in enumerate(base_queries(seed, suffix_fraction)):
        if policy is None or len(kept) >= n_base or share[0] >= share[1] or \
                time_limit_s and time.monotonic() - start > time_limit_s:
            break  # no architect (`--finish`): the dataset from what is there
        if query in done or index % parts != part:
            continue
        query_vector = embed([query], embedder)  # once: the VBench check, the plans' closeness, the critic
        if vfilter.overlaps([query], query_vector)[0]:
            record = {"index": index, "query": query, "vbench": True, "variants": []}
        else:
            record = write_one(index, query, base, seed, n_candidates, k, policy, embedder, min_relevance,
                               max_similarity, closeness, query_vector[0])
        with log.open("a", encoding="utf-8") as f:  # one line per base prompt: a crash loses at most this one
            f.write(json.dumps(record) + "\n")
        done[query] = record
        if record["variants"]:
            kept.append(record)
            share = share[0] + 1, share[1]
            bar.update(1)
    bar.close()
    records = rejudged(done, seed, suffix_fraction, k, embedder, min_relevance, max_similarity)
    kept = sorted((r for r in records if r["variants"]), key=lambda r: r["index"])[:n_base]
    vbench = [r for r in done.values() if r.get("vbench")]
    return rows_and_stats(records + vbench, kept, seed, k, n_candidates, test_fraction, policy)


def rejudged(done: dict[str, dict], seed: int, suffix_fraction: float, k: int, embedder, min_relevance: float,
             max_similarity: float) -> list[dict]:
    """Every record (a copy) with its kept set by today's critic, so that the dataset follows the rules as they are now, whatever
    rules were in force when each base prompt was written (progress*.jsonl keeps what was decided then)."""
    bases = dict(base_queries(seed, suffix_fraction))
    tried = [dict(r) for r in done.values() if not r.get("vbench") and r["query"] in bases]
    vectors = embed([r["query"] for r in tried], embedder) if tried else []
    return [select(judge(r, bases[r["query"]]), k, embedder, v, min_relevance, max_similarity)
            for r, v in zip(tried, vectors)]


def _main(argv) -> int:
    parser = ArgumentParser(prog="python -m training.write_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-base", type=whole(1, 14_000), default=400, help="base prompts with k kept variants")
    parser.add_argument("--seed", type=seed(), default=0)
    parser.add_argument("--out", required=True, help="output folder (progress.jsonl there is resumed)")
    parser.add_argument("--k", type=whole(2, 16), default=8, help="variants kept per base prompt")
    parser.add_argument("--candidates", type=whole(2, 32), default=12, help="plans written per base prompt")
    parser.add_argument("--suffix-fraction", type=real(0, 1), default=0.3)
    parser.add_argument("--hours", type=real(0, 1000), default=None, help="stop (resumable) after this long")
    parser.add_argument("--finish", action="store_true", help="write the dataset from progress*.jsonl, write nothing new")
    parser.add_argument("--shard", type=shard(), default=(0, 1), help="i/n: this process writes every n-th base "
                        "prompt from the i-th (one process per core; run --finish once all are done)")
    Settings.add_arguments(parser, only=(*POLICY_SETTINGS, "embedder", "device", "cache_dir"))
    parser.set_defaults(policy=ARCHITECT)
    args = parser.parse_args(argv)
    if args.candidates < args.k:
        raise UserFacingError(f"--candidates ({args.candidates}) must be at least --k ({args.k}).")
    settings = Settings.from_args(args)
    out = check_out(args.out)
    embedder = load_embedder(settings=settings)
    from dppgrpo_core.models.policy import load_policy

    policy = None if args.finish else load_policy(settings=settings)
    rows, stats = build(args.n_base, args.seed, out, policy, embedder, args.k, args.candidates, args.suffix_fraction,
                        time_limit_s=args.hours * 3600 if args.hours else None, shard=args.shard)
    stats["architect"] = settings.policy
    write_dataset(rows, stats, CARD.format(**stats, kept=stats["n_base"] * args.k,
                                           words="{}–{}".format(*WRITING["words"])), out)
    print(f"{stats['n_base']} base prompts × {args.k} written variants → {args.out} (train {stats['train']}, test "
          f"{stats['test']}; {stats['tried']} tried, {stats['too_few_variants']} with too few survivors)")
    return 0


def main(argv=None) -> int:
    """The command line: 0, or 2 with one line on stderr for bad input."""
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
