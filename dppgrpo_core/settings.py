"""One settings object for every entry point: model choices, device and paths.

Precedence: command-line flag > environment variable (DPPGRPO_<FIELD>) > default.

    >>> s = Settings.from_env({"DPPGRPO_POLICY": "Qwen/Qwen2-7B-Instruct"})
    >>> s.policy
    'Qwen/Qwen2-7B-Instruct'

    parser = argparse.ArgumentParser(); Settings.add_arguments(parser)
    settings = Settings.from_args(parser.parse_args())
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

# Names that resolve to models shipped inside PyPI wheels, so the defaults run offline.
PACKAGED_EMBEDDER = "packaged:all-MiniLM-L6-v2"
PACKAGED_POLICY = "packaged:SmolLM2-135M-Instruct"
# Opt-in stronger instruct policies, joined from split GGUF wheels by `make models` (dppgrpo_core/models/split.py).
PACKAGED_QWEN_05B = "packaged:Qwen2.5-Coder-0.5B-Instruct"
PACKAGED_QWEN_15B = "packaged:Qwen2.5-Coder-1.5B-Instruct"
PACKAGED_POLICIES = (PACKAGED_POLICY, PACKAGED_QWEN_05B, PACKAGED_QWEN_15B)
# The packaged SmolLM2 with the LoRA adapter trained in this repository (models/SmolLM2-135M-DPP-GRPO,
# issue 14): same base weights, the adapter applied on load. The default policy: on 20 held-out VBench
# prompts it keeps q and names a shot far more often than the untrained base or the Qwen policies
# (BENCHMARKS.md); the untrained base stays one choice away (PACKAGED_POLICY).
PACKAGED_TRAINED_POLICY = "packaged:SmolLM2-135M-DPP-GRPO"
PACKAGED_IMAGE_ENCODER = "packaged:efficientnet-lite0"
# The settings that choose and run a policy: every command line that expands a set offers these flags.
POLICY_SETTINGS = ("policy", "adapter", "engine", "threads", "openai_base_url")


def _default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dppgrpo")


@dataclass
class Settings:
    embedder: str = PACKAGED_EMBEDDER  # sentence-transformers model: packaged name, Hub id or local path
    policy: str = PACKAGED_TRAINED_POLICY  # causal LM that rewrites prompts: packaged name, Hub id or local path
    adapter: str | None = None  # optional peft LoRA folder on the policy's base weights (replaces the default's own)
    device: str = "auto"  # "auto" picks cuda when available, else cpu; or "cpu", "cuda", "cuda:1", ...
    cache_dir: str = field(default_factory=_default_cache_dir)  # converted models, rendered videos, benchmark caches
    image_encoder: str = PACKAGED_IMAGE_ENCODER  # video-frame features: packaged EfficientNet-Lite0, or a CLIP path / Hub id
    video_model: str = "wan2.1"  # render backend: wan2.1, cogvideox, tiny-random-wan, or command:TEMPLATE
    annotations_db: str = "data/annotations.db"  # SQLite file of the human study (on a Space: a mounted storage path)
    media_root: str | None = None  # folder study clips may come from besides a manifest's own (the app's uploads: here)
    engine: str = "auto"  # local policy engine: auto (ctranslate2 where it loads the policy, else transformers), ctranslate2, transformers
    threads: str = "auto"  # CPU threads per model: auto (half the cores, at least 1: the fastest here) or N
    # The server of `--policy openai:MODEL`, by the openai client's own variables (OPENAI_BASE_URL, OPENAI_API_KEY).
    openai_base_url: str | None = None
    openai_api_key: str | None = field(default=None, repr=False)  # a secret: environment only, never a flag, never shown

    ENV_PREFIX = "DPPGRPO_"
    # Settings read from another program's variable (the openai client's), not DPPGRPO_<FIELD>.
    ENV_NAMES = {"openai_base_url": "OPENAI_BASE_URL", "openai_api_key": "OPENAI_API_KEY"}
    NO_FLAG = ("openai_api_key",)  # a key on a command line is visible to every local user in `ps`

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "Settings":
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            key = cls.ENV_NAMES.get(f.name, cls.ENV_PREFIX + f.name.upper())
            if environ.get(key):
                values[f.name] = environ[key]
        return cls(**values)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, only: tuple[str, ...] | None = None) -> None:
        """Add one `--field` flag per setting (default: the environment's value, else the default)."""
        for f in fields(cls):
            if (only is not None and f.name not in only) or f.name in cls.NO_FLAG:
                continue
            flag = "--" + f.name.replace("_", "-")
            env = cls.ENV_NAMES.get(f.name, cls.ENV_PREFIX + f.name.upper())
            parser.add_argument(flag, dest=f.name, default=None, help=f"(env {env})")

    @classmethod
    def from_args(cls, args: argparse.Namespace, environ: dict | None = None) -> "Settings":
        base = cls.from_env(environ)
        overrides = {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) not in (None, "")}
        return dataclasses.replace(base, **overrides)

    def resolved_device(self) -> str:
        """The device to run on: "auto" resolved, anything else checked (see `check_device`)."""
        return self.check_device()

    def cpu_threads(self) -> int:
        """CPU threads per model: the number given, else ("auto") half the cores, at least 1, for either engine.

        On this 2-core machine one thread decodes fastest with both engines: torch's spinning threads ran
        4-7x slower than one thread whenever another job held a core, and ctranslate2 decoded the shipped
        policy in 24-28 ms per step on one thread against 40-53 ms on two, idle (BENCHMARKS.md, "Policy
        engines"). Half the cores also leaves the app's other requests (dpp-compose, the study) a core.

        >>> Settings(threads="3").cpu_threads(), Settings(threads="auto").cpu_threads() >= 1
        (3, True)
        """
        from dppgrpo_core.errors import UserFacingError

        if self.threads in ("auto", "", None):
            cores = os.cpu_count() or 2
            return max(1, cores // 2)
        try:
            value = int(self.threads)
        except (TypeError, ValueError):
            value = 0
        if not 1 <= value <= 1024:
            raise UserFacingError("threads must be auto or a whole number from 1 to 1024 (--threads / DPPGRPO_THREADS).")
        return value

    def check_device(self) -> str:
        """The device setting, resolved and checked once for every loader (`resolve_device`).

        >>> Settings(device="cpu").check_device()
        'cpu'
        """
        return resolve_device(self.device)

    @property
    def cache_path(self) -> Path:
        path = Path(self.cache_dir).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path


def resolve_device(device_name: str) -> str:
    """A device setting resolved ("auto": CUDA when visible, else the CPU) and checked; UserFacingError names it.

    >>> resolve_device("cpu")
    'cpu'
    >>> resolve_device("bogus")
    Traceback (most recent call last):
    ...
    dppgrpo_core.errors.UserFacingError: device 'bogus' is not a device: use auto, cpu, cuda, cuda:N or mps (--device / DPPGRPO_DEVICE).
    """
    import torch

    from dppgrpo_core.checks import shown
    from dppgrpo_core.errors import UserFacingError

    if device_name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device_name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise UserFacingError(f"device {shown(device_name)} is not a device: use auto, cpu, cuda, cuda:N or mps "
                              "(--device / DPPGRPO_DEVICE).")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserFacingError(f"device {device_name!r}: no CUDA GPU is visible here; use --device cpu or auto.")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserFacingError(f"device {device_name!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s).")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserFacingError(f"device {device_name!r}: Apple's MPS is not available here; use --device cpu or auto.")
    return device_name
