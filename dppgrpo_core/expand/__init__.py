"""Expansion: rewrite a prompt q into K prompts, one at a time, each scored against the set so far.

    from dppgrpo_core.expand import ExpandConfig, check_inputs, expand, run_expansion
    request = check_inputs("a dog at the beach", 4, "dpp-compose", seed=0)   # one line for a bad input
    for step in expand("a dog at the beach", k=4, method="dpp-compose", seed=0):
        print(step.index, round(step.gain, 3), step.prompt)

The parts: `config.py` (`ExpandConfig`, the limits `MAX_K` / `MAX_K_APP`, the checks of q, K and the weights),
`composer.py` (the cinematic axes), `scoring.py` (DPP gain and relevance against the set so far), `methods.py`
(one generator per method), `run.py` (`check_inputs` and its `ExpandRequest`, `expand`, `run_expansion`,
`set_json`), `command.py` (`python -m dppgrpo_core.expand`). A finished set travels as a
`dppgrpo_core.sets.PromptSet`.
"""

from dppgrpo_core.expand.config import (
    APP_SLIDER_RANGES,
    MAX_K,
    MAX_K_APP,
    MAX_SEED,
    ExpandConfig,
    check_k,
    check_query,
    check_weights,
)
from dppgrpo_core.expand.methods import DEFAULT_METHOD, METHOD_NOTES, METHODS, POLICY_METHODS, ExpandRun
from dppgrpo_core.expand.run import (
    ExpandRequest,
    check_inputs,
    check_method,
    expand,
    format_table,
    input_problems,
    run_expansion,
    set_json,
)
from dppgrpo_core.expand.scoring import Choice, SetScorer, StepRecord

__all__ = ["APP_SLIDER_RANGES", "MAX_K", "MAX_K_APP", "MAX_SEED", "ExpandConfig", "check_k", "check_query", "check_weights",
           "DEFAULT_METHOD", "METHOD_NOTES", "METHODS", "POLICY_METHODS", "ExpandRun", "ExpandRequest",
           "check_inputs", "check_method", "expand", "format_table", "input_problems",
           "run_expansion", "set_json", "Choice", "SetScorer", "StepRecord"]
