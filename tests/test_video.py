"""Rendering core on CPU, offline: tiny random Wan and CogVideoX pipelines, mp4 files, cache, failures, CLI."""

import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dppgrpo_core.errors import ModelUnavailable, UserFacingError
from dppgrpo_core.sets import PromptSet
from dppgrpo_core.video import (
    RenderSettings,
    read_mp4,
    render_videos,
    write_mp4,
)
from dppgrpo_core.video.backends import DiffusersBackend, load_backend
from dppgrpo_core.video.command import main

REPO = Path(__file__).resolve().parents[1]


def test_tiny_wan_writes_h264_videos_with_the_requested_frames(tmp_path):
    results = render_videos(["a dog surfing a wave", "a dog on a skateboard"], seeds=0, model="tiny-random-wan",
                            render_settings=RenderSettings(frames=5), cache_dir=tmp_path)
    assert [r.error for r in results] == [None, None]
    assert results[0].path != results[1].path
    for r in results:
        frames, meta = read_mp4(r.path)
        assert len(frames) == 5 and frames[0].shape == (16, 16, 3)
        assert meta["codec"] == "h264" and meta["fps"] == 8
        assert Path(r.path).parent == tmp_path / "videos"
        assert json.loads(Path(r.path).with_suffix(".json").read_text())["prompt"] == r.prompt


def test_tiny_cogvideox_writes_h264_videos_with_its_default_frames(tmp_path):
    results = render_videos(["a red car in the rain"], seeds=[3], model="tiny-random-cogvideox", cache_dir=tmp_path)
    frames, meta = read_mp4(results[0].path)
    assert len(frames) == 8 and meta["codec"] == "h264" and meta["size"] == (16, 16)


def test_second_render_comes_from_the_cache_without_loading_a_model(tmp_path, monkeypatch):
    first = render_videos(["a cat", "a fox"], seeds=1, model="tiny-random-wan", cache_dir=tmp_path)
    backend = load_backend("tiny-random-wan")
    monkeypatch.setattr(backend, "prepare", lambda *a: pytest.fail("a cached render must not load the model"))
    again = render_videos(["a cat", "a fox"], seeds=1, model="tiny-random-wan", cache_dir=tmp_path, backend=backend)
    assert [r.path for r in again] == [r.path for r in first] and all(r.cached for r in again)
    other_seed = render_videos(["a cat"], seeds=2, model="tiny-random-wan", cache_dir=tmp_path)
    assert not other_seed[0].cached and other_seed[0].path != first[0].path


def test_a_batch_renders_the_same_video_as_one_prompt_alone(tmp_path):
    batched = render_videos(["a horse", "a boat"], seeds=[4, 5], model="tiny-random-wan", cache_dir=tmp_path / "a")
    alone = render_videos(["a boat"], seeds=[5], model="tiny-random-wan", cache_dir=tmp_path / "b",
                          render_settings=RenderSettings(batch_size=1))
    a, b = (np.stack(read_mp4(r.path)[0]).astype(float) for r in (batched[1], alone[0]))
    assert np.abs(a - b).mean() < 2.0  # same seed, same noise: batching does not change the video


class FailsOnPrompt(DiffusersBackend):
    """The tiny Wan backend, except that any batch holding a prompt with FAIL raises."""

    def render(self, jobs, settings, on_step):
        if any("FAIL" in job.prompt for job in jobs):
            raise RuntimeError("simulated failure")
        super().render(jobs, settings, on_step)


def test_one_failing_prompt_is_reported_and_the_others_render(tmp_path):
    backend = FailsOnPrompt("wan", "tiny-random-wan", tiny=True)
    done = []
    results = render_videos(["a dog", "FAIL here", "a cat", ""], seeds=0, cache_dir=tmp_path, backend=backend,
                            on_result=done.append)
    assert [r.path is not None for r in results] == [True, False, True, False]
    assert "simulated failure" in results[1].error and results[3].error == "empty prompt"
    assert sorted(r.index for r in done) == [0, 1, 2, 3]


class OutOfMemoryAboveOne:
    """A fake backend that runs out of CUDA memory for any batch above one video."""

    cache_id, defaults, max_batch_size = "fake-oom", {"fps": 4}, 64

    def __init__(self):
        self.batches = []

    def resolve(self, settings, device):
        return settings.filled(self.defaults)

    def prepare(self, settings, device):
        pass

    def render(self, jobs, settings, on_step):
        self.batches.append(len(jobs))
        if len(jobs) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        write_mp4(np.full((3, 16, 16, 3), 0.5), jobs[0].tmp, settings.fps)


def test_out_of_memory_halves_the_batch_until_it_fits(tmp_path):
    backend = OutOfMemoryAboveOne()
    results = render_videos([f"prompt {i}" for i in range(4)], cache_dir=tmp_path, backend=backend,
                            render_settings=RenderSettings(batch_size=4))
    assert all(r.path for r in results)
    assert backend.batches[:2] == [4, 2] and backend.batches.count(1) == 4


SCRIPT = """
import sys, imageio.v2 as imageio, numpy as np
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
open(args["--log"], "a").write(args["--prompt"] + "\\n")
if "FAIL" in args["--prompt"]:
    sys.exit("api refused the prompt")
frames = np.full((4, 16, 16, 3), int(args["--seed"]) * 10, dtype=np.uint8)
imageio.mimwrite(args["--out"], frames, fps=4, codec="libx264", macro_block_size=2)
"""


def test_command_backend_passes_prompts_verbatim_and_reports_failures(tmp_path):
    script, log = tmp_path / "fake_api.py", tmp_path / "calls.log"
    script.write_text(SCRIPT)
    template = (f"command:{shlex.quote(sys.executable)} {script} --prompt {{prompt}} --seed {{seed}} "
                f"--out {{out}} --log {log}")
    tricky = "it's \"quoted\"; $(touch pwned) `id`"
    results = render_videos([tricky, "FAIL please"], seeds=[2, 3], model=template, cache_dir=tmp_path / "cache")
    assert log.read_text().splitlines() == [tricky, "FAIL please"]
    assert not (Path.cwd() / "pwned").exists()
    assert len(read_mp4(results[0].path)[0]) == 4
    assert results[1].path is None and "api refused the prompt" in results[1].error


def test_command_template_needs_prompt_and_out():
    with pytest.raises(UserFacingError, match="prompt.*out"):
        load_backend("command:veo3-cli --prompt {prompt}")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_full_size_model_without_gpu_says_what_is_needed(tmp_path):
    with pytest.raises(ModelUnavailable, match="needs a CUDA GPU.*tiny-random-wan"):
        render_videos(["a dog"], model="wan2.1", cache_dir=tmp_path)


def test_missing_weights_say_where_to_get_them(tmp_path):
    with pytest.raises(ModelUnavailable, match="not a diffusers model folder"):
        render_videos(["a dog"], model=f"wan2.1:{tmp_path}/absent", cache_dir=tmp_path,
                      render_settings=RenderSettings(allow_cpu=True))


@pytest.mark.parametrize("model, settings, message", [
    ("no-such-model", RenderSettings(), "Unknown video model"),
    ("tiny-random-wan", RenderSettings(frames=8), "4k\\+1"),
    ("tiny-random-wan", RenderSettings(height=20), "multiples of 16"),
    ("tiny-random-wan", RenderSettings(steps=0), "steps must be a whole number from 1 to 1000, got 0"),
    ("tiny-random-wan", RenderSettings(guidance=float("nan")), "guidance must be a number from 0 to 100, got nan"),
    ("tiny-random-wan", RenderSettings(guidance=float("inf")), "guidance must be a number from 0 to 100, got inf"),
    ("tiny-random-wan", RenderSettings(width=10**9), "width must be a whole number from 16 to 4096"),
])
def test_bad_settings_are_refused_before_rendering(tmp_path, model, settings, message):
    with pytest.raises(UserFacingError, match=message):
        render_videos(["a dog"], model=model, render_settings=settings, cache_dir=tmp_path)


def test_prompt_sets_load_from_expansion_json_or_a_list(tmp_path):
    expansion = {"query": "a dog", "method": "dpp-grpo", "steps": [{"prompt": "a dog A"}, {"prompt": "a dog B"}]}
    (tmp_path / "set.json").write_text(json.dumps(expansion))
    (tmp_path / "list.json").write_text(json.dumps(["x", "y", "z"]))
    loaded = PromptSet.read(tmp_path / "set.json")
    assert (loaded.query, loaded.method, loaded.prompts) == ("a dog", "dpp-grpo", ["a dog A", "a dog B"])
    assert PromptSet.read(tmp_path / "list.json").prompts == ["x", "y", "z"]
    for bad in ("[]", '{"steps": [{"no": 1}]}', "[1, 2]", "not json"):
        (tmp_path / "bad.json").write_text(bad)
        with pytest.raises(UserFacingError):
            PromptSet.read(tmp_path / "bad.json")


def test_cli_renders_a_set_with_tiny_random_wan(tmp_path, capsys):
    expansion = {"query": "a dog", "method": "iid", "steps": [{"prompt": "a dog running"}, {"prompt": "a dog asleep"}]}
    (tmp_path / "set.json").write_text(json.dumps(expansion))
    code = main(["--prompts-file", str(tmp_path / "set.json"), "--model", "tiny-random-wan", "--out",
                 str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--seeds", "0,1", "--device", "cpu"])
    assert code == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["query"] == "a dog" and manifest["prompts"] == ["a dog running", "a dog asleep"]
    assert [Path(v).parent for v in manifest["videos"]] == [tmp_path / "out"] * 2
    assert all(read_mp4(v)[1]["codec"] == "h264" for v in manifest["videos"])
    assert "2 of 2 videos" in capsys.readouterr().out


def test_cli_bad_input_prints_one_line_and_exits_2(tmp_path):
    (tmp_path / "bad.json").write_text('{"query": "q"}')
    done = subprocess.run(
        [sys.executable, "-m", "dppgrpo_core.video", "--prompts-file", str(tmp_path / "bad.json"), "--out",
         str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and done.stderr.startswith("error:")
