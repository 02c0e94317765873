"""Shared test set-up: never reach the Hub; one cache folder for converted models across the run."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_policy_dir(tmp_path_factory):
    """A tiny random Llama (2 layers, 64-d) with the packaged SmolLM2 tokenizer and chat template, saved to a folder.

    It exercises the policy plumbing (chat template, batching, sampling, adapters) in seconds, offline.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from dppgrpo_core.models.packaged import policy_folder
    from dppgrpo_core.settings import Settings

    tokenizer = AutoTokenizer.from_pretrained(policy_folder(Settings.from_env().cache_path))
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny-policy")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_policy_cache(tmp_path_factory):
    """One cache folder for the tests that load `tiny_policy_dir` on ctranslate2: the tiny policy is converted
    into it on first use and reused by every later load (a test that counts conversions keeps its own folder)."""
    return tmp_path_factory.mktemp("tiny-policy-cache")
