"""The book's figures: one palette, one style, and the plotting helpers chapters share.

The same colour means the same thing in every chapter: a convolution is always ``PALETTE["conv"]``, cnnlib's
NumPy code is always ``PALETTE["cnnlib"]`` and PyTorch ``PALETTE["torch"]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

#: Colours by meaning (colour-blind-safe, after Okabe and Ito's palette).
PALETTE = {
    "input": "#999999",     # data entering a network
    "conv": "#0072B2",      # convolution layers
    "relu": "#E69F00",      # activations
    "pool": "#009E73",      # pooling
    "linear": "#CC79A7",    # fully connected layers
    "output": "#D55E00",    # outputs, losses
    "cnnlib": "#0072B2",    # the book's NumPy implementation
    "torch": "#D55E00",     # PyTorch
    "scipy": "#009E73",     # SciPy
    "reference": "#000000", # a reference line or an ideal
    "loops": "#E69F00",     # naive loop implementations
    "gradient": "#D55E00",  # gradients, the error signal a loss sends back (the colour of the loss)
}

#: Diverging colour map for signed values (kernels, gradients, filter responses): zero is white.
SIGNED_CMAP = "RdBu_r"


def use_book_style() -> None:
    """Set matplotlib defaults for figures readable at the book's width."""
    mpl.rcParams.update(
        {
            "figure.figsize": (7.0, 3.5),
            "figure.dpi": 110,
            "savefig.dpi": 110,
            "font.size": 10,
            "axes.titlesize": 10,
            "axes.labelsize": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "legend.frameon": False,
            "image.interpolation": "nearest",
        }
    )


def show_images(
    images: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    cmap: str = "gray",
    signed: bool = False,
    size: float = 2.2,
    suptitle: str | None = None,
):
    """Show 2-D arrays (grey) or (H, W, 3) arrays (colour) side by side, without axes.

    Args:
        images: a sequence of arrays of shape (H, W) or (H, W, 3).
        titles: one title per image.
        ncols: images per row (default: all in one row).
        cmap: colour map for 2-D arrays.
        signed: show 2-D arrays with :data:`SIGNED_CMAP`, symmetric about zero (for kernels and responses that can
            be negative); ``cmap`` is then ignored.
        size: width and height of each panel, in inches.
        suptitle: a title over the whole figure.

    Returns:
        The matplotlib ``Figure``.
    """
    count = len(images)
    ncols = ncols or count
    nrows = int(np.ceil(count / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0)),
                             squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= count:
            continue
        image = np.asarray(images[index])
        if signed and image.ndim == 2:
            limit = float(np.abs(image).max()) or 1.0
            ax.imshow(image, cmap=SIGNED_CMAP, vmin=-limit, vmax=limit)
        else:
            ax.imshow(image, cmap=cmap if image.ndim == 2 else None)
        if titles is not None:
            ax.set_title(titles[index])
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def annotate_grid(ax, values: np.ndarray, fmt: str = "{:g}", fontsize: int = 9) -> None:
    """Draw a small matrix with each cell's value written in it (for examples small enough to check by eye).

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        values: a 2-D array.
        fmt: format of each number.
        fontsize: size of the numbers.
    """
    values = np.asarray(values)
    ax.imshow(values, cmap="Blues", alpha=0.6)
    for (row, col), value in np.ndenumerate(values):
        ax.text(col, row, fmt.format(value), ha="center", va="center", fontsize=fontsize)
    ax.set_xticks(range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]))
    ax.grid(False)


def _as_pair(value) -> tuple[int, int]:
    """An int or an (h, w) pair, as an (h, w) pair."""
    return (int(value), int(value)) if np.isscalar(value) else (int(value[0]), int(value[1]))


def draw_conv_window(
    ax,
    input_size,
    kernel_size,
    stride=1,
    padding=0,
    dilation=1,
    outputs: Sequence[tuple[int, int]] = ((0, 0),),
    colors: Sequence[str] | None = None,
) -> None:
    """Draw an input grid and the cells that chosen output positions of a convolution (or pooling) window read.

    The input of shape ``input_size`` is drawn with its zero padding around it (hatched grey cells). Output
    position ``(row, col)`` reads the padded input at ``(row * stride + u * dilation, col * stride + v * dilation)``
    for ``0 <= u < kh`` and ``0 <= v < kw``; those cells are filled with the output's colour, translucent, so that
    two overlapping windows show their overlap.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        input_size: H or (H, W), the size of the input before padding.
        kernel_size: k or (kh, kw).
        stride: s or (sh, sw).
        padding: p or (ph, pw), zeros added on each side.
        dilation: d or (dh, dw), the spacing between the cells one window reads.
        outputs: output positions (row, col) whose windows are drawn.
        colors: one colour per output position (default: ``PALETTE["conv"]``, then ``PALETTE["output"]``, ...).
    """
    height, width = _as_pair(input_size)
    kernel_h, kernel_w = _as_pair(kernel_size)
    stride_h, stride_w = _as_pair(stride)
    pad_h, pad_w = _as_pair(padding)
    dilation_h, dilation_w = _as_pair(dilation)
    colors = list(colors or [PALETTE["conv"], PALETTE["output"], PALETTE["pool"], PALETTE["relu"]])
    rows, cols = height + 2 * pad_h, width + 2 * pad_w
    for row in range(rows):
        for col in range(cols):
            is_padding = not (pad_h <= row < pad_h + height and pad_w <= col < pad_w + width)
            ax.add_patch(
                mpl.patches.Rectangle(
                    (col, row), 1, 1, facecolor="#eeeeee" if is_padding else "white", edgecolor="#888888",
                    hatch="//" if is_padding else None, linewidth=0.8,
                )
            )
    for index, (out_row, out_col) in enumerate(outputs):
        color = colors[index % len(colors)]
        for u in range(kernel_h):
            for v in range(kernel_w):
                row = out_row * stride_h + u * dilation_h
                col = out_col * stride_w + v * dilation_w
                ax.add_patch(mpl.patches.Rectangle((col, row), 1, 1, facecolor=color, alpha=0.45, linewidth=0))
                ax.add_patch(
                    mpl.patches.Rectangle((col, row), 1, 1, fill=False, edgecolor=color, linewidth=1.6)
                )
    ax.set_xlim(-0.1, cols + 0.1)
    ax.set_ylim(rows + 0.1, -0.1)
    ax.set_aspect("equal")
    ax.axis("off")


# ----------------------------------------------------------------------------------------------------------------------
# Architecture diagrams (chapter 6): layer records from a model, then a drawing of them
# ----------------------------------------------------------------------------------------------------------------------

#: Colour of each kind of block in :func:`draw_architecture` (kinds without a colour of their own are drawn white).
ARCHITECTURE_COLORS = {
    "input": PALETTE["input"],
    "conv": PALETTE["conv"],
    "relu": PALETTE["relu"],
    "activation": PALETTE["relu"],
    "pool": PALETTE["pool"],
    "linear": PALETTE["linear"],
    "output": PALETTE["output"],
    "flatten": "#ffffff",
    "other": "#ffffff",
}

_KIND_BY_CLASS = {
    "Conv1d": "conv", "Conv2d": "conv", "Conv3d": "conv",
    "ReLU": "relu",
    "LeakyReLU": "activation", "GELU": "activation", "Tanh": "activation", "Sigmoid": "activation",
    "ELU": "activation", "SiLU": "activation", "ReLU6": "activation", "Softmax": "activation",
    "MaxPool2d": "pool", "AvgPool2d": "pool", "AdaptiveAvgPool2d": "pool", "AdaptiveMaxPool2d": "pool",
    "MaxPool1d": "pool", "AdaptiveMaxPool1d": "pool",
    "Flatten": "flatten",
    "Linear": "linear",
}


@dataclass
class LayerRecord:
    """One block of an architecture diagram: what a layer (or a group of layers) is and what it produces.

    Attributes:
        name: the layer's path in the model (``"3"``, ``"features.0"``; ``"input"`` for the input).
        kind: ``"input"``, ``"conv"``, ``"relu"``, ``"activation"``, ``"pool"``, ``"flatten"``, ``"linear"``,
            ``"block"`` (a group of layers drawn as one box) or ``"other"``.
        label: the text naming the block, such as ``"Conv 5x5, 6"`` or ``"MaxPool 2x2"``.
        output_shape: shape of the layer's output, batch axis included, such as ``(1, 6, 28, 28)``.
        num_params: number of learned scalars in the layer (0 for ReLU, pooling, flatten).
        contains: for a ``"block"``, the kinds of the layers inside it, in order; empty otherwise.
    """

    name: str
    kind: str
    label: str
    output_shape: tuple[int, ...]
    num_params: int
    contains: tuple[str, ...] = ()


def _layer_label(layer, kind: str, output_shape: tuple[int, ...]) -> str:
    """The short label of one layer, from its class and the attributes torch and cnnlib layers share."""
    class_name = type(layer).__name__
    if kind == "conv":
        kernel_h, kernel_w = _as_pair(layer.kernel_size)
        label = f"Conv {kernel_h}x{kernel_w}, {layer.out_channels}"
        stride = _as_pair(layer.stride)
        return label if stride == (1, 1) else label + f", /{stride[0]}"
    if kind == "linear":
        return f"FC {layer.out_features}"
    if kind == "pool":
        name = class_name.removesuffix("2d").removesuffix("1d")
        if name.startswith("Adaptive"):
            return "Global" + name.removeprefix("Adaptive") if math.prod(output_shape[2:]) == 1 else name
        kernel = _as_pair(layer.kernel_size)
        stride = _as_pair(layer.stride if layer.stride is not None else layer.kernel_size)
        label = f"{name} {kernel[0]}x{kernel[1]}"
        return label if stride == kernel else label + f", /{stride[0]}"
    return class_name


def _group_record(name: str, module, leaves: list, output_shape: tuple[int, ...], num_params: int) -> LayerRecord:
    kinds = tuple(_KIND_BY_CLASS.get(type(leaf).__name__, "other") for leaf in leaves)
    counted = [f"{kinds.count(kind)} {kind}" for kind in ("conv", "linear", "pool") if kind in kinds]
    label = f"{name}: {', '.join(counted)}" if counted else f"{name}: {type(module).__name__}"
    return LayerRecord(name, "block", label, output_shape, num_params, kinds)


def _cnnlib_records(model, input_shape, depth) -> list[LayerRecord]:
    from cnnlib import nn as cnn

    def leaves(module) -> list:
        if isinstance(module, cnn.Sequential):
            return [leaf for layer in module for leaf in leaves(layer)]
        return [module]

    def select(module, name: str, level: int) -> list[tuple[str, object]]:
        if not isinstance(module, cnn.Sequential) or (depth is not None and level == depth and level > 0):
            return [(name, module)]
        return [
            pair
            for index, layer in enumerate(module)
            for pair in select(layer, f"{name}.{index}" if name else str(index), level + 1)
        ]

    records, shape = [], tuple(input_shape)
    for name, module in select(model, "", 0):
        shape = module.output_shape(shape)
        if isinstance(module, cnn.Sequential):
            records.append(_group_record(name, module, leaves(module), shape, module.num_parameters()))
        else:
            kind = _KIND_BY_CLASS.get(type(module).__name__, "other")
            records.append(LayerRecord(name, kind, _layer_label(module, kind, shape), shape, module.num_parameters()))
    return records


def _torch_records(model, input_shape, depth) -> list[LayerRecord]:
    import torch

    def select(module, name: str, level: int) -> list[tuple[str, object]]:
        children = list(module.named_children())
        if not children or (depth is not None and level == depth and level > 0):
            return [(name, module)]
        return [pair for child_name, child in children
                for pair in select(child, f"{name}.{child_name}" if name else child_name, level + 1)]

    selected = select(model, "", 0)
    calls: list[tuple[str, object, tuple[int, ...]]] = []

    def hook_for(name):
        def hook(module, inputs, output):
            tensor = output[0] if isinstance(output, (tuple, list)) else output
            calls.append((name, module, tuple(tensor.shape)))
        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in selected]
    first = next(model.parameters(), None)
    dummy = torch.zeros(tuple(input_shape), dtype=first.dtype if first is not None else torch.float32,
                        device=first.device if first is not None else "cpu")
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(dummy)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()

    records = []
    for name, module, shape in calls:
        num_params = sum(parameter.numel() for parameter in module.parameters())
        leaves = [leaf for leaf in module.modules() if not list(leaf.children())]
        if leaves == [module]:
            kind = _KIND_BY_CLASS.get(type(module).__name__, "other")
            records.append(LayerRecord(name, kind, _layer_label(module, kind, shape), shape, num_params))
        else:
            records.append(_group_record(name, module, leaves, shape, num_params))
    return records


def architecture_records(model, input_shape, depth: int | None = None) -> list[LayerRecord]:
    """The blocks of an architecture diagram: the input, then one record per layer, in the order data flows.

    Works for a :class:`cnnlib.nn.Sequential` (shapes from its ``output_shape`` method, no data needed)
    and for any ``torch.nn.Module`` (one forward pass of zeros in evaluation mode, with a forward hook on every
    layer drawn, to learn each output shape).

    Args:
        model: a ``cnnlib.nn`` module or a ``torch.nn.Module``.
        input_shape: shape of the input, batch axis included, such as ``(1, 1, 28, 28)``.
        depth: None (the default) gives one record per leaf layer (a layer with no sub-layers); ``depth=1`` one per
            top-level child of the model (a whole stage of VGG or ResNet becomes one ``"block"``); ``depth=2`` the
            children of those, and so on (leaves above that depth stay leaves).

    Returns:
        A list of :class:`LayerRecord`, the first one the input (kind ``"input"``, no parameters).
    """
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be None or at least 1, got {depth}")
    input_shape = tuple(int(size) for size in input_shape)
    source = _cnnlib_records if hasattr(model, "output_shape") else _torch_records
    records = source(model, input_shape, depth)
    return [LayerRecord("input", "input", "Input", input_shape, 0), *records]


def _shape_text(shape: tuple[int, ...]) -> str:
    return "\u00d7".join(str(size) for size in shape[1:])


def _parameter_gradient_texts(model, records: list[LayerRecord]) -> dict[str, list[str]]:
    """For each record, the lines that name its parameter gradients in a backward diagram.

    A leaf layer gets one line per parameter, ``"∂L/∂W: 6×1×5×5"`` for a weight and ``"∂L/∂b: 6"`` for a bias (the
    gradient has the parameter's shape); a group of layers, or a record drawn without its model, one line with the
    number of values, ``"∂L/∂θ: 2,416 values"``. Layers without parameters get no line.
    """
    if model is None:
        named = []
    elif hasattr(model, "output_shape"):  # cnnlib.nn: parameters() names them "<index>.<name>", as torch does
        named = [(name, tuple(value.shape)) for name, value in model.parameters().items()]
    else:
        named = [(name, tuple(parameter.shape)) for name, parameter in model.named_parameters()]
    symbols = {"weight": "W", "bias": "b"}
    texts = {}
    for record in records:
        if record.num_params == 0:
            texts[record.name] = []
            continue
        prefix = f"{record.name}." if record.name else ""
        own = [(name[len(prefix):], shape) for name, shape in named if name.startswith(prefix)]
        if record.kind != "block" and 0 < len(own) <= 2 and all("." not in name for name, _ in own):
            texts[record.name] = [f"\u2202L/\u2202{symbols.get(name, name)}: {_shape_text((1, *shape))}"
                                  for name, shape in own]
        else:
            texts[record.name] = [f"\u2202L/\u2202\u03b8: {record.num_params:,} values"]
    return texts


def _canvas(width: float, height: float):
    """A figure of width x height inches whose one axes, without frame or ticks, has one data unit per inch."""
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def draw_architecture(
    model,
    input_shape=None,
    depth: int | None = None,
    direction: str = "forward",
    width: float = 9.0,
    max_per_row: int | None = None,
    fontsize: float = 8.0,
    title: str | None = None,
    legend: bool = True,
):
    """Draw a network as a row of blocks, input on the left, one block per layer, arrows in between.

    Every block is coloured by the kind of its layer (:data:`ARCHITECTURE_COLORS`, from :data:`PALETTE`; the last
    block, the network's output, in ``PALETTE["output"]``) and labelled with the layer, the shape of its output
    (without the batch axis) and its number of parameters. A feature map of shape (C, H, W) is drawn as a stack of
    squares whose size grows with H and W and whose depth grows with C (a hint of LeNet's classic picture); a vector
    as a bar whose height grows with its length (logarithmically). Long networks wrap onto several rows.

    With ``direction="backward"`` the same blocks, at the same places, show the backward pass: a loss block (a
    circle in ``PALETTE["output"]``) follows the output, and arrows in ``PALETTE["gradient"]`` run from the loss
    back to the input, right to left, because each layer receives the gradient of the loss with respect to its
    output and passes on the gradient with respect to its input. Under each block are the layer, the shape of the
    gradient with respect to its output, ``"∂L/∂y: 6×28×28"`` (the shape of the output itself; ``∂L/∂x`` for the
    input), and the gradients with respect to its parameters, ``"∂L/∂W: 6×1×5×5"`` and ``"∂L/∂b: 6"`` (for a group
    of layers, or records drawn without their model, the number of values, ``"∂L/∂θ: 2,416 values"``).

    Args:
        model: a :class:`cnnlib.nn.Sequential`, a ``torch.nn.Module``, or a list of :class:`LayerRecord` from
            :func:`architecture_records` (to draw records a chapter has edited).
        input_shape: shape of the input, batch axis included (not needed with records).
        depth: granularity of the blocks, as in :func:`architecture_records`.
        direction: ``"forward"`` (data flow left to right along the arrows) or ``"backward"`` (gradients flow
            from the loss, right to left, as described above).
        width: figure width in inches.
        max_per_row: blocks per row (default: as many as fit about 1.2 inches each).
        fontsize: font size of the labels, in points (at least 8 for the book).
        title: a title over the figure.
        legend: add a key of the colours under the blocks.

    Returns:
        The matplotlib ``Figure``. Each block's label is a text whose ``gid`` is ``"block:<name>"`` (the loss block
        of a backward diagram is ``"block:loss"``).

    Raises:
        ValueError: for an unknown ``direction``, or a model without ``input_shape``.
    """
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward', got {direction!r}")
    backward = direction == "backward"
    if isinstance(model, (list, tuple)) and all(isinstance(record, LayerRecord) for record in model):
        records = list(model)
        parameter_texts = _parameter_gradient_texts(None, records) if backward else {}
    else:
        if input_shape is None:
            raise ValueError("input_shape is required to draw a model (it is only optional with layer records)")
        records = architecture_records(model, input_shape, depth=depth)
        parameter_texts = _parameter_gradient_texts(model, records) if backward else {}
    # The blocks drawn: the layers, and in a backward diagram the loss after them (a scalar, shape ()).
    blocks = [*records, LayerRecord("loss", "loss", "Loss", (), 0)] if backward else records

    count = len(blocks)
    per_row = max_per_row or max(1, int(width // 1.2))
    rows = math.ceil(count / per_row)
    per_row = math.ceil(count / rows)  # balance the rows
    margin = 0.3  # room at both ends for the connector between rows
    slot = (width - 2 * margin) / per_row
    glyph_height, line, gap = 1.05, fontsize * 1.45 / 72, 0.3
    text_height = (4 if backward else 3) * line + 0.1
    row_height = glyph_height + text_height + gap
    legend_height = 0.3 if legend else 0.0
    height = rows * row_height - gap / 2 + (0.35 if title else 0.05) + legend_height

    fig, ax = _canvas(width, height)

    maps = [record.output_shape for record in records if len(record.output_shape) == 4]
    largest_side = max((max(shape[2:]) for shape in maps), default=1)
    vectors = [math.prod(record.output_shape[1:]) for record in records if len(record.output_shape) != 4]
    longest = max(vectors, default=2)
    depth_step = 0.05

    def glyph(record, x_center, y_center, color):
        """Draw one block's picture; returns its left and right x."""
        shape = record.output_shape
        style = {"facecolor": color, "edgecolor": "#333333", "linewidth": 0.8}
        if record.kind == "loss":
            radius = 0.16
            ax.add_patch(mpl.patches.Circle((x_center, y_center), radius, **style))
            return x_center - radius, x_center + radius
        if len(shape) == 4:
            layers = 1 + min(5, int(math.log2(max(shape[1], 1))))
            scale = 0.3 + 0.7 * max(shape[2:]) / largest_side
            side = glyph_height * 0.8 * scale
            box_h, box_w = side * shape[2] / max(shape[2:]), side * shape[3] / max(shape[2:])
            total_w, total_h = box_w + depth_step * (layers - 1), box_h + depth_step * (layers - 1)
            left, bottom = x_center - total_w / 2, y_center - total_h / 2
            for index in reversed(range(layers)):
                ax.add_patch(mpl.patches.Rectangle((left + index * depth_step, bottom + index * depth_step),
                                                   box_w, box_h, **style))
            return left, left + total_w
        length = math.prod(shape[1:])
        bar_h = glyph_height * (0.25 + 0.65 * math.log(max(length, 2)) / math.log(max(longest, 3)))
        bar_w = 0.16
        ax.add_patch(mpl.patches.Rectangle((x_center - bar_w / 2, y_center - bar_h / 2), bar_w, bar_h, **style))
        return x_center - bar_w / 2, x_center + bar_w / 2

    arrow = {"arrowstyle": "-|>", "color": "#333333", "lw": 1.0, "shrinkA": 2, "shrinkB": 2}
    if backward:
        arrow = {"arrowstyle": "-|>", "color": PALETTE["gradient"], "lw": 1.6, "shrinkA": 2, "shrinkB": 2,
                 "mutation_scale": 12}
    previous = None  # (right x, centre y, row) of the last block drawn
    for index, record in enumerate(blocks):
        row, column = divmod(index, per_row)
        x_center = margin + (column + 0.5) * slot
        row_top = height - (0.35 if title else 0.05) - row * row_height
        y_center = row_top - glyph_height / 2
        is_output = index == len(records) - 1 and len(records) > 1
        color = PALETTE["output"] if is_output or record.kind == "loss" else ARCHITECTURE_COLORS.get(record.kind)
        if record.kind == "block":
            inner = [kind for kind in ("conv", "linear", "pool", "relu") if kind in record.contains]
            color = ARCHITECTURE_COLORS[inner[0]] if inner and not is_output else color
        left, right = glyph(record, x_center, y_center, color or "#ffffff")
        text_top = row_top - glyph_height - 0.05
        ax.text(x_center, text_top, record.label, ha="center", va="top", fontsize=fontsize, fontweight="bold",
                gid=f"block:{record.name}")
        if backward:
            if record.kind == "loss":
                lines = ["\u2202L/\u2202L = 1"]  # the seed of the backward pass
            else:
                wrt = "x" if record.kind == "input" else "y"
                lines = [f"\u2202L/\u2202{wrt}: {_shape_text(record.output_shape)}", *parameter_texts[record.name]]
            for number, text in enumerate(lines):
                ax.text(x_center, text_top - (number + 1) * line, text, ha="center", va="top", fontsize=fontsize,
                        color="#000000" if number == 0 else "#444444")
        else:
            ax.text(x_center, text_top - line, _shape_text(record.output_shape), ha="center", va="top",
                    fontsize=fontsize)
            ax.text(x_center, text_top - 2 * line, f"{record.num_params:,} params", ha="center", va="top",
                    fontsize=fontsize, color="#444444")
        if previous is not None:
            previous_right, previous_y, previous_row = previous
            if previous_row == row and backward:  # the gradient flows from this block back into the previous one
                ax.annotate("", xy=(previous_right, previous_y), xytext=(left, y_center), arrowprops=arrow)
            elif previous_row == row:
                ax.annotate("", xy=(left, y_center), xytext=(previous_right, previous_y), arrowprops=arrow)
            elif backward:  # wrap, backwards: left, up above this row, across to the right, up, into the block
                y_between = previous_y - glyph_height / 2 - text_height - gap / 2
                path = [(left, y_center), (margin / 2, y_center), (margin / 2, y_between),
                        (width - margin / 2, y_between), (width - margin / 2, previous_y)]
                ax.plot(*zip(*path, strict=True), color=arrow["color"], lw=arrow["lw"], solid_joinstyle="round")
                ax.annotate("", xy=(previous_right, previous_y), xytext=(width - margin / 2, previous_y),
                            arrowprops=arrow)
            else:  # wrap: right, down below the previous row's labels, back to the left, down, into the block
                y_between = previous_y - glyph_height / 2 - text_height - gap / 2
                path = [(previous_right, previous_y), (width - margin / 2, previous_y), (width - margin / 2, y_between),
                        (margin / 2, y_between), (margin / 2, y_center)]
                ax.plot(*zip(*path, strict=True), color="#333333", lw=1.0, solid_joinstyle="round")
                ax.annotate("", xy=(left, y_center), xytext=(margin / 2, y_center), arrowprops=arrow)
        previous = (right, y_center, row)
    if title:
        ax.text(width / 2, height - 0.05, title, ha="center", va="top", fontsize=fontsize + 2)
    if legend:
        shown = {"input": "input", "conv": "convolution", "relu": "activation", "pool": "pooling",
                 "linear": "fully connected", "output": "output, loss" if backward else "output"}
        present = {record.kind for record in records} | {kind for record in records for kind in record.contains}
        present |= {"relu"} if "activation" in present else set()
        handles = [mpl.patches.Patch(facecolor=ARCHITECTURE_COLORS[kind], edgecolor="#333333", label=text)
                   for kind, text in shown.items() if kind in present or kind == "output"]
        if backward:
            handles.append(mpl.lines.Line2D([], [], color=PALETTE["gradient"], lw=arrow["lw"], marker="<",
                                            markersize=5, label="gradient"))
        ax.legend(handles=handles, loc="lower center", ncols=len(handles), fontsize=fontsize, frameon=False,
                  bbox_to_anchor=(0.5, 0.0), handlelength=1.2, columnspacing=1.2)
    return fig


# ----------------------------------------------------------------------------------------------------------------------
# Parallel branches (Inception modules, residual blocks): several paths from one input, merged at the end
# ----------------------------------------------------------------------------------------------------------------------

#: Kinds of layer that :func:`parallel_records` folds into the block before them by default: activations and layers
#: without a colour of their own (batch normalisation, identity, dropout), which keep the shape of their input.
FOLDED_KINDS = ("relu", "activation", "other")


def parallel_records(branches, input_shape, fold=FOLDED_KINDS) -> list[list[LayerRecord]]:
    """The blocks of each branch of a multi-branch module, for :func:`draw_parallel`.

    Each branch is run on zeros of ``input_shape`` (as :func:`architecture_records` does, one record per leaf layer),
    its input record dropped, and every layer whose kind is in ``fold`` merged into the block before it: the block
    keeps its label and shape and gains the folded layer's parameters, so that a branch's blocks hold all of its
    parameters. A folded layer at the start of a branch, or a branch that is only folded layers (``nn.Identity``,
    the shortcut of a residual block), leaves its parameters, if any, in a block of its own; a branch with no
    parameters and nothing else is an empty list, drawn as a bare arrow.

    Args:
        branches: a mapping of names to ``torch.nn.Module`` s, or a sequence of modules (named ``"0"``, ``"1"``,
            ...), each taking the same input.
        input_shape: shape of that input, batch axis included.
        fold: kinds (see :class:`LayerRecord`) to merge into the block before them; ``()`` keeps every layer.

    Returns:
        One list of :class:`LayerRecord` per branch, in order; record names are ``"<branch>.<layer>"``.

    Raises:
        ValueError: if there are no branches.
    """
    named = dict(branches) if hasattr(branches, "items") else {str(i): b for i, b in enumerate(branches)}
    if not named:
        raise ValueError("expected at least one branch, got none")
    rows = []
    for branch_name, branch in named.items():
        blocks: list[LayerRecord] = []
        for record in architecture_records(branch, input_shape)[1:]:
            name = f"{branch_name}.{record.name}" if record.name else branch_name
            if record.kind in fold and blocks:
                previous = blocks[-1]
                blocks[-1] = LayerRecord(previous.name, previous.kind, previous.label, previous.output_shape,
                                         previous.num_params + record.num_params, previous.contains)
            elif record.kind in fold and record.num_params == 0:
                continue
            else:
                blocks.append(LayerRecord(name, record.kind, record.label, record.output_shape, record.num_params,
                                          record.contains))
        rows.append(blocks)
    return rows


def draw_parallel(
    branches,
    input_shape,
    merge: str = "concatenate",
    fold=FOLDED_KINDS,
    width: float = 9.0,
    fontsize: float = 8.0,
    title: str | None = None,
    legend: bool = True,
):
    """Draw a module whose branches read the same input and are merged: an Inception module, a residual block.

    The input is on the left; each branch is a row of boxes, one per layer (activations and normalisations folded
    into the layer before them, see :func:`parallel_records`), coloured by kind as in :func:`draw_architecture`,
    each labelled with the layer, its output shape (without the batch axis) and its parameters; arrows lead from the
    input into every branch and from every branch into the merge on the right, labelled with the merged output's
    shape. A branch without layers (an identity shortcut) is a bare arrow. For ``"concatenate"`` the branch outputs
    must agree in every axis but the channels (axis 1) and the merged shape adds their channels; for ``"add"`` they
    must have one shape, which the sum keeps.

    Args:
        branches: a mapping of names to ``torch.nn.Module`` s, or a sequence of modules; the order is top to bottom.
        input_shape: shape of the input every branch receives, batch axis included, e.g. ``(1, 192, 28, 28)``.
        merge: ``"concatenate"`` (along channels, Inception) or ``"add"`` (elementwise, ResNet).
        fold: kinds merged into the block before them (:func:`parallel_records`).
        width: figure width in inches.
        fontsize: font size of the labels, in points.
        title: a title over the figure.
        legend: add a key of the colours under the drawing.

    Returns:
        The matplotlib ``Figure``. Each box's label is a text whose ``gid`` is ``"block:<branch>.<layer>"``; the input's
        is ``"block:input"`` and the merge's ``"block:merge"``.

    Raises:
        ValueError: for an unknown ``merge``, no branches, or branch outputs that cannot be merged that way.
    """
    if merge not in ("concatenate", "add"):
        raise ValueError(f"merge must be 'concatenate' or 'add', got {merge!r}")
    input_shape = tuple(int(size) for size in input_shape)
    rows = parallel_records(branches, input_shape, fold=fold)
    outputs = [row[-1].output_shape if row else input_shape for row in rows]
    if merge == "add":
        if len(set(outputs)) != 1:
            raise ValueError(f"expected branch outputs of one shape to add, got {outputs}")
        merged = outputs[0]
    else:
        rest = {(shape[0], *shape[2:]) for shape in outputs}
        if len(rest) != 1 or any(len(shape) < 2 for shape in outputs):
            raise ValueError(f"expected branch outputs that differ only in channels (axis 1), got {outputs}")
        merged = (outputs[0][0], sum(shape[1] for shape in outputs), *outputs[0][2:])

    columns = max(1, max(len(row) for row in rows))
    line = fontsize * 1.45 / 72
    box_h, gap_y, margin = 3 * line + 0.16, 0.25, 0.1
    side_w = min(1.5, width * 0.17)  # the input and merge boxes
    arrow_room = 0.35
    slot = (width - 2 * (side_w + arrow_room) - 2 * margin) / columns
    box_w = slot - 0.3
    legend_h = 0.35 if legend else 0.0
    title_h = 0.35 if title else 0.05
    height = title_h + len(rows) * box_h + (len(rows) - 1) * gap_y + legend_h + 0.1

    fig, ax = _canvas(width, height)

    def box(x_left, y_center, w, color, lines, gid):
        ax.add_patch(mpl.patches.FancyBboxPatch(
            (x_left, y_center - box_h / 2), w, box_h, boxstyle="round,pad=0,rounding_size=0.06",
            facecolor=mpl.colors.to_rgba(color, 0.22), edgecolor=color, linewidth=1.4))
        for number, text in enumerate(lines):
            ax.text(x_left + w / 2, y_center + (len(lines) - 1) / 2 * line - number * line, text, ha="center",
                    va="center",
                    fontsize=fontsize, fontweight="bold" if number == 0 else "normal",
                    color="#000000" if number < 2 else "#444444", gid=gid if number == 0 else None)

    top = height - title_h
    centers = [top - box_h / 2 - index * (box_h + gap_y) for index in range(len(rows))]
    middle = (centers[0] + centers[-1]) / 2
    input_left, merge_left = margin, width - margin - side_w
    box(input_left, middle, side_w, PALETTE["input"], ["Input", _shape_text(input_shape)], "block:input")
    merge_label = "Concatenate" if merge == "concatenate" else "Add"
    box(merge_left, middle, side_w, PALETTE["output"], [merge_label, _shape_text(merged)], "block:merge")
    arrow = {"arrowstyle": "-|>", "color": "#333333", "lw": 1.0, "shrinkA": 0, "shrinkB": 0}
    fan_out_x, fan_in_x = input_left + side_w + arrow_room, merge_left - arrow_room
    first_x = fan_out_x + 0.15
    for row, y_center in zip(rows, centers, strict=True):
        # From the input's right edge to this row's first box (or, for an empty branch, straight to the merge).
        ax.plot([input_left + side_w, fan_out_x, fan_out_x], [middle, middle, y_center], color="#333333", lw=1.0)
        x = fan_out_x
        for column, record in enumerate(row):
            left = first_x + column * slot
            ax.annotate("", xy=(left, y_center), xytext=(x, y_center), arrowprops=arrow)
            color = ARCHITECTURE_COLORS.get(record.kind) or "#777777"
            if record.kind == "block":
                inner = [kind for kind in ("conv", "linear", "pool", "relu") if kind in record.contains]
                color = ARCHITECTURE_COLORS[inner[0]] if inner else "#777777"
            box(left, y_center, box_w, color,
                [record.label, _shape_text(record.output_shape), f"{record.num_params:,} params"],
                f"block:{record.name}")
            x = left + box_w
        ax.plot([x, fan_in_x, fan_in_x], [y_center, y_center, middle], color="#333333", lw=1.0)
    ax.annotate("", xy=(merge_left, middle), xytext=(fan_in_x, middle), arrowprops=arrow)
    if title:
        ax.text(width / 2, height - 0.05, title, ha="center", va="top", fontsize=fontsize + 2)
    if legend:
        shown = {"input": "input", "conv": "convolution", "pool": "pooling", "linear": "fully connected",
                 "output": "merge"}
        present = {record.kind for row in rows for record in row}
        present |= {kind for row in rows for record in row for kind in record.contains}
        handles = [mpl.patches.Patch(facecolor=mpl.colors.to_rgba(ARCHITECTURE_COLORS[kind], 0.22),
                                     edgecolor=ARCHITECTURE_COLORS[kind], label=text)
                   for kind, text in shown.items() if kind in present or kind in ("input", "output")]
        ax.legend(handles=handles, loc="lower center", ncols=len(handles), fontsize=fontsize, frameon=False,
                  bbox_to_anchor=(0.5, 0.0), handlelength=1.2, columnspacing=1.2)
    return fig
