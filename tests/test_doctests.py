"""The ``>>>`` examples in the package's docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import huenet

EXAMPLES = sorted(
    info.name for info in pkgutil.walk_packages(huenet.__path__, "huenet.")
    if not info.ispkg and info.name != "huenet.__main__"
    and ">>>" in (Path(huenet.__path__[0]).parent / (info.name.replace(".", "/") + ".py")).read_text()
)


def test_the_modules_with_examples_are_found():
    assert {"huenet.losses", "huenet.params", "huenet.calibration"} <= set(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_docstring_examples(name):
    failures, tried = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
