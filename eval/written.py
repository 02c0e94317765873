"""What a written set is judged by besides Vendi (issue 24): its length, its content diversity, its stock phrases.

    >>> content_text("A low-angle wide shot of a fox at dusk, the camera orbits slowly around the subject.")
    'A of a fox , .'
    >>> recurring_phrase(["a fox runs with water glistening nearby", "a fox naps with water glistening nearby"],
    ...                  "a fox")
    ('with water glistening nearby', 2)

*Content diversity* is Vendi after the shot, camera, lens, light and time words are masked (`content_text`): what
is left is what is filmed (the subject's look, its motion, the setting), so a set that varies only the camera
scores low. A *recurring phrase* is a run of four words not in q that several prompts of one set share (the
trained policy's "with water glistening nearby" in 7 of 8): the acceptance allows at most 3 of 8. A writer that
says one thing twice within a prompt shows it by `repeated_phrases` (an added phrase) or `repeated_sentences`.
"""

from __future__ import annotations

import collections
import re

from dppgrpo_core.vocabulary import AXES, DETECT, words_pattern

# Whole axis values first (longest first, so "a slow push-in tightens the frame" goes as one), then the detectors'
# words for what is left ("golden hour", "85mm", "pan").
_MASKED_AXES = ("shot", "angle", "camera", "lens", "light", "time")
_VALUES = sorted({v for axis in _MASKED_AXES for v in AXES[axis]}, key=len, reverse=True)
_MASK = [re.compile(re.escape(v), re.IGNORECASE) for v in _VALUES] + [
    words_pattern(DETECT[name]) for name in ("shot", "camera_move", "lens", "light", "time")]
_WORD = re.compile(r"[a-z0-9']+")
SENTENCE = re.compile(r"[^.!?]+[.!?]+(?:\s+|$)")  # a sentence with its closing marks and the space after


def content_text(prompt: str) -> str:
    """The prompt with its shot, angle, camera, lens, light and time words taken out (what is filmed is left)."""
    for pattern in _MASK:
        prompt = pattern.sub(" ", prompt)
    prompt = re.sub(r"\b(?:the camera|shot on|camera|shots?|lens|angle)\b", " ", prompt, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", prompt).strip()


def recurring_phrase(prompts: list[str], query: str, n: int = 4) -> tuple[str, int]:
    """The added n-word phrase that the most prompts of a set share, and how many share it ("", 0 if none).

    Added: none of its words is one of q's content words (`eval.judge`), so q said again ("… a snowy field a") is
    not a stock phrase, and "with water glistening nearby" is.
    """
    counts = collections.Counter(g for p in prompts for g in added_phrases(p, query, n))
    if not counts:
        return "", 0
    phrase, count = max(counts.items(), key=lambda item: (item[1], item[0]))
    return phrase, count


def added_phrases(prompt: str, query: str, n: int = 4) -> set[str]:
    """The prompt's n-word phrases none of whose words is one of q's content words (`eval.judge`).

    >>> sorted(added_phrases("A fox naps. The camera is a wide shot.", "a fox"))
    ['camera is a wide', 'is a wide shot', 'naps the camera is', 'the camera is a']
    """
    return set(_added_ngrams(prompt, query, n))


def repeated_phrases(prompt: str, query: str, n: int = 4) -> list[str]:
    """The added n-word phrases (two content words or more, none of q's) that one prompt says twice or more: a
    writer's loop ("28mm wide-angle lens, 30mm wide-angle lens, …") or a restatement ("casting a soft glow over
    the water" twice).

    >>> repeated_phrases("A fox naps, casting a soft glow; later, casting a soft glow again.", "a fox")
    ['casting a soft glow']
    >>> repeated_phrases("A red fox runs; the red fox runs on.", "a red fox running")
    []
    """
    from .judge import content_words

    counts = collections.Counter(_added_ngrams(prompt, query, n))
    return sorted(g for g, count in counts.items() if count > 1 and len(content_words(g)) >= 2)


def repeated_sentences(prompt: str) -> list[str]:
    """The prompt's sentences that say nothing an earlier one did not: their content words (three or more) are all
    in one earlier sentence. The 1.5B architect ends on q said again ("The chef is walking with an umbrella, in
    short bursts." twice), which `repeated_phrases` cannot see: every phrase of it holds one of q's words.

    >>> repeated_sentences("A chef walks with an umbrella. Rain falls. The chef is walking with an umbrella.")
    ['The chef is walking with an umbrella.']
    >>> repeated_sentences("A fox runs across a field. The fox runs across the field at dusk.")
    []
    """
    from .judge import content_words

    earlier: list[set[str]] = []
    found = []
    for sentence in SENTENCE.findall(prompt):
        said = set(content_words(sentence))
        if len(said) >= 3 and any(said <= before for before in earlier):
            found.append(sentence.strip())
        earlier.append(said)
    return found


def borrowed_phrases(prompt: str, source: str, n: int = 3) -> set[str]:
    """The n-word phrases of the prompt found in `source` with at least two content words, once the camera and
    light words are taken out (`content_text`): what a writer copied from an example it was shown ("soft stripes
    behind"), not shared grammar ("in the middle") or the trade's words ("a low angle", "a medium wide").

    >>> sorted(borrowed_phrases("An owl runs, the marsh making soft stripes behind it.",
    ...                         "The reeds press into soft stripes behind it."))
    ['soft stripes behind']
    """
    from .judge import content_words

    shared = set(_ngrams(content_text(prompt), n)) & set(_ngrams(content_text(source), n))
    return {g for g in shared if len(content_words(g)) >= 2}


def _added_ngrams(prompt: str, query: str, n: int) -> list[str]:
    """The prompt's n-word phrases, in order and with repeats, none of whose words is one of q's content words."""
    from .judge import content_words, stem

    said = set(content_words(query))
    return [g for g in _ngrams(prompt, n) if not any(stem(w) in said for w in g.split())]


def _ngrams(text: str, n: int) -> list[str]:
    words = _WORD.findall(text.lower())
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


# ---------------------------------------------------------------- the architect's sets against dpp-compose


def compare_dataset(dataset: str, n: int, seed: int = 0, settings=None, judge_encode=None, embedder=None) -> str:
    """A markdown table: the written dataset's R_q (the student's teacher) against dpp-compose's sets for the
    same first `n` base prompts, scored as `eval.set_quality` scores a method's sets (both embedders)."""
    import pandas as pd

    from dppgrpo_core.errors import UserFacingError
    from dppgrpo_core.expand import run_expansion
    from dppgrpo_core.models.embedder import embed, load_embedder
    from dppgrpo_core.settings import Settings

    from .judge_model import load_judge
    from .set_quality import _memo, score_set, summarise

    frame = pd.read_parquet(f"{dataset}/train.parquet").head(n)  # the builders' format; eval does not import training
    rows = [{"query": q, "variants": list(v)} for q, v in zip(frame["query"], frame["variants"])]
    if not rows:
        raise UserFacingError(f"{dataset} has no training rows yet: nothing to compare.")
    settings = settings or Settings()
    embedder = embedder or load_embedder(settings=settings)
    if judge_encode is None:
        judge = load_judge(settings, None)
        judge_encode = lambda texts: embed(texts, judge).numpy()  # noqa: E731
    encoders = {"minilm": _memo(lambda texts: embed(texts, embedder).numpy()), "mpnet": _memo(judge_encode)}
    sets = {"written (teacher R_q)": [r["variants"] for r in rows],
            "dpp-compose": [[s["prompt"] for s in run_expansion(r["query"], len(r["variants"]), "dpp-compose", seed,
                                                                settings=settings, embedder=embedder)["steps"]]
                            for r in rows]}
    lines = ["| sets | words | keeps % | coherent % | Vendi faithful MiniLM / mpnet | content Vendi faithful MiniLM / "
             "mpnet | most prompts sharing an added 4-word phrase |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, prompt_sets in sets.items():
        scored = [{**score_set(r["query"], prompts, encoders), "seconds": 0.0} for r, prompts in zip(rows, prompt_sets)]
        s = summarise(scored, list(encoders))
        lines.append(f"| {name} | {s['words']:.0f} | {s['keeps_pct']:.0f} | {s['coherent_pct']:.0f} | "
                     f"{s['vendi_minilm_faithful']:.2f} / {s['vendi_mpnet_faithful']:.2f} | "
                     f"{s['vendi_minilm_content']:.2f} / {s['vendi_mpnet_content']:.2f} | "
                     f"{s['phrase_repeats_max']} of {len(prompt_sets[0])} |")
    return "\n".join(lines) + "\n"


def reward_by_length(sets: list[tuple[str, list[str]]], encode) -> dict:
    """Does the paper's reward pay for a rich prompt or for a short one? Each set's variant p (from the second on)
    against its first sentence alone, same words cut short: the DPP gain against the variants before it, and the
    relevance cos(p, q)·max cos(p, r) against the set's other variants (R_q less p, as a new completion meets R_q).
    `encode(texts)` → unit-row tensor. Means and the share where the first sentence alone scores higher.

    >>> import torch; from tests.fakes import HashingEmbedder
    >>> encode = lambda texts: torch.as_tensor(HashingEmbedder().encode(texts))
    >>> out = reward_by_length([("a fox", ["A fox naps. Snow falls.", "A fox runs. Dusk comes. Wind blows."])], encode)
    >>> out["pairs"], sorted(out)[:3]
    (1, ['first_sentence_gain', 'first_sentence_gain_higher', 'first_sentence_relevance'])
    """
    import torch

    from dppgrpo_core.maths.dpp import marginal_gains
    from dppgrpo_core.maths.rewards import relevance

    rows = []
    for query, variants in sets:
        vectors, q = encode(variants), encode([query])
        for i in range(1, len(variants)):
            sentences = SENTENCE.findall(variants[i])
            if len(sentences) < 2:
                continue
            both = torch.cat([vectors[i : i + 1], encode([sentences[0].strip()])])  # the whole, its first sentence
            others = torch.cat([vectors[:i], vectors[i + 1 :]])
            gain, rel = marginal_gains(vectors[:i], both), relevance(q, both, others)
            rows.append((len(variants[i].split()), len(sentences[0].split()), *gain.tolist(), *rel.tolist()))
    t = torch.tensor(rows, dtype=torch.float64).reshape(-1, 6)
    return {"pairs": len(rows), "whole_words": float(t[:, 0].mean()), "first_sentence_words": float(t[:, 1].mean()),
            "whole_gain": float(t[:, 2].mean()), "first_sentence_gain": float(t[:, 3].mean()),
            "first_sentence_gain_higher": float((t[:, 3] > t[:, 2]).double().mean()),
            "whole_relevance": float(t[:, 4].mean()), "first_sentence_relevance": float(t[:, 5].mean()),
            "first_sentence_relevance_higher": float((t[:, 5] > t[:, 4]).double().mean())}


def main(argv=None) -> int:
    """`python -m eval.written --dataset data/written --n 20`: the table above, on stdout (exit 2: one line);
    `--reward-length`: `reward_by_length` over the dataset's sets, with the rewards' embedder."""
    from dppgrpo_core.cli import ArgumentParser, run_main, whole

    def _main(argv) -> int:
        parser = ArgumentParser(prog="python -m eval.written", description=compare_dataset.__doc__.split(":")[0])
        parser.add_argument("--dataset", required=True, help="a folder of training.write_data (or build_data)")
        parser.add_argument("--n", type=whole(1, 10_000), default=20, help="base prompts, from the first")
        parser.add_argument("--reward-length", action="store_true", help="the paper's reward for a whole variant "
                            "against its first sentence alone")
        args = parser.parse_args(argv)
        if not args.reward_length:
            print(compare_dataset(args.dataset, args.n))
            return 0
        import pandas as pd

        from dppgrpo_core.models.embedder import embed, load_embedder

        embedder = load_embedder()
        frame = pd.concat([pd.read_parquet(f"{args.dataset}/{split}.parquet") for split in ("train", "test")]).head(args.n)
        out = reward_by_length([(q, list(v)) for q, v in zip(frame["query"], frame["variants"])],
                               lambda texts: embed(texts, embedder))
        print("\n".join(f"{key}: {value:.3f}" for key, value in out.items()))
        return 0

    return run_main(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
