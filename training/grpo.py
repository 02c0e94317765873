"""DPP-GRPO: optimise the policy with trl's GRPOTrainer on the DPP marginal gain and the relevance reward.

    python -m training.grpo --config training/configs/grpo_smoke.yaml                 # 2 steps, minutes on CPU
    python -m training.grpo --config training/configs/grpo_smollm2_cpu.yaml --init_adapter runs/sft
    python -m training.grpo --config training/configs/grpo_smoke.yaml --output_dir /tmp/g --max_steps 4
    accelerate launch --num_processes 4 -m training.grpo --config training/configs/grpo_qwen2_7b_paper.yaml

Rewards (training/rewards.py) are the pure functions of dppgrpo_core.maths.rewards in trl's signature,
weighted by trl's `reward_weights` = [lambda_div, lambda_rel] after each is standardised within its
group (`multi_objective_aggregation="normalize_then_sum"`, the rule of dppgrpo_core.maths.rewards); both are always computed and logged
(`rewards/dpp_gain/mean`, `rewards/relevance/mean`), so an ablation with a weight of 0 still shows
the other component. `init_adapter` continues the SFT LoRA (trl then keeps a frozen copy of it as
the KL reference); otherwise a fresh LoRA from the model arguments. Checkpoints every `save_steps`;
resume with `--resume_from_checkpoint DIR` (or `true` for the latest in output_dir).
"""

from __future__ import annotations

import sys

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.settings import Settings

from .common import finish, load_model, load_tokenizer, policy_path, resume_arg, run_cli
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
    from trl import GRPOConfig, GRPOTrainer, ModelConfig, get_peft_config

    from dppgrpo_core.models.embedder import load_embedder

    data, reward_args, adapter, args, model_args = parse_recipe(
        (DataArguments, RewardArguments, AdapterArguments, GRPOConfig, ModelConfig), argv)
    check_data_and_rewards(data, reward_args, adapter)
    resume = resume_arg(args.resume_from_checkpoint, args.output_dir)  # nothing to resume: one line, now
    weights = [reward_args.lambda_div, reward_args.lambda_rel]
    if args.reward_weights not in (None, weights):
        raise UserFacingError("set the reward weights with lambda_div / lambda_rel, not reward_weights")
    args.reward_weights = weights
    # λ weighs each reward on one scale, as the app's pick does (dppgrpo_core.maths.rewards.balanced_reward):
    # Δ in (0, log 2] would otherwise be drowned by relevance whatever λ says.
    args.multi_objective_aggregation = "normalize_then_sum"
    path = policy_path(model_args.model_name_or_path)
    tokenizer = load_tokenizer(path)
    rows = load_rows(data.dataset_path, "train")
    examples = grpo_examples(rows, data.contexts_per_query, data.data_seed_examples, data.max_previous, data.contexts)
    train = Dataset.from_list(examples)
    # The command line is an entry point: the environment (DPPGRPO_DEVICE, ...) is read here.
    rewards = DPPRewards(load_embedder(reward_args.embedder, settings=Settings.from_env()))
    model = load_model(path, adapter.init_adapter, model_args.dtype or "float32")
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=rewards.functions(REWARD_NAMES),
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        peft_config=None if adapter.init_adapter else get_peft_config(model_args),
    )
    trainer.train(resume_from_checkpoint=resume)
    finish(trainer, args.output_dir, title=f"DPP-GRPO of {model_args.model_name_or_path}")
    trainer.accelerator.print(
        f"GRPO adapter saved to {args.output_dir} ({len(train)} rows; {rewards.seconds:.1f} s in reward functions)"
    )


if __name__ == "__main__":
    sys.exit(run_cli(main, None))
