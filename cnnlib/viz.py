"""The book's figures: one palette, one style, and the plotting helpers chapters share.

The same colour means the same thing in every chapter: a convolution is always ``PALETTE["conv"]``, cnnlib's
NumPy code is always ``PALETTE["cnnlib"]`` and PyTorch ``PALETTE["torch"]``.
"""

from __future__ import annotations

from collections.abc import Sequence

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
