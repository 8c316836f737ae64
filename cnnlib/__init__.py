"""cnnlib: the small library behind the executable CNN textbook.

A module per concept, each small enough to read in one sitting:

- ``cnnlib.functional``: the layers of a CNN written in NumPy (convolution, pooling, activations, linear, softmax,
  cross-entropy), each with its backward pass.
- ``cnnlib.conv_algorithms``: the convolution computed by implicit GEMM, FFT and Winograd, with their costs.
- ``cnnlib.nn``: the same layers as objects (Conv2d, ReLU, MaxPool2d, Linear, Dropout, BatchNorm2d, Sequential, ...)
  with forward and backward passes, NumPy only.
- ``cnnlib.gradcheck``: gradients by centred finite differences, to check every backward pass.
- ``cnnlib.optim``: SGD (momentum, weight decay) and Adam for ``cnnlib.nn`` networks.
- ``cnnlib.data``: offline data sets that ship with installed packages (real MNIST digits, photos).
- ``cnnlib.viz``: the book's palette and plotting helpers.
- ``cnnlib.train``: one plain training loop for PyTorch models, with progress bars and a history.
- ``cnnlib.detection``: boxes (formats, areas), intersection over union and non-maximum suppression; the
  generalized IoU and its loss for box regression.
- ``cnnlib.faces``: the MTCNN face-detection cascade (pretrained P-Net, R-Net, O-Net), alignment by a similarity
  transform from five landmarks, and verification by embeddings (triplet loss, ROC, true-accept rate at a fixed
  false-accept rate).
- ``cnnlib.metrics``: the confusion matrix, reliability bins and the expected calibration error of a classifier.
- ``cnnlib.explain``: saliency, Grad-CAM and occlusion maps of what a classifier looks at, and FGSM adversarial
  examples.
- ``cnnlib.retrieval``: exact nearest-neighbour search, precision at k and mean average precision, recall of an
  approximate search, and the triplet loss.
- ``cnnlib.segmentation``: Dice and IoU of masks, the soft Dice loss, transposed convolution in NumPy, and the
  matching of predicted to true objects (object-level F1).
- ``cnnlib.video``: networks for clips (N, C, T, H, W): a per-frame 2D CNN averaged over frames, a 3D CNN (C3D) and
  its (2+1)D factorisation, and two labels trained through one joint class.
- ``cnnlib.distributed``: data-parallel training on several processes (torch.distributed) and the ring all-reduce.

The helpers every chapter calls first live here: :func:`seed_everything`, :func:`book_seed` (the seed of every random
choice, moved by the environment variable ``CNN_BOOK_SEED``), :func:`device` and :func:`show_source`.
"""

from cnnlib.utils import book_seed, device, progress, seed_everything, show_source

__all__ = ["book_seed", "device", "progress", "seed_everything", "show_source"]
__version__ = "0.1.0"
