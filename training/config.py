"""Recipe arguments and their parsing: a YAML recipe on its base, plus flags, any field overridable, clear errors.

    data, rewards, grpo, model = parse_recipe((DataArguments, RewardArguments, GRPOConfig, ModelConfig),
                                              ["--config", "training/configs/grpo_smoke.yaml", "--max_steps", "2"])

A recipe holds only what it changes: `base: other.yaml` (a path beside it) names the recipe it
starts from, whose fields it overrides, and so on down to `training/configs/base.yaml`. The
merged fields become the defaults of trl's `TrlParser` and flags win, as with trl's own `--config`.
Each file is checked here first (readable, a mapping, only known fields, values of the right
type), the parsed numbers once after (`check_numbers`); every problem becomes one
`UserFacingError` line, which the commands print before exiting with status 2.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand.config import check_weights

MAX_CONFIG_BYTES = 1_000_000  # a recipe is a few dozen lines
MAX_BASES = 8  # recipes on recipes: a longer chain is a mistake (or a cycle)


@dataclass
class DataArguments:
    dataset_path: str = field(default="", metadata={"help": "folder written by `python -m training.build_data`"})
    max_previous: int = field(default=9, metadata={"help": "most earlier prompts shown in one example's set"})
    data_seed_examples: int = field(default=0, metadata={"help": "seed of the context sets drawn for GRPO rows"})
    contexts_per_query: int = field(
        default=3, metadata={"help": "GRPO rows per base prompt, each with a context set S of a different size"}
    )
    contexts: str = field(default="reference", metadata={
        "help": "GRPO context sets S: 'reference' (prefixes of R_q) or 'policy' (prefixes of the policy's own "
                "rollout, a dataset from training.rollouts)"})


# λ is lambda_div / lambda_rel in training as at inference (ExpandConfig), and trl's reward_weights is only
# where grpo.py hands them over. The defaults differ on purpose: training uses the paper's equal weights
# (they made the shipped adapter); ExpandConfig's 0.65 / 0.35 were measured best for dpp-compose at
# inference (BENCHMARKS.md), a method nothing trains.
TRAINING_LAMBDA_DIV, TRAINING_LAMBDA_REL = 0.5, 0.5


@dataclass
class RewardArguments:
    lambda_div: float = field(default=TRAINING_LAMBDA_DIV, metadata={"help": "weight of the DPP marginal gain"})
    lambda_rel: float = field(default=TRAINING_LAMBDA_REL, metadata={"help": "weight of the relevance reward"})
    lambda_writing: float = field(default=0.0, metadata={
        "help": "weight of the writing-rules reward (not the paper's: an ablation beside it; 0: logged only)"})
    embedder: str | None = field(default=None, metadata={"help": "sentence embedder of the rewards (default: settings)"})


@dataclass
class AdapterArguments:
    init_adapter: str | None = field(
        default=None, metadata={"help": "LoRA folder to continue training (GRPO: the SFT warm start; SFT: an earlier SFT)"}
    )


def _one_line_parser(dataclass_types):
    """A TrlParser whose argparse errors raise instead of printing the usage and exiting."""
    from trl import TrlParser

    class Parser(TrlParser):
        def error(self, message):  # argparse calls this for a bad flag or value
            raise UserFacingError(message)

    return Parser(dataclass_types)


def _accepts(annotation, value) -> bool:
    """Whether a YAML value fits a dataclass annotation (numbers may come as strings: YAML reads 2e-7 as one)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation in (int, float):
        if isinstance(value, bool):
            return False
        if isinstance(value, (int, float)):
            return annotation is float or float(value).is_integer()
        try:
            annotation(value) if annotation is float else int(value)
            return isinstance(value, str)
        except (TypeError, ValueError):
            return False
    if annotation is str:
        return isinstance(value, str)
    if origin is list or annotation is list:
        return isinstance(value, list)
    if origin is dict or annotation is dict:
        return isinstance(value, dict)
    return True  # enums, literals, anything else: trl's own checks decide


def check_yaml(path: str, dataclass_types) -> dict:
    """The recipe's mapping, or a UserFacingError naming the file and the first problem."""
    file = Path(path)
    shown = checks.shown(str(path))
    if not file.is_file():
        raise UserFacingError(f"config file {shown} does not exist")
    try:
        if file.stat().st_size > MAX_CONFIG_BYTES:
            raise UserFacingError(f"config file {shown} is larger than {MAX_CONFIG_BYTES // 1000} kB")
        text = file.read_bytes().decode("utf-8")
        data = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise UserFacingError(f"config file {shown} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise UserFacingError(f"cannot read config file {shown}: {exc.strerror or exc}") from None
    except RecursionError:
        raise UserFacingError(f"config file {shown} is nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise UserFacingError(f"config file {shown} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise UserFacingError(f"config file {shown} must be a YAML mapping of field: value, got {type(data).__name__}")
    known = {}
    for cls in dataclass_types:
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            known.setdefault(f.name, hints.get(f.name))
    for key, value in data.items():
        if key == "env":  # trl's: environment variables the run sets
            if not isinstance(value, dict):
                raise UserFacingError(f"config file {shown}: env must be a mapping of NAME: value")
            continue
        if key == "base":
            if not isinstance(value, str) or not value.strip():
                raise UserFacingError(f"config file {shown}: base must name another recipe file")
            continue
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserFacingError(f"config file {shown}: unknown field {checks.shown(key)}{hint}")
        if not _accepts(known[key], value):
            raise UserFacingError(f"config file {shown}: field {key!r} has the wrong type ({checks.shown(value)}; "
                                  f"expected {known[key]})")
    return data


def read_recipe(path: str | os.PathLike, dataclass_types) -> dict:
    """The recipe's fields merged onto those of its `base:` chain (the file's own win); UserFacingError on a
    bad file, an unknown field or a chain longer than MAX_BASES."""
    chain, file = [], Path(path)
    while True:
        data = check_yaml(str(file), dataclass_types)
        chain.append(data)
        if "base" not in data:
            break
        if len(chain) > MAX_BASES:
            raise UserFacingError(f"config file {checks.shown(str(path))}: more than {MAX_BASES} bases in a row "
                                  "(is there a cycle?)")
        file = file.parent / data["base"]
    merged: dict = {}
    for data in reversed(chain):
        merged.update({key: value for key, value in data.items() if key != "base"})
    return merged


def parse_recipe(dataclass_types, argv: list[str]) -> tuple:
    """Instances of `dataclass_types` from `--config FILE` (optional) and flags; UserFacingError on any problem."""
    argv = list(argv)
    recipe: dict = {}
    if "--config" in argv:
        i = argv.index("--config")
        if i + 1 >= len(argv):
            raise UserFacingError("--config needs a YAML file")
        recipe = read_recipe(argv[i + 1], dataclass_types)
        del argv[i : i + 2]
    for name, value in recipe.pop("env", {}).items():  # as trl's own --config does
        os.environ[str(name)] = str(value)
    names = {f.name for cls in dataclass_types for f in fields(cls)}
    defaults = {}
    if "bf16" in names and not _has_accelerator():
        defaults["bf16"] = False  # trl defaults to bf16, which a CPU refuses; the recipe still wins
    if "multi_objective_aggregation" in names:
        # λ weighs each reward on one scale, as the app's pick does (dppgrpo_core.maths.rewards.balanced_reward):
        # Δ in (0, log 2] would otherwise be drowned by relevance whatever λ says. A recipe may still choose.
        defaults["multi_objective_aggregation"] = "normalize_then_sum"
    parser = _one_line_parser(dataclass_types)
    parser.set_defaults_with_config(**{**defaults, **recipe})
    try:
        parsed = tuple(parser.parse_args_into_dataclasses(argv))
    except UserFacingError:
        raise
    except (ValueError, TypeError) as exc:  # trl / transformers validation of the training arguments
        raise UserFacingError(str(exc).strip().splitlines()[0]) from exc
    check_numbers(parsed)
    return parsed


# Fields with a range beyond "finite": a NaN or negative learning rate trains nothing, silently.
RANGES = {"learning_rate": (0.0, 10.0), "lambda_div": (0.0, 100.0), "lambda_rel": (0.0, 100.0), "lambda_writing": (0.0, 100.0),
          "temperature": (0.0, 100.0), "max_grad_norm": (0.0, None), "weight_decay": (0.0, None)}


def check_numbers(instances) -> None:
    """UserFacingError for any float field that is NaN or infinite, or out of RANGES (flags and YAML alike)."""
    for instance in instances:
        for f in fields(instance):
            value = getattr(instance, f.name, None)
            if isinstance(value, float) and not isinstance(value, bool):
                low, high = RANGES.get(f.name, (None, None))
                checks.number(value, f.name, low, high)  # NaN and infinity are refused there too


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available()


def check_data_and_rewards(data: DataArguments, rewards: RewardArguments | None = None,
                           adapter: AdapterArguments | None = None) -> None:
    """Checks trl cannot make: the dataset exists, the counts and weights make sense."""
    if not data.dataset_path:
        raise UserFacingError("set dataset_path (in the YAML or --dataset_path) to a folder from training.build_data")
    if not (Path(data.dataset_path) / "train.parquet").is_file():
        raise UserFacingError(
            f"{data.dataset_path} has no train.parquet: build it with "
            f"`python -m training.build_data --out {data.dataset_path}`"
        )
    if data.max_previous < 0 or data.contexts_per_query < 1:
        raise UserFacingError("max_previous must be ≥ 0 and contexts_per_query ≥ 1")
    if rewards is not None:  # ranges: check_numbers, at parsing; the rule between them has one home
        check_weights(rewards.lambda_div, rewards.lambda_rel)
    if adapter is not None and adapter.init_adapter and not (Path(adapter.init_adapter) / "adapter_config.json").is_file():
        raise UserFacingError(f"init_adapter {adapter.init_adapter} is not a LoRA folder (no adapter_config.json)")
