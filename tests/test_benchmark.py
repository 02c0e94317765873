"""The benchmark command end to end, offline and fast: the 'original' method needs no policy."""

import json
import math

import imageio.v2 as imageio
import numpy as np
import pandas as pd
import pytest

from dppgrpo_core.errors import UserFacingError
from eval import benchmark, harness
from eval.benchmark import main, parse_args, run
from eval.harness import prompt_id
from eval.prompts import sample_prompts, vbench_prompts
from eval.report import OUTPUT_FILES, load_report
from eval.videos import find_videos

K = 4


@pytest.fixture(scope="module")
def original_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert main(["--n-prompts", "3", "--k", str(K), "--methods", "original", "--out", str(out), "--device", "cpu"]) == 0
    return out


def test_vbench_prompts_and_seeded_subset():
    prompts = vbench_prompts()
    assert len(prompts) == 944  # 946 entries, 2 duplicates merged
    assert all(p["prompt"] and isinstance(p["dimensions"], list) for p in prompts)
    a, b = sample_prompts(prompts, 200, seed=0), sample_prompts(prompts, 200, seed=0)
    assert a == b and len(a) == 200 and len({p["prompt"] for p in a}) == 200
    assert sample_prompts(prompts, 200, seed=1) != a


def test_benchmark_writes_every_output(original_run):
    for key in ("prompt_rows", "prompt_summary", "curves", "efficiency", "markdown", "figure", "meta"):
        assert (original_run / OUTPUT_FILES[key]).is_file(), key
    assert not (original_run / OUTPUT_FILES["video_rows"]).exists()
    rows = pd.read_csv(original_run / OUTPUT_FILES["prompt_rows"])
    assert len(rows) == 3 and set(rows["method"]) == {"original"}
    expected = {p["prompt"] for p in sample_prompts(vbench_prompts(), 3, seed=0)}
    assert set(rows["prompt"]) == expected
    md = (original_run / OUTPUT_FILES["markdown"]).read_text()
    assert "| original | 3 |" in md and "packaged:all-MiniLM-L6-v2" in md
    assert "plotly" in (original_run / OUTPUT_FILES["figure"]).read_text()[:5000].lower()


def test_original_prompts_have_known_diversity(original_run):
    # K copies of q: one mode (Vendi 1), log det(1·1ᵀ + I) = log(1 + K), zero pairwise distance, relevance 1.
    summary = pd.read_csv(original_run / OUTPUT_FILES["prompt_summary"]).iloc[0]
    assert summary["vendi"] == pytest.approx(1.0)
    assert summary["log_det"] == pytest.approx(math.log(1 + K))
    assert summary["pairwise_distance"] == pytest.approx(0.0, abs=1e-9)
    assert summary["relevance"] == pytest.approx(1.0, abs=1e-5)
    curves = pd.read_csv(original_run / OUTPUT_FILES["curves"])
    assert list(curves["k"]) == list(range(1, K + 1))
    assert curves["vendi"].to_numpy() == pytest.approx(np.ones(K))
    assert curves["log_det"].to_numpy() == pytest.approx(np.log1p(np.arange(1, K + 1)))
    assert curves["vendi_faithful"].to_numpy() == pytest.approx(np.ones(K))  # q keeps q


def test_the_faithful_curve_counts_only_the_prompts_that_keep_q():
    from eval.benchmark import set_metrics

    steps = [{"prompt": p, "relevance": 0.5} for p in
             ("A wide shot of a dog running.", "A cat sleeping on a sofa.", "A close-up of a dog running at dusk.")]
    row = set_metrics("a dog running", "m", {"steps": steps, "timing": {"total_s": 1, "generate_s": 1}}, np.eye(3))
    assert row["curve"]["vendi"] == pytest.approx([1, 2, 3])  # the drifting cat counts as a mode here ...
    assert row["curve"]["vendi_faithful"] == pytest.approx([1, 1, 2])  # ... and not here


def test_a_folder_written_before_the_faithful_curve_still_plots():
    from eval.report import curve_figure

    old = pd.DataFrame({"method": ["iid", "iid"], "k": [1, 2], "vendi": [1.0, 1.5], "log_det": [0.7, 1.2],
                        "n_prompts": [3, 3]})
    figure = curve_figure(old)
    assert len(figure.data) == 2 and [a.text for a in figure.layout.annotations] == ["Vendi score", "log det(L + I)"]


def test_rerun_resumes_from_the_cache(original_run, monkeypatch):
    import dppgrpo_core.expand as expand

    def must_not_run(*_a, **_k):
        raise AssertionError("a cached expansion was recomputed")

    monkeypatch.setattr(expand, "run_expansion", must_not_run)
    before = pd.read_csv(original_run / OUTPUT_FILES["prompt_rows"])
    run(parse_args(["--n-prompts", "3", "--k", str(K), "--methods", "original", "--out", str(original_run),
                    "--device", "cpu"]))
    after = pd.read_csv(original_run / OUTPUT_FILES["prompt_rows"])
    pd.testing.assert_frame_equal(before.drop(columns=["expansion_s", "generate_s"]),
                                  after.drop(columns=["expansion_s", "generate_s"]))
    cached = list((original_run / "cache" / "expansions" / "original").glob("*.json"))
    assert len(cached) == 3
    # a corrupt cache file (killed mid-write) is recomputed, not trusted
    cached[0].write_text("{ half a file")
    monkeypatch.undo()
    run(parse_args(["--n-prompts", "3", "--k", str(K), "--methods", "original", "--out", str(original_run),
                    "--device", "cpu"]))
    assert json.loads(cached[0].read_text())["result"]["k"] == K


def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys):
    assert main(["--n-prompts", "2", "--k", "3", "--methods", "original,bogus", "--out", str(tmp_path)]) == 2
    assert "bogus" in capsys.readouterr().err
    assert main(["--n-prompts", "1", "--k", "2", "--methods", "original", "--out", str(tmp_path),
                 "--videos", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.json"))  # a bad --videos is refused before any set is expanded and cached
    for bad in (["--k", "51"], ["--k", "nan"], ["--seed", "99999999999999999999999"], ["--n-prompts", "0"]):
        assert main(["--methods", "original", "--out", str(tmp_path / "bad"), *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "bad").exists()  # refused before anything was written


def test_a_run_where_every_expansion_fails_exits_2_and_says_why(tmp_path, capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise UserFacingError("the policy wrote nothing")

    monkeypatch.setattr(harness, "cached_expansion", fail)
    assert main(["--n-prompts", "2", "--k", "3", "--methods", "original", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "every expansion failed (2)" in err and "the policy wrote nothing" in err
    assert not (tmp_path / "results.md").exists()


def _write_set(folder, shades, render_s):
    folder.mkdir(parents=True)
    for i, shade in enumerate(shades):
        writer = imageio.get_writer(str(folder / f"{i:02d}.mp4"), fps=8, codec="libx264", macro_block_size=16)
        for t in range(6):
            frame = np.zeros((32, 48, 3), dtype=np.uint8)
            frame[:, : 8 * (t + 1)] = shade
            writer.append_data(frame)
        writer.close()
    (folder / "render_s.json").write_text(json.dumps(render_s))


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    for prompt in sample_prompts(vbench_prompts(), 2, seed=0):
        _write_set(root / "original" / prompt_id(prompt["prompt"]),
                   [(255, 0, 0), (0, 255, 0), (0, 0, 255)], [10.0, 10.0, 10.0])
    return root


def test_videos_give_a_video_table_and_render_overhead(video_folder, tmp_path):
    out = tmp_path / "out"
    args = parse_args(["--n-prompts", "2", "--k", "3", "--methods", "original", "--out", str(out), "--device", "cpu",
                       "--videos", str(video_folder), "--n-frames", "2", "--image-encoder", "packaged:efficientnet-lite0"])
    run(args)
    videos = pd.read_csv(out / OUTPUT_FILES["video_rows"])
    assert len(videos) == 2 and (videos["n_videos"] == 3).all()
    assert (videos["encoder"] == "packaged:efficientnet-lite0").all()
    assert ((videos["vendi"] > 1.0) & (videos["vendi"] <= 3.0)).all()  # three different colours
    assert videos["truncated_entropy"].notna().all()
    assert videos["clip_score"].isna().all() and videos["tie"].isna().all()  # not CLIP; no Inception file
    eff = pd.read_csv(out / OUTPUT_FILES["efficiency"]).iloc[0]
    assert eff["render_s_per_video"] == pytest.approx(10.0)
    assert eff["overhead_pct"] == pytest.approx(100 * eff["expansion_s_per_video"] / 10.0)
    md = (out / OUTPUT_FILES["markdown"]).read_text()
    assert "truncated entropy (packaged:efficientnet-lite0)" in md and "TCE" not in md  # never labelled as CLIP
    report = load_report(out)
    assert report["video_summary"] is not None and report["figure"] is not None


def test_videos_with_a_clip_folder_give_tce_and_clip_score(video_folder, tmp_path):
    from tests.test_features import tiny_clip_encoder

    enc = tiny_clip_encoder()
    clip_dir = tmp_path / "tiny-clip"
    enc.model.save_pretrained(clip_dir)
    enc.tokenizer.save_pretrained(clip_dir)
    manifest_root = tmp_path / "manifest"
    manifest_root.mkdir()
    lines = []
    for prompt in sample_prompts(vbench_prompts(), 2, seed=0):
        set_dir = video_folder / "original" / prompt_id(prompt["prompt"])
        lines.append(json.dumps({"prompt": prompt["prompt"], "method": "original",
                                 "videos": [str(p) for p in sorted(set_dir.glob("*.mp4"))]}))
    (manifest_root / "manifest.jsonl").write_text("\n".join(lines))
    assert len(find_videos(manifest_root)) == 2
    out = tmp_path / "out"
    run(parse_args(["--n-prompts", "2", "--k", "3", "--methods", "original", "--out", str(out), "--device", "cpu",
                    "--videos", str(manifest_root), "--n-frames", "2", "--image-encoder", str(clip_dir)]))
    videos = pd.read_csv(out / OUTPUT_FILES["video_rows"])
    assert videos["clip_score"].between(-1, 1).all() and videos["clip_score"].notna().all()
    assert "TCE ↑" in (out / OUTPUT_FILES["markdown"]).read_text()
    assert pd.read_csv(out / OUTPUT_FILES["efficiency"])["overhead_pct"].isna().all()  # no render timings given


def test_prompt_id_is_stable_and_file_safe():
    pid = prompt_id("A cat, on a mat! (4K)")
    assert pid == prompt_id("A cat, on a mat! (4K)") and pid.startswith("a-cat-on-a-mat-4k-")
    assert all(c.isalnum() or c == "-" for c in pid)
    assert prompt_id("a") != prompt_id("b")
    assert benchmark.DEFAULT_METHODS == ("original", "iid", "dpp-grpo", "dpp-rerank")


def test_benchmark_tab_lists_and_loads_runs(original_run, tmp_path):
    import gradio as gr

    from dppgrpo_core.settings import Settings
    from pages import benchmark as page
    from pages.context import AppContext

    cache = tmp_path / "cache"
    assert page.list_runs(str(cache)) == []
    target = page.runs_folder(str(cache)) / "run-a"
    target.parent.mkdir(parents=True)
    target.symlink_to(original_run, target_is_directory=True)
    assert page.list_runs(str(cache)) == ["run-a"]

    markdown, figure, prompts, efficiency, videos = page.load_benchmark(str(cache), "run-a")
    assert "| original | 3 |" in markdown
    assert {trace.name for trace in figure.data} == {"original"}
    assert list(figure.data[0].x) == list(range(1, K + 1))
    assert prompts["vendi"].tolist() == [1.0] and len(efficiency) == 1
    assert list(videos.columns) == ["note"] and "no rendered videos" in videos["note"][0]
    # Page load with no run chosen: no error, and no empty plot or "no run loaded" table (issue 25, item 9).
    note, _, plot, *tables, sets_box, _ = page.show_run(str(cache), "")
    assert plot.visible is False and all(t.visible is False for t in tables) and sets_box.visible is False
    assert "Choose a run" in note
    # Only listed names: a folder, a traversal or an absolute path is refused, even one that holds a run.
    for bad in ("", "missing", str(tmp_path / "missing"), str(tmp_path), str(original_run), "../cache/benchmarks/run-a",
                "run-a/..", None, 3):
        with pytest.raises(gr.Error):
            page.load_benchmark(str(cache), bad)

    with gr.Blocks() as demo:  # the tab builds inside an app
        ctx = AppContext(settings=Settings(cache_dir=str(cache)), tabs=gr.Tabs(), prompt_set=gr.State(None),
                         rendered_set=gr.State(None))
        page.build(ctx)
    assert any(getattr(block, "label", None) == "Diversity against set size" for block in demo.blocks.values())
