"""cnnlib.detection's generalized IoU and GIoU loss: a hand computation, pixel counts, and autograd's gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlib import detection


def test_generalized_iou_by_hand():
    # A = (0, 0, 2, 2), B = (1, 1, 4, 3): intersection 1, union 4 + 6 - 1 = 9, enclosing box (0, 0, 4, 3) of area 12.
    a = np.array([[0.0, 0.0, 2.0, 2.0]])
    b = np.array([[1.0, 1.0, 4.0, 3.0]])
    expected = 1 / 9 - (12 - 9) / 12
    assert detection.generalized_box_iou(a, b)[0] == pytest.approx(expected)
    # Disjoint boxes: IoU 0, union 4 + 2, enclosing box (0, 0, 4, 2) of area 8, so GIoU = -(8 - 6) / 8.
    c = np.array([[3.0, 0.0, 4.0, 2.0]])
    assert detection.generalized_box_iou(a, c)[0] == pytest.approx(-(8 - 6) / 8)
    assert float(detection.giou_loss(a, c, eps=0.0)) == pytest.approx(1 + (8 - 6) / 8)


def _mask(box, size=16):
    x0, y0, x1, y1 = (int(v) for v in box)
    mask = np.zeros((size, size), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_generalized_iou_equals_pixel_counts():
    rng = np.random.default_rng(0)
    corners = rng.integers(0, 15, size=(200, 2, 2, 2))
    low, high = corners.min(axis=2), corners.max(axis=2) + 1
    boxes = np.concatenate([low, high], axis=2).astype(np.float64)  # (200, 2 boxes, 4)
    giou = detection.generalized_box_iou(boxes[:, 0], boxes[:, 1])
    for (box_a, box_b), value in zip(boxes, giou, strict=True):
        mask_a, mask_b = _mask(box_a), _mask(box_b)
        union = (mask_a | mask_b).sum()
        rows, columns = np.nonzero(mask_a | mask_b)
        enclosing = (rows.max() - rows.min() + 1) * (columns.max() - columns.min() + 1)
        assert value == pytest.approx((mask_a & mask_b).sum() / union - (enclosing - union) / enclosing)


def test_generalized_iou_is_iou_for_nested_boxes_and_numpy_matches_torch():
    outer = np.array([[0.0, 0.0, 10.0, 10.0], [2.0, 2.0, 5.0, 9.0]])
    inner = np.array([[1.0, 2.0, 4.0, 8.0], [2.0, 2.0, 5.0, 9.0]])
    np.testing.assert_allclose(detection.generalized_box_iou(outer, inner), detection.matched_box_iou(outer, inner))
    rng = np.random.default_rng(1)
    low = rng.uniform(0, 10, size=(50, 2))
    a = np.concatenate([low, low + rng.uniform(0.5, 5, size=(50, 2))], axis=1)
    b = a + rng.normal(0, 2, size=(50, 4))
    b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 0.1)
    np.testing.assert_allclose(detection.generalized_box_iou(torch.as_tensor(a), torch.as_tensor(b)).numpy(),
                               detection.generalized_box_iou(a, b), rtol=1e-12)
    assert np.all(detection.generalized_box_iou(a, b) <= detection.matched_box_iou(a, b) + 1e-12)
    assert np.all(detection.generalized_box_iou(a, b) > -1)


def test_giou_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    low = rng.uniform(0, 10, size=(6, 2))
    target = torch.as_tensor(np.concatenate([low, low + rng.uniform(1, 5, size=(6, 2))], axis=1))
    # Overlapping and disjoint predictions, away from the kinks where two edges coincide.
    predicted = (target + torch.as_tensor(rng.uniform(-3, 3, size=(6, 4)))).requires_grad_(True)
    with torch.no_grad():
        predicted[:, 2:] = torch.maximum(predicted[:, 2:], predicted[:, :2] + 0.5)
    assert torch.autograd.gradcheck(lambda boxes: detection.giou_loss(boxes, target, eps=0.0), (predicted,))
    # Unlike 1 - IoU, the GIoU loss still has a gradient for a box that does not touch its target.
    far = torch.tensor([[20.0, 20.0, 22.0, 22.0]], dtype=torch.float64, requires_grad=True)
    detection.giou_loss(far, target[:1], eps=0.0).backward()
    assert far.grad.abs().sum() > 0


def test_generalized_iou_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        detection.generalized_box_iou(np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="at least one box"):
        detection.giou_loss(np.zeros((0, 4)), np.zeros((0, 4)))
