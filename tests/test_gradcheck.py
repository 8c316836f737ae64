"""cnnlib.gradcheck: the finite-difference estimate is right where calculus knows the answer, and it catches bugs."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlib import nn
from cnnlib.gradcheck import check_module, numerical_gradient, relative_error


def test_numerical_gradient_of_known_functions():
    x = np.array([[0.5, -1.0, 2.0], [3.0, 0.1, -0.7]])
    np.testing.assert_allclose(numerical_gradient(lambda z: np.sum(z**3), x), 3 * x**2, rtol=1e-8, atol=1e-7)
    np.testing.assert_allclose(numerical_gradient(lambda z: np.sin(z), x), np.cos(x), rtol=1e-8)  # summed output
    grad_y = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(numerical_gradient(np.exp, x, grad_y), grad_y * np.exp(x), rtol=1e-8)


def test_numerical_gradient_restores_x_and_reads_x_in_place():
    weight = np.array([1.0, 2.0])
    before = weight.copy()
    gradient = numerical_gradient(lambda _: weight @ np.array([3.0, 4.0]), weight)  # reads weight, not its argument
    np.testing.assert_allclose(gradient, [3.0, 4.0], rtol=1e-8)
    np.testing.assert_array_equal(weight, before)


def test_centred_differences_are_second_order_accurate():
    # For exp at 0 the centred error is eps**2 / 6; one-sided differences would give eps / 2.
    x = np.zeros(1)
    for eps in (1e-2, 1e-3):
        error = abs(numerical_gradient(np.exp, x, eps=eps)[0] - 1.0)
        assert 0.5 * eps**2 / 6 < error < 2 * eps**2 / 6


def test_relative_error_is_scale_free_and_symmetric():
    a = np.array([1.0, 2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(a, 1.01 * a) == pytest.approx(relative_error(1e6 * a, 1.01e6 * a))
    assert relative_error(a, -a) == pytest.approx(1.0)
    assert relative_error(a, 2 * a) == pytest.approx(relative_error(2 * a, a))
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


def test_check_module_leaves_the_module_untouched():
    layer = nn.Linear(3, 2, rng=0)
    before = {name: value.copy() for name, value in layer.parameters().items()}
    check_module(layer, np.ones((2, 3), dtype=np.float32))
    assert layer.weight.dtype == np.float32 and layer.gradients() == {}
    for name, value in layer.parameters().items():
        np.testing.assert_array_equal(value, before[name])


def test_check_module_catches_a_wrong_weight_gradient():
    class HalfGradientLinear(nn.Linear):
        def backward(self, grad_y):
            grad_x = super().backward(grad_y)
            self.grads["weight"] = self.grads["weight"] / 2
            return grad_x

    errors = check_module(HalfGradientLinear(4, 3, rng=0), np.random.default_rng(0).standard_normal((5, 4)))
    assert errors["input"] < 1e-7 and errors["bias"] < 1e-7
    assert errors["weight"] > 1e-2


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: numerical_gradient(np.sum, np.ones(3, dtype=np.float32)), "float64"),
        (lambda: numerical_gradient(np.sum, np.ones(3), eps=0.0), "eps must be positive"),
        (lambda: numerical_gradient(np.exp, np.ones(3), np.ones(2)), r"grad_y must have the output's shape \(3,\)"),
        (lambda: numerical_gradient(np.sum, np.ones((3, 4))[:, :2]), "contiguous"),
        (lambda: relative_error(np.ones(2), np.ones(3)), "same shape"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
