"""The fast local engine: the policy converted once to CTranslate2 (int8 on a CPU, float16 on CUDA).

    policy = load(PACKAGED_TRAINED_POLICY, None, "cpu", cache_dir, threads=1)   # what load_policy does on auto
    run = policy.stream(seed=0)                                                 # one seeded set
    run.generate([build_messages("a red car", [])])

The policy (its LoRA adapter merged) is converted into `<cache_dir>/policies/ct2-…`, keyed by the base
model and the adapter's content, so a new adapter converts anew. CTranslate2 seeds its sampler once per
worker thread (`set_random_seed` reaches a thread only before its first draw), so a seeded run gets a
generator of its own, seeded as it starts (~0.1 s); calls without a seed share one generator.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from dppgrpo_core.errors import ModelUnavailable
from dppgrpo_core.models.packaged import convert_once
from dppgrpo_core.models.policy import (
    LOCAL_TURNS,
    PACKAGED_TRAINED_POLICY,
    Policy,
    load_transformers,
    resolve_policy_path,
    suppressed_ids,
    shown_model,
    trained_adapter_folder,
)

# The end of a chat turn: models whose eos is another token (Qwen's <|endoftext|>) still stop here.
TURN_END = "<|im_end|>"


def _prefer_onednn_off_intel() -> None:
    """CTranslate2's Intel MKL path decoded 2-3x slower than its oneDNN path on this project's AMD EPYC machine
    (74-163 vs 225+ ms per token under load, BENCHMARKS.md "Policy engines"): off Intel, use oneDNN unless the
    operator chose (CT2_USE_MKL). Must run before ctranslate2 is imported."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            intel = "GenuineIntel" in f.read(4096)
    except OSError:
        return
    if not intel:
        os.environ.setdefault("CT2_USE_MKL", "0")


_prefer_onednn_off_intel()


def _content_key(name: str, base: str, adapter: str | None, quantization: str) -> str:
    """What makes a conversion: the policy's name, its base folder's files (sizes and times), the adapter's bytes."""
    digest = hashlib.sha256(json.dumps([name, base, quantization]).encode())
    folder = Path(base)
    if folder.is_dir():
        for f in sorted(folder.iterdir()):
            if f.is_file():
                digest.update(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}".encode())
    if adapter:
        for f in sorted(Path(adapter).glob("adapter_*")):
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def converted_folder(name: str, adapter: str | None, device: str, cache_dir: str) -> Path:
    """The CTranslate2 folder of (policy, adapter), converted on first use under a file lock."""
    try:
        from ctranslate2.converters import TransformersConverter
    except ImportError as exc:
        raise ModelUnavailable("The ctranslate2 engine needs `pip install ctranslate2` (or use --engine transformers).") \
            from exc
    quantization = "float16" if device.startswith("cuda") else "int8"
    base = resolve_policy_path(name, cache_dir)
    slug = "".join(c if c.isalnum() or c in "-." else "-" for c in Path(base).name)[-60:]
    target = Path(cache_dir).expanduser() / "policies" / f"ct2-{slug}-{_content_key(name, base, adapter, quantization)}"

    def write(tmp: Path) -> None:
        merged = tmp.with_name(tmp.name + ".merged")
        try:
            policy = load_transformers(name, adapter, "cpu", cache_dir)  # fp32 with the LoRA merged
            policy.model.save_pretrained(merged)
            policy.tokenizer.save_pretrained(merged)
            del policy
            TransformersConverter(str(merged)).convert(str(tmp), quantization=quantization, force=True)
            for f in merged.iterdir():  # the tokenizer beside the weights: the folder loads on its own
                if f.name.startswith(("tokenizer", "special_tokens", "chat_template", "generation_config")):
                    shutil.copy2(f, tmp / f.name)
        except ModelUnavailable as exc:  # the policy itself cannot load: no other engine will do better
            exc.any_engine = True
            raise
        except Exception as exc:  # an architecture CTranslate2 does not know, a full disk, ...
            raise ModelUnavailable(f"ctranslate2 cannot convert the policy {shown_model(name)} "
                                   f"({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}).") \
                from exc
        finally:
            shutil.rmtree(merged, ignore_errors=True)

    return convert_once(target, write)


@dataclass(kw_only=True)
class CTranslate2Policy(Policy):
    """A converted policy; `generator` serves the calls without a seed, `stream(seed)` a seeded run."""

    folder: str
    tokenizer: object
    device: str = "cpu"
    threads: int = 1
    engine: str = "ctranslate2"
    generator: object = None
    seeded: bool = False  # a stream: its generator was seeded when the run started

    def new_generator(self, seed: int | None = None):
        import ctranslate2

        device, _, index = self.device.partition(":")
        compute_type = "int8_float16" if device == "cuda" else "int8"
        with LOCAL_TURNS.turn():  # the global seed must reach this generator's thread before anyone else's
            if seed is not None:
                ctranslate2.set_random_seed(seed % 2**32)
            generator = ctranslate2.Generator(self.folder, device=device, device_index=int(index or 0),
                                              compute_type=compute_type, intra_threads=self.threads)
            if seed is not None:  # the worker thread's first draw fixes its sampler to this seed
                generator.generate_batch([[self.tokenizer.eos_token]], max_length=1, sampling_topk=0)
        return generator

    def stream(self, seed: int) -> "CTranslate2Policy":
        return dataclasses.replace(self, generator=self.new_generator(seed), seeded=True)

    def generate_raw(self, messages_batch: list[list[dict]], num_return_sequences: int = 1,
                     temperature: float = 0.8, seed: int | None = None, **overrides) -> list[str]:
        """Decoded completions in transformers' order (each message's `num_return_sequences` together).
        A call with a seed on the shared generator runs on a fresh one seeded for it; in a stream the
        run's seed already holds."""
        if self.generator is None:
            self.generator = self.new_generator()
        generator = self.new_generator(seed) if seed is not None and not self.seeded else self.generator
        options = dict(self.gen_defaults, **overrides)
        prompts = [self._tokens(m) for m in messages_batch for _ in range(num_return_sequences)]
        kwargs = {"max_length": options["max_new_tokens"], "include_prompt_in_result": False,
                  "end_token": self._end_tokens()}
        if options.get("min_new_tokens"):  # transformers' name; ctranslate2 counts new tokens alike here
            kwargs["min_length"] = options["min_new_tokens"]
        if options.get("suppress"):
            kwargs["suppress_sequences"] = [self.tokenizer.convert_ids_to_tokens(ids)
                                            for ids in suppressed_ids(self.tokenizer, options["suppress"])]
        if temperature > 0:
            kwargs.update(sampling_temperature=temperature, sampling_topk=options.get("top_k") or 0,
                          sampling_topp=options.get("top_p") or 1.0)
        with LOCAL_TURNS.turn():
            results = generator.generate_batch(prompts, **kwargs)
        return [self.tokenizer.decode(r.sequences_ids[0], skip_special_tokens=True) for r in results]

    def _tokens(self, messages: list[dict]) -> list[str]:
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return self.tokenizer.convert_ids_to_tokens(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _end_tokens(self) -> list[str]:
        vocab = self.tokenizer.get_vocab()
        return list(dict.fromkeys(t for t in (self.tokenizer.eos_token, TURN_END) if t and t in vocab))


def load(name: str, adapter: str | None, device: str, cache_dir: str, threads: int = 1) -> CTranslate2Policy:
    """The converted policy on `device`; ModelUnavailable (one line) when ctranslate2 cannot run it."""
    from transformers import AutoTokenizer

    if name == PACKAGED_TRAINED_POLICY and not adapter:
        adapter = trained_adapter_folder()
    folder = converted_folder(name, adapter, device, cache_dir)
    try:
        import ctranslate2  # noqa: F401

        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except Exception as exc:
        raise ModelUnavailable(f"ctranslate2 cannot load the policy {shown_model(name)} ({type(exc).__name__}).") \
            from exc
    if tokenizer.chat_template is None:
        raise ModelUnavailable(f"The policy {shown_model(name)} has no chat template; use an instruct/chat model.")
    policy = CTranslate2Policy(folder=str(folder), tokenizer=tokenizer, name=name, adapter=adapter, device=device,
                               threads=threads)
    policy.generator = policy.new_generator()  # loads the weights now: a broken folder fails here, not mid-set
    return policy
