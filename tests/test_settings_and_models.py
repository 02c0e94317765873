"""Settings precedence, the packaged models offline, and clear messages for missing ones."""

import argparse
import subprocess
import sys

import pytest
import torch

from dppgrpo_core.errors import ModelUnavailable
from dppgrpo_core.models.embedder import embed, load_embedder
from dppgrpo_core.settings import PACKAGED_EMBEDDER, PACKAGED_TRAINED_POLICY, Settings


def test_defaults_are_the_packaged_models():
    s = Settings.from_env({})
    assert s.embedder == PACKAGED_EMBEDDER and s.policy == PACKAGED_TRAINED_POLICY and s.adapter is None


def test_flag_beats_environment_beats_default():
    parser = argparse.ArgumentParser()
    Settings.add_arguments(parser)
    env = {"DPPGRPO_POLICY": "Qwen/Qwen2-7B-Instruct", "DPPGRPO_DEVICE": "cpu"}
    s = Settings.from_args(parser.parse_args(["--policy", "/models/mine"]), environ=env)
    assert s.policy == "/models/mine" and s.device == "cpu" and s.embedder == PACKAGED_EMBEDDER
    assert Settings.from_args(parser.parse_args([]), environ=env).policy == "Qwen/Qwen2-7B-Instruct"


def test_default_embedder_loads_offline_and_returns_unit_384d_rows():
    vectors = embed(["a dog playing with a ball at the beach", "a drone shot of a city at night"], load_embedder())
    assert vectors.shape == (2, 384) and vectors.dtype == torch.float32
    assert torch.allclose(vectors.norm(dim=1), torch.ones(2), atol=1e-5)
    assert float(vectors[0] @ vectors[1]) < 0.9


def test_missing_embedder_gives_one_clear_message():
    with pytest.raises(ModelUnavailable, match="--embedder"):
        load_embedder("/nonexistent/embedder-folder", device="cpu")


def test_command_line_reports_missing_model_without_traceback(tmp_path):
    # The packaged policy is converted from its GGUF into the cache on first use; a cache folder that cannot
    # be written is the kind of failure a user meets, and must read as one line.
    code = (
        "import sys\n"
        "from dppgrpo_core.errors import UserFacingError\n"
        "from dppgrpo_core.models.embedder import load_embedder\n"
        "try:\n    load_embedder('not-a-model-anywhere', device='cpu')\n"
        "except UserFacingError as e:\n    print(e); sys.exit(2)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"HF_HUB_OFFLINE": "1", "PATH": ""})
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stdout and "DPPGRPO_EMBEDDER" in out.stdout
