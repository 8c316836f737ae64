"""cnnlib.segmentation and models.UNet: checked against torch, scikit-learn, brute force and hand-made masks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, jaccard_score

from cnnlib import models, segmentation


@pytest.mark.parametrize(("stride", "padding", "kernel"), [(1, 0, (3, 3)), (2, 0, (2, 2)), (2, 1, (3, 3)),
                                                           ((2, 3), (1, 0), (3, 2)), (3, 2, (5, 4))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_transpose2d_matches_torch(stride, padding, kernel, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6)).astype(dtype)
    weight = rng.standard_normal((3, 4, *kernel)).astype(dtype)
    bias = rng.standard_normal(4).astype(dtype)
    ours = segmentation.conv_transpose2d(x, weight, bias, stride=stride, padding=padding)
    reference = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(weight), torch.tensor(bias),
                                                     stride=stride, padding=padding).numpy()
    assert ours.dtype == dtype and ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_conv_transpose2d_scatters_the_kernel_by_hand():
    # One input pixel of value 2 at (0, 1), stride 2: the kernel, doubled, lands at rows 0-1 and columns 2-3.
    x = np.zeros((1, 1, 2, 2))
    x[0, 0, 0, 1] = 2.0
    weight = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, 0:2, 2:4] = [[2.0, 4.0], [6.0, 8.0]]
    np.testing.assert_array_equal(segmentation.conv_transpose2d(x, weight, stride=2), expected)


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    # <conv2d(z, w), x> = <z, conv_transpose2d(x, w)> for every z and x: the defining property of a transpose.
    from cnnlib.functional import conv2d

    rng = np.random.default_rng(1)
    weight = rng.standard_normal((3, 2, 3, 3))  # conv2d: 2 -> 3 channels; transposed: 3 -> 2
    z = rng.standard_normal((1, 2, 9, 9))
    x = rng.standard_normal((1, 3, 4, 4))
    left = np.sum(conv2d(z, weight, stride=2) * x)
    right = np.sum(z * segmentation.conv_transpose2d(x, weight, stride=2))
    assert left == pytest.approx(right, rel=1e-12)


@pytest.mark.parametrize(("x_shape", "w_shape", "kwargs"), [
    ((3, 5, 6), (3, 4, 2, 2), {}),
    ((1, 3, 5, 6), (2, 4, 2, 2), {}),
    ((1, 3, 5, 6), (3, 4, 2, 2), {"stride": 0}),
    ((1, 3, 1, 1), (3, 4, 2, 2), {"padding": 1}),
])
def test_conv_transpose2d_rejects_bad_shapes(x_shape, w_shape, kwargs):
    with pytest.raises(ValueError, match="shape"):
        segmentation.conv_transpose2d(np.zeros(x_shape), np.zeros(w_shape), **kwargs)


def test_dice_and_iou_match_scikit_learn_and_each_other():
    rng = np.random.default_rng(2)
    for _ in range(20):
        prediction = rng.random((12, 10)) < rng.random()
        target = rng.random((12, 10)) < rng.random()
        if not prediction.any() and not target.any():
            continue
        d, j = segmentation.dice(prediction, target), segmentation.iou(prediction, target)
        # On binary masks, Dice is the F1 score of the pixels and IoU their Jaccard index.
        assert d == pytest.approx(f1_score(target.ravel(), prediction.ravel(), zero_division=0.0))
        assert j == pytest.approx(jaccard_score(target.ravel(), prediction.ravel(), zero_division=0.0))
        assert d == pytest.approx(2 * j / (1 + j))


def test_dice_and_iou_by_hand_and_edge_cases():
    prediction = np.array([[1, 1, 0, 0]])
    target = np.array([[0, 1, 1, 1]])
    assert segmentation.dice(prediction, target) == pytest.approx(2 * 1 / (2 + 3))
    assert segmentation.iou(prediction, target) == pytest.approx(1 / 4)
    empty = np.zeros((3, 3), dtype=bool)
    assert segmentation.dice(empty, empty) == 1.0 and segmentation.iou(empty, empty) == 1.0
    with pytest.raises(ValueError, match=r"\(3, 3\) and \(3, 4\)"):
        segmentation.dice(empty, np.zeros((3, 4)))


def test_dice_loss_is_one_minus_dice_on_hard_masks_and_has_a_gradient():
    rng = np.random.default_rng(3)
    prediction = rng.random((2, 1, 8, 8)) < 0.3
    target = rng.random((2, 1, 8, 8)) < 0.4
    logits = torch.tensor(np.where(prediction, 50.0, -50.0), requires_grad=True)  # sigmoid = 0 or 1 in float64
    loss = segmentation.dice_loss(logits, torch.tensor(target, dtype=torch.float64), smooth=0.0)
    assert loss.item() == pytest.approx(1 - segmentation.dice(prediction, target), abs=1e-12)
    soft = torch.zeros(2, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    segmentation.dice_loss(soft, torch.tensor(target, dtype=torch.float64)).backward()
    # Raising the score of a foreground pixel lowers the loss; the gradient there is negative.
    assert (soft.grad[torch.tensor(target)] < 0).all()
    with pytest.raises(ValueError, match="same shape"):
        segmentation.dice_loss(soft, torch.zeros(2, 8, 8))


def _random_labels(rng, shape, count):
    """A label image with up to ``count`` random rectangles, later ones painted over earlier ones."""
    labels = np.zeros(shape, dtype=np.int64)
    for label in rng.choice(np.arange(1, 50), size=count, replace=False):
        top, left = rng.integers(0, shape[0] - 2), rng.integers(0, shape[1] - 2)
        height, width = rng.integers(2, 6), rng.integers(2, 6)
        labels[top : top + height, left : left + width] = label
    return labels


def test_instance_iou_matches_a_pairwise_computation():
    rng = np.random.default_rng(4)
    true_labels, predicted_labels = _random_labels(rng, (16, 16), 6), _random_labels(rng, (16, 16), 5)
    overlaps, true_ids, predicted_ids = segmentation.instance_iou(true_labels, predicted_labels)
    assert list(true_ids) == sorted(set(np.unique(true_labels)) - {0})
    assert list(predicted_ids) == sorted(set(np.unique(predicted_labels)) - {0})
    for row, a in enumerate(true_ids):
        for column, b in enumerate(predicted_ids):
            true_mask, predicted_mask = true_labels == a, predicted_labels == b
            expected = (true_mask & predicted_mask).sum() / (true_mask | predicted_mask).sum()
            assert overlaps[row, column] == pytest.approx(expected)


def _best_matching_count(true_labels, predicted_labels, threshold):
    """Brute force: the largest number of one-to-one pairs with IoU >= threshold, over every assignment."""
    overlaps, _, _ = segmentation.instance_iou(true_labels, predicted_labels)
    rows, columns = overlaps.shape
    best = 0
    for size in range(min(rows, columns), 0, -1):
        for chosen_rows in itertools.combinations(range(rows), size):
            for chosen_columns in itertools.permutations(range(columns), size):
                if all(overlaps[r, c] >= threshold for r, c in zip(chosen_rows, chosen_columns, strict=True)):
                    return size
    return best


@pytest.mark.parametrize("threshold", [0.5, 0.7])
def test_matching_is_one_to_one_above_threshold_and_as_large_as_brute_force(threshold):
    rng = np.random.default_rng(5)
    for _ in range(15):
        true_labels = _random_labels(rng, (14, 14), 5)
        # A prediction that overlaps the truth: shifted objects, some merged or dropped.
        predicted_labels = np.roll(true_labels, rng.integers(-1, 2, size=2), axis=(0, 1))
        predicted_labels[rng.random(predicted_labels.shape) < 0.05] = 0
        pairs = segmentation.match_instances(true_labels, predicted_labels, threshold)
        assert len(set(pairs[:, 0])) == len(pairs) == len(set(pairs[:, 1]))
        overlaps, true_ids, predicted_ids = segmentation.instance_iou(true_labels, predicted_labels)
        for a, b in pairs:
            assert overlaps[list(true_ids).index(a), list(predicted_ids).index(b)] >= threshold
        assert len(pairs) == _best_matching_count(true_labels, predicted_labels, threshold)


def test_object_f1_by_hand_and_against_scikit_learn():
    true_labels = np.zeros((10, 10), dtype=np.int64)
    true_labels[0:4, 0:4] = 1  # found exactly
    true_labels[0:4, 6:10] = 2  # found with IoU 12/16 = 0.75
    true_labels[6:10, 0:4] = 3  # missed
    predicted_labels = np.zeros_like(true_labels)
    predicted_labels[0:4, 0:4] = 7
    predicted_labels[1:4, 6:10] = 9
    predicted_labels[6:10, 6:10] = 4  # a false positive
    predicted_labels[6:8, 0:1] = 5  # touches object 3 with IoU 2/16: not a match
    scores = segmentation.object_f1(true_labels, predicted_labels, threshold=0.5)
    assert (scores.true_positives, scores.false_positives, scores.false_negatives) == (2, 2, 1)
    assert scores.precision == pytest.approx(2 / 4) and scores.recall == pytest.approx(2 / 3)
    assert scores.f1 == pytest.approx(2 * 2 / (2 * 2 + 2 + 1))
    assert segmentation.match_instances(true_labels, predicted_labels).tolist() == [[1, 7], [2, 9]]
    # The same F1 as scikit-learn's over one entry per object: true objects (found or not), unmatched predictions.
    y_true = [1] * 3 + [0] * scores.false_positives
    y_pred = [1, 1, 0] + [1] * scores.false_positives
    assert scores.f1 == pytest.approx(f1_score(y_true, y_pred))
    assert segmentation.object_f1(true_labels, predicted_labels, threshold=0.8).true_positives == 1
    assert segmentation.object_f1(true_labels, true_labels * 3).f1 == 1.0  # relabelling changes nothing


def test_instance_functions_reject_bad_labels():
    with pytest.raises(ValueError, match="integer labels"):
        segmentation.instance_iou(np.zeros((3, 3)), np.zeros((3, 3), dtype=int))
    with pytest.raises(ValueError, match=r"\(3, 3\) and \(2, 3\)"):
        segmentation.instance_iou(np.zeros((3, 3), dtype=int), np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="threshold"):
        segmentation.match_instances(np.zeros((3, 3), dtype=int), np.zeros((3, 3), dtype=int), threshold=0.0)


def _unet_params_by_hand(in_channels, num_classes, width, depth, batch_norm):
    def conv3x3(a, b):
        return 9 * a * b + (2 * b if batch_norm else b)  # BN's scale and shift replace the bias

    def double(a, b):
        return conv3x3(a, b) + conv3x3(b, b)

    channels = [width * 2**level for level in range(depth + 1)]
    total = double(in_channels, channels[0])
    total += sum(double(channels[level], channels[level + 1]) for level in range(depth))
    total += sum(4 * channels[level + 1] * channels[level] + channels[level] + double(2 * channels[level],
                                                                                     channels[level])
                 for level in range(depth))
    return total + channels[0] * num_classes + num_classes


@pytest.mark.parametrize("kwargs", [{}, {"width": 8, "depth": 2, "num_classes": 1, "batch_norm": True},
                                    {"in_channels": 3, "width": 4, "depth": 3}])
def test_unet_parameter_count_by_hand(kwargs):
    with torch.device("meta"):
        model = models.unet(**kwargs)
    settings = {"in_channels": 1, "num_classes": 2, "width": 64, "depth": 4, "batch_norm": False} | kwargs
    assert sum(p.numel() for p in model.parameters()) == _unet_params_by_hand(**settings)


def test_published_unet_has_23_convolutional_layers_and_31_million_parameters():
    with torch.device("meta"):
        model = models.unet()
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)]
    assert len(layers) == 23
    assert sum(p.numel() for p in model.parameters()) == 31_030_658


def test_unet_output_has_the_input_shape_and_refuses_indivisible_sizes():
    torch.manual_seed(0)
    model = models.unet(width=4, depth=2, num_classes=3, batch_norm=True).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 32, 24)).shape == (2, 3, 32, 24)
    with pytest.raises(ValueError, match=r"divisible by 4, got shape \(1, 1, 30, 24\)"):
        model(torch.randn(1, 1, 30, 24))
