"""Checking gradients by finite differences: the test every hand-written backward pass must pass.

A derivative is a limit of difference quotients, so it can be estimated without any calculus by nudging one input
at a time. The centred difference

    df/dx_i  ~  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

has an error of order eps**2 (the first-order terms of the two Taylor expansions cancel), against eps for the
one-sided difference. In float64 with eps around 1e-6 the estimate agrees with a correct analytic gradient to about
1e-8 relative error; a wrong gradient is off by 1e-2 or more. Work in float64: float32's rounding error (about 1e-7
relative) divided by 2 eps swamps the estimate.

- :func:`numerical_gradient` estimates the gradient of any function of one array.
- :func:`relative_error` compares two gradients on the scale of their entries.
- :func:`check_module` checks a :mod:`cnnlib.nn` layer or network: the gradient of its input and of every parameter.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

__all__ = ["check_module", "numerical_gradient", "relative_error"]


def numerical_gradient(function: Callable[[np.ndarray], np.ndarray], x: np.ndarray, grad_y=None,
                       eps: float = 1e-6) -> np.ndarray:
    """Centred-difference estimate of the gradient of ``sum(function(x) * grad_y)`` with respect to ``x``.

    For a scalar-valued function (``grad_y`` None) this is the gradient of the function itself. For an array-valued
    one, ``grad_y`` plays the part of the upstream gradient dL/dy of a backward pass, and the result is the
    vector-Jacobian product that the backward pass should return::

        grad_x[i] ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps),   L(x) = sum(function(x) * grad_y)

    Each entry of ``x`` is changed in place and restored, so ``function`` may read ``x`` itself (for example a
    parameter array of a layer) rather than its argument. Costs two calls of ``function`` per entry of ``x``.

    Args:
        function: Maps an array of x's shape to an array (or a scalar).
        x: A float64 array of any shape, the point where the gradient is estimated. It is restored on return.
        grad_y: None, or an array of the shape of ``function(x)``.
        eps: The step; about 1e-6 suits float64.

    Returns:
        An array of x's shape: the estimated gradient.

    Raises:
        ValueError: If x is not a float64 array, eps is not positive, or grad_y's shape is not the output's.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise ValueError(f"x must be a float64 ndarray (float32 is too coarse for finite differences); got "
                         f"{type(x).__name__} of dtype {getattr(x, 'dtype', None)}")
    if not eps > 0:
        raise ValueError(f"eps must be positive; got {eps}")

    def loss() -> float:
        output = np.asarray(function(x), dtype=np.float64)
        if grad_y is None:
            return float(output.sum())
        if output.shape != np.shape(grad_y):
            raise ValueError(f"grad_y must have the output's shape {output.shape}; got shape {np.shape(grad_y)}")
        return float(np.sum(output * grad_y))

    gradient = np.zeros_like(x)
    flat_x, flat_gradient = x.reshape(-1), gradient.reshape(-1)  # views: writing them writes x and gradient
    if not np.shares_memory(flat_x, x):
        raise ValueError("x must be contiguous, so that it can be changed in place")
    for index in range(flat_x.size):
        original = flat_x[index]
        flat_x[index] = original + eps
        loss_plus = loss()
        flat_x[index] = original - eps
        loss_minus = loss()
        flat_x[index] = original
        flat_gradient[index] = (loss_plus - loss_minus) / (2 * eps)
    return gradient


def relative_error(analytic, numeric, floor: float = 1e-12) -> float:
    """How far apart two gradients are, relative to their size::

        ||a - b|| / max(||a|| + ||b||, floor)        (Euclidean norms over all entries)

    Scale-free, so it reads the same for large and small gradients: in float64, below about 1e-7 means the analytic
    gradient is right, above 1e-2 means it is wrong. Measured over the whole array rather than entry by entry, it is
    not thrown off by entries that are zero up to rounding. ``floor`` keeps two zero gradients from dividing by zero.

    Args:
        analytic: An array.
        numeric: An array of the same shape.
        floor: The smallest denominator.

    Returns:
        The relative error, a float in [0, 1] (0.0 for two empty or zero arrays).

    Raises:
        ValueError: If the shapes differ.
    """
    analytic, numeric = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(f"the gradients must have the same shape; got {analytic.shape} and {numeric.shape}")
    difference = np.linalg.norm(analytic - numeric)
    return float(difference / max(np.linalg.norm(analytic) + np.linalg.norm(numeric), floor))


def check_module(module, x, rng=0, eps: float = 1e-6) -> dict[str, float]:
    """Compare a :mod:`cnnlib.nn` module's backward pass with finite differences, for its input and parameters.

    A float64 copy of the module is made (the module itself is untouched). With a random upstream gradient G of
    the output's shape, the loss ``L = sum(module(x) * G)`` has gradient G with respect to the output, so
    ``copy.backward(G)`` must return dL/dx and fill ``copy.gradients()``; each is compared with
    :func:`numerical_gradient` by :func:`relative_error`.

    The module runs in its current mode. A layer that draws random numbers in training mode (dropout) must be
    checked in evaluation mode or with its randomness fixed; batch normalization in training mode is fine, its
    output is a deterministic function of the batch.

    A parameter whose true gradient is zero, such as the bias of a convolution followed by batch normalization in
    training mode, shows an error near 1: both gradients are then rounding noise, and the relative error of two
    noises is large. Look at the gradients themselves in that case.

    Args:
        module: A :class:`cnnlib.nn.Module` (a layer or a :class:`cnnlib.nn.Sequential` network).
        x: An input the module accepts; it is converted to float64.
        rng: Seed or ``np.random.Generator`` of the upstream gradient. An int seed is mixed with a constant, so
            that the upstream gradient never equals an input drawn with the same seed.
        eps: The finite-difference step.

    Returns:
        ``{"input": error, name: error, ...}``: the relative error of the input gradient and of each parameter's,
        under the names of ``module.parameters()``.
    """
    module = copy.deepcopy(module).astype(np.float64)
    x = np.array(x, dtype=np.float64)  # a copy, changed in place by numerical_gradient
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng([int(rng), 0x9AD])
    grad_y = generator.standard_normal(module.output_shape(x.shape))

    module.zero_grad()
    module(x)
    analytic_input = module.backward(grad_y)
    analytic = module.gradients()

    errors = {"input": relative_error(analytic_input, numerical_gradient(module, x, grad_y, eps))}
    for name, parameter in module.parameters().items():
        numeric = numerical_gradient(lambda _, parameter=parameter: module(x), parameter, grad_y, eps)
        errors[name] = relative_error(analytic[name], numeric)
    return errors
