"""Hue-Net: differentiable histogram losses for colour transfer.

The differentiable core (:mod:`huenet.core`) is re-exported here::

    from huenet import soft_histogram, joint_histogram, emd_loss, mi_loss        # functions
    from huenet import SoftHistogram, JointHistogram, EMDLoss, MILoss            # and modules

``huenet.transfer`` paints a photo (:mod:`huenet.paint.api`); it is imported on first use, so that importing the
package, or any of its modules, runs no photo code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from huenet.core import (
    EMDLoss,
    JointHistogram,
    MILoss,
    SoftHistogram,
    cyclic_w1,
    emd_loss,
    hsv_to_rgb,
    joint_histogram,
    linear_w1,
    mi_loss,
    relative_mi,
    rgb_to_hsv,
    soft_histogram,
)

__version__ = "0.2.0"

__all__ = ["transfer", "soft_histogram", "joint_histogram", "SoftHistogram", "JointHistogram", "emd_loss", "mi_loss",
           "EMDLoss", "MILoss", "relative_mi", "cyclic_w1", "linear_w1", "rgb_to_hsv", "hsv_to_rgb", "__version__"]

if TYPE_CHECKING:
    from huenet.paint.api import transfer


def __getattr__(name: str) -> Any:
    # The import is by name (importlib), not an import statement: a stage's code deps are the modules its
    # notebook imports (huenet.pipeline.stage_deps), and the transfer API is not one of them unless it says so.
    # The function is not a module named `huenet.transfer`: importing such a submodule would rebind the package
    # attribute to the module, and `huenet.transfer(...)` would stop being callable.
    if name == "transfer":
        return importlib.import_module("huenet.paint.api").transfer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
