"""SFT and DPP-GRPO train a tiny random Llama offline; reward wrappers; recipe parsing and its errors."""

import doctest
import importlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dppgrpo_core.maths import rewards as core
from dppgrpo_core.models.chat import build_messages
from tests.fakes import CONVERTIBLE, CONVERTIBLE_QUERY, HashingEmbedder
from training import build_data, grpo, sft
from dppgrpo_core.cli import run_main
from training.rewards import DPPRewards

CONFIGS = Path(__file__).resolve().parent.parent / "training" / "configs"


ROWS = [
    {"query": "a red fox running on a quiet beach", "variants": [
        "A wide shot of a red fox running on a quiet beach at dawn, soft golden backlight.",
        "A low-angle close-up of a red fox running on a quiet beach under light rain, shot on a fisheye lens.",
        "At night, a red fox running on a quiet beach in drifting fog; a drone shot pulls back, neon reflections.",
        "Filmed with a telephoto lens, a steadicam glides behind as a red fox is running on a quiet beach at noon.",
    ]},
    {"query": "a chef sipping hot tea in an old library", "variants": [
        "A medium shot of a chef sipping hot tea in an old library at dusk, warm candlelight tones.",
        "A bird's-eye wide shot of a chef sipping hot tea between tall wooden bookshelves, shot on a tilt-shift lens.",
        "In the blue hour, a calm chef sipping hot tea in an old library; the camera orbits, cool blue ambient light.",
        "Filmed with an 85mm portrait lens, the camera slowly dollies in as a chef is sipping hot tea in an old library.",
    ]},
]


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("variants")
    rows = [dict(r, split="train") for r in ROWS] + [dict(ROWS[0], split="test")]
    build_data.write(rows, {"k": 4, "n_base": 3, "seed": 0, "candidates_per_base": 4, "min_relevance": 0.55,
                            "max_similarity": 0.95, "train": 2, "test": 1, "variants_total": 12,
                            "dropped_irrelevant": 0, "dropped_duplicates": 0, "too_few_variants": 0,
                            "variant_words_mean": 20, "relevance_mean": 0.7, "relevance_min": 0.6,
                            "log_det_mean": 2.0, "vbench_prompts": 0, "vbench_excluded": 0,
                            "vbench_exact_overlap": 0, "vbench_near_overlap": 0, "vbench_max_cosine": 0.0}, out)
    return out


def lora_weights(folder) -> dict:
    return load_file(str(Path(folder) / "adapter_model.safetensors"))


# --- reward wrappers --------------------------------------------------------------------------------------


def test_rewards_score_each_completion_against_its_own_row_in_a_batch_of_groups():
    emb = HashingEmbedder()
    rewards = DPPRewards(emb)
    group_size = 3
    rows = [ROWS[0], ROWS[1]]
    contexts = [ROWS[0]["variants"][:2], ROWS[1]["variants"][:1]]
    texts = [
        "A handheld shot of a red fox running on a quiet beach in falling snow.",
        "A red fox running on a quiet beach.",
        ROWS[0]["variants"][1],  # verbatim repeat of a prompt already in the set: degenerate, scores 0
        "A macro shot of a chef sipping hot tea in an old library, dramatic rim lighting.",
        "1. Prompt: \"A chef sipping hot tea in an old library at sunrise.\"",  # cleaned as inference cleans it
        "",  # empty: degenerate
    ]
    # Conversational completions (lists of message dicts), as GRPOTrainer passes them for chat prompts.
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    kwargs = {
        "query": [r["query"] for r in rows for _ in range(group_size)],
        "previous": [c for c in contexts for _ in range(group_size)],
        "variants": [r["variants"] for r in rows for _ in range(group_size)],
        "prompts": [build_messages(r["query"], c) for r, c in zip(rows, contexts) for _ in range(group_size)],
    }
    gains = rewards.dpp_gain(completions=completions, **kwargs)
    rel = rewards.relevance(completions=completions, **kwargs)
    assert len(gains) == len(rel) == 6
    assert gains[2] == rel[2] == 0.0 and gains[5] == rel[5] == 0.0

    def vec(texts_):
        return torch.stack([emb.encode([t])[0] for t in texts_])

    cleaned = {0: texts[0], 1: texts[1], 3: texts[3], 4: "A chef sipping hot tea in an old library at sunrise."}
    for i, text in cleaned.items():
        row = i // group_size
        expected_gain = float(core.marginal_gains(vec(contexts[row]), vec([text]))[0])
        expected_rel = float(core.relevance(vec([rows[row]["query"]])[0], vec([text]), vec(rows[row]["variants"]))[0])
        assert gains[i] == pytest.approx(expected_gain, abs=1e-6)
        assert rel[i] == pytest.approx(expected_rel, abs=1e-6)
    # Plain-string completions score the same as message lists.
    assert rewards.dpp_gain(completions=texts, **kwargs) == pytest.approx(gains)
    # A different context set changes the gain of the same completion: the row's own S is used.
    swapped = dict(kwargs, previous=[contexts[1]] * 3 + [contexts[0]] * 3)
    assert rewards.dpp_gain(completions=texts, **swapped)[0] != pytest.approx(gains[0])


def test_reward_functions_carry_the_names_trl_logs():
    from trl.trainer.utils import get_callable_name

    assert [get_callable_name(f) for f in DPPRewards(HashingEmbedder()).functions()] == \
        ["dpp_gain", "relevance", "writing"]
    with pytest.raises(ValueError, match="unknown reward"):
        DPPRewards(HashingEmbedder()).functions(["bleu"])


def test_the_writing_reward_is_one_for_a_prompt_the_critic_keeps_and_zero_for_a_loop_or_a_short_one():
    query = CONVERTIBLE_QUERY
    good = CONVERTIBLE
    looped = good.replace("on a wide-angle lens", "on a 28mm wide-angle lens, 30mm wide-angle lens, 24mm wide-angle "
                          "lens, 24mm wide-angle lens")
    texts = [good, looped, "A vintage red convertible glides forward on a volcanic shore.", good]
    scores = DPPRewards(HashingEmbedder()).writing(completions=[[{"role": "assistant", "content": t}] for t in texts],
                                                   query=[query] * 4, previous=[[], [], [], [good]])
    assert scores == [1.0, 0.0, 0.0, 0.0]  # the last: a verbatim repeat of its set's prompt (degenerate)


@pytest.mark.parametrize("name", ["training.examples", "training.plots", "training.critic", "training.architect"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# --- recipes and their errors -----------------------------------------------------------------------------


RECIPES = sorted(p.name for p in CONFIGS.glob("*.yaml") if p.name != "base.yaml")


def recipe_types(name: str):
    from trl import GRPOConfig, ModelConfig, SFTConfig

    from training.config import AdapterArguments, DataArguments, RewardArguments

    return (DataArguments, AdapterArguments, SFTConfig, ModelConfig) if name.startswith("sft") else \
        (DataArguments, RewardArguments, AdapterArguments, GRPOConfig, ModelConfig)


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_parses(recipe):
    from training.config import parse_recipe

    parsed = parse_recipe(recipe_types(recipe), ["--config", str(CONFIGS / recipe), "--max_steps", "3",
                                                 "--bf16", "false"])
    args = parsed[-2]
    assert args.max_steps == 3  # a flag overrides the YAML
    assert parsed[0].dataset_path and parsed[-1].model_name_or_path
    if recipe.startswith("grpo"):  # λ weighs each reward on one scale unless a recipe says otherwise
        assert args.multi_objective_aggregation == "normalize_then_sum"


@pytest.mark.parametrize("recipe", RECIPES)
def test_an_override_holds_only_what_it_changes(recipe):
    import yaml

    from training.config import read_recipe

    own = yaml.safe_load((CONFIGS / recipe).read_text())
    if "paper" in recipe:  # the paper's recipes stand alone (another model and machine; see their header)
        assert "base" not in own
        return
    inherited = read_recipe(CONFIGS / own.pop("base"), recipe_types(recipe))
    assert [key for key, value in own.items() if inherited.get(key, object()) == value] == []
    assert read_recipe(CONFIGS / recipe, recipe_types(recipe))["model_name_or_path"] == \
        yaml.safe_load((CONFIGS / "base.yaml").read_text())["model_name_or_path"]  # every chain ends at base.yaml


def test_the_shipped_adapter_names_the_recipes_that_made_it():
    import yaml

    from training.config import read_recipe

    card = (CONFIGS.parent.parent / "models" / "SmolLM2-135M-DPP-GRPO" / "README.md").read_text()
    stages = yaml.safe_load(card.split("---")[1])["recipe"]
    recipes = [read_recipe(CONFIGS.parent.parent / stage, recipe_types(Path(stage).name)) for stage in stages]
    assert [Path(s).name for s in stages] == ["sft_compose_cpu.yaml", "sft_compose_v2_cpu.yaml",
                                              "grpo_compose_v2_cpu.yaml"]
    assert "init_adapter" not in recipes[0]
    for before, after in zip(recipes, recipes[1:]):
        assert after["init_adapter"] == before["output_dir"]  # each stage continues the one before


@pytest.mark.parametrize("files, message", [
    ({"a.yaml": "base: a.yaml\nmax_steps: 2\n"}, "bases in a row"),
    ({"a.yaml": "base: b.yaml\n", "b.yaml": "base: a.yaml\n"}, "bases in a row"),
    ({"a.yaml": "base: missing.yaml\n"}, "does not exist"),
    ({"a.yaml": "base: b.yaml\n", "b.yaml": "num_generation: 4\n"}, "unknown field 'num_generation'"),
    ({"a.yaml": "base: [b.yaml]\n"}, "base must name another recipe file"),
])
def test_a_bad_base_chain_is_one_line(tmp_path, capsys, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert run_main(grpo.main, ["--config", str(tmp_path / "a.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err


def test_an_override_wins_over_its_base_and_a_flag_over_both(tmp_path):
    from training.config import parse_recipe

    (tmp_path / "base.yaml").write_text("max_steps: 5\nlearning_rate: 1.0e-4\nseed: 3\n")
    (tmp_path / "run.yaml").write_text("base: base.yaml\nmax_steps: 7\n")
    parsed = parse_recipe(recipe_types("grpo"), ["--config", str(tmp_path / "run.yaml"), "--seed", "4"])
    args = parsed[-2]
    assert (args.max_steps, args.learning_rate, args.seed) == (7, 1e-4, 4)


def test_reward_weights_are_refused_in_favour_of_lambda(dataset_dir, tmp_path, capsys):
    argv = ["--dataset_path", str(dataset_dir), "--output_dir", str(tmp_path / "o"), "--reward_weights", "0.5", "0.5"]
    assert run_main(grpo.main, argv) == 2
    err = capsys.readouterr().err
    assert "lambda_div / lambda_rel, not reward_weights" in err and err.count("\n") == 1


@pytest.mark.parametrize("yaml_text, message", [
    ("max_steps: [1\n", "not valid YAML"),
    ("- a\n- b\n", "must be a YAML mapping"),
    ("num_generation: 4\n", "unknown field 'num_generation' (did you mean 'num_generations'?)"),
    ("learning_rate: fast\n", "field 'learning_rate' has the wrong type"),
    ("beta: true\n", "field 'beta' has the wrong type"),
    ("dataset_path: /nonexistent/variants\n", "has no train.parquet"),
])
def test_malformed_config_gives_one_line_and_status_2(tmp_path, capsys, yaml_text, message):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    assert run_main(grpo.main, ["--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err


def test_bad_flag_and_missing_file_give_one_line(tmp_path, capsys):
    assert run_main(sft.main, ["--config", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert run_main(sft.main, ["--learning_rate", "abc"]) == 2
    err = capsys.readouterr().err.strip()
    assert "learning_rate" in err and "\n" not in err


# --- training a tiny model --------------------------------------------------------------------------------


def tiny_flags(policy_dir, data_dir, out):
    return ["--model_name_or_path", str(policy_dir), "--dataset_path", str(data_dir), "--output_dir", str(out),
            "--max_steps", "2", "--save_steps", "1", "--logging_steps", "1", "--learning_rate", "5e-3",
            "--report_to", "none", "--bf16", "false", "--gradient_checkpointing", "false", "--seed", "0"]


@pytest.fixture(scope="module")
def sft_adapter(tiny_policy_dir, dataset_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("sft")
    argv = ["--config", str(CONFIGS / "sft_compose_cpu.yaml"), *tiny_flags(tiny_policy_dir, dataset_dir, out),
            "--per_device_train_batch_size", "2", "--max_length", "192", "--max_previous", "2"]
    assert run_main(sft.main, argv) == 0
    return out


def test_sft_two_steps_train_the_lora_adapter(sft_adapter, tiny_policy_dir):
    weights = lora_weights(sft_adapter)
    lora_b = [w for name, w in weights.items() if "lora_B" in name]
    assert lora_b and any(float(w.abs().max()) > 0 for w in lora_b)  # B starts at zero: it moved
    history = json.loads((sft_adapter / "log_history.json").read_text())
    assert [h["step"] for h in history if "loss" in h] == [1, 2]
    assert (sft_adapter / "checkpoint-2").is_dir()

    from dppgrpo_core.models.policy import load_policy
    from dppgrpo_core.settings import Settings

    policy = load_policy(str(tiny_policy_dir), adapter=str(sft_adapter), settings=Settings(device="cpu"))
    assert policy.adapter == str(sft_adapter)
    assert len(policy.generate_raw([build_messages("a red car")], temperature=0, max_new_tokens=4)) == 1


def test_sft_continues_an_earlier_adapter_instead_of_starting_a_new_one(sft_adapter, tiny_policy_dir, dataset_dir,
                                                                        tmp_path):
    out = tmp_path / "sft-more"
    argv = ["--config", str(CONFIGS / "sft_compose_cpu.yaml"), *tiny_flags(tiny_policy_dir, dataset_dir, out),
            "--per_device_train_batch_size", "2", "--max_length", "192", "--max_previous", "2",
            "--init_adapter", str(sft_adapter), "--max_steps", "1"]
    assert run_main(sft.main, argv) == 0
    before, after = lora_weights(sft_adapter), lora_weights(out)
    assert before.keys() == after.keys()  # the same LoRA, one more step
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # From the earlier adapter, not from a fresh LoRA (whose B matrices start at zero and stay near it after 1 step).
    delta = max(float((after[k] - before[k]).abs().max()) for k in before)
    assert delta < max(float(before[k].abs().max()) for k in before if "lora_B" in k)


def test_sft_refuses_an_init_adapter_that_is_not_a_lora_folder(tmp_path, dataset_dir, tiny_policy_dir, capsys):
    argv = [*tiny_flags(tiny_policy_dir, dataset_dir, tmp_path / "out"), "--init_adapter", str(tmp_path)]
    assert run_main(sft.main, argv) == 2
    assert "is not a LoRA folder" in capsys.readouterr().err


def test_grpo_two_steps_continue_the_sft_adapter_and_log_each_reward(sft_adapter, tiny_policy_dir, dataset_dir,
                                                                     tmp_path, monkeypatch):
    # The real reward path, with the bag-of-words embedder in place of MiniLM to keep the test fast.
    monkeypatch.setattr("dppgrpo_core.models.embedder._load", lambda name, device: HashingEmbedder())
    out = tmp_path / "grpo"
    argv = ["--config", str(CONFIGS / "grpo_smoke.yaml"), *tiny_flags(tiny_policy_dir, dataset_dir, out),
            "--init_adapter", str(sft_adapter), "--per_device_train_batch_size", "4", "--num_generations", "2",
            "--max_completion_length", "8", "--contexts_per_query", "2", "--lambda_div", "0.7", "--lambda_rel", "0.3"]
    assert run_main(grpo.main, argv) == 0
    before, after = lora_weights(sft_adapter), lora_weights(out)
    assert before.keys() == after.keys()  # the same adapter, continued
    assert any(not torch.equal(before[k], after[k]) for k in before)
    history = json.loads((out / "log_history.json").read_text())
    steps = [h for h in history if "rewards/dpp_gain/mean" in h]
    assert [h["step"] for h in steps] == [1, 2]
    assert all("rewards/relevance/mean" in h and "reward_seconds/dpp_gain" in h for h in steps)
    config = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    assert config["global_step"] == 2
    assert (out / "training_curves.html").stat().st_size > 1000

    # Resume from the latest checkpoint: only step 3 runs, the history continues.
    argv = [a if a != "2" or argv[i - 1] != "--max_steps" else "3" for i, a in enumerate(argv)]
    assert run_main(grpo.main, [*argv, "--resume_from_checkpoint", "true"]) == 0
    resumed = json.loads((out / "log_history.json").read_text())
    assert [h["step"] for h in resumed if "rewards/dpp_gain/mean" in h] == [1, 2, 3]
    assert json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())["global_step"] == 3


def test_bench_grpo_summarises_a_log_and_refuses_a_broken_one(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_grpo", CONFIGS.parent.parent / "benchmarks" / "bench_grpo.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    history = [{"step_time": 10.0 + i, "reward_seconds/dpp_gain": 0.1, "reward_seconds/relevance": 0.2,
                "rewards/dpp_gain/mean": 0.5, "rewards/relevance/mean": 0.1 * i, "reward": 0.3, "kl": 0.0}
               for i in range(4)]
    summary = bench.summarise(history, window=2)
    assert summary["steps"] == 4 and summary["seconds_per_step_mean"] == 12.0  # the first step is left out
    assert summary["reward_share_percent"] == round(100 * 0.9 / 36, 2)
    assert summary["rewards/relevance/mean first2"] == pytest.approx(0.05)
    assert summary["rewards/relevance/mean last2"] == pytest.approx(0.25)
    (tmp_path / "log_history.json").write_text('{"log')
    assert bench.main([str(tmp_path)]) == 2
    assert "cannot read the training log" in capsys.readouterr().err
