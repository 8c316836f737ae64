"""cnnlib.profile: counts checked against hand computation, published FLOPs, and restored training modes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlib import models, profile


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small convolutions run far faster on one thread than on threads that wait for each other on a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small_cnn(inplace: bool = True) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, kernel_size=3, padding=1), nn.ReLU(inplace=inplace), nn.Flatten(), nn.Dropout(0.5),
        nn.Linear(4 * 8 * 8, 10),
    )


# ----------------------------------------------------------------------------------------------------------------------
# count_params
# ----------------------------------------------------------------------------------------------------------------------


def test_count_params_by_hand():
    assert profile.count_params(nn.Linear(3, 4)) == 3 * 4 + 4
    assert profile.count_params(nn.Conv2d(3, 8, kernel_size=5, bias=False)) == 8 * 3 * 5 * 5
    # Batch norm: a scale and a shift per channel; its running statistics are buffers, not parameters.
    assert profile.count_params(nn.BatchNorm2d(16)) == 32


def test_count_params_counts_a_shared_layer_once_and_can_skip_frozen_ones():
    shared = nn.Linear(5, 5)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(5, 2))
    assert profile.count_params(model) == 30 + 12
    model[3].requires_grad_(False)
    assert profile.count_params(model, trainable_only=True) == 30


# ----------------------------------------------------------------------------------------------------------------------
# count_flops
# ----------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conv", "shape"),
    [
        (nn.Conv2d(3, 8, kernel_size=3), (2, 3, 10, 12)),
        (nn.Conv2d(4, 6, kernel_size=(5, 3), stride=2, padding=1, bias=False), (1, 4, 17, 9)),
        (nn.Conv2d(2, 5, kernel_size=3, dilation=2, padding=2), (3, 2, 8, 8)),
    ],
)
def test_count_flops_of_a_convolution_is_two_per_multiply_add(conv, shape):
    n, c_in, h, w = shape
    kh, kw = conv.kernel_size
    # The output size formula: floor((size + 2 p - d (k - 1) - 1) / s) + 1.
    h_out, w_out = (
        (size + 2 * conv.padding[axis] - conv.dilation[axis] * (k - 1) - 1) // conv.stride[axis] + 1
        for axis, (size, k) in enumerate([(h, kh), (w, kw)])
    )
    assert conv(torch.zeros(shape)).shape == (n, conv.out_channels, h_out, w_out)
    assert profile.count_flops(conv, shape) == 2 * n * conv.out_channels * h_out * w_out * c_in * kh * kw


def test_count_flops_of_a_small_network_adds_its_layers():
    model = small_cnn()
    conv, linear = 2 * 2 * 4 * 8 * 8 * 1 * 3 * 3, 2 * 2 * 256 * 10  # batch of 2; ReLU, flatten, dropout are free
    assert profile.count_flops(model, (2, 1, 8, 8)) == conv + linear
    assert profile.count_flops(model, input=torch.randn(2, 1, 8, 8)) == conv + linear


def test_count_flops_restores_the_mode_and_tracks_no_gradients():
    model = small_cnn().train()
    seen = []
    model.register_forward_hook(lambda module, inputs, output: seen.append((module.training, output.requires_grad)))
    profile.count_flops(model, (1, 1, 8, 8))
    assert seen == [(False, False)] and model.training
    model.eval()
    profile.count_flops(model, (1, 1, 8, 8))
    assert not model.training


def test_count_flops_needs_exactly_one_input():
    with pytest.raises(ValueError, match="exactly one"):
        profile.count_flops(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="exactly one"):
        profile.count_flops(nn.Linear(2, 2), (1, 2), input=torch.zeros(1, 2))
    with pytest.raises(ValueError, match="positive ints"):
        profile.count_flops(nn.Linear(2, 2), (0, 2))


def test_count_flops_of_textcnn_on_token_ids():
    vocab, dim, widths, filters, classes, length = 30, 8, (2, 3), 5, 4, 11
    model = models.textcnn(vocab, embedding_dim=dim, num_classes=classes, kernel_sizes=widths, num_filters=filters)
    # The embedding is a look-up (no arithmetic); each Conv1d computes F outputs at L - k + 1 positions from k D inputs.
    expected = 2 * 3 * (sum(filters * (length - k + 1) * k * dim for k in widths) + filters * len(widths) * classes)
    assert profile.count_flops(model, (3, length), dtype=torch.long) == expected


# Published GFLOPS of torchvision's model documentation, which are multiply-adds (MACs) at 224x224: FLOPs / 2.
PUBLISHED_GMACS = {
    "alexnet": 0.714, "vgg11": 7.609, "vgg13": 11.31, "vgg16": 15.47, "vgg19": 19.63, "googlenet": 1.50,
    "resnet18": 1.81, "resnet34": 3.66, "resnet50": 4.089,
}


@pytest.mark.parametrize("name", PUBLISHED_GMACS)
def test_full_size_flops_match_the_published_ones(name):
    with torch.device("meta"):
        model = getattr(models, name)()
    flops = profile.count_flops(model, (1, 3, 224, 224))
    assert flops / 2 / 1e9 == pytest.approx(PUBLISHED_GMACS[name], rel=0.005)
    if name == "resnet50":
        assert 8.0e9 < flops < 8.4e9


def test_se_blocks_cost_almost_no_flops():
    # Hu et al. report 3.86 GFLOPs (multiply-adds) for ResNet-50 against 3.87 for SE-ResNet-50: both with the stride
    # on the first 1x1 convolution, as se_resnet50 is built.
    with torch.device("meta"):
        plain, squeezed = models.resnet50(stride_in_1x1=True), models.se_resnet50()
    plain_flops, se_flops = (profile.count_flops(m, (1, 3, 224, 224)) for m in (plain, squeezed))
    assert plain_flops / 2e9 == pytest.approx(3.86, abs=0.005)
    assert 0 < se_flops - plain_flops < 0.002 * plain_flops


# ----------------------------------------------------------------------------------------------------------------------
# activation_memory, summary, profile_table
# ----------------------------------------------------------------------------------------------------------------------


def test_activation_memory_by_hand():
    conv_output = 2 * 4 * 8 * 8 * 4  # batch 2, 4 channels of 8x8, 4 bytes a float32
    logits = 2 * 10 * 4
    # In-place ReLU, flatten (a view) and dropout in evaluation mode reuse the convolution's memory.
    assert profile.activation_memory(small_cnn(), (2, 1, 8, 8)) == conv_output + logits
    # A ReLU that is not in place makes a second tensor as large.
    assert profile.activation_memory(small_cnn(inplace=False), (2, 1, 8, 8)) == 2 * conv_output + logits
    assert profile.activation_memory(small_cnn().double(), (2, 1, 8, 8), dtype=torch.float64) == 2 * (
        conv_output + logits
    )


def test_activation_memory_is_the_same_on_the_meta_device():
    torch.manual_seed(0)
    model = models.resnet18(num_classes=10, in_channels=1, width=8, small_input=True)
    with torch.device("meta"):
        meta = models.resnet18(num_classes=10, in_channels=1, width=8, small_input=True)
    cpu_bytes = profile.activation_memory(model, (2, 1, 28, 28))
    assert cpu_bytes == profile.activation_memory(meta, (2, 1, 28, 28)) > 0
    # The stem alone: a convolution and a batch norm output of (2, 8, 28, 28) float32, the ReLU in place.
    assert profile.activation_memory(model.stem, (2, 1, 28, 28)) == 2 * (2 * 8 * 28 * 28 * 4)


def test_summary_wraps_torchinfo_and_keeps_the_model_as_it_was():
    model = models.lenet5(input_size=28).train()
    stats = profile.summary(model, (2, 1, 28, 28), depth=2)
    assert stats.total_params == profile.count_params(model) == 61_706
    assert model.training and next(model.parameters()).device.type == "cpu"
    assert "Output Shape" in str(stats) and "[2, 10]" in str(stats)
    tokens = profile.summary(models.textcnn(20, embedding_dim=4), (3, 7), dtype=torch.long)
    assert tokens.total_params == profile.count_params(models.textcnn(20, embedding_dim=4))


def test_profile_table_rows():
    lenet = models.lenet5(input_size=28)
    resnet = models.resnet18(num_classes=10, in_channels=1, width=8, small_input=True)
    rows = profile.profile_table({"lenet": lenet, "resnet": resnet}, (1, 1, 28, 28))
    assert [row.name for row in rows] == ["lenet", "resnet"]
    for row, model in zip(rows, [lenet, resnet], strict=True):
        assert row == (row.name, profile.count_params(model), profile.count_flops(model, (1, 1, 28, 28)),
                       profile.activation_memory(model, (1, 1, 28, 28)))
    # LeNet-5's multiply-adds by hand: C1 6 x 28 x 28 x 25, C3 16 x 10 x 10 x 150, C5 120 x 400, F6 120 x 84, 84 x 10.
    assert rows[0].flops == 2 * (6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 120 * 400 + 120 * 84 + 84 * 10)
    assert rows[0].params == 61_706
