"""How long an expansion or a comparison will take here, said before the click (pure: no Gradio).

A figure is the work (seconds per prompt, measured in this session or on this server, else a typical CPU figure)
plus the loading still to come: a process loads the sentence embedder on its first run and a policy on its
first policy run, which a "first run" line must count (a 21 s first dpp-compose run is not "a few seconds").

    >>> estimate_line("dpp-compose", 6, 4, {}, "cpu", to_load=12.0)
    'Estimated time for dpp-compose, K = 6: about 18 s on this CPU: 12 s to load the models (once per server), then about 6 s (a typical figure; your runs here refine it).'
    >>> estimate_line("dpp-compose", 0, 4, {}, "cpu")
    'K must be a whole number from 1 to 20, got 0.'
"""

from __future__ import annotations

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import POLICY_METHODS  # the methods that run the language policy
from dppgrpo_core.expand import config as expand_config  # the app's K limit and its check

# Typical seconds per prompt on a CPU with the packaged SmolLM2 (dpp-rerank: per candidate), from the benchmark
# runs in BENCHMARKS.md (iid 3.7, dpp-grpo 6.5, dpp-rerank 9.2 per prompt with 4 candidates); a loaded machine is
# slower. Replaced by a measurement after a run. The other methods run no language model.
CPU_SECONDS_PER_PROMPT = {"original": 0.1, "composer": 0.3, "dpp-compose": 1.0, "iid": 3.7, "dpp-grpo": 6.5,
                          "dpp-rerank": 2.3}
# Loading, once per server process, measured on the 2-core CPU of BENCHMARKS.md: importing and loading the packaged
# MiniLM embedder (4 s + 10 s), and the packaged SmolLM2 with its LoRA merged (9-17 s with transformers, issue 22).
EMBEDDER_LOAD_S = 14.0
POLICY_LOAD_S = 15.0


def duration(seconds: float) -> str:
    """A time as people say it.

    >>> duration(4.2), duration(300)
    ('4 s', '5 min')
    """
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    return f"{seconds / 60:.0f} min"


def check_k(k, n_candidates=4) -> tuple[int, int]:
    """K and the candidates per step as whole numbers in range; UserFacingError naming the one at fault."""
    return (expand_config.check_k(k, expand_config.MAX_K_APP),
            checks.number(n_candidates, "Candidates per step", 1, 16, whole=True))


def _units(method: str, k: int, n_candidates: int) -> int:
    return k * (n_candidates if method == "dpp-rerank" else 1)


def to_load(method: str, embedder_loaded: bool, policy_loaded: bool) -> float:
    """Seconds of model loading a run of `method` still needs in this process."""
    seconds = 0.0 if embedder_loaded else EMBEDDER_LOAD_S
    if method in POLICY_METHODS and not policy_loaded:
        seconds += POLICY_LOAD_S
    return seconds


def work_seconds(method: str, k: int, n_candidates: int, timings: dict | None) -> tuple[float, bool]:
    """(seconds of work, whether measured here) for a run of `method` with K prompts."""
    per_unit = (timings or {}).get(method)
    measured = per_unit is not None
    if not measured:
        per_unit = CPU_SECONDS_PER_PROMPT.get(method, 1.0)
    return per_unit * _units(method, k, n_candidates), measured


def expected_seconds(method: str, k, n_candidates, timings: dict | None, loading: float = 0.0) -> float:
    """The whole figure (work and loading) for the queue's wait estimates; 0 for an invalid request."""
    try:
        k, n_candidates = check_k(k, n_candidates)
    except UserFacingError:
        return 0.0
    return work_seconds(method, k, n_candidates, timings)[0] + loading


def estimate_line(method: str, k, n_candidates, timings: dict | None, device: str, to_load: float = 0.0) -> str:
    """One line before the click: about how long `method` takes for K prompts here, or what is wrong with K.

    `timings`: measured seconds per prompt by method (this session's, else this server's); `to_load`: seconds
    of model loading still ahead (see `to_load`).

    >>> estimate_line("dpp-rerank", 6, 4, {}, "cpu")
    'Estimated time for dpp-rerank, K = 6: about 55 s on this CPU (a typical figure; your runs here refine it).'
    >>> estimate_line("iid", 6, 4, {"iid": 0.5}, "cpu")
    'Estimated time for iid, K = 6: about 3 s (measured on this machine).'
    """
    try:
        k, n_candidates = check_k(k, n_candidates)
    except UserFacingError as exc:
        return str(exc)
    work, measured = work_seconds(method, k, n_candidates, timings)
    where = "" if measured or device.startswith("cuda") else " on this CPU"
    source = ("measured on this machine" if measured else
              "a CPU figure; a GPU is faster: your first run here measures it" if device.startswith("cuda") else
              "a typical figure; your runs here refine it")
    head = f"Estimated time for {method}, K = {k}: {'up to ' if device.startswith('cuda') and not measured else ''}"
    if to_load:
        return (f"{head}about {duration(work + to_load)}{where}: {duration(to_load)} to load the models (once per "
                f"server), then about {duration(work)} ({source}).")
    return f"{head}about {duration(work)}{where} ({source})."


def compare_line(method_a: str, method_b: str, k, n_candidates, timings: dict | None, device: str,
                 to_load: float = 0.0) -> str:
    """The Compare button's estimate: both methods one after the other.

    >>> compare_line("iid", "original", 4, 4, {"iid": 2.0, "original": 0.1}, "cpu")
    'Estimated time for the comparison (iid then original, K = 4): about 8 s (measured on this machine).'
    """
    try:
        k, n_candidates = check_k(k, n_candidates)
    except UserFacingError as exc:
        return str(exc)
    parts = [work_seconds(m, k, n_candidates, timings) for m in dict.fromkeys([method_a, method_b])]
    work, measured = sum(p[0] for p in parts), all(p[1] for p in parts)
    source = "measured on this machine" if measured else "typical CPU figures; your runs here refine them"
    load = f", {duration(to_load)} of it to load the models (once per server)" if to_load else ""
    return (f"Estimated time for the comparison ({method_a} then {method_b}, K = {k}): about "
            f"{duration(work + to_load)}{load} ({source}).")
