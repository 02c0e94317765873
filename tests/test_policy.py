"""The policy: one chat format, output cleaning, determinism, adapters (tiny random LM, offline)."""

import pytest
import torch

from dppgrpo_core.errors import ModelUnavailable, UserFacingError
from dppgrpo_core.expand.config import check_query
from dppgrpo_core.models.chat import build_messages, clean_prompt, degenerate_reason
from dppgrpo_core.models.policy import load_policy
from dppgrpo_core.settings import Settings


@pytest.mark.parametrize(
    "raw, expected",
    [
        ('1. Prompt: "A drone shot of a red car at dawn."', "A drone shot of a red car at dawn."),
        ("<|im_start|>assistant\nVariant 2: A slow dolly-in on a cat.<|im_end|>", "A slow dolly-in on a cat."),
        ("Prompt:\n- “A wide shot of a harbour at night.”\nSecond line ignored", "A wide shot of a harbour at night."),
        ("**A close-up of rain on a window.** Extra", "A close-up of rain on a window."),
        ("A tracking shot of a fox. It runs through snow and the camera", "A tracking shot of a fox."),
        ("   ", ""),
    ],
)
def test_clean_prompt(raw, expected):
    assert clean_prompt(raw) == expected


def test_clean_prompt_bounds_length_at_a_word():
    out = clean_prompt("word " * 300, max_chars=50)
    assert len(out) <= 51 and out.endswith(".") and "wor." not in out


def test_degenerate_reason_reasons():
    assert degenerate_reason("") == "empty"
    assert degenerate_reason("a dog") == "too short"
    assert degenerate_reason("the the the the the the the the the the") == "repetitive"
    assert "repeat" in degenerate_reason("A dog on a beach.", ["a dog on a beach."])
    assert degenerate_reason("A drone shot of a dog on a beach.", ["A dog on a beach."]) is None


def test_one_chat_format_conditions_on_the_set():
    first = build_messages("a red car", [])
    later = build_messages("a red car", ["A drone shot of a red car.", "A close-up of its wheel."])
    assert [m["role"] for m in later] == ["system", "user"] and first[0] == later[0]
    assert '"a red car"' in later[1]["content"]
    assert "1. A drone shot of a red car." in later[1]["content"] and "2. A close-up" in later[1]["content"]
    assert "earlier" not in first[1]["content"]


def test_check_query():
    assert check_query("  a cat  ") == "a cat"
    with pytest.raises(UserFacingError, match="empty"):
        check_query("   ")
    with pytest.raises(UserFacingError, match="2000"):
        check_query("x" * 2001)


def test_tiny_policy_is_deterministic_for_a_seed(tiny_policy_dir, tiny_policy_cache):
    # The shared cache: the tiny policy's conversion is reused, and nothing is written to the user's cache.
    policy = load_policy(str(tiny_policy_dir), settings=Settings(device="cpu", cache_dir=str(tiny_policy_cache)))
    msgs = [build_messages("a dog at the beach", []), build_messages("a dog at the beach", ["A dog runs."])]
    a = policy.generate_raw(msgs, num_return_sequences=2, seed=3, max_new_tokens=8)
    b = policy.generate_raw(msgs, num_return_sequences=2, seed=3, max_new_tokens=8)
    c = policy.generate_raw(msgs, num_return_sequences=2, seed=4, max_new_tokens=8)
    assert len(a) == 4 and a == b and a != c
    greedy = policy.generate_raw(msgs[:1], temperature=0, max_new_tokens=8)
    assert greedy == policy.generate_raw(msgs[:1], temperature=0, seed=99, max_new_tokens=8)


def test_adapter_changes_the_policy(tiny_policy_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_policy_dir)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")
    settings = Settings(device="cpu", engine="transformers")  # the logits themselves: the reference engine
    base = load_policy(str(tiny_policy_dir), settings=settings)
    tuned = load_policy(str(tiny_policy_dir), adapter=str(tmp_path / "adapter"), settings=settings)
    inputs = base.encode([build_messages("a cat", [])])
    with torch.no_grad():
        assert not torch.allclose(base.model(**inputs).logits, tuned.model(**inputs).logits)
    with pytest.raises(ModelUnavailable, match="adapter"):
        load_policy(str(tiny_policy_dir), adapter=str(tmp_path / "missing"), settings=settings)


def test_missing_policy_is_one_clear_message_without_the_server_path():
    with pytest.raises(ModelUnavailable, match="DPPGRPO_POLICY") as caught:
        load_policy("/srv/private/nonexistent/policy", settings=Settings(device="cpu", engine="transformers"))
    assert "/srv/private" not in str(caught.value) and "'policy'" in str(caught.value)  # its last part only
