"""The one chat format of the policy, shared by inference and training, and the cleaning of its replies.

    messages = build_messages("a dog at the beach", ["A low-angle tracking shot of a dog at the beach."])
    prompt = clean_prompt(reply)                 # one line, labels, numbers and quotes stripped
    degenerate_reason(prompt, earlier_prompts)   # None, or why the reply is unusable

The trainer builds its SFT and GRPO examples with `build_messages`, so an adapter sees at
inference exactly the format it learned.
"""

from __future__ import annotations

import re
from typing import Sequence

from dppgrpo_core.vocabulary import WRITING

# The rules of a rich prompt come from the vocabulary's `writing` section (the architect's instruction and the
# checks read the same): one paragraph in the anchors' form, kept faithful to q. Training teaches the
# set-conditioned behaviour in this same format.
SYSTEM_PROMPT = (
    f"You write prompts for a text-to-video model. Each is one paragraph of {WRITING['words'][0]} to "
    f"{WRITING['words'][1]} words that describes {WRITING['covers']}. Keep {WRITING['keeps']}. Avoid "
    f"{WRITING['avoid']}. Reply with the prompt only.")

MAX_CLEANED_CHARS = 900  # a cleaned prompt is cut at a word boundary below this (a rich 100-word prompt fits)

# The anchors' instruction (Wan2.1's prompt extender, LTX-Video's enhancer, HunyuanVideo's rewriter, in one
# paragraph): one rich description per call, none set-aware. The `extend` method's peer baseline.
EXTEND_SYSTEM_PROMPT = (
    "You expand short prompts for a text-to-video model. Rewrite the user's prompt as one detailed description "
    "of 80 to 100 words in a single paragraph: the subject's look, count and posture; the action in simple verbs "
    "in time order; the setting; the light and style; the shot size, camera angle and camera movement. Keep any "
    "quoted text and style words exactly as given, add no new major objects, and keep the action short enough for "
    "a five-second clip. Reply with the description only.")
MAX_NEW_TOKENS = 160  # a 100-word prompt and its full stop, for the writer and the peer baseline alike
# A chat token, and the role name that may follow it ("<|im_start|>assistant").
_CHAT_TOKENS = re.compile(r"(?:<\|[^|>]*\|>|</?s>|\[/?INST\]|<pad>|<unk>)(?:\s*(?:system|user|assistant)\b)?")
_LEADING_LABEL = re.compile(
    r"^\s*(?:(?:new|next|rewritten|video|improved)?\s*(?:prompt|variant|version|rewrite|answer)\s*\d*\s*[:：.-]\s*)+",
    re.IGNORECASE,
)
_LEADING_NUMBER = re.compile(r"^\s*(?:[-*•#>]+|\(?\d{1,2}[.):]|\d{1,2}\s*-)\s*")
_QUOTES = "\"'“”‘’`«»"


def build_messages(query: str, previous: Sequence[str] = (), system: str = SYSTEM_PROMPT) -> list[dict]:
    """Chat messages for (s, q, R_q): the system instruction s, the user's prompt q, the prompts made so far.

    >>> build_messages("a red car", ["A drone shot of a red car at dawn."])[1]["content"].splitlines()[-1]
    '1. A drone shot of a red car at dawn.'
    """
    ask = f'Write a video prompt for "{query.strip()}".'
    if previous:
        earlier = "\n".join(f"{i}. {p}" for i, p in enumerate(previous, 1))
        content = f"{ask} Make it differ from the earlier prompts in {WRITING['vary']}. Earlier prompts:\n{earlier}"
    else:
        content = ask
    return [{"role": "system", "content": system}, {"role": "user", "content": content}]


def build_extend_messages(query: str) -> list[dict]:
    """Chat messages of the peer baseline: the anchors' instruction and q, no set.

    >>> build_extend_messages("a red car")[1]["content"]
    'a red car'
    """
    return [{"role": "system", "content": EXTEND_SYSTEM_PROMPT}, {"role": "user", "content": query.strip()}]


def clean_prompt(text: str, max_chars: int = MAX_CLEANED_CHARS) -> str:
    """Strip chat tokens, numbering, labels such as "Prompt:", quotes and extra lines; bound the length."""
    text = _CHAT_TOKENS.sub(" ", text or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    first = lines[0]
    # A lone label line ("Prompt:") puts the prompt on the next line.
    if _LEADING_LABEL.sub("", first).strip(" :" + _QUOTES) == "" and len(lines) > 1:
        first = lines[1]
    for _ in range(3):  # labels, numbers and quotes nest in any order: "1. Prompt: \"...\""
        first = _LEADING_NUMBER.sub("", first)
        first = _LEADING_LABEL.sub("", first)
        first = first.strip().strip(_QUOTES).strip()
    first = re.sub(r"\*\*|__", "", first)  # markdown bold, which small chat models like to add
    first = re.sub(r"\s+", " ", first).strip()
    # A generation cut off by the token limit ends mid-sentence: keep its complete sentences.
    if first and first[-1] not in ".!?" and re.search(r"[.!?]\s", first):
        first = first[: max(m.end() for m in re.finditer(r"[.!?](?=\s)", first))]
    if len(first) > max_chars:
        cut = first[:max_chars].rsplit(" ", 1)[0]
        first = cut.rstrip(",;:- ") + "."
    return first


def degenerate_reason(prompt: str, previous: Sequence[str] = ()) -> str | None:
    """Why a cleaned generation is unusable (empty, too short, a token loop, a verbatim repeat), else None.

    >>> degenerate_reason("a dog"), degenerate_reason("A drone shot of a dog on a beach.")
    ('too short', None)
    """
    words = prompt.lower().split()
    if not words:
        return "empty"
    if len(words) < 3:
        return "too short"
    if len(words) >= 8 and len(set(words)) / len(words) < 0.35:
        return "repetitive"
    if any(prompt.strip().lower() == p.strip().lower() for p in previous):
        return "verbatim repeat of an earlier prompt"
    return None
