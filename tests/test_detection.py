"""cnnlib.detection: box formats, IoU against a pixel count, and NMS against its defining property."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlib import detection


def _random_int_boxes(rng, count, size=20):
    corners = rng.integers(0, size, size=(count, 2, 2))
    low, high = corners.min(axis=1), corners.max(axis=1) + 1
    return np.concatenate([low, high], axis=1).astype(np.float64)


def _mask(box, size=21):
    x0, y0, x1, y1 = (int(v) for v in box)
    mask = np.zeros((size, size), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_iou_equals_the_pixel_count_of_intersection_over_union():
    rng = np.random.default_rng(0)
    boxes_a, boxes_b = _random_int_boxes(rng, 30), _random_int_boxes(rng, 25)
    iou = detection.box_iou(boxes_a, boxes_b)
    assert iou.shape == (30, 25)
    for i, box_a in enumerate(boxes_a):
        for j, box_b in enumerate(boxes_b):
            a, b = _mask(box_a), _mask(box_b)
            assert iou[i, j] == pytest.approx((a & b).sum() / (a | b).sum(), abs=1e-12)
    assert np.array_equal(detection.box_area(boxes_a), [_mask(box).sum() for box in boxes_a])


def test_matched_iou_is_the_diagonal_and_torch_agrees_and_differentiates():
    rng = np.random.default_rng(1)
    boxes_a, boxes_b = _random_int_boxes(rng, 12), _random_int_boxes(rng, 12)
    matched = detection.matched_box_iou(boxes_a, boxes_b)
    assert np.allclose(matched, np.diag(detection.box_iou(boxes_a, boxes_b)))
    prediction = torch.tensor(boxes_a, requires_grad=True)
    torch_iou = detection.matched_box_iou(prediction, torch.tensor(boxes_b))
    assert isinstance(torch_iou, torch.Tensor) and np.allclose(torch_iou.detach().numpy(), matched)
    overlapping = torch_iou.detach() > 0
    torch_iou.sum().backward()
    assert prediction.grad.shape == (12, 4) and torch.all(torch.isfinite(prediction.grad))
    if overlapping.any():
        assert prediction.grad[overlapping].abs().sum() > 0


def test_identical_disjoint_and_nested_boxes():
    box = np.array([[2.0, 3.0, 5.0, 7.0]])
    assert detection.box_iou(box, box)[0, 0] == 1.0
    assert detection.box_iou(box, box + 10)[0, 0] == 0.0
    inner = np.array([[3.0, 4.0, 4.0, 6.0]])  # area 2 inside area 12
    assert detection.box_iou(box, inner)[0, 0] == pytest.approx(2 / 12)


@pytest.mark.parametrize("fmt", ["xywh", "cxcywh"])
def test_box_convert_round_trips_and_knows_each_format(fmt):
    boxes = np.array([[2.0, 3.0, 5.0, 7.0]])
    expected = {"xywh": [2, 3, 3, 4], "cxcywh": [3.5, 5, 3, 4]}[fmt]
    assert np.allclose(detection.box_convert(boxes, "xyxy", fmt), [expected])
    assert np.allclose(detection.box_convert(detection.box_convert(boxes, "xyxy", fmt), fmt, "xyxy"), boxes)
    as_tensor = detection.box_convert(torch.tensor(boxes), "xyxy", fmt)
    assert isinstance(as_tensor, torch.Tensor) and np.allclose(as_tensor.numpy(), [expected])


def test_bad_boxes_are_refused_with_the_shapes():
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 4\), got \(3, 5\)"):
        detection.box_area(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="same shape"):
        detection.matched_box_iou(np.zeros((3, 4)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="one of"):
        detection.box_convert(np.zeros((1, 4)), "xyxy", "yxyx")
    with pytest.raises(ValueError, match="iou_threshold"):
        detection.nms(np.zeros((1, 4)), np.zeros(1), 1.5)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 40), st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]), st.booleans())
def test_nms_keeps_exactly_the_boxes_no_better_kept_box_overlaps(seed, count, threshold, with_classes):
    rng = np.random.default_rng(seed)
    boxes = _random_int_boxes(rng, count, size=12)
    scores = rng.integers(0, 5, size=count).astype(np.float64)  # ties on purpose
    classes = rng.integers(0, 3, size=count) if with_classes else None
    keep = detection.nms(boxes, scores, threshold, classes=classes)
    # The definition, checked box by box in score order (ties: lower index first), independently of the greedy loop.
    order = sorted(range(count), key=lambda i: (-scores[i], i))
    expected = []
    for i in order:
        rivals = [k for k in expected if classes is None or classes[k] == classes[i]]
        if not rivals or detection.box_iou(boxes[[i]], boxes[rivals]).max() <= threshold:
            expected.append(i)
    assert keep.tolist() == expected
    assert keep.dtype == np.int64


def test_nms_takes_tensors():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]])
    assert detection.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 2]
