"""Time cnnlib's NumPy conv2d against PyTorch's F.conv2d on the layer shapes of LeNet, VGG and ResNet.

    .venv/bin/python benchmarks/bench_conv2d.py              the forward pass, under a minute on 2 cores
    .venv/bin/python benchmarks/bench_conv2d.py --backward   the backward pass: cnnlib's conv2d_backward against
                                                             torch.autograd's gradients of x, weight and bias
    .venv/bin/python benchmarks/bench_conv2d.py --parts      the forward pass split into cnnlib's two steps:
                                                             building the im2col matrix, and the matrix products
    .venv/bin/python benchmarks/bench_conv2d.py --quick      one short round per layer (a smoke test only)

Both run in float32 on the CPU with the same number of threads (torch's intra-op threads
and, through threadpoolctl, NumPy's BLAS threads). For each layer the two libraries are timed in alternating
blocks of calls, a few rounds each, after a warm-up call; a short pause before each block lets the other
library's worker threads stop spinning, so that neither runs with a core taken. The table gives the median
time per call and the ratio cnnlib / torch (below 1 means cnnlib is faster), then the geometric mean of the
ratios. With --parts it also times, in the same alternating blocks, each of the two steps of cnnlib's conv2d
alone on the same layer: im2col, and the matrix products on columns built beforehand. The geometric mean of
the matrix products' ratios to torch is a floor for conv2d's design: however fast im2col became, conv2d,
which then multiplies the same matrices, could not get below it. On Linux the benchmark also prints the
share of processor time that the hypervisor gave to other virtual machines during the run ("steal"). On a
shared cloud machine that share varies from run to run, and so do the ratios: compare the ratios of two runs
only where both had little steal.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as torch_functional

from cnnlib import functional

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # then NumPy's BLAS keeps its own default, usually one thread per core
    threadpool_limits = None


class Layer(NamedTuple):
    name: str
    batch: int
    channels_in: int
    size: int  # input height = width
    channels_out: int
    kernel: int
    stride: int
    padding: int


LAYERS = [
    Layer("LeNet conv1", 64, 1, 28, 6, 5, 1, 0),
    Layer("LeNet conv2", 64, 6, 14, 16, 5, 1, 0),
    Layer("VGG 3x3 64", 8, 64, 56, 64, 3, 1, 1),
    Layer("VGG 3x3 128", 8, 128, 28, 128, 3, 1, 1),
    Layer("VGG 3x3 256", 8, 256, 14, 256, 3, 1, 1),
    Layer("ResNet stem 7x7/2", 4, 3, 224, 64, 7, 2, 3),
    Layer("ResNet 3x3/2", 8, 128, 56, 128, 3, 2, 1),
    Layer("ResNet 1x1 reduce", 8, 256, 56, 64, 1, 1, 0),
    # Batch 4, not 8: at batch 8 the 25 MB output of this layer puts torch (2.13, glibc) on a path about 4x
    # slower than usual, depending on the allocator's state, which would flatter cnnlib.
    Layer("ResNet 1x1 expand", 4, 64, 56, 256, 1, 1, 0),
    Layer("ResNet 1x1/2 project", 8, 256, 56, 512, 1, 2, 0),
]


def processor_ticks() -> tuple[int, int] | None:
    """(all ticks, stolen ticks) of every core since boot, from Linux's /proc/stat; None elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    # cpu user nice system idle iowait irq softirq steal ...: the first eight counters add up to all the time.
    counters = [int(field) for field in fields[1:9]]
    if fields[0] != "cpu" or len(counters) < 8:
        return None
    return sum(counters), counters[7]


def time_block(function: Callable[[], object], repeats: int, pause: float) -> list[float]:
    """Seconds per call of `function`, `repeats` times, after a pause and one untimed warm-up call."""
    time.sleep(pause)
    function()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return seconds


def layer_functions(layer: Layer, backward: bool = False) -> tuple[Callable[[], object], Callable[[], object]]:
    """cnnlib's conv2d and torch's, as functions of no arguments, on float32 data of the layer's shape.

    With ``backward``, the functions compute the gradients of x, weight and bias from a fixed output gradient
    instead: cnnlib's conv2d_backward, and torch.autograd.grad through a graph built once (so only the backward
    pass is timed). Each returns its result as a tuple of NumPy arrays or tensors.
    """
    generator = np.random.default_rng(0)
    x = generator.standard_normal((layer.batch, layer.channels_in, layer.size, layer.size), dtype=np.float32)
    weight_shape = (layer.channels_out, layer.channels_in, layer.kernel, layer.kernel)
    weight = generator.standard_normal(weight_shape, dtype=np.float32) / math.sqrt(
        math.prod(weight_shape[1:])
    )
    bias = generator.standard_normal(layer.channels_out, dtype=np.float32)
    x_torch, weight_torch, bias_torch = (torch.from_numpy(array) for array in (x, weight, bias))
    settings = {"stride": layer.stride, "padding": layer.padding}

    if not backward:

        def run_cnnlib():
            return (functional.conv2d(x, weight, bias, **settings),)

        def run_torch():
            return (torch_functional.conv2d(x_torch, weight_torch, bias_torch, **settings),)

        return run_cnnlib, run_torch

    inputs = [tensor.clone().requires_grad_() for tensor in (x_torch, weight_torch, bias_torch)]
    with torch.enable_grad():
        output = torch_functional.conv2d(*inputs, **settings)
    grad_output = generator.standard_normal(tuple(output.shape), dtype=np.float32)
    grad_output_torch = torch.from_numpy(grad_output)

    def run_cnnlib_backward():
        return functional.conv2d_backward(grad_output, x, weight, **settings)

    def run_torch_backward():
        return torch.autograd.grad(output, inputs, grad_output_torch, retain_graph=True)

    return run_cnnlib_backward, run_torch_backward


def step_functions(layer: Layer) -> tuple[Callable[[], object], Callable[[], object]]:
    """The two steps of cnnlib's conv2d on the layer, each alone: im2col, and the matrix products.

    Both go through the input a few images at a time, as conv2d does. The matrix products run on the columns
    of the first chunk, built beforehand and reused for every chunk, into an output allocated beforehand: they
    time BLAS alone, on columns still in cache, as conv2d's products find them just after im2col wrote them.
    """
    generator = np.random.default_rng(0)
    x = generator.standard_normal((layer.batch, layer.channels_in, layer.size, layer.size), dtype=np.float32)
    weight = generator.standard_normal(
        (layer.channels_out, layer.channels_in * layer.kernel * layer.kernel), dtype=np.float32
    )
    settings = {"kernel_size": layer.kernel, "stride": layer.stride, "padding": layer.padding}
    column_bytes = functional.im2col(x[:1], **settings).nbytes
    step = max(1, functional._IM2COL_CHUNK_BYTES // column_bytes)  # conv2d's images per chunk
    chunks = [slice(start, start + step) for start in range(0, layer.batch, step)]
    columns = np.ascontiguousarray(functional.im2col(x[chunks[0]], **settings))
    out = np.empty((layer.batch, layer.channels_out, columns.shape[-1]), dtype=np.float32)

    def run_im2col():
        for chunk in chunks:
            functional.im2col(x[chunk], **settings)

    def run_products():
        for chunk in chunks:
            images = out[chunk]
            np.matmul(weight, columns[: len(images)], out=images)

    return run_im2col, run_products


def measure(
    layer: Layer, rounds: int, repeats: int, pause: float, backward: bool, parts: bool = False
) -> list[float]:
    """Median seconds per call of cnnlib's function and of torch's, after checking that they agree.

    With ``parts``, two more medians follow: those of conv2d's two steps alone (see step_functions).
    """
    run_cnnlib, run_torch = layer_functions(layer, backward)
    for ours, theirs in zip(run_cnnlib(), run_torch(), strict=True):
        scale = max(1.0, float(theirs.abs().max()))
        if not np.allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-4 * scale):
            raise AssertionError(f"{layer.name}: cnnlib disagrees with torch")
    functions = [run_cnnlib, run_torch, *(step_functions(layer) if parts else ())]
    seconds = [[] for _ in functions]
    for _ in range(rounds):
        for function, times in zip(functions, seconds, strict=True):
            times += time_block(function, repeats, pause)
    return [statistics.median(times) for times in seconds]


def geometric_mean_of(ratios: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(ratio) for ratio in ratios))


def describe(layer: Layer) -> tuple[str, str, str]:
    input_shape = f"{layer.batch}x{layer.channels_in}x{layer.size}x{layer.size}"
    weight_shape = f"{layer.channels_out}x{layer.channels_in}x{layer.kernel}x{layer.kernel}"
    return input_shape, weight_shape, f"s{layer.stride} p{layer.padding}"


def main(argv: list[str] | None = None) -> float:
    """Print the table; return the geometric mean of the time ratios cnnlib / torch."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round per layer (a smoke test only)")
    parser.add_argument("--backward", action="store_true", help="time conv2d_backward against torch.autograd")
    parser.add_argument("--parts", action="store_true", help="also time conv2d's im2col and matrix products alone")
    args = parser.parse_args(argv)
    if args.parts and args.backward:
        parser.error("--parts splits the forward pass only")
    rounds, repeats, pause = (1, 2, 0.15) if args.quick else (5, 7, 0.15)

    threads = torch.get_num_threads()
    limits = nullcontext() if threadpool_limits is None else threadpool_limits(threads, user_api="blas")
    blas_threads = str(threads) if threadpool_limits is not None else "default"
    print(
        f"float32 {'backward' if args.backward else 'forward'}, CPU: torch {torch.__version__} with {threads} threads, "
        f"NumPy {np.__version__} with {blas_threads} BLAS threads; median of {rounds} x {repeats} calls\n"
    )

    header = (
        f"{'layer':<21} {'input':>13} {'weight':>13} {'':>6} {'cnnlib ms':>10} {'torch ms':>9} {'ratio':>6}"
    )
    if args.parts:
        header += f" {'im2col ms':>10} {'matmul ms':>10} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    ratios, product_ratios = [], []
    ticks_before = processor_ticks()
    with limits, torch.no_grad():
        # One call of each layer in both libraries first, so that no first-call cost (the memory allocator
        # growing, torch choosing its kernels) is timed.
        for layer in LAYERS:
            for function in layer_functions(layer, args.backward):
                function()
        for layer in LAYERS:
            cnnlib_seconds, torch_seconds, *step_seconds = measure(
                layer, rounds, repeats, pause, args.backward, args.parts
            )
            ratios.append(cnnlib_seconds / torch_seconds)
            input_shape, weight_shape, stride_padding = describe(layer)
            line = (
                f"{layer.name:<21} {input_shape:>13} {weight_shape:>13} {stride_padding:>6} "
                f"{cnnlib_seconds * 1e3:>10.3f} {torch_seconds * 1e3:>9.3f} {ratios[-1]:>6.2f}"
            )
            if step_seconds:
                im2col_seconds, product_seconds = step_seconds
                product_ratios.append(product_seconds / torch_seconds)
                line += f" {im2col_seconds * 1e3:>10.3f} {product_seconds * 1e3:>10.3f} {product_ratios[-1]:>6.2f}"
            print(line, flush=True)
    geometric_mean = geometric_mean_of(ratios)
    print("-" * len(header))
    print(f"{'geometric mean of the ratios':<77} {geometric_mean:>6.2f}", end="")
    print(f" {'':>21} {geometric_mean_of(product_ratios):>6.2f}" if product_ratios else "")
    ticks_after = processor_ticks()
    if ticks_before is not None and ticks_after is not None and ticks_after[0] > ticks_before[0]:
        stolen = (ticks_after[1] - ticks_before[1]) / (ticks_after[0] - ticks_before[0])
        print(f"\nprocessor time stolen by other virtual machines during the run: {stolen:.1%}")
    return geometric_mean


if __name__ == "__main__":
    main()
