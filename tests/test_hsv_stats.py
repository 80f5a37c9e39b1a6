"""huenet.data.hsv_stats: hue and saturation histograms of uint8 images, and hue's sensitivity to 8-bit noise."""

from __future__ import annotations

import torch

from huenet.data.hsv_stats import hsv_statistics, hue_jitter


def test_hsv_statistics_and_hue_jitter():
    grey = torch.full((1, 3, 4, 4), 128, dtype=torch.uint8)
    red = torch.zeros(1, 3, 4, 4, dtype=torch.uint8)
    red[:, 0] = 255
    stats = hsv_statistics(torch.cat([grey, red]), bins=8)
    assert stats["pixels"] == 32 and stats["grey_share"] == 0.5 and stats["low_saturation_share"] == 0.5
    assert stats["hue"].tolist() == [32, 0, 0, 0, 0, 0, 0, 0]  # grey counts as hue 0
    assert stats["hue_saturated"].tolist() == [16, 0, 0, 0, 0, 0, 0, 0]
    edges, jitter = hue_jitter(torch.cat([grey, red]).repeat(8, 1, 1, 1), saturation_bins=2)
    assert edges.tolist() == [0.0, 0.5, 1.0]
    assert jitter[0] > 10 * jitter[1]  # near-grey hue moves far more than saturated hue
