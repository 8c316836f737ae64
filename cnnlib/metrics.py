"""What a classifier gets wrong and how much its confidence can be trusted: confusion and calibration.

All functions take NumPy arrays (or anything ``np.asarray`` accepts) and return NumPy arrays or Python floats:

- :func:`confusion_matrix`: counts of (true class, predicted class) pairs, in scikit-learn's layout.
- :func:`reliability_bins`: the test examples grouped by confidence into equal-width bins, with each bin's mean
  confidence and accuracy, the data of a reliability diagram.
- :func:`expected_calibration_error`: the weighted mean gap between confidence and accuracy over those bins
  (Naeini et al., 2015; Guo et al., 2017).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["ReliabilityBins", "confusion_matrix", "expected_calibration_error", "reliability_bins"]


def _as_labels(name: str, values) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{name} must have shape (N,), got shape {values.shape}")
    if values.size and not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{name} must be integer class indices, got dtype {values.dtype}")
    if values.size and values.min() < 0:
        raise ValueError(f"{name} must be non-negative class indices, got a minimum of {values.min()}")
    return values.astype(np.int64)


def confusion_matrix(labels, predictions, num_classes: int | None = None) -> np.ndarray:
    """Count how often each true class was predicted as each class.

    Args:
        labels: true classes, integers of shape (N,).
        predictions: predicted classes, integers of shape (N,).
        num_classes: K, the number of classes (None: one more than the largest label or prediction).

    Returns:
        ``matrix`` of shape (K, K), int64, with ``matrix[i, j]`` the number of examples of true class i predicted as
        class j: rows are true classes, columns predictions (the layout of ``sklearn.metrics.confusion_matrix``).
        The diagonal holds the correct predictions, so ``trace(matrix) / N`` is the accuracy and row i divided by
        its sum is how class i's examples are spread over the predictions.

    Raises:
        ValueError: for arrays that are not integer vectors of the same shape (N,), or a class index not below
            ``num_classes``.
    """
    labels, predictions = _as_labels("labels", labels), _as_labels("predictions", predictions)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels and predictions must have the same shape (N,), got {labels.shape} and "
                         f"{predictions.shape}")
    largest = int(max(labels.max(initial=-1), predictions.max(initial=-1)))
    if num_classes is None:
        num_classes = largest + 1
    if num_classes < 1 or largest >= num_classes:
        raise ValueError(f"expected class indices below num_classes={num_classes}, got a largest index of {largest}")
    # Each (true, predicted) pair gets one index of a flattened K x K matrix; bincount counts them all at once.
    counts = np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


class ReliabilityBins(NamedTuple):
    """Examples grouped by confidence into equal-width bins: the data of a reliability diagram.

    ``edges`` has shape (M + 1,), from 0 to 1; ``counts`` (M,) the examples per bin; ``confidence`` and
    ``accuracy`` (M,) the mean confidence and the fraction correct of each bin's examples (NaN for an empty bin).
    """

    edges: np.ndarray
    counts: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray


def _as_confidence_and_correct(confidences, correct) -> tuple[np.ndarray, np.ndarray]:
    confidences, correct = np.asarray(confidences, dtype=np.float64), np.asarray(correct)
    if confidences.ndim != 1 or confidences.shape != correct.shape or confidences.size == 0:
        raise ValueError(f"confidences and correct must have the same shape (N,) with N >= 1, got "
                         f"{confidences.shape} and {correct.shape}")
    if correct.dtype != np.bool_ and not np.isin(correct, (0, 1)).all():
        raise ValueError(f"correct must hold booleans (or 0 and 1), got dtype {correct.dtype}")
    if not ((confidences >= 0) & (confidences <= 1)).all():
        raise ValueError(f"confidences must lie in [0, 1], got values from {confidences.min()} to {confidences.max()}")
    return confidences, correct.astype(bool)


def reliability_bins(confidences, correct, num_bins: int = 10) -> ReliabilityBins:
    """Group predictions into ``num_bins`` equal-width confidence bins and measure each bin's accuracy.

    Bin m (m = 1, ..., M) holds the examples whose confidence lies in ((m - 1) / M, m / M], as in Guo et al.
    (2017); a confidence of exactly 0 goes to the first bin. For the set B_m of examples in bin m,
    ``confidence[m] = mean(conf_i for i in B_m)`` and ``accuracy[m] = mean(correct_i for i in B_m)``. A calibrated
    classifier has accuracy equal to confidence in every bin.

    Args:
        confidences: the probability the classifier gives its prediction (usually the largest softmax
            probability), floats in [0, 1] of shape (N,), N >= 1.
        correct: whether each prediction is right, booleans (or 0/1) of shape (N,).
        num_bins: M, a positive int.

    Returns:
        A :class:`ReliabilityBins` with arrays of shapes (M + 1,) and (M,).

    Raises:
        ValueError: for arrays of different or wrong shapes, confidences outside [0, 1], ``correct`` values other
            than booleans or 0/1, or ``num_bins`` below 1.
    """
    confidences, correct = _as_confidence_and_correct(confidences, correct)
    if not isinstance(num_bins, int | np.integer) or num_bins < 1:
        raise ValueError(f"num_bins must be a positive int, got {num_bins!r}")
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    # The bin whose interval (lower, upper] holds each confidence: ceil(conf * M) - 1, with 0 put in the first bin.
    index = np.clip(np.ceil(confidences * num_bins).astype(np.int64) - 1, 0, num_bins - 1)
    counts = np.bincount(index, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(index, weights=confidences, minlength=num_bins) / counts
        accuracy = np.bincount(index, weights=correct.astype(np.float64), minlength=num_bins) / counts
    return ReliabilityBins(edges, counts, confidence, accuracy)


def expected_calibration_error(confidences, correct, num_bins: int = 10) -> float:
    """Expected calibration error: the mean gap between confidence and accuracy, weighted by the bins' sizes.

    ``ECE = sum_m (|B_m| / N) |accuracy(B_m) - confidence(B_m)|`` over the equal-width bins of
    :func:`reliability_bins` (empty bins contribute nothing). It is 0 for a calibrated classifier and at most 1.

    Args:
        confidences: floats in [0, 1] of shape (N,).
        correct: booleans (or 0/1) of shape (N,).
        num_bins: M, a positive int.

    Returns:
        The ECE as a Python float.

    Raises:
        ValueError: as :func:`reliability_bins`.
    """
    bins = reliability_bins(confidences, correct, num_bins)
    filled = bins.counts > 0
    gaps = np.abs(bins.accuracy[filled] - bins.confidence[filled])
    return float(np.sum(bins.counts[filled] / bins.counts.sum() * gaps))
