"""cnnlib.viz's drawing of parallel branches: Inception modules and residual blocks, one box per layer, merged."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from cnnlib import models, viz


def inception_3a() -> models.Inception:
    return models.Inception(192, 64, 96, 128, 16, 32, 32, batch_norm=True, kernel_size_5x5=5)


def branches_of(module: models.Inception) -> dict[str, nn.Module]:
    return {name: getattr(module, name) for name in ("branch1", "branch2", "branch3", "branch4")}


def test_records_fold_normalisation_and_relu_into_the_convolution_before_them():
    module = inception_3a()
    rows = viz.parallel_records(branches_of(module), (1, 192, 28, 28))
    assert [[record.label for record in row] for row in rows] == [
        ["Conv 1x1, 64"],
        ["Conv 1x1, 96", "Conv 3x3, 128"],
        ["Conv 1x1, 16", "Conv 5x5, 32"],
        ["MaxPool 3x3, /1", "Conv 1x1, 32"],
    ]
    # Every parameter is in some block (batch norm's scale and shift joined the convolution before it).
    assert sum(record.num_params for row in rows for record in row) == sum(p.numel() for p in module.parameters())
    conv = module.branch2[1][0]
    assert rows[1][1].num_params == conv.weight.numel() + 2 * conv.out_channels  # no bias; batch norm's 2 per channel
    assert rows[2][1].output_shape == (1, 32, 28, 28)


def test_fold_nothing_keeps_every_layer():
    rows = viz.parallel_records([nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())],
                                (1, 3, 8, 8), fold=())
    assert [record.kind for record in rows[0]] == ["conv", "other", "relu"]


def test_figure_labels_every_layer_and_the_concatenated_shape():
    module = inception_3a()
    fig = viz.draw_parallel(branches_of(module), (1, 192, 28, 28))
    labels = {text.get_gid(): text.get_text() for text in fig.axes[0].texts if text.get_gid()}
    assert labels["block:input"] == "Input" and labels["block:merge"] == "Concatenate"
    assert sum(gid.startswith("block:branch") for gid in labels) == 7
    with torch.no_grad():
        channels = module(torch.zeros(1, 192, 28, 28)).shape[1]
    assert any(text.get_text() == f"{channels}\u00d728\u00d728" for text in fig.axes[0].texts)
    plt.close(fig)


def test_residual_block_with_an_identity_shortcut_adds():
    block = models.BasicBlock(16, 16)
    residual = nn.Sequential(block.conv1, block.bn1, nn.ReLU(), block.conv2, block.bn2)
    rows = viz.parallel_records({"residual": residual, "shortcut": block.shortcut}, (1, 16, 8, 8))
    assert rows[1] == []  # the identity shortcut: a bare arrow
    fig = viz.draw_parallel({"residual": residual, "shortcut": block.shortcut}, (1, 16, 8, 8), merge="add")
    labels = {text.get_gid(): text.get_text() for text in fig.axes[0].texts if text.get_gid()}
    assert labels["block:merge"] == "Add"
    plt.close(fig)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="merge"):
        viz.draw_parallel([nn.Identity()], (1, 3, 8, 8), merge="multiply")
    with pytest.raises(ValueError, match="at least one branch"):
        viz.parallel_records({}, (1, 3, 8, 8))
    with pytest.raises(ValueError, match="one shape"):
        viz.draw_parallel([nn.Conv2d(3, 4, 1), nn.Identity()], (1, 3, 8, 8), merge="add")
    with pytest.raises(ValueError, match="only in channels"):
        viz.draw_parallel([nn.Conv2d(3, 4, 1), nn.MaxPool2d(2)], (1, 3, 8, 8))
