"""DPP-GRPO: optimise the policy with trl's GRPOTrainer on the DPP marginal gain and the relevance reward.

    python -m training.grpo --config training/configs/grpo_smoke.yaml                 # 2 steps, minutes on CPU
    python -m training.grpo --config training/configs/grpo_compose_v2_cpu.yaml        # the shipped adapter's GRPO
    python -m training.grpo --config training/configs/grpo_compose_v2_cpu.yaml --lambda_div 1 --lambda_rel 0 ...
    accelerate launch --num_processes 4 -m training.grpo --config training/configs/grpo_qwen2_7b_paper.yaml

Rewards (training/rewards.py) are the pure functions of dppgrpo_core.maths.rewards in trl's signature,
weighted by lambda_div and lambda_rel (handed to trl as `reward_weights`, which a recipe may not set)
after each is standardised within its group (`multi_objective_aggregation: normalize_then_sum`, the
default parse_recipe gives, the rule of dppgrpo_core.maths.rewards); both are always computed and logged
(`rewards/dpp_gain/mean`, `rewards/relevance/mean`), so an ablation with a weight of 0 still shows
the other component. A third, `lambda_writing` (default 0), weights the critic's rules of a written prompt
(`rewards/writing/mean`, logged always): not the paper's reward, an ablation beside it. `init_adapter`
continues the SFT LoRA (trl then keeps a frozen copy of it as the KL reference); otherwise a fresh LoRA from the model arguments. Checkpoints every `save_steps`;
resume with `--resume_from_checkpoint DIR` (or `true` for the latest in output_dir).
"""

from __future__ import annotations

import sys

from dppgrpo_core.cli import run_main
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.settings import Settings

from .common import load_model, load_tokenizer, policy_path, resume_arg, run_trainer
from .config import (
    AdapterArguments,
    DataArguments,
    RewardArguments,
    check_data_and_rewards,
    parse_recipe,
)
from .examples import grpo_examples, load_rows
from .rewards import REWARD_NAMES, DPPRewards


def main(argv: list[str]) -> None:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer, ModelConfig

    from dppgrpo_core.models.embedder import load_embedder

    data, reward_args, adapter, args, model_args = parse_recipe(
        (DataArguments, RewardArguments, AdapterArguments, GRPOConfig, ModelConfig), argv)
    check_data_and_rewards(data, reward_args, adapter)
    resume = resume_arg(args.resume_from_checkpoint, args.output_dir)  # nothing to resume: one line, now
    if args.reward_weights is not None:  # one name for λ: a second one could silently disagree with it
        raise UserFacingError("set the reward weights with lambda_div / lambda_rel, not reward_weights")
    args.reward_weights = [reward_args.lambda_div, reward_args.lambda_rel, reward_args.lambda_writing]  # REWARD_NAMES
    path = policy_path(model_args.model_name_or_path)
    tokenizer = load_tokenizer(path)
    rows = load_rows(data.dataset_path, "train")
    examples = grpo_examples(rows, data.contexts_per_query, data.data_seed_examples, data.max_previous, data.contexts)
    train = Dataset.from_list(examples)
    # The command line is an entry point: the environment (DPPGRPO_DEVICE, ...) is read here.
    rewards = DPPRewards(load_embedder(reward_args.embedder, settings=Settings.from_env()))
    model = load_model(path, adapter.init_adapter, model_args.dtype or "float32")
    trainer = run_trainer(GRPOTrainer, model, args, train, tokenizer, adapter, model_args, resume,
                          f"DPP-GRPO of {model_args.model_name_or_path}", reward_funcs=rewards.functions(REWARD_NAMES))
    trainer.accelerator.print(
        f"GRPO adapter saved to {args.output_dir} ({len(train)} rows; {rewards.seconds:.1f} s in reward functions)"
    )


if __name__ == "__main__":
    sys.exit(run_main(main, None))
