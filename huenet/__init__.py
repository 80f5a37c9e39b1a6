"""Hue-Net: differentiable histogram losses for colour transfer."""

__version__ = "0.1.0"

# The function deliberately shadows the submodule `huenet.transfer` as a package attribute, so that
# `huenet.transfer(source, target)` works; `from huenet.transfer import ...` still finds the module.
from huenet.transfer import transfer  # noqa: E402

__all__ = ["transfer", "__version__"]
