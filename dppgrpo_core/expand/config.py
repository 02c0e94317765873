"""What a set is made with, apart from q, K and the models: `ExpandConfig`, and the checks of q, K and the seed.

    config = ExpandConfig(lambda_div=0.8).check()     # one line (UserFacingError) for a bad value
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

from dppgrpo_core import checks, cli
from dppgrpo_core.errors import UserFacingError

MAX_K = 50
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

    def check(self) -> "ExpandConfig":
        """This config with numbers as their types; UserFacingError (one line) for a bad value."""
        values = {}
        for f in dataclasses.fields(self):
            low, high = self.RANGES[f.name]
            values[f.name] = checks.number(getattr(self, f.name), f.name, low, high, whole=f.type == "int")
        if values["lambda_div"] + values["lambda_rel"] == 0:
            raise UserFacingError("lambda_div and lambda_rel cannot both be 0.")
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


def check_query(query: str, max_chars: int = 2000) -> str:
    """The user's prompt, stripped; a clear error when it is empty or too long."""
    query = checks.stripped(query or "")  # zero-width spaces alone are no prompt either
    if not query:
        raise UserFacingError("The prompt is empty: type a text-to-video prompt.")
    if len(query) > max_chars:
        raise UserFacingError(f"The prompt has {len(query)} characters; the limit is {max_chars}.")
    return query
