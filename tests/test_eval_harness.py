"""One evaluation harness, two reports: shared held-out prompts and expansion cache; bad --out and empty checks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dppgrpo_core.expand import ExpandConfig
from dppgrpo_core.settings import Settings
from eval import benchmark, harness, judge, set_quality
from tests.test_judge import FAKE_EMBEDDER, fake_judge

ROOT = Path(__file__).resolve().parent.parent


def one_line_error(err: str) -> bool:
    return err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_benchmark_and_set_quality_read_each_others_expansions(tmp_path, monkeypatch, capsys):
    out = tmp_path / "shared"
    assert benchmark.main(["--n-prompts", "2", "--k", "3", "--methods", "composer", "--out", str(out),
                           "--device", "cpu"]) == 0
    made = sorted((out / "cache" / "expansions" / "composer").glob("*.json"))
    assert len(made) == 2

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("an expansion the benchmark made was made again")

    monkeypatch.setattr("dppgrpo_core.expand.run_expansion", must_not_run)
    argv = ["--methods", "composer", "--n", "2", "--k", "3", "--seed", "0", "--out", str(out)]
    assert set_quality.main(argv, judge_encode=fake_judge, embedder=FAKE_EMBEDDER) == 0
    sets = json.loads((out / "results.json").read_text())["sets"]
    cached = [json.loads(p.read_text()) for p in made]
    assert sorted(s["prompts"][0] for s in sets) == sorted(c["result"]["steps"][0]["prompt"] for c in cached)
    assert sorted((out / "cache" / "expansions" / "composer").glob("*.json")) == made  # nothing new written


def test_the_cache_key_names_the_policy_only_for_methods_that_call_it():
    settings = Settings(policy="packaged:SmolLM2-135M-Instruct", adapter="runs/a")
    composed = harness.expansion_key("dpp-compose", "q", 8, 0, ExpandConfig(), settings)
    written = harness.expansion_key("dpp-grpo", "q", 8, 0, ExpandConfig(), settings)
    assert "policy" not in composed and (written["policy"], written["adapter"]) == (settings.policy, "runs/a")
    assert composed["config"]["lambda_div"] == ExpandConfig.lambda_div


def test_a_half_written_cache_file_is_made_again(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"key": ')
    assert harness.read_json(path) is None
    harness.write_json(path, {"key": 1})
    assert harness.read_json(path) == {"key": 1} and not list(tmp_path.glob("*.tmp*"))


@pytest.mark.parametrize("report, argv", [
    (benchmark.main, ["--n-prompts", "1", "--k", "2", "--methods", "original"]),
    (set_quality.main, ["--methods", "original", "--n", "1", "--k", "2"]),
])
def test_out_naming_an_existing_file_is_one_line_and_exit_2(report, argv, tmp_path, capsys):
    target = tmp_path / "results.txt"
    target.write_text("keep me")
    assert report([*argv, "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert one_line_error(err) and "is a file" in err
    assert target.read_text() == "keep me"


def test_the_benchmark_command_line_refuses_a_file_out_without_a_traceback(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("")
    done = subprocess.run([sys.executable, "-m", "eval.benchmark", "--n-prompts", "1", "--k", "2", "--methods",
                           "original", "--out", str(target)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and one_line_error(done.stderr), done.stderr


@pytest.mark.parametrize("prompt", ["", "   "])
def test_judge_check_of_an_empty_prompt_is_one_line_and_exit_2(prompt, capsys):
    assert judge.main(["check", prompt]) == 2
    err = capsys.readouterr().err
    assert one_line_error(err) and "empty" in err


def test_judge_check_prints_every_check_and_the_rules_broken(capsys):
    assert judge.main(["check", "A fixed camera with no movement, a slow pan across a dog running.",
                       "--query", "a dog running"]) == 0
    out = capsys.readouterr().out
    assert "'coherent': False" in out and "camera both still and moving" in out


def test_a_benchmark_csv_starts_no_formula(tmp_path):
    import pandas as pd

    from eval.report import OUTPUT_FILES, write_report

    rows = [{"prompt_id": "p1", "query": "=HYPERLINK(\"http://x\")", "method": "iid", "vendi": 1.5, "curve": []}]
    meta = {"methods": ["iid"], "text_encoder": "e", "policy": "p"}
    try:
        write_report(tmp_path, rows, [], pd.DataFrame(), meta)
    except (KeyError, ValueError, TypeError):
        pass  # only the rows' file matters here; it is written first
    text = (tmp_path / OUTPUT_FILES["prompt_rows"]).read_text()
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
