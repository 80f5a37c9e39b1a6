"""Hue-Net: differentiable histogram losses for colour transfer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["transfer", "__version__"]

if TYPE_CHECKING:
    from huenet.api import transfer


def __getattr__(name: str) -> Any:
    # Lazy, so that `import huenet.data.pairs` (what a pipeline stage imports) runs no other module: the stages'
    # deps in dvc.yaml are then their true import closures (tests/test_stage_deps.py). The function lives in
    # `huenet.api`, not in a module named `huenet.transfer`: importing such a submodule would rebind the
    # package attribute `huenet.transfer` to the module, and `huenet.transfer(...)` would stop being callable.
    if name == "transfer":
        from huenet.api import transfer

        return transfer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
