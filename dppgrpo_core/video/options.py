"""What to render and how: `RenderSettings` (one home of the render options), a job and its result,
and the checks of prompts and seeds.

    >>> RenderSettings(steps=4).filled({"steps": 40, "fps": 16}).fps
    16
    >>> parse_seeds("0, 1, 2", 3)
    [0, 1, 2]
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from pathlib import Path

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.sets import MAX_PROMPT_CHARS, MAX_PROMPTS


@dataclass(frozen=True)
class RenderSettings:
    """What to render and how. None means "the model's default" (see `backends.MODEL_DEFAULTS`)."""

    steps: int | None = None  # denoising steps
    frames: int | None = None  # frames per video (Wan: 4k+1)
    guidance: float | None = None  # classifier-free guidance scale
    height: int | None = None  # pixels, a multiple of 16
    width: int | None = None
    fps: int | None = None  # playback rate written into the mp4
    negative_prompt: str | None = None
    dtype: str = "auto"  # "auto" (the model card's on GPU, float32 on CPU), "bfloat16", "float16", "float32"
    # Memory and run options: they do not change what is rendered, so they are not part of the cache key.
    batch_size: int = 4  # prompts per pipeline call; halved automatically on CUDA out-of-memory
    cpu_offload: bool = False  # diffusers model CPU offload: each component moves to the GPU only while it runs
    vae_tiling: bool = False  # decode the video in spatial tiles (less peak memory at high resolution)
    vae_slicing: bool = False  # decode one video of the batch at a time
    allow_cpu: bool = False  # let a full-size model run on CPU (hours per video); refused otherwise
    timeout_s: float = 3600.0  # per video, for command: backends

    CACHE_FIELDS = ("steps", "frames", "guidance", "height", "width", "fps", "negative_prompt", "dtype")

    def filled(self, defaults: dict) -> "RenderSettings":
        """These settings with every None replaced by the model's default."""
        return dataclasses.replace(self, **{k: v for k, v in defaults.items() if getattr(self, k) is None})

    def cache_fields(self) -> dict:
        return {name: getattr(self, name) for name in self.CACHE_FIELDS}

    # Accepted ranges of the numbers (None = the model's default): checked once for the app and the command line.
    RANGES = {"steps": (1, 1000), "frames": (1, 1024), "guidance": (0, 100), "height": (16, 4096),
              "width": (16, 4096), "fps": (1, 240), "batch_size": (1, MAX_PROMPTS)}
    WHOLE = ("steps", "frames", "height", "width", "fps", "batch_size")

    def check(self) -> None:
        """UserFacingError (one line) for a number that is not finite, not whole where it must be, or out of
        RANGES; a dtype that is not one of auto, bfloat16, float16, float32; a negative prompt that is not text."""
        for name, (low, high) in self.RANGES.items():
            value = getattr(self, name)
            if value is not None:
                checks.number(value, name.replace("_", " "), low, high, whole=name in self.WHOLE)
        if self.dtype not in ("auto", "bfloat16", "float16", "float32"):
            raise UserFacingError(f"dtype must be auto, bfloat16, float16 or float32, got {checks.shown(self.dtype)}.")
        if self.negative_prompt is not None:
            checks.text(self.negative_prompt, "the negative prompt", MAX_PROMPT_CHARS, allow_empty=True)
        checks.number(self.timeout_s, "timeout", 0.001, 7 * 24 * 3600)


@dataclass
class VideoJob:
    index: int  # position in the prompt set
    prompt: str
    seed: int
    path: Path  # final cached file
    tmp: Path  # where the backend writes; moved onto `path` once complete


@dataclass
class VideoResult:
    index: int
    prompt: str
    seed: int
    path: str | None  # the mp4, or None when it failed
    error: str | None = None
    cached: bool = False  # True when the file was already there
    seconds: float = 0.0  # render time of its batch, shared evenly among the batch's videos

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def seed_list(seeds, n: int) -> list[int]:
    """One seed per prompt. An int gives every prompt the same seed, so the videos differ only by prompt.
    Each seed is a whole number from 0 to 2**63 - 1 (UserFacingError otherwise)."""
    if seeds is None:
        seeds = 0
    if isinstance(seeds, (numbers.Number, str)):
        return [checks.seed(seeds)] * n
    seeds = [checks.seed(s) for s in seeds]
    if len(seeds) != n:
        raise UserFacingError(f"Give one seed for all prompts or one per prompt: {len(seeds)} seeds for {n} prompts.")
    return seeds


def parse_seeds(text: str | int | None, n: int) -> list[int]:
    """'7' -> [7]*n; '0, 1, 2' -> [0, 1, 2] (one per prompt)."""
    if text is None or str(text).strip() == "":
        return seed_list(0, n)
    text = str(text)
    if len(text) > 20 * (MAX_PROMPTS + 1):
        raise UserFacingError(f"Seeds: too long a list ({len(text):,} characters).")
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise UserFacingError(f"Seeds must be whole numbers separated by commas, got {checks.shown(text)}.") from None
    return seed_list(values[0] if len(values) == 1 else values, n)
