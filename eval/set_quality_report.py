"""The tables of `eval.set_quality`: results.md (one row per method) and sets.md (sets verbatim, checks marked).

    results_markdown(summary, meta)   # summary: label -> summarise(...) of eval.set_quality, meta: command, machine, ...
"""

from __future__ import annotations

import math

SETS_SHOWN = 10  # sets per row written to sets.md


COLUMNS = [("lambdas", "λ_div/λ_rel", "{}"), ("sets", "sets", "{:d}"), ("vendi_minilm", "Vendi MiniLM ↑", "{:.2f}"),
           ("vendi_minilm_faithful", "Vendi MiniLM, faithful ↑", "{:.2f}"), ("vendi_mpnet", "Vendi mpnet ↑", "{:.2f}"),
           ("vendi_mpnet_faithful", "Vendi mpnet, faithful ↑", "{:.2f}"), ("rel_minilm", "cos(p,q) MiniLM", "{:.3f}"),
           ("rel_mpnet", "cos(p,q) mpnet", "{:.3f}"), ("keeps_pct", "keeps subject+action %", "{:.0f}"),
           ("cinematic_pct", "shot/camera/lens %", "{:.0f}"), ("video_prompt_pct", "video prompt %", "{:.0f}"),
           ("coherent_pct", "coherent %", "{:.0f}"), ("words", "words", "{:.0f}"),
           ("vendi_minilm_content", "content Vendi MiniLM, faithful ↑", "{:.2f}"),
           ("vendi_mpnet_content", "content Vendi mpnet, faithful ↑", "{:.2f}"),
           ("phrase_repeats_max", "most prompts sharing an added 4-word phrase", "{:d}"),
           ("seconds_per_set", "s/set", "{:.2f}")]
MARKS = (("K", "keeps"), ("C", "cinematic"), ("V", "video_prompt"), ("O", "coherent"))  # sets.md, one a check


def _cell(value, fmt: str) -> str:
    return "n/a" if isinstance(value, float) and math.isnan(value) else fmt.format(value)


def results_markdown(summary: dict, meta: dict) -> str:
    lines = [f"# Set quality: {meta['n']} VBench prompts, K = {meta['k']}, seed {meta['seed']}", "",
             "| method | " + " | ".join(title for _, title, _ in COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    for label, s in summary.items():
        lines.append(f"| {label} | " + " | ".join(_cell(s[key], fmt) for key, _, fmt in COLUMNS) + " |")
    lines += ["", "Vendi: of the set's unit sentence embeddings (1 = copies, K = all orthogonal), mean over sets; "
              "MiniLM is the reward's own embedder, mpnet (all-mpnet-base-v2) a judge no reward uses. "
              "*faithful*: only the prompts that keep q's content words (eval/judge.py); a set with one such "
              "prompt counts 1, with none 0. cos(p,q): mean cosine of each prompt to q. The % columns pool every "
              "prompt; the checks are defined in eval/judge.py. words: mean words per prompt (the writing rules ask 40-100). "
              "content Vendi: faithful Vendi after the shot, angle, camera, lens, light and time words are masked "
              "(eval/written.py: what is filmed). most prompts sharing an added 4-word phrase: over all sets, the "
              "largest number of one set's prompts sharing a 4-word phrase with none of q's content words. "
              "s/set: expansion seconds per set. λ_div/λ_rel: the "
              "reward weights of the row (original, composer and iid do not use them to choose prompts).", "",
              f"Command: `{meta['command']}`", "",
              f"Machine: {meta['machine']}; embedder `{meta['embedder']}`, policy `{meta['policy']}`"
              + (f" + adapter `{meta['adapter']}`" if meta["adapter"] else "") + f"; wall {meta['wall_s']:.0f} s "
              "(cached sets are not remade)."]
    if meta["failures"]:
        lines += ["", f"Failed sets ({len(meta['failures'])}):"] + [f"- {f}" for f in meta["failures"]]
    return "\n".join(lines) + "\n"


def sets_markdown(sets: list[dict], rows: list) -> str:
    lines = ["# Sets, verbatim", "",
             f"The first {SETS_SHOWN} sets of each row. Marks before each prompt: K keeps q's subject and action, "
             "C names a shot, camera move or lens, V is a video prompt, O is coherent (contradicts neither itself "
             "nor q); `·` where the check fails."]
    for row in rows:
        lines += ["", f"## {row.label}"]
        for s in [s for s in sets if s["row"] == row.label][:SETS_SHOWN]:
            lines += ["", f"### q: {s['query']}", ""]
            for i, (prompt, m) in enumerate(zip(s["prompts"], s["checks"]), 1):
                mark = "".join(c if m[key] else "·" for c, key in MARKS)
                lines.append(f"{i}. `{mark}` {prompt}")
    return "\n".join(lines) + "\n"
