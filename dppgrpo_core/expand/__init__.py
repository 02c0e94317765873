"""Expansion: rewrite a prompt q into K prompts, one at a time, each scored against the set so far.

    from dppgrpo_core.expand import ExpandConfig, expand, run_expansion
    for step in expand("a dog at the beach", k=4, method="dpp-compose", seed=0):
        print(step.index, round(step.gain, 3), step.prompt)

The parts: `config.py` (`ExpandConfig`, the checks of q and K), `composer.py` (the cinematic
axes), `scoring.py` (DPP gain and relevance against the set so far), `methods.py` (one
generator per method), `run.py` (`expand`, `run_expansion`), `command.py` (`python -m
dppgrpo_core.expand`). A finished set travels as a `dppgrpo_core.sets.PromptSet`.
"""

from dppgrpo_core.expand.config import MAX_K, MAX_SEED, ExpandConfig, check_query
from dppgrpo_core.expand.methods import DEFAULT_METHOD, METHOD_NOTES, METHODS, POLICY_METHODS, ExpandRun
from dppgrpo_core.expand.run import check_arguments, expand, format_table, run_expansion
from dppgrpo_core.expand.scoring import Choice, SetScorer, StepRecord

__all__ = ["MAX_K", "MAX_SEED", "ExpandConfig", "check_query", "DEFAULT_METHOD", "METHOD_NOTES", "METHODS",
           "POLICY_METHODS", "ExpandRun", "check_arguments", "expand", "format_table", "run_expansion", "Choice", "SetScorer",
           "StepRecord"]
