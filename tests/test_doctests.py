"""The docstring examples of the pure modules run as tests, so they stay true."""

import doctest
import importlib

import pytest

PURE_MODULES = ["dppgrpo_core.dpp", "dppgrpo_core.rewards", "dppgrpo_core.settings", "dppgrpo_core.checks",
                "dppgrpo_core.composer", "dppgrpo_core.expand", "pages.context"]


@pytest.mark.parametrize("name", PURE_MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
