"""Small helpers every chapter uses: seeding, device choice, and showing the library's own source."""

from __future__ import annotations

import inspect
import random

import numpy as np


def seed_everything(seed: int = 0) -> np.random.Generator:
    """Seed Python's, NumPy's and (when installed) PyTorch's random number generators.

    Also asks PyTorch for deterministic algorithms where it has them, so that two runs of a chapter print the same
    text.

    Args:
        seed: the seed used for every generator.

    Returns:
        A fresh ``numpy.random.Generator`` seeded with ``seed``, for code that prefers an explicit generator.
    """
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
