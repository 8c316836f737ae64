"""What a network costs: parameters, floating-point operations, activation memory, and a layer-by-layer summary.

Nothing here counts by hand: FLOPs come from PyTorch's :class:`torch.utils.flop_counter.FlopCounterMode`, which
sees every matrix multiplication and convolution of one forward pass, and the summary from ``torchinfo``. A model
built on the meta device (``with torch.device("meta"): model = cnnlib.models.vgg16()``) is profiled without
allocating its weights or computing anything: the forward pass then only propagates shapes, so even the full-size
ImageNet networks cost a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["ProfileRow", "activation_memory", "count_flops", "count_params", "profile_table", "summary"]


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of a model: the sum of ``p.numel()`` over its parameters, each shared one counted once.

    Args:
        model: Any ``torch.nn.Module`` (also one built on the meta device).
        trainable_only: Count only parameters with ``requires_grad`` (for example, leave out frozen embeddings).

    Returns:
        The number of scalar parameters, an int. Buffers (batch norm's running statistics) are not parameters.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _device_of(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer; the CPU for a model that has neither."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _example_input(model: nn.Module, input_shape, input, dtype: torch.dtype) -> torch.Tensor:
    """The given ``input``, or zeros of ``input_shape`` and ``dtype`` on the model's device; exactly one is needed."""
    if (input_shape is None) == (input is None):
        raise ValueError(
            f"expected exactly one of input_shape and input, got input_shape={input_shape!r} and "
            f"input={'None' if input is None else 'a tensor'}"
        )
    if input is not None:
        return input
    shape = tuple(input_shape)
    if not shape or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(f"expected input_shape to be a tuple of positive ints with the batch first, got {input_shape}")
    return torch.zeros(shape, dtype=dtype, device=_device_of(model))


@contextmanager
def _inference(model: nn.Module) -> Iterator[None]:
    """Evaluation mode without gradients for the duration; the model's own mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def count_flops(
    model: nn.Module, input_shape: Sequence[int] | None = None, *, input: torch.Tensor | None = None,
    dtype: torch.dtype = torch.float32,
) -> int:
    """Floating-point operations of one forward pass, counted by ``torch.utils.flop_counter.FlopCounterMode``.

    The model runs once in evaluation mode under ``torch.no_grad`` on zeros of ``input_shape`` (batch first), or on
    ``input``; its training mode is restored afterwards. The counter counts a multiply-add as 2 FLOPs, so a
    convolution costs ``2 * N * C_out * H_out * W_out * C_in * kh * kw / groups`` and a linear layer
    ``2 * N * in_features * out_features``. It counts matrix products and convolutions only: it ignores elementwise
    work (activations, bias additions, batch normalisation, residual additions, the SE block's channel scaling),
    pooling and embedding look-ups, which are a small part of a CNN's arithmetic. Published tables often give
    multiply-accumulates (MACs) instead, half this number.

    Args:
        model: The network; its parameters' device is where the zeros are made (the meta device works).
        input_shape: Shape of the input, batch first, e.g. ``(1, 3, 224, 224)``.
        input: A ready input instead of ``input_shape`` (for example, a batch of token ids).
        dtype: Type of the zeros made from ``input_shape``; ``torch.long`` for token ids
            (:class:`cnnlib.models.TextCNN`).

    Returns:
        The total FLOPs of the pass, an int (for the whole batch).

    Raises:
        ValueError: If neither or both of ``input_shape`` and ``input`` are given, or the shape is not positive ints.
    """
    x = _example_input(model, input_shape, input, dtype)
    with _inference(model), FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops())


def _tensors(output) -> Iterator[torch.Tensor]:
    """The tensors in a module's output: a tensor, or tensors nested in tuples, lists and dicts."""
    if isinstance(output, torch.Tensor):
        yield output
    elif isinstance(output, tuple | list):
        for item in output:
            yield from _tensors(item)
    elif isinstance(output, dict):
        for item in output.values():
            yield from _tensors(item)


def activation_memory(
    model: nn.Module, input_shape: Sequence[int] | None = None, *, input: torch.Tensor | None = None,
    dtype: torch.dtype = torch.float32,
) -> int:
    """Bytes held by the outputs of all leaf modules in one forward pass: the activations training would keep.

    A forward hook on every leaf module (one with no submodules) records the memory of its output tensors. Memory
    is counted once per storage: an in-place ReLU, a flatten (a view), or dropout and identity in evaluation mode
    return their input's memory, which is not counted again. Work done outside modules (``torch.cat`` in an
    Inception block, the residual addition) and the input itself are not counted. The pass runs as in
    :func:`count_flops` (evaluation mode, no gradients, mode restored), keeping every output alive until it ends.

    Args:
        model: The network (the meta device works: shapes are all that is needed).
        input_shape: Shape of the input, batch first.
        input: A ready input instead of ``input_shape``.
        dtype: Type of the zeros made from ``input_shape``.

    Returns:
        The bytes, an int, for the whole batch (``sum of numel * element_size`` over distinct output storages).

    Raises:
        ValueError: As :func:`count_flops`.
    """
    x = _example_input(model, input_shape, input, dtype)
    bytes_per_storage: dict[int, int] = {}
    kept: list[torch.Tensor] = []  # held until the pass ends, so no storage is freed and its address reused

    def record(module, inputs, output) -> None:
        for tensor in _tensors(output):
            kept.append(tensor)
            storage = tensor.untyped_storage()
            # _cdata identifies the storage itself, on every device (data_ptr is 0 for all meta tensors).
            bytes_per_storage[storage._cdata] = storage.nbytes()

    leaves = [module for module in model.modules() if next(module.children(), None) is None]
    handles = [module.register_forward_hook(record) for module in leaves]
    try:
        with _inference(model):
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return sum(bytes_per_storage.values())


def summary(model: nn.Module, input_shape: Sequence[int], *, depth: int = 3, dtype: torch.dtype = torch.float32,
            **kwargs):
    """A layer-by-layer table of output sizes and parameters, by ``torchinfo.summary``.

    The model runs once on zeros of ``input_shape`` (batch first) in evaluation mode, on the device where its
    parameters are (it is not moved), and its mode is restored. Printing the result shows the table; its attributes
    hold the totals (``total_params``, ``trainable_params``, ``total_mult_adds``, ...).

    Args:
        model: The network (on a real device: torchinfo runs a real forward pass).
        input_shape: Shape of the input, batch first, e.g. ``(1, 1, 28, 28)``.
        depth: How many levels of nested modules to show.
        dtype: Type of the input (``torch.long`` for token ids).
        **kwargs: Passed to ``torchinfo.summary`` (for example ``col_names`` or ``row_settings``).

    Returns:
        ``torchinfo.ModelStatistics``.
    """
    import torchinfo

    kwargs.setdefault("col_names", ("output_size", "num_params"))
    kwargs.setdefault("verbose", 0)
    kwargs.setdefault("mode", "eval")
    return torchinfo.summary(
        model, input_size=tuple(input_shape), depth=depth, dtypes=[dtype], device=_device_of(model), **kwargs
    )


class ProfileRow(NamedTuple):
    """One row of :func:`profile_table`."""

    name: str
    params: int
    flops: int
    activation_bytes: int


def profile_table(
    models: dict[str, nn.Module], input_shape: Sequence[int], *, dtype: torch.dtype = torch.float32
) -> list[ProfileRow]:
    """Parameters, FLOPs and activation memory of several models on the same input shape.

    Args:
        models: Names mapped to models (build them on the meta device to profile full-size networks cheaply).
        input_shape: Shape of the input, batch first, the same for every model.
        dtype: Type of the input.

    Returns:
        A list of :class:`ProfileRow` ``(name, params, flops, activation_bytes)``, in the order of ``models``; see
        :func:`count_params`, :func:`count_flops` and :func:`activation_memory`.
    """
    return [
        ProfileRow(
            name,
            count_params(model),
            count_flops(model, input_shape, dtype=dtype),
            activation_memory(model, input_shape, dtype=dtype),
        )
        for name, model in models.items()
    ]
