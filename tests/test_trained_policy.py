"""The trained policy shipped in models/ (issue 14): it loads offline under its packaged name, changes the
packaged SmolLM2's output, and a missing or corrupt adapter file is one line."""

import json
import shutil

import pytest
import torch

from dppgrpo_core.errors import ModelUnavailable
from dppgrpo_core.models import policy as policy_module
from dppgrpo_core.models.chat import build_messages
from dppgrpo_core.models.policy import (
    TRAINED_ADAPTER_DIR,
    load_policy,
    resolve_policy_path,
)
from dppgrpo_core.settings import PACKAGED_POLICY, PACKAGED_TRAINED_POLICY, Settings

SHIPPED = (TRAINED_ADAPTER_DIR / "adapter_model.safetensors").is_file()
needs_shipped = pytest.mark.skipif(not SHIPPED, reason="no adapter shipped in models/SmolLM2-135M-DPP-GRPO")


def one_line(excinfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text
    return text


def test_the_trained_name_resolves_to_the_packaged_base_folder(tmp_path, monkeypatch):
    from dppgrpo_core.models import packaged

    monkeypatch.setattr(packaged, "policy_folder", lambda cache: tmp_path / "smollm2")
    settings = Settings(cache_dir=str(tmp_path))
    assert resolve_policy_path(PACKAGED_TRAINED_POLICY, settings.cache_dir) == str(tmp_path / "smollm2")
    assert resolve_policy_path(PACKAGED_POLICY, settings.cache_dir) == str(tmp_path / "smollm2")


def test_a_missing_adapter_file_is_one_line_before_any_model_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(policy_module, "TRAINED_ADAPTER_DIR", tmp_path / "gone")
    monkeypatch.setattr("transformers.AutoModelForCausalLM.from_pretrained",
                        lambda *a, **k: pytest.fail("the base model loaded before the adapter check"))
    with pytest.raises(ModelUnavailable) as excinfo:
        load_policy(PACKAGED_TRAINED_POLICY, settings=Settings(device="cpu", cache_dir=str(tmp_path / "c1")))
    text = one_line(excinfo)
    assert "adapter_model.safetensors" in text and "adapter_config.json" in text and PACKAGED_POLICY in text


@needs_shipped
def test_the_shipped_adapter_is_small_and_has_a_model_card():
    assert (TRAINED_ADAPTER_DIR / "adapter_model.safetensors").stat().st_size <= 20 * 2**20
    config = json.loads((TRAINED_ADAPTER_DIR / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA"
    card = (TRAINED_ADAPTER_DIR / "README.md").read_text()
    for word in ("SmolLM2-135M", "data", "steps", "CPU", "Vendi"):
        assert word in card


@needs_shipped
def test_the_shipped_adapter_loads_offline_and_changes_the_packaged_policy():
    settings = Settings(device="cpu", engine="transformers")  # the logits themselves: the reference engine
    base = load_policy(PACKAGED_POLICY, settings=settings)
    trained = load_policy(PACKAGED_TRAINED_POLICY, settings=settings)
    assert trained.adapter == str(TRAINED_ADAPTER_DIR)
    inputs = base.encode([build_messages("a cat playing piano", ["A close-up of a cat playing piano."])])
    with torch.no_grad():
        assert not torch.allclose(base.model(**inputs).logits[:, -1], trained.model(**inputs).logits[:, -1])


@needs_shipped
def test_a_corrupt_adapter_file_is_one_line(tmp_path, monkeypatch):
    folder = tmp_path / "adapter"
    shutil.copytree(TRAINED_ADAPTER_DIR, folder)
    (folder / "adapter_model.safetensors").write_bytes(b"not a safetensors file")
    monkeypatch.setattr(policy_module, "TRAINED_ADAPTER_DIR", folder)
    # A new process: the shipped adapter may be loaded already under the same key.
    monkeypatch.setattr(policy_module, "_LOADED", type(policy_module._LOADED)())
    with pytest.raises(ModelUnavailable) as excinfo:
        load_policy(PACKAGED_TRAINED_POLICY, settings=Settings(device="cpu"))
    assert "adapter" in one_line(excinfo)
