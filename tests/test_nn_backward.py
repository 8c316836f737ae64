"""Backward passes of cnnlib.nn: every layer by finite differences, whole networks against torch.autograd,
dropout and batch normalization in both modes against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_nn import lenet_torch
from torch import nn as torch_nn

from cnnlib import functional as F
from cnnlib import gradcheck, nn

LAYERS = [
    pytest.param(lambda: nn.Conv2d(2, 3, 3, padding=1, rng=0), id="conv"),
    pytest.param(lambda: nn.Conv2d(2, 3, (3, 2), stride=2, dilation=(1, 2), bias=False, rng=0), id="conv-strided"),
    pytest.param(lambda: nn.ReLU(), id="relu"),
    pytest.param(lambda: nn.MaxPool2d(2), id="maxpool"),
    pytest.param(lambda: nn.MaxPool2d(3, stride=1, padding=1), id="maxpool-overlapping"),
    pytest.param(lambda: nn.AvgPool2d(3, stride=2, padding=1), id="avgpool"),
    pytest.param(lambda: nn.BatchNorm2d(2), id="batchnorm-train"),
    pytest.param(lambda: nn.BatchNorm2d(2).eval(), id="batchnorm-eval"),
    pytest.param(lambda: nn.Dropout(0.4).eval(), id="dropout-eval"),
    pytest.param(lambda: nn.Flatten(), id="flatten"),
]


@pytest.mark.parametrize("build", LAYERS)
def test_every_layer_passes_a_gradient_check(build):
    x = np.random.default_rng(0).standard_normal((3, 2, 6, 7))
    errors = gradcheck.check_module(build(), x)
    assert errors and max(errors.values()) < 1e-7, errors


def test_linear_passes_a_gradient_check():
    errors = gradcheck.check_module(nn.Linear(5, 4, rng=0), np.random.default_rng(1).standard_normal((3, 5)))
    assert set(errors) == {"input", "weight", "bias"} and max(errors.values()) < 1e-7


def test_a_network_passes_a_gradient_check_for_every_parameter():
    network = nn.Sequential(
        # No bias before batch normalization: its true gradient is 0, and 0 against rounding noise reads as an error
        # of 1. That is the common practice too: the normalization subtracts the bias again.
        nn.Conv2d(1, 3, 3, padding=1, bias=False, rng=0), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(3, 4, 3, rng=1), nn.ReLU(), nn.Flatten(), nn.Linear(16, 5, rng=2),
    )
    errors = gradcheck.check_module(network, np.random.default_rng(0).standard_normal((2, 1, 8, 8)))
    assert set(errors) == {"input", *network.parameters()}
    assert max(errors.values()) < 1e-7, errors


def test_a_wrong_backward_fails_the_gradient_check():
    class WrongReLU(nn.ReLU):
        def backward(self, grad_y):  # forgets the mask: the identity's gradient
            return grad_y

    errors = gradcheck.check_module(WrongReLU(), np.random.default_rng(0).standard_normal((4, 5)))
    assert errors["input"] > 1e-2


def test_lenet_gradients_agree_with_torch_autograd():
    reference = lenet_torch().double()
    network = nn.from_torch(reference)
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28))
    targets = np.array([3, 1, 4, 1])
    logits = network(x)
    network.zero_grad()
    grad_x = network.backward(F.cross_entropy_backward(logits, targets))

    x_torch = torch.from_numpy(x).requires_grad_()
    loss = torch.nn.functional.cross_entropy(reference(x_torch), torch.from_numpy(targets))
    loss.backward()
    np.testing.assert_allclose(F.cross_entropy(logits, targets), loss.item(), rtol=1e-12)
    np.testing.assert_allclose(grad_x, x_torch.grad.numpy(), rtol=1e-9, atol=1e-12)
    ours = network.gradients()
    for name, parameter in reference.named_parameters():
        np.testing.assert_allclose(ours[name], parameter.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Conv2d(1, 1, 3).backward(np.zeros((1, 1, 1, 1)))


def test_zero_grad_and_gradients_names_follow_parameters():
    network = nn.Sequential(nn.Linear(3, 2, rng=0), nn.ReLU(), nn.Linear(2, 2, bias=False, rng=1))
    network(np.ones((1, 3), dtype=np.float32))
    network.backward(np.ones((1, 2), dtype=np.float32))
    assert set(network.gradients()) == set(network.parameters()) == {"0.weight", "0.bias", "2.weight"}
    network.zero_grad()
    assert network.gradients() == {}


# ------------------------------------------------------------------------------------------------------------
# Dropout
# ------------------------------------------------------------------------------------------------------------


def test_dropout_zeroes_about_p_and_keeps_the_expectation():
    dropout = nn.Dropout(0.3, rng=0)
    x = np.ones((200, 500))
    y = dropout(x)
    dropped = np.mean(y == 0)
    assert abs(dropped - 0.3) < 0.01  # 100,000 draws: the standard error is 0.0015
    np.testing.assert_allclose(y[y != 0], 1 / 0.7)  # the survivors are scaled up by 1 / (1 - p)
    assert abs(y.mean() - 1.0) < 0.02
    grad_x = dropout.backward(np.ones_like(x))
    np.testing.assert_array_equal(grad_x, y)  # the same mask and scale as the forward pass


def test_dropout_is_the_identity_in_eval_mode_and_draws_new_masks_in_training():
    dropout = nn.Dropout(0.5, rng=0)
    x = np.arange(1.0, 101.0)
    assert not np.array_equal(dropout(x), dropout(x))
    dropout.eval()
    np.testing.assert_array_equal(dropout(x), x)
    np.testing.assert_array_equal(dropout.backward(x), x)


def test_dropout_is_seeded():
    x = np.ones(50)
    np.testing.assert_array_equal(nn.Dropout(0.5, rng=7)(x), nn.Dropout(0.5, rng=7)(x))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_dropout_treats_integer_and_boolean_input_as_float64(dtype):
    x = (np.arange(40).reshape(5, 8) % 3).astype(dtype)  # was x * mask / int(0.5): divisions by zero, inf and nan
    y = nn.Dropout(0.5, rng=3)(x)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, nn.Dropout(0.5, rng=3)(x.astype(np.float64)))
    assert np.isfinite(y).all() and 0 < np.count_nonzero(y) < np.count_nonzero(x)


@pytest.mark.parametrize(
    "p, error",
    [(-0.1, ValueError), (1.0, ValueError), (float("nan"), ValueError), ("0.5", TypeError), (True, TypeError),
     (None, TypeError)],
)
def test_dropout_rejects_a_bad_probability(p, error):
    with pytest.raises(error, match="p must be"):
        nn.Dropout(p)


# ------------------------------------------------------------------------------------------------------------
# Batch normalization
# ------------------------------------------------------------------------------------------------------------


def batchnorm_pair(num_features: int = 3):
    reference = torch_nn.BatchNorm2d(num_features, momentum=0.2).double()
    with torch.no_grad():
        reference.weight.copy_(torch.linspace(0.5, 2.0, num_features, dtype=torch.float64))
        reference.bias.copy_(torch.linspace(-1.0, 1.0, num_features, dtype=torch.float64))
    return reference, nn.from_torch(reference)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_matches_torch_forward_backward_and_running_statistics(training):
    reference, ours = batchnorm_pair()
    generator = np.random.default_rng(0)
    for _ in range(3):  # a few training batches move the running statistics away from (0, 1)
        batch = generator.normal(2.0, 3.0, (4, 3, 5, 5))
        reference(torch.from_numpy(batch))
        ours(batch)
    np.testing.assert_allclose(ours.running_mean, reference.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.running_var, reference.running_var.numpy(), rtol=1e-12)

    reference.train(training)
    ours.train(training)
    x = generator.normal(2.0, 3.0, (4, 3, 5, 5))
    grad_y = generator.standard_normal(x.shape)
    x_torch = torch.from_numpy(x).requires_grad_()
    y_torch = reference(x_torch)
    y_torch.backward(torch.from_numpy(grad_y))
    np.testing.assert_allclose(ours(x), y_torch.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.backward(grad_y), x_torch.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.gradients()["weight"], reference.weight.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(ours.gradients()["bias"], reference.bias.grad.numpy(), rtol=1e-9)


def test_batchnorm_normalizes_each_channel_in_training():
    x = np.random.default_rng(0).normal(5.0, 4.0, (8, 2, 6, 6)).astype(np.float32)
    y = nn.BatchNorm2d(2)(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1.0, atol=1e-3)
    assert y.dtype == np.float32


def test_batchnorm_rejects_the_wrong_channel_count():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        nn.BatchNorm2d(3)(np.zeros((1, 2, 4, 4)))


def test_astype_converts_parameters_and_running_statistics():
    layer = nn.BatchNorm2d(2).astype(np.float64)
    assert {value.dtype for value in layer.parameters().values()} == {np.dtype(np.float64)}
    assert layer.running_mean.dtype == layer.running_var.dtype == np.float64


def test_batchnorm_refuses_one_value_per_channel_in_training_as_torch():
    shape = (1, 3, 1, 1)
    layer = nn.BatchNorm2d(3)
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training.*\(1, 3, 1, 1\)"):
        layer(np.full(shape, 7.0))  # was normalized to 0 whatever the value
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        torch_nn.BatchNorm2d(3)(torch.full(shape, 7.0))
    np.testing.assert_array_equal(layer.running_mean, 0.0)  # nothing learned from the refused batch
    np.testing.assert_array_equal(layer.running_var, 1.0)
    np.testing.assert_allclose(layer.eval()(np.full(shape, 7.0)), 7.0 / np.sqrt(1.0 + 1e-5), rtol=1e-6)


@pytest.mark.parametrize("shape", [(0, 3, 4, 4), (2, 3, 0, 4)])
def test_batchnorm_passes_an_empty_batch_through_and_keeps_its_statistics_as_torch(shape):
    reference, ours = batchnorm_pair()
    y_torch = reference(torch.zeros(shape, dtype=torch.float64))
    y = ours(np.zeros(shape))  # was NaN running statistics, which then made every evaluation output NaN
    assert y.shape == tuple(y_torch.shape) == shape
    np.testing.assert_array_equal(ours.running_mean, reference.running_mean.numpy())
    np.testing.assert_array_equal(ours.running_var, reference.running_var.numpy())
    np.testing.assert_array_equal(ours.running_var, 1.0)
    assert ours.backward(np.zeros(shape)).shape == shape
    np.testing.assert_array_equal(ours.gradients()["weight"], 0.0)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"momentum": -0.1}, ValueError, r"momentum must be in \[0, 1\], got -0.1"),
        ({"momentum": 1.5}, ValueError, "momentum must be in"),
        ({"momentum": float("nan")}, ValueError, "momentum must be in"),
        ({"momentum": None}, TypeError, "momentum must be a real number"),
        ({"eps": 0.0}, ValueError, "eps must be a positive finite number, got 0.0"),
        ({"eps": -1e-5}, ValueError, "eps must be a positive"),
        ({"eps": float("inf")}, ValueError, "eps must be a positive"),
        ({"eps": "1e-5"}, TypeError, "eps must be a real number"),
    ],
)
def test_batchnorm_checks_momentum_and_eps(kwargs, error, message):
    with pytest.raises(error, match=message):
        nn.BatchNorm2d(3, **kwargs)


def test_batchnorm_treats_integer_input_as_float64():
    x = np.arange(32).reshape(2, 2, 2, 4)  # the 1 / std was cast to the input's integer dtype: 0
    y = nn.BatchNorm2d(2)(x)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, nn.BatchNorm2d(2)(x.astype(np.float64)), rtol=1e-15)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1.0, atol=1e-4)
