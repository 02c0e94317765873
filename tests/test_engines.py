"""Policy engines: the engine choice and its fallback, the ctranslate2 conversion cache, seeded sets per engine,
and the fair turns that let several users share one local engine."""

import dataclasses
import sys
import threading
import time
from pathlib import Path

import pytest

from dppgrpo_core.errors import ModelUnavailable, UserFacingError
from dppgrpo_core.expand import run_expansion
from dppgrpo_core.models import policy as policy_module
from dppgrpo_core.models.chat import build_messages
from dppgrpo_core.models.policy import Turns, TransformersPolicy, load_policy
from dppgrpo_core.settings import Settings
from tests.fakes import HashingEmbedder

pytest.importorskip("ctranslate2")


def _settings(tmp_path, engine):
    return Settings(device="cpu", engine=engine, cache_dir=str(tmp_path / "cache"))


def _shared(tiny_policy_cache, engine):
    """Settings on the session's shared cache: the tiny policy's ctranslate2 conversion is made once there."""
    return Settings(device="cpu", engine=engine, cache_dir=str(tiny_policy_cache))


def _lora(tiny_policy_dir, folder, seed):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_policy_dir),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(folder)
    return str(folder)


def _converted(cache):
    return sorted(p.name for p in (cache / "policies").glob("ct2-*"))


def test_auto_without_ctranslate2_falls_back_to_transformers(tiny_policy_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # `import ctranslate2` now raises ImportError
    monkeypatch.setitem(sys.modules, "ctranslate2.converters", None)
    policy = load_policy(str(tiny_policy_dir), settings=_settings(tmp_path, "auto"))
    assert isinstance(policy, TransformersPolicy) and policy.engine == "transformers"
    with pytest.raises(ModelUnavailable, match="pip install ctranslate2"):
        load_policy(str(tiny_policy_dir), settings=_settings(tmp_path / "b", "ctranslate2"))


def test_auto_prefers_ctranslate2_and_an_unknown_engine_is_refused(tiny_policy_dir, tiny_policy_cache):
    assert load_policy(str(tiny_policy_dir), settings=_shared(tiny_policy_cache, "auto")).engine == "ctranslate2"
    with pytest.raises(UserFacingError, match="Unknown engine 'vllm-local'"):
        load_policy(str(tiny_policy_dir), settings=_shared(tiny_policy_cache, "vllm-local"))


def test_conversion_is_cached_and_redone_for_a_new_adapter(tiny_policy_dir, tiny_policy_cache, tmp_path, monkeypatch):
    # On the shared cache (the base may be converted there already): every count is relative to what it held.
    settings = _shared(tiny_policy_cache, "ctranslate2")
    base = load_policy(str(tiny_policy_dir), settings=settings)
    first = _converted(tiny_policy_cache)
    assert Path(base.folder).name in first
    monkeypatch.setattr(policy_module, "_LOADED", type(policy_module._LOADED)())  # a new process, same cache
    again = load_policy(str(tiny_policy_dir), settings=settings)
    assert _converted(tiny_policy_cache) == first and again.folder == base.folder

    adapter = tmp_path / "adapter"
    _lora(tiny_policy_dir, adapter, seed=1)
    tuned = load_policy(str(tiny_policy_dir), adapter=str(adapter), settings=settings)
    assert _converted(tiny_policy_cache) == sorted([*first, Path(tuned.folder).name])  # one new conversion
    _lora(tiny_policy_dir, adapter, seed=2)  # the same folder, retrained: new weights, a new conversion
    monkeypatch.setattr(policy_module, "_LOADED", type(policy_module._LOADED)())
    retrained = load_policy(str(tiny_policy_dir), adapter=str(adapter), settings=settings)
    assert retrained.folder != tuned.folder
    assert _converted(tiny_policy_cache) == sorted([*first, Path(tuned.folder).name, Path(retrained.folder).name])


def test_ctranslate2_greedy_and_seeded_calls_repeat(tiny_policy_dir, tiny_policy_cache):
    policy = load_policy(str(tiny_policy_dir), settings=_shared(tiny_policy_cache, "ctranslate2"))
    msgs = [build_messages("a dog at the beach", []), build_messages("a dog at the beach", ["A dog runs."])]
    a = policy.generate_raw(msgs, num_return_sequences=2, seed=3, max_new_tokens=8)
    b = policy.generate_raw(msgs, num_return_sequences=2, seed=3, max_new_tokens=8)
    c = policy.generate_raw(msgs, num_return_sequences=2, seed=4, max_new_tokens=8)
    assert len(a) == 4 and a == b and a != c
    assert policy.generate_raw(msgs[:1], temperature=0, max_new_tokens=8) == \
        policy.generate_raw(msgs[:1], temperature=0, seed=99, max_new_tokens=8)


@pytest.mark.parametrize("engine", ["ctranslate2", "transformers"])
@pytest.mark.parametrize("method", ["dpp-grpo", "dpp-rerank", "iid"])
def test_a_seed_fixes_a_set_on_each_engine(tiny_policy_dir, tiny_policy_cache, engine, method):
    settings = _shared(tiny_policy_cache, engine)
    policy = load_policy(str(tiny_policy_dir), settings=settings)
    assert policy.engine == engine
    # Shorter replies (a copy: the loaded policy is shared): what a seed fixes does not depend on their length.
    policy = dataclasses.replace(policy, gen_defaults={**policy.gen_defaults, "max_new_tokens": 16})

    def prompts(seed):
        result = run_expansion("a dog playing with a ball at the beach", 3, method, seed, settings=settings,
                               policy=policy, embedder=HashingEmbedder(), n_candidates=2, temperature=1.0)
        return [s["prompt"] for s in result["steps"]]

    first = prompts(0)
    assert prompts(0) == first and prompts(1) != first


def test_turns_are_first_come_first_served_and_count_the_queue():
    turns, order, started = Turns(), [], []

    def call(name, hold):
        with turns.turn():
            started.append(name)
            time.sleep(hold)
            order.append(name)

    threads = [threading.Thread(target=call, args=("a", 0.3))]
    threads[0].start()
    time.sleep(0.05)
    for name in "bcd":
        threads.append(threading.Thread(target=call, args=(name, 0.01)))
        threads[-1].start()
        time.sleep(0.05)
    assert turns.waiting == 3  # b, c and d wait while a decodes
    for t in threads:
        t.join()
    assert order == ["a", "b", "c", "d"] and turns.waiting == 0


def test_threads_setting_is_checked():
    assert Settings(threads="2").cpu_threads() == 2 and Settings().cpu_threads() >= 1
    for bad in ("0", "many", "-1"):
        with pytest.raises(UserFacingError, match="threads must be auto"):
            Settings(threads=bad).cpu_threads()


@pytest.mark.parametrize("engine", ["ctranslate2", "transformers"])
def test_a_suppressed_phrase_is_never_written_on_each_engine(tiny_policy_dir, tiny_policy_cache, engine):
    """`suppress` (the architect's "The setting is …" ban) reaches each local engine's own mechanism."""
    policy = load_policy(str(tiny_policy_dir), settings=_shared(tiny_policy_cache, engine))
    tokenizer, msgs = policy.tokenizer, [build_messages("a dog at the beach", [])]
    free = policy.generate_raw(msgs, temperature=0, max_new_tokens=24)[0]
    ids = tokenizer(free, add_special_tokens=False)["input_ids"]
    # A word the tiny random model writes greedily that is one token after a space, as a suppressed phrase is.
    words = [w for w in dict.fromkeys(tokenizer.decode([i]).strip() for i in ids)
             if w.isalpha() and len(tokenizer(f" {w}", add_special_tokens=False)["input_ids"]) == 1]
    assert words, free
    banned = tokenizer(f" {words[0]}", add_special_tokens=False)["input_ids"][0]
    assert banned in ids
    held = policy.generate_raw(msgs, temperature=0, max_new_tokens=24, suppress=[words[0]])[0]
    assert banned not in tokenizer(held, add_special_tokens=False)["input_ids"] and held != free
