"""The written dataset's card and statistics (`training.write_data`): what was tried, refused and kept."""

from __future__ import annotations

import random
import statistics


def rows_and_stats(records: list[dict], kept: list[dict], seed: int, k: int, n_candidates: int,
                   test_fraction: float, policy) -> tuple[list[dict], dict]:
    rows = [{"query": r["query"], "variants": r["variants"],
             "split": "test" if random.Random(f"{seed}:split:{r['query']}").random() < test_fraction else "train"}
            for r in kept]
    tried = [r for r in records if not r.get("vbench")]
    reasons = ["length" if reason[:1].isdigit() else reason.split(":")[0] for r in tried for rs in r["problems"]
               for reason in rs]
    decoded = [r for r in tried if r.get("decoding")]  # written with the label ban and the minimum length
    words = [len(v.split()) for r in kept for v in r["variants"]]
    stats = {
        "seed": seed, "k": k, "candidates_per_base": n_candidates, "architect": getattr(policy, "name", None),  # the command sets its --policy
        "n_base": len(rows), "train": sum(r["split"] == "train" for r in rows),
        "test": sum(r["split"] == "test" for r in rows), "tried": len(tried),
        "vbench_excluded": sum(bool(r.get("vbench")) for r in records),
        "too_few_variants": sum(not r["variants"] for r in tried),
        "decoded_tried": len(decoded), "decoded_kept": sum(bool(r["variants"]) for r in decoded),
        "passing": sum(not p for r in tried for p in r["problems"]),  # the critic's first pass, by today's rules
        "decoded_written": sum(len(r["written"]) for r in decoded),
        "decoded_passing": sum(not p for r in decoded for p in r["problems"]),
        "written": sum(len(r["written"]) for r in tried),
        "refused": {reason: reasons.count(reason) for reason in sorted(set(reasons))},
        "variant_words_mean": round(statistics.mean(words), 1) if words else 0.0,
        "relevance_mean": round(statistics.mean(x for r in kept for x in r["relevances"]), 4) if kept else 0.0,
        "log_det_mean": round(statistics.mean(r["log_det"] for r in kept), 4) if kept else 0.0,
    }
    return rows, stats


CARD = """# DPP-GRPO written prompt sets (seed {seed})

Base text-to-video prompts, each with {k} rich, faithful, coherent and mutually diverse rewrites (R_q), written
by an architect language model ({architect}) from plans that spread the subject's look, the manner of its motion,
the setting and the camera, and kept by a critic: {words} words, keeps q's content words and all its style words
(put back at the end where left out), no coherence rule broken (`dppgrpo_core/coherence.yaml`), no place but q's
or the plan's, nothing copied from the example shown, no plan label filled in ("The setting is a …", "The camera,
a close-up, …"), the plan not listed back as commas, nothing about the prompt itself ("as described"), no added
phrase or sentence said twice in a prompt (a later sentence that only restates is dropped first), no added 4-word
phrase in more than 3 of a set, cos(p, q) ≥ MiniLM threshold, no near-duplicates, greedy DPP selection
of {k} (`training/critic.py`).
Built with `python -m training.write_data --seed {seed} --k {k} --candidates {candidates_per_base}`; base prompts
equal or near a VBench prompt are left out ({vbench_excluded} skipped).

Base prompts: {n_base} (train {train}, test {test}) of {tried} tried ({too_few_variants} had fewer than {k}
survivors; of the {decoded_tried} written with the plan's labels suppressed and a minimum length, as every record
with a `decoding` field, {decoded_kept} kept a set). Prompts passing the critic's first pass: {passing} of
{written} ({decoded_passing} of the {decoded_written} written with that decoding). Prompts written / kept: {written} /
{kept}; refused by the critic, by reason: {refused}. Kept variants: {variant_words_mean} words and cos(variant, q)
{relevance_mean} on average; log det(L + I) of each R_q {log_det_mean}.
Columns: `query` (q), `variants` (R_q in greedy DPP pick order), `split`; `progress*.jsonl` beside this card hold
every base prompt's plans, the architect's prompts and the critic's reasons.
"""
