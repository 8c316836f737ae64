"""Faces: the MTCNN detection cascade, alignment by a similarity transform, and verification by embeddings.

Detection follows Zhang et al. (2016), "Joint face detection and alignment using multitask cascaded convolutional
networks": three small CNNs (:class:`cnnlib.models.PNet`, :class:`~cnnlib.models.RNet`,
:class:`~cnnlib.models.ONet`) run one after the other, each on the survivors of the one before.

1. :func:`propose`: an image pyramid; P-Net slides over every level as one fully convolutional pass, and every output
   cell whose face probability passes a threshold becomes a 12x12 window mapped back to the image; the windows are
   calibrated by P-Net's box offsets and thinned by non-maximum suppression.
2. :func:`refine`: each candidate, squared and cropped to 24x24, is scored again by R-Net, calibrated, thinned.
3. :func:`finish`: each survivor, cropped to 48x48, is scored by O-Net, which also places five landmarks.

:func:`detect_faces` chains the three. The pretrained weights are the ones facenet-pytorch ships (MIT licence, a
conversion of the authors' Caffe models), read from the installed wheel by :func:`load_mtcnn` without importing the
package. Boxes are ``(x0, y0, x1, y1)`` in pixels, corners on pixel edges, as everywhere in :mod:`cnnlib.detection`.

Alignment: :func:`similarity_transform` fits scale, rotation and translation that carry five landmarks onto a
template by least squares; :func:`warp_affine` resamples the image (bilinear); :func:`align_face` does both.

Verification (FaceNet, Schroff et al. 2015): :func:`semi_hard_triplet_loss` trains an embedding;
:func:`pair_scores` scores every pair of embeddings by cosine similarity; :func:`roc_curve` and :func:`tar_at_far`
measure how well a threshold on that score separates same-identity pairs from different-identity ones;
:func:`identify` assigns each probe the identity of its nearest gallery embedding.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from cnnlib.detection import nms
from cnnlib.models import ONet, PNet, RNet
from cnnlib.retrieval import l2_normalize, search

#: The window P-Net classifies (pixels) and the stride of its output map on its input (one 2x2 pooling).
PNET_WINDOW, PNET_STRIDE = 12, 2

#: Five landmarks (left eye, right eye, nose tip, left and right mouth corner) of a frontal face in a 112x112 crop,
#: the template of InsightFace's ArcFace models (MIT licence), as (x, y) pixel coordinates.
FACE_TEMPLATE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                              [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)


class Detections(NamedTuple):
    """Faces found in one image. Unpacks as ``boxes, scores, landmarks``.

    ``boxes`` (K, 4) float32 ``xyxy`` pixels; ``scores`` (K,) face probabilities of the last stage; ``landmarks``
    (K, 5, 2) float32 (x, y) of left eye, right eye, nose, left and right mouth corner, or (K, 0, 2) before O-Net.
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray


def load_mtcnn() -> tuple[PNet, RNet, ONet]:
    """The three pretrained MTCNN networks, in evaluation mode, with the weights facenet-pytorch 2.6.0 ships.

    The files ``facenet_pytorch/data/{pnet,rnet,onet}.pt`` are plain state dicts; they are found with
    ``importlib.util.find_spec`` and read with ``torch.load(..., weights_only=True)`` into cnnlib's own modules,
    whose parameter names match theirs (``load_state_dict`` is strict: a missing or unexpected key is an error).

    Returns:
        ``(pnet, rnet, onet)``.

    Raises:
        ModuleNotFoundError: when facenet-pytorch is not installed, naming the install command (with ``--no-deps``).
    """
    from cnnlib.data import _package_data_file

    networks = []
    for name, network in (("pnet", PNet()), ("rnet", RNet()), ("onet", ONet())):
        state = torch.load(_package_data_file("facenet_pytorch", "data", f"{name}.pt"), weights_only=True)
        network.load_state_dict(state, strict=True)
        networks.append(network.eval())
    return tuple(networks)


def _image_tensor(image) -> torch.Tensor:
    """An (H, W, 3) or (H, W) image, uint8 or float in [0, 1], as MTCNN's input: (1, 3, H, W), (pixel - 127.5) / 128."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an image of shape (H, W, 3) or (H, W), got {image.shape}")
    pixels = image.astype(np.float32) if image.dtype == np.uint8 else image.astype(np.float32) * 255.0
    tensor = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]
    return (tensor - 127.5) / 128.0


def pyramid_scales(height: int, width: int, min_face_size: float = 20.0, factor: float = 0.709) -> list[float]:
    """The scales of MTCNN's image pyramid.

    A face of side ``min_face_size`` must shrink to P-Net's 12-pixel window, so the first scale is
    ``12 / min_face_size``; each next level is ``factor`` times smaller (0.709, about 1/sqrt(2), halves the area),
    until the shorter side would drop below 12 pixels: scale_k = (12 / min_face_size) factor^k.

    Args:
        height, width: the image's size in pixels.
        min_face_size: the smallest face to find, pixels (at least 12).
        factor: the ratio of successive scales, in (0, 1).

    Returns:
        The scales, largest first (empty when the image is too small).
    """
    if min_face_size < PNET_WINDOW or not 0.0 < factor < 1.0:
        raise ValueError(f"need min_face_size >= 12 and 0 < factor < 1, got {min_face_size} and {factor}")
    scale, scales = PNET_WINDOW / min_face_size, []
    while min(height, width) * scale >= PNET_WINDOW:
        scales.append(scale)
        scale *= factor
    return scales


def calibrate(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Move each box's corners by offsets given in units of its width and height (MTCNN's box regression).

    x0' = x0 + t_0 w, y0' = y0 + t_1 h, x1' = x1 + t_2 w, y1' = y1 + t_3 h, with w = x1 - x0, h = y1 - y0.

    Args:
        boxes: (K, 4) ``xyxy``.
        offsets: (K, 4) regression outputs (t_0, t_1, t_2, t_3).

    Returns:
        (K, 4) calibrated boxes.
    """
    boxes, offsets = np.asarray(boxes, dtype=np.float32), np.asarray(offsets, dtype=np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or offsets.shape != boxes.shape:
        raise ValueError(f"expected boxes (K, 4) and offsets of the same shape, got {boxes.shape} and {offsets.shape}")
    size = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, axis=1)
    return boxes + offsets * size


def square(boxes: np.ndarray) -> np.ndarray:
    """Each box grown to a square of side max(w, h) about the same centre (the next network takes square crops).

    Args:
        boxes: (K, 4) ``xyxy``.

    Returns:
        (K, 4) square boxes.
    """
    boxes = np.asarray(boxes, dtype=np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"expected boxes of shape (K, 4), got {boxes.shape}")
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])[:, None]
    return np.concatenate([centre - side / 2, centre + side / 2], axis=1)


def crop_patches(image: torch.Tensor, boxes: np.ndarray, size: int) -> torch.Tensor:
    """Crop each box (rounded to whole pixels) from a (1, 3, H, W) image and resize it to size x size.

    Parts of a box outside the image read as black (pixel 0, which is -127.5 / 128 after scaling), as in the original
    MTCNN code; resizing averages over areas (``F.interpolate(mode="area")``).

    Returns:
        (K, 3, size, size).
    """
    _, channels, height, width = image.shape
    black = -127.5 / 128.0
    patches = []
    for x0, y0, x1, y1 in np.round(boxes).astype(int):
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        canvas = torch.full((1, channels, y1 - y0, x1 - x0), black)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if sx1 > sx0 and sy1 > sy0:
            canvas[:, :, sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[:, :, sy0:sy1, sx0:sx1]
        patches.append(F.interpolate(canvas, size=(size, size), mode="area"))
    return torch.cat(patches) if patches else torch.zeros(0, channels, size, size)


def _empty(landmarks: int = 0) -> Detections:
    return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, landmarks, 2), np.float32))


@torch.no_grad()
def propose(pnet: PNet, image, min_face_size: float = 20.0, factor: float = 0.709, threshold: float = 0.6,
            iou_threshold: float = 0.7) -> Detections:
    """Stage 1: P-Net over the image pyramid, as one fully convolutional pass per level.

    At scale s, output cell (i, j) looks at the 12x12 window with top-left corner (2 j, 2 i) of the resized image,
    that is the box (2 j / s, 2 i / s, (2 j + 12) / s, (2 i + 12) / s) of the original. Cells with face probability
    at least ``threshold`` become boxes; each level is thinned by NMS at IoU 0.5, then all levels together at
    ``iou_threshold``; the survivors are calibrated by P-Net's offsets and squared.

    Args:
        pnet: the proposal network.
        image: (H, W, 3) or (H, W), uint8 or float in [0, 1].

    Returns:
        :class:`Detections` with no landmarks.
    """
    tensor = _image_tensor(image)
    height, width = tensor.shape[2:]
    all_boxes, all_scores, all_offsets = [], [], []
    for scale in pyramid_scales(height, width, min_face_size, factor):
        size = (math.ceil(height * scale), math.ceil(width * scale))
        logits, offsets = pnet(F.interpolate(tensor, size=size, mode="area"))
        probability = logits.softmax(dim=1)[0, 1]
        rows, cols = torch.nonzero(probability >= threshold, as_tuple=True)
        if len(rows) == 0:
            continue
        corners = torch.stack([cols, rows], dim=1).float() * PNET_STRIDE
        boxes = (torch.cat([corners, corners + PNET_WINDOW], dim=1) / scale).numpy()
        scores = probability[rows, cols].numpy()
        keep = nms(boxes, scores, 0.5)
        all_boxes.append(boxes[keep])
        all_scores.append(scores[keep])
        all_offsets.append(offsets[0][:, rows, cols].T.numpy()[keep])
    if not all_boxes:
        return _empty()
    boxes, scores, offsets = (np.concatenate(part) for part in (all_boxes, all_scores, all_offsets))
    keep = nms(boxes, scores, iou_threshold)
    return Detections(square(calibrate(boxes[keep], offsets[keep])), scores[keep],
                      np.zeros((len(keep), 0, 2), np.float32))


@torch.no_grad()
def refine(rnet: RNet, image, candidates: Detections, threshold: float = 0.7, iou_threshold: float = 0.7) -> Detections:
    """Stage 2: R-Net scores 24x24 crops of the candidates; the ones that pass are thinned, calibrated and squared.

    Returns:
        :class:`Detections` with no landmarks; scores are R-Net's.
    """
    if len(candidates.boxes) == 0:
        return _empty()
    logits, offsets = rnet(crop_patches(_image_tensor(image), candidates.boxes, 24))
    scores = logits.softmax(dim=1)[:, 1].numpy()
    passed = np.flatnonzero(scores >= threshold)
    keep = passed[nms(candidates.boxes[passed], scores[passed], iou_threshold)]
    boxes = square(calibrate(candidates.boxes[keep], offsets.numpy()[keep]))
    return Detections(boxes, scores[keep], np.zeros((len(keep), 0, 2), np.float32))


@torch.no_grad()
def finish(onet: ONet, image, candidates: Detections, threshold: float = 0.7,
           iou_threshold: float = 0.7) -> Detections:
    """Stage 3: O-Net scores 48x48 crops, calibrates the boxes and places five landmarks on each face.

    A landmark output (u, v) in [0, 1] is a position inside the crop's box: x = x0 + u w, y = y0 + v h. The boxes
    that pass ``threshold`` are calibrated, then thinned by NMS.

    Returns:
        :class:`Detections` with landmarks of shape (K, 5, 2).
    """
    if len(candidates.boxes) == 0:
        return _empty(5)
    logits, offsets, points = onet(crop_patches(_image_tensor(image), candidates.boxes, 48))
    scores = logits.softmax(dim=1)[:, 1].numpy()
    passed = np.flatnonzero(scores >= threshold)
    boxes = candidates.boxes[passed]
    points = points.numpy()[passed].reshape(-1, 2, 5).transpose(0, 2, 1)  # (K, 5, 2): x's first, then y's
    landmarks = boxes[:, None, :2] + points * (boxes[:, None, 2:] - boxes[:, None, :2])
    boxes = calibrate(boxes, offsets.numpy()[passed])
    keep = nms(boxes, scores[passed], iou_threshold)
    return Detections(boxes[keep], scores[passed][keep], landmarks[keep].astype(np.float32))


def detect_faces(image, networks: tuple[PNet, RNet, ONet], min_face_size: float = 20.0,
                 thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7), factor: float = 0.709) -> Detections:
    """The whole MTCNN cascade: :func:`propose`, :func:`refine`, :func:`finish`.

    Args:
        image: (H, W, 3) or (H, W) (grey, repeated to three channels), uint8 or float in [0, 1].
        networks: ``(pnet, rnet, onet)``, as :func:`load_mtcnn` returns them.
        min_face_size: the smallest face searched for, pixels.
        thresholds: the face-probability thresholds of the three stages (the defaults of facenet-pytorch).
        factor: the ratio of successive pyramid scales.

    Returns:
        :class:`Detections`: boxes (K, 4), scores (K,), landmarks (K, 5, 2).
    """
    pnet, rnet, onet = networks
    candidates = propose(pnet, image, min_face_size, factor, thresholds[0])
    return finish(onet, image, refine(rnet, image, candidates, thresholds[1]), thresholds[2])


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The similarity (scale s, rotation theta, translation t) that best carries ``source`` points onto ``target``.

    With a = s cos(theta), b = s sin(theta), a point (x, y) maps to (a x - b y + t_x, b x + a y + t_y), which is linear
    in (a, b, t_x, t_y); stacking the two equations of every point pair gives an overdetermined linear system solved
    by least squares (``np.linalg.lstsq``), minimising sum_i ||T(p_i) - q_i||^2.

    Args:
        source: (K, 2) points (x, y), K >= 2.
        target: (K, 2) points.

    Returns:
        The 2x3 matrix [[a, -b, t_x], [b, a, t_y]]: ``target ~ source @ M[:, :2].T + M[:, 2]``.
    """
    source, target = np.asarray(source, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if source.ndim != 2 or source.shape[1] != 2 or source.shape != target.shape or len(source) < 2:
        raise ValueError(f"expected two (K, 2) arrays of points with K >= 2, got {source.shape} and {target.shape}")
    x, y = source[:, 0], source[:, 1]
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    design = np.concatenate([np.stack([x, -y, ones, zeros], axis=1), np.stack([y, x, zeros, ones], axis=1)])
    a, b, tx, ty = np.linalg.lstsq(design, np.concatenate([target[:, 0], target[:, 1]]), rcond=None)[0]
    return np.array([[a, -b, tx], [b, a, ty]])


def warp_affine(image: np.ndarray, matrix: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """Resample ``image`` so that the output pixel at (x, y) shows the input at the point ``matrix`` maps to (x, y).

    Each output pixel centre (u + 0.5, v + 0.5) is carried back by the inverse of the affine map, and the input is
    read there by bilinear interpolation; outside the input reads 0.

    Args:
        image: (H, W) or (H, W, C).
        matrix: 2x3 affine map from input to output coordinates (as :func:`similarity_transform` returns).
        output_size: (height, width) of the output.

    Returns:
        (height, width) or (height, width, C), float64.
    """
    image, matrix = np.asarray(image, dtype=np.float64), np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (2, 3) or image.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W[, C]) image and a (2, 3) matrix, got {image.shape} and {matrix.shape}")
    out_height, out_width = output_size
    v, u = np.mgrid[0:out_height, 0:out_width] + 0.5
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    x = inverse[0, 0] * u + inverse[0, 1] * v + inverse[0, 2] - 0.5  # in pixel-index units (centres at integers)
    y = inverse[1, 0] * u + inverse[1, 1] * v + inverse[1, 2] - 0.5
    padded = np.pad(image, [(1, 1), (1, 1)] + [(0, 0)] * (image.ndim - 2))
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    if image.ndim == 3:
        fx, fy = fx[..., None], fy[..., None]
    height, width = image.shape[:2]

    def read(row, col):
        inside = (row >= -1) & (row <= height) & (col >= -1) & (col <= width)
        values = padded[np.clip(row + 1, 0, height + 1), np.clip(col + 1, 0, width + 1)]
        return values * (inside[..., None] if image.ndim == 3 else inside)

    return ((1 - fy) * ((1 - fx) * read(y0, x0) + fx * read(y0, x0 + 1))
            + fy * ((1 - fx) * read(y0 + 1, x0) + fx * read(y0 + 1, x0 + 1)))


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """Crop a face upright: the similarity that carries its five landmarks onto :data:`FACE_TEMPLATE_112` (scaled
    to ``size``), applied with :func:`warp_affine`.

    Args:
        image: (H, W) or (H, W, C).
        landmarks: (5, 2) as :func:`detect_faces` returns them.
        size: side of the aligned crop.

    Returns:
        (size, size) or (size, size, C).
    """
    matrix = similarity_transform(landmarks, FACE_TEMPLATE_112 * size / 112)
    return warp_affine(image, matrix, (size, size))


def semi_hard_triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.2) -> torch.Tensor:
    """FaceNet's triplet loss with semi-hard negatives chosen inside the mini-batch.

    For every anchor-positive pair (a, p) with the same label, the negative n is the closest one that is still
    farther from the anchor than the positive (semi-hard: d(a, n) > d(a, p)); if there is none, the farthest
    negative. With squared Euclidean distances d, the loss is the mean over pairs of
    max(0, d(a, p) - d(a, n) + margin).

    Args:
        embeddings: (B, D), normally L2-normalised.
        labels: (B,) integer identities; the batch needs at least one pair and one other identity.
        margin: alpha.

    Returns:
        A scalar tensor.
    """
    if embeddings.ndim != 2 or labels.shape != (len(embeddings),):
        raise ValueError(f"expected embeddings (B, D) and labels (B,), got {tuple(embeddings.shape)} and "
                         f"{tuple(labels.shape)}")
    distance = torch.cdist(embeddings, embeddings).square()
    same = labels[:, None] == labels[None, :]
    anchor, positive = torch.nonzero(same & ~torch.eye(len(labels), dtype=torch.bool), as_tuple=True)
    if len(anchor) == 0 or bool(same.all()):
        raise ValueError("the batch needs two examples of one identity and an example of another")
    d_ap = distance[anchor, positive]  # (P,)
    d_an = distance[anchor]  # (P, B)
    negative = ~same[anchor]
    semi_hard = negative & (d_an > d_ap[:, None])
    inf = torch.tensor(float("inf"))
    closest_semi_hard = torch.where(semi_hard, d_an, inf).min(dim=1).values
    farthest = torch.where(negative, d_an, -inf).max(dim=1).values
    chosen = torch.where(semi_hard.any(dim=1), closest_semi_hard, farthest)
    return F.relu(d_ap - chosen + margin).mean()


def pair_scores(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity and same-identity flag of every unordered pair i < j.

    Args:
        embeddings: (N, D).
        labels: (N,) identities.

    Returns:
        ``(scores, same)``: each of shape (N (N - 1) / 2,), scores float64 in [-1, 1], same bool.
    """
    embeddings, labels = np.asarray(embeddings, dtype=np.float64), np.asarray(labels)
    if embeddings.ndim != 2 or labels.shape != (len(embeddings),):
        raise ValueError(f"expected embeddings (N, D) and labels (N,), got {embeddings.shape} and {labels.shape}")
    unit = l2_normalize(embeddings)
    first, second = np.triu_indices(len(unit), k=1)
    return np.einsum("pd,pd->p", unit[first], unit[second]), labels[first] == labels[second]


def roc_curve(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC of accepting a pair when its score is at least a threshold, at every distinct score.

    FAR(t) = #{different pairs with score >= t} / #different; TAR(t) = #{same pairs with score >= t} / #same.

    Args:
        scores: (P,) similarity of each pair (higher: more alike).
        same: (P,) bool, True for a same-identity pair; both kinds must occur.

    Returns:
        ``(far, tar, thresholds)``, each of shape (T + 1,) for T distinct scores: thresholds decreasing, the first
        +inf (nothing accepted, FAR = TAR = 0), the last the lowest score (everything accepted, FAR = TAR = 1).
    """
    scores, same = np.asarray(scores, dtype=np.float64), np.asarray(same, dtype=bool)
    if scores.ndim != 1 or same.shape != scores.shape:
        raise ValueError(f"expected scores (P,) and same (P,), got {scores.shape} and {same.shape}")
    if same.all() or not same.any():
        raise ValueError("the ROC needs both same-identity and different-identity pairs")
    order = np.argsort(-scores, kind="stable")
    scores, same = scores[order], same[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # last index of every distinct score
    accepted_same = np.cumsum(same)[last_of_each]
    accepted_different = (last_of_each + 1) - accepted_same
    far = np.r_[0.0, accepted_different / (~same).sum()]
    tar = np.r_[0.0, accepted_same / same.sum()]
    return far, tar, np.r_[np.inf, scores[last_of_each]]


def tar_at_far(scores: np.ndarray, same: np.ndarray, far: float) -> tuple[float, float]:
    """The true-accept rate at the lowest threshold whose false-accept rate is at most ``far``.

    Args:
        scores, same: as for :func:`roc_curve`.
        far: the false-accept rate allowed, in [0, 1].

    Returns:
        ``(tar, threshold)``, Python floats.
    """
    if not 0.0 <= far <= 1.0:
        raise ValueError(f"far must be in [0, 1], got {far}")
    far_curve, tar_curve, thresholds = roc_curve(scores, same)
    index = np.flatnonzero(far_curve <= far)[-1]
    return float(tar_curve[index]), float(thresholds[index])


def identify(gallery: np.ndarray, gallery_labels: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """Closed-set identification: each probe gets the label of the gallery embedding most cosine-similar to it.

    Args:
        gallery: (G, D) enrolled embeddings; gallery_labels: (G,).
        probes: (Q, D).

    Returns:
        (Q,) predicted labels.
    """
    gallery, probes = np.asarray(gallery, dtype=np.float64), np.asarray(probes, dtype=np.float64)
    gallery_labels = np.asarray(gallery_labels)
    if gallery.ndim != 2 or probes.ndim != 2 or probes.shape[1] != gallery.shape[1] \
            or gallery_labels.shape != (len(gallery),):
        raise ValueError(f"expected gallery (G, D), gallery_labels (G,) and probes (Q, D), got {gallery.shape}, "
                         f"{gallery_labels.shape} and {probes.shape}")
    _, nearest = search(probes, gallery, k=1, metric="cosine")  # the most similar is the nearest in cosine distance
    return gallery_labels[nearest[:, 0]]
