"""cnnlib.metrics: the confusion matrix against scikit-learn, calibration bins and ECE against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

from cnnlib import metrics


@pytest.mark.parametrize("num_classes", [2, 3, 10])
def test_confusion_matrix_matches_scikit_learn(num_classes):
    rng = np.random.default_rng(num_classes)
    labels = rng.integers(0, num_classes, size=500)
    predictions = np.where(rng.random(500) < 0.6, labels, rng.integers(0, num_classes, size=500))
    matrix = metrics.confusion_matrix(labels, predictions, num_classes=num_classes)
    expected = sklearn_confusion_matrix(labels, predictions, labels=np.arange(num_classes))
    assert matrix.shape == (num_classes, num_classes)
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.sum() == 500 and np.trace(matrix) == (labels == predictions).sum()


def test_confusion_matrix_by_hand_and_missing_classes():
    # true 0 predicted 0 twice, true 1 predicted 2 once, true 2 predicted 1 once; class 3 never appears.
    matrix = metrics.confusion_matrix([0, 0, 1, 2], [0, 0, 2, 1], num_classes=4)
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[0, 0], expected[1, 2], expected[2, 1] = 2, 1, 1
    np.testing.assert_array_equal(matrix, expected)
    assert metrics.confusion_matrix([0, 2], [1, 0]).shape == (3, 3)  # inferred from the largest index


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        metrics.confusion_matrix([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="num_classes"):
        metrics.confusion_matrix([0, 5], [0, 1], num_classes=3)
    with pytest.raises(ValueError, match="integer"):
        metrics.confusion_matrix([0.0, 1.0], [0, 1])
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        metrics.confusion_matrix([[0, 1]], [[0, 1]])


def test_reliability_bins_and_ece_by_hand():
    # Four bins of width 0.25. Bin (0.25, 0.5]: 0.3 (right), 0.5 (wrong); bin (0.75, 1]: 0.8, 0.9, 1.0 (right, right,
    # wrong); a confidence of 0 goes to the first bin.
    confidences = np.array([0.3, 0.5, 0.8, 0.9, 1.0, 0.0])
    correct = np.array([True, False, True, True, False, False])
    bins = metrics.reliability_bins(confidences, correct, num_bins=4)
    np.testing.assert_allclose(bins.edges, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(bins.counts, [1, 2, 0, 3])
    np.testing.assert_allclose(bins.confidence[[0, 1, 3]], [0.0, 0.4, 0.9])
    np.testing.assert_allclose(bins.accuracy[[0, 1, 3]], [0.0, 0.5, 2 / 3])
    assert np.isnan(bins.confidence[2]) and np.isnan(bins.accuracy[2])
    expected = (1 * 0.0 + 2 * abs(0.5 - 0.4) + 3 * abs(2 / 3 - 0.9)) / 6
    assert metrics.expected_calibration_error(confidences, correct, num_bins=4) == pytest.approx(expected)


def test_ece_against_a_loop_over_bins_and_its_bounds():
    rng = np.random.default_rng(7)
    confidences = rng.random(1000)
    correct = rng.random(1000) < confidences ** 2  # over-confident: right less often than it claims
    num_bins = 15
    total = 0.0
    for m in range(num_bins):
        lower, upper = m / num_bins, (m + 1) / num_bins
        inside = (confidences > lower) & (confidences <= upper)
        if inside.any():
            total += inside.sum() / 1000 * abs(correct[inside].mean() - confidences[inside].mean())
    ece = metrics.expected_calibration_error(confidences, correct, num_bins=num_bins)
    assert ece == pytest.approx(total)
    # The gap of the means is one bin's worth of cancelling gaps: never larger than the ECE.
    assert abs(confidences.mean() - correct.mean()) <= ece + 1e-12
    assert ece > 0.1
    # Every prediction right at confidence 1, or wrong at confidence 0: perfectly calibrated.
    assert metrics.expected_calibration_error([1.0, 1.0, 0.0], [True, True, False]) == 0.0


def test_calibration_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        metrics.reliability_bins([0.5, 0.6], [True])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.expected_calibration_error([1.5], [True])
    with pytest.raises(ValueError, match="num_bins"):
        metrics.reliability_bins([0.5], [True], num_bins=0)
    with pytest.raises(ValueError, match="booleans"):
        metrics.reliability_bins([0.5], [2])
