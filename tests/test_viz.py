"""cnnlib.viz's architecture diagram: the same records from a cnnlib and a torch model, one labelled block per layer."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn as torch_nn

from cnnlib import nn, viz

INPUT_SHAPE = (1, 1, 28, 28)


def lenet_cnnlib() -> nn.Sequential:
    rng = np.random.default_rng(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, rng=rng), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120, rng=rng), nn.ReLU(), nn.Linear(120, 84, rng=rng), nn.ReLU(), nn.Linear(84, 10, rng=rng),
    )


def lenet_torch() -> torch_nn.Sequential:
    return torch_nn.Sequential(
        torch_nn.Conv2d(1, 6, 5, padding=2), torch_nn.ReLU(), torch_nn.MaxPool2d(2),
        torch_nn.Conv2d(6, 16, 5), torch_nn.ReLU(), torch_nn.AvgPool2d(2),
        torch_nn.Flatten(),
        torch_nn.Linear(400, 120), torch_nn.ReLU(), torch_nn.Linear(120, 84), torch_nn.ReLU(), torch_nn.Linear(84, 10),
    )


def test_records_agree_between_cnnlib_and_torch():
    ours = viz.architecture_records(lenet_cnnlib(), INPUT_SHAPE)
    theirs = viz.architecture_records(lenet_torch(), INPUT_SHAPE)
    assert ours == theirs  # names, kinds, labels, shapes and parameter counts
    assert [record.kind for record in ours] == [
        "input", "conv", "relu", "pool", "conv", "relu", "pool", "flatten",
        "linear", "relu", "linear", "relu", "linear",
    ]
    assert ours[1].label == "Conv 5x5, 6" and ours[3].label == "MaxPool 2x2" and ours[6].label == "AvgPool 2x2"
    assert [record.output_shape for record in ours][1:7] == [
        (1, 6, 28, 28), (1, 6, 28, 28), (1, 6, 14, 14), (1, 16, 10, 10), (1, 16, 10, 10), (1, 16, 5, 5),
    ]
    assert ours[-1].output_shape == (1, 10)
    assert sum(record.num_params for record in ours) == lenet_cnnlib().num_parameters() == 61706


def test_torch_records_are_real_output_shapes():
    """The hooks record what each layer really produced; the model is left in the mode it was in."""
    model = lenet_torch().train()
    records = viz.architecture_records(model, (3, 1, 28, 28))
    x = torch.zeros(3, 1, 28, 28)
    for record, layer in zip(records[1:], model, strict=True):
        x = layer(x)
        assert record.output_shape == tuple(x.shape)
    assert model.training
    assert not any(module._forward_hooks for module in model.modules())


def test_depth_groups_top_level_children_into_blocks():
    torch.manual_seed(0)
    model = torch_nn.Sequential()
    model.add_module("stage1", torch_nn.Sequential(torch_nn.Conv2d(3, 8, 3, padding=1), torch_nn.ReLU(),
                                                   torch_nn.Conv2d(8, 8, 3, padding=1), torch_nn.ReLU(),
                                                   torch_nn.MaxPool2d(2)))
    model.add_module("stage2", torch_nn.Sequential(torch_nn.Conv2d(8, 16, 3, padding=1), torch_nn.ReLU(),
                                                   torch_nn.MaxPool2d(2)))
    model.add_module("head", torch_nn.Sequential(torch_nn.Flatten(), torch_nn.Linear(16 * 4 * 4, 10)))
    records = viz.architecture_records(model, (1, 3, 16, 16), depth=1)
    assert [record.name for record in records] == ["input", "stage1", "stage2", "head"]
    assert [record.kind for record in records[1:]] == ["block"] * 3
    assert records[1].contains == ("conv", "relu", "conv", "relu", "pool")
    assert records[1].label == "stage1: 2 conv, 1 pool"
    assert [record.output_shape for record in records[1:]] == [(1, 8, 8, 8), (1, 16, 4, 4), (1, 10)]
    assert sum(record.num_params for record in records) == sum(p.numel() for p in model.parameters())
    leaves = viz.architecture_records(model, (1, 3, 16, 16))
    assert [record.name for record in leaves][1:3] == ["stage1.0", "stage1.1"]
    assert len(leaves) == 1 + 5 + 3 + 2
    # The cnnlib equivalent groups the same way.
    ours = nn.from_torch(model)
    ours_records = viz.architecture_records(ours, (1, 3, 16, 16), depth=1)
    assert [(r.kind, r.output_shape, r.num_params) for r in ours_records] == [
        (r.kind, r.output_shape, r.num_params) for r in records
    ]


def test_figure_has_one_labelled_block_per_layer():
    model = lenet_cnnlib()
    records = viz.architecture_records(model, INPUT_SHAPE)
    fig = viz.draw_architecture(model, INPUT_SHAPE, title="LeNet-like")
    try:
        texts = [text for ax in fig.axes for text in ax.texts]
        labels = {text.get_gid(): text.get_text() for text in texts if (text.get_gid() or "").startswith("block:")}
        assert labels == {f"block:{record.name}": record.label for record in records}
        strings = [text.get_text() for text in texts]
        for record in records:
            assert "\u00d7".join(map(str, record.output_shape[1:])) in strings
        assert "48,120 params" in strings and "LeNet-like" in strings
        assert min(text.get_fontsize() for text in texts) >= 8
        assert 8 <= fig.get_figwidth() <= 10
    finally:
        plt.close(fig)


def test_figure_from_records_and_bad_arguments():
    records = viz.architecture_records(lenet_torch(), INPUT_SHAPE)
    records[1].label = "C1: Conv 5x5, 6"
    fig = viz.draw_architecture(records)
    try:
        assert "C1: Conv 5x5, 6" in [text.get_text() for text in fig.axes[0].texts]
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="input_shape"):
        viz.draw_architecture(lenet_torch())
    with pytest.raises(ValueError, match="direction"):
        viz.draw_architecture(records, direction="sideways")
    with pytest.raises(ValueError, match="depth"):
        viz.architecture_records(lenet_torch(), INPUT_SHAPE, depth=0)
