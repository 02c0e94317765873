"""Video backends behind `video.render_videos`: diffusers pipelines (Wan2.1, CogVideoX, tiny random
ones) and a command template for black-box APIs.

    >>> backend = load_backend("wan2.1")          # Wan-AI/Wan2.1-T2V-1.3B-Diffusers, paper settings
    >>> backend.defaults
    {'steps': 40, 'frames': 81, 'guidance': 6.0, 'height': 480, 'width': 832, 'fps': 16}
    >>> type(load_backend("command:veo3-cli --prompt {prompt} --seed {seed} --out {out}")).__name__
    'CommandBackend'

A backend has `cache_id` (what names its weights in the cache key: server-only, it may hold a folder or a
command with its API key), `public_id` (what anyone may see: a built-in name, or the family with
"(configured)"), `label` (for messages: a folder shows by its last part only), `defaults`,
`max_batch_size`, `resolve(render_settings, device)` (fill defaults, check them),
`prepare(render_settings, device)` (load; raise ModelUnavailable with what is missing) and
`render(jobs, render_settings, on_step)`, which writes each job's mp4 to `job.tmp` or raises.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shlex
import shutil
import subprocess
import threading

from dppgrpo_core.errors import ModelUnavailable, UserFacingError

log = logging.getLogger(__name__)

WAN_ID = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
COGVIDEOX_ID = "THUDM/CogVideoX-2b"

# Wan2.1: the paper's settings (guidance 6, 40 steps, 81 frames, 480x832; 16 fps as Wan is trained).
# CogVideoX-2b: its model card's (50 steps, guidance 6, 49 frames, 480x720, 8 fps).
MODEL_DEFAULTS = {
    "wan": {"steps": 40, "frames": 81, "guidance": 6.0, "height": 480, "width": 832, "fps": 16},
    "cogvideox": {"steps": 50, "frames": 49, "guidance": 6.0, "height": 480, "width": 720, "fps": 8},
    "tiny-random-wan": {"steps": 2, "frames": 9, "guidance": 6.0, "height": 16, "width": 16, "fps": 8},
    "tiny-random-cogvideox": {"steps": 2, "frames": 8, "guidance": 6.0, "height": 16, "width": 16, "fps": 8},
}
MODEL_CHOICES = ["wan2.1", "cogvideox", "tiny-random-wan", "tiny-random-cogvideox"]
# The name under which a client picks the server's own video model when it is not a built-in one
# (a weights folder, or a command template): the spec itself never reaches the browser.
CONFIGURED_MODEL = "configured"


def enabled_models(configured: str) -> dict[str, str]:
    """What a browser or API client may pick, name -> model spec: the built-in names and the server's model.

    A client never sends a spec (a folder, a Hub id, a command); only a name from this mapping.

    >>> enabled_models("wan2.1")["tiny-random-wan"]
    'tiny-random-wan'
    >>> enabled_models("command:veo3 --prompt {prompt} --out {out}")["configured"]
    'command:veo3 --prompt {prompt} --out {out}'
    """
    models = {name: name for name in MODEL_CHOICES}
    if configured and configured not in models:
        models[CONFIGURED_MODEL] = configured
    return models


def model_for_client(choice: str, configured: str) -> str:
    """The model spec behind a client's choice; UserFacingError for anything the server did not enable."""
    models = enabled_models(configured)
    if not isinstance(choice, str) or choice not in models:
        raise UserFacingError(f"Unknown video model: choose one of {', '.join(models)}.")
    return models[choice]


def load_backend(model: str):
    """The backend for a model name: see MODEL_CHOICES, `wan2.1:PATH_OR_ID`, `cogvideox:PATH_OR_ID`, `command:TEMPLATE`."""
    model = (model or "").strip()
    family, _, source = model.partition(":")
    if family == "command":
        return CommandBackend(source)
    if model in ("tiny-random-wan", "tiny-random-cogvideox"):
        return DiffusersBackend(model.removeprefix("tiny-random-"), model, tiny=True)
    if family in ("wan2.1", "wan"):
        return DiffusersBackend("wan", source.strip() or WAN_ID)
    if family == "cogvideox":
        return DiffusersBackend("cogvideox", source.strip() or COGVIDEOX_ID)
    raise UserFacingError(
        f"Unknown video model {model!r}: use one of {', '.join(MODEL_CHOICES)}, wan2.1:PATH_OR_ID, "
        "cogvideox:PATH_OR_ID, or command:TEMPLATE."
    )


# -- diffusers ----------------------------------------------------------------------------------

_LOCK = threading.Lock()
_LOADED: dict = {"key": None, "pipe": None}  # one pipeline at a time: video models are large


class DiffusersBackend:
    max_batch_size = 64

    def __init__(self, family: str, source: str, tiny: bool = False):
        self.family, self.source, self.tiny = family, source, tiny  # family: "wan" or "cogvideox"
        self.cache_id = source if tiny else f"{family}:{source}"
        self.defaults = dict(MODEL_DEFAULTS[source if tiny else family])
        name, default = ("wan2.1", WAN_ID) if family == "wan" else ("cogvideox", COGVIDEOX_ID)
        self.public_id = source if tiny else name if source == default else f"{name} (configured)"
        # A folder is the server's business: messages (which reach app clients) name its last part only.
        self.local = not tiny and (source.startswith(("/", ".", "~")) or os.path.exists(source))
        shown = f"folder {os.path.basename(os.path.normpath(source))}" if self.local else source
        self.label = source if tiny else f"{'Wan2.1' if family == 'wan' else 'CogVideoX'} ({shown})"

    def resolve(self, render_settings, device: str):
        render_settings = render_settings.filled(self.defaults)
        if render_settings.dtype == "auto":
            render_settings = dataclasses.replace(render_settings, dtype=self._auto_dtype(device))
        if render_settings.height % 16 or render_settings.width % 16:
            raise UserFacingError(f"Height and width must be multiples of 16, got {render_settings.height}x{render_settings.width}.")
        if self.family == "wan" and render_settings.frames % 4 != 1:
            raise UserFacingError(f"Wan renders 4k+1 frames (e.g. 49 or 81), got {render_settings.frames}.")
        return render_settings

    def _auto_dtype(self, device: str) -> str:
        if self.tiny or not device.startswith("cuda"):
            return "float32"
        # Model cards: Wan2.1 in bfloat16 (its VAE stays float32); CogVideoX-2b in float16, 5b in bfloat16.
        return "float16" if self.family == "cogvideox" and "2b" in self.source.lower() else "bfloat16"

    def prepare(self, render_settings, device: str) -> None:
        if not self.tiny and not device.startswith("cuda") and not render_settings.allow_cpu:
            raise ModelUnavailable(
                f"{self.label} needs a CUDA GPU (no GPU here, device={device}); on CPU one video takes hours. "
                "Use the model tiny-random-wan for a plumbing check, or allow CPU (--allow-cpu) to force it."
            )
        key = (self.cache_id, device, render_settings.dtype, render_settings.cpu_offload, render_settings.vae_tiling, render_settings.vae_slicing)
        with _LOCK:
            if _LOADED["key"] == key:
                self.pipe = _LOADED["pipe"]
                return
            _LOADED.update(key=None, pipe=None)  # free the previous model before loading the next
            pipe = self._load(render_settings.dtype)
            if render_settings.cpu_offload and device.startswith("cuda"):
                pipe.enable_model_cpu_offload(device=device)
            else:
                pipe.to(device)
            if render_settings.vae_tiling:
                pipe.vae.enable_tiling()
            if render_settings.vae_slicing:
                pipe.vae.enable_slicing()
            pipe.set_progress_bar_config(disable=True)
            _LOADED.update(key=key, pipe=pipe)
            self.pipe = pipe

    def _load(self, dtype_name: str):
        import torch

        if self.tiny:
            from dppgrpo_core.models.tiny import (
                tiny_cogvideox_pipeline,
                tiny_wan_pipeline,
            )

            return tiny_wan_pipeline() if self.family == "wan" else tiny_cogvideox_pipeline()
        dtype = getattr(torch, dtype_name)
        try:
            if self.family == "wan":
                from diffusers import AutoencoderKLWan, WanPipeline

                vae = AutoencoderKLWan.from_pretrained(self.source, subfolder="vae", torch_dtype=torch.float32)
                return WanPipeline.from_pretrained(self.source, vae=vae, torch_dtype=dtype)
            from diffusers import CogVideoXPipeline

            return CogVideoXPipeline.from_pretrained(self.source, torch_dtype=dtype)
        except (OSError, ValueError) as exc:  # missing files / offline Hub / not a diffusers folder
            family = "wan2.1" if self.family == "wan" else "cogvideox"
            if self.local:
                log.error("cannot load the video model folder %s: %s", self.source, exc)  # the full path: server log
                reason = (str(exc).strip().splitlines() or [""])[0].replace(self.source, "<folder>")[:200]
                raise ModelUnavailable(f"Cannot load {self.label}: the configured folder is not a diffusers model "
                                       f"folder ({type(exc).__name__}: {reason}).") from exc
            raise ModelUnavailable(
                f"Cannot load {self.label}: its weights are not on this machine (offline, they must already be "
                f"in the Hugging Face cache). Run `hf download {self.source}` where the Hub is reachable, or pass "
                f"--model {family}:/path/to/diffusers/folder. ({type(exc).__name__})"
            ) from exc

    def render(self, jobs, render_settings, on_step) -> None:
        import torch

        from dppgrpo_core.video.mp4 import write_mp4

        def step_end(_pipe, i, _t, tensors):
            on_step(i + 1, render_settings.steps)
            return tensors

        extra = {"max_sequence_length": 16} if self.tiny else {}  # tiny transformers take 16 text tokens
        output = self.pipe(
            prompt=[job.prompt for job in jobs],
            negative_prompt=render_settings.negative_prompt or None,
            height=render_settings.height, width=render_settings.width, num_frames=render_settings.frames,
            num_inference_steps=render_settings.steps, guidance_scale=render_settings.guidance,
            # One CPU generator per video: its noise depends only on its seed, batched or not, on any device.
            generator=[torch.Generator("cpu").manual_seed(job.seed) for job in jobs],
            output_type="np", callback_on_step_end=step_end, **extra,
        )
        for job, frames in zip(jobs, output.frames):
            write_mp4(frames, job.tmp, render_settings.fps)


# -- command template ---------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"\{(prompt|seed|out|steps|frames|guidance|height|width|fps|negative_prompt)\}")


class CommandBackend:
    """Runs TEMPLATE once per video, e.g. `veo3-cli --prompt {prompt} --seed {seed} --out {out}`.

    The template is split like a shell line (shlex) and each placeholder is filled inside its own
    argument; no shell runs, so a prompt with quotes, `;` or `$(...)` stays one plain argument.
    The command must write an mp4 to {out}. Other placeholders: {steps} {frames} {guidance}
    {height} {width} {fps} {negative_prompt} (empty when not set).
    """

    max_batch_size = 1
    defaults: dict = {}

    def __init__(self, template: str):
        try:
            self.argv = shlex.split(template)
        except ValueError as exc:
            raise UserFacingError(f"Cannot split the command template: {exc}.") from None
        used = {m for arg in self.argv for m in PLACEHOLDER.findall(arg)}
        if not self.argv or not {"prompt", "out"} <= used:
            raise UserFacingError("A command template needs {prompt} and {out}, e.g. "
                                  "command:veo3-cli --prompt {prompt} --seed {seed} --out {out}")
        self.template = template
        self.cache_id = "command:" + template
        self.public_id = "command (configured)"
        self.label = os.path.basename(self.argv[0])
        # Where a client's text fills a whole argument, text starting with "-" would be read as an option of the
        # tool (--out=/any/path), unless an earlier "--" ends the options.
        ends = self.argv.index("--") if "--" in self.argv else len(self.argv)
        self.option_slots = {i for i, arg in enumerate(self.argv[:ends])
                             if arg.startswith(("{prompt}", "{negative_prompt}"))}
        # The template's fixed values (an API key among them, maybe as --key=...) never reach a client's message.
        values = [arg.partition("=")[2] if arg.startswith("-") else arg for arg in self.argv[1:]
                  if not PLACEHOLDER.search(arg)]
        self.secrets = [value for value in values if len(value) >= 6 and not value.startswith("-")]

    def resolve(self, render_settings, device: str):
        return render_settings

    def prepare(self, render_settings, device: str) -> None:
        if shutil.which(self.argv[0]) is None:
            raise ModelUnavailable(f"The command {self.label!r} of the video template is not installed or not on PATH.")

    def arguments(self, job, render_settings) -> list[str]:
        """The tool's argv for one video; UserFacingError when client text would become one of its options."""
        values = {name: getattr(render_settings, name) for name in render_settings.CACHE_FIELDS}
        values.update(prompt=job.prompt, seed=job.seed, out=str(job.tmp))

        def fill(match):
            value = values[match.group(1)]
            return "" if value is None else str(value)

        argv = [PLACEHOLDER.sub(fill, arg) for arg in self.argv]
        if any(argv[i].startswith("-") for i in self.option_slots):
            raise UserFacingError("A prompt starting with '-' would reach the video tool as an option: reword it "
                                  "(or the server's template may put -- before {prompt}).")
        return argv

    def _redacted(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "…")
        return text

    def render(self, jobs, render_settings, on_step) -> None:
        for job in jobs:
            try:
                done = subprocess.run(self.arguments(job, render_settings), capture_output=True, text=True,
                                      timeout=render_settings.timeout_s)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"the command ran past {render_settings.timeout_s:.0f} s") from None
            if done.returncode != 0:  # the tool's last line, without the template's own words (a key it echoes)
                lines = (done.stderr or done.stdout).strip().splitlines()
                raise RuntimeError(f"the command exited with status {done.returncode}"
                                   + (f": {self._redacted(lines[-1])}" if lines else ""))
            on_step(1, 1)
