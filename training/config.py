"""Recipe arguments and their parsing: a YAML recipe plus flags, any field overridable, clear errors.

    data, rewards, grpo, model = parse_recipe((DataArguments, RewardArguments, GRPOConfig, ModelConfig),
                                              ["--config", "training/configs/grpo_smoke.yaml", "--max_steps", "2"])

Parsing is trl's `TrlParser` (YAML values become defaults, flags win). Before it runs, the YAML is
checked here (readable, a mapping, only known fields, values of the right type) and every problem
becomes one `UserFacingError` line, which the commands print before exiting with status 2.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError

MAX_CONFIG_BYTES = 1_000_000  # a recipe is a few dozen lines


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


@dataclass
class RewardArguments:
    # The paper trains with equal weights; the app's ExpandConfig weights (0.65 / 0.35) were chosen for the
    # composer method at inference (BENCHMARKS.md) and are a separate choice.
    lambda_div: float = field(default=0.5, metadata={"help": "weight of the DPP marginal gain (trl reward_weights[0])"})
    lambda_rel: float = field(default=0.5, metadata={"help": "weight of the relevance reward (trl reward_weights[1])"})
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
        if key == "env":
            continue
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserFacingError(f"config file {shown}: unknown field {checks.shown(key)}{hint}")
        if not _accepts(known[key], value):
            raise UserFacingError(f"config file {shown}: field {key!r} has the wrong type ({checks.shown(value)}; "
                                  f"expected {known[key]})")
    return data


def parse_recipe(dataclass_types, argv: list[str]) -> tuple:
    """Instances of `dataclass_types` from `--config FILE` (optional) and flags; UserFacingError on any problem."""
    argv = list(argv)
    if "--config" in argv:
        i = argv.index("--config")
        if i + 1 >= len(argv):
            raise UserFacingError("--config needs a YAML file")
        check_yaml(argv[i + 1], dataclass_types)
    parser = _one_line_parser(dataclass_types)
    if any(f.name == "bf16" for cls in dataclass_types for f in fields(cls)) and not _has_accelerator():
        parser.set_defaults_with_config(bf16=False)  # trl defaults to bf16, which a CPU refuses; the YAML still wins
    try:
        parsed = tuple(parser.parse_args_and_config(argv))
    except UserFacingError:
        raise
    except (ValueError, TypeError) as exc:  # trl / transformers validation of the training arguments
        raise UserFacingError(str(exc).strip().splitlines()[0]) from exc
    check_numbers(parsed)
    return parsed


# Fields with a range beyond "finite": a NaN or negative learning rate trains nothing, silently.
RANGES = {"learning_rate": (0.0, 10.0), "lambda_div": (0.0, 100.0), "lambda_rel": (0.0, 100.0),
          "temperature": (0.0, 100.0), "max_grad_norm": (0.0, None), "weight_decay": (0.0, None)}


def check_numbers(instances) -> None:
    """UserFacingError for any float field that is NaN or infinite, or out of RANGES (flags and YAML alike)."""
    for instance in instances:
        for f in fields(instance):
            value = getattr(instance, f.name, None)
            if isinstance(value, float) and not isinstance(value, bool):
                low, high = RANGES.get(f.name, (None, None))
                checks.number(value, f.name, low, high)
                if not math.isfinite(value):  # pragma: no cover - checks.number refuses these
                    raise UserFacingError(f"{f.name} must be a finite number, got {value}.")


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
    if rewards is not None:
        checks.number(rewards.lambda_div, "lambda_div", 0, RANGES["lambda_div"][1])
        checks.number(rewards.lambda_rel, "lambda_rel", 0, RANGES["lambda_rel"][1])
        if rewards.lambda_div < 0 or rewards.lambda_rel < 0 or rewards.lambda_div + rewards.lambda_rel == 0:
            raise UserFacingError("lambda_div and lambda_rel must be ≥ 0 and not both 0")
    if adapter is not None and adapter.init_adapter and not (Path(adapter.init_adapter) / "adapter_config.json").is_file():
        raise UserFacingError(f"init_adapter {adapter.init_adapter} is not a LoRA folder (no adapter_config.json)")
