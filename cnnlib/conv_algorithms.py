"""The algorithms that libraries choose between to compute a convolution, in NumPy.

Every function here computes the same thing as :func:`cnnlib.functional.conv2d` and PyTorch's
``torch.nn.functional.conv2d`` (groups=1), the cross-correlation::

    out[n, o, i, j] = bias[o] + sum over c, u, v of
                      weight[o, c, u, v] * x_padded[n, c, i * sh + u * dh, j * sw + v * dw]

but organises the arithmetic differently. The direct loops and the im2col method are in
:mod:`cnnlib.functional` (:func:`~cnnlib.functional.conv2d_loops` and :func:`~cnnlib.functional.conv2d`); this
module adds

- :func:`conv2d_implicit_gemm`: a sum over the kernel offsets (u, v) of matrix products, each on a shifted slice
  of the padded input, so that the im2col matrix is never built;
- :func:`conv2d_fft`: the convolution theorem: a product of Fourier transforms, summed over input channels;
- :func:`conv2d_winograd`: Lavin and Gray's minimal filtering F(2x2, 3x3), 16 multiplications per 2x2 output tile
  and channel pair instead of 36;

and the counts that decide between them: :func:`multiplications` (the multiplications of the channel-mixing
step) and :func:`workspace_bytes` (the temporary arrays each method needs besides its input and output).
Arguments and errors follow :func:`cnnlib.functional.conv2d`: float32 and float64 keep their dtype, and bad input
raises ``ValueError`` naming the expected and the received shapes.
"""

from __future__ import annotations

import numpy as np

from cnnlib import functional
from cnnlib.functional import _check_conv2d, _pad_hw

__all__ = [
    "ALGORITHMS",
    "WINOGRAD_AT",
    "WINOGRAD_BT",
    "WINOGRAD_G",
    "conv2d_fft",
    "conv2d_implicit_gemm",
    "conv2d_winograd",
    "multiplications",
    "winograd_f23",
    "workspace_bytes",
]

# Lavin and Gray's F(2, 3): y = AT @ ((G @ g) * (BT @ d)) for an input d of 4 values and a filter g of 3 values
# gives the two outputs y[0] = d0 g0 + d1 g1 + d2 g2 and y[1] = d1 g0 + d2 g1 + d3 g2 with 4 multiplications.
WINOGRAD_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
"""B^T of F(2, 3), shape (4, 4): transforms a tile of 4 inputs (entries 0 and +-1: additions only)."""
WINOGRAD_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
"""G of F(2, 3), shape (4, 3): transforms a filter of 3 taps, once per filter."""
WINOGRAD_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)
"""A^T of F(2, 3), shape (2, 4): turns the 4 products into the 2 outputs (additions only)."""


def conv2d_implicit_gemm(x, weight, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """2-D convolution as a sum over kernel offsets of matrix products, without an im2col matrix.

    Fixing the kernel offset (u, v) leaves a 1x1 convolution, a matrix product of the (C_out, C_in) slice
    ``weight[:, :, u, v]`` with the input shifted by (u dh, v dw)::

        out[n, :, i, j] = bias + sum over (u, v) of
                          weight[:, :, u, v] @ x_padded[n, :, i * sh + u * dh, j * sw + v * dw]

    With stride 1 each shifted input is a contiguous slice of the flattened padded image: the products are
    computed on rows of the padded width Wp (each output row then has Wp - W_out columns of wrap-around garbage,
    cut off at the end), so nothing is copied. With a larger stride each shifted, subsampled input is copied,
    one offset at a time: 1 / (kh kw) of the im2col matrix.

    Args:
        x: Images of shape (N, C_in, H, W).
        weight: Kernels of shape (C_out, C_in, kh, kw).
        bias: None, or biases of shape (C_out,).
        stride, padding, dilation: As in :func:`cnnlib.functional.conv2d`, an int or an (h, w) pair.

    Returns:
        out of shape (N, C_out, H_out, W_out) and x's dtype, equal to :func:`cnnlib.functional.conv2d`.

    Raises:
        ValueError: For the same bad input as :func:`cnnlib.functional.conv2d`.
    """
    x, weight, bias, (sh, sw), padding, (dh, dw), (height_out, width_out) = _check_conv2d(
        x, weight, bias, stride, padding, dilation
    )
    num_images, channels_in = x.shape[:2]
    channels_out, _, kh, kw = weight.shape
    (ph, pw), (height, width) = padding, x.shape[2:]
    padded_h, padded_w = height + 2 * ph, width + 2 * pw
    # The offsets' matrices, (kh, kw, C_out, C_in), each contiguous.
    weight_offsets = np.ascontiguousarray(weight.transpose(2, 3, 0, 1))
    product = None

    if (sh, sw) == (1, 1):
        # Each padded image flattened row after row, with a few zeros after it so that the last offset's slice
        # stays inside: the input is copied once, into the middle of this buffer.
        flat = np.zeros((num_images, channels_in, padded_h * padded_w + dw * (kw - 1)), dtype=x.dtype)
        as_images = flat[:, :, : padded_h * padded_w].reshape(num_images, channels_in, padded_h, padded_w)
        as_images[:, :, ph : ph + height, pw : pw + width] = x
        wide = np.zeros((num_images, channels_out, height_out * padded_w), dtype=x.dtype)  # rows of width Wp
        for u in range(kh):
            for v in range(kw):
                start = u * dh * padded_w + v * dw
                shifted = flat[:, :, start : start + height_out * padded_w]  # (N, C_in, H_out*Wp), a view
                product = np.matmul(weight_offsets[u, v], shifted, out=product)
                wide += product
        out = wide.reshape(num_images, channels_out, height_out, padded_w)[..., :width_out]
        out = np.ascontiguousarray(out)
    else:
        x_padded = _pad_hw(x, padding)
        out = np.zeros((num_images, channels_out, height_out * width_out), dtype=x.dtype)
        for u in range(kh):
            for v in range(kw):
                rows = slice(u * dh, u * dh + sh * (height_out - 1) + 1, sh)
                cols = slice(v * dw, v * dw + sw * (width_out - 1) + 1, sw)
                shifted = x_padded[:, :, rows, cols].reshape(num_images, channels_in, -1)  # a copy
                product = np.matmul(weight_offsets[u, v], shifted, out=product)
                out += product
        out = out.reshape(num_images, channels_out, height_out, width_out)
    if bias is not None:
        out += bias[:, np.newaxis, np.newaxis]
    return out


def conv2d_fft(x, weight, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """2-D convolution by the convolution theorem: products of discrete Fourier transforms.

    With hats for 2-D discrete Fourier transforms of size (Hp, Wp), the padded input's size, and the kernel
    zero-padded to that size, the circular cross-correlation of one channel pair is::

        r = inverse transform of ( x_hat[n, c] * conj(w_hat[o, c]) )

    Summed over c (a matrix product at every frequency), its entries [i, j] with i <= Hp - extent_h and
    j <= Wp - extent_w do not wrap around and are the stride-1 convolution; the stride keeps every sh-th row and
    sw-th column of them. A dilated kernel is first spread out with zeros. Real transforms (``numpy.fft.rfft2``)
    keep half the spectrum; float32 input is transformed in complex64.

    Args:
        x: Images of shape (N, C_in, H, W).
        weight: Kernels of shape (C_out, C_in, kh, kw).
        bias: None, or biases of shape (C_out,).
        stride, padding, dilation: As in :func:`cnnlib.functional.conv2d`, an int or an (h, w) pair.

    Returns:
        out of shape (N, C_out, H_out, W_out) and x's dtype, equal to :func:`cnnlib.functional.conv2d` up to
        rounding.

    Raises:
        ValueError: For the same bad input as :func:`cnnlib.functional.conv2d`.
    """
    x, weight, bias, (sh, sw), padding, (dh, dw), (height_out, width_out) = _check_conv2d(
        x, weight, bias, stride, padding, dilation
    )
    num_images, channels_in = x.shape[:2]
    channels_out, _, kh, kw = weight.shape
    x_padded = _pad_hw(x, padding)
    size = x_padded.shape[2:]
    spread = np.zeros((channels_out, channels_in, dh * (kh - 1) + 1, dw * (kw - 1) + 1), dtype=x.dtype)
    spread[:, :, ::dh, ::dw] = weight
    x_hat = np.fft.rfft2(x_padded, s=size)  # (N, C_in, Hp, Wp // 2 + 1)
    w_hat = np.conj(np.fft.rfft2(spread, s=size))  # (C_out, C_in, Hp, Wp // 2 + 1)
    # At every frequency f: (N, C_in) @ (C_in, C_out), as one batched matrix product over the frequencies.
    frequencies = x_hat.shape[2] * x_hat.shape[3]
    x_by_frequency = np.ascontiguousarray(x_hat.reshape(num_images, channels_in, frequencies).transpose(2, 0, 1))
    w_by_frequency = np.ascontiguousarray(w_hat.reshape(channels_out, channels_in, frequencies).transpose(2, 1, 0))
    out_hat = np.matmul(x_by_frequency, w_by_frequency)  # (F, N, C_out)
    out_hat = out_hat.transpose(1, 2, 0).reshape(num_images, channels_out, *x_hat.shape[2:])
    full = np.fft.irfft2(out_hat, s=size)  # the circular cross-correlation, (N, C_out, Hp, Wp)
    out = full[:, :, : sh * (height_out - 1) + 1 : sh, : sw * (width_out - 1) + 1 : sw].astype(x.dtype)
    if bias is not None:
        out += bias[:, np.newaxis, np.newaxis]
    return out


def winograd_f23(d, g) -> np.ndarray:
    """Lavin and Gray's 1-D minimal filtering F(2, 3): two outputs of a 3-tap filter with 4 multiplications.

    ``AT @ ((G @ g) * (BT @ d))`` with the matrices :data:`WINOGRAD_BT`, :data:`WINOGRAD_G`, :data:`WINOGRAD_AT`
    equals the cross-correlation ``[d0 g0 + d1 g1 + d2 g2, d1 g0 + d2 g1 + d3 g2]``; the 4 multiplications are
    the elementwise product (G g is computed once per filter and reused).

    Args:
        d: Input of shape (4,).
        g: Filter of shape (3,).

    Returns:
        y of shape (2,), float64.

    Raises:
        ValueError: If d or g has another shape.
    """
    d, g = np.asarray(d, dtype=np.float64), np.asarray(g, dtype=np.float64)
    if d.shape != (4,) or g.shape != (3,):
        raise ValueError(f"d must have shape (4,) and g shape (3,); got shapes {d.shape} and {g.shape}")
    return WINOGRAD_AT @ ((WINOGRAD_G @ g) * (WINOGRAD_BT @ d))


def conv2d_winograd(x, weight, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """2-D convolution of 3x3 kernels with stride 1 by Winograd's minimal filtering F(2x2, 3x3).

    The output is cut into 2x2 tiles; each needs a 4x4 tile d of the padded input (neighbouring tiles overlap by
    two rows or columns). With the matrices of :func:`winograd_f23` applied along both axes::

        U[o, c] = G weight[o, c] G^T                          (4, 4) per channel pair, once per weight
        V[n, c, t] = B^T d[n, c, t] B                         (4, 4) per input tile t
        M[n, o, t] = sum over c of U[o, c] * V[n, c, t]       elementwise in (4, 4): 16 matrix products
        out tile[n, o, t] = A^T M[n, o, t] A                  (2, 2)

    The channel sum costs 16 multiplications per tile and channel pair, against 36 (= 4 outputs x 9) for the
    direct method. Output sizes that are odd are handled by padding the input with extra zeros and cropping.

    Args:
        x: Images of shape (N, C_in, H, W).
        weight: Kernels of shape (C_out, C_in, 3, 3).
        bias: None, or biases of shape (C_out,).
        stride: Must be 1.
        padding: Zeros (ph, pw) added on each side, an int or a pair.
        dilation: Must be 1.

    Returns:
        out of shape (N, C_out, H + 2ph - 2, W + 2pw - 2) and x's dtype, equal to
        :func:`cnnlib.functional.conv2d` up to rounding.

    Raises:
        ValueError: For the bad input of :func:`cnnlib.functional.conv2d`, or a kernel that is not 3x3, a stride
            or a dilation that is not 1.
    """
    x, weight, bias, stride, padding, dilation, (height_out, width_out) = _check_conv2d(
        x, weight, bias, stride, padding, dilation
    )
    if weight.shape[2:] != (3, 3) or stride != (1, 1) or dilation != (1, 1):
        raise ValueError(
            "conv2d_winograd computes F(2x2, 3x3): it needs a (C_out, C_in, 3, 3) weight, stride 1 and dilation 1; "
            f"got weight shape {weight.shape}, stride {stride}, dilation {dilation}"
        )
    num_images, channels_in = x.shape[:2]
    channels_out = weight.shape[0]
    tiles_h, tiles_w = -(-height_out // 2), -(-width_out // 2)
    # Zeros below and to the right so that the tiles cover an even number of output rows and columns.
    x_padded = _pad_hw(x, padding)
    extra_h, extra_w = 2 * tiles_h + 2 - x_padded.shape[2], 2 * tiles_w + 2 - x_padded.shape[3]
    x_padded = np.pad(x_padded, ((0, 0), (0, 0), (0, extra_h), (0, extra_w)))

    # Work channel-first, (C_in, N, Hp, Wp), so that the products below see (C_in, N*tiles) matrices.
    x_padded = x_padded.transpose(1, 0, 2, 3)
    # d[i][j][c, n, s, t] = x_padded[c, n, 2s + i, 2t + j]: entry (i, j) of every 4x4 input tile, a view.
    d = [[x_padded[:, :, i::2, j::2][:, :, :tiles_h, :tiles_w] for j in range(4)] for i in range(4)]
    v_hat = _transform_both_sides(WINOGRAD_BT, d)  # V = B^T d B, 16 arrays (C_in, N, th, tw)
    u_hat = _transform_both_sides(WINOGRAD_G, [[weight[:, :, i, j] for j in range(3)] for i in range(3)])
    # The channel sum: for each of the 16 positions (a, b), a (C_out, C_in) @ (C_in, N*th*tw) matrix product.
    u_by_position = np.stack(u_hat).astype(x.dtype)  # (16, C_out, C_in)
    v_by_position = np.stack(v_hat).reshape(16, channels_in, num_images * tiles_h * tiles_w)
    m_hat = np.matmul(u_by_position, v_by_position).reshape(4, 4, channels_out, num_images, tiles_h, tiles_w)
    y = _transform_both_sides(WINOGRAD_AT, [[m_hat[a, b] for b in range(4)] for a in range(4)])  # 4 arrays
    out = np.empty((num_images, channels_out, 2 * tiles_h, 2 * tiles_w), dtype=x.dtype)
    for p in range(2):
        for q in range(2):
            out[:, :, p::2, q::2] = y[2 * p + q].transpose(1, 0, 2, 3)  # entry (p, q) of every output tile
    out = np.ascontiguousarray(out[:, :, :height_out, :width_out])
    if bias is not None:
        out += bias[:, np.newaxis, np.newaxis]
    return out


def _transform_both_sides(matrix: np.ndarray, entries: list[list[np.ndarray]]) -> list[np.ndarray]:
    """``matrix @ tile @ matrix.T`` for a whole array of tiles at once, with additions of arrays.

    ``entries[i][j]`` holds entry (i, j) of every tile (arrays of one shape); the result is the flat list of the
    entries (a, b) of every transformed tile, a-major. Zero coefficients are skipped, so a transform whose
    matrix holds only 0 and +-1 (as B^T and A^T do) costs additions only.
    """

    def combine(row, arrays):
        terms = [arrays[k] if coefficient == 1 else float(coefficient) * arrays[k] for k, coefficient in enumerate(row)
                 if coefficient != 0]
        return sum(terms[1:], start=terms[0])  # (a single term is returned as it is)

    rows = [[combine(row, [entries[i][j] for i in range(len(entries))]) for j in range(len(entries[0]))]
            for row in matrix]  # (matrix @ tile)[a][j]
    return [combine(row, rows[a]) for a in range(len(matrix)) for row in matrix]


ALGORITHMS = {
    "direct loops": functional.conv2d_loops,
    "im2col": functional.conv2d,
    "implicit GEMM": conv2d_implicit_gemm,
    "FFT": conv2d_fft,
    "Winograd F(2x2,3x3)": conv2d_winograd,
}
"""Every algorithm of the chapter by name: functions of (x, weight, bias, stride, padding, dilation)."""


def _shapes(x_shape, weight_shape, stride, padding, dilation):
    """Validate shapes with conv2d's checks, on empty arrays; return the pairs and the output size."""
    x = np.empty(tuple(x_shape), dtype=np.float32)
    weight = np.empty(tuple(weight_shape), dtype=np.float32)
    _, _, _, stride, padding, dilation, output_hw = _check_conv2d(x, weight, None, stride, padding, dilation)
    return stride, padding, dilation, output_hw


def multiplications(algorithm: str, x_shape, weight_shape, stride=1, padding=0, dilation=1) -> int:
    """Real multiplications in an algorithm's channel-mixing step, the step whose cost grows as N C_in C_out.

    For x of shape (N, C_in, H, W), weight (C_out, C_in, kh, kw) and output (H_out, W_out)::

        "direct loops", "im2col", "implicit GEMM":  N C_out C_in kh kw H_out W_out
        "Winograd F(2x2,3x3)":                      N C_out C_in 16 ceil(H_out / 2) ceil(W_out / 2)
        "FFT":                                      4 N C_out C_in Hp (Wp // 2 + 1)

    The FFT counts 4 real multiplications per complex product over the half spectrum of the padded size
    (Hp, Wp), whatever the stride (it computes every stride-1 output). Not counted: the transforms, which grow
    as N C_in + C_out C_in + N C_out rather than as the product (for the FFT, about 5 n log2 n real operations
    per transform of n points).

    Args:
        algorithm: A key of :data:`ALGORITHMS`.
        x_shape: (N, C_in, H, W).
        weight_shape: (C_out, C_in, kh, kw).
        stride, padding, dilation: As in :func:`cnnlib.functional.conv2d`.

    Returns:
        The count, a Python int.

    Raises:
        ValueError: For an unknown algorithm, or shapes that conv2d (or Winograd's 3x3, stride 1) rejects.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {sorted(ALGORITHMS)}; got {algorithm!r}")
    stride, padding, dilation, (height_out, width_out) = _shapes(x_shape, weight_shape, stride, padding, dilation)
    num_images, channels_in, height, width = (int(size) for size in x_shape)
    channels_out, _, kh, kw = (int(size) for size in weight_shape)
    pairs = num_images * channels_out * channels_in
    if algorithm == "FFT":
        padded_h, padded_w = height + 2 * padding[0], width + 2 * padding[1]
        return 4 * pairs * padded_h * (padded_w // 2 + 1)
    if algorithm.startswith("Winograd"):
        if (kh, kw) != (3, 3) or stride != (1, 1) or dilation != (1, 1):
            raise ValueError(f"Winograd F(2x2, 3x3) needs a 3x3 kernel, stride 1, dilation 1; got {weight_shape}")
        return pairs * 16 * (-(-height_out // 2)) * (-(-width_out // 2))
    return pairs * kh * kw * height_out * width_out


def workspace_bytes(algorithm: str, x_shape, weight_shape, stride=1, padding=0, dilation=1, itemsize=4) -> int:
    """Bytes of the largest temporary array an algorithm builds, besides its input, padded input and output.

    For x of shape (N, C_in, H, W), weight (C_out, C_in, kh, kw), output (H_out, W_out), padded size (Hp, Wp)
    and b = itemsize::

        "direct loops":         0
        "im2col":               b N C_in kh kw H_out W_out       the im2col matrix (for the whole batch)
        "implicit GEMM":        b N C_out H_out Wp               one offset's product, on rows of width Wp
                                                                 (stride > 1: b N C_out H_out W_out)
        "FFT":                  2b N C_out Hp (Wp // 2 + 1)      the output spectra (complex); the input's
                                                                 and the kernels' are N C_in and C_out C_in
        "Winograd F(2x2,3x3)":  16b T max(N C_in, N C_out)       the transformed tiles V or M, T = tiles
                                                                 per image

    A 1x1 kernel with stride 1 and no padding needs no im2col matrix (the input already is one): 0.

    Args:
        algorithm: A key of :data:`ALGORITHMS`.
        x_shape: (N, C_in, H, W).
        weight_shape: (C_out, C_in, kh, kw).
        stride, padding, dilation: As in :func:`cnnlib.functional.conv2d`.
        itemsize: Bytes per real number: 4 for float32, 8 for float64.

    Returns:
        The count, a Python int.

    Raises:
        ValueError: For an unknown algorithm, or shapes that conv2d rejects.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {sorted(ALGORITHMS)}; got {algorithm!r}")
    stride, padding, dilation, (height_out, width_out) = _shapes(x_shape, weight_shape, stride, padding, dilation)
    num_images, channels_in, height, width = (int(size) for size in x_shape)
    channels_out, _, kh, kw = (int(size) for size in weight_shape)
    padded_h, padded_w = height + 2 * padding[0], width + 2 * padding[1]
    if algorithm == "direct loops":
        return 0
    if algorithm == "im2col":
        if (kh, kw) == (1, 1) and stride == (1, 1) and padding == (0, 0):
            return 0
        return itemsize * num_images * channels_in * kh * kw * height_out * width_out
    if algorithm == "implicit GEMM":
        row = padded_w if stride == (1, 1) else width_out
        return itemsize * num_images * channels_out * height_out * row
    if algorithm == "FFT":
        return 2 * itemsize * num_images * channels_out * padded_h * (padded_w // 2 + 1)
    tiles = (-(-height_out // 2)) * (-(-width_out // 2))
    return 16 * itemsize * tiles * num_images * max(channels_in, channels_out)
