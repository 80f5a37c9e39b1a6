"""Classical colour-transfer baselines, scored by the same ``huenet.eval.metrics`` as Hue-Net.

* ``reinhard``: Reinhard et al. 2001, mean/std transfer in l-alpha-beta (paper section 3).
* ``hue_histogram_matching``: cyclic hue histogram matching with the W1-optimal cut.
* ``feature_matching``: Soiffer & Zhang 2018, 3.1, gradient descent on the image (CNN features kept).
* ``color_gan``: Soiffer & Zhang 2018, 3.2, a colour-conditioned WGAN-GP generator
  (``train_color_gan``/``load_color_gan`` in ``huenet.baselines.color_gan``).

Each lives in its own module (``from huenet.baselines.reinhard import reinhard``); this package imports none of
them, so that training the colour GAN runs (and its checkpoint's code digest covers) no other baseline.
"""
