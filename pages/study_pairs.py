"""Pairs for the pairwise study made from the page, never from a hand-written file: "pair these two grids" (two
grids this session rendered for one prompt), or "pair method A and method B over these prompts" (both methods
expand each prompt; the sets are paired as text, or rendered first with the Render tab's model), as GenAI-Arena
does. Lives in the Annotate tab's set-up panel (admins only with sign-in).

    remember_grid(grids, rendered)                      # every grid this session rendered, oldest first
    pair_grids(ctx, grids, 0, 1, request)               # "Added pair … The study has 3 pairs."
    for line in pair_methods(ctx, "a fox\\na boat", "dpp-compose", "original", 4, "text", request): print(line)

The clips are the server's own renders (paths kept server-side in the session's state), so no folder rule of a
manifest applies to them.
"""

from __future__ import annotations

import gradio as gr

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import METHODS, check_query, expand
from dppgrpo_core.study import pairwise
from pages.context import handler, is_admin, markdown_text, open_store, refused

MAX_GRIDS = 20  # grids a session remembers for pairing (the oldest go first)
MAX_PAIR_PROMPTS = 20
KINDS = [("as text (prompt sets)", "text"), ("as clips (rendered with the Render tab's model)", "clips")]


def remember_grid(grids: list | None, rendered: dict | None) -> list:
    """The session's grids with `rendered` added (once; only a grid with clips).

    >>> remember_grid([], {"query": "q", "method": "m", "prompts": ["p"], "videos": ["v.mp4"]})[0]["method"]
    'm'
    """
    grids = list(grids or [])
    if not isinstance(rendered, dict) or not rendered.get("videos"):
        return grids
    if any(g.get("videos") == rendered["videos"] for g in grids):
        return grids
    return (grids + [rendered])[-MAX_GRIDS:]


def grid_label(index: int, grid: dict) -> str:
    """How a grid reads in the pair menus.

    >>> grid_label(0, {"query": "a fox", "method": "dpp-compose", "videos": ["a", "b"], "model": "tiny-random-wan"})
    '#1 dpp-compose · “a fox” · 2 clips · tiny-random-wan'
    """
    query = grid.get("query") or "typed prompts, no query"
    return (f"#{index + 1} {grid.get('method') or 'manual'} · “{query[:50]}” · {len(grid['videos'])} clips"
            + (f" · {grid['model']}" if grid.get("model") else ""))


def grid_menus(grids: list | None):
    """Both pair menus listing the session's grids, the two newest chosen."""
    choices = [(grid_label(i, g), i) for i, g in enumerate(grids or [])]
    first = choices[-2][1] if len(choices) >= 2 else None
    second = choices[-1][1] if choices else None
    return gr.Dropdown(choices=choices, value=first), gr.Dropdown(choices=choices, value=second)


def _side_labels(first: dict, second: dict) -> tuple[str, str]:
    """The two sides' names in the results: their methods, told apart by model or seed when the methods match."""
    a, b = first.get("method") or "manual", second.get("method") or "manual"
    if a != b and a != "manual":
        return a, b
    for key in ("model", "seeds"):
        if first.get(key) != second.get(key):
            return f"{a} · {key} {first.get(key)}", f"{b} · {key} {second.get(key)}"
    raise UserFacingError(f"Both grids were made the same way ({a}): a pair compares two methods. Render the prompt "
                          "with another method (Expand tab, then Render) and pair those.")


@handler
def pair_grids(ctx, grids: list | None, first, second, request: gr.Request = None) -> str:
    """The "Pair these two grids" button: the two grids as one pair of the study; a line saying what was added."""
    if not is_admin(ctx, request):
        raise refused("Only study admins can change the study.")
    grids = grids or []
    if len(grids) < 2:
        raise refused(f"Render two grids of one prompt first (this session has {len(grids)}): e.g. expand it with "
                      "two methods and render each set.")
    picked = []
    for value, name in ((first, "first"), (second, "second")):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(grids):
            raise refused(f"Choose the {name} grid from the list.")
        picked.append(grids[value])
    if first == second:
        raise refused("Choose two different grids.")
    one, two = picked
    if not one.get("query") or one.get("query") != two.get("query"):
        raise refused("A pair shows two sets for one prompt: these grids were made for "
                      f"“{markdown_text((one.get('query') or 'typed prompts')[:60])}” and "
                      f"“{markdown_text((two.get('query') or 'typed prompts')[:60])}”.")
    label_a, label_b = _side_labels(one, two)
    pair = {"prompt": one["query"], "a": {"method": label_a, "videos": list(one["videos"])},
            "b": {"method": label_b, "videos": list(two["videos"])}}
    pair["pair_id"] = pairwise.pair_id_for(pair["prompt"], pair["a"], pair["b"])
    store = open_store(ctx)
    pairwise.add_pairs(store, [pair])
    return (f"Added a pair for *{markdown_text(one['query'])}* ({len(one['videos'])} clips vs "
            f"{len(two['videos'])} clips). The study has {len(pairwise.pair_ids(store))} pairs.")


def prompt_list(text) -> list[str]:
    """The prompts box, one query a line, checked (1 to MAX_PAIR_PROMPTS)."""
    if not isinstance(text, str):
        raise UserFacingError("Type the prompts, one per line.")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise UserFacingError("Type the prompts to pair, one per line.")
    if len(lines) > MAX_PAIR_PROMPTS:
        raise UserFacingError(f"At most {MAX_PAIR_PROMPTS} prompts at a time, got {len(lines)}.")
    return [check_query(line) for line in lines]


@handler(uses_gpu=True)
def pair_methods(ctx, prompts_text, method_a, method_b, k, kind, request: gr.Request = None,
                 progress=gr.Progress()):
    """The "Pair the two methods" button: each prompt expanded by both methods (seed 0), paired as text or as clips
    rendered with the Render tab's model; a status line after each prompt, then what was added."""
    if not is_admin(ctx, request):
        raise refused("Only study admins can change the study.")
    queries = prompt_list(prompts_text)
    if method_a not in METHODS or method_b not in METHODS or method_a == method_b:
        raise refused("Choose two different methods.")
    k = checks.number(k, "K", 2, 16, whole=True)
    if kind not in dict((v, k) for k, v in KINDS):
        raise refused("Choose text or clips.")
    pairs = []
    for number, query in enumerate(queries, 1):
        sides = {}
        for key, method in (("a", method_a), ("b", method_b)):
            progress((number - 1) / len(queries), desc=f"{method} on prompt {number} of {len(queries)}")
            prompts = [record.prompt for record in expand(query, k, method, 0, settings=ctx.settings)]
            sides[key] = {"method": method, "prompts": prompts}
            if kind == "clips":
                sides[key] = {"method": method, "videos": _render(ctx, prompts)}
        pair = {"prompt": query, **sides}
        pair["pair_id"] = pairwise.pair_id_for(query, sides["a"], sides["b"])
        pairs.append(pair)
        yield f"⏳ {number} of {len(queries)} prompts expanded by {method_a} and {method_b}…"
    store = open_store(ctx)
    pairwise.add_pairs(store, pairs)
    yield (f"✅ Added {len(pairs)} pairs ({method_a} vs {method_b}, K = {k}, {'clips' if kind == 'clips' else 'text'}). "
           f"The study has {len(pairwise.pair_ids(store))} pairs.")


def _render(ctx, prompts: list[str]) -> list[str]:
    """The prompts rendered with the Render tab's starting model (seed 0); UserFacingError if any failed."""
    from dppgrpo_core.video import RenderSettings, render_videos
    from dppgrpo_core.video.backends import model_for_client
    from pages.render_view import default_model

    model = default_model(ctx.settings, ctx.allow_cpu)
    spec = model_for_client(model, ctx.settings.video_model)
    results = render_videos(prompts, 0, spec, RenderSettings(allow_cpu=ctx.allow_cpu), ctx.settings.cache_dir,
                            ctx.settings.device)
    failed = [r for r in results if not r.path]
    if failed:
        raise UserFacingError(f"{len(failed)} of {len(results)} clips did not render ({failed[0].error}).")
    return [r.path for r in results]


def build_pairs_panel(ctx) -> list:
    """The pairing part of the set-up panel; returns its two events (the caller refreshes its counts after them)."""
    from pages.context import bind

    gr.Markdown("**Pairs for the pairwise mode**: two grids this session rendered for one prompt, or two methods "
                "over a list of prompts.")
    with gr.Row():
        first = gr.Dropdown([], label="First grid (A)", scale=2, elem_id="pair-first")
        second = gr.Dropdown([], label="Second grid (B)", scale=2, elem_id="pair-second")
        pair_button = gr.Button("Pair these two grids", scale=1, elem_id="pair-grids")
    with gr.Accordion("Pair two methods over a list of prompts", open=False):
        prompts = gr.Textbox(label="Prompts, one per line", lines=3, max_lines=20)
        with gr.Row():
            method_a = gr.Dropdown(list(METHODS), value="dpp-compose", label="Method A")
            method_b = gr.Dropdown(list(METHODS), value="original", label="Method B")
            k = gr.Number(value=4, precision=0, label="K (2 to 16)")
            kind = gr.Radio(KINDS, value="text", label="Show them")
        methods_button = gr.Button("Pair the two methods")
    pair_status = gr.Markdown(elem_id="pair-status", elem_classes=["dpp-live"])
    if ctx.rendered_grids is not None:
        # Every grid rendered (or restored) in this session joins the menus.
        ctx.rendered_set.change(remember_grid, [ctx.rendered_grids, ctx.rendered_set], ctx.rendered_grids,
                                api_visibility="private", show_progress="hidden")
        ctx.rendered_grids.change(grid_menus, ctx.rendered_grids, [first, second], api_visibility="private",
                                  show_progress="hidden")
        grids = ctx.rendered_grids
    else:  # a bare test app without the session's grid list
        grids = gr.State([])
    return [pair_button.click(bind(pair_grids, ctx), [grids, first, second], pair_status, api_visibility="private"),
            methods_button.click(bind(pair_methods, ctx), [prompts, method_a, method_b, k, kind], pair_status,
                                 api_visibility="private", **ctx.model_queue)]
