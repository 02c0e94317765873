"""An independent judge of prompt sets: lexical checks of each prompt, and a second sentence embedder.

    python -m eval.judge prepare                 # fetch all-mpnet-base-v2 once (what `make judge` runs)
    python -m eval.judge check "A wide shot of a dog running on a beach." --query "a dog running"

No reward uses anything here, so a method cannot be tuned against it by accident.

Per-prompt checks (pure functions, no model):

- `keeps_subject_and_action(prompt, query)`, lexical. The *content words* of q are its words
  (runs of letters or digits, lower-cased, a possessive 's dropped, so "close-up" is two words)
  minus `STOP_WORDS`
  (articles, pronouns, prepositions, auxiliaries, number words, ...) and `GENERIC_WORDS` (words
  about the medium or its quality: video, shot, frame, still, style, beautiful, realistic, 4k, ...).
  Each word is reduced by `stem`: a small table of irregular forms (ran → run, men → man,
  people → person), then
  at most one suffix (-ies → -y, -es after s/x/z/ch/sh, -s, -ing, -ed; a doubled final consonant
  is undoubled, a final -e dropped; a stem never gets shorter than 3 letters), so "runs",
  "running", "ran" and "run" all become "run", "dogs" becomes "dog". The prompt keeps q's subject
  and action when every content stem of q is among the stems of all the prompt's words, except
  that a q with 5 or more content words may miss one (long VBench prompts carry adjectives a
  faithful rewrite may paraphrase) unless the missed word is one of q's style words (`style_words`:
  after its last comma, "…, black and white"); a q with up to 4 (most VBench prompts: "a dog running",
  "a traffic light on the left of a fire hydrant") must keep every one. Synonyms do not count
  ("puppy" for "dog" is a miss): strict on purpose. A q with no content word is kept by any
  prompt. The check is lexical only: it cannot see that a scene added around q is implausible.
- `names_shot_camera_or_lens(prompt)`: `CINEMATOGRAPHY` matches (case-insensitive, whole words)
  the vocabulary's `shot`, `camera_move` and `lens` detectors (dppgrpo_core/vocabulary.yaml): a
  shot size or angle (close-up, wide/full/establishing/two/over-the-shoulder/macro shot, aerial,
  bird's-eye, POV, low/high/Dutch/eye-level angle, ...), a camera move (pan as a move: "pans", "a
  slow pan", "pan across"; tilt up/down, dolly, tracking, crane shot, handheld, zoom, an orbiting
  camera, push-in, pull-back, a static or locked-off camera, drone shot/footage/flyover, FPV,
  steadicam, gimbal, rack focus, "the camera moves/follows/glides ...") or a lens (NN mm,
  wide-angle, telephoto, macro, fisheye, anamorphic, tilt-shift, shallow depth of field, bokeh).
  Time-lapse and slow motion are not camera work. Words that are often part of the scene do not
  count on their own ("a frying pan", "a crane", "a drone flying", "a satellite orbiting",
  "overhead sun"). Every shot, angle, camera move and lens the composer or the data builder can
  write is recognised (tests/test_vocabulary.py).
- `is_video_prompt(prompt)`: names a shot, camera or lens, has no `story_markers` (first-person
  pronouns, past-tense narration: "had been", "once upon a time", "was walking", "one day",
  "he said"; dialogue: a quoted span of two or more words) and has 5 to 120 words.
- `dppgrpo_core.vocabulary.contradictions(prompt, query)`: the coherence rules the prompt breaks,
  read with q (the rules of `dppgrpo_core/coherence.yaml`: a camera both still and moving, open sky
  indoors, a close-up from the air, two times of day, ...); `checks` calls a prompt *coherent* when it
  breaks none.

    >>> keeps_subject_and_action("A low-angle shot of a dog running along the beach at dusk.",
    ...                          "a dog running on the beach")
    True
    >>> keeps_subject_and_action("A cat sleeping on a sofa, 35mm lens.", "a dog running on the beach")
    False
    >>> content_words("A person is running in the park")
    ['person', 'run', 'park']
    >>> names_shot_camera_or_lens("Close-up of a red car, shot on a 50mm lens.")
    True
    >>> names_shot_camera_or_lens("A crane stands in a pond under the overhead sun.")
    False
    >>> is_video_prompt("A tracking shot follows a cyclist along a coastal road at golden hour.")
    True
    >>> is_video_prompt("Once upon a time I had been walking my dog; a wide shot of the park.")
    False
    >>> story_markers('She whispered "come back soon" as the camera pans away.')
    ['narration', 'dialogue']

The judge embedder (all-mpnet-base-v2, fetched by `prepare`) lives in eval/judge_model.py.
"""

from __future__ import annotations

import re
import sys

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.settings import Settings
from dppgrpo_core.vocabulary import DETECT, WRITING, contradictions, words_pattern

from .judge_model import JUDGE_NAME, prepare

# ---------------------------------------------------------------- faithfulness (lexical)

STOP_WORDS = frozenset("""
a an the this that these those some any each every all both either neither no nor not only own same such
i me my mine myself we us our ours ourselves you your yours yourself he him his himself she her hers herself it its
itself they them their theirs themselves
who whom whose which what where when why how there here than then so too very just also as if while
is are was were be been being am has have had having do does did doing can could will would shall should may
might must of in on at to from by with without into onto over under above below up down out off through across
along around about against between among behind beside besides beneath underneath beyond near next inside outside
toward towards upon within amid amidst alongside throughout
before after during until since and or but yet for nor via per
one two three four five six seven eight nine ten several many few more most much other another
""".split())
# Words about the medium, framing or quality rather than the scene's subject or action.
GENERIC_WORDS = frozenset("""
video videos clip clips footage scene scenes shot shots frame frames still image images picture pictures photo
photos view camera style styled beautiful realistic photorealistic cinematic detailed high quality hd 4k 8k
stunning amazing
""".split())
IRREGULAR = {"ran": "run", "men": "man", "women": "woman", "children": "child", "feet": "foot", "teeth": "tooth",
             "mice": "mouse", "geese": "goose", "leaves": "leaf", "wolves": "wolf", "knives": "knife",
             "sat": "sit", "swam": "swim", "flew": "fly", "rode": "ride", "ate": "eat", "drove": "drive",
             "people": "person", "fish": "fish", "sheep": "sheep"}
MAX_MISSES_LONG_QUERY = 1  # content words a faithful prompt may miss once q has LONG_QUERY of them
LONG_QUERY = 5
_TOKEN = re.compile(r"[a-z0-9]+")


def stem(word: str) -> str:
    """A crude stem: irregular table, then at most one suffix; consistent rather than linguistic.

    >>> [stem(w) for w in ("runs", "running", "run", "ran", "dances", "danced", "flies", "boxes", "bus")]
    ['run', 'run', 'run', 'run', 'danc', 'danc', 'fly', 'box', 'bus']
    """
    w = word.lower()
    if w in IRREGULAR:
        return IRREGULAR[w]
    for suffix, repl in (("ies", "y"), ("es", ""), ("ing", ""), ("ed", ""), ("s", "")):
        if not w.endswith(suffix) or len(w) - len(suffix) + len(repl) < 3:
            continue
        if suffix == "es" and not re.search(r"(?:s|x|z|ch|sh)es$", w):
            continue  # "waves" is wave + s, not wav + es
        if suffix == "s" and w.endswith("ss"):
            break  # "glass"
        w = w[: len(w) - len(suffix)] + repl
        if suffix in ("ing", "ed") and len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiouls":
            w = w[:-1]  # running -> runn -> run (but "falling" keeps "fall")
        break
    if len(w) > 3 and w.endswith("e") and not w.endswith("ee"):
        w = w[:-1]  # dance / dances / danced -> danc
    return w


def _stems(text: str) -> list[str]:
    return [stem(t) for t in _TOKEN.findall(text.lower().replace("'s", ""))]


def content_words(query: str) -> list[str]:
    """The stems of q's content words, in order, without repeats."""
    words = [t for t in _TOKEN.findall(query.lower().replace("'s", "")) if t not in STOP_WORDS | GENERIC_WORDS]
    return list(dict.fromkeys(stem(t) for t in words))


def missing_content_words(prompt: str, query: str) -> list[str]:
    """q's content stems that the prompt does not contain."""
    have = set(_stems(prompt))
    return [w for w in content_words(query) if w not in have]


def keeps_subject_and_action(prompt: str, query: str) -> bool:
    """Every content word of q is in the prompt (one may be missing when q has 5 or more, but none of its
    `style_words`); see the module doc.

    >>> keeps_subject_and_action("A white horse shakes off water in a misty valley.",
    ...                          "a white horse shaking off water in a misty valley, black and white")
    False
    """
    missing = missing_content_words(prompt, query)
    allowed = MAX_MISSES_LONG_QUERY if len(content_words(query)) >= LONG_QUERY else 0
    return len(missing) <= allowed and not set(missing) & set(style_words(query))


def style_words(query: str) -> list[str]:
    """The content stems of q after its last comma, its style or view words, which a faithful prompt keeps every
    one of: with one word of a long q allowed to go, the architect's kept prompts dropped "black and white" from
    "a white horse … , black and white" (24 of the 48 kept prompts whose q had such words).

    >>> style_words("a white horse in a misty valley, black and white"), style_words("a fox running")
    (['black', 'whit'], [])
    """
    return content_words(style_tail(query))


def style_tail(query: str) -> str:
    """q's words after its last comma, as q says them ("" when it has no comma).

    >>> style_tail("a fox napping, pixel art")
    'pixel art'
    """
    return query.rsplit(",", 1)[1].strip() if "," in query else ""


# ---------------------------------------------------------------- cinematography

CINEMATOGRAPHY = words_pattern(DETECT["shot"] + DETECT["camera_move"] + DETECT["lens"])


def names_shot_camera_or_lens(prompt: str) -> bool:
    """True when the prompt names a shot size, a camera move or a lens (`CINEMATOGRAPHY`)."""
    return CINEMATOGRAPHY.search(prompt) is not None


# ---------------------------------------------------------------- video prompt vs story prose

_FIRST_PERSON = re.compile(r"\bI\b|\bI'(?:m|ve|d|ll)\b|\b(?:me|my|mine|myself|we|our|ours|ourselves|we're|we've)\b|"
                           r"\bus\b", re.IGNORECASE)
_NARRATION = re.compile(
    r"\b(?:had\s+(?:been|never|always|just|once|already)|once\s+upon|long\s+ago|years\s+ago|one\s+day|the\s+end|"
    r"there\s+(?:was|were|lived)|(?:was|were)\s+\w+ing|(?:he|she|they)\s+(?:said|thought|felt|knew|remembered|"
    r"realized|realised|wondered|decided)|(?:said|asked|replied|whispered|shouted)\b)", re.IGNORECASE)
_DIALOGUE = re.compile(r"[\"“”][^\"“”]*\s[^\"“”]*[\"“”]")
MIN_WORDS, MAX_WORDS = 5, 120


def story_markers(prompt: str) -> list[str]:
    """Which marks of story prose the prompt shows: 'first person', 'narration', 'dialogue'."""
    text = prompt.replace("US ", "United States ")  # the country is not "us"
    found = []
    if _FIRST_PERSON.search(text):
        found.append("first person")
    if _NARRATION.search(text):
        found.append("narration")
    if _DIALOGUE.search(text):
        found.append("dialogue")
    return found


def is_video_prompt(prompt: str) -> bool:
    """Names a shot, camera or lens; no story-prose marker; 5 to 120 words."""
    return (MIN_WORDS <= len(prompt.split()) <= MAX_WORDS and names_shot_camera_or_lens(prompt)
            and not story_markers(prompt))


def is_rich(prompt: str) -> bool:
    """Of the length the writing rules ask for (the vocabulary's `writing.words`, inclusive): the anchors' form.

    >>> is_rich("A dog on a beach."), is_rich(" ".join(["word"] * 60))
    (False, True)
    """
    low, high = WRITING["words"]
    return low <= len(prompt.split()) <= high


def checks(prompt: str, query: str) -> dict[str, bool]:
    """Every check of one prompt against its q.

    >>> checks("A fixed camera with no movement, a slow pan sweeps across a dog running.", "a dog running")
    {'keeps': True, 'cinematic': True, 'video_prompt': True, 'coherent': False}
    """
    return {"keeps": keeps_subject_and_action(prompt, query), "cinematic": names_shot_camera_or_lens(prompt),
            "video_prompt": is_video_prompt(prompt), "coherent": not contradictions(prompt, query)}


# ---------------------------------------------------------------- command line


def _main(argv: list[str]) -> int:
    from dppgrpo_core.cli import ArgumentParser

    parser = ArgumentParser(prog="python -m eval.judge", description="Prepare the judge embedder; check a prompt.")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help=f"download and unzip {JUDGE_NAME} into CACHE/judges")
    Settings.add_arguments(prep, only=("cache_dir",))
    check = sub.add_parser("check", help="run the per-prompt checks on one prompt")
    check.add_argument("prompt")
    check.add_argument("--query", default="", help="q, for keeps_subject_and_action")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare(Settings.from_args(args))
        return 0
    if not args.prompt.strip():
        raise UserFacingError("the prompt to check is empty.")
    result = checks(args.prompt, args.query) if args.query else {"cinematic": names_shot_camera_or_lens(args.prompt),
                                                                  "video_prompt": is_video_prompt(args.prompt)}
    if args.query:
        result["missing"] = missing_content_words(args.prompt, args.query)
    result["story_markers"] = story_markers(args.prompt)
    result["contradictions"] = contradictions(args.prompt, args.query)
    print(result)
    return 0


def main(argv=None) -> int:
    from dppgrpo_core.cli import run_main

    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
