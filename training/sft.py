"""SFT warm start: teach the policy to write the next prompt of a diverse set, with trl's SFTTrainer + LoRA.

    python -m training.sft --config training/configs/sft_compose_cpu.yaml                 # the first warm start
    python -m training.sft --config training/configs/sft_compose_v2_cpu.yaml --output_dir /tmp/sft --max_steps 2
    accelerate launch --num_processes 4 -m training.sft --config training/configs/sft_qwen2_7b_paper.yaml

Each example is (s, q, the first i variants of R_q) → variant i+1 in the chat format of inference
(`dppgrpo_core.models.chat.build_messages`); the loss covers the assistant reply only. The LoRA adapter
in output_dir loads with `load_policy(adapter=output_dir)` and is GRPO's `init_adapter`.
`--init_adapter DIR` continues an earlier SFT LoRA (say on new data) instead of starting a new one.
Resume with `--resume_from_checkpoint output_dir/checkpoint-N` (or `true` for the latest).
"""

from __future__ import annotations

import sys

from dppgrpo_core.cli import run_main

from .common import load_model, load_tokenizer, policy_path, resume_arg, run_trainer
from .config import (
    AdapterArguments,
    DataArguments,
    check_data_and_rewards,
    parse_recipe,
)
from .examples import fits, load_rows, sft_examples


def main(argv: list[str]) -> None:
    from datasets import Dataset
    from trl import ModelConfig, SFTConfig, SFTTrainer

    data, adapter, args, model_args = parse_recipe((DataArguments, AdapterArguments, SFTConfig, ModelConfig), argv)
    check_data_and_rewards(data, adapter=adapter)
    resume = resume_arg(args.resume_from_checkpoint, args.output_dir)  # nothing to resume: one line, now
    path = policy_path(model_args.model_name_or_path)
    tokenizer = load_tokenizer(path)
    examples = sft_examples(load_rows(data.dataset_path, "train"), data.max_previous)
    # Drop (not cut) examples over max_length: a cut target would never show where a prompt ends.
    train = Dataset.from_list(fits(examples, tokenizer, args.max_length) if args.max_length else examples)
    if adapter.init_adapter:  # continue an earlier LoRA (new data, more steps) rather than start a new one
        model = load_model(path, adapter.init_adapter, model_args.dtype or "float32")
    else:
        model = path
        args.model_init_kwargs = {**(args.model_init_kwargs or {}), "dtype": model_args.dtype or "float32"}
    trainer = run_trainer(SFTTrainer, model, args, train, tokenizer, adapter, model_args, resume,
                          f"SFT of {model_args.model_name_or_path}")
    trainer.accelerator.print(f"SFT adapter saved to {args.output_dir} ({len(train)} examples)")


if __name__ == "__main__":
    sys.exit(run_main(main, None))
