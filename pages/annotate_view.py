"""What the Annotate tab shows: blind copies of the clips, the synced clip grid, sets of prompts, progress lines.

Clips play as the Render grid does (autoplay, muted, looped) in one HTML grid per set; `SYNC_JS` (run after
each new item) starts them together from 0 and keeps them within a quarter second of the first clip, and
`PLAY_PAUSE_JS` plays or pauses them all at once. The page scrolls back to the prompt of the new item.
"""

from __future__ import annotations

import hashlib
import html
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

from dppgrpo_core.study import VIDEO_SUFFIXES
from pages.context import markdown_text, refused

BLIND_FOLDER = Path(tempfile.gettempdir()) / "dppgrpo-blind"  # served in place (a Gradio static path)


def blind_copy(path: str) -> str:
    """A copy of a clip under a neutral name in BLIND_FOLDER, served from there.

    The name hashes the source path, size and time, so it says nothing of the method and a re-rendered
    clip gets a fresh copy; a hard link is tried first to save space.
    """
    source = Path(path)
    try:
        stat = source.stat()
    except OSError:
        raise refused("A clip of this item is missing on the server; tell the study organiser.") from None
    if source.resolve().suffix.lower() not in VIDEO_SUFFIXES:  # a study from before import checked its clips
        raise refused("A clip of this item is not a video file; tell the study organiser.")
    digest = hashlib.sha1(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:20]
    BLIND_FOLDER.mkdir(exist_ok=True)
    target = BLIND_FOLDER / f"clip-{digest}{source.suffix.lower()}"
    if not target.exists():
        partial = BLIND_FOLDER / f".{target.name}.{os.getpid()}.part"
        try:
            os.link(source, partial)
        except OSError:
            shutil.copyfile(source, partial)
        os.replace(partial, target)  # atomic: two sessions may race to make the same copy
    return str(target)


def clips_html(paths: list[str]) -> str:
    """The clips (already in display order) as blind copies in one grid of muted, looping, autoplaying videos."""
    cards = []
    for i, path in enumerate(paths, 1):
        url = "gradio_api/file=" + quote(blind_copy(path))
        cards.append(f"<figure style='margin:0'><video src=\"{html.escape(url)}\" autoplay muted loop playsinline "
                     "preload='auto' style='width:100%;border-radius:6px;background:#000'></video>"
                     f"<figcaption>clip {i}</figcaption></figure>")
    return ("<div class='study-clips' style='display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));"
            f"gap:12px'>{''.join(cards)}</div>")


def set_html(side: dict) -> str:
    """One side of a pair: its clips, or its prompts as an escaped numbered list."""
    if side.get("videos"):
        return clips_html(side["videos"])
    items = "".join(f"<li>{html.escape(p)}</li>" for p in side["prompts"])
    return f"<ol class='study-prompts'>{items}</ol>"


def set_markdown(prompts: list[str]) -> str:
    return "### The set\n" + "\n".join(f"{i}. {markdown_text(p)}" for i, p in enumerate(prompts, 1))


def progress_line(annotator: str, done: int, total: int, kind: str = "items", last_s: float | None = None) -> str:
    who = markdown_text(annotator)
    took = f" Your last answer took {last_s:.0f} s." if last_s is not None else ""
    if total == 0:
        other = "pairs to compare" if kind == "pairs" else "items to rate"
        return f"Signed in as **{who}**. The study has no {other} yet."
    if done >= total:
        return f"Signed in as **{who}**. All {total} {kind} {'compared' if kind == 'pairs' else 'rated'}: thank you!" + took
    noun = "Pair" if kind == "pairs" else "Item"
    return f"Signed in as **{who}**. {noun} {done + 1} of {total} ({done} {'voted' if kind == 'pairs' else 'rated'}).{took}"


# Run after each new item: wait for the clips, start them together from 0, keep them in step, scroll to the top.
SYNC_JS = """() => {
  const top = document.getElementById('study-top');
  if (top) top.scrollIntoView({block: 'start'});
  const clips = () => Array.from(document.querySelectorAll('.study-clips video'));
  let tries = 0;
  const mine = window.studyStart = (window.studyStart || 0) + 1;  // a later item or a play/pause click wins
  const start = () => {
    if (window.studyStart !== mine) return;
    const v = clips();
    if (v.some(x => x.readyState < 2) && tries++ < 100) { setTimeout(start, 100); return; }
    v.forEach(x => { x.muted = true; x.loop = true; x.currentTime = 0; const p = x.play(); if (p) p.catch(() => {}); });
  };
  setTimeout(start, 150);
  if (!window.studySync) {
    window.studySync = setInterval(() => {
      const v = clips().filter(x => !x.paused);
      if (v.length < 2) return;
      const t = v[0].currentTime;
      v.slice(1).forEach(x => { if (Math.abs(x.currentTime - t) > 0.25) x.currentTime = t; });
    }, 400);
  }
}"""

PLAY_PAUSE_JS = """() => {
  window.studyStart = (window.studyStart || 0) + 1;  // cancels a start still waiting for the clips
  const v = Array.from(document.querySelectorAll('.study-clips video'));
  if (!v.length) return;
  const play = v.some(x => x.paused);
  const t = v[0].currentTime;
  v.forEach(x => { if (play) { x.currentTime = t; const p = x.play(); if (p) p.catch(() => {}); } else x.pause(); });
}"""
