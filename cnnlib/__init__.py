"""cnnlib: the small library behind the executable CNN textbook.

A module per concept, each small enough to read in one sitting:

- ``cnnlib.functional``: the layers of a CNN written in NumPy (convolution, pooling, activations, linear, softmax,
  cross-entropy), each with its backward pass.
- ``cnnlib.nn``: the same layers as objects (Conv2d, ReLU, MaxPool2d, Linear, Dropout, BatchNorm2d, Sequential, ...)
  with forward and backward passes, NumPy only.
- ``cnnlib.gradcheck``: gradients by centred finite differences, to check every backward pass.
- ``cnnlib.optim``: SGD (momentum, weight decay) and Adam for ``cnnlib.nn`` networks.
- ``cnnlib.data``: offline data sets that ship with installed packages (real MNIST digits, photos).
- ``cnnlib.viz``: the book's palette and plotting helpers.
- ``cnnlib.train``: one plain training loop for PyTorch models, with progress bars and a history.
- ``cnnlib.detection``: boxes (formats, areas), intersection over union and non-maximum suppression.

The helpers every chapter calls first live here: :func:`seed_everything`, :func:`book_seed` (the seed of every random
choice, moved by the environment variable ``CNN_BOOK_SEED``), :func:`device` and :func:`show_source`.
"""

from cnnlib.utils import book_seed, device, progress, seed_everything, show_source

__all__ = ["book_seed", "device", "progress", "seed_everything", "show_source"]
__version__ = "0.1.0"
