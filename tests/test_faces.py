"""cnnlib.faces and the MTCNN modules: checked against the weight files, scikit-learn, scikit-image and scipy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlib import data, faces, models

skimage_transform = pytest.importorskip("skimage.transform")
ndimage = pytest.importorskip("scipy.ndimage")
metrics = pytest.importorskip("sklearn.metrics")
neighbors = pytest.importorskip("sklearn.neighbors")


@pytest.fixture(scope="module")
def networks():
    return faces.load_mtcnn()


@pytest.mark.parametrize(("name", "cls"), [("pnet", models.PNet), ("rnet", models.RNet), ("onet", models.ONet)])
def test_mtcnn_modules_match_the_weight_files_key_for_key(name, cls):
    path = data._package_data_file("facenet_pytorch", "data", f"{name}.pt")
    state = torch.load(path, weights_only=True)
    module = cls()
    assert {k: tuple(v.shape) for k, v in module.state_dict().items()} == {k: tuple(v.shape) for k, v in state.items()}
    result = module.load_state_dict(state, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []


def test_mtcnn_output_shapes(networks):
    pnet, rnet, onet = networks
    with torch.no_grad():
        logits, offsets = pnet(torch.zeros(2, 3, 12, 12))
        assert logits.shape == (2, 2, 1, 1) and offsets.shape == (2, 4, 1, 1)
        assert [t.shape for t in rnet(torch.zeros(3, 3, 24, 24))] == [(3, 2), (3, 4)]
        assert [t.shape for t in onet(torch.zeros(1, 3, 48, 48))] == [(1, 2), (1, 4), (1, 10)]
    with pytest.raises(ValueError, match="24, 24"):
        rnet(torch.zeros(1, 3, 20, 20))
    with pytest.raises(ValueError, match="12"):
        pnet(torch.zeros(1, 3, 10, 30))


def test_pnet_output_cell_is_the_12x12_window_at_twice_its_index(networks):
    pnet = networks[0]
    image = torch.randn(1, 3, 30, 34, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits, offsets = pnet(image)
        for row, col in [(0, 0), (3, 5), (logits.shape[2] - 1, logits.shape[3] - 1)]:
            window = image[:, :, 2 * row:2 * row + 12, 2 * col:2 * col + 12]
            window_logits, window_offsets = pnet(window)
            torch.testing.assert_close(window_logits[0, :, 0, 0], logits[0, :, row, col], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(window_offsets[0, :, 0, 0], offsets[0, :, row, col], atol=1e-5, rtol=1e-5)


def test_pyramid_scales_stop_at_the_window():
    scales = faces.pyramid_scales(100, 80, min_face_size=20, factor=0.709)
    assert scales[0] == pytest.approx(12 / 20)
    assert np.allclose(np.diff(np.log(scales)), np.log(0.709))
    assert 80 * scales[-1] >= 12 > 80 * scales[-1] * 0.709
    with pytest.raises(ValueError):
        faces.pyramid_scales(100, 100, min_face_size=8)


def test_calibrate_and_square():
    boxes = np.array([[10, 20, 30, 60]], dtype=np.float32)  # width 20, height 40
    moved = faces.calibrate(boxes, np.array([[0.1, -0.25, 0.5, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(moved, [[12, 10, 40, 60]])
    np.testing.assert_allclose(faces.square(boxes), [[0, 20, 40, 60]])
    with pytest.raises(ValueError):
        faces.calibrate(boxes, np.zeros((2, 4)))


def test_detects_the_astronauts_face_with_landmarks_in_place(networks):
    found = faces.detect_faces(data.load_image("astronaut"), networks)
    assert len(found.boxes) == 1 and found.scores[0] > 0.99
    (x0, y0, x1, y1), points = found.boxes[0], found.landmarks[0]
    assert np.all((points[:, 0] > x0) & (points[:, 0] < x1) & (points[:, 1] > y0) & (points[:, 1] < y1))
    left_eye, right_eye, nose, left_mouth, right_mouth = points
    assert left_eye[0] < right_eye[0] and left_mouth[0] < right_mouth[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(left_mouth[1], right_mouth[1])


def test_no_face_in_a_blank_image(networks):
    found = faces.detect_faces(np.full((64, 64, 3), 0.5, dtype=np.float32), networks)
    assert found.boxes.shape == (0, 4) and found.landmarks.shape == (0, 5, 2)


def _similarity(scale, angle, shift):
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, shift[0]], [s, c, shift[1]]])


def test_similarity_transform_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 100, size=(5, 2))
    truth = _similarity(1.7, 0.3, (5.0, -2.0))
    target = source @ truth[:, :2].T + truth[:, 2]
    np.testing.assert_allclose(faces.similarity_transform(source, target), truth, atol=1e-9)


def test_similarity_transform_is_the_least_squares_fit_of_scikit_image():
    rng = np.random.default_rng(1)
    source = rng.uniform(0, 100, size=(5, 2))
    target = source @ _similarity(0.8, -0.5, (3.0, 7.0))[:, :2].T + rng.normal(0, 2.0, size=(5, 2))
    reference = skimage_transform.SimilarityTransform.from_estimate(source, target)
    assert reference
    np.testing.assert_allclose(faces.similarity_transform(source, target), reference.params[:2], atol=1e-8)
    with pytest.raises(ValueError, match="K >= 2"):
        faces.similarity_transform(source[:1], target[:1])


@pytest.mark.parametrize("channels", [None, 3])
def test_warp_affine_matches_scipy(channels):
    rng = np.random.default_rng(2)
    image = rng.uniform(size=(20, 24) if channels is None else (20, 24, channels))
    matrix = _similarity(1.3, 0.4, (2.0, -3.0))
    out = faces.warp_affine(image, matrix, (18, 22))
    # scipy maps output index (row, col) to input index A (row, col) + offset. Ours maps output point (u, v) + 0.5 to
    # input point M^-1 (u + 0.5, v + 0.5), and pixel index = point - 0.5.
    inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))
    a = inverse[:2, :2][::-1, ::-1]  # (x, y) -> (row, col)
    offset = a @ [0.5, 0.5] + inverse[:2, 2][::-1] - 0.5
    planes = [image] if channels is None else [image[..., c] for c in range(channels)]
    expected = [ndimage.affine_transform(p, a, offset, output_shape=(18, 22), order=1, mode="grid-constant")
                for p in planes]
    expected = expected[0] if channels is None else np.stack(expected, axis=-1)
    np.testing.assert_allclose(out, expected, atol=1e-10)


def test_align_face_puts_the_landmarks_on_the_template():
    template = faces.FACE_TEMPLATE_112
    truth = _similarity(0.5, 0.2, (-10.0, 4.0))  # template -> image
    landmarks = template @ truth[:, :2].T + truth[:, 2]
    matrix = faces.similarity_transform(landmarks, template)
    np.testing.assert_allclose(landmarks @ matrix[:, :2].T + matrix[:, 2], template, atol=1e-9)
    assert faces.align_face(np.ones((60, 60)), landmarks, size=56).shape == (56, 56)


def test_roc_curve_matches_scikit_learn():
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=500), 1)  # many ties
    same = rng.uniform(size=500) < 0.3
    scores[same] += 1.0
    far, tar, thresholds = faces.roc_curve(scores, same)
    fpr, tpr, reference_thresholds = metrics.roc_curve(same, scores, drop_intermediate=False)
    np.testing.assert_allclose(far, fpr)
    np.testing.assert_allclose(tar, tpr)
    np.testing.assert_allclose(thresholds[1:], reference_thresholds[1:])
    assert np.isinf(thresholds[0])
    for rate in (0.0, 0.01, 0.1, 0.5, 1.0):
        value, threshold = faces.tar_at_far(scores, same, rate)
        assert value == pytest.approx(tpr[fpr <= rate].max())
        accepted = scores >= threshold
        assert accepted[~same].mean() <= rate and accepted[same].mean() == pytest.approx(value)
    with pytest.raises(ValueError, match="both"):
        faces.roc_curve(scores, np.ones(500, dtype=bool))


def test_pair_scores_and_identify_match_scikit_learn():
    rng = np.random.default_rng(4)
    embeddings, labels = rng.normal(size=(30, 8)), rng.integers(0, 4, size=30)
    scores, same = faces.pair_scores(embeddings, labels)
    first, second = np.triu_indices(30, k=1)
    np.testing.assert_allclose(scores, metrics.pairwise.cosine_similarity(embeddings)[first, second])
    np.testing.assert_array_equal(same, labels[first] == labels[second])
    gallery, probes = embeddings[:10], embeddings[10:]
    reference = neighbors.KNeighborsClassifier(n_neighbors=1, metric="cosine").fit(gallery, labels[:10])
    np.testing.assert_array_equal(faces.identify(gallery, labels[:10], probes), reference.predict(probes))


def _semi_hard_loop(embeddings, labels, margin):
    distance = ((embeddings[:, None] - embeddings[None]) ** 2).sum(-1)
    losses = []
    for a in range(len(labels)):
        for p in range(len(labels)):
            if a == p or labels[a] != labels[p]:
                continue
            negatives = [distance[a, n] for n in range(len(labels)) if labels[n] != labels[a]]
            semi_hard = [d for d in negatives if d > distance[a, p]]
            chosen = min(semi_hard) if semi_hard else max(negatives)
            losses.append(max(0.0, distance[a, p] - chosen + margin))
    return np.mean(losses)


def test_semi_hard_triplet_loss_matches_a_loop():
    rng = np.random.default_rng(5)
    embeddings = rng.normal(size=(12, 3))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    labels = np.repeat([0, 1, 2], 4)
    loss = faces.semi_hard_triplet_loss(torch.as_tensor(embeddings), torch.as_tensor(labels), margin=0.5)
    assert loss.item() == pytest.approx(_semi_hard_loop(embeddings, labels, 0.5), rel=1e-9)
    with pytest.raises(ValueError, match="another"):
        faces.semi_hard_triplet_loss(torch.as_tensor(embeddings), torch.zeros(12, dtype=torch.long))


def test_load_lfw_subset():
    images, is_face = data.load_lfw_subset()
    assert images.shape == (200, 25, 25) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert is_face.tolist() == [1] * 100 + [0] * 100
