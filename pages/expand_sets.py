"""A set back in the Expand tab: from a downloaded JSON file (Load a set), or from the copy the browser kept
across a reload. Both are client data, checked strictly and scored again from their prompts.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import gradio as gr
import torch

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import MAX_K_APP, ExpandConfig, ExpandRequest, check_inputs
from dppgrpo_core.sets import MAX_PROMPT_CHARS, PromptSet
from dppgrpo_core.sets import MAX_UPLOADED_SET_BYTES
from dppgrpo_core.settings import Settings
from pages.context import (
    enabled_policies,
    handler,
    refused,
    settings_for_policy,
)
from pages.expand_run import finished_view
from pages.expand_view import FormValues, SetView, filled


def set_from_json(settings: Settings, data) -> dict:
    """A set read from a downloaded JSON, checked strictly: {request (an `ExpandRequest`), policy, prompts}.

    The numbers in the file are not trusted: the set is scored again from its prompts. A policy name this
    server does not offer becomes None (the server's own). UserFacingError (one line) for anything else.

    >>> set_from_json(Settings(), {"query": "a dog", "method": "iid", "seed": 1, "k": 1,
    ...               "steps": [{"prompt": "a dog running"}]})["prompts"]
    ['a dog running']
    >>> set_from_json(Settings(), {"query": "a dog", "method": "iid", "k": 2, "steps": [{"prompt": "a dog"}]})
    Traceback (most recent call last):
    ...
    dppgrpo_core.errors.UserFacingError: The set file says k = 2 but holds 1 prompts.
    """
    if not isinstance(data, dict):
        raise UserFacingError("A set file holds one JSON object: a set downloaded from the Expand tab.")
    steps = data.get("steps")
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_K_APP:
        raise UserFacingError(f"The set file must hold 1 to {MAX_K_APP} steps, each with its prompt.")
    prompts = []
    for i, step in enumerate(steps, 1):
        if not isinstance(step, dict):
            raise UserFacingError(f"Step {i} of the set file is not an object with a prompt.")
        prompts.append(checks.text(step.get("prompt"), f"The prompt of step {i}", max_chars=MAX_PROMPT_CHARS))
    options = data.get("config") or {}
    names = {f.name for f in dataclasses.fields(ExpandConfig)}
    if not isinstance(options, dict) or not set(options) <= names:
        raise UserFacingError(f"The set file's config may hold only {', '.join(sorted(names))}.")
    try:  # the request in the file, checked as the form's would be (the core's `check_inputs`, the app's K)
        request = check_inputs(data.get("query"), data.get("k", len(prompts)), data.get("method"),
                               data.get("seed", 0), max_k=MAX_K_APP, **options)
    except UserFacingError as exc:
        raise UserFacingError(f"In the set file: {exc}") from None
    if request.k != len(prompts):
        raise UserFacingError(f"The set file says k = {request.k} but holds {len(prompts)} prompts.")
    policy = data.get("policy")
    policy = policy if isinstance(policy, str) and policy in enabled_policies(settings) else None
    return {"request": request, "policy": policy, "prompts": prompts}


def read_set_file(path) -> object:
    """The JSON in an uploaded file (gradio's upload folder only; at most the core's MAX_UPLOADED_SET_BYTES);
    gr.Error otherwise."""
    from gradio.utils import get_upload_folder

    if not isinstance(path, str) or not path:
        raise refused("Choose a set file: the JSON downloaded from this tab.")
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(Path(get_upload_folder()).resolve()) or not resolved.is_file():
        raise refused("Upload the set file through the form.")  # never a server path sent by a client
    if resolved.stat().st_size > MAX_UPLOADED_SET_BYTES:
        raise refused(f"The set file is too large (over {MAX_UPLOADED_SET_BYTES // 1000} kB); a set is a few kB.")
    try:  # strict: no NaN, no key twice, no 5,000-digit number; too deep a nesting is one line too
        return checks.json_value(checks.read_file(resolved, MAX_UPLOADED_SET_BYTES, "set file"), "The set file")
    except UserFacingError as exc:
        raise refused(f"{exc} Use a set downloaded from this tab.") from None


def upload_problem(settings: Settings, path):
    """The upload's validator: a bad set file shows its one-line message and the tab stays as it was."""
    try:
        set_from_json(settings, read_set_file(path))
    except (gr.Error, UserFacingError) as exc:
        return gr.validate(False, exc.message if isinstance(exc, gr.Error) else str(exc))
    return gr.validate(True, "")


def restored_outputs(settings: Settings, loaded: dict, how: str) -> tuple:
    """The tab's `SetView` and `FormValues`, one after the other, for a checked set (see `set_from_json`), scored
    again from its prompts."""
    from dppgrpo_core.expand import SetScorer
    from dppgrpo_core.models.embedder import load_embedder

    start = time.perf_counter()
    request: ExpandRequest = loaded["request"]
    config = request.config
    policy = loaded["policy"] or next(iter(enabled_policies(settings)))
    run_settings = settings_for_policy(settings, policy)
    scorer = SetScorer(request.query, load_embedder(settings=run_settings), config.lambda_div, config.lambda_rel)
    steps, total, vectors = [], 0.0, []
    for index, text in enumerate(loaded["prompts"], 1):
        vector, gains, rels, rewards = scorer.score([text])
        scorer.add(vector[0])
        total += float(gains[0])
        vectors.append(vector[0])
        steps.append({"index": index, "prompt": text, "gain": float(gains[0]), "relevance": float(rels[0]),
                      "reward": float(rewards[0]), "log_det": total, "generate_s": 0.0, "score_s": 0.0,
                      "retries": 0, "flag": None, "candidates": []})
    note = (f"↩ {how}: {request.method}, {request.k} prompts (scores recomputed from the prompts; "
            "Expand makes the set again with the same options).")
    view = finished_view(run_settings, request, policy, steps, torch.stack(vectors), time.perf_counter() - start,
                         note=note)
    form = FormValues(query=request.query, k=request.k, method=request.method, seed=request.seed,
                      lambda_div=config.lambda_div, lambda_rel=config.lambda_rel, policy=policy,
                      temperature=config.temperature, n_candidates=config.n_candidates)
    return (*view, *form)


@handler
def load_set_upload(settings: Settings, path) -> tuple:
    """The "Load a set" upload: a downloaded JSON set back into the table, plots, form and the session's set."""
    loaded = set_from_json(settings, read_set_file(path))
    return restored_outputs(settings, loaded, "Loaded from the file")


def saved_copy(prompt_set: dict | None):
    """What the browser keeps of the session's set across a reload: the request and the prompts, no scores."""
    if not prompt_set or not prompt_set.get("prompts"):
        return gr.skip()
    kept = PromptSet.from_json(prompt_set)
    return dataclasses.replace(kept, steps=[{"prompt": p} for p in kept.prompts], timing=None).to_json()


def restore_saved(settings: Settings, saved) -> tuple:
    """On page load: the set this browser kept (see `saved_copy`), checked like an uploaded file, back in the tab.
    Nothing kept, or something that does not check: the tab as it was (every output skipped)."""
    unchanged = (*filled(SetView, gr.skip()), *filled(FormValues, gr.skip()))
    if not saved:
        return unchanged
    try:
        loaded = set_from_json(settings, saved)
    except (UserFacingError, TypeError, ValueError):
        return unchanged
    try:
        return restored_outputs(settings, loaded, "Restored after the reload")
    except Exception:  # noqa: BLE001 - a restore that fails (a model gone) must not paint the fresh page red
        return unchanged
