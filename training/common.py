"""What SFT and GRPO share: the policy's folder and tokenizer, the run's end (adapter, curves), resuming.

    path = policy_path("packaged:SmolLM2-135M-Instruct")   # the fp32 folder converted once into the cache
"""

from __future__ import annotations

import json
from pathlib import Path

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.models.policy import resolve_policy_path
from dppgrpo_core.settings import Settings


def policy_path(name: str | None) -> str:
    """A local folder or Hub id for `model_name_or_path` (packaged names resolve into the cache)."""
    if not name:
        raise UserFacingError("set model_name_or_path (in the YAML or --model_name_or_path)")
    return resolve_policy_path(name, Settings.from_env().cache_dir)  # the trainer's own environment


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception as exc:
        raise UserFacingError(f"could not load the tokenizer of {path!r} ({type(exc).__name__}); "
                              "give a local model folder or a Hub id with network access") from exc
    if tokenizer.chat_template is None:
        raise UserFacingError(f"{path!r} has no chat template: use an instruct/chat model")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(path: str, init_adapter: str | None, dtype: str):
    """The base model, with a LoRA adapter made trainable when `init_adapter` is given."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    if init_adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, init_adapter, is_trainable=True)
    return model


def run_trainer(trainer_class, model, args, train_dataset, tokenizer, adapter, model_args, resume, title: str,
                **extra):
    """Build trl's trainer (a fresh LoRA from the model arguments unless `adapter.init_adapter` continues
    one), train, resuming when asked, and save the adapter and tokenizer, the log history and the plot of
    the reward / loss curves in `args.output_dir`. Returns the trainer."""
    from trl import get_peft_config

    from .plots import training_curves

    trainer = trainer_class(model=model, args=args, train_dataset=train_dataset, processing_class=tokenizer,
                            peft_config=None if adapter.init_adapter else get_peft_config(model_args), **extra)
    trainer.train(resume_from_checkpoint=resume)
    output_dir = args.output_dir
    trainer.save_model(output_dir)
    history = trainer.state.log_history
    (Path(output_dir) / "log_history.json").write_text(json.dumps(history, indent=1))
    figure = training_curves(history, title=title)
    if figure is not None:
        figure.write_html(str(Path(output_dir) / "training_curves.html"), include_plotlyjs=True)
    return trainer


def resume_arg(value, output_dir: str | None = None):
    """The checkpoint folder to resume from, checked before any model loads; None to start afresh.

    trl's resume_from_checkpoint is a string: "true" / "latest" mean the newest checkpoint-N in output_dir,
    "false" / "none" / "" mean none, anything else is a checkpoint folder. Nothing to resume is a
    UserFacingError (one line), not a trainer traceback after the model has loaded.
    """
    if value is None or value is False:
        return None
    text = str(value).strip()
    if text.lower() in ("", "false", "none", "no"):
        return None
    if value is True or text.lower() in ("true", "latest"):
        if output_dir is None:
            return True
        from transformers.trainer_utils import get_last_checkpoint

        last = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
        if last is None:
            raise UserFacingError(f"nothing to resume: {checks.shown(str(output_dir))} holds no checkpoint-N folder "
                                  "(drop --resume_from_checkpoint to start afresh)")
        return last
    folder = Path(text).expanduser()
    if not (folder / "trainer_state.json").is_file():
        raise UserFacingError(f"nothing to resume: {checks.shown(text)} is not a checkpoint folder (no "
                              "trainer_state.json); give output_dir/checkpoint-N or `true` for the latest")
    return str(folder)

