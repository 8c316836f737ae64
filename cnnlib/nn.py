"""Layers as objects: the NumPy functions of :mod:`cnnlib.functional` wrapped with their parameters.

A layer is a :class:`Module`: it owns its parameters (a dict ``name -> ndarray``), computes its output with
:meth:`Module.forward` (also reached by calling the layer), propagates gradients with :meth:`Module.backward`, and
answers :meth:`Module.output_shape` by shape arithmetic alone, without touching data. :class:`Sequential` chains
layers, as ``torch.nn.Sequential`` does, and :func:`from_torch` turns a trained ``torch.nn.Sequential`` into the same
network here, weights copied, so that the book's NumPy code can run a network that PyTorch trained.

Shapes follow PyTorch: images are (N, C, H, W), convolution weights (C_out, C_in, kh, kw), linear weights
(out_features, in_features). Every ``forward`` keeps in ``self._cache`` what the layer's backward pass will need;
``backward(grad_y)`` takes the gradient of the loss with respect to the layer's output, stores the gradient of each
parameter in ``grads`` (under the parameter's name) and returns the gradient with respect to the layer's input. An
optimizer of :mod:`cnnlib.optim` then updates ``parameters()`` from ``gradients()``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from cnnlib import functional as F
from cnnlib.functional import _pair  # one parser of int-or-pair arguments for the whole library

__all__ = [
    "AvgPool2d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "Linear",
    "MaxPool2d",
    "Module",
    "ReLU",
    "Sequential",
    "from_torch",
    "glorot_uniform",
    "he_normal",
]


# ----------------------------------------------------------------------------------------------------------------------
# Helpers: pairs, output sizes, random generators
# ----------------------------------------------------------------------------------------------------------------------


def _format_pair(pair: tuple[int, int]) -> str:
    """``(2, 2)`` as in torch's repr of a convolution: always the pair."""
    return f"({pair[0]}, {pair[1]})"


def _output_hw(layer: Module, shape: tuple[int, ...], kernel, stride, padding, dilation=(1, 1)) -> list[int]:
    """Output height and width by :func:`cnnlib.functional.conv_output_size`, with the layer named on failure."""
    try:
        return [F.conv_output_size(shape[2 + axis], kernel[axis], stride[axis], padding[axis], dilation[axis])
                for axis in range(2)]
    except ValueError as error:
        raise ValueError(f"{layer!r}: the window does not fit in the padded input of shape {shape}: {error}") from None


def _positive_int(owner: str, name: str, value) -> int:
    """``value`` as a Python int if it is a positive integer (NumPy integers too), else a TypeError or ValueError.

    A float such as 3.5 or 3.0 and a bool are refused rather than truncated: a layer built with ``int(3.5)`` channels
    would silently differ from the one asked for.
    """
    if not isinstance(value, int | np.integer) or isinstance(value, bool | np.bool_):
        raise TypeError(f"{owner}: {name} must be a positive int, got {value!r} of type {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value}")
    return int(value)


def _real(owner: str, name: str, value) -> float:
    """``value`` as a Python float if it is a real number (int or float, NumPy's too, not bool), else a TypeError."""
    if not isinstance(value, int | float | np.integer | np.floating) or isinstance(value, bool | np.bool_):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r} of type {type(value).__name__}")
    return float(value)


def _as_generator(rng) -> np.random.Generator:
    """A ``np.random.Generator`` from a Generator, an int seed, or None.

    None draws a seed from NumPy's global generator, so that :func:`cnnlib.seed_everything` makes layers built
    without an explicit ``rng`` deterministic too, while two such layers still get different weights.
    """
    if rng is None:
        return np.random.default_rng(np.random.randint(0, 2**31 - 1))  # noqa: NPY002 -- follows seed_everything
    if isinstance(rng, (np.random.Generator, int, np.integer)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def he_normal(shape: tuple[int, ...], fan_in: int, rng=None, dtype=np.float32) -> np.ndarray:
    """He (Kaiming) normal initialization, for layers followed by a ReLU.

    Draws every weight independently from a normal distribution with mean 0 and standard deviation

        std = sqrt(2 / fan_in),

    which keeps the variance of the activations roughly constant from layer to layer when half of the units are
    zeroed by a ReLU (He et al., 2015). ``fan_in`` is the number of inputs one output sums over: ``in_features`` for
    a linear layer, ``C_in * kh * kw`` for a convolution.

    Args:
        shape: shape of the weight array.
        fan_in: number of inputs of one output unit.
        rng: a ``np.random.Generator``, an int seed, or None (a seed drawn from NumPy's global generator).
        dtype: dtype of the result.

    Returns:
        An array of the given shape and dtype.

    Raises:
        TypeError, ValueError: when ``fan_in`` is not a positive int.
    """
    fan_in = _positive_int("he_normal", "fan_in", fan_in)
    std = math.sqrt(2.0 / fan_in)
    return (_as_generator(rng).standard_normal(shape) * std).astype(dtype)


def glorot_uniform(shape: tuple[int, ...], fan_in: int, fan_out: int, rng=None, dtype=np.float32) -> np.ndarray:
    """Glorot (Xavier) uniform initialization.

    Draws every weight independently and uniformly from ``[-limit, limit]`` with

        limit = sqrt(6 / (fan_in + fan_out)),

    so that the weights have variance 2 / (fan_in + fan_out), a compromise between keeping the variance of the
    activations (forward) and of the gradients (backward) constant across layers (Glorot and Bengio, 2010).
    For a convolution, ``fan_in = C_in * kh * kw`` and ``fan_out = C_out * kh * kw`` (PyTorch's convention).

    Args:
        shape: shape of the weight array.
        fan_in: number of inputs of one output unit.
        fan_out: number of outputs one input unit feeds.
        rng: a ``np.random.Generator``, an int seed, or None (a seed drawn from NumPy's global generator).
        dtype: dtype of the result.

    Returns:
        An array of the given shape and dtype, every entry in ``[-limit, limit]``.

    Raises:
        TypeError, ValueError: when ``fan_in`` or ``fan_out`` is not a positive int.
    """
    fan_in = _positive_int("glorot_uniform", "fan_in", fan_in)
    fan_out = _positive_int("glorot_uniform", "fan_out", fan_out)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return _as_generator(rng).uniform(-limit, limit, size=shape).astype(dtype)


def _init_weight(init: str, shape: tuple[int, ...], fan_in: int, fan_out: int, rng, dtype) -> np.ndarray:
    if init == "he":
        return he_normal(shape, fan_in, rng=rng, dtype=dtype)
    if init == "glorot":
        return glorot_uniform(shape, fan_in, fan_out, rng=rng, dtype=dtype)
    raise ValueError(f"init must be 'he' or 'glorot', got {init!r}")


def _check_shape(layer: Module, shape: tuple[int, ...], expected: str, ok: bool) -> None:
    if not ok:
        raise ValueError(f"{layer!r} expected input of shape {expected}, got {tuple(shape)}")


# ----------------------------------------------------------------------------------------------------------------------
# The base class
# ----------------------------------------------------------------------------------------------------------------------


class Module:
    """Base class of every layer: parameters in a dict, a forward pass, shape arithmetic, a train/eval flag.

    Attributes:
        params: the layer's own parameters, ``name -> ndarray`` (empty for a layer without parameters).
        grads: the gradient of the loss with respect to each parameter, under the same names, filled by a backward
            pass (empty until one runs).
        training: True in training mode (the default), False after :meth:`eval`. :class:`Dropout` and
            :class:`BatchNorm2d` behave differently in the two modes; the other layers do not.
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True
        self._cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Compute the layer's output for input ``x`` (and keep what the backward pass will need)."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """Gradient of the loss with respect to the input, given its gradient with respect to the output.

        Uses what the last :meth:`forward` cached, and stores each parameter's gradient in ``grads``.

        Raises:
            RuntimeError: If no forward pass has run since the module was built.
        """
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    def _forward_cache(self):
        """What the last forward pass kept, or a RuntimeError if there was none."""
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward called before forward; run the forward pass first")
        return self._cache

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of ``forward(x)`` for an ``x`` of shape ``input_shape`` (batch axis included), without data.

        Raises:
            ValueError: when the layer cannot take an input of that shape.
        """
        raise NotImplementedError(f"{type(self).__name__} does not define output_shape")

    def parameters(self) -> dict[str, np.ndarray]:
        """The parameters, ``name -> ndarray``; the arrays themselves (not copies), so an optimizer can update them."""
        return dict(self.params)

    def gradients(self) -> dict[str, np.ndarray]:
        """The gradients of the last backward pass, under the names of :meth:`parameters`."""
        return dict(self.grads)

    def astype(self, dtype) -> Module:
        """Convert the parameters (and any state such as running statistics) to ``dtype`` in place; returns the
        module. Gradients are dropped."""
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)
        self.grads.clear()
        return self

    def num_parameters(self) -> int:
        """Total number of scalars in :meth:`parameters`."""
        return int(sum(value.size for value in self.parameters().values()))

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode; returns the module itself."""
        self.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode; same as ``train(False)``."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget the gradients of the last backward pass."""
        self.grads.clear()

    def extra_repr(self) -> str:
        """The text between the parentheses of the layer's repr, as in torch (``"1, 6, kernel_size=(5, 5)"``)."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class _Parametrized(Module):
    """A layer whose ``weight`` and ``bias`` live in ``params`` and are also reachable as attributes."""

    @property
    def weight(self) -> np.ndarray:
        return self.params["weight"]

    @weight.setter
    def weight(self, value) -> None:
        self.params["weight"] = self._checked("weight", value, self.params["weight"].shape)

    @property
    def bias(self) -> np.ndarray | None:
        return self.params.get("bias")

    @bias.setter
    def bias(self, value) -> None:
        if "bias" not in self.params:
            raise ValueError(f"{self!r} was built with bias=False; it has no bias to set")
        self.params["bias"] = self._checked("bias", value, self.params["bias"].shape)

    @staticmethod
    def _checked(name: str, value, shape: tuple[int, ...]) -> np.ndarray:
        value = np.asarray(value)
        if value.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {value.shape}")
        return value


# ----------------------------------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------------------------------


class Conv2d(_Parametrized):
    """2-D convolution (cross-correlation, as every library computes it) with ``out_channels`` learned filters.

    For input ``x`` of shape (N, C_in, H, W), weight ``w`` of shape (C_out, C_in, kh, kw) and bias ``b`` of shape
    (C_out,), the output has shape (N, C_out, H_out, W_out) with

        y[n, k, i, j] = b[k] + sum_{c, u, v} w[k, c, u, v] * x_pad[n, c, i * sh + u * dh, j * sw + v * dw]

        H_out = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1   (W_out likewise),

    where ``x_pad`` is ``x`` with ``padding`` zeros on each side. The computation is
    :func:`cnnlib.functional.conv2d`. The layer has ``C_out * (C_in * kh * kw + 1)`` parameters with a bias.

    Args:
        in_channels: C_in.
        out_channels: C_out, the number of filters.
        kernel_size: k or (kh, kw).
        stride: s or (sh, sw).
        padding: p or (ph, pw), zeros added on each side.
        dilation: d or (dh, dw), spacing between the input cells a filter reads.
        bias: whether to add a learned bias per output channel (initialized to zero).
        init: ``"he"`` (:func:`he_normal`, the default, for ReLU networks) or ``"glorot"`` (:func:`glorot_uniform`),
            with ``fan_in = C_in * kh * kw`` and ``fan_out = C_out * kh * kw``.
        rng: a ``np.random.Generator`` or int seed for the initial weights (None: drawn from NumPy's global
            generator, which :func:`cnnlib.seed_everything` seeds).
        dtype: dtype of the parameters (float32 by default).

    Raises:
        TypeError: for a channel count that is not an int (3.5, 3.0 and True are refused, not truncated).
        ValueError: for non-positive sizes, a negative padding, or an unknown ``init``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        bias: bool = True,
        init: str = "he",
        rng=None,
        dtype=np.float32,
    ) -> None:
        super().__init__()
        self.in_channels = _positive_int("Conv2d", "in_channels", in_channels)
        self.out_channels = _positive_int("Conv2d", "out_channels", out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        self.dilation = _pair(dilation, "dilation")
        if min(*self.kernel_size, *self.stride, *self.dilation) <= 0 or min(self.padding) < 0:
            raise ValueError(
                f"kernel_size, stride and dilation must be positive and padding non-negative, got kernel_size="
                f"{self.kernel_size}, stride={self.stride}, padding={self.padding}, dilation={self.dilation}"
            )
        kernel_h, kernel_w = self.kernel_size
        fan_in = self.in_channels * kernel_h * kernel_w
        fan_out = self.out_channels * kernel_h * kernel_w
        shape = (self.out_channels, self.in_channels, kernel_h, kernel_w)
        self.params["weight"] = _init_weight(init, shape, fan_in, fan_out, rng, dtype)
        if bias:
            self.params["bias"] = np.zeros(self.out_channels, dtype=dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Input (N, C_in, H, W) -> output (N, C_out, H_out, W_out)."""
        x = np.asarray(x)
        self.output_shape(x.shape)  # the layer's own check, with the layer named in the message
        self._cache = x
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding, dilation=self.dilation)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y (N, C_out, H_out, W_out) -> grad_x (N, C_in, H, W); fills ``grads["weight"]`` (and ``"bias"``)
        by :func:`cnnlib.functional.conv2d_backward`."""
        x = self._forward_cache()
        grad_x, grad_weight, grad_bias = F.conv2d_backward(
            grad_y, x, self.weight, stride=self.stride, padding=self.padding, dilation=self.dilation
        )
        self.grads["weight"] = grad_weight
        if self.bias is not None:
            self.grads["bias"] = grad_bias
        return grad_x

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = tuple(input_shape)
        _check_shape(self, shape, f"(N, {self.in_channels}, H, W)", len(shape) == 4 and shape[1] == self.in_channels)
        sizes = _output_hw(self, shape, self.kernel_size, self.stride, self.padding, self.dilation)
        return (shape[0], self.out_channels, *sizes)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={_format_pair(self.kernel_size)}, "
        text += f"stride={_format_pair(self.stride)}"
        if self.padding != (0, 0):
            text += f", padding={_format_pair(self.padding)}"
        if self.dilation != (1, 1):
            text += f", dilation={_format_pair(self.dilation)}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Linear(_Parametrized):
    """Fully connected layer: ``y = x w^T + b``.

    For input ``x`` of shape (N, in_features), weight ``w`` of shape (out_features, in_features) and bias ``b`` of
    shape (out_features,), the output has shape (N, out_features) with

        y[n, k] = b[k] + sum_i w[k, i] * x[n, i],

    computed by :func:`cnnlib.functional.linear`. The layer has ``out_features * (in_features + 1)`` parameters with
    a bias.

    Args:
        in_features: size of each input vector.
        out_features: size of each output vector.
        bias: whether to add a learned bias (initialized to zero).
        init: ``"he"`` (:func:`he_normal` with ``fan_in = in_features``, the default) or ``"glorot"``
            (:func:`glorot_uniform` with ``fan_out = out_features``).
        rng: a ``np.random.Generator`` or int seed for the initial weights (None: drawn from NumPy's global
            generator, which :func:`cnnlib.seed_everything` seeds).
        dtype: dtype of the parameters (float32 by default).

    Raises:
        TypeError: for a size that is not an int (3.5, 3.0 and True are refused, not truncated).
        ValueError: for non-positive sizes or an unknown ``init``.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, init: str = "he", rng=None, dtype=np.float32
    ) -> None:
        super().__init__()
        self.in_features = _positive_int("Linear", "in_features", in_features)
        self.out_features = _positive_int("Linear", "out_features", out_features)
        shape = (self.out_features, self.in_features)
        self.params["weight"] = _init_weight(init, shape, self.in_features, self.out_features, rng, dtype)
        if bias:
            self.params["bias"] = np.zeros(self.out_features, dtype=dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Input (N, in_features) -> output (N, out_features)."""
        x = np.asarray(x)
        self.output_shape(x.shape)
        self._cache = x
        return F.linear(x, self.weight, self.bias)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y (N, out_features) -> grad_x (N, in_features); fills ``grads`` by
        :func:`cnnlib.functional.linear_backward`."""
        grad_x, grad_weight, grad_bias = F.linear_backward(grad_y, self._forward_cache(), self.weight)
        self.grads["weight"] = grad_weight
        if self.bias is not None:
            self.grads["bias"] = grad_bias
        return grad_x

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = tuple(input_shape)
        _check_shape(self, shape, f"(N, {self.in_features})", len(shape) == 2 and shape[1] == self.in_features)
        return (shape[0], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(Module):
    """Rectified linear unit, elementwise: ``y = max(0, x)``; any input shape, output of the same shape."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        self._cache = x
        return F.relu(x)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """The gradient where the input was positive, zero elsewhere (:func:`cnnlib.functional.relu_backward`)."""
        return F.relu_backward(grad_y, self._forward_cache())

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(input_shape)


class _Pool2d(Module):
    """Shared part of the pooling layers: window, stride (default: the window), padding, and shape arithmetic."""

    _function = None
    _backward_function = None

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        if min(*self.kernel_size, *self.stride) <= 0 or min(self.padding) < 0:
            raise ValueError(
                f"kernel_size and stride must be positive and padding non-negative, got kernel_size="
                f"{self.kernel_size}, stride={self.stride}, padding={self.padding}"
            )
        if any(2 * pad > kernel for pad, kernel in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(
                f"padding must be at most half the window, got padding={self.padding} for kernel_size="
                f"{self.kernel_size}"
            )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Input (N, C, H, W) -> output (N, C, H_out, W_out)."""
        x = np.asarray(x)
        self.output_shape(x.shape)
        self._cache = x
        return type(self)._function(x, self.kernel_size, stride=self.stride, padding=self.padding)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y (N, C, H_out, W_out) -> grad_x (N, C, H, W)."""
        x = self._forward_cache()
        return type(self)._backward_function(grad_y, x, self.kernel_size, stride=self.stride, padding=self.padding)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = tuple(input_shape)
        _check_shape(self, shape, "(N, C, H, W)", len(shape) == 4)
        sizes = _output_hw(self, shape, self.kernel_size, self.stride, self.padding)
        return (shape[0], shape[1], *sizes)

    def extra_repr(self) -> str:
        def show(pair):
            return str(pair[0]) if pair[0] == pair[1] else _format_pair(pair)

        return f"kernel_size={show(self.kernel_size)}, stride={show(self.stride)}, padding={show(self.padding)}"


class MaxPool2d(_Pool2d):
    """Max pooling: the largest value in each window, channel by channel.

    For input (N, C, H, W), window (kh, kw), stride (sh, sw) and padding (ph, pw) (padding with minus infinity, so
    it never wins), the output has shape (N, C, H_out, W_out) with

        y[n, c, i, j] = max_{0 <= u < kh, 0 <= v < kw} x_pad[n, c, i * sh + u, j * sw + v]

        H_out = floor((H + 2 ph - kh) / sh) + 1   (W_out likewise),

    computed by :func:`cnnlib.functional.max_pool2d`. No parameters.

    Args:
        kernel_size: k or (kh, kw).
        stride: s or (sh, sw); None (the default) means the window size, so windows do not overlap.
        padding: p or (ph, pw), at most half the window.
    """

    _function = staticmethod(F.max_pool2d)
    _backward_function = staticmethod(F.max_pool2d_backward)


class AvgPool2d(_Pool2d):
    """Average pooling: the mean of each window, channel by channel.

    Same shapes as :class:`MaxPool2d`, with

        y[n, c, i, j] = (1 / (kh kw)) sum_{0 <= u < kh, 0 <= v < kw} x_pad[n, c, i * sh + u, j * sw + v],

    where padded zeros count in the mean (PyTorch's default ``count_include_pad=True``); computed by
    :func:`cnnlib.functional.avg_pool2d`. No parameters.

    Args:
        kernel_size: k or (kh, kw).
        stride: s or (sh, sw); None (the default) means the window size.
        padding: p or (ph, pw), at most half the window.
    """

    _function = staticmethod(F.avg_pool2d)
    _backward_function = staticmethod(F.avg_pool2d_backward)


class Flatten(Module):
    """Reshape (N, d1, d2, ...) to (N, d1 * d2 * ...), keeping the batch axis: the bridge from feature maps to a
    fully connected layer. In row-major (C, H, W) order, as ``torch.nn.Flatten`` does, so weights trained in torch
    read the same entries."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        self.output_shape(x.shape)
        self._cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y (N, d1 * d2 * ...) reshaped back to the input's shape (N, d1, d2, ...)."""
        return np.asarray(grad_y).reshape(self._forward_cache())

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = tuple(input_shape)
        _check_shape(self, shape, "(N, ...) with at least one axis after the batch axis", len(shape) >= 2)
        return (shape[0], math.prod(shape[1:]))


class Dropout(Module):
    """Dropout (Srivastava et al., 2014): in training, zero each input with probability ``p`` and scale the rest.

    In training mode, with a fresh random mask ``m`` of independent Bernoulli(1 - p) entries at every call,

        y = x * m / (1 - p),

    so that ``E[y] = x``: this "inverted" scaling makes the expected output the same in both modes, and in
    evaluation mode the layer is the identity, ``y = x``. The backward pass applies the same mask and scale. Any
    input shape; no parameters. Integer and boolean inputs are converted to float64 first, as every layer of
    :mod:`cnnlib.functional` does (the scaled values are not integers).

    Args:
        p: probability of zeroing an entry, in [0, 1).
        rng: a ``np.random.Generator`` or int seed for the masks (None: seeded from NumPy's global generator).

    Raises:
        TypeError: if ``p`` is not a real number.
        ValueError: if ``p`` is not in [0, 1).
    """

    def __init__(self, p: float = 0.5, rng=None) -> None:
        super().__init__()
        p = _real("Dropout", "p", p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.rng = _as_generator(rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = F._as_float_array(x, "x")  # integers and booleans become float64, as in cnnlib.functional
        if not self.training or self.p == 0.0:
            self._cache = np.ones((), dtype=x.dtype)  # the identity: gradients pass unchanged
            return x
        keep = self.rng.random(x.shape) >= self.p
        self._cache = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        return x * self._cache

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """The output gradient through the same mask and scale as the last forward pass."""
        return np.asarray(grad_y) * self._forward_cache()

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(input_shape)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm2d(Module):
    """Batch normalization over the channels of images (Ioffe and Szegedy, 2015).

    For input (N, C, H, W), each channel c is normalized by a mean and variance over the N * H * W values it
    holds, then scaled and shifted by learned ``weight`` (gamma) and ``bias`` (beta)::

        x_hat[n, c, i, j] = (x[n, c, i, j] - mean[c]) / sqrt(var[c] + eps)
        y[n, c, i, j]     = weight[c] * x_hat[n, c, i, j] + bias[c]

    In training mode, mean and var are the batch's own (var the biased variance), and the running estimates used in
    evaluation mode are updated as ``running = (1 - momentum) * running + momentum * batch_value`` (with the
    unbiased variance for ``running_var``), as ``torch.nn.BatchNorm2d`` does. In evaluation mode the running
    estimates replace the batch statistics, so the output of an image no longer depends on the rest of the batch.

    The backward pass in training mode accounts for the mean and variance depending on every input, which gives,
    with ``g = grad_y * weight`` and M = N * H * W values per channel::

        grad_x = (1 / (M * sqrt(var + eps))) * (M * g - sum(g) - x_hat * sum(g * x_hat))   (sums per channel)

    In training mode each channel needs more than one value (N * H * W > 1), as in torch: the variance of one value
    is 0 and would normalize it to 0 whatever it is. An empty batch (N * H * W = 0) gives an empty output and
    leaves the running estimates as they were, as torch does. Integer and boolean inputs are converted to float64.

    Args:
        num_features: C, the number of channels, a positive int.
        eps: added to the variance for numerical stability, a positive finite number.
        momentum: weight of the newest batch in the running estimates, in [0, 1].
        dtype: dtype of the parameters and running estimates.

    Raises:
        TypeError: for a ``num_features`` that is not an int, or an ``eps`` or ``momentum`` that is not a number.
        ValueError: for a non-positive ``num_features``, an ``eps`` not in (0, inf), or a ``momentum`` not in
            [0, 1]; and in training mode, for an input with exactly one value per channel.

    Attributes:
        running_mean: (C,) estimate of each channel's mean, starting at 0.
        running_var: (C,) estimate of each channel's variance, starting at 1.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, dtype=np.float32) -> None:
        super().__init__()
        self.num_features = _positive_int("BatchNorm2d", "num_features", num_features)
        self.eps, self.momentum = _real("BatchNorm2d", "eps", eps), _real("BatchNorm2d", "momentum", momentum)
        if not 0.0 < self.eps < math.inf:
            raise ValueError(f"BatchNorm2d: eps must be a positive finite number, got {self.eps}")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"BatchNorm2d: momentum must be in [0, 1], got {self.momentum}")
        self.params["weight"] = np.ones(self.num_features, dtype=dtype)
        self.params["bias"] = np.zeros(self.num_features, dtype=dtype)
        self.running_mean = np.zeros(self.num_features, dtype=dtype)
        self.running_var = np.ones(self.num_features, dtype=dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Input (N, C, H, W) -> output of the same shape."""
        x = F._as_float_array(x, "x")  # integers and booleans become float64, as in cnnlib.functional
        self.output_shape(x.shape)
        count = x.size // self.num_features  # values per channel, N * H * W
        if self.training and count == 0:  # as torch: nothing to normalize, nothing learned about the statistics
            self._cache = (x, np.ones((1, self.num_features, 1, 1), dtype=x.dtype), True)
            return x.copy()
        if self.training and count == 1:
            raise ValueError(
                f"{self!r}: expected more than 1 value per channel when training, got input of shape {x.shape}; "
                f"the batch variance of one value is 0 (call eval() to normalize with the running statistics)"
            )
        if self.training:
            mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
            unbiased_var = var * count / (count - 1)
            self.running_mean = ((1 - self.momentum) * self.running_mean + self.momentum * mean).astype(
                self.running_mean.dtype)
            self.running_var = ((1 - self.momentum) * self.running_var + self.momentum * unbiased_var).astype(
                self.running_var.dtype)
        else:
            mean, var = self.running_mean, self.running_var
        per_channel = (1, self.num_features, 1, 1)
        inverse_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype).reshape(per_channel)
        x_hat = (x - mean.astype(x.dtype).reshape(per_channel)) * inverse_std
        self._cache = (x_hat, inverse_std, self.training)
        return self.params["weight"].astype(x.dtype).reshape(per_channel) * x_hat + self.params["bias"].astype(
            x.dtype).reshape(per_channel)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y (N, C, H, W) -> grad_x of the same shape; fills ``grads["weight"]`` and ``grads["bias"]``."""
        x_hat, inverse_std, training = self._forward_cache()
        grad_y = np.asarray(grad_y)
        if grad_y.shape != x_hat.shape:
            raise ValueError(f"grad_y must have the output's shape {x_hat.shape}; got {grad_y.shape}")
        axes = (0, 2, 3)
        self.grads["bias"] = grad_y.sum(axis=axes)
        self.grads["weight"] = (grad_y * x_hat).sum(axis=axes)
        grad_x_hat = grad_y * self.params["weight"].astype(x_hat.dtype).reshape(1, -1, 1, 1)
        if not training:  # the running statistics are constants: the layer is affine
            return grad_x_hat * inverse_std
        count = x_hat.size // self.num_features
        if count == 0:  # an empty batch: an empty gradient
            return grad_x_hat
        sum_grad = grad_x_hat.sum(axis=axes, keepdims=True)
        sum_grad_x_hat = (grad_x_hat * x_hat).sum(axis=axes, keepdims=True)
        return inverse_std / count * (count * grad_x_hat - sum_grad - x_hat * sum_grad_x_hat)

    def astype(self, dtype) -> BatchNorm2d:
        super().astype(dtype)
        self.running_mean, self.running_var = self.running_mean.astype(dtype), self.running_var.astype(dtype)
        return self

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = tuple(input_shape)
        _check_shape(self, shape, f"(N, {self.num_features}, H, W)", len(shape) == 4 and shape[1] == self.num_features)
        return shape

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


# ----------------------------------------------------------------------------------------------------------------------
# Containers
# ----------------------------------------------------------------------------------------------------------------------


class Sequential(Module):
    """Layers applied one after the other: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Supports ``len``, iteration and indexing (an int gives a layer, a slice a new ``Sequential`` sharing the same
    layers). Parameters are named ``"<index>.<name>"`` as in torch's ``state_dict`` (``"0.weight"``).

    Args:
        *layers: :class:`Module` instances (a ``Sequential`` may contain another).

    Raises:
        TypeError: when a layer is not a :class:`Module`.
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for index, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"layer {index} of Sequential must be a cnnlib.nn.Module, got {type(layer).__name__}")
        self.layers: list[Module] = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """Backpropagation: the layers' backward passes in reverse order, each output gradient feeding the next.

        Returns the gradient with respect to the network's input; every layer's parameter gradients are then in
        :meth:`gradients`.
        """
        for layer in reversed(self.layers):
            grad_y = layer.backward(grad_y)
        return grad_y

    def forward_with_activations(self, x: np.ndarray) -> list[np.ndarray]:
        """Run the network and return every layer's output, in order (the last one is ``forward(x)``).

        Returns:
            A list of ``len(self)`` arrays; entry ``i`` is the output of layer ``i``.
        """
        outputs = []
        for layer in self.layers:
            x = layer(x)
            outputs.append(x)
        return outputs

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def output_shapes(self, input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The output shape of every layer for an input of shape ``input_shape``, in order, without data."""
        shapes, shape = [], tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
            shapes.append(shape)
        return shapes

    def parameters(self) -> dict[str, np.ndarray]:
        named = {}
        for index, layer in enumerate(self.layers):
            for name, value in layer.parameters().items():
                named[f"{index}.{name}"] = value
        return named

    def gradients(self) -> dict[str, np.ndarray]:
        named = {}
        for index, layer in enumerate(self.layers):
            for name, value in layer.gradients().items():
                named[f"{index}.{name}"] = value
        return named

    def astype(self, dtype) -> Sequential:
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def train(self, mode: bool = True) -> Sequential:
        super().train(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def zero_grad(self) -> None:
        super().zero_grad()
        for layer in self.layers:
            layer.zero_grad()

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        for index, layer in enumerate(self.layers):
            child = repr(layer).replace("\n", "\n  ")
            lines.append(f"  ({index}): {child}")
        lines.append(")")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------------
# From PyTorch
# ----------------------------------------------------------------------------------------------------------------------


def _numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()


def _unsupported(module, why: str) -> ValueError:
    supported = "Sequential, Conv2d, ReLU, MaxPool2d, AvgPool2d, Flatten, Linear, Dropout, BatchNorm2d"
    return ValueError(f"from_torch cannot convert {module!r}: {why} (supported: {supported})")


def _torch_padding(module) -> tuple[int, int]:
    """torch Conv2d padding, resolving the strings 'valid' and 'same' (stride 1) to symmetric zero padding."""
    if module.padding == "valid":
        return (0, 0)
    if module.padding == "same":
        pads = []
        for kernel, dilation in zip(module.kernel_size, module.dilation, strict=True):
            total = dilation * (kernel - 1)
            if total % 2:
                raise _unsupported(module, "padding='same' with an even kernel pads unevenly")
            pads.append(total // 2)
        return tuple(pads)
    return tuple(module.padding)


def from_torch(module) -> Module:
    """The cnnlib.nn equivalent of a PyTorch network, with its weights copied.

    Converts a ``torch.nn.Sequential`` (possibly nested) made of ``Conv2d``, ``ReLU``, ``MaxPool2d``, ``AvgPool2d``,
    ``Flatten``, ``Linear``, ``Dropout`` and ``BatchNorm2d`` layers, or one such layer, into the same network built
    from :mod:`cnnlib.nn`. The parameters (and batch normalization's running statistics) are copied, as NumPy arrays
    of the torch parameters' dtype, so changing one network afterwards does not change the other, and
    ``from_torch(model)(x)`` equals ``model(torch.from_numpy(x))`` up to rounding (dropout aside, in training mode).

    Args:
        module: a ``torch.nn.Module`` of the kinds above.

    Returns:
        A :class:`Module` (a :class:`Sequential` for a ``torch.nn.Sequential``), in the torch module's mode
        (training or evaluation).

    Raises:
        ValueError: naming the first layer that has no cnnlib equivalent (for example ``Sigmoid``) or that uses
            an option cnnlib does not implement (groups, ``ceil_mode``, ...).
    """
    from torch import nn

    def convert(layer) -> Module:
        if isinstance(layer, nn.Sequential):
            return Sequential(*(convert(child) for child in layer))
        if type(layer) is nn.Conv2d:
            if layer.groups != 1:
                raise _unsupported(layer, "grouped convolutions are not implemented")
            if layer.padding_mode != "zeros":
                raise _unsupported(layer, f"padding_mode={layer.padding_mode!r} is not implemented")
            converted = Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                               padding=_torch_padding(layer), dilation=layer.dilation, bias=layer.bias is not None,
                               rng=0)
            converted.params["weight"] = _numpy(layer.weight)
            if layer.bias is not None:
                converted.params["bias"] = _numpy(layer.bias)
            return converted
        if type(layer) is nn.Linear:
            converted = Linear(layer.in_features, layer.out_features, bias=layer.bias is not None, rng=0)
            converted.params["weight"] = _numpy(layer.weight)
            if layer.bias is not None:
                converted.params["bias"] = _numpy(layer.bias)
            return converted
        if type(layer) is nn.ReLU:
            return ReLU()
        if type(layer) is nn.MaxPool2d:
            if layer.ceil_mode or layer.return_indices or _pair(layer.dilation, "dilation") != (1, 1):
                raise _unsupported(layer, "ceil_mode, return_indices and dilation are not implemented")
            return MaxPool2d(layer.kernel_size, stride=layer.stride, padding=layer.padding)
        if type(layer) is nn.AvgPool2d:
            if layer.ceil_mode or not layer.count_include_pad or layer.divisor_override is not None:
                raise _unsupported(layer, "ceil_mode, count_include_pad=False and divisor_override are not implemented")
            return AvgPool2d(layer.kernel_size, stride=layer.stride, padding=layer.padding)
        if type(layer) is nn.Dropout:
            return Dropout(layer.p, rng=0)
        if type(layer) is nn.BatchNorm2d:
            if not layer.affine or not layer.track_running_stats or layer.momentum is None:
                raise _unsupported(layer, "affine=False, track_running_stats=False and momentum=None are not "
                                          "implemented")
            converted = BatchNorm2d(layer.num_features, eps=layer.eps, momentum=layer.momentum)
            converted.params["weight"], converted.params["bias"] = _numpy(layer.weight), _numpy(layer.bias)
            converted.running_mean, converted.running_var = _numpy(layer.running_mean), _numpy(layer.running_var)
            return converted
        if type(layer) is nn.Flatten:
            if layer.start_dim != 1 or layer.end_dim != -1:
                raise _unsupported(layer, "only Flatten(start_dim=1, end_dim=-1) is implemented")
            return Flatten()
        raise _unsupported(layer, f"{type(layer).__name__} has no cnnlib.nn equivalent")

    converted = convert(module)
    return converted.train(module.training)
