"""The differentiable core: colour conversions, histogram layers and histogram losses, on any device.

What another project reuses, with nothing of the pipeline: each module imports only torch and this package's
``checks``. Everything listed in ``__all__`` is re-exported by ``huenet`` itself.

* :mod:`huenet.core.checks`: the argument checks every function shares (one-line ``ValueError`` s);
* :mod:`huenet.core.color`: differentiable RGB <-> HSV, colours as RGB triples;
* :mod:`huenet.core.cielab`: RGB <-> CIELAB (D65);
* :mod:`huenet.core.histograms`: ``soft_histogram`` (1D, optionally cyclic) and ``joint_histogram``;
* :mod:`huenet.core.losses`: ``emd_loss`` (cyclic L2 EMD), ``mi_loss`` / ``relative_mi``, exact W1 distances.
"""

from huenet.core.color import hsv_to_rgb, rgb_to_hsv
from huenet.core.histograms import joint_histogram, soft_histogram
from huenet.core.losses import cyclic_w1, emd_loss, linear_w1, mi_loss, relative_mi

__all__ = ["rgb_to_hsv", "hsv_to_rgb", "soft_histogram", "joint_histogram", "emd_loss", "mi_loss", "relative_mi",
           "cyclic_w1", "linear_w1"]
