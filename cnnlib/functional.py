"""The forward pass of a convolutional network, in NumPy.

Every layer the book teaches is a function here: convolution (a loop version that follows the definition and a
fast version built on ``im2col``), one-channel convolution and correlation as in ``scipy.signal``, max and
average pooling, ReLU, the fully connected layer, softmax and log-softmax.

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
    "conv2d",
    "conv2d_loops",
    "conv_output_size",
    "convolve2d",
    "correlate2d",
    "im2col",
    "linear",
    "log_softmax",
    "max_pool2d",
    "relu",
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
        ValueError: If a shape or an argument is wrong: x or weight not 4-D, channels that do not match, a
            bias not of shape (C_out,), a non-positive stride or dilation, a negative padding, or a kernel
            larger than the padded input.
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


# ------------------------------------------------------------------------------------------------------------
# Activation, fully connected layer, softmax
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
