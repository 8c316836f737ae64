"""The backward operations of cnnlib.functional against torch.autograd, and by centred finite differences.

Shapes, strides, paddings and dilations are drawn by hypothesis (the same strategies as the forward tests). Each
backward function gets a random upstream gradient grad_y and must return the vector-Jacobian products torch
computes for ``y.backward(grad_y)``; a few cases are also checked in float64 by finite differences with
cnnlib.gradcheck, which needs no oracle at all.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_functional
from hypothesis import given, settings
from hypothesis import strategies as st
from test_functional import (
    FLOAT_DTYPES,
    MANY,
    assert_matches,
    conv_cases,
    conv_inputs,
    pool_cases,
    random_array,
    seeds,
    to_torch,
)

from cnnlib import functional as F
from cnnlib.gradcheck import numerical_gradient, relative_error

FEW = settings(max_examples=25, deadline=None)


def torch_gradients(function, inputs: list[np.ndarray | None], grad_y_seed: int):
    """Output of ``function`` on the inputs as tensors, a random grad_y, and the gradient of every input."""
    tensors = [None if array is None else to_torch(array).clone().requires_grad_() for array in inputs]
    output = function(*tensors)
    grad_y = torch.from_numpy(random_array(grad_y_seed, tuple(output.shape), inputs[0].dtype))
    output.backward(grad_y)
    return grad_y.numpy(), [None if tensor is None else tensor.grad for tensor in tensors]


# ------------------------------------------------------------------------------------------------------------
# Convolution
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@MANY
@given(case=conv_cases(), seed=seeds)
def test_conv2d_backward_matches_autograd(dtype, case, seed):
    x, weight, _, settings_ = conv_inputs(case, seed, dtype)
    bias = np.zeros(weight.shape[0], dtype=dtype)
    grad_y, (grad_x, grad_weight, grad_bias) = torch_gradients(
        lambda *tensors: torch_functional.conv2d(*tensors, **settings_), [x, weight, bias], seed + 3
    )
    ours = F.conv2d_backward(grad_y, x, weight, **settings_)
    for actual, expected in zip(ours, (grad_x, grad_weight, grad_bias), strict=True):
        assert_matches(actual, expected, dtype)


@pytest.mark.parametrize("batch", [1, 5])
def test_conv2d_backward_splits_a_batch_into_chunks_correctly(monkeypatch, batch):
    x, weight = random_array(0, (batch, 3, 9, 8)), random_array(1, (4, 3, 3, 2))
    grad_y = random_array(2, (batch, 4, 5, 9))  # H_out = (9 + 2 - 3) // 2 + 1
    whole = F.conv2d_backward(grad_y, x, weight, stride=(2, 1), padding=1)
    monkeypatch.setattr(F, "_IM2COL_CHUNK_BYTES", 1)  # one image per chunk
    for chunked, expected in zip(F.conv2d_backward(grad_y, x, weight, stride=(2, 1), padding=1), whole, strict=True):
        np.testing.assert_allclose(chunked, expected, rtol=1e-12, atol=1e-12)


@FEW
@given(case=conv_cases(max_batch=2, max_channels=2, max_kernel=3, max_extra=3), seed=seeds)
def test_conv2d_backward_matches_finite_differences(case, seed):
    x, weight, _, settings_ = conv_inputs(case, seed, np.float64)
    grad_y = random_array(seed + 3, F.conv2d(x, weight, **settings_).shape)
    grad_x, grad_weight, grad_bias = F.conv2d_backward(grad_y, x, weight, **settings_)
    bias = np.zeros(weight.shape[0])
    numeric_x = numerical_gradient(lambda z: F.conv2d(z, weight, **settings_), x, grad_y)
    numeric_weight = numerical_gradient(lambda w: F.conv2d(x, w, **settings_), weight, grad_y)
    numeric_bias = numerical_gradient(lambda b: F.conv2d(x, weight, b, **settings_), bias, grad_y)
    assert relative_error(grad_x, numeric_x) < 1e-7
    assert relative_error(grad_weight, numeric_weight) < 1e-7
    assert relative_error(grad_bias, numeric_bias) < 1e-7


@MANY
@given(case=conv_cases(), seed=seeds)
def test_col2im_is_the_adjoint_of_im2col(case, seed):
    # <im2col(x), c> == <x, col2im(c)> for every x and c: col2im is the transpose of the linear map im2col.
    x, _, _, settings_ = conv_inputs(case, seed, np.float64)
    kernel_size = case["weight_shape"][2:]
    columns_of_x = F.im2col(x, kernel_size, **settings_)
    columns = random_array(seed + 5, columns_of_x.shape)
    folded = F.col2im(columns, x.shape, kernel_size, **settings_)
    assert folded.shape == x.shape
    np.testing.assert_allclose(np.sum(columns_of_x * columns), np.sum(x * folded), rtol=1e-10, atol=1e-10)


def test_col2im_counts_how_many_windows_cover_each_pixel():
    # Folding columns of ones counts the windows over each pixel: 3x3 windows of a 4x4 image, stride 1.
    counts = F.col2im(np.ones((1, 9, 4)), (1, 1, 4, 4), 3)
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


def test_conv2d_backward_by_hand():
    # One 3x3 image, a 2x2 kernel, y = 2x2: dL/dw[u, v] = sum_ij grad_y[i, j] x[i + u, j + v].
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    weight = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    grad_y = np.array([[[[1.0, 0.0], [0.0, 0.0]]]])  # only the top-left output matters
    grad_x, grad_weight, grad_bias = F.conv2d_backward(grad_y, x, weight)
    np.testing.assert_array_equal(grad_weight[0, 0], [[0.0, 1.0], [3.0, 4.0]])  # the top-left window of x
    np.testing.assert_array_equal(grad_x[0, 0], [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(grad_bias, [1.0])


# ------------------------------------------------------------------------------------------------------------
# Pooling, ReLU, linear
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@MANY
@given(case=pool_cases(), seed=seeds)
def test_pooling_backward_matches_autograd(dtype, pool, case, seed):
    shape, kernel_size, stride, padding = case
    x = random_array(seed, shape, dtype)
    grad_y, (grad_x,) = torch_gradients(
        lambda tensor: getattr(torch_functional, pool)(tensor, kernel_size, stride, padding), [x], seed + 1
    )
    assert_matches(getattr(F, f"{pool}_backward")(grad_y, x, kernel_size, stride, padding), grad_x, dtype)


def test_max_pool2d_backward_routes_to_the_first_of_tied_maxima_as_torch():
    x = np.array([[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 3.0, 3.0]]]])  # ties in both 2x2 windows
    grad_y = np.array([[[[10.0, 20.0]]]])
    expected = torch_gradients(lambda t: torch_functional.max_pool2d(t, 2), [x], 0)[1][0]
    grad_x = F.max_pool2d_backward(grad_y, x, 2)
    np.testing.assert_array_equal(grad_x[0, 0], [[0.0, 10.0, 20.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    # torch routes to the same inputs (its grad_y differs; compare where the gradient goes)
    np.testing.assert_array_equal(grad_x != 0, expected.numpy() != 0)


MAX_POOL_SPECIAL_CASES = [
    # (values of one 2-D image, kernel_size, stride, padding)
    ([[1.0, np.nan], [np.nan, 2.0]], 2, None, 0),  # two NaN in one window: torch routes to the last
    ([[np.nan, 1.0], [2.0, np.nan]], 2, None, 0),
    ([[np.nan, np.nan], [np.nan, np.nan]], 2, None, 0),
    ([[-np.inf, -np.inf], [-np.inf, -np.inf]], 2, None, 0),  # only -inf: the first input
    ([[-np.inf, -np.inf], [-np.inf, -np.inf]], 2, 1, 1),  # ... never the padding, which is -inf too
    ([[-np.inf, np.nan, -np.inf], [np.inf, -np.inf, -np.inf]], (2, 3), 1, 1),
    ([[np.inf, np.inf], [1.0, np.inf]], 2, None, 0),  # +inf ties: the first, as for any tie
]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("values, kernel_size, stride, padding", MAX_POOL_SPECIAL_CASES)
def test_max_pool2d_backward_routes_nan_and_minus_inf_windows_as_torch(dtype, values, kernel_size, stride, padding):
    x = np.array(values, dtype=dtype)[np.newaxis, np.newaxis]
    tensor = to_torch(x).clone().requires_grad_()
    output = torch_functional.max_pool2d(tensor, kernel_size, stride, padding)
    grad_y = np.arange(1.0, output.numel() + 1, dtype=dtype).reshape(output.shape)  # tells the windows apart
    output.backward(torch.from_numpy(grad_y))
    np.testing.assert_array_equal(F.max_pool2d(x, kernel_size, stride, padding), output.detach().numpy())
    np.testing.assert_array_equal(F.max_pool2d_backward(grad_y, x, kernel_size, stride, padding), tensor.grad.numpy())


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@MANY
@given(case=pool_cases(), seed=seeds)
def test_max_pool2d_backward_matches_autograd_with_nan_infinities_and_ties(dtype, case, seed):
    shape, kernel_size, stride, padding = case
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([-np.inf, np.nan, 0.0, 1.0, np.inf], dtype=dtype), size=shape, p=[0.4, 0.1, 0.2, 0.2, 0.1])
    tensor = to_torch(x).clone().requires_grad_()
    output = torch_functional.max_pool2d(tensor, kernel_size, stride, padding)
    grad_y = rng.uniform(0.5, 1.5, size=tuple(output.shape)).astype(dtype)  # positive: sums cannot cancel to 0
    output.backward(torch.from_numpy(grad_y))
    grad = F.max_pool2d_backward(grad_y, x, kernel_size, stride, padding)
    # The same inputs get gradient; overlapping windows may add theirs in another order (rounding apart).
    np.testing.assert_array_equal(grad != 0, tensor.grad.numpy() != 0)
    np.testing.assert_allclose(grad, tensor.grad.numpy(), rtol=1e-5 if dtype == np.float32 else 1e-13, atol=0)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf + (-inf) is NaN, as in torch
@pytest.mark.parametrize("values, kernel_size, stride, padding", MAX_POOL_SPECIAL_CASES)
def test_avg_pool2d_matches_torch_on_nan_and_infinities(values, kernel_size, stride, padding):
    x = np.array(values)[np.newaxis, np.newaxis]
    tensor = to_torch(x).clone().requires_grad_()
    output = torch_functional.avg_pool2d(tensor, kernel_size, stride, padding)
    grad_y = np.arange(1.0, output.numel() + 1).reshape(output.shape)
    output.backward(torch.from_numpy(grad_y))
    np.testing.assert_array_equal(F.avg_pool2d(x, kernel_size, stride, padding), output.detach().numpy())
    np.testing.assert_allclose(F.avg_pool2d_backward(grad_y, x, kernel_size, stride, padding), tensor.grad.numpy(),
                               rtol=1e-15)


def test_max_pool2d_backward_sends_an_infinite_gradient_to_the_winner_alone():
    x = np.array([[[[1.0, 2.0], [0.0, 0.0]]]])
    grad_x = F.max_pool2d_backward(np.array([[[[np.inf]]]]), x, 2)  # inf * 0 would put NaN on the losers
    np.testing.assert_array_equal(grad_x, [[[[0.0, np.inf], [0.0, 0.0]]]])


def test_overlapping_max_pool_windows_add_their_gradients():
    x = np.array([[[[0.0, 5.0, 0.0]]]])  # the 5 wins both 1x2 windows at stride 1
    np.testing.assert_array_equal(F.max_pool2d_backward(np.array([[[[1.0, 2.0]]]]), x, (1, 2), 1), [[[[0, 3.0, 0]]]])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@FEW
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), seed=seeds)
def test_relu_backward_matches_autograd(dtype, shape, seed):
    x = random_array(seed, shape, dtype)
    x.flat[0] = 0.0  # the kink: torch's gradient there is 0, and so is ours
    grad_y, (grad_x,) = torch_gradients(torch.relu, [x], seed + 1)
    assert_matches(F.relu_backward(grad_y, x), grad_x, dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@MANY
@given(
    batch=st.integers(1, 4), in_features=st.integers(1, 6), out_features=st.integers(1, 6), seed=seeds,
)
def test_linear_backward_matches_autograd(dtype, batch, in_features, out_features, seed):
    x = random_array(seed, (batch, in_features), dtype)
    weight = random_array(seed + 1, (out_features, in_features), dtype)
    bias = random_array(seed + 2, (out_features,), dtype)
    grad_y, expected = torch_gradients(torch_functional.linear, [x, weight, bias], seed + 3)
    for actual, wanted in zip(F.linear_backward(grad_y, x, weight), expected, strict=True):
        assert_matches(actual, wanted, dtype)


def test_small_backward_functions_match_finite_differences():
    x = random_array(0, (2, 3, 5, 4))
    grad_max, grad_avg = random_array(1, (2, 3, 2, 2)), random_array(2, (2, 3, 3, 2))
    cases = [
        (lambda z: F.max_pool2d(z, 2), F.max_pool2d_backward(grad_max, x, 2), grad_max),
        (lambda z: F.avg_pool2d(z, 3, 2, 1), F.avg_pool2d_backward(grad_avg, x, 3, 2, 1), grad_avg),
    ]
    for forward, analytic, grad_y in cases:
        assert relative_error(analytic, numerical_gradient(forward, x, grad_y)) < 1e-7
    grad_relu = random_array(2, x.shape)
    assert relative_error(F.relu_backward(grad_relu, x), numerical_gradient(F.relu, x, grad_relu)) < 1e-7


# ------------------------------------------------------------------------------------------------------------
# Cross-entropy
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@MANY
@given(
    batch=st.integers(1, 6), classes=st.integers(1, 7), scale=st.sampled_from([1.0, 30.0, 1e4]), seed=seeds,
)
def test_cross_entropy_and_its_gradient_match_torch(dtype, batch, classes, scale, seed):
    logits = random_array(seed, (batch, classes), dtype) * dtype(scale)
    targets = np.random.default_rng(seed + 1).integers(0, classes, batch)
    logits_torch = to_torch(logits).clone().requires_grad_()
    loss = torch_functional.cross_entropy(logits_torch, torch.from_numpy(targets))
    loss.backward()
    ours = F.cross_entropy(logits, targets)
    assert np.isfinite(ours)
    np.testing.assert_allclose(ours, loss.item(), rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
    assert_matches(F.cross_entropy_backward(logits, targets), logits_torch.grad, dtype)


def test_cross_entropy_stays_finite_for_huge_logits_where_the_naive_formula_fails():
    logits = np.array([[5000.0, 0.0, -5000.0], [0.0, 1e4, 0.0]])
    targets = np.array([2, 1])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        naive = -np.mean(np.log(probabilities[np.arange(2), targets]))
    assert not np.isfinite(naive)
    np.testing.assert_allclose(F.cross_entropy(logits, targets), 10000.0 / 2)  # example 0 loses 10000, 1 loses 0
    gradient = F.cross_entropy_backward(logits, targets)
    assert np.all(np.isfinite(gradient))
    np.testing.assert_allclose(gradient.sum(axis=1), 0.0, atol=1e-12)  # probabilities minus a one-hot sum to 0


def test_cross_entropy_of_a_uniform_prediction_is_log_of_the_class_count():
    np.testing.assert_allclose(F.cross_entropy(np.zeros((4, 10)), np.arange(4)), np.log(10))


def test_cross_entropy_gradient_matches_finite_differences():
    logits = random_array(0, (5, 4))
    targets = np.array([0, 3, 1, 1, 2])
    numeric = numerical_gradient(lambda z: F.cross_entropy(z, targets), logits)
    assert relative_error(F.cross_entropy_backward(logits, targets), numeric) < 1e-7


# ------------------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: F.conv2d_backward(np.zeros((1, 2, 3, 3)), np.zeros((1, 1, 5, 5)), np.zeros((2, 1, 3, 3)), 2),
         r"grad_y must have the shape of the forward output, \(1, 2, 2, 2\); got shape \(1, 2, 3, 3\)"),
        (lambda: F.conv2d_backward(np.zeros((1, 2, 3, 3)), np.zeros((1, 3, 5, 5)), np.zeros((2, 1, 3, 3))),
         "x has 3 channels but weight expects C_in = 1"),
        (lambda: F.max_pool2d_backward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 4, 4)), 2), r"\(1, 1, 2, 2\)"),
        (lambda: F.avg_pool2d_backward(np.zeros((1, 1, 2, 2)), np.zeros((1, 4, 4)), 2), "must be 4-D"),
        (lambda: F.relu_backward(np.zeros(3), np.zeros(4)), r"\(4,\); got shape \(3,\)"),
        (lambda: F.linear_backward(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((5, 4))), r"\(2, 5\)"),
        (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), "targets must be integer"),
        (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0, 3])), r"targets must lie in \[0, 2\]"),
        (lambda: F.cross_entropy_backward(np.zeros((2, 3)), np.array([0])), r"targets must have shape \(N,\)"),
        (lambda: F.cross_entropy(np.zeros(3), np.array([0])), "logits must be 2-D"),
        (lambda: F.col2im(np.zeros((1, 4, 8)), (1, 1, 4, 4), 2, stride=1), r"columns must have shape \(1, 4, 9\)"),
        (lambda: F.col2im(np.zeros((1, 4, 9)), (1, 1, 4.9, 4), 2, stride=1), "four non-negative ints"),
        (lambda: F.conv2d_backward(np.zeros((1, 2, 3, 3)), np.zeros((1, 0, 5, 5)), np.zeros((2, 0, 3, 3))),
         "at least one input channel"),
    ],
)
def test_backward_functions_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
