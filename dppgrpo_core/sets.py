"""A prompt set, the one shape every part passes around: the Expand tab to Render, a --json file to the
renderer, a rendered grid to the study.

    >>> s = PromptSet.from_json({"query": "a dog", "method": "iid", "steps": [{"prompt": "a dog running"}]})
    >>> s.prompts, s.to_json()["query"]
    (['a dog running'], 'a dog')
    >>> PromptSet.from_json(["a dog running", "a dog asleep"]).method is None
    True
    >>> RenderedSet.from_json({"query": "a dog", "prompts": ["a dog"], "videos": ["v.mp4"]}).videos
    ['v.mp4']

On disk and in a browser's state a set is its `to_json()` dict: `python -m dppgrpo_core.expand --json`
writes one (with "steps", each step's scores), the Render tab and `python -m dppgrpo_core.video` add
"model", "videos" and "seeds". `from_json` reads any of them, or a bare JSON list of prompt strings.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError

MAX_PROMPTS = 256  # prompts in one set (one render request)
MAX_PROMPT_CHARS = 2000  # characters of one prompt, q too (expand.config.check_query); T5 reads ~512 tokens
MAX_SET_FILE_BYTES = 10_000_000  # a set file a command line reads (up to MAX_PROMPTS prompts with their steps)
# A set file uploaded to the app, stricter: it holds at most expand.config.MAX_K_APP prompts (with every dpp-rerank
# candidate, well under this), and the server parses what any client sends.
MAX_UPLOADED_SET_BYTES = 1_000_000


@dataclass
class PromptSet:
    """One query's prompts and how they were made (None where unknown: a list typed by hand)."""

    prompts: list[str]
    query: str | None = None
    method: str | None = None  # an expansion method, "manual", or a study's label
    seed: int | None = None
    k: int | None = None
    config: dict | None = None  # ExpandConfig as a dict
    policy: str | None = None
    steps: list[dict] = field(default_factory=list)  # per-step records (gain, relevance, ...) when `expand` made it
    timing: dict | None = None

    def to_json(self) -> dict:
        """The JSON-ready dict, every field present (null where unknown)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data, name: str = "The set") -> "PromptSet":
        """A set from any of its JSON shapes (see the module doc); UserFacingError (one line) when it holds no
        prompts, or a prompt is not text (empty, too long, a control character)."""
        if isinstance(data, list):
            data = {"prompts": data}
        if not isinstance(data, dict):
            raise UserFacingError(f"{name} must be a JSON object or a list of prompt strings.")
        steps = data.get("steps")
        if "prompts" in data:
            prompts = data["prompts"]
        else:  # an expansion's --json output: the prompts are in its steps
            prompts = [s.get("prompt") if isinstance(s, dict) else None for s in steps] if isinstance(steps, list) else None
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) and checks.stripped(p)
                                                                   for p in prompts):
            raise UserFacingError(
                f"{name} must hold a non-empty JSON list of prompt strings, or an expansion's --json output "
                '(an object with "steps": [{"prompt": ...}, ...]).')
        # Other fields are kept when they have their type, else dropped: callers that act on them check them.
        values = {f.name: data[f.name] for f in dataclasses.fields(cls)
                  if f.name in data and isinstance(data[f.name], _JSON_TYPES[f.name])
                  and not isinstance(data[f.name], bool)}
        values.update(prompts=check_prompts(prompts), steps=steps if isinstance(steps, list) else [],
                      query=_optional_text(data.get("query"), "query", MAX_PROMPT_CHARS),
                      method=_optional_text(data.get("method"), "method", 100))
        return cls(**values)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "PromptSet":
        """A set from a JSON file (at most MAX_SET_FILE_BYTES, UTF-8, strict JSON: no NaN)."""
        return cls.from_json(read_json_file(path), checks.shown(str(path)))


@dataclass
class RenderedSet(PromptSet):
    """A set with one video per prompt: `videos[i]` shows `prompts[i]`; failures are listed apart."""

    videos: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    model: str | None = None
    failed: list[dict] = field(default_factory=list)  # {"prompt", "error"} of each video that did not render


_JSON_TYPES = {"prompts": list, "query": str, "method": str, "seed": int, "k": int, "config": dict, "policy": str,
               "steps": list, "timing": dict, "videos": list, "seeds": list, "model": str, "failed": list}


def check_prompts(prompts) -> list[str]:
    """The prompts as a list of text (valid Unicode, no control characters, at most MAX_PROMPT_CHARS each and
    MAX_PROMPTS in all); an empty prompt stays (a renderer reports it as that video's error)."""
    prompts = list(prompts)
    if not prompts:
        raise UserFacingError("There are no prompts to render.")
    if len(prompts) > MAX_PROMPTS:
        raise UserFacingError(f"At most {MAX_PROMPTS} prompts per render, got {len(prompts)}.")
    return [checks.text(p, f"prompt {i}", MAX_PROMPT_CHARS, multiline=True, allow_empty=True)
            for i, p in enumerate(prompts, 1)]


def _optional_text(value, name: str, max_chars: int) -> str | None:
    return checks.text(value, name, max_chars, multiline=True) if isinstance(value, str) else None


def read_json_file(path: str | os.PathLike):
    """The JSON value in a file; UserFacingError (one line) for a missing, huge, non-UTF-8 or non-JSON file, or
    one that is not a regular file (a device, a FIFO): see `checks.read_file` and `checks.json_value`."""
    return checks.json_value(checks.read_file(path, MAX_SET_FILE_BYTES, "prompts file"), checks.shown(str(path)))
