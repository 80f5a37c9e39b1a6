"""Classical colour-transfer baselines, scored by the same ``huenet.metrics`` as Hue-Net.

* ``reinhard``: Reinhard et al. 2001, mean/std transfer in l-alpha-beta (paper section 3).
* ``hue_histogram_matching``: cyclic hue histogram matching with the W1-optimal cut.
"""

from huenet.baselines.histmatch import hue_histogram_matching
from huenet.baselines.reinhard import reinhard

__all__ = ["reinhard", "hue_histogram_matching"]
