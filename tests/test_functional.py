"""cnnlib.functional against its oracles: torch.nn.functional for layers, scipy.signal for 2-D convolution.

Shapes, strides, paddings and dilations are drawn by hypothesis; the data come from a seeded generator.
float64 results must agree to near machine precision, float32 results to about 1e-4 of the output's scale.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as torch_functional
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlib import functional as F

FLOAT_DTYPES = [np.float32, np.float64]
MANY = settings(max_examples=250, deadline=None)
FEW = settings(max_examples=60, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def random_array(seed: int, shape, dtype=np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def to_torch(array: np.ndarray | None) -> torch.Tensor | None:
    return None if array is None else torch.from_numpy(np.ascontiguousarray(array))


def assert_matches(actual: np.ndarray, expected, dtype) -> None:
    """Same shape and dtype, and values within the dtype's tolerance relative to the scale of `expected`."""
    expected = expected.numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert actual.shape == expected.shape
    assert actual.dtype == np.dtype(dtype)
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    rtol, atol = (1e-4, 1e-5 * scale) if dtype == np.float32 else (1e-10, 1e-12 * scale)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def as_parameter(pair: tuple[int, int], as_int: bool):
    """An (h, w) pair, or the plain int when both are equal and `as_int` (both forms are accepted)."""
    return pair[0] if as_int and pair[0] == pair[1] else pair


# ------------------------------------------------------------------------------------------------------------
# conv2d, conv2d_loops and im2col against torch
# ------------------------------------------------------------------------------------------------------------


@st.composite
def conv_cases(draw, max_batch=3, max_channels=4, max_kernel=4, max_extra=6):
    """Shapes and settings of a valid convolution: the dilated kernel always fits the padded input."""
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    extent = [dilation[axis] * (kernel[axis] - 1) + 1 for axis in range(2)]
    height, width = (
        draw(st.integers(max(1, extent[axis] - 2 * padding[axis]), extent[axis] + max_extra))
        for axis in range(2)
    )
    channels_in, channels_out = draw(st.integers(1, max_channels)), draw(st.integers(1, max_channels))
    as_int = draw(st.booleans())
    return {
        "x_shape": (draw(st.integers(1, max_batch)), channels_in, height, width),
        "weight_shape": (channels_out, channels_in, *kernel),
        "with_bias": draw(st.booleans()),
        "stride": as_parameter(stride, as_int),
        "padding": as_parameter(padding, as_int),
        "dilation": as_parameter(dilation, as_int),
    }


def conv_inputs(case: dict, seed: int, dtype):
    x = random_array(seed, case["x_shape"], dtype)
    weight = random_array(seed + 1, case["weight_shape"], dtype)
    bias = random_array(seed + 2, case["weight_shape"][0], dtype) if case["with_bias"] else None
    settings_ = {name: case[name] for name in ("stride", "padding", "dilation")}
    return x, weight, bias, settings_


def torch_conv2d(x, weight, bias, **settings_) -> torch.Tensor:
    return torch_functional.conv2d(to_torch(x), to_torch(weight), to_torch(bias), **settings_)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@MANY
@given(case=conv_cases(), seed=seeds)
def test_conv2d_matches_torch(dtype, case, seed):
    x, weight, bias, settings_ = conv_inputs(case, seed, dtype)
    assert_matches(F.conv2d(x, weight, bias, **settings_), torch_conv2d(x, weight, bias, **settings_), dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@FEW
@given(case=conv_cases(max_batch=2, max_channels=3, max_kernel=3, max_extra=4), seed=seeds)
def test_conv2d_loops_matches_torch(dtype, case, seed):
    x, weight, bias, settings_ = conv_inputs(case, seed, dtype)
    assert_matches(
        F.conv2d_loops(x, weight, bias, **settings_), torch_conv2d(x, weight, bias, **settings_), dtype
    )


@MANY
@given(case=conv_cases(), seed=seeds)
def test_im2col_matches_torch_unfold(case, seed):
    x, _, _, settings_ = conv_inputs(case, seed, np.float64)
    kernel_size = case["weight_shape"][2:]
    expected = torch_functional.unfold(to_torch(x), kernel_size, **settings_)  # (N, C*kh*kw, L), same order
    np.testing.assert_array_equal(F.im2col(x, kernel_size, **settings_), expected.numpy())


def test_im2col_copies_except_for_a_1x1_kernel():
    x = random_array(0, (2, 3, 4, 5))
    columns = F.im2col(x, 2, padding=1)
    assert columns.shape == (2, 3 * 2 * 2, 5 * 6) and not np.shares_memory(columns, x)
    one_by_one = F.im2col(x, 1)  # x already is the matrix: a view, through which x cannot be changed
    np.testing.assert_array_equal(one_by_one, x.reshape(2, 3, 20))
    assert not one_by_one.flags.writeable


def test_conv2d_on_numbers_small_enough_to_check_by_eye():
    # The 3x3 example of Dive into Deep Learning: 0*0 + 1*1 + 3*2 + 4*3 = 19, and so on.
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    weight = np.arange(4.0).reshape(1, 1, 2, 2)
    expected = np.array([[[[19.0, 25.0], [37.0, 43.0]]]])
    np.testing.assert_array_equal(F.conv2d(x, weight), expected)
    np.testing.assert_array_equal(F.conv2d_loops(x, weight), expected)
    np.testing.assert_array_equal(F.conv2d(x, weight, bias=np.array([-19.0])), expected - 19.0)


@pytest.mark.parametrize("batch", [1, 4, 7])
def test_conv2d_splits_a_batch_into_chunks_correctly(monkeypatch, batch):
    x = random_array(0, (batch, 3, 10, 9))
    weight, bias = random_array(1, (5, 3, 3, 3)), random_array(2, 5)
    expected = torch_conv2d(x, weight, bias, padding=1)
    one_image_bytes = 3 * 3 * 3 * 10 * 9 * x.itemsize
    for images_per_chunk in (1, 2, 3):  # 7 images in chunks of 3 leave a last chunk of 1
        monkeypatch.setattr(F, "_IM2COL_CHUNK_BYTES", images_per_chunk * one_image_bytes)
        assert_matches(F.conv2d(x, weight, bias, padding=1), expected, np.float64)


def test_conv2d_accepts_non_contiguous_input():
    base = random_array(0, (9, 8, 4, 2))
    x = base.transpose(3, 2, 1, 0)[:, :, ::2, 1:]  # (2, 4, 4, 8), no unit stride anywhere
    weight = random_array(1, (16, 8, 4, 2)).transpose(0, 2, 3, 1)[:, :, 1:, :3]  # (16, 4, 3, 3)
    assert not x.flags.c_contiguous and not weight.flags.c_contiguous
    expected = torch_conv2d(x, weight, None, padding=(1, 2))
    assert_matches(F.conv2d(x, weight, padding=(1, 2)), expected, np.float64)
    assert_matches(F.conv2d_loops(x, weight, padding=(1, 2)), expected, np.float64)


def test_conv2d_dtypes():
    x32, weight32 = random_array(0, (2, 3, 6, 6), np.float32), random_array(1, (4, 3, 3, 3), np.float32)
    # Weights and bias follow the input's dtype.
    assert F.conv2d(x32, weight32.astype(np.float64), np.zeros(4)).dtype == np.float32
    assert F.conv2d(x32.astype(np.float64), weight32).dtype == np.float64
    # Integer input is computed in float64.
    x_int = np.arange(2 * 3 * 6 * 6).reshape(2, 3, 6, 6) % 7
    weight_int = np.arange(4 * 3 * 3 * 3).reshape(4, 3, 3, 3) % 5 - 2
    for conv in (F.conv2d, F.conv2d_loops):
        out = conv(x_int, weight_int)
        assert out.dtype == np.float64
        expected = torch_conv2d(x_int.astype(np.float64), weight_int.astype(np.float64), None)
        np.testing.assert_array_equal(out, expected.numpy())  # small integers: exact in float64


def test_conv_output_size_matches_real_output_shapes():
    checked = 0
    grid = itertools.product(range(1, 10), range(1, 5), range(1, 4), range(3), range(1, 4))
    for size, kernel_size, stride, padding, dilation in grid:
        settings_ = {"stride": stride, "padding": padding, "dilation": dilation}
        if dilation * (kernel_size - 1) + 1 > size + 2 * padding:
            with pytest.raises(ValueError, match="is longer than the padded input"):
                F.conv_output_size(size, kernel_size, **settings_)
            continue
        x, weight = np.zeros((1, 1, size, size + 1)), np.zeros((1, 1, kernel_size, kernel_size))
        expected = (
            F.conv_output_size(size, kernel_size, **settings_),
            F.conv_output_size(size + 1, kernel_size, **settings_),
        )
        assert tuple(torch_conv2d(x, weight, None, **settings_).shape[2:]) == expected
        assert F.conv2d(x, weight, **settings_).shape[2:] == expected
        checked += 1
    assert checked > 500


def test_conv_output_size_examples():
    assert F.conv_output_size(28, 5) == 24  # LeNet's first layer
    assert F.conv_output_size(224, 7, stride=2, padding=3) == 112  # ResNet's stem
    assert F.conv_output_size(224, 11, stride=4, padding=2) == 55  # AlexNet's first layer
    assert F.conv_output_size(7, 3, dilation=2) == 3


# ------------------------------------------------------------------------------------------------------------
# convolve2d and correlate2d against scipy.signal
# ------------------------------------------------------------------------------------------------------------


@st.composite
def image_kernel_cases(draw):
    mode = draw(st.sampled_from(["full", "valid", "same"]))
    image_shape = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    if mode == "valid":  # the kernel must fit; odd and even sizes alike
        kernel_shape = (draw(st.integers(1, image_shape[0])), draw(st.integers(1, image_shape[1])))
    else:  # any size, larger than the image included
        kernel_shape = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    return image_shape, kernel_shape, mode


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@MANY
@given(case=image_kernel_cases(), seed=seeds)
def test_convolve2d_and_correlate2d_match_scipy(dtype, case, seed):
    image_shape, kernel_shape, mode = case
    image, kernel = random_array(seed, image_shape, dtype), random_array(seed + 1, kernel_shape, dtype)
    assert_matches(F.convolve2d(image, kernel, mode), scipy.signal.convolve2d(image, kernel, mode), dtype)
    assert_matches(F.correlate2d(image, kernel, mode), scipy.signal.correlate2d(image, kernel, mode), dtype)


@pytest.mark.parametrize("kernel_shape", [(2, 2), (3, 3), (2, 3), (4, 1), (1, 4)])
def test_same_mode_centres_even_kernels_as_scipy(kernel_shape):
    image = np.arange(35.0).reshape(5, 7) ** 2
    kernel = np.arange(1.0, 1.0 + np.prod(kernel_shape)).reshape(kernel_shape)
    for ours, theirs in [(F.convolve2d, scipy.signal.convolve2d), (F.correlate2d, scipy.signal.correlate2d)]:
        np.testing.assert_allclose(ours(image, kernel, "same"), theirs(image, kernel, "same"), rtol=1e-12)


def test_convolution_flips_the_kernel_and_correlation_does_not():
    image = np.arange(9.0).reshape(3, 3)
    kernel = np.arange(4.0).reshape(2, 2)
    np.testing.assert_array_equal(F.correlate2d(image, kernel, "valid"), [[19.0, 25.0], [37.0, 43.0]])
    # Convolution uses kernel[::-1, ::-1] = [[3, 2], [1, 0]]: 0*3 + 1*2 + 3*1 + 4*0 = 5, and so on.
    np.testing.assert_array_equal(F.convolve2d(image, kernel, "valid"), [[5.0, 11.0], [23.0, 29.0]])
    # An impulse reproduces the kernel under convolution, and the flipped kernel under correlation.
    impulse = np.zeros((3, 3))
    impulse[1, 1] = 1.0
    np.testing.assert_array_equal(F.convolve2d(impulse, kernel, "full")[1:3, 1:3], kernel)
    np.testing.assert_array_equal(F.correlate2d(impulse, kernel, "full")[1:3, 1:3], kernel[::-1, ::-1])


def test_convolve2d_integer_input_becomes_float64():
    out = F.convolve2d(np.arange(12).reshape(3, 4), np.ones((2, 2), dtype=int))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, scipy.signal.convolve2d(np.arange(12).reshape(3, 4), np.ones((2, 2))))


# ------------------------------------------------------------------------------------------------------------
# Pooling, ReLU, linear, softmax against torch
# ------------------------------------------------------------------------------------------------------------


@st.composite
def pool_cases(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = None if draw(st.booleans()) else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    height, width = (draw(st.integers(max(1, kernel[axis] - 2 * padding[axis]), 10)) for axis in range(2))
    as_int = draw(st.booleans())
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), height, width)
    stride = None if stride is None else as_parameter(stride, as_int)
    return shape, as_parameter(kernel, as_int), stride, as_parameter(padding, as_int)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@MANY
@given(case=pool_cases(), seed=seeds)
def test_pooling_matches_torch(dtype, pool, case, seed):
    shape, kernel_size, stride, padding = case
    x = random_array(seed, shape, dtype)
    expected = getattr(torch_functional, pool)(to_torch(x), kernel_size, stride, padding)
    assert_matches(getattr(F, pool)(x, kernel_size, stride, padding), expected, dtype)


def test_max_pool2d_padding_never_wins():
    x = -np.ones((1, 1, 2, 2))  # every value below the zero that padding with zeros would bring
    np.testing.assert_array_equal(F.max_pool2d(x, 2, stride=1, padding=1), -np.ones((1, 1, 3, 3)))
    # Average pooling counts the padded zeros, as torch's default count_include_pad=True does.
    np.testing.assert_array_equal(F.avg_pool2d(x, 2, stride=1, padding=1)[0, 0, 0], [-0.25, -0.5, -0.25])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@FEW
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), seed=seeds)
def test_relu_matches_torch(dtype, shape, seed):
    x = random_array(seed, shape, dtype)
    x.flat[0] = 0.0
    assert_matches(F.relu(x), torch.relu(to_torch(x)), dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@MANY
@given(
    batch=st.integers(1, 6),
    in_features=st.integers(1, 20),
    out_features=st.integers(1, 20),
    with_bias=st.booleans(),
    seed=seeds,
)
def test_linear_matches_torch(dtype, batch, in_features, out_features, with_bias, seed):
    x = random_array(seed, (batch, in_features), dtype)
    weight = random_array(seed + 1, (out_features, in_features), dtype)
    bias = random_array(seed + 2, out_features, dtype) if with_bias else None
    expected = torch_functional.linear(to_torch(x), to_torch(weight), to_torch(bias))
    assert_matches(F.linear(x, weight, bias), expected, dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@MANY
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    scale=st.sampled_from([1.0, 30.0, 1e4]),
    seed=seeds,
)
def test_softmax_and_log_softmax_match_torch(dtype, shape, scale, seed):
    logits = random_array(seed, shape, np.float64) * scale
    logits = logits.astype(dtype)
    probabilities, log_probabilities = F.softmax(logits), F.log_softmax(logits)
    assert np.all(np.isfinite(probabilities)) and np.all(np.isfinite(log_probabilities))
    assert_matches(probabilities, torch.softmax(to_torch(logits), dim=-1), dtype)
    assert_matches(log_probabilities, torch.log_softmax(to_torch(logits), dim=-1), dtype)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_softmax_is_stable_where_the_naive_formula_overflows():
    logits = np.array([[1e4, -1e4, 0.0], [1000.0, 1001.0, 1002.0], [-1e4, -1e4 + 1.0, -1e4 + 2.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    assert not np.all(np.isfinite(naive))  # the problem the shift solves
    expected_middle = np.exp([-2.0, -1.0, 0.0]) / np.exp([-2.0, -1.0, 0.0]).sum()
    np.testing.assert_allclose(F.softmax(logits)[1], expected_middle, rtol=1e-12)
    np.testing.assert_allclose(F.softmax(logits)[2], expected_middle, rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(logits)[0], [0.0, -2e4, -1e4], rtol=1e-12)
    np.testing.assert_allclose(
        F.log_softmax(logits), torch.log_softmax(torch.from_numpy(logits), dim=-1).numpy(), rtol=1e-12
    )


# ------------------------------------------------------------------------------------------------------------
# Bad input: ValueError naming what came
# ------------------------------------------------------------------------------------------------------------

X = np.zeros((2, 3, 8, 8))
WEIGHT = np.zeros((4, 3, 3, 3))
CONVOLUTIONS = [F.conv2d, F.conv2d_loops]


@pytest.mark.parametrize("conv", CONVOLUTIONS)
@pytest.mark.parametrize(
    ("x", "weight", "kwargs", "message"),
    [
        (np.zeros((3, 8, 8)), WEIGHT, {}, "(3, 8, 8)"),  # a single image without its batch axis
        (X, np.zeros((3, 3, 3)), {}, "(3, 3, 3)"),
        (X, np.zeros((4, 2, 3, 3)), {}, "(4, 2, 3, 3)"),  # C_in 2, x has 3 channels
        (X, np.zeros((4, 1, 3, 3)), {}, "(2, 3, 8, 8)"),
        (X, np.zeros((4, 3, 9, 3)), {}, "(9, 3)"),  # kernel taller than the image
        (X, np.zeros((4, 3, 9, 3)), {}, "(8, 8)"),
        (X, np.zeros((4, 3, 5, 5)), {"dilation": 2}, "(9, 9)"),  # dilated: 2 * (5 - 1) + 1 = 9 > 8
        (
            X,
            np.zeros((4, 3, 5, 5)),
            {"dilation": (1, 3), "padding": (0, 1)},
            "(5, 13) (dilation included) is larger than the padded input (8, 10)",
        ),
        (X, WEIGHT, {"bias": np.zeros(3)}, "(3,)"),
        (X, WEIGHT, {"bias": np.zeros(1)}, "(1,)"),  # no broadcasting of a single bias
        (X, WEIGHT, {"bias": np.zeros((4, 1))}, "(4, 1)"),
        (X, WEIGHT, {"stride": 0}, "stride must be positive; got 0"),
        (X, WEIGHT, {"stride": (1, -2)}, "stride must be positive; got (1, -2)"),
        (X, WEIGHT, {"dilation": 0}, "dilation must be positive; got 0"),
        (X, WEIGHT, {"padding": -1}, "padding must be non-negative; got -1"),
        (X, WEIGHT, {"stride": 1.5}, "stride must be an int or an (h, w) pair of ints; got 1.5"),
        (X, WEIGHT, {"padding": (1, 1, 1)}, "got (1, 1, 1)"),
        (X, WEIGHT, {"dilation": True}, "got True"),
        (X.astype(complex), WEIGHT, {}, "complex128"),
        # No input channel: a ZeroDivisionError once (conv2d sizes its chunks by the bytes of one image's columns).
        (np.zeros((2, 0, 8, 8)), np.zeros((4, 0, 3, 3)), {}, "at least one input channel (C_in >= 1)"),
    ],
)
def test_conv2d_rejects_bad_input(conv, x, weight, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        conv(x, weight, **kwargs)


@pytest.mark.parametrize(
    ("x", "kwargs", "message"),
    [
        (np.zeros((3, 8, 8)), {"kernel_size": 3}, "(3, 8, 8)"),
        (X, {"kernel_size": 9}, "(9, 9)"),
        (X, {"kernel_size": 3, "stride": 0}, "stride must be positive; got 0"),
        (X, {"kernel_size": (3, 0)}, "kernel_size must be positive; got (3, 0)"),
    ],
)
def test_im2col_rejects_bad_input(x, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        F.im2col(x, **kwargs)


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
@pytest.mark.parametrize(
    ("x", "kwargs", "message"),
    [
        (np.zeros((8, 8)), {"kernel_size": 2}, "(8, 8)"),
        (X, {"kernel_size": 9}, "(9, 9)"),
        (
            X,
            {"kernel_size": (2, 11), "padding": 1},
            "window (2, 11) (dilation included) is larger than the padded input (10, 10)",
        ),
        (X, {"kernel_size": 3, "padding": 2}, "got padding (2, 2), kernel_size (3, 3)"),
        (X, {"kernel_size": 2, "stride": 0}, "stride must be positive; got 0"),
        (X, {"kernel_size": 0}, "kernel_size must be positive; got 0"),
    ],
)
def test_pooling_rejects_bad_input(pool, x, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        pool(x, **kwargs)


@pytest.mark.parametrize(
    ("x", "weight", "bias", "message"),
    [
        (np.zeros(5), np.zeros((3, 5)), None, "(5,)"),  # one sample without its batch axis
        (np.zeros((2, 5)), np.zeros(5), None, "(5,)"),
        (np.zeros((2, 5)), np.zeros((3, 4)), None, "x shape (2, 5), weight shape (3, 4)"),
        (np.zeros((2, 5)), np.zeros((3, 5)), np.zeros(1), "bias must have shape (3,); got shape (1,)"),
        (np.zeros((2, 5)), np.zeros((3, 5)), np.zeros((1, 3)), "(1, 3)"),
    ],
)
def test_linear_rejects_bad_input(x, weight, bias, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        F.linear(x, weight, bias)


@pytest.mark.parametrize("function", [F.convolve2d, F.correlate2d])
@pytest.mark.parametrize(
    ("image", "kernel", "mode", "message"),
    [
        (np.zeros(5), np.zeros((2, 2)), "full", "(5,)"),
        (np.zeros((1, 5, 5)), np.zeros((2, 2)), "full", "(1, 5, 5)"),
        (np.zeros((5, 5)), np.zeros((2, 2, 1)), "full", "(2, 2, 1)"),
        (np.zeros((5, 5)), np.zeros((2, 2)), "circular", "'circular'"),
        (np.zeros((5, 5)), np.zeros((6, 2)), "valid", "kernel shape (6, 2) and image shape (5, 5)"),
        (np.zeros((5, 5)), np.zeros((2, 6)), "valid", "kernel shape (2, 6) and image shape (5, 5)"),
        (np.zeros((5, 0)), np.zeros((2, 2)), "same", "(5, 0)"),
    ],
)
def test_convolve2d_and_correlate2d_reject_bad_input(function, image, kernel, mode, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        function(image, kernel, mode)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((0, 3), "size must be an int >= 1; got 0"),
        ((5, 3, 0), "stride must be an int >= 1; got 0"),
        ((5, 3, 1, -1), "padding must be an int >= 0; got -1"),
        ((5, 3, 1, 0, 0), "dilation must be an int >= 1; got 0"),
        ((5, 2.0), "kernel_size must be an int >= 1; got 2.0"),
        ((5, 3, 1, 0, 3), "window 7 (dilation included) is longer than the padded input 5"),
    ],
)
def test_conv_output_size_rejects_bad_input(arguments, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        F.conv_output_size(*arguments)


@pytest.mark.parametrize("function", [F.softmax, F.log_softmax])
def test_softmax_rejects_a_scalar(function):
    with pytest.raises(ValueError, match=re.escape("got shape ()")):
        function(np.float64(3.0))
