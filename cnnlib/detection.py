"""Boxes for localization and detection: formats, areas, intersection over union, non-maximum suppression.

Every box in the book is a row ``(x0, y0, x1, y1)`` in pixel units with its corners on pixel edges ("xyxy"): the box
``(2, 3, 5, 7)`` covers columns 2, 3, 4 and rows 3 to 6, and its area ``(x1 - x0) * (y1 - y0) = 12`` is the number of
pixels it covers. (COCO's own files use ``(x, y, width, height)``, "xywh"; :func:`box_convert` moves between the
two and the centre form ``(cx, cy, width, height)`` that detectors regress.)

The functions take NumPy arrays or torch tensors and return the same kind, so the IoU that evaluates a detector is
also the one a loss can differentiate.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")
"""The box formats of :func:`box_convert`: corners; top-left corner and size (COCO); centre and size."""


def _check_boxes(name: str, boxes) -> None:
    if not isinstance(boxes, np.ndarray | torch.Tensor):
        raise TypeError(f"{name} must be a NumPy array or a torch tensor, got {type(boxes).__name__}")
    if boxes.ndim < 1 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (..., 4), got {tuple(boxes.shape)}")


def _stack(columns, like):
    return torch.stack(columns, dim=-1) if isinstance(like, torch.Tensor) else np.stack(columns, axis=-1)


def box_convert(boxes, in_fmt: str, out_fmt: str):
    """Convert boxes between the formats of :data:`BOX_FORMATS`.

    Args:
        boxes: shape (..., 4), a NumPy array or a torch tensor.
        in_fmt, out_fmt: ``"xyxy"`` (corners), ``"xywh"`` (top-left corner, width, height) or ``"cxcywh"``
            (centre, width, height).

    Returns:
        Boxes of the same shape and kind in ``out_fmt``.
    """
    _check_boxes("boxes", boxes)
    for name, fmt in (("in_fmt", in_fmt), ("out_fmt", out_fmt)):
        if fmt not in BOX_FORMATS:
            raise ValueError(f"{name} must be one of {BOX_FORMATS}, got {fmt!r}")
    a, b, c, d = (boxes[..., i] for i in range(4))
    if in_fmt == "xywh":
        x0, y0, x1, y1 = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        x0, y0, x1, y1 = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    else:
        x0, y0, x1, y1 = a, b, c, d
    if out_fmt == "xywh":
        return _stack([x0, y0, x1 - x0, y1 - y0], boxes)
    if out_fmt == "cxcywh":
        return _stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], boxes)
    return _stack([x0, y0, x1, y1], boxes)


def box_area(boxes):
    """Area of each ``xyxy`` box, ``(x1 - x0) * (y1 - y0)``, zero for an empty or inverted box.

    Args:
        boxes: shape (..., 4).

    Returns:
        Areas of shape (...).
    """
    _check_boxes("boxes", boxes)
    width = (boxes[..., 2] - boxes[..., 0]).clip(min=0)
    height = (boxes[..., 3] - boxes[..., 1]).clip(min=0)
    return width * height


def _intersection(boxes_a, boxes_b):
    """Intersection areas of boxes that broadcast against each other (shape (..., 4) each)."""
    maximum = torch.maximum if isinstance(boxes_a, torch.Tensor) else np.maximum
    minimum = torch.minimum if isinstance(boxes_a, torch.Tensor) else np.minimum
    width = (minimum(boxes_a[..., 2], boxes_b[..., 2]) - maximum(boxes_a[..., 0], boxes_b[..., 0])).clip(min=0)
    height = (minimum(boxes_a[..., 3], boxes_b[..., 3]) - maximum(boxes_a[..., 1], boxes_b[..., 1])).clip(min=0)
    return width * height


def _iou(boxes_a, boxes_b, eps: float):
    intersection = _intersection(boxes_a, boxes_b)
    union = box_area(boxes_a) + box_area(boxes_b) - intersection
    return intersection / (union + eps) if eps else intersection / union


def box_iou(boxes_a, boxes_b, eps: float = 0.0):
    """Intersection over union of every box of ``boxes_a`` with every box of ``boxes_b``.

        IoU(A, B) = area(A and B) / (area(A) + area(B) - area(A and B))

    Args:
        boxes_a: shape (N, 4), ``xyxy``.
        boxes_b: shape (M, 4), ``xyxy``, of the same kind (NumPy or torch).
        eps: added to the union, so that two empty boxes give 0 instead of nan (0 by default: exact).

    Returns:
        IoU of shape (N, M), from 0 (disjoint) to 1 (identical).
    """
    _check_boxes("boxes_a", boxes_a)
    _check_boxes("boxes_b", boxes_b)
    if boxes_a.ndim != 2 or boxes_b.ndim != 2:
        raise ValueError(f"box_iou takes (N, 4) and (M, 4) boxes, got {tuple(boxes_a.shape)} and "
                         f"{tuple(boxes_b.shape)}; matched_box_iou pairs box i with box i")
    return _iou(boxes_a[:, None, :], boxes_b[None, :, :], eps)


def matched_box_iou(boxes_a, boxes_b, eps: float = 0.0):
    """Intersection over union of box i of ``boxes_a`` with box i of ``boxes_b`` (a prediction and its target).

    Args:
        boxes_a, boxes_b: shape (N, 4) each, ``xyxy``, of the same kind (NumPy or torch).
        eps: added to the union (see :func:`box_iou`).

    Returns:
        IoU of shape (N,). Differentiable when the boxes are torch tensors.
    """
    _check_boxes("boxes_a", boxes_a)
    _check_boxes("boxes_b", boxes_b)
    if tuple(boxes_a.shape) != tuple(boxes_b.shape):
        raise ValueError(f"matched_box_iou needs boxes of the same shape, got {tuple(boxes_a.shape)} and "
                         f"{tuple(boxes_b.shape)}")
    return _iou(boxes_a, boxes_b, eps)


def nms(boxes, scores, iou_threshold: float, classes=None) -> np.ndarray:
    """Greedy non-maximum suppression: keep the best-scoring box, drop the boxes that overlap it, repeat.

    A box is kept exactly when no kept box with a higher score (ties: the lower index counts as higher) overlaps it
    with IoU above ``iou_threshold``. With ``classes``, boxes of different classes never suppress each other.

    Args:
        boxes: shape (N, 4), ``xyxy`` (NumPy or torch).
        scores: shape (N,).
        iou_threshold: a box overlapping a kept one by more than this is dropped, from 0 to 1.
        classes: optional class of each box, shape (N,).

    Returns:
        Indices of the kept boxes, int64 of shape (K,), by decreasing score.
    """
    boxes = boxes.detach().cpu().numpy() if isinstance(boxes, torch.Tensor) else np.asarray(boxes)
    scores = scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor) else np.asarray(scores)
    _check_boxes("boxes", boxes)
    if boxes.ndim != 2 or scores.shape != (len(boxes),):
        raise ValueError(f"nms needs boxes (N, 4) and scores (N,), got {boxes.shape} and {scores.shape}")
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be from 0 to 1, got {iou_threshold}")
    if classes is not None:
        classes = classes.detach().cpu().numpy() if isinstance(classes, torch.Tensor) else np.asarray(classes)
        if classes.shape != scores.shape:
            raise ValueError(f"classes must have shape {scores.shape}, got {classes.shape}")
    order = np.argsort(-scores, kind="stable")
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep = []
    for index in order:
        if suppressed[index]:
            continue
        keep.append(index)
        overlaps = _iou(boxes[index][None, :], boxes, eps=1e-12) > iou_threshold
        if classes is not None:
            overlaps &= classes == classes[index]
        suppressed |= overlaps
    return np.asarray(keep, dtype=np.int64)


def generalized_box_iou(boxes_a, boxes_b, eps: float = 0.0):
    """Generalized IoU of box i of ``boxes_a`` with box i of ``boxes_b`` (Rezatofighi et al., 2019).

        GIoU(A, B) = IoU(A, B) - (area(C) - area(A or B)) / area(C)

    where C is the smallest box that encloses both A and B. It equals the IoU when one box
    holds the other or they coincide, lies in (-1, 1], and, unlike the IoU, keeps falling as disjoint boxes move
    apart, so a loss built on it still has a gradient when the boxes do not overlap.

    Args:
        boxes_a, boxes_b: shape (N, 4) each, ``xyxy`` with ``x1 >= x0`` and ``y1 >= y0``, of the same kind (NumPy or
            torch).
        eps: added to the union and to the enclosing area (0 by default: exact).

    Returns:
        GIoU of shape (N,). Differentiable when the boxes are torch tensors.
    """
    _check_boxes("boxes_a", boxes_a)
    _check_boxes("boxes_b", boxes_b)
    if tuple(boxes_a.shape) != tuple(boxes_b.shape) or boxes_a.ndim != 2:
        raise ValueError(f"generalized_box_iou needs boxes of the same shape (N, 4), got {tuple(boxes_a.shape)} and "
                         f"{tuple(boxes_b.shape)}")
    maximum = torch.maximum if isinstance(boxes_a, torch.Tensor) else np.maximum
    minimum = torch.minimum if isinstance(boxes_a, torch.Tensor) else np.minimum
    intersection = _intersection(boxes_a, boxes_b)
    union = box_area(boxes_a) + box_area(boxes_b) - intersection
    enclosing = box_area(_stack([minimum(boxes_a[:, 0], boxes_b[:, 0]), minimum(boxes_a[:, 1], boxes_b[:, 1]),
                                 maximum(boxes_a[:, 2], boxes_b[:, 2]), maximum(boxes_a[:, 3], boxes_b[:, 3])],
                                boxes_a))
    return intersection / (union + eps) - (enclosing - union) / (enclosing + eps)


def giou_loss(predicted, target, eps: float = 1e-7):
    """The GIoU loss of box regression, ``1 - GIoU``, averaged over the boxes (Rezatofighi et al., 2019).

        loss = (1 / N) sum_i (1 - GIoU(predicted_i, target_i))

    It is 0 for a perfect box, 1 for a disjoint one that touches the target, and approaches 2 as the boxes move far
    apart; it does not depend on the unit of the coordinates (pixels or fractions of the image).

    Args:
        predicted: predicted boxes, shape (N, 4), ``xyxy`` with ``x1 >= x0`` and ``y1 >= y0``, N >= 1.
        target: the true boxes, shape (N, 4), of the same kind.
        eps: added to the areas the formula divides by, so that a degenerate box gives no division by zero.

    Returns:
        The mean loss: a 0-d torch tensor (differentiable) or a NumPy float.
    """
    if len(predicted) == 0:
        raise ValueError(f"giou_loss needs at least one box, got shape {tuple(predicted.shape)}")
    return (1 - generalized_box_iou(predicted, target, eps=eps)).mean()


COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
"""The IoU thresholds over which COCO averages its AP: 0.5, 0.55, ..., 0.95 (written as AP@[.5:.95])."""

COCO_RECALL_POINTS = np.linspace(0.0, 1.0, 101)
"""The 101 recall levels 0, 0.01, ..., 1 at which COCO reads the interpolated precision."""


def match_detections(det_boxes, det_scores, gt_boxes, iou_threshold: float) -> np.ndarray:
    """Which detections of one class in one image are true positives: COCO's greedy matching.

    Detections are visited by decreasing score (ties: the lower index first). Each takes the ground-truth box,
    among those not yet taken, with which its IoU is highest and at least ``iou_threshold`` (ties: the later box, as
    pycocotools does); if there is none, the detection is a false positive. A ground-truth box matches at most one
    detection, so a second detection of the same object is a false positive: duplicates cost precision.

    Args:
        det_boxes: shape (D, 4), ``xyxy``.
        det_scores: shape (D,).
        gt_boxes: shape (G, 4), ``xyxy``.
        iou_threshold: the smallest IoU that counts as a hit, from 0 to 1.

    Returns:
        Boolean array of shape (D,), in the order of ``det_boxes``: True for a true positive.
    """
    det_boxes, det_scores, gt_boxes = (np.asarray(a, dtype=np.float64) for a in (det_boxes, det_scores, gt_boxes))
    det_boxes, gt_boxes = det_boxes.reshape(-1, 4), gt_boxes.reshape(-1, 4)
    if det_scores.shape != (len(det_boxes),):
        raise ValueError(f"det_scores must have shape ({len(det_boxes)},), got {det_scores.shape}")
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be from 0 to 1, got {iou_threshold}")
    is_true = np.zeros(len(det_boxes), dtype=bool)
    if len(det_boxes) == 0 or len(gt_boxes) == 0:
        return is_true
    ious = box_iou(det_boxes, gt_boxes)
    threshold = min(iou_threshold, 1 - 1e-10)  # pycocotools' guard, so that a threshold of 1 can still match
    taken = np.zeros(len(gt_boxes), dtype=bool)
    for index in np.argsort(-det_scores, kind="stable"):
        candidates = np.where(taken, -1.0, ious[index])
        best = len(candidates) - 1 - int(np.argmax(candidates[::-1]))  # the last of equal maxima
        if candidates[best] >= threshold:
            taken[best] = is_true[index] = True
    return is_true


def precision_recall(scores, is_true, num_ground_truth: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall of the detections with the n highest scores, for n = 1, 2, ..., N.

        P_n = TP_n / n,    R_n = TP_n / G

    where TP_n counts the true positives among the n best-scoring detections and G is the number of
    ground-truth objects. (The division adds ``np.spacing(1)`` to n, as pycocotools does.)

    Args:
        scores: shape (N,), the detections' scores, pooled over all images.
        is_true: shape (N,), bool, from :func:`match_detections`.
        num_ground_truth: G, an int of at least 1.

    Returns:
        ``(precision, recall)``, each of shape (N,), ordered by decreasing score (ties: the earlier detection first).
    """
    scores, is_true = np.asarray(scores, dtype=np.float64).reshape(-1), np.asarray(is_true, dtype=bool).reshape(-1)
    if scores.shape != is_true.shape:
        raise ValueError(f"scores and is_true must have the same shape, got {scores.shape} and {is_true.shape}")
    if num_ground_truth < 1:
        raise ValueError(f"num_ground_truth must be at least 1, got {num_ground_truth}")
    order = np.argsort(-scores, kind="mergesort")
    true_positives = np.cumsum(is_true[order]).astype(np.float64)
    false_positives = np.cumsum(~is_true[order]).astype(np.float64)
    precision = true_positives / (true_positives + false_positives + np.spacing(1))
    return precision, true_positives / num_ground_truth


def interpolated_precision(precision, recall, recall_points=COCO_RECALL_POINTS) -> np.ndarray:
    """The interpolated precision at each recall level: the best precision at that recall or any higher one.

        P_interp(r) = max over n with R_n >= r of P_n

    read, as COCO does, at the first detection whose recall reaches r; 0 where no detection reaches r. The average
    of these values over the 101 levels of :data:`COCO_RECALL_POINTS` is the average precision.

    Args:
        precision, recall: shape (N,) each, from :func:`precision_recall` (recall non-decreasing).
        recall_points: the recall levels, shape (R,).

    Returns:
        Shape (R,).
    """
    precision, recall = np.asarray(precision, dtype=np.float64), np.asarray(recall, dtype=np.float64)
    if precision.shape != recall.shape or precision.ndim != 1:
        raise ValueError(f"precision and recall must have the same shape (N,), got {precision.shape} and "
                         f"{recall.shape}")
    envelope = np.maximum.accumulate(precision[::-1])[::-1]  # best precision at this recall or beyond
    indices = np.searchsorted(recall, np.asarray(recall_points, dtype=np.float64), side="left")
    values = np.zeros(len(indices))
    reached = indices < len(recall)
    values[reached] = envelope[indices[reached]]
    return values


class DetectionEvaluation(NamedTuple):
    """What :func:`evaluate_detections` measures (COCO's box AP, for all object sizes).

    ``ap``: AP@[.5:.95], the mean over IoU thresholds, recall levels and classes; ``ap50``, ``ap75``: at IoU 0.5 and
    0.75; ``precision``: interpolated precision of shape (T, R, K), -1 for a class without ground truth;
    ``recall``: the largest recall reached, shape (T, K); ``iou_thresholds`` (T,); ``classes`` (K,).
    """

    ap: float
    ap50: float
    ap75: float
    precision: np.ndarray
    recall: np.ndarray
    iou_thresholds: np.ndarray
    classes: np.ndarray


def _check_per_image(name: str, arrays, count: int | None, width: int | None) -> list[np.ndarray]:
    arrays = [np.asarray(a) for a in arrays]
    if count is not None and len(arrays) != count:
        raise ValueError(f"{name} must hold one array per image ({count}), got {len(arrays)}")
    for index, array in enumerate(arrays):
        shape_ok = array.shape[1:] == (width,) if width else array.ndim == 1
        if not shape_ok and array.size:
            expected = f"(K, {width})" if width else "(K,)"
            raise ValueError(f"{name}[{index}] must have shape {expected}, got {array.shape}")
    return arrays


def evaluate_detections(det_boxes, det_scores, det_labels, gt_boxes, gt_labels,
                        iou_thresholds=COCO_IOU_THRESHOLDS, recall_points=COCO_RECALL_POINTS,
                        max_detections: int = 100) -> DetectionEvaluation:
    """COCO's average precision of detections on a set of images, computed as pycocotools' ``COCOeval`` does.

    For each class k and IoU threshold t: in every image keep the ``max_detections`` best-scoring detections of k and
    match them to the image's ground truth of k (:func:`match_detections`); pool all images' detections, compute
    precision and recall (:func:`precision_recall`) and read the interpolated precision at the recall levels
    (:func:`interpolated_precision`). With p_tk(r) these values, for K classes, R recall levels and T thresholds,

        AP_t = (1 / (K R)) sum_k sum_r p_tk(r),    AP = (1 / T) sum_t AP_t.

    The classes are those with ground truth; detections of any other class are ignored (COCO's rule).

    Args:
        det_boxes, det_scores, det_labels: per image, lists of N arrays of shapes (D_i, 4) ``xyxy``, (D_i,), (D_i,).
        gt_boxes, gt_labels: per image, lists of N arrays of shapes (G_i, 4) ``xyxy`` and (G_i,).
        iou_thresholds: shape (T,), default :data:`COCO_IOU_THRESHOLDS`.
        recall_points: shape (R,), default :data:`COCO_RECALL_POINTS`.
        max_detections: detections kept per image and class (COCO's ``maxDets``, 100).

    Returns:
        A :class:`DetectionEvaluation`.
    """
    gt_boxes = _check_per_image("gt_boxes", gt_boxes, None, 4)
    count = len(gt_boxes)
    gt_labels = _check_per_image("gt_labels", gt_labels, count, None)
    det_boxes = _check_per_image("det_boxes", det_boxes, count, 4)
    det_scores = _check_per_image("det_scores", det_scores, count, None)
    det_labels = _check_per_image("det_labels", det_labels, count, None)
    for name, arrays, reference in (("gt_labels", gt_labels, gt_boxes), ("det_scores", det_scores, det_boxes),
                                    ("det_labels", det_labels, det_boxes)):
        for index, (array, boxes) in enumerate(zip(arrays, reference, strict=True)):
            if len(array) != len(boxes.reshape(-1, 4)):
                raise ValueError(f"{name}[{index}] must have {len(boxes.reshape(-1, 4))} entries, got {len(array)}")
    iou_thresholds = np.asarray(iou_thresholds, dtype=np.float64).reshape(-1)
    recall_points = np.asarray(recall_points, dtype=np.float64).reshape(-1)
    classes = np.unique(np.concatenate([labels.reshape(-1) for labels in gt_labels] or [np.zeros(0)]))
    precision = -np.ones((len(iou_thresholds), len(recall_points), len(classes)))
    recall = -np.ones((len(iou_thresholds), len(classes)))
    for k, label in enumerate(classes):
        scores, is_true, num_ground_truth = [], [], 0
        for image in range(count):
            gt = gt_boxes[image].reshape(-1, 4)[gt_labels[image] == label]
            mine = np.flatnonzero(det_labels[image] == label)
            mine = mine[np.argsort(-det_scores[image][mine], kind="stable")][:max_detections]
            boxes, image_scores = det_boxes[image].reshape(-1, 4)[mine], det_scores[image][mine]
            scores.append(image_scores)
            is_true.append(np.stack([match_detections(boxes, image_scores, gt, t) for t in iou_thresholds])
                           .reshape(len(iou_thresholds), len(mine)))
            num_ground_truth += len(gt)
        scores, is_true = np.concatenate(scores), np.concatenate(is_true, axis=1)
        for t in range(len(iou_thresholds)):
            curve_precision, curve_recall = precision_recall(scores, is_true[t], num_ground_truth)
            precision[t, :, k] = interpolated_precision(curve_precision, curve_recall, recall_points)
            recall[t, k] = curve_recall[-1] if len(curve_recall) else 0.0

    def mean(values):
        values = values[values > -1]
        return float(values.mean()) if values.size else -1.0

    def at(threshold):
        hits = np.flatnonzero(np.isclose(iou_thresholds, threshold))
        return mean(precision[hits[0]]) if len(hits) else float("nan")

    return DetectionEvaluation(mean(precision), at(0.5), at(0.75), precision, recall, iou_thresholds, classes)
