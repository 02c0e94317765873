"""What the Render tab adds around a render: where its prompts came from (an edited Expand set keeps its query),
the models this machine can run, the negative prompt, and the whole grid as one zip.

    query, method, edited = set_origin(prompt_set, prompts)   # ("a fox", "dpp-compose (edited)", [2])
    zip_grid(rendered)                                       # "/tmp/.../grid-a-fox.zip": the clips and prompts.txt

>>> set_origin({"query": "a fox", "method": "iid", "prompts": ["a fox, wide", "a fox, close"]},
...            ["a fox, wide", "a fox, very close"])
('a fox', 'iid (edited)', [2])
>>> set_origin(None, ["a cat"])
(None, 'manual', [])
"""

from __future__ import annotations

import dataclasses
import json
import re
import zipfile
from pathlib import Path

from dppgrpo_core import checks
from dppgrpo_core.sets import MAX_PROMPT_CHARS
from dppgrpo_core.video import RenderSettings
from pages.scratch import new_folder

ZIP_TTL_S = 3600  # a grid's zip lives an hour in this process's private temporary folder

EDITED = " (edited)"  # the method label of a set whose prompts were edited after the Expand tab made it


def set_origin(prompt_set: dict | None, prompts: list[str]) -> tuple[str | None, str, list[int]]:
    """(query, method label, 1-based numbers of the prompts not in the Expand set) of a grid's prompts.

    Prompts typed over an Expand set keep that set's query q: fixing a clause is what a creator does, and the
    study still rates alignment against q. The method is marked "(edited)" so results never mix edited sets
    with the method's own; without an Expand set the grid is "manual", with no query."""
    if not isinstance(prompt_set, dict) or not prompt_set.get("prompts") or not prompt_set.get("query"):
        return None, "manual", []
    original = list(prompt_set["prompts"])
    method = str(prompt_set.get("method") or "manual").removesuffix(EDITED)
    if prompts == original:
        return prompt_set["query"], method, []
    edited = [i for i, prompt in enumerate(prompts, 1) if prompt not in original]
    return prompt_set["query"], method + EDITED, edited or list(range(1, len(prompts) + 1))


def origin_note(query: str | None, method: str, edited: list[int]) -> str:
    """The status line's words on where the grid's prompts came from (nothing for an unedited set).

    >>> origin_note("a fox", "iid (edited)", [2])
    ' Prompt 2 was edited from the iid set: the grid keeps its query *a fox* and is labelled “iid (edited)”.'
    """
    if not edited or not query:
        return ""
    from pages.context import markdown_text

    which = f"Prompt {edited[0]} was" if len(edited) == 1 else f"Prompts {', '.join(map(str, edited))} were"
    return (f" {which} edited from the {method.removesuffix(EDITED)} set: the grid keeps its query "
            f"*{markdown_text(query)}* and is labelled “{method}”.")


def with_negative_prompt(render_settings: RenderSettings, negative_prompt) -> RenderSettings:
    """The settings with the form's negative prompt (blank: none); UserFacingError for text that is not text."""
    if negative_prompt is None or (isinstance(negative_prompt, str) and not negative_prompt.strip()):
        return render_settings
    text = checks.text(negative_prompt, "The negative prompt", MAX_PROMPT_CHARS).strip()
    return dataclasses.replace(render_settings, negative_prompt=text)


def model_menu(settings, allow_cpu: bool) -> list[tuple[str, str]]:
    """The Render tab's model menu on this machine: `render_view.model_choices`, less the full-size models where
    they cannot run (`runnable_choices`)."""
    from dppgrpo_core.video.backends import model_for_client
    from pages.render_view import _cpu_only, _full_size, model_choices  # the tests `default_model` makes

    choices = model_choices(settings.video_model)
    full = {name for _, name in choices if _full_size(model_for_client(name, settings.video_model))}
    return runnable_choices(choices, full, allow_cpu or not _cpu_only(settings))


def runnable_choices(choices: list[tuple[str, str]], full_size: set[str], can_run_full: bool) -> list:
    """The model menu without the full-size models when this machine cannot run them (no CUDA GPU and no
    --allow-cpu): picking one only to fail is no choice. The hardware note says what they need.

    >>> runnable_choices([("wan2.1", "wan2.1"), ("tiny-random-wan", "tiny-random-wan")], {"wan2.1"}, False)
    [('tiny-random-wan', 'tiny-random-wan')]
    """
    return [c for c in choices if can_run_full or c[1] not in full_size]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (text or "grid").lower()).strip("-")[:40] or "grid"


def zip_grid(rendered: dict | None) -> str | None:
    """The grid's clips as one zip (01-<prompt>.mp4, ...) with prompts.txt and set.json; None without clips."""
    if not isinstance(rendered, dict) or not rendered.get("videos"):
        return None
    folder = new_folder("zips", max_age_s=ZIP_TTL_S)
    target = folder / f"grid-{_slug(rendered.get('query') or rendered['prompts'][0])}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:  # mp4s do not compress
        for number, (prompt, video) in enumerate(zip(rendered["prompts"], rendered["videos"]), 1):
            archive.write(video, f"{number:02d}-{_slug(prompt)}{Path(video).suffix}")
        archive.writestr("prompts.txt", "\n".join(rendered["prompts"]) + "\n")
        kept = {key: rendered.get(key) for key in ("query", "method", "prompts", "seeds", "model")}
        archive.writestr("set.json", json.dumps(kept, indent=2))
    return str(target)
