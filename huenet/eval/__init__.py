"""Scoring colour transfer: every method judged from its RGB output by the same metrics.

* :mod:`~huenet.eval.metrics`: hue EMD, relative MI, grey SSIM, Frechet distance, bootstrap intervals;
* :mod:`~huenet.eval.rgbuv`, :mod:`~huenet.eval.edges`, :mod:`~huenet.eval.kid`, :mod:`~huenet.eval.context`: the
  field's metrics (HistoGAN's RGB-uv Hellinger, edge SSIM, KID, context dependence; ``docs/metrics.md``);
* :mod:`~huenet.eval.evaluate`: Table 1's rows scored on the same pairs and summarised with intervals;
* :mod:`~huenet.eval.compare`: the rules behind a notebook's comparative words.

This package imports none of its modules: a stage that scores depends on the metrics it uses only.
"""
