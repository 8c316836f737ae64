"""The forward and backward passes of a convolutional network, in NumPy.

Every layer the book teaches is a function here: convolution (a loop version that follows the definition and a
fast version built on ``im2col``), one-channel convolution and correlation as in ``scipy.signal``, max and
average pooling, ReLU, the fully connected layer, softmax, log-softmax and the cross-entropy loss.

Each layer ``f`` has a backward function ``f_backward(grad_y, ...)``: given the gradient of a scalar loss with
respect to the layer's output, ``grad_y = dL/dy`` (same shape as y), it returns the gradient with respect to the
layer's input (and parameters), by the chain rule. The backward functions take the forward pass's inputs rather
than a cache, so each can be read and tested on its own.

Conventions, the same as PyTorch's ``torch.nn.functional``:

- images are batches of shape ``(N, C, H, W)``: batch, channels, height, width;
- convolution weights have shape ``(C_out, C_in, kh, kw)``; linear weights have shape ``(out, in)``;
- ``kernel_size``, ``stride``, ``padding`` and ``dilation`` are an int or an ``(h, w)`` pair;
- float32 and float64 inputs keep their dtype; integer and boolean inputs are converted to float64;
  weights and biases are cast to the dtype of the input;
- bad input raises ``ValueError`` with a message that names what was expected and what came.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "col2im",
    "conv2d",
    "conv2d_backward",
    "conv2d_loops",
    "conv_output_size",
    "convolve2d",
    "correlate2d",
    "cross_entropy",
    "cross_entropy_backward",
    "im2col",
    "linear",
    "linear_backward",
    "log_softmax",
    "max_pool2d",
    "max_pool2d_backward",
    "relu",
    "relu_backward",
    "softmax",
]

# conv2d builds the im2col matrix for a few images at a time, about this many bytes of it (or one image):
# small enough for the matrix product to read it back from cache, and to avoid fresh memory for a huge array.
_IM2COL_CHUNK_BYTES = 4 * 2**20


# ------------------------------------------------------------------------------------------------------------
# Checking arguments
# ------------------------------------------------------------------------------------------------------------


def _as_float_array(array, name: str) -> np.ndarray:
    """``array`` as a float ndarray: floats keep their dtype, integers and booleans become float64."""
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.floating):
        return array
    if np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        return array.astype(np.float64)
    raise ValueError(f"{name} must hold real numbers (float, int or bool); got dtype {array.dtype}")


def _check_ndim(array: np.ndarray, ndim: int, name: str, layout: str) -> None:
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D with shape {layout}; got shape {array.shape}")


def _pair(value, name: str) -> tuple[int, int]:
    """Return an int or an (h, w) pair of ints as a pair of Python ints."""

    def is_int(item) -> bool:
        return isinstance(item, int | np.integer) and not isinstance(item, bool | np.bool_)

    if is_int(value):
        return int(value), int(value)
    if isinstance(value, tuple | list) and len(value) == 2 and all(is_int(item) for item in value):
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an int or an (h, w) pair of ints; got {value!r}")


def _positive_pair(value, name: str) -> tuple[int, int]:
    pair = _pair(value, name)
    if min(pair) < 1:
        raise ValueError(f"{name} must be positive; got {value!r}")
    return pair


def _non_negative_pair(value, name: str) -> tuple[int, int]:
    pair = _pair(value, name)
    if min(pair) < 0:
        raise ValueError(f"{name} must be non-negative; got {value!r}")
    return pair


def _check_bias(bias, num_channels: int, dtype: np.dtype) -> np.ndarray | None:
    if bias is None:
        return None
    bias = _as_float_array(bias, "bias").astype(dtype, copy=False)
    if bias.shape != (num_channels,):
        raise ValueError(f"bias must have shape ({num_channels},); got shape {bias.shape}")
    return bias


def _output_shape(input_hw, kernel_hw, stride, padding, dilation) -> tuple[int, int]:
    """(H_out, W_out) of a sliding window, or ValueError naming the shapes if the window does not fit."""
    extent = tuple(d * (k - 1) + 1 for k, d in zip(kernel_hw, dilation, strict=True))
    padded = tuple(size + 2 * p for size, p in zip(input_hw, padding, strict=True))
    if extent[0] > padded[0] or extent[1] > padded[1]:
        raise ValueError(
            f"the kernel window {extent} (dilation included) is larger than the padded input {padded} "
            f"(input {tuple(input_hw)}, padding {padding})"
        )
    return tuple(
        conv_output_size(size, k, s, p, d)
        for size, k, s, p, d in zip(input_hw, kernel_hw, stride, padding, dilation, strict=True)
    )


def _check_conv2d(x, weight, bias, stride, padding, dilation):
    """Validate conv2d's arguments; return them as arrays and pairs, with the output height and width."""
    x = _as_float_array(x, "x")
    _check_ndim(x, 4, "x", "(N, C_in, H, W)")
    weight = _as_float_array(weight, "weight").astype(x.dtype, copy=False)
    _check_ndim(weight, 4, "weight", "(C_out, C_in, kh, kw)")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} channels but weight expects C_in = {weight.shape[1]}: "
            f"x shape {x.shape}, weight shape {weight.shape}"
        )
    if x.shape[1] == 0:
        raise ValueError(
            f"x and weight must have at least one input channel (C_in >= 1); got x shape {x.shape}, "
            f"weight shape {weight.shape}"
        )
    bias = _check_bias(bias, weight.shape[0], x.dtype)
    stride = _positive_pair(stride, "stride")
    padding = _non_negative_pair(padding, "padding")
    dilation = _positive_pair(dilation, "dilation")
    output_hw = _output_shape(x.shape[2:], weight.shape[2:], stride, padding, dilation)
    return x, weight, bias, stride, padding, dilation, output_hw


# ------------------------------------------------------------------------------------------------------------
# Sliding windows
# ------------------------------------------------------------------------------------------------------------


def _pad_hw(x: np.ndarray, padding: tuple[int, int], value: float = 0.0) -> np.ndarray:
    """Pad the last two axes of ``x`` by padding = (ph, pw) on each side with ``value``."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    height, width = x.shape[-2:]
    padded = np.full((*x.shape[:-2], height + 2 * ph, width + 2 * pw), value, dtype=x.dtype)
    padded[..., ph : ph + height, pw : pw + width] = x
    return padded


def _windows(x_padded: np.ndarray, kernel_size, stride, dilation) -> np.ndarray:
    """A read-only view of every kernel window of the last two axes, without copying.

    For x_padded of shape (..., Hp, Wp) the view has shape (..., H_out, W_out, kh, kw) and
    view[..., i, j, u, v] = x_padded[..., i * sh + u * dh, j * sw + v * dw].
    """
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    extent = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    every_window = sliding_window_view(x_padded, extent, axis=(-2, -1))
    return every_window[..., ::sh, ::sw, ::dh, ::dw]


# ------------------------------------------------------------------------------------------------------------
# Convolution
# ------------------------------------------------------------------------------------------------------------


def conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Output length of a convolution or pooling along one spatial dimension.

    A kernel of size k dilated by d spans d(k - 1) + 1 input positions; it is placed at every s-th position of
    the input padded by p on both sides, so::

        out = floor((size + 2p - d(k - 1) - 1) / s) + 1

    Args:
        size: Input length (height or width), an int >= 1.
        kernel_size: Kernel length k, an int >= 1.
        stride: Step s between neighbouring windows, an int >= 1.
        padding: Zeros p added on each side, an int >= 0.
        dilation: Spacing d between kernel elements, an int >= 1.

    Returns:
        The output length, an int >= 1.

    Raises:
        ValueError: If an argument is out of range, or the dilated kernel is longer than the padded input.
    """
    for name, value, smallest in [
        ("size", size, 1),
        ("kernel_size", kernel_size, 1),
        ("stride", stride, 1),
        ("padding", padding, 0),
        ("dilation", dilation, 1),
    ]:
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < smallest:
            raise ValueError(f"{name} must be an int >= {smallest}; got {value!r}")
    extent = dilation * (kernel_size - 1) + 1
    if extent > size + 2 * padding:
        raise ValueError(
            f"the kernel window {extent} (dilation included) is longer than the padded input "
            f"{size + 2 * padding} (size {size}, padding {padding})"
        )
    return (size + 2 * padding - extent) // stride + 1


def im2col(x, kernel_size, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Unfold every kernel window of a batch of images into a column of a matrix ("image to columns").

    After im2col, a convolution is one matrix product: with W the weight reshaped to (C_out, C*kh*kw), the
    product ``W @ im2col(x, ...)`` has shape (N, C_out, H_out*W_out) and is the convolution's output. Column
    ``i * W_out + j`` of image n holds the window under output position (i, j)::

        cols[n, (c * kh + u) * kw + v, i * W_out + j] = x_padded[n, c, i * sh + u * dh, j * sw + v * dw]

    where x_padded is x with ``padding`` zeros on each side of H and W.

    Args:
        x: Images of shape (N, C, H, W).
        kernel_size: Kernel size (kh, kw), an int or a pair.
        stride: Step (sh, sw) between windows, an int or a pair.
        padding: Zeros (ph, pw) added on each side, an int or a pair.
        dilation: Spacing (dh, dw) between kernel elements, an int or a pair.

    Returns:
        cols of shape (N, C*kh*kw, H_out*W_out) and x's dtype, where
        ``H_out = floor((H + 2ph - dh(kh - 1) - 1) / sh) + 1`` and likewise W_out. It is a new array, except
        for a 1x1 kernel with stride 1 and no padding: there x already is the matrix, and cols is a read-only
        view of it.

    Raises:
        ValueError: If x is not 4-D, an argument is out of range, or the kernel does not fit the padded input.
    """
    x = _as_float_array(x, "x")
    _check_ndim(x, 4, "x", "(N, C, H, W)")
    kernel_size = _positive_pair(kernel_size, "kernel_size")
    stride = _positive_pair(stride, "stride")
    padding = _non_negative_pair(padding, "padding")
    dilation = _positive_pair(dilation, "dilation")
    _output_shape(x.shape[2:], kernel_size, stride, padding, dilation)

    # windows[n, c, i, j] is the (kh, kw) window under output position (i, j): a view, nothing is copied yet.
    windows = _windows(_pad_hw(x, padding), kernel_size, stride, dilation)  # (N, C, H_out, W_out, kh, kw)
    num_images, channels, height_out, width_out, kh, kw = windows.shape
    # Order the axes (N, C, kh, kw, H_out, W_out); the reshape then copies each window into its column.
    columns = windows.transpose(0, 1, 4, 5, 2, 3)
    return columns.reshape(num_images, channels * kh * kw, height_out * width_out)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """2-D convolution of a batch of images, computed as im2col followed by one matrix product.

    Like every deep-learning library, this computes a cross-correlation (the kernel is not flipped)::

        out[n, o, i, j] = bias[o] + sum over c, u, v of
                          weight[o, c, u, v] * x_padded[n, c, i * sh + u * dh, j * sw + v * dw]

    where x_padded is x with zeros added on each side of H and W. The result equals PyTorch's
    ``torch.nn.functional.conv2d`` (with groups=1) and :func:`conv2d_loops`. The images are processed a few
    at a time so that the im2col matrix stays a few MiB however large the batch.

    Args:
        x: Images of shape (N, C_in, H, W).
        weight: Kernels of shape (C_out, C_in, kh, kw).
        bias: None, or biases of shape (C_out,).
        stride: Step (sh, sw) between output positions, an int or a pair.
        padding: Zeros (ph, pw) added on each side, an int or a pair.
        dilation: Spacing (dh, dw) between kernel elements, an int or a pair.

    Returns:
        out of shape (N, C_out, H_out, W_out) and x's dtype (float64 if x holds integers), where
        ``H_out = floor((H + 2ph - dh(kh - 1) - 1) / sh) + 1`` and likewise
        ``W_out = floor((W + 2pw - dw(kw - 1) - 1) / sw) + 1``.

    Raises:
        ValueError: If a shape or an argument is wrong: x or weight not 4-D, channels that do not match or
            are zero (C_in = 0), a bias not of shape (C_out,), a non-positive stride or dilation, a negative
            padding, or a kernel larger than the padded input.
    """
    x, weight, bias, stride, padding, dilation, (height_out, width_out) = _check_conv2d(
        x, weight, bias, stride, padding, dilation
    )
    num_images, channels_in = x.shape[:2]
    channels_out, _, kh, kw = weight.shape
    weight_matrix = weight.reshape(channels_out, channels_in * kh * kw)
    out = np.empty((num_images, channels_out, height_out * width_out), dtype=x.dtype)

    column_bytes = channels_in * kh * kw * height_out * width_out * x.itemsize
    images_per_chunk = max(1, _IM2COL_CHUNK_BYTES // column_bytes)
    for start in range(0, num_images, images_per_chunk):
        stop = start + images_per_chunk
        columns = im2col(x[start:stop], (kh, kw), stride, padding, dilation)  # (n, C_in*kh*kw, H_out*W_out)
        np.matmul(weight_matrix, columns, out=out[start:stop])  # (n, C_out, H_out*W_out)
        if bias is not None:
            out[start:stop] += bias[:, np.newaxis]  # while this chunk of the output is still in cache
    return out.reshape(num_images, channels_out, height_out, width_out)


def conv2d_loops(x, weight, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """2-D convolution computed from its definition, one output value at a time (slow; for teaching).

    Each output value is the sum, over the input channels and the kernel, of the kernel times the window of
    the padded input under it::

        out[n, o, i, j] = bias[o] + sum over c, u, v of
                          weight[o, c, u, v] * x_padded[n, c, i * sh + u * dh, j * sw + v * dw]

    This is a cross-correlation, as in PyTorch. It gives the same result as :func:`conv2d`.

    Args:
        x: Images of shape (N, C_in, H, W).
        weight: Kernels of shape (C_out, C_in, kh, kw).
        bias: None, or biases of shape (C_out,).
        stride: Step (sh, sw) between output positions, an int or a pair.
        padding: Zeros (ph, pw) added on each side, an int or a pair.
        dilation: Spacing (dh, dw) between kernel elements, an int or a pair.

    Returns:
        out of shape (N, C_out, H_out, W_out) and x's dtype, where
        ``H_out = floor((H + 2ph - dh(kh - 1) - 1) / sh) + 1`` and likewise W_out.

    Raises:
        ValueError: For the same bad input as :func:`conv2d`.
    """
    x, weight, bias, stride, padding, dilation, (height_out, width_out) = _check_conv2d(
        x, weight, bias, stride, padding, dilation
    )
    (sh, sw), (dh, dw) = stride, dilation
    num_images = x.shape[0]
    channels_out, _, kh, kw = weight.shape
    x_padded = _pad_hw(x, padding)
    out = np.zeros((num_images, channels_out, height_out, width_out), dtype=x.dtype)

    extent_h, extent_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1  # the input rows and columns a kernel spans

    for n in range(num_images):
        for o in range(channels_out):
            bias_value = 0 if bias is None else bias[o]
            for i in range(height_out):
                for j in range(width_out):
                    top, left = i * sh, j * sw
                    # The window under output (i, j): kh rows dh apart, kw columns dw apart, in every channel.
                    window = x_padded[n, :, top : top + extent_h : dh, left : left + extent_w : dw]
                    out[n, o, i, j] = bias_value + np.sum(weight[o] * window)
    return out


def _check_grad_y(grad_y, expected_shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """grad_y as an array of the forward output's shape and the input's dtype, or ValueError naming both shapes."""
    grad_y = _as_float_array(grad_y, "grad_y").astype(dtype, copy=False)
    if grad_y.shape != tuple(expected_shape):
        raise ValueError(
            f"grad_y must have the shape of the forward output, {tuple(expected_shape)}; got shape {grad_y.shape}"
        )
    return grad_y


def col2im(columns, input_shape, kernel_size, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Fold columns back into images: the adjoint of :func:`im2col`, which sums where windows overlap.

    im2col copies every input value into each window that covers it; col2im sends each entry of a column back to
    the input position it was copied from and adds up the entries that meet there::

        out[n, c, row, col] = sum of columns[n, (c * kh + u) * kw + v, i * W_out + j] over every (u, v, i, j)
                              with i * sh + u * dh - ph = row and j * sw + v * dw - pw = col

    This is exactly what the backward pass of a convolution needs: the gradient of each window's column, summed
    back onto the input. Entries that fall in the padding are dropped.

    Args:
        columns: Array of shape (N, C*kh*kw, H_out*W_out), laid out as :func:`im2col` returns.
        input_shape: The shape (N, C, H, W) of the images im2col unfolded.
        kernel_size: Kernel size (kh, kw), an int or a pair.
        stride: Step (sh, sw) between windows, an int or a pair.
        padding: Zeros (ph, pw) added on each side, an int or a pair.
        dilation: Spacing (dh, dw) between kernel elements, an int or a pair.

    Returns:
        out of shape (N, C, H, W) and columns' dtype.

    Raises:
        ValueError: If input_shape is not 4 sizes, an argument is out of range, the kernel does not fit, or
            columns does not have the shape im2col would give.
    """
    columns = _as_float_array(columns, "columns")
    if len(input_shape) != 4 or not all(
        isinstance(size, int | np.integer) and not isinstance(size, bool | np.bool_) and size >= 0
        for size in input_shape
    ):
        raise ValueError(f"input_shape must be (N, C, H, W), four non-negative ints; got {tuple(input_shape)}")
    num_images, channels, height, width = (int(size) for size in input_shape)
    kernel_size = _positive_pair(kernel_size, "kernel_size")
    stride = _positive_pair(stride, "stride")
    padding = _non_negative_pair(padding, "padding")
    dilation = _positive_pair(dilation, "dilation")
    height_out, width_out = _output_shape((height, width), kernel_size, stride, padding, dilation)
    (kh, kw), (sh, sw), (dh, dw), (ph, pw) = kernel_size, stride, dilation, padding
    expected = (num_images, channels * kh * kw, height_out * width_out)
    if columns.shape != expected:
        raise ValueError(f"columns must have shape {expected} for input_shape {tuple(input_shape)}; "
                         f"got shape {columns.shape}")

    windows = columns.reshape(num_images, channels, kh, kw, height_out, width_out)
    out_padded = np.zeros((num_images, channels, height + 2 * ph, width + 2 * pw), dtype=columns.dtype)
    # Offset (u, v) of every window lands on a strided grid of input positions, one position per window, so
    # each kernel offset is one vectorized addition; the kh * kw additions sum the overlaps.
    for u in range(kh):
        for v in range(kw):
            top, left = u * dh, v * dw
            out_padded[:, :, top : top + sh * height_out : sh, left : left + sw * width_out : sw] += windows[
                :, :, u, v
            ]
    return out_padded[:, :, ph : ph + height, pw : pw + width]


def conv2d_backward(grad_y, x, weight, stride=1, padding=0, dilation=1):
    """Gradients of a loss through :func:`conv2d`, given the gradient with respect to its output.

    With ``y = conv2d(x, weight, bias, ...)`` and ``grad_y = dL/dy``, the chain rule sums, over every output
    position, the output gradient times the derivative of that output::

        grad_bias[o]            = sum over n, i, j of grad_y[n, o, i, j]
        grad_weight[o, c, u, v] = sum over n, i, j of grad_y[n, o, i, j] * x_padded[n, c, i*sh + u*dh, j*sw + v*dw]
        grad_x[n, c, row, col]  = sum of grad_y[n, o, i, j] * weight[o, c, u, v] over every (o, u, v, i, j)
                                  with i*sh + u*dh - ph = row and j*sw + v*dw - pw = col

    The weight gradient is a correlation of the input with the output gradient; the input gradient is a "full"
    convolution of the output gradient with the kernel (for stride 1, a correlation with the flipped kernel).
    Both are computed as matrix products over :func:`im2col` columns, the second folded back by :func:`col2im`,
    a few images at a time, as :func:`conv2d` does.

    Args:
        grad_y: Gradient of the loss with respect to the output, shape (N, C_out, H_out, W_out).
        x: The forward pass's input, shape (N, C_in, H, W).
        weight: The forward pass's kernels, shape (C_out, C_in, kh, kw).
        stride: The forward pass's stride, an int or a pair.
        padding: The forward pass's padding, an int or a pair.
        dilation: The forward pass's dilation, an int or a pair.

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` of shapes (N, C_in, H, W), (C_out, C_in, kh, kw) and (C_out,), in
        x's dtype. grad_bias is the gradient a bias would have; ignore it for a convolution without bias.

    Raises:
        ValueError: For the bad input :func:`conv2d` rejects, or a grad_y whose shape is not the output's.
    """
    x, weight, _, stride, padding, dilation, (height_out, width_out) = _check_conv2d(
        x, weight, None, stride, padding, dilation
    )
    num_images, channels_in = x.shape[:2]
    channels_out, _, kh, kw = weight.shape
    grad_y = _check_grad_y(grad_y, (num_images, channels_out, height_out, width_out), x.dtype)
    grad_y_matrix = grad_y.reshape(num_images, channels_out, height_out * width_out)
    weight_matrix = weight.reshape(channels_out, channels_in * kh * kw)

    grad_bias = grad_y.sum(axis=(0, 2, 3))
    grad_weight_matrix = np.zeros_like(weight_matrix)
    grad_x = np.empty_like(x)
    column_bytes = channels_in * kh * kw * height_out * width_out * x.itemsize
    images_per_chunk = max(1, _IM2COL_CHUNK_BYTES // column_bytes)
    for start in range(0, num_images, images_per_chunk):
        stop = min(start + images_per_chunk, num_images)
        grad_y_chunk = grad_y_matrix[start:stop]  # (n, C_out, H_out*W_out)
        # Weight gradient: each output gradient times the window it was computed from, summed over windows.
        columns = im2col(x[start:stop], (kh, kw), stride, padding, dilation)  # (n, C_in*kh*kw, H_out*W_out)
        grad_weight_matrix += np.matmul(grad_y_chunk, columns.transpose(0, 2, 1)).sum(axis=0)
        # Free the columns before the next matrix of the same size is made: holding both doubles the memory, and
        # releasing two such blocks at once makes the C allocator hand them back to the system on every call, so
        # that each call pays again to fault fresh pages in (three times slower here for LeNet's second layer).
        del columns
        # Input gradient: each window's share of the output gradient, folded back onto the input.
        grad_columns = np.matmul(weight_matrix.T, grad_y_chunk)  # (n, C_in*kh*kw, H_out*W_out)
        grad_x[start:stop] = col2im(grad_columns, x[start:stop].shape, (kh, kw), stride, padding, dilation)
    return grad_x, grad_weight_matrix.reshape(weight.shape), grad_bias


# ------------------------------------------------------------------------------------------------------------
# One-channel convolution and correlation, as in scipy.signal
# ------------------------------------------------------------------------------------------------------------


def _check_image_and_kernel(image, kernel, mode: str) -> tuple[np.ndarray, np.ndarray]:
    image = _as_float_array(image, "image")
    _check_ndim(image, 2, "image", "(H, W)")
    kernel = _as_float_array(kernel, "kernel").astype(image.dtype, copy=False)
    _check_ndim(kernel, 2, "kernel", "(kh, kw)")
    if mode not in ("full", "valid", "same"):
        raise ValueError(f"mode must be 'full', 'valid' or 'same'; got {mode!r}")
    if 0 in image.shape or 0 in kernel.shape:
        raise ValueError(f"image and kernel must not be empty; got shapes {image.shape} and {kernel.shape}")
    if mode == "valid" and (kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]):
        raise ValueError(
            f"in 'valid' mode the kernel must fit inside the image; got kernel shape {kernel.shape} "
            f"and image shape {image.shape}"
        )
    return image, kernel


def _correlate2d_padded(image, kernel, before: tuple[int, int], after: tuple[int, int]) -> np.ndarray:
    """Valid correlation of ``image`` padded with zeros: ``before`` (top, left), ``after`` (bottom, right)."""
    padded = np.pad(image, ((before[0], after[0]), (before[1], after[1])))
    windows = sliding_window_view(padded, kernel.shape)  # (H_out, W_out, kh, kw)
    return np.tensordot(windows, kernel, axes=2)


def correlate2d(image, kernel, mode: str = "full") -> np.ndarray:
    """Cross-correlation of one 2-D image with a 2-D kernel, the same as ``scipy.signal.correlate2d``.

    The kernel slides over the image without being flipped::

        out[i, j] = sum over u, v of kernel[u, v] * image[i + u - r, j + v - c]

    with the image taken as zero outside its borders. The offsets (r, c) and the output shape depend on
    ``mode``:

    - "full": every overlap of kernel and image; shape (H + kh - 1, W + kw - 1), r = kh - 1, c = kw - 1;
    - "valid": only where the kernel lies inside the image; shape (H - kh + 1, W - kw + 1), r = c = 0;
    - "same": the centre of "full", shape (H, W), r = (kh - 1) // 2, c = (kw - 1) // 2 (scipy's centring).

    Args:
        image: Array of shape (H, W).
        kernel: Array of shape (kh, kw); cast to image's dtype.
        mode: "full", "valid" or "same".

    Returns:
        out with the shape given by ``mode``, in image's dtype (float64 for an integer image).

    Raises:
        ValueError: If image or kernel is not 2-D or empty, mode is unknown, or in "valid" mode the kernel is
            larger than the image along either axis.
    """
    image, kernel = _check_image_and_kernel(image, kernel, mode)
    kh, kw = kernel.shape
    if mode == "full":
        before = after = (kh - 1, kw - 1)
    elif mode == "valid":
        before = after = (0, 0)
    else:
        before, after = ((kh - 1) // 2, (kw - 1) // 2), (kh // 2, kw // 2)
    return _correlate2d_padded(image, kernel, before, after)


def convolve2d(image, kernel, mode: str = "full") -> np.ndarray:
    """True 2-D convolution of one image with a kernel, the same as ``scipy.signal.convolve2d``.

    Convolution flips the kernel in both directions before sliding it over the image::

        out[i, j] = sum over u, v of kernel[u, v] * image[i - u + r, j - v + c]

    with the image taken as zero outside its borders; it is the cross-correlation (:func:`correlate2d`) with
    ``kernel[::-1, ::-1]``. The offsets (r, c) and the output shape depend on ``mode``:

    - "full": every overlap of kernel and image; shape (H + kh - 1, W + kw - 1), r = c = 0;
    - "valid": only where the kernel lies inside the image; shape (H - kh + 1, W - kw + 1), r = kh - 1,
      c = kw - 1;
    - "same": the centre of "full", shape (H, W), r = (kh - 1) // 2, c = (kw - 1) // 2 (scipy's centring).

    Args:
        image: Array of shape (H, W).
        kernel: Array of shape (kh, kw); cast to image's dtype.
        mode: "full", "valid" or "same".

    Returns:
        out with the shape given by ``mode``, in image's dtype (float64 for an integer image).

    Raises:
        ValueError: If image or kernel is not 2-D or empty, mode is unknown, or in "valid" mode the kernel is
            larger than the image along either axis.
    """
    image, kernel = _check_image_and_kernel(image, kernel, mode)
    kh, kw = kernel.shape
    if mode == "full":
        before = after = (kh - 1, kw - 1)
    elif mode == "valid":
        before = after = (0, 0)
    else:
        before, after = (kh // 2, kw // 2), ((kh - 1) // 2, (kw - 1) // 2)
    return _correlate2d_padded(image, kernel[::-1, ::-1], before, after)


# ------------------------------------------------------------------------------------------------------------
# Pooling
# ------------------------------------------------------------------------------------------------------------


def _check_pool2d(x, kernel_size, stride, padding):
    """Validate a pooling layer's arguments; return them as an array and pairs, with the output (H, W)."""
    x = _as_float_array(x, "x")
    _check_ndim(x, 4, "x", "(N, C, H, W)")
    kernel_size = _positive_pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else _positive_pair(stride, "stride")
    padding = _non_negative_pair(padding, "padding")
    if 2 * padding[0] > kernel_size[0] or 2 * padding[1] > kernel_size[1]:
        raise ValueError(
            f"padding must be at most half of kernel_size; got padding {padding}, kernel_size {kernel_size}"
        )
    output_hw = _output_shape(x.shape[2:], kernel_size, stride, padding, (1, 1))
    return x, kernel_size, stride, padding, output_hw


def max_pool2d(x, kernel_size, stride=None, padding=0) -> np.ndarray:
    """2-D max pooling: the largest value in each kernel window of each channel, as PyTorch's ``max_pool2d``::

        out[n, c, i, j] = max over u < kh, v < kw of x_padded[n, c, i * sh + u, j * sw + v]

    where x_padded is x with -inf added on each side, so padding never wins the maximum.

    Args:
        x: Images of shape (N, C, H, W).
        kernel_size: Window size (kh, kw), an int or a pair.
        stride: Step (sh, sw) between windows, an int or a pair; None (the default) means kernel_size.
        padding: Values (ph, pw) added on each side, an int or a pair, at most half of kernel_size.

    Returns:
        out of shape (N, C, H_out, W_out) and x's dtype, where ``H_out = floor((H + 2ph - kh) / sh) + 1`` and
        likewise W_out.

    Raises:
        ValueError: If x is not 4-D, an argument is out of range, padding is more than half the kernel, or the
            window is larger than the padded input.
    """
    x, kernel_size, stride, padding, _ = _check_pool2d(x, kernel_size, stride, padding)
    x_padded = _pad_hw(x, padding, -np.inf)
    windows = _windows(x_padded, kernel_size, stride, (1, 1))  # (N, C, H_out, W_out, kh, kw), a view
    # windows[..., u, v] is the value at offset (u, v) of every window at once, an (N, C, H_out, W_out) view.
    # Taking the maximum over the kh * kw offsets one at a time is much faster than windows.max(axis=(4, 5)).
    out = windows[..., 0, 0].copy()
    for u in range(kernel_size[0]):
        for v in range(kernel_size[1]):
            np.maximum(out, windows[..., u, v], out=out)
    return out


def avg_pool2d(x, kernel_size, stride=None, padding=0) -> np.ndarray:
    """2-D average pooling: the mean of each kernel window of each channel, as PyTorch's ``avg_pool2d``::

        out[n, c, i, j] = (1 / (kh * kw)) * sum over u < kh, v < kw of x_padded[n, c, i * sh + u, j * sw + v]

    where x_padded is x with zeros added on each side. The padded zeros count in the mean, which is PyTorch's
    default (count_include_pad=True, ceil_mode=False).

    Args:
        x: Images of shape (N, C, H, W).
        kernel_size: Window size (kh, kw), an int or a pair.
        stride: Step (sh, sw) between windows, an int or a pair; None (the default) means kernel_size.
        padding: Zeros (ph, pw) added on each side, an int or a pair, at most half of kernel_size.

    Returns:
        out of shape (N, C, H_out, W_out) and x's dtype, where ``H_out = floor((H + 2ph - kh) / sh) + 1`` and
        likewise W_out.

    Raises:
        ValueError: If x is not 4-D, an argument is out of range, padding is more than half the kernel, or the
            window is larger than the padded input.
    """
    x, kernel_size, stride, padding, _ = _check_pool2d(x, kernel_size, stride, padding)
    windows = _windows(_pad_hw(x, padding), kernel_size, stride, (1, 1))  # (N, C, H_out, W_out, kh, kw)
    # The sum over the kh * kw offsets, one (N, C, H_out, W_out) view at a time, as in max_pool2d.
    out = np.zeros(windows.shape[:4], dtype=x.dtype)
    for u in range(kernel_size[0]):
        for v in range(kernel_size[1]):
            out += windows[..., u, v]
    out /= kernel_size[0] * kernel_size[1]
    return out


def max_pool2d_backward(grad_y, x, kernel_size, stride=None, padding=0) -> np.ndarray:
    """Gradient of a loss through :func:`max_pool2d`: each window's gradient goes to the input that won its maximum.

    The maximum of a window depends on its largest entry alone, with derivative 1, so::

        grad_x[n, c, row, col] = sum of grad_y[n, c, i, j] over the windows (i, j) whose maximum is x[n, c, row, col]

    Every other input gets no gradient from that window. Overlapping windows (stride smaller than the window) can
    route several gradients to the same input; they add up. Where the maximum is not unique, the gradient goes
    where PyTorch's CPU kernel sends it (checked against ``torch.autograd`` in the tests):

    - several equal maxima: the first in row-major order within the window;
    - a window whose inputs are all -inf: its first input in row-major order, never the padding (which
      :func:`max_pool2d` fills with -inf too);
    - a window holding NaN (its maximum is NaN, as in PyTorch): the last NaN in row-major order.

    Args:
        grad_y: Gradient of the loss with respect to the output, shape (N, C, H_out, W_out).
        x: The forward pass's input, shape (N, C, H, W).
        kernel_size: The forward pass's window size, an int or a pair.
        stride: The forward pass's stride; None means kernel_size.
        padding: The forward pass's padding.

    Returns:
        grad_x of shape (N, C, H, W) and x's dtype.

    Raises:
        ValueError: For the bad input :func:`max_pool2d` rejects, or a grad_y whose shape is not the output's.
    """
    x, kernel_size, stride, padding, output_hw = _check_pool2d(x, kernel_size, stride, padding)
    grad_y = _check_grad_y(grad_y, (*x.shape[:2], *output_hw), x.dtype)
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    height_out, width_out = output_hw
    maxima = max_pool2d(x, kernel_size, stride, padding)
    grad_padded = np.zeros((*x.shape[:2], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=x.dtype)

    # grad_y * winners is the fast way to keep the winners' gradient, but an inf or NaN gradient times 0 is NaN,
    # which must not land on the losers: np.where (25 times slower) then.
    finite = bool(np.isfinite(grad_y).all())

    def route(windows, offsets, matches) -> None:
        """Send each window's gradient to the first of ``offsets`` whose value ``matches`` says wins the window."""
        routed = np.zeros(maxima.shape, dtype=bool)  # windows whose gradient has already gone to an input
        for u, v in offsets:
            winners = matches(windows[..., u, v]) & ~routed
            routed |= winners
            share = grad_y * winners if finite else np.where(winners, grad_y, 0)
            grad_padded[:, :, u : u + sh * height_out : sh, v : v + sw * width_out : sw] += share

    offsets = [(u, v) for u in range(kh) for v in range(kw)]
    # Windows whose maximum is a number: the first input equal to it. The padding is NaN here, not -inf as in the
    # forward pass: NaN equals nothing, so a padded cell never wins, not even a window whose inputs are all -inf.
    windows = _windows(_pad_hw(x, padding, np.nan), kernel_size, stride, (1, 1))  # (N, C, H_out, W_out, kh, kw)
    route(windows, offsets, lambda values: values == maxima)
    holds_nan = np.isnan(maxima)
    if holds_nan.any():  # windows holding NaN, whose maximum equals nothing: the last NaN (the padding is -inf)
        windows = _windows(_pad_hw(x, padding, -np.inf), kernel_size, stride, (1, 1))
        route(windows, offsets[::-1], lambda values: np.isnan(values) & holds_nan)
    return grad_padded[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]


def avg_pool2d_backward(grad_y, x, kernel_size, stride=None, padding=0) -> np.ndarray:
    """Gradient of a loss through :func:`avg_pool2d`: each window's gradient is shared equally by its inputs.

    Every input of a window enters its mean with weight 1 / (kh * kw), so::

        grad_x[n, c, row, col] = (1 / (kh * kw)) * sum of grad_y[n, c, i, j] over the windows (i, j) covering
                                 x[n, c, row, col]

    The share that falls on padded zeros is dropped.

    Args:
        grad_y: Gradient of the loss with respect to the output, shape (N, C, H_out, W_out).
        x: The forward pass's input, shape (N, C, H, W) (only its shape and dtype are used).
        kernel_size: The forward pass's window size, an int or a pair.
        stride: The forward pass's stride; None means kernel_size.
        padding: The forward pass's padding.

    Returns:
        grad_x of shape (N, C, H, W) and x's dtype.

    Raises:
        ValueError: For the bad input :func:`avg_pool2d` rejects, or a grad_y whose shape is not the output's.
    """
    x, kernel_size, stride, padding, output_hw = _check_pool2d(x, kernel_size, stride, padding)
    grad_y = _check_grad_y(grad_y, (*x.shape[:2], *output_hw), x.dtype)
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    height_out, width_out = output_hw
    share = grad_y / (kh * kw)
    grad_padded = np.zeros((*x.shape[:2], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            grad_padded[:, :, u : u + sh * height_out : sh, v : v + sw * width_out : sw] += share
    return grad_padded[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]


# ------------------------------------------------------------------------------------------------------------
# Activation, fully connected layer, softmax, cross-entropy
# ------------------------------------------------------------------------------------------------------------


def relu(x) -> np.ndarray:
    """Rectified linear unit, elementwise: ``out = max(x, 0)``.

    Args:
        x: Array of any shape.

    Returns:
        out of x's shape and dtype.
    """
    x = _as_float_array(x, "x")
    return np.maximum(x, 0)


def relu_backward(grad_y, x) -> np.ndarray:
    """Gradient of a loss through :func:`relu`: passed where the input was positive, stopped elsewhere::

        grad_x = grad_y * (x > 0)

    ReLU's derivative is 1 for x > 0 and 0 for x < 0; at x = 0 it has none, and 0 is used there, as in PyTorch.

    Args:
        grad_y: Gradient of the loss with respect to the output, of x's shape.
        x: The forward pass's input.

    Returns:
        grad_x of x's shape and dtype.

    Raises:
        ValueError: If grad_y's shape is not x's.
    """
    x = _as_float_array(x, "x")
    grad_y = _check_grad_y(grad_y, x.shape, x.dtype)
    return np.where(x > 0, grad_y, np.zeros((), dtype=x.dtype))


def linear(x, weight, bias=None) -> np.ndarray:
    """Fully connected (affine) layer: ``out = x @ weight.T + bias``, that is::

        out[n, o] = bias[o] + sum over i of x[n, i] * weight[o, i]

    Args:
        x: Inputs of shape (N, in_features).
        weight: Weights of shape (out_features, in_features), PyTorch's layout.
        bias: None, or biases of shape (out_features,).

    Returns:
        out of shape (N, out_features) and x's dtype.

    Raises:
        ValueError: If x or weight is not 2-D, their in_features differ, or bias is not of shape
            (out_features,).
    """
    x = _as_float_array(x, "x")
    _check_ndim(x, 2, "x", "(N, in_features)")
    weight = _as_float_array(weight, "weight").astype(x.dtype, copy=False)
    _check_ndim(weight, 2, "weight", "(out_features, in_features)")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} features but weight expects in_features = {weight.shape[1]}: "
            f"x shape {x.shape}, weight shape {weight.shape}"
        )
    bias = _check_bias(bias, weight.shape[0], x.dtype)
    out = x @ weight.T
    if bias is not None:
        out += bias
    return out


def linear_backward(grad_y, x, weight):
    """Gradients of a loss through :func:`linear`, given the gradient with respect to its output::

        grad_x      = grad_y @ weight        (N, in_features)
        grad_weight = grad_y.T @ x           (out_features, in_features): summed over the batch
        grad_bias   = grad_y summed over the batch

    Each follows from ``out[n, o] = bias[o] + sum over i of x[n, i] * weight[o, i]``: the derivative of
    out[n, o] with respect to x[n, i] is weight[o, i], and with respect to weight[o, i] it is x[n, i].

    Args:
        grad_y: Gradient of the loss with respect to the output, shape (N, out_features).
        x: The forward pass's input, shape (N, in_features).
        weight: The forward pass's weights, shape (out_features, in_features).

    Returns:
        ``(grad_x, grad_weight, grad_bias)`` of shapes (N, in_features), (out_features, in_features) and
        (out_features,), in x's dtype.

    Raises:
        ValueError: For the bad input :func:`linear` rejects, or a grad_y of the wrong shape.
    """
    x = _as_float_array(x, "x")
    _check_ndim(x, 2, "x", "(N, in_features)")
    weight = _as_float_array(weight, "weight").astype(x.dtype, copy=False)
    _check_ndim(weight, 2, "weight", "(out_features, in_features)")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} features but weight expects in_features = {weight.shape[1]}: "
            f"x shape {x.shape}, weight shape {weight.shape}"
        )
    grad_y = _check_grad_y(grad_y, (x.shape[0], weight.shape[0]), x.dtype)
    return grad_y @ weight, grad_y.T @ x, grad_y.sum(axis=0)


def _check_logits(logits) -> np.ndarray:
    logits = _as_float_array(logits, "logits")
    if logits.ndim == 0:
        raise ValueError(f"logits must have at least one axis (the classes); got shape {logits.shape}")
    return logits


def softmax(logits) -> np.ndarray:
    """Softmax over the last axis: probabilities that are positive and sum to 1::

        out[..., k] = exp(logits[..., k]) / sum over j of exp(logits[..., j])

    The largest logit of each row is subtracted first. This does not change the result and keeps every
    exponent at most 0, so logits in the thousands neither overflow nor give nan.

    Args:
        logits: Array of shape (..., num_classes), typically (N, num_classes).

    Returns:
        out of the same shape and dtype, each row summing to 1.

    Raises:
        ValueError: If logits is a scalar (0-D).
    """
    logits = _check_logits(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def log_softmax(logits) -> np.ndarray:
    """Logarithm of the softmax over the last axis, computed stably (the log-sum-exp trick)::

        out[..., k] = logits[..., k] - m - log(sum over j of exp(logits[..., j] - m))

    with m the largest logit of the row. Unlike ``np.log(softmax(logits))``, it stays finite for very unlikely
    classes, whose probability underflows to 0.

    Args:
        logits: Array of shape (..., num_classes), typically (N, num_classes).

    Returns:
        out of the same shape and dtype.

    Raises:
        ValueError: If logits is a scalar (0-D).
    """
    logits = _check_logits(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _check_targets(logits, targets) -> tuple[np.ndarray, np.ndarray]:
    logits = _as_float_array(logits, "logits")
    _check_ndim(logits, 2, "logits", "(N, num_classes)")
    targets = np.asarray(targets)
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"targets must be integer class indices; got dtype {targets.dtype}")
    if targets.shape != (logits.shape[0],):
        raise ValueError(
            f"targets must have shape (N,) = ({logits.shape[0]},) to match logits of shape {logits.shape}; "
            f"got shape {targets.shape}"
        )
    if targets.size and (targets.min() < 0 or targets.max() >= logits.shape[1]):
        raise ValueError(
            f"targets must lie in [0, {logits.shape[1] - 1}] for {logits.shape[1]} classes; "
            f"got values from {targets.min()} to {targets.max()}"
        )
    if logits.shape[0] == 0:
        raise ValueError(f"the mean over an empty batch is undefined; got logits of shape {logits.shape}")
    return logits, targets


def cross_entropy(logits, targets) -> float:
    """Softmax cross-entropy, averaged over the batch: the negative log-probability of each true class::

        loss = -(1 / N) * sum over n of log_softmax(logits)[n, targets[n]]

    computed through :func:`log_softmax`, so logits in the thousands give a finite loss. Equals PyTorch's
    ``F.cross_entropy(logits, targets)`` (mean reduction).

    Args:
        logits: Unnormalized scores of shape (N, num_classes).
        targets: The true classes, integers of shape (N,) in [0, num_classes).

    Returns:
        The mean loss, a float (a 0-D value of logits' dtype).

    Raises:
        ValueError: If logits is not 2-D, targets are not integers of shape (N,), a target is out of range,
            or the batch is empty.
    """
    logits, targets = _check_targets(logits, targets)
    log_probabilities = log_softmax(logits)
    return -log_probabilities[np.arange(len(targets)), targets].mean()


def cross_entropy_backward(logits, targets) -> np.ndarray:
    """Gradient of :func:`cross_entropy` (the batch mean) with respect to the logits::

        grad_logits = (softmax(logits) - one_hot(targets)) / N

    the predicted probabilities minus the true ones: a row sums to zero, and its entries are bounded by 1 / N
    in size however large the logits (the softmax is computed stably).

    Args:
        logits: Unnormalized scores of shape (N, num_classes).
        targets: The true classes, integers of shape (N,).

    Returns:
        grad_logits of logits' shape and dtype.

    Raises:
        ValueError: For the bad input :func:`cross_entropy` rejects.
    """
    logits, targets = _check_targets(logits, targets)
    grad_logits = softmax(logits)
    grad_logits[np.arange(len(targets)), targets] -= 1
    grad_logits /= len(targets)
    return grad_logits
