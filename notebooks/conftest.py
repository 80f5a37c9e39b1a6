"""nbval runs every notebook here at its smoke scale: seconds each, so they are the ``slow`` tier
(``pytest -m "not slow"`` leaves them out)."""

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
