"""Small helpers every chapter uses: seeding, device choice, progress bars, and showing the library's own source."""

from __future__ import annotations

import inspect
import os
import random
import sys

import numpy as np

SEED_VARIABLE = "CNN_BOOK_SEED"
"""The environment variable from which every random choice of the book derives (default 0)."""

STREAMS_PER_SEED = 1000
"""How many independent streams one value of ``CNN_BOOK_SEED`` provides (see :func:`book_seed`)."""


def book_seed(stream: int = 0) -> int:
    """The seed of one random stream of the book, derived from the environment variable ``CNN_BOOK_SEED``.

    Every random choice in the book (weights, data splits, generated images, batch orders, dropout masks, the
    chapters' own generators) takes its seed from here, so that one variable moves them all: with
    ``CNN_BOOK_SEED=1`` a chapter draws other weights, other splits and other batches, which is how the book checks
    that its claims hold beyond one lucky run. The seed of stream ``k`` is ``1000 * CNN_BOOK_SEED + k``; with the
    default ``CNN_BOOK_SEED=0`` it is simply ``k``, and different streams never share a seed.

    Args:
        stream: which of the book seed's independent streams, 0 to 999 (a chapter that needs several generators,
            or one run per seed, numbers them 0, 1, 2, ...).

    Returns:
        A non-negative int, usable by ``numpy.random.default_rng``, ``torch.manual_seed`` and every ``seed=``
        argument of cnnlib.

    Raises:
        ValueError: when ``CNN_BOOK_SEED`` is not a non-negative integer, or ``stream`` is out of range.
    """
    if isinstance(stream, bool) or not isinstance(stream, (int, np.integer)) or not 0 <= stream < STREAMS_PER_SEED:
        raise ValueError(f"stream must be an int from 0 to {STREAMS_PER_SEED - 1}, got {stream!r}")
    text = os.environ.get(SEED_VARIABLE, "0").strip() or "0"
    try:
        base = int(text)
    except ValueError:
        base = -1
    if base < 0 or base >= 2**32 // STREAMS_PER_SEED:
        raise ValueError(
            f"{SEED_VARIABLE} must be an integer from 0 to {2**32 // STREAMS_PER_SEED - 1}, got {text!r}"
        )
    return STREAMS_PER_SEED * base + int(stream)


def seed_everything(seed: int | None = None) -> np.random.Generator:
    """Seed Python's, NumPy's and (when installed) PyTorch's random number generators.

    Also asks PyTorch for deterministic algorithms where it has them, so that two runs of a chapter print the same
    text.

    Args:
        seed: the seed used for every generator; None (the chapters' choice) takes :func:`book_seed`, so that
            ``CNN_BOOK_SEED`` moves it.

    Returns:
        A fresh ``numpy.random.Generator`` seeded with ``seed``, for code that prefers an explicit generator.
    """
    if seed is None:
        seed = book_seed()
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- the legacy global generator that other libraries still draw from
    try:
        import torch
    except ImportError:  # the NumPy half of the library works without torch
        pass
    else:
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)


PLAIN_PROGRESS_VARIABLE = "CNN_BOOK_PLAIN_PROGRESS"
"""When this environment variable is set (``tasks.py book`` sets it), :func:`progress` draws text bars."""


def progress(iterable=None, **kwargs):
    """A tqdm progress bar: a widget in Jupyter, text elsewhere, and text in the built book.

    A widget bar needs scripts that a static page would fetch from a CDN (require.js and the widget manager);
    offline it shows the text it had when it was created, "0%", under a cell that finished. So when the environment
    variable ``CNN_BOOK_PLAIN_PROGRESS`` is set, as the book build sets it, the bar is tqdm's text bar, which prints
    one line to standard output when it closes, and the page shows that final state ("epochs: 100%|...| 3/3").

    Args:
        iterable: what to iterate over, as for ``tqdm.tqdm``.
        **kwargs: any keyword ``tqdm.tqdm`` takes (``desc``, ``total``, ``disable``, ``leave``, ...).

    Returns:
        A ``tqdm`` object: iterate over it, or call ``update`` and ``close``.
    """
    if os.environ.get(PLAIN_PROGRESS_VARIABLE):
        return _final_line_bar()(iterable, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


def _final_line_bar():
    """tqdm's text bar, printing only its final state, once, when it closes.

    A page cannot redraw a line, and myst-nb puts every redraw of a text bar on a line of its own, so the bar draws
    into nothing while it runs and prints one line at the end.
    """
    import io

    from tqdm.std import tqdm

    class FinalLineBar(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["file"] = io.StringIO()  # the live redraws
            kwargs.setdefault("ascii", False)  # the final line with block characters, as a terminal would show it
            super().__init__(*args, **kwargs)

        def close(self):
            if self.disable:  # disabled, or already closed
                return super().close()
            final, leave = str(self), self.leave
            super().close()
            if leave:
                print(final, file=sys.stdout, flush=True)

    return FinalLineBar


def device():
    """The ``torch.device`` chapters train on: the first CUDA GPU when one is present, else the CPU.

    Nothing in the book requires a GPU; with one, the same code runs there unchanged.
    """
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def show_source(obj) -> object:
    """Display the source code of a cnnlib function or class, syntax-highlighted, in a notebook.

    The book shows the library's code with this helper rather than with a pasted copy, so what a reader sees is
    always what the library runs.

    Args:
        obj: a function, class or module.

    Returns:
        An ``IPython.display.Code`` object (rendered by Jupyter and by the book).
    """
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
