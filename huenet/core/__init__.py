"""The differentiable core: colour conversions, histogram layers and histogram losses, on any device.

What another project reuses, with nothing of the pipeline: each module imports only torch and this package's
``checks``. Everything listed in ``__all__`` is re-exported by ``huenet`` itself.

* :mod:`huenet.core.checks`: the argument checks every function shares (one-line ``ValueError`` s);
* :mod:`huenet.core.color`: differentiable RGB <-> HSV, colours as RGB triples;
* :mod:`huenet.core.cielab`: RGB <-> CIELAB (D65);
* :mod:`huenet.core.histograms`: ``soft_histogram`` and ``joint_histogram`` (cyclic by default: hue), and their
  modules ``SoftHistogram`` and ``JointHistogram``; the CPU kernels are :mod:`huenet.core.histogram_kernels`;
* :mod:`huenet.core.losses`: ``emd_loss`` / ``EMDLoss`` (cyclic L2 EMD), ``mi_loss`` / ``MILoss`` and
  ``relative_mi``, the exact W1 distances.

``docs/library.md`` shows them in someone else's training loop.
"""

from huenet.core.color import hsv_to_rgb, rgb_to_hsv
from huenet.core.histograms import JointHistogram, SoftHistogram, joint_histogram, soft_histogram
from huenet.core.losses import EMDLoss, MILoss, cyclic_w1, emd_loss, linear_w1, mi_loss, relative_mi

__all__ = ["rgb_to_hsv", "hsv_to_rgb", "soft_histogram", "joint_histogram", "SoftHistogram", "JointHistogram",
           "emd_loss", "mi_loss", "EMDLoss", "MILoss", "relative_mi", "cyclic_w1", "linear_w1"]
