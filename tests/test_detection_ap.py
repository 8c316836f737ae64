"""cnnlib.detection's average precision against pycocotools' COCOeval on the same detections."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from cnnlib import detection

pycocotools_coco = pytest.importorskip("pycocotools.coco")
pycocotools_cocoeval = pytest.importorskip("pycocotools.cocoeval")


def _coco_ap(det_boxes, det_scores, det_labels, gt_boxes, gt_labels, num_classes):
    """AP@[.5:.95], AP@0.5, AP@0.75 and the precision array of pycocotools (area "all", maxDets 100)."""
    def xywh(box):
        return [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]

    images, annotations, results = [], [], []
    for image, (boxes, labels) in enumerate(zip(gt_boxes, gt_labels, strict=True)):
        images.append({"id": image + 1})
        for box, label in zip(boxes, labels, strict=True):
            annotations.append({"id": len(annotations) + 1, "image_id": image + 1, "category_id": int(label) + 1,
                                "bbox": xywh(box), "area": float(np.prod(box[2:] - box[:2])), "iscrowd": 0})
        for box, score, label in zip(det_boxes[image], det_scores[image], det_labels[image], strict=True):
            results.append({"image_id": image + 1, "category_id": int(label) + 1, "bbox": xywh(box),
                            "score": float(score)})
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = pycocotools_coco.COCO()
        ground_truth.dataset = {"images": images, "annotations": annotations,
                                "categories": [{"id": k + 1} for k in range(num_classes)]}
        ground_truth.createIndex()
        evaluation = pycocotools_cocoeval.COCOeval(ground_truth, ground_truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    # precision has shape (T, R, K, area ranges, maxDets): area "all" is index 0, maxDets 100 the last.
    return evaluation.stats[0], evaluation.stats[1], evaluation.stats[2], evaluation.eval["precision"][:, :, :, 0, -1]


def _random_problem(rng, num_images, num_classes, jitter):
    """Ground truth and noisy detections: shifted copies of true boxes (some duplicated) and boxes drawn anywhere."""
    gt_boxes, gt_labels, det_boxes, det_scores, det_labels = [], [], [], [], []
    for _ in range(num_images):
        count = rng.integers(0, 6)
        corner = rng.uniform(0, 50, size=(count, 2))
        boxes = np.concatenate([corner, corner + rng.uniform(5, 30, size=(count, 2))], axis=1)
        labels = rng.integers(0, num_classes, size=count)
        copies = rng.integers(0, count + 1, size=rng.integers(0, 2 * count + 1)) if count else np.zeros(0, int)
        copies = copies[copies < count]
        found = boxes[copies] + rng.normal(0, jitter, size=(len(copies), 4))
        found_labels = np.where(rng.random(len(copies)) < 0.85, labels[copies], rng.integers(0, num_classes,
                                                                                             len(copies)))
        spurious = rng.integers(0, 4)
        corner = rng.uniform(0, 50, size=(spurious, 2))
        noise = np.concatenate([corner, corner + rng.uniform(5, 30, size=(spurious, 2))], axis=1)
        gt_boxes.append(boxes)
        gt_labels.append(labels)
        det_boxes.append(np.concatenate([found, noise]))
        det_labels.append(np.concatenate([found_labels, rng.integers(0, num_classes, spurious)]))
        det_scores.append(rng.random(len(det_boxes[-1])))
    return det_boxes, det_scores, det_labels, gt_boxes, gt_labels


@pytest.mark.parametrize("trial", range(6))
def test_average_precision_equals_pycocotools(trial):
    rng = np.random.default_rng(trial)
    num_classes = 1 + trial % 4
    problem = _random_problem(rng, num_images=40, num_classes=num_classes, jitter=[0.3, 1.0, 2.0][trial % 3])
    ours = detection.evaluate_detections(*problem)
    ap, ap50, ap75, precision = _coco_ap(*problem, num_classes)
    assert 0.02 < ours.ap < ours.ap50 < 0.98  # a problem where matching matters: neither trivial nor hopeless
    assert ours.ap == pytest.approx(ap, abs=1e-12)
    assert ours.ap50 == pytest.approx(ap50, abs=1e-12)
    assert ours.ap75 == pytest.approx(ap75, abs=1e-12)
    present = np.isin(np.arange(num_classes), ours.classes)
    np.testing.assert_allclose(ours.precision, precision[:, :, present], atol=1e-12)


def test_more_detections_than_max_detections_and_absent_classes():
    rng = np.random.default_rng(7)
    det_boxes, det_scores, det_labels, gt_boxes, gt_labels = _random_problem(rng, 10, 3, 1.0)
    # Image 0 gets 30 copies of its boxes with a cap of 10 per class; class 5 has detections but no ground truth.
    det_boxes[0] = np.concatenate([det_boxes[0]] + [gt_boxes[0] + rng.normal(0, 1, gt_boxes[0].shape)] * 30)
    det_labels[0] = np.concatenate([det_labels[0]] + [gt_labels[0]] * 30)
    det_scores[0] = rng.random(len(det_boxes[0]))
    det_labels[1] = np.full_like(det_labels[1], 5)
    problem = det_boxes, det_scores, det_labels, gt_boxes, gt_labels
    ours = detection.evaluate_detections(*problem, max_detections=100)
    assert ours.ap == pytest.approx(_coco_ap(*problem, 6)[0], abs=1e-12)
    assert 5 not in ours.classes


def test_perfect_detections_have_ap_one_and_duplicates_cost_precision():
    gt_boxes = [np.array([[0.0, 0, 10, 10], [20, 20, 30, 35]]), np.array([[5.0, 5, 15, 25]])]
    gt_labels = [np.array([0, 1]), np.array([0])]
    perfect = detection.evaluate_detections(gt_boxes, [np.array([0.9, 0.8]), np.array([0.7])], gt_labels,
                                            gt_boxes, gt_labels)
    assert perfect.ap == perfect.ap50 == 1.0
    # A duplicate of the first box with a higher score than the second true box: that box is found at precision 2/3.
    with_duplicate = [np.concatenate([gt_boxes[0], gt_boxes[0][:1]]), gt_boxes[1]]
    evaluation = detection.evaluate_detections(with_duplicate, [np.array([0.9, 0.8, 0.85]), np.array([0.7])],
                                               [np.array([0, 1, 0]), np.array([0])], gt_boxes, gt_labels)
    # Class 0: recall 1/2 at precision 1, recall 1 at precision 2/3; class 1: AP 1.
    expected_class0 = (51 * 1.0 + 50 * (2 / 3)) / 101
    assert evaluation.ap50 == pytest.approx((expected_class0 + 1.0) / 2, abs=1e-12)


def test_match_detections_takes_each_object_once_by_score():
    gt = np.array([[0.0, 0, 10, 10]])
    boxes = np.array([[0.0, 0, 10, 9], [0.0, 0, 10, 10]])
    # The better box has the lower score: the higher-scoring one takes the object, the exact copy is a duplicate.
    assert detection.match_detections(boxes, np.array([0.9, 0.5]), gt, 0.5).tolist() == [True, False]
    assert detection.match_detections(boxes, np.array([0.9, 0.5]), gt, 0.95).tolist() == [False, True]
    assert detection.match_detections(boxes, np.array([0.9, 0.5]), np.zeros((0, 4)), 0.5).tolist() == [False, False]


def test_interpolated_precision_is_the_upper_envelope():
    precision, recall = np.array([1.0, 0.5, 2 / 3, 0.75]), np.array([0.25, 0.25, 0.5, 0.75])
    values = detection.interpolated_precision(precision, recall, np.array([0.0, 0.25, 0.3, 0.75, 0.8]))
    np.testing.assert_allclose(values, [1.0, 1.0, 0.75, 0.75, 0.0])


def test_evaluation_refuses_mismatched_inputs():
    boxes = [np.zeros((2, 4))]
    with pytest.raises(ValueError, match=r"det_scores\[0\] must have 2 entries, got 1"):
        detection.evaluate_detections(boxes, [np.zeros(1)], [np.zeros(2)], boxes, [np.zeros(2)])
    with pytest.raises(ValueError, match=r"must hold one array per image \(1\), got 2"):
        detection.evaluate_detections(boxes * 2, [np.zeros(2)] * 2, [np.zeros(2)] * 2, boxes, [np.zeros(2)])
    with pytest.raises(ValueError, match=r"gt_boxes\[0\] must have shape \(K, 4\), got \(2, 3\)"):
        detection.evaluate_detections(boxes, [np.zeros(2)], [np.zeros(2)], [np.zeros((2, 3))], [np.zeros(2)])
