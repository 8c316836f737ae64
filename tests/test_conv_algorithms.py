"""cnnlib.conv_algorithms: every algorithm equals torch's F.conv2d, and the counts are right."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_functional
from torch.utils.flop_counter import FlopCounterMode

from cnnlib import conv_algorithms, functional

# (N, C_in, H, W, C_out, k, stride, padding, dilation)
SHAPES = [
    (2, 3, 7, 9, 4, 3, 1, 1, 1),
    (1, 2, 8, 8, 3, 3, 1, 0, 1),
    (2, 1, 5, 6, 2, 3, 1, 2, 1),
    (2, 3, 10, 11, 5, 5, 2, 2, 1),
    (2, 4, 9, 9, 3, 3, 1, 2, 2),
    (1, 3, 12, 10, 2, 1, 2, 0, 1),
    (3, 5, 6, 5, 2, 3, 3, 1, 1),
    (1, 16, 12, 12, 8, 3, 1, 1, 1),
]
FAST = {name: function for name, function in conv_algorithms.ALGORITHMS.items() if name != "direct loops"}


def applies(name: str, kernel: int, stride: int, dilation: int) -> bool:
    return not name.startswith("Winograd") or (kernel, stride, dilation) == (3, 1, 1)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(conv_algorithms.ALGORITHMS))
def test_every_algorithm_equals_torch(name, shape):
    n, c, h, w, o, k, s, p, d = shape
    if not applies(name, k, s, d):
        pytest.skip("Winograd F(2x2, 3x3) needs a 3x3 kernel, stride 1 and dilation 1")
    generator = np.random.default_rng(sum(shape))
    x = generator.standard_normal((n, c, h, w))
    weight = generator.standard_normal((o, c, k, k))
    bias = generator.standard_normal(o)
    settings = {"stride": s, "padding": p, "dilation": d}
    expected = torch_functional.conv2d(*(torch.from_numpy(a) for a in (x, weight, bias)), **settings).numpy()
    function = conv_algorithms.ALGORITHMS[name]
    out64 = function(x, weight, bias, **settings)
    assert out64.dtype == np.float64 and out64.shape == expected.shape
    np.testing.assert_allclose(out64, expected, rtol=1e-10, atol=1e-10)
    out32 = function(x.astype(np.float32), weight.astype(np.float32), bias.astype(np.float32), **settings)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_winograd_f23_on_a_hand_example():
    # y0 = 1*1 + 2*(-1) + 3*2 = 5, y1 = 2*1 + 3*(-1) + 4*2 = 7
    assert conv_algorithms.winograd_f23([1, 2, 3, 4], [1, -1, 2]).tolist() == [5.0, 7.0]
    generator = np.random.default_rng(1)
    d, g = generator.standard_normal(4), generator.standard_normal(3)
    np.testing.assert_allclose(conv_algorithms.winograd_f23(d, g), np.correlate(d, g, mode="valid"), atol=1e-14)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        conv_algorithms.winograd_f23(np.ones(5), np.ones(3))


@pytest.mark.parametrize(
    ("weight_shape", "stride"), [((2, 3, 5, 5), 1), ((2, 3, 3, 3), 2)]
)
def test_winograd_rejects_what_it_cannot_compute(weight_shape, stride):
    with pytest.raises(ValueError, match="F\\(2x2, 3x3\\)"):
        conv_algorithms.conv2d_winograd(np.ones((1, 3, 8, 8)), np.ones(weight_shape), stride=stride)


@pytest.mark.parametrize("name", list(FAST))
def test_bad_input_raises_like_conv2d(name):
    with pytest.raises(ValueError, match="channels"):
        FAST[name](np.ones((1, 3, 8, 8)), np.ones((2, 4, 3, 3)))
    with pytest.raises(ValueError, match="4-D"):
        FAST[name](np.ones((3, 8, 8)), np.ones((2, 3, 3, 3)))


@pytest.mark.parametrize("shape", [(2, 3, 9, 9, 4, 3, 1, 1), (1, 8, 12, 12, 6, 5, 2, 2), (2, 4, 7, 7, 3, 1, 1, 0)])
def test_direct_multiplications_match_torch_flop_counter(shape):
    n, c, h, w, o, k, s, p = shape
    x, weight = torch.zeros(n, c, h, w), torch.zeros(o, c, k, k)
    with FlopCounterMode(display=False) as counter:
        torch_functional.conv2d(x, weight, stride=s, padding=p)
    count = conv_algorithms.multiplications("im2col", x.shape, weight.shape, stride=s, padding=p)
    assert 2 * count == counter.get_total_flops()  # torch counts a multiply-add as two operations


def test_winograd_needs_16_multiplications_per_tile_against_36():
    x_shape, weight_shape = (2, 8, 14, 14), (4, 8, 3, 3)  # output 14x14: 49 tiles of 2x2
    direct = conv_algorithms.multiplications("im2col", x_shape, weight_shape, padding=1)
    winograd = conv_algorithms.multiplications("Winograd F(2x2,3x3)", x_shape, weight_shape, padding=1)
    assert direct == 2 * 4 * 8 * 49 * 36 and winograd == 2 * 4 * 8 * 49 * 16
    with pytest.raises(ValueError, match="algorithm"):
        conv_algorithms.multiplications("strassen", x_shape, weight_shape)


def test_workspace_of_im2col_is_the_matrix_it_builds():
    x = np.zeros((2, 16, 12, 12), dtype=np.float32)
    count = conv_algorithms.workspace_bytes("im2col", x.shape, (8, 16, 3, 3), padding=1)
    assert count == functional.im2col(x, 3, padding=1).nbytes == 2 * 16 * 9 * 144 * 4
    assert conv_algorithms.workspace_bytes("im2col", x.shape, (8, 16, 1, 1)) == 0
    assert conv_algorithms.workspace_bytes("direct loops", x.shape, (8, 16, 3, 3)) == 0


def test_implicit_gemm_allocates_less_than_the_im2col_matrix():
    x = np.random.default_rng(2).standard_normal((1, 64, 32, 32), dtype=np.float32)
    weight = np.ones((32, 64, 3, 3), dtype=np.float32)
    matrix_bytes = conv_algorithms.workspace_bytes("im2col", x.shape, weight.shape, padding=1)
    peaks = {}
    for name in ("im2col", "implicit GEMM"):
        tracemalloc.start()
        conv_algorithms.ALGORITHMS[name](x, weight, padding=1)
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peaks["im2col"] >= matrix_bytes
    assert peaks["implicit GEMM"] < matrix_bytes / 2
