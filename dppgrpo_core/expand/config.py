"""What a set is made with, apart from q, K and the models: `ExpandConfig`; the limits of a request and the checks
of its parts (q, K, the weights), each defined here once. `run.check_inputs` puts them together for an entry path.

    config = ExpandConfig(lambda_div=0.8).check()     # one line (UserFacingError) for a bad value
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

from dppgrpo_core import checks, cli
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.sets import MAX_PROMPT_CHARS

MAX_K = 50  # prompts in one set made by the library or a command line
MAX_K_APP = 20  # prompts in one set made in the app (a shared server): the pages' stricter limit
# The app's sliders for these options end before ExpandConfig.RANGES does (its form fields refuse values beyond).
APP_SLIDER_RANGES = {"temperature": (0.0, 1.5), "n_candidates": (1, 8)}
MAX_SEED = checks.SEED_MAX  # torch.manual_seed takes a 64-bit seed


@dataclass(frozen=True)
class ExpandConfig:
    """How a set is made, apart from q, K and the models: the one home of these options and their defaults.

    >>> ExpandConfig(lambda_div=0.8).check().lambda_rel
    0.35
    >>> ExpandConfig(temperature=float("nan")).check()
    Traceback (most recent call last):
    ...
    dppgrpo_core.errors.UserFacingError: temperature must be a number from 0.0 to 2.0, got nan.
    """

    # Weights of the DPP marginal gain and of the relevance to q, on one scale (rewards.balanced_reward).
    # 0.65 / 0.35 measured best for the default method (BENCHMARKS.md, "Prompt sets"): every dpp-compose
    # prompt keeps q, so leaning to Δ buys diversity (Vendi 2.75 -> 2.99) at no cost in faithfulness.
    lambda_div: float = 0.65
    lambda_rel: float = 0.35
    temperature: float = 0.8  # policy sampling temperature, 0 = greedy
    n_candidates: int = 4  # dpp-rerank: policy rewrites sampled per step
    compose_candidates: int = 12  # dpp-compose: composed candidates per prompt of the set (a pool of 12·K)
    max_retries: int = 3  # degenerate generations redrawn before one is kept with a flag

    RANGES = {"lambda_div": (0.0, 1.0), "lambda_rel": (0.0, 1.0), "temperature": (0.0, 2.0),
              "n_candidates": (1, 16), "compose_candidates": (1, 256), "max_retries": (0, 10)}

    @classmethod
    def check_option(cls, name: str, value):
        """One option as its type, within its range; UserFacingError (one line) naming it otherwise.

        >>> ExpandConfig.check_option("n_candidates", 4.0)
        4
        """
        low, high = cls.RANGES[name]
        return checks.number(value, name, low, high, whole=cls.__dataclass_fields__[name].type == "int")

    def check(self) -> "ExpandConfig":
        """This config with numbers as their types; UserFacingError (one line) for a bad value."""
        values = {f.name: self.check_option(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)}
        check_weights(values["lambda_div"], values["lambda_rel"])
        return ExpandConfig(**values)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """One `--field` flag per option, defaulting to the dataclass default."""
        for f in dataclasses.fields(cls):
            low, high = cls.RANGES[f.name]
            kind = cli.whole(low, high) if f.type == "int" else cli.real(low, high)
            parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=f.default,
                                help=f"{low} to {high} (default {f.default})")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "ExpandConfig":
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}).check()


def check_weights(lambda_div: float, lambda_rel: float) -> None:
    """The one rule between the two weights (each already in range): not both 0, or every prompt scores 0.

    >>> check_weights(0.0, 0.0)
    Traceback (most recent call last):
    ...
    dppgrpo_core.errors.UserFacingError: lambda_div and lambda_rel cannot both be 0.
    """
    if lambda_div + lambda_rel == 0:
        raise UserFacingError("lambda_div and lambda_rel cannot both be 0.")


def check_query(query, max_chars: int = MAX_PROMPT_CHARS) -> str:
    """The user's prompt q, stripped: text (no lone surrogate or control character), not empty, not too long.

    >>> check_query("  a cat  ")
    'a cat'
    """
    # Text first (a huge one is refused by the length rule below, with its own line).
    query = checks.text(query, "The prompt", max_chars=10**6, multiline=True, allow_empty=True)
    query = checks.stripped(query)  # zero-width spaces alone are no prompt either
    if not query:
        raise UserFacingError("The prompt is empty: type a text-to-video prompt.")
    if len(query) > max_chars:
        raise UserFacingError(f"The prompt has {len(query)} characters; the limit is {max_chars}.")
    return query


def check_k(k, max_k: int = MAX_K, name: str = "K") -> int:
    """K, the prompts in a set, as a whole number from 1 to `max_k` (MAX_K, or the app's MAX_K_APP).

    >>> check_k(4.0)
    4
    >>> check_k(21, MAX_K_APP)
    Traceback (most recent call last):
    ...
    dppgrpo_core.errors.UserFacingError: K must be a whole number from 1 to 20, got 21.
    """
    return checks.number(k, name, 1, max_k, whole=True)
