"""Hue-Net: differentiable histogram losses for colour transfer."""

__version__ = "0.1.0"
