"""Every `>>>` example in the packages runs, so the docs stay true: modules are found by their text."""

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dppgrpo_core", "eval", "training", "pages")
MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    if ">>>" in path.read_text(encoding="utf-8") and path.name != "__main__.py"
)


def test_the_examples_are_found():
    assert {"dppgrpo_core.maths.dpp", "dppgrpo_core.maths.rewards", "dppgrpo_core.expand.composer", "pages.context"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
