"""The app's temporary files, in one place: a private folder per kind and server process.

    folder = private_folder("blind")          # <tmp>/dppgrpo-blind-k2j4x9q1/, mode 700, removed at exit
    fresh = new_folder("sets", max_age_s=3600) # a fresh sub-folder; those older than an hour are removed

A fixed name in the shared temporary folder (`/tmp/dppgrpo-blind`) can be created first by another
local user, who then owns what the app writes there; `tempfile.mkdtemp` makes a new folder with an
unguessable name that only this user can enter, so nothing here trusts what was there before.
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path

_FOLDERS: dict[str, Path] = {}
_LOCK = threading.Lock()


def private_folder(kind: str) -> Path:
    """This process's folder for one kind of temporary file (made on first use, removed when the process exits).

    >>> private_folder("doctest") == private_folder("doctest") and private_folder("doctest").stat().st_mode & 0o777
    448
    """
    with _LOCK:
        folder = _FOLDERS.get(kind)
        if folder is None or not folder.is_dir():
            folder = Path(tempfile.mkdtemp(prefix=f"dppgrpo-{kind}-"))  # mode 700, a name no one could guess
            _FOLDERS[kind] = folder
            atexit.register(shutil.rmtree, folder, True)
        return folder


def prune(folder: Path, max_age_s: float, keep: set[str] = frozenset()) -> None:
    """Remove the entries of `folder` (files or folders) last changed more than `max_age_s` ago, but `keep`."""
    now = time.time()
    for entry in folder.iterdir() if folder.is_dir() else []:
        try:
            if entry.name in keep or now - entry.lstat().st_mtime <= max_age_s:
                continue
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
        except OSError:
            continue


def new_folder(kind: str, max_age_s: float) -> Path:
    """A fresh folder under `private_folder(kind)`; the kind's folders older than `max_age_s` are removed first."""
    root = private_folder(kind)
    prune(root, max_age_s)
    folder = root / secrets.token_urlsafe(12)
    folder.mkdir(mode=0o700)
    return folder
