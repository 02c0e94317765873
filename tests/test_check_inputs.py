"""One check per entry path (issue 26): each limit and rule of an Expand request has one home in the core, which
the command line, the app's handlers, its validator and its set files all use; the page renders typed views by name.
"""

import inspect
import re
import subprocess
import sys
from pathlib import Path

import gradio as gr
import pytest

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand.config import APP_SLIDER_RANGES, MAX_K, MAX_K_APP, ExpandConfig, check_weights
from dppgrpo_core.expand.run import ExpandRequest, check_inputs, input_problems
from dppgrpo_core.sets import MAX_SET_FILE_BYTES, MAX_UPLOADED_SET_BYTES
from dppgrpo_core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dppgrpo_core", "pages", "eval", "training")
QUERY = "a dog playing with a ball at the beach"


def _defined(pattern: str) -> list[str]:
    """The package files (relative paths) with a line matching `pattern`."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if re.search(pattern, path.read_text(encoding="utf-8"), re.MULTILINE):
                found.append(str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("name, home", [
    ("MAX_K", "dppgrpo_core/expand/config.py"), ("MAX_K_APP", "dppgrpo_core/expand/config.py"),
    ("APP_SLIDER_RANGES", "dppgrpo_core/expand/config.py"), ("MAX_SET_FILE_BYTES", "dppgrpo_core/sets.py"),
    ("MAX_UPLOADED_SET_BYTES", "dppgrpo_core/sets.py"),
])
def test_each_limit_is_assigned_in_its_one_home(name, home):
    assert _defined(rf"^\s*{name}\s*=") == [home]


def test_the_stricter_limits_are_stricter_and_the_page_uses_the_cores():
    from pages import estimates

    assert 1 <= MAX_K_APP < MAX_K and MAX_UPLOADED_SET_BYTES < MAX_SET_FILE_BYTES
    for name, (low, high) in APP_SLIDER_RANGES.items():
        core_low, core_high = ExpandConfig.RANGES[name]
        assert core_low <= low < high <= core_high
    # The page refuses at the core's numbers, whatever they are.
    assert estimates.estimate_line("iid", MAX_K_APP + 1, 4, {}, "cpu").startswith(f"K must be a whole number from 1 "
                                                                                  f"to {MAX_K_APP}")


def test_the_weights_rule_is_written_once():
    # training/config.py still words it for its recipes (not this change's file): it may go, never another one come.
    assert "dppgrpo_core/expand/config.py" in _defined(r"cannot both be 0")
    assert set(_defined(r"cannot both be 0")) <= {"dppgrpo_core/expand/config.py", "training/config.py"}
    with pytest.raises(UserFacingError, match="cannot both be 0"):
        check_weights(0, 0)
    with pytest.raises(UserFacingError, match="cannot both be 0"):
        ExpandConfig(lambda_div=0, lambda_rel=0).check()


def test_check_inputs_returns_a_typed_request_and_refuses_with_the_first_problem():
    request = check_inputs(f"  {QUERY}\u200b ", 4.0, "iid", "7", lambda_div=0.8)
    assert request == ExpandRequest(QUERY, 4, "iid", 7, ExpandConfig(lambda_div=0.8))
    assert check_inputs(QUERY, MAX_K, "iid").k == MAX_K
    with pytest.raises(UserFacingError, match=f"K must be a whole number from 1 to {MAX_K_APP}, got {MAX_K_APP + 1}"):
        check_inputs(QUERY, MAX_K_APP + 1, "iid", max_k=MAX_K_APP)
    with pytest.raises(UserFacingError, match="The prompt is empty") as caught:
        check_inputs(" ", 0, "nope", lambda_div=0, lambda_rel=0)
    assert "\n" not in str(caught.value)
    with pytest.raises(UserFacingError, match="Unknown expansion option: lambda_dvi"):
        check_inputs(QUERY, 2, "iid", lambda_dvi=0.3)


def test_input_problems_names_every_input_at_fault():
    problems = input_problems(" ", 0, "nope", float("nan"), lambda_div=0, lambda_rel=0, temperature=9)
    assert list(problems) == ["query", "k", "method", "seed", "temperature", "lambda_div"]
    assert "Unknown method 'nope'" in problems["method"] and "cannot both be 0" in problems["lambda_div"]
    assert input_problems(QUERY, 3, "iid") == {}


def test_the_validator_and_the_handler_say_the_same_line():
    from pages.expand_run import expand_stream, validator

    args = (QUERY, MAX_K_APP + 1, "original", 0, 0.5, 0.5, "", 0.8, 4)
    results = validator(Settings(device="cpu"))(*args)
    message = results[1]["message"]
    assert [r["is_valid"] for r in results].count(False) == 1 and message.startswith("K must")
    with pytest.raises(gr.Error) as caught:
        next(expand_stream(Settings(device="cpu"), *args))
    assert caught.value.message == message


def test_the_command_line_refuses_at_its_own_limit_with_one_line():
    done = subprocess.run([sys.executable, "-m", "dppgrpo_core.expand", " ", "-k", "2"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == ["error: The prompt is empty: type a "
                                                                         "text-to-video prompt."]


def test_the_form_and_the_views_are_declared_once_by_name():
    from pages.expand import on_expand
    from pages.expand_run import request_problems
    from pages.expand_sets import restore_saved
    from pages.expand_view import FormValues, SetView

    # The /expand API's inputs are the form's fields, in the form's order (the prompt box is q).
    assert list(inspect.signature(on_expand).parameters)[1:10] == ["prompt", *FormValues._fields[1:]]
    assert len(request_problems(Settings(device="cpu"), QUERY, 3, "iid", 0, 0.5, 0.5)) == len(FormValues._fields)
    assert restore_saved(Settings(device="cpu"), None) == (gr.skip(),) * (len(SetView._fields) +
                                                                          len(FormValues._fields))
