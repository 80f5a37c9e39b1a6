"""The ``>>>`` examples in the package's docstrings run and print what they say.

This test, not pytest's ``--doctest-modules``: that option would have to collect the package itself (importing
``huenet/__main__.py``, which runs the command line), and it passes silently when examples disappear; here the
modules and functions that must have examples are named.
"""

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
    expected = {"huenet.core.losses", "huenet.training.params", "huenet.pipeline.calibration", "huenet.core.color",
                "huenet.core.histograms"}
    assert expected <= set(EXAMPLES)


@pytest.mark.parametrize("name", ["huenet.core.color.rgb_to_hsv", "huenet.core.histograms.soft_histogram",
                                  "huenet.core.histograms.joint_histogram", "huenet.core.losses.emd_loss"])
def test_the_core_functions_show_an_example(name):
    module, function = name.rsplit(".", 1)
    assert ">>>" in getattr(importlib.import_module(module), function).__doc__


@pytest.mark.parametrize("name", EXAMPLES)
def test_docstring_examples(name):
    failures, tried = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
