"""Segmentation: overlap measures, the soft Dice loss, transposed convolution and instance matching.

A *semantic* segmentation gives every pixel a class (here: foreground or background); an *instance* segmentation
gives every pixel the number of the object it belongs to (0 for the background), so that two touching nuclei are two
objects. The functions here measure both:

- :func:`dice` and :func:`iou` compare two binary masks pixel by pixel;
- :func:`dice_loss` is the differentiable Dice of Milletari et al. (2016), computed on probabilities;
- :func:`instance_iou` and :func:`match_instances` pair predicted objects with true ones by their overlap, and
  :func:`object_f1` counts true positives, false positives and false negatives at an IoU threshold;
- :func:`conv_transpose2d` is the layer that U-Net's decoder uses to enlarge its maps, written in NumPy as the
  gradient of :func:`cnnlib.functional.conv2d` with respect to its input.

Masks are NumPy arrays (the measures) or torch tensors (the loss); label images are integer arrays with 0 for the
background and any positive integers, not necessarily consecutive, for the objects.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from cnnlib.functional import _pair, conv2d_backward

__all__ = ["ObjectScores", "conv_transpose2d", "dice", "dice_loss", "instance_iou", "iou", "match_instances",
           "object_f1"]


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0):
    """Transposed convolution, as ``torch.nn.functional.conv_transpose2d`` (no output padding, groups or dilation).

    The transposed convolution is the map whose matrix is the transpose of a convolution's: every input value
    scatters a copy of the kernel, scaled by itself, into the output, ``stride`` pixels apart, and overlapping copies
    add up::

        y[n, o, i*sh + u - ph, j*sw + v - pw] += x[n, c, i, j] * weight[c, o, u, v]

    That is exactly the gradient of :func:`cnnlib.functional.conv2d` with respect to its input, for a convolution
    from ``C_out`` to ``C_in`` channels with the same weights, stride and padding; this function computes it with
    :func:`cnnlib.functional.conv2d_backward`.

    Args:
        x: Input of shape (N, C_in, H, W).
        weight: Kernels of shape (C_in, C_out, kh, kw), torch's layout for a transposed convolution (the first two
            axes are swapped compared with a convolution's).
        bias: Optional, shape (C_out,).
        stride: An int or a pair (sh, sw), at least 1.
        padding: An int or a pair (ph, pw): rows and columns removed from each border of the full result.

    Returns:
        y of shape (N, C_out, (H - 1) sh - 2 ph + kh, (W - 1) sw - 2 pw + kw), in x's dtype.

    Raises:
        ValueError: for arrays of the wrong number of dimensions, channels that do not match, a non-positive stride,
            a negative padding or an empty output.
    """
    x, weight = np.asarray(x), np.asarray(weight)
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"expected x of shape (N, C_in, H, W) and weight of shape (C_in, C_out, kh, kw), "
                         f"got {x.shape} and {weight.shape}")
    if x.shape[1] != weight.shape[0]:
        raise ValueError(f"x has {x.shape[1]} channels but weight expects {weight.shape[0]}: got x of shape "
                         f"{x.shape}, weight of shape {weight.shape} (C_in, C_out, kh, kw)")
    (sh, sw), (ph, pw) = _pair(stride, "stride"), _pair(padding, "padding")
    if sh < 1 or sw < 1 or ph < 0 or pw < 0:
        raise ValueError(f"expected stride >= 1 and padding >= 0, got stride {stride!r} and padding {padding!r} "
                         f"for x of shape {x.shape}")
    n, _, h, w = x.shape
    c_out, kh, kw = weight.shape[1:]
    out_h, out_w = (h - 1) * sh - 2 * ph + kh, (w - 1) * sw - 2 * pw + kw
    if out_h < 1 or out_w < 1:
        raise ValueError(f"the output would be empty: shape ({n}, {c_out}, {out_h}, {out_w}) from x of shape "
                         f"{x.shape}, kernel {kh}x{kw}, stride {(sh, sw)}, padding {(ph, pw)}")
    if bias is not None and np.shape(bias) != (c_out,):
        raise ValueError(f"expected bias of shape ({c_out},), got {np.shape(bias)}")
    # y is the input gradient of conv2d(z, weight) with z of shape (N, C_out, out_h, out_w): that convolution maps
    # C_out channels to C_in with weight read as (C_in, C_out, kh, kw), and its output has x's shape.
    z = np.zeros((n, c_out, out_h, out_w), dtype=x.dtype)
    y, _, _ = conv2d_backward(x, z, weight.astype(x.dtype, copy=False), stride=(sh, sw), padding=(ph, pw))
    if bias is not None:
        y = y + np.asarray(bias, dtype=x.dtype)[None, :, None, None]
    return y


def _binary_pair(prediction, target):
    prediction, target = np.asarray(prediction), np.asarray(target)
    if prediction.shape != target.shape:
        raise ValueError(f"prediction and target must have the same shape, got {prediction.shape} and "
                         f"{target.shape}")
    return prediction.astype(bool), target.astype(bool)


def dice(prediction, target) -> float:
    """Dice coefficient of two binary masks: ``2 |P ∩ T| / (|P| + |T|)``, 1.0 when both are empty.

    Args:
        prediction, target: masks of the same shape (any shape); nonzero values count as foreground.

    Returns:
        A float in [0, 1]. Dice = 2 IoU / (1 + IoU), so it ranks segmentations as :func:`iou` does.
    """
    prediction, target = _binary_pair(prediction, target)
    total = prediction.sum() + target.sum()
    return 1.0 if total == 0 else float(2 * np.logical_and(prediction, target).sum() / total)


def iou(prediction, target) -> float:
    """Intersection over union (Jaccard index) of two binary masks: ``|P ∩ T| / |P ∪ T|``, 1.0 when both are empty.

    Args:
        prediction, target: masks of the same shape (any shape); nonzero values count as foreground.

    Returns:
        A float in [0, 1].
    """
    prediction, target = _binary_pair(prediction, target)
    union = np.logical_or(prediction, target).sum()
    return 1.0 if union == 0 else float(np.logical_and(prediction, target).sum() / union)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Soft Dice loss of Milletari et al. (2016, V-Net) for binary segmentation.

    With probabilities ``p = sigmoid(logits)`` and the true mask ``g`` (0 or 1), summed over every pixel of the
    batch::

        loss = 1 - (2 sum(p g) + smooth) / (sum(p^2) + sum(g^2) + smooth)

    On hard masks (p in {0, 1}) and smooth = 0 this is 1 - :func:`dice`. The loss depends on the overlap relative
    to the sizes of the two masks, not on how many background pixels there are, which is why it was proposed for
    foregrounds that cover a small part of the image. ``smooth`` keeps it defined when both masks are empty.

    Args:
        logits: shape (N, 1, H, W) or any shape, the network's scores before the sigmoid.
        target: the same shape, 0 or 1 (float).
        smooth: a non-negative constant added to numerator and denominator.

    Returns:
        A scalar tensor in [0, 1], differentiable with respect to ``logits``.
    """
    if logits.shape != target.shape:
        raise ValueError(f"logits and target must have the same shape, got {tuple(logits.shape)} and "
                         f"{tuple(target.shape)}")
    if smooth < 0:
        raise ValueError(f"smooth must be non-negative, got {smooth}")
    probability = torch.sigmoid(logits)
    target = target.to(probability.dtype)
    numerator = 2 * (probability * target).sum() + smooth
    denominator = (probability * probability).sum() + (target * target).sum() + smooth
    return 1 - numerator / denominator


def _check_labels(name: str, labels) -> np.ndarray:
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer) or (labels.size and labels.min() < 0):
        raise ValueError(f"{name} must be an array of non-negative integer labels (0 = background), got dtype "
                         f"{labels.dtype}" + (f" with minimum {labels.min()}" if labels.size else ""))
    return labels


def instance_iou(true_labels, predicted_labels):
    """IoU of every true object with every predicted object.

    For label images ``T`` and ``P`` (0 = background), object ``a`` of ``T`` and ``b`` of ``P``::

        iou[a, b] = |T == a  and  P == b| / |T == a  or  P == b|

    The intersections of all pairs come from one pass over the pixels (a 2-D histogram of the label pairs).

    Args:
        true_labels, predicted_labels: integer arrays of the same shape (any shape), 0 for the background.

    Returns:
        ``(iou, true_ids, predicted_ids)``: iou of shape (number of true objects, number of predicted objects),
        float64, and the object labels that its rows and columns stand for, sorted.
    """
    true_labels = _check_labels("true_labels", true_labels)
    predicted_labels = _check_labels("predicted_labels", predicted_labels)
    if true_labels.shape != predicted_labels.shape:
        raise ValueError(f"true_labels and predicted_labels must have the same shape, got {true_labels.shape} and "
                         f"{predicted_labels.shape}")
    true_ids, true_index = np.unique(true_labels, return_inverse=True)
    predicted_ids, predicted_index = np.unique(predicted_labels, return_inverse=True)
    counts = np.bincount(true_index.ravel() * len(predicted_ids) + predicted_index.ravel(),
                         minlength=len(true_ids) * len(predicted_ids)).reshape(len(true_ids), len(predicted_ids))
    # Drop the background row and column (label 0, first after sorting, where present).
    rows = slice(1, None) if true_ids[0] == 0 else slice(None)
    columns = slice(1, None) if predicted_ids[0] == 0 else slice(None)
    intersection = counts[rows, columns].astype(np.float64)
    true_sizes, predicted_sizes = counts.sum(axis=1)[rows], counts.sum(axis=0)[columns]
    union = true_sizes[:, None] + predicted_sizes[None, :] - intersection
    return intersection / np.maximum(union, 1), true_ids[rows], predicted_ids[columns]


def match_instances(true_labels, predicted_labels, threshold: float = 0.5):
    """Pair true and predicted objects one to one, greedily by decreasing IoU, keeping pairs with IoU >= threshold.

    For ``threshold > 0.5`` the pairs are unique whatever the order: two disjoint objects cannot both overlap a
    third by more than half of their union with it, so no object has two candidates and the greedy matching is the
    only one. At 0.5 a tie needs an object split exactly in half; below 0.5 greedy matching is an approximation of
    the best one-to-one assignment (which ``scipy.optimize.linear_sum_assignment`` would find).

    Args:
        true_labels, predicted_labels: integer label images of the same shape, 0 for the background.
        threshold: the smallest IoU that counts as a match, in (0, 1].

    Returns:
        An int64 array of shape (number of matches, 2): the true and predicted label of each matched pair.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    overlaps, true_ids, predicted_ids = instance_iou(true_labels, predicted_labels)
    rows, columns = np.nonzero(overlaps >= threshold)
    order = np.argsort(-overlaps[rows, columns], kind="stable")
    used_true, used_predicted, pairs = set(), set(), []
    for row, column in zip(rows[order], columns[order], strict=True):
        if row not in used_true and column not in used_predicted:
            used_true.add(row)
            used_predicted.add(column)
            pairs.append((true_ids[row], predicted_ids[column]))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


class ObjectScores(NamedTuple):
    """Object-level scores of an instance segmentation at one IoU threshold.

    ``true_positives``: matched pairs; ``false_positives``: predicted objects without a match; ``false_negatives``:
    true objects without a match; ``precision = TP / (TP + FP)``, ``recall = TP / (TP + FN)`` and
    ``f1 = 2 TP / (2 TP + FP + FN)`` (each 1.0 when its denominator is zero).
    """

    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    f1: float


def object_f1(true_labels, predicted_labels, threshold: float = 0.5) -> ObjectScores:
    """Detection scores of the objects of a label image: precision, recall and F1 of :func:`match_instances`.

    Args:
        true_labels, predicted_labels: integer label images of the same shape, 0 for the background.
        threshold: the smallest IoU that counts as a match.

    Returns:
        An :class:`ObjectScores`.
    """
    pairs = match_instances(true_labels, predicted_labels, threshold)
    true_count = len(np.setdiff1d(np.unique(true_labels), [0]))
    predicted_count = len(np.setdiff1d(np.unique(predicted_labels), [0]))
    tp = len(pairs)
    fp, fn = predicted_count - tp, true_count - tp
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return ObjectScores(tp, fp, fn, float(precision), float(recall), float(f1))
