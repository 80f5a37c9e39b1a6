import torch

from huenet.pipeline.figures import figure6


def test_figure6_draws_a_row_per_pair_and_a_column_per_image():
    import matplotlib

    matplotlib.use("Agg")
    images = torch.rand(3, 3, 8, 8)
    fig = figure6(images, images, {"huenet": images, "reinhard": images[:2]}, {"huenet": "Hue-Net"}, rows=[0, 1])
    assert len(fig.axes) == 2 * 4
    assert [ax.get_title() for ax in fig.axes[:4]] == ["source", "target", "Hue-Net", "reinhard"]
