"""cnnlib.nn: every layer and whole networks against torch.nn with the same weights, shapes, initialization."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn as torch_nn

from cnnlib import nn

SETTINGS = settings(max_examples=30, deadline=None)


def to_torch(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))


def assert_close(ours: np.ndarray, theirs: torch.Tensor, tolerance: float = 1e-10) -> None:
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance)


def lenet_torch() -> torch_nn.Sequential:
    torch.manual_seed(0)
    return torch_nn.Sequential(
        torch_nn.Conv2d(1, 6, 5, padding=2), torch_nn.ReLU(), torch_nn.MaxPool2d(2),
        torch_nn.Conv2d(6, 16, 5), torch_nn.ReLU(), torch_nn.MaxPool2d(2),
        torch_nn.Flatten(),
        torch_nn.Linear(400, 120), torch_nn.ReLU(), torch_nn.Linear(120, 84), torch_nn.ReLU(), torch_nn.Linear(84, 10),
    )


def lenet_cnnlib(rng=0) -> nn.Sequential:
    rng = np.random.default_rng(rng)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120, rng=rng), nn.ReLU(), nn.Linear(120, 84, rng=rng), nn.ReLU(), nn.Linear(84, 10, rng=rng),
    )


# ----------------------------------------------------------------------------------------------------------------------
# Each layer against torch (float64, so the comparison is tight), and output_shape against the real output
# ----------------------------------------------------------------------------------------------------------------------


@st.composite
def conv_cases(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    span = [dilation[axis] * (kernel[axis] - 1) + 1 - 2 * padding[axis] for axis in range(2)]
    height = draw(st.integers(max(span[0], 1), 9))
    width = draw(st.integers(max(span[1], 1), 9))
    return {
        "batch": draw(st.integers(1, 3)), "in_channels": draw(st.integers(1, 4)),
        "out_channels": draw(st.integers(1, 5)), "size": (height, width), "kernel_size": kernel, "stride": stride,
        "padding": padding, "dilation": dilation, "bias": draw(st.booleans()), "seed": draw(st.integers(0, 2**16)),
    }


@SETTINGS
@given(conv_cases())
def test_conv2d_matches_torch(case):
    layer = nn.Conv2d(case["in_channels"], case["out_channels"], case["kernel_size"], stride=case["stride"],
                      padding=case["padding"], dilation=case["dilation"], bias=case["bias"], rng=case["seed"],
                      dtype=np.float64)
    if case["bias"]:
        layer.bias = np.random.default_rng(case["seed"]).standard_normal(case["out_channels"])
    reference = torch_nn.Conv2d(case["in_channels"], case["out_channels"], case["kernel_size"], stride=case["stride"],
                                padding=case["padding"], dilation=case["dilation"], bias=case["bias"]).double()
    with torch.no_grad():
        reference.weight.copy_(to_torch(layer.weight))
        if case["bias"]:
            reference.bias.copy_(to_torch(layer.bias))
    x = np.random.default_rng(case["seed"] + 1).standard_normal((case["batch"], case["in_channels"], *case["size"]))
    output = layer(x)
    assert_close(output, reference(to_torch(x)))
    assert layer.output_shape(x.shape) == output.shape
    assert layer.num_parameters() == sum(p.numel() for p in reference.parameters())


@SETTINGS
@given(
    batch=st.integers(1, 4), in_features=st.integers(1, 30), out_features=st.integers(1, 30), bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_linear_matches_torch(batch, in_features, out_features, bias, seed):
    layer = nn.Linear(in_features, out_features, bias=bias, rng=seed, dtype=np.float64)
    if bias:
        layer.bias = np.random.default_rng(seed).standard_normal(out_features)
    reference = torch_nn.Linear(in_features, out_features, bias=bias).double()
    with torch.no_grad():
        reference.weight.copy_(to_torch(layer.weight))
        if bias:
            reference.bias.copy_(to_torch(layer.bias))
    x = np.random.default_rng(seed + 1).standard_normal((batch, in_features))
    output = layer(x)
    assert_close(output, reference(to_torch(x)))
    assert layer.output_shape(x.shape) == output.shape
    assert layer.num_parameters() == sum(p.numel() for p in reference.parameters())


@st.composite
def pool_cases(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    height = draw(st.integers(max(kernel[0] - 2 * padding[0], 1), 10))
    width = draw(st.integers(max(kernel[1] - 2 * padding[1], 1), 10))
    return {"shape": (draw(st.integers(1, 3)), draw(st.integers(1, 4)), height, width), "kernel_size": kernel,
            "stride": stride, "padding": padding, "seed": draw(st.integers(0, 2**16))}


@SETTINGS
@given(pool_cases(), st.sampled_from(["max", "avg"]))
def test_pooling_matches_torch(case, kind):
    ours = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[kind]
    theirs = {"max": torch_nn.MaxPool2d, "avg": torch_nn.AvgPool2d}[kind]
    layer = ours(case["kernel_size"], stride=case["stride"], padding=case["padding"])
    reference = theirs(case["kernel_size"], stride=case["stride"], padding=case["padding"])
    x = np.random.default_rng(case["seed"]).standard_normal(case["shape"])
    output = layer(x)
    assert_close(output, reference(to_torch(x)))
    assert layer.output_shape(x.shape) == output.shape
    assert layer.parameters() == {}
    assert layer.num_parameters() == 0


def test_relu_and_flatten_match_torch():
    x = np.random.default_rng(0).standard_normal((3, 4, 5, 6))
    assert_close(nn.ReLU()(x), torch_nn.ReLU()(to_torch(x)))
    assert_close(nn.Flatten()(x), torch_nn.Flatten()(to_torch(x)))
    assert nn.ReLU().output_shape(x.shape) == x.shape
    assert nn.Flatten().output_shape(x.shape) == (3, 120)


# ----------------------------------------------------------------------------------------------------------------------
# Whole networks
# ----------------------------------------------------------------------------------------------------------------------


def test_sequential_matches_torch_with_state_dict_names():
    """Parameters are named as in torch's state_dict, so cnnlib's weights load straight into the torch model."""
    ours = lenet_cnnlib()
    for layer in ours:
        if getattr(layer, "bias", None) is not None:
            layer.bias = np.random.default_rng(1).standard_normal(layer.bias.shape).astype(np.float32)
    reference = lenet_torch()
    reference.load_state_dict({name: to_torch(value) for name, value in ours.parameters().items()})
    x = np.random.default_rng(2).random((5, 1, 28, 28), dtype=np.float32)
    assert_close(ours(x), reference(to_torch(x)), tolerance=1e-5)
    assert ours.num_parameters() == sum(p.numel() for p in reference.parameters()) == 61706


def test_from_torch_runs_the_same_network():
    reference = lenet_torch().eval()
    ours = from_torch_checked(reference)
    x = np.random.default_rng(3).random((4, 1, 28, 28), dtype=np.float32)
    assert_close(ours(x), reference(to_torch(x)), tolerance=1e-5)
    assert ours.training is False
    assert all(layer.training is False for layer in ours)


def from_torch_checked(reference):
    ours = nn.from_torch(reference)
    assert isinstance(ours, nn.Sequential)
    assert len(ours) == len(reference)
    assert [type(layer).__name__ for layer in ours] == [type(layer).__name__ for layer in reference]
    return ours


@SETTINGS
@given(conv_cases())
def test_from_torch_random_conv_network(case):
    torch.manual_seed(case["seed"])
    reference = torch_nn.Sequential(
        torch_nn.Conv2d(case["in_channels"], case["out_channels"], case["kernel_size"], stride=case["stride"],
                        padding=case["padding"], dilation=case["dilation"], bias=case["bias"]),
        torch_nn.ReLU(),
        torch_nn.Sequential(torch_nn.AvgPool2d(1), torch_nn.Flatten()),  # nested containers convert too
    ).double()
    ours = nn.from_torch(reference)
    x = np.random.default_rng(case["seed"]).standard_normal((case["batch"], case["in_channels"], *case["size"]))
    output = ours(x)
    assert_close(output, reference(to_torch(x)))
    assert ours.output_shape(x.shape) == output.shape
    assert set(ours.parameters()) == set(reference.state_dict())


def test_from_torch_copies_the_weights():
    reference = torch_nn.Sequential(torch_nn.Linear(3, 2))
    ours = nn.from_torch(reference)
    with torch.no_grad():
        reference[0].weight.add_(1.0)
    assert not np.allclose(ours[0].weight, reference[0].weight.detach().numpy())


def test_from_torch_resolves_same_padding():
    reference = torch_nn.Sequential(torch_nn.Conv2d(2, 3, 5, padding="same", dilation=2)).double()
    x = np.random.default_rng(0).standard_normal((1, 2, 12, 12))
    assert_close(nn.from_torch(reference)(x), reference(to_torch(x)))


@pytest.mark.parametrize(
    ("layer", "named"),
    [
        (torch_nn.Sigmoid(), "Sigmoid"),
        (torch_nn.BatchNorm2d(4, affine=False), "affine=False"),
        (torch_nn.Conv2d(4, 4, 3, groups=2), "groups"),
        (torch_nn.MaxPool2d(2, ceil_mode=True), "ceil_mode"),
        (torch_nn.AvgPool2d(2, padding=1, count_include_pad=False), "count_include_pad"),
        (torch_nn.Flatten(start_dim=2), "Flatten"),
    ],
)
def test_from_torch_names_an_unsupported_layer(layer, named):
    model = torch_nn.Sequential(torch_nn.Conv2d(4, 4, 3), layer)
    with pytest.raises(ValueError, match=named):
        nn.from_torch(model)


def test_sequential_container_behaviour():
    model = lenet_cnnlib()
    assert len(model) == 12
    assert isinstance(model[0], nn.Conv2d) and isinstance(model[-1], nn.Linear)
    assert list(model)[3] is model[3]
    head = model[6:]
    assert isinstance(head, nn.Sequential) and len(head) == 6 and head[0] is model[6]
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    activations = model.forward_with_activations(x)
    assert len(activations) == len(model)
    np.testing.assert_array_equal(activations[-1], model(x))
    assert [a.shape for a in activations] == model.output_shapes(x.shape)
    assert model.output_shape(x.shape) == (2, 10)
    model.eval()
    assert not model.training and not any(layer.training for layer in model)
    model.train()
    assert model.training and all(layer.training for layer in model)


def test_parameters_are_the_arrays_themselves():
    """An optimizer updates parameters in place through parameters(); grads has a slot per parameter name."""
    model = lenet_cnnlib()
    model.parameters()["0.weight"][...] = 0.0
    assert not model[0].weight.any()
    assert set(model[0].parameters()) == {"weight", "bias"}
    assert model[0].grads == {}


def test_repr_reads_like_torch():
    ours = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.Conv2d(6, 8, 3, stride=2, dilation=2, bias=False),
                         nn.Flatten(), nn.Linear(8, 10))
    theirs = torch_nn.Sequential(torch_nn.Conv2d(1, 6, 5, padding=2), torch_nn.ReLU(),
                                 torch_nn.Conv2d(6, 8, 3, stride=2, dilation=2, bias=False), torch_nn.Flatten(),
                                 torch_nn.Linear(8, 10))
    for index in (0, 1, 2, 4):
        assert repr(ours[index]) == repr(theirs[index])
    assert repr(ours).startswith("Sequential(\n  (0): Conv2d(1, 6, kernel_size=(5, 5)")
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0)"


# ----------------------------------------------------------------------------------------------------------------------
# Initialization and determinism
# ----------------------------------------------------------------------------------------------------------------------


def test_he_initialization_statistics():
    linear = nn.Linear(2000, 1000, rng=0)
    assert linear.weight.dtype == np.float32 and linear.bias.dtype == np.float32
    assert linear.weight.std() == pytest.approx(math.sqrt(2 / 2000), rel=0.02)
    assert abs(linear.weight.mean()) < 0.01 * math.sqrt(2 / 2000)
    assert not linear.bias.any()
    conv = nn.Conv2d(64, 128, 3, rng=1)  # fan_in = 64 * 3 * 3 = 576, 73,728 weights
    assert conv.weight.std() == pytest.approx(math.sqrt(2 / 576), rel=0.03)


def test_glorot_initialization_statistics():
    linear = nn.Linear(300, 200, init="glorot", rng=0)
    limit = math.sqrt(6 / (300 + 200))
    assert np.abs(linear.weight).max() <= limit
    assert np.abs(linear.weight).max() > 0.99 * limit  # the whole interval is used
    assert linear.weight.var() == pytest.approx(limit**2 / 3, rel=0.03)  # variance of U(-a, a) is a^2 / 3
    conv = nn.Conv2d(16, 32, 5, init="glorot", rng=0)
    conv_limit = math.sqrt(6 / (16 * 25 + 32 * 25))
    assert np.abs(conv.weight).max() <= conv_limit
    assert np.abs(conv.weight).max() > 0.99 * conv_limit


def test_seeded_initialization_is_deterministic():
    np.testing.assert_array_equal(nn.Conv2d(3, 4, 3, rng=7).weight, nn.Conv2d(3, 4, 3, rng=7).weight)
    assert not np.array_equal(nn.Conv2d(3, 4, 3, rng=7).weight, nn.Conv2d(3, 4, 3, rng=8).weight)
    first, second = lenet_cnnlib(rng=5), lenet_cnnlib(rng=5)
    for name, value in first.parameters().items():
        np.testing.assert_array_equal(value, second.parameters()[name])
    # Without an rng, NumPy's global generator (seeded by cnnlib.seed_everything) decides; two layers still differ.
    np.random.seed(0)  # noqa: NPY002
    a, b = nn.Linear(5, 5), nn.Linear(5, 5)
    np.random.seed(0)  # noqa: NPY002
    np.testing.assert_array_equal(nn.Linear(5, 5).weight, a.weight)
    assert not np.array_equal(a.weight, b.weight)


# ----------------------------------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------------------------------


def test_bad_input_raises_value_error_naming_shapes():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\).*\(2, 1, 8, 8\)"):
        conv(np.zeros((2, 1, 8, 8), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\).*\(3, 8, 8\)"):
        conv(np.zeros((3, 8, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="does not fit"):
        conv.output_shape((1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"\(N, 10\).*\(4, 12\)"):
        nn.Linear(10, 2)(np.zeros((4, 12)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        nn.MaxPool2d(2)(np.zeros((4, 12)))
    with pytest.raises(ValueError, match="does not fit"):
        nn.AvgPool2d(5).output_shape((1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"Linear.*\(N, 400\).*\(1, 1176\)"):
        nn.Sequential(nn.Conv2d(1, 6, 5), nn.Flatten(), nn.Linear(400, 10)).output_shape((1, 1, 18, 18))
    with pytest.raises(ValueError, match=r"weight must have shape \(2, 10\)"):
        nn.Linear(10, 2).weight = np.zeros((10, 2))


@pytest.mark.parametrize(
    "build",
    [
        lambda: nn.Conv2d(0, 4, 3),
        lambda: nn.Conv2d(1, 4, 0),
        lambda: nn.Conv2d(1, 4, 3, stride=0),
        lambda: nn.Conv2d(1, 4, 3, padding=-1),
        lambda: nn.Conv2d(1, 4, (3, 3, 3)),
        lambda: nn.Conv2d(1, 4, 3, init="uniform"),
        lambda: nn.Linear(3, 0),
        lambda: nn.MaxPool2d(2, padding=2),
        lambda: nn.AvgPool2d(0),
        lambda: nn.Linear(3, 2, rng="seed"),
    ],
)
def test_bad_arguments_raise_value_error(build):
    with pytest.raises(ValueError):
        build()


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: nn.Conv2d(3.5, 4, 3), r"Conv2d: in_channels must be a positive int, got 3.5 of type float"),
        (lambda: nn.Conv2d(3, 4.0, 3), "out_channels must be a positive int, got 4.0"),
        (lambda: nn.Conv2d(True, 4, 3), "in_channels must be a positive int, got True of type bool"),
        (lambda: nn.Conv2d("3", 4, 3), "in_channels must be a positive int, got '3'"),
        (lambda: nn.Linear(3.5, 2), "Linear: in_features must be a positive int, got 3.5"),
        (lambda: nn.Linear(3, np.float64(2.0)), "out_features must be a positive int"),
        (lambda: nn.Linear(3, False), "out_features must be a positive int, got False"),
        (lambda: nn.BatchNorm2d(2.5), "BatchNorm2d: num_features must be a positive int, got 2.5"),
        (lambda: nn.he_normal((2, 2), 2.0), "fan_in must be a positive int"),
    ],
)
def test_non_integer_sizes_raise_type_error_instead_of_being_truncated(build, message):
    with pytest.raises(TypeError, match=message):
        build()


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: nn.Conv2d(1, 4, 3.5), "kernel_size must be an int or an (h, w) pair of ints; got 3.5"),
        (lambda: nn.Conv2d(1, 4, (3, 2.0)), "kernel_size must be an int"),
        (lambda: nn.Conv2d(1, 4, True), "kernel_size must be an int"),
        (lambda: nn.MaxPool2d(2.0), "kernel_size must be an int"),
        (lambda: nn.AvgPool2d(2, stride=1.5), "stride must be an int"),
        (lambda: nn.BatchNorm2d(0), "num_features must be a positive int, got 0"),
        (lambda: nn.he_normal((2, 2), 0), "fan_in must be a positive int, got 0"),  # was a ZeroDivisionError
        (lambda: nn.glorot_uniform((2, 2), 0, 0), "fan_in must be a positive int, got 0"),  # likewise
    ],
)
def test_bad_kernel_sizes_and_counts_raise_value_error_naming_them(build, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


def test_numpy_integer_sizes_are_accepted():
    layer = nn.Conv2d(np.int64(2), np.int32(3), np.int64(3), rng=0)
    assert (layer.in_channels, layer.out_channels, layer.kernel_size) == (2, 3, (3, 3))
    assert type(layer.in_channels) is int
    assert nn.Linear(np.int64(4), 2, rng=0).weight.shape == (2, 4)


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="layer 1"):
        nn.Sequential(nn.ReLU(), torch_nn.ReLU())
