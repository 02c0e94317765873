"""What the Annotate tab shows: blind copies of the clips, the synced clip grid, sets of prompts, progress lines.

Clips play as the Render grid does (autoplay, muted, looped) in one HTML grid per set; `SYNC_JS` (run after
each new item) starts them together from 0 and keeps them within a quarter second of the first clip, and
`PLAY_PAUSE_JS` plays or pauses them all at once. The page scrolls back to the prompt of the new item.

An item (or pair) whose clip is gone from disk is passed over (`first_showable`), never shown half or left
in the way of the items after it; the status line says how many wait for the organiser, and an answer that
was stored is never reported as failed (`next_or_truth`). Blind copies live in this process's private
temporary folder (`pages.scratch`) and go when unused for BLIND_TTL_S.
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import quote

import gradio as gr

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.study import VIDEO_SUFFIXES, pairwise
from dppgrpo_core.study.store import AnnotationStore
from pages.context import markdown_text, refused
from pages.scratch import private_folder, prune

BLIND_FOLDER = private_folder("blind")  # this process's own (mode 700), served in place (a Gradio static path)
BLIND_TTL_S = 3 * 3600  # a copy no page asked for in this long is removed (it is made again when needed)
_USED: dict[str, float] = {}  # copy name -> last time a page showed it
_USED_LOCK = threading.Lock()
log = logging.getLogger(__name__)


MODES = [("Rate one set (1-5 scales)", "likert"), ("Compare two sets (pairwise)", "pairwise")]
DIVERSITY_ANCHORS = {
    1: "near-identical clips",
    2: "small differences, mostly the same shot",
    3: "some variety in one or two of camera, scene, composition, motion",
    4: "clearly different in most of camera, scene, composition and motion",
    5: "clearly different in camera, scene, composition and motion",
}
ALIGNMENT_ANCHORS = {
    1: "unrelated to the prompt",
    2: "loosely related: the main subject is often missing or wrong",
    3: "about half the clips show what the prompt asks",
    4: "most clips faithful to the prompt",
    5: "every clip faithful to it",
}
INSTRUCTIONS = """Each item is one prompt and a set of clips (or, where no clips exist, a set of prompts) made
from it. Rate the **set as a whole**: how different the clips are from each other (diversity), and how
faithful they are to the prompt (alignment). In the pairwise mode you see two sets for one prompt and say
which is more diverse. The order is random; you see each item once and can stop and come back at any time."""


class MissingClip(UserFacingError):
    """A clip of an item cannot be shown now (gone from disk, or not a video file): the item is passed over."""


def blind_copy(path: str) -> str:
    """A copy of a clip under a neutral name in BLIND_FOLDER, served from there.

    The name hashes the source path, size and time, so it says nothing of the method and a re-rendered
    clip gets a fresh copy; a hard link is tried first to save space. Copies unused for BLIND_TTL_S go.
    """
    source = Path(path)
    try:
        stat = source.stat()
    except OSError:
        raise MissingClip("A clip of this item is missing on the server; tell the study organiser.") from None
    if source.resolve().suffix.lower() not in VIDEO_SUFFIXES:  # a study from before import checked its clips
        raise MissingClip("A clip of this item is not a video file; tell the study organiser.")
    digest = hashlib.sha1(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:20]
    target = BLIND_FOLDER / f"clip-{digest}{source.suffix.lower()}"
    _prune_copies(keep=target.name)
    if not target.exists():
        partial = BLIND_FOLDER / f".{target.name}.{os.getpid()}.{threading.get_ident()}.part"
        try:
            os.link(source, partial)
        except OSError:
            shutil.copyfile(source, partial)
        os.replace(partial, target)  # atomic: two sessions may race to make the same copy
    return str(target)


def _prune_copies(keep: str, ttl_s: float = BLIND_TTL_S) -> None:
    """Note that `keep` is in use now and, once a minute, remove the copies no page asked for in `ttl_s` seconds.
    (Last use is kept here, not in the file's time: a hard link shares its time with the clip it copies.)"""
    now = time.time()
    with _USED_LOCK:
        _USED[keep] = now
        if now - _USED.get("", 0.0) < 60:
            return
        _USED[""] = now  # the last pruning
        stale = {name for name, used in _USED.items() if name and now - used > ttl_s}
        for name in stale:
            del _USED[name]
        used = set(_USED)
    for name in stale:
        (BLIND_FOLDER / name).unlink(missing_ok=True)
    in_progress = {entry.name for entry in BLIND_FOLDER.glob(".*.part")}  # another request's copy being made
    prune(BLIND_FOLDER, ttl_s, keep=used | in_progress)


def first_showable(pick, show):
    """(entry, done, total, what to show, ids skipped) for the first entry `pick(skip)` offers whose clips
    `show(entry)` can show; an entry with a clip gone from disk is passed over (the server log names it), so it
    never blocks the entries after it. `pick` is `next_item` or `next_pair` bound to a store and annotator."""
    skipped: set[str] = set()
    while True:
        entry, done, total = pick(skipped)
        if entry is None:
            return None, done, total, None, skipped
        key = entry.get("item_id") or entry.get("pair_id")
        try:
            return entry, done, total, show(entry), skipped
        except MissingClip as exc:
            log.warning("study entry %s is skipped: %s", key, exc)
            skipped.add(key)


def next_or_truth(view, what: str):
    """The next item's view; when it cannot be shown, a refusal that says the answer just given is stored."""
    try:
        return view()
    except Exception as exc:  # noqa: BLE001 - the answer is stored: the client must not read "failed"
        log.exception("the next study entry could not be shown")
        reason = exc.message if isinstance(exc, gr.Error) else "the next one could not be shown"
        raise refused(f"Your {what} is stored. {reason} Press Start / resume to go on.") from None


def skipped_note(skipped: set[str], kind: str = "items") -> str:
    """A sentence for the progress line when entries were passed over (empty when none were)."""
    if not skipped:
        return ""
    return (f" {len(skipped)} {kind if len(skipped) > 1 else kind[:-1]} cannot be shown now (a clip is missing on "
            "the server) and will come back when the study organiser restores it.")


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


def likert_outputs(panel=False, prompt="", clips="", text="") -> list:
    """The Likert panel's outputs: (panel, prompt, clips, text, diversity, alignment, comment)."""
    return [gr.Column(visible=panel), prompt, clips, text, gr.Radio(value=None), gr.Radio(value=None),
            gr.Textbox(value="")]


def pair_outputs(panel=False, prompt="", left="", right="", reveal=gr.skip()) -> list:
    """The pair panel's outputs: (panel, prompt, left, right, choice, reveal)."""
    return [gr.Column(visible=panel), prompt, left, right, gr.Radio(value=None), reveal]


def quota_line(annotator: str, quota: int, kind: str = "items") -> str:
    """The status line once an annotator's answers reach the lead's quota (`dppgrpo_core.study.plan`)."""
    done = "rated" if kind == "items" else "voted on"
    return (f"Signed in as **{markdown_text(annotator)}**. **Quota reached**: you have {done} your {quota} {kind}, "
            "the number the study lead asked of each annotator. Thank you!")


def study_counts_line(store: AnnotationStore | None, current: dict | None, page: str = "tab") -> str:
    """The status line when the study changes under the tab (an item added from the Render tab). `page`: "tab"
    (the lead's Annotate tab), "annotator" (the annotator page: nothing to set up there) or "named" (the
    annotator page opened with its id: only Start is left to press)."""
    if store is None:
        return ("The study has no items yet: add one from the Render tab or the set-up panel below." if page == "tab"
                else "The study has no items yet: the study lead has not added any.")
    items, pairs = store.item_ids(), pairwise.pair_ids(store)
    if current and current.get("annotator"):
        annotator = current["annotator"]
        if current.get("mode") == "pairwise":
            return progress_line(annotator, len(pairwise.voted_pair_ids(store, annotator) & set(pairs)), len(pairs),
                                 "pairs")
        done = len(store.rated_item_ids(annotator) & set(items))
        line = progress_line(annotator, done, len(items))
        return line + (" Press *Start / resume* for the new items." if done < len(items) and not current.get("item_id")
                       else "")
    what = f"**{len(items)}** items to rate" + (f" and **{len(pairs)}** pairs to compare" if pairs else "")
    ask = "Press" if page == "named" else "Type your annotator id and press"
    return f"The study has {what}. {ask} *Start / resume*."


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
