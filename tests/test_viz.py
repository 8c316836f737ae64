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


# ----------------------------------------------------------------------------------------------------------------------
# The backward pass (chapter 8): the same blocks, gradients flowing from the loss back to the input
# ----------------------------------------------------------------------------------------------------------------------


def _arrows(fig) -> list[tuple[np.ndarray, np.ndarray, tuple]]:
    """(tail, head, colour) of every arrow in a diagram."""
    return [
        (np.array(text.xyann, dtype=float), np.array(text.xy, dtype=float), text.arrow_patch.get_edgecolor())
        for ax in fig.axes for text in ax.texts if getattr(text, "arrow_patch", None) is not None
    ]


def _strings(fig) -> list[str]:
    return [text.get_text() for ax in fig.axes for text in ax.texts]


def test_backward_arrows_run_from_the_loss_to_the_input():
    model = lenet_cnnlib()
    records = viz.architecture_records(model, INPUT_SHAPE)
    forward = viz.draw_architecture(model, INPUT_SHAPE)
    backward = viz.draw_architecture(model, INPUT_SHAPE, direction="backward")
    try:
        forward_arrows, backward_arrows = _arrows(forward), _arrows(backward)
        assert len(forward_arrows) == len(records) - 1
        assert len(backward_arrows) == len(records)  # one more: from the loss into the output
        assert all(head[0] > tail[0] for tail, head, _ in forward_arrows)   # left to right
        assert all(head[0] < tail[0] for tail, head, _ in backward_arrows)  # right to left, row wrap included
        gradient = matplotlib.colors.to_rgba(viz.PALETTE["gradient"])
        assert all(np.allclose(color, gradient) for _, _, color in backward_arrows)
        assert not any(np.allclose(color, gradient) for _, _, color in forward_arrows)
        # The same blocks at the same places as the forward figure, and the loss after the output.
        def positions(fig):
            return {text.get_gid(): text.get_position() for ax in fig.axes for text in ax.texts
                    if (text.get_gid() or "").startswith("block:")}
        forward_positions, backward_positions = positions(forward), positions(backward)
        assert set(backward_positions) == set(forward_positions) | {"block:loss"}
        # (The backward labels take a line more, so the rows lie further apart: the columns and rows are the same.)
        assert all(backward_positions[gid][0] == x for gid, (x, _) in forward_positions.items())
        def rows(places):
            return sorted(sorted(gid for gid in places if places[gid][1] == y) for y in {y for _, y in places.values()})
        assert rows(forward_positions) == rows({gid: backward_positions[gid] for gid in forward_positions})
        assert backward_positions["block:loss"][0] > backward_positions[f"block:{records[-1].name}"][0]
    finally:
        plt.close(forward)
        plt.close(backward)


@pytest.mark.parametrize("make_model", [lenet_cnnlib, lenet_torch])
def test_backward_labels_name_the_gradient_shapes(make_model):
    model = make_model()
    records = viz.architecture_records(model, INPUT_SHAPE)
    fig = viz.draw_architecture(model, INPUT_SHAPE, direction="backward")
    try:
        strings = _strings(fig)
        assert "\u2202L/\u2202x: 1\u00d728\u00d728" in strings  # the input's gradient has the input's shape
        for record in records[1:]:  # every layer's output gradient has the shape of its output
            assert "\u2202L/\u2202y: " + "\u00d7".join(map(str, record.output_shape[1:])) in strings
        for expected in ("\u2202L/\u2202W: 6\u00d71\u00d75\u00d75", "\u2202L/\u2202b: 6",
                         "\u2202L/\u2202W: 16\u00d76\u00d75\u00d75", "\u2202L/\u2202W: 120\u00d7400",
                         "\u2202L/\u2202b: 120", "\u2202L/\u2202W: 10\u00d784", "Loss", "\u2202L/\u2202L = 1"):
            assert expected in strings, expected
        assert sum(string.startswith("\u2202L/\u2202W") for string in strings) == 5  # two conv, three FC layers
        assert not any("params" in string for string in strings)
    finally:
        plt.close(fig)
    forward = viz.draw_architecture(model, INPUT_SHAPE)
    try:
        assert not any("\u2202" in string for string in _strings(forward))
    finally:
        plt.close(forward)


def test_backward_from_records_and_groups_counts_parameter_gradients():
    records = viz.architecture_records(lenet_torch(), INPUT_SHAPE)
    fig = viz.draw_architecture(records, direction="backward")
    try:
        strings = _strings(fig)
        assert "\u2202L/\u2202\u03b8: 156 values" in strings and "\u2202L/\u2202\u03b8: 48,120 values" in strings
    finally:
        plt.close(fig)
    model = torch_nn.Sequential()
    model.add_module("features", torch_nn.Sequential(*list(lenet_torch())[:6]))
    model.add_module("classifier", torch_nn.Sequential(*list(lenet_torch())[6:]))
    fig = viz.draw_architecture(model, INPUT_SHAPE, depth=1, direction="backward")
    try:
        strings = _strings(fig)
        assert f"\u2202L/\u2202\u03b8: {156 + 2416:,} values" in strings
        assert "\u2202L/\u2202y: 16\u00d75\u00d75" in strings and "\u2202L/\u2202y: 10" in strings
    finally:
        plt.close(fig)
