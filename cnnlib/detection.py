"""Boxes for localization and detection: formats, areas, intersection over union, non-maximum suppression.

Every box in the book is a row ``(x0, y0, x1, y1)`` in pixel units with its corners on pixel edges ("xyxy"): the box
``(2, 3, 5, 7)`` covers columns 2, 3, 4 and rows 3 to 6, and its area ``(x1 - x0) * (y1 - y0) = 12`` is the number of
pixels it covers. (COCO's own files use ``(x, y, width, height)``, "xywh"; :func:`box_convert` moves between the
two and the centre form ``(cx, cy, width, height)`` that detectors regress.)

The functions take NumPy arrays or torch tensors and return the same kind, so the IoU that evaluates a detector is
also the one a loss can differentiate.
"""

from __future__ import annotations

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

    .. math:: \\mathrm{IoU}(A, B) = \\frac{|A \\cap B|}{|A| + |B| - |A \\cap B|}

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
