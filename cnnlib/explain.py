"""What a trained classifier looks at, and how little it takes to change its mind.

Attribution maps for a PyTorch classifier ``model`` mapping images (N, C, H, W) to logits (N, K), each a map of
shape (N, H, W) that says which pixels matter for class ``targets[n]`` of image n:

- :func:`saliency`: the size of the gradient of the class score with respect to each pixel (Simonyan et al., 2014),
  computed by :func:`input_gradient`.
- :func:`grad_cam`: the feature maps of one layer weighted by the mean gradient of the class score over each map
  (Selvaraju et al., 2017), upsampled to the image.
- :func:`occlusion`: the drop of the class probability when a grey square covers each place (Zeiler and Fergus,
  2014).

:func:`peak_in_box` scores a map against the known position of the object. :func:`fgsm` builds the adversarial
examples of the fast gradient sign method (Goodfellow et al., 2015). Every function puts the model in evaluation
mode for its work and restores its mode afterwards; none changes the weights.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["fgsm", "grad_cam", "input_gradient", "occlusion", "peak_in_box", "saliency"]


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _check_inputs(images, targets) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.as_tensor(images)
    targets = torch.as_tensor(targets)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got shape {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"images must be floating point, got dtype {images.dtype}")
    if targets.shape != (len(images),) or targets.is_floating_point() or targets.dtype == torch.bool:
        raise ValueError(f"targets must be integer classes of shape ({len(images)},), got shape "
                         f"{tuple(targets.shape)} and dtype {targets.dtype}")
    return images, targets.long()


def _device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def input_gradient(model: nn.Module, images, targets) -> torch.Tensor:
    """Gradient of each image's target class score with respect to the image.

    For image x_n and target class c_n, returns ``d y_{c_n}(x_n) / d x_n``, where ``y = model(x)`` are the logits
    (the class scores before the softmax, as in Simonyan et al., 2014). Images do not interact in evaluation mode, so
    one backward pass of ``sum_n y_{c_n}(x_n)`` gives every image's gradient at once.

    Args:
        model: a classifier mapping (N, C, H, W) to logits (N, K).
        images: floats of shape (N, C, H, W) (array or tensor).
        targets: integer classes of shape (N,).

    Returns:
        A tensor of shape (N, C, H, W) on the model's device, detached.

    Raises:
        ValueError: for images that are not floats of shape (N, C, H, W), or targets not integers of shape (N,).
    """
    images, targets = _check_inputs(images, targets)
    device = _device(model)
    x = images.to(device).detach().clone().requires_grad_(True)
    with _eval_mode(model), torch.enable_grad():  # works inside torch.no_grad() too
        logits = model(x)
        score = logits.gather(1, targets.to(device)[:, None]).sum()
        (gradient,) = torch.autograd.grad(score, x)
    return gradient.detach()


def saliency(model: nn.Module, images, targets) -> torch.Tensor:
    """Saliency map of Simonyan et al. (2014): how strongly each pixel moves the target class score.

    ``M_n[i, j] = max_c |d y_{c_n} / d x_n[c, i, j]|``, the largest absolute input gradient over the channels
    (see :func:`input_gradient`).

    Args:
        model: a classifier mapping (N, C, H, W) to logits (N, K).
        images: floats of shape (N, C, H, W).
        targets: integer classes of shape (N,).

    Returns:
        A tensor of shape (N, H, W), non-negative, detached.
    """
    return input_gradient(model, images, targets).abs().amax(dim=1)


def grad_cam(model: nn.Module, layer: nn.Module, images, targets, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Grad-CAM of Selvaraju et al. (2017): a layer's feature maps weighted by how much the class score needs them.

    For the activations A of shape (N, K, h, w) that ``layer`` outputs and the target score y_c:
    ``alpha_k = (1 / (h w)) sum_{i,j} d y_c / d A_k[i, j]`` (the gradient averaged over each map) and
    ``L = ReLU(sum_k alpha_k A_k)``, of shape (N, h, w). Upsampled bilinearly to ``size`` when given.

    Args:
        model: a classifier mapping (N, C, H, W) to logits (N, num_classes).
        layer: a submodule of ``model`` whose output is a (N, K, h, w) tensor, usually the last convolution or the
            activation after it.
        images: floats of shape (N, C, H, W).
        targets: integer classes of shape (N,).
        size: (height, width) to upsample the maps to, for example the image's (H, W); None keeps (h, w).

    Returns:
        A tensor of shape (N, h, w), or ``(N, *size)``, non-negative, detached.

    Raises:
        ValueError: for bad images or targets, or a layer that does not output a 4-dimensional tensor (or is not
            called by the model).
    """
    images, targets = _check_inputs(images, targets)
    device = _device(model)
    captured = []
    handle = layer.register_forward_hook(lambda module, inputs, output: captured.append(output))
    try:
        with _eval_mode(model), torch.enable_grad():
            logits = model(images.to(device))
    finally:
        handle.remove()
    if len(captured) != 1 or captured[0].ndim != 4:
        shapes = [tuple(output.shape) for output in captured]
        raise ValueError(f"layer must be called once by the model and output (N, K, h, w); got outputs {shapes}")
    activations = captured[0]
    with torch.enable_grad():
        score = logits.gather(1, targets.to(device)[:, None]).sum()
        (gradient,) = torch.autograd.grad(score, activations)
    weights = gradient.mean(dim=(2, 3), keepdim=True)  # alpha: (N, K, 1, 1)
    maps = F.relu((weights * activations).sum(dim=1))
    if size is not None:
        maps = F.interpolate(maps[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    return maps.detach()


def occlusion(model: nn.Module, images, targets, patch_size: int = 6, stride: int = 2, fill: float = 0.0,
              batch_size: int = 512) -> torch.Tensor:
    """Occlusion sensitivity of Zeiler and Fergus (2014): the drop of the class probability when a patch is hidden.

    A ``patch_size`` square of value ``fill`` is placed at every position (r, s) with r, s = 0, stride, 2 stride,
    ... that fits in the image, and the softmax probability p_c of the target class is recomputed. The map at pixel
    (i, j) is the mean drop ``p_c(x) - p_c(x with the patch at (r, s))`` over the positions whose patch covers
    (i, j); pixels no patch covers get 0. Large values mark the pixels whose hiding hurts the target class.

    Args:
        model: a classifier mapping (N, C, H, W) to logits (N, K).
        images: floats of shape (N, C, H, W).
        targets: integer classes of shape (N,).
        patch_size: side of the square patch, from 1 to min(H, W).
        stride: step between patch positions, a positive int.
        fill: the value written into the patch (0 is the background of the book's digits).
        batch_size: occluded images evaluated at once.

    Returns:
        A tensor of shape (N, H, W), detached (values can be negative where hiding a patch helps the target).

    Raises:
        ValueError: for bad images or targets, or a patch size or stride out of range.
    """
    images, targets = _check_inputs(images, targets)
    height, width = images.shape[2:]
    if not 1 <= patch_size <= min(height, width) or stride < 1:
        raise ValueError(f"expected 1 <= patch_size <= {min(height, width)} and stride >= 1, got patch_size "
                         f"{patch_size} and stride {stride}")
    device = _device(model)
    images, targets = images.to(device), targets.to(device)
    positions = [(r, s) for r in range(0, height - patch_size + 1, stride)
                 for s in range(0, width - patch_size + 1, stride)]
    # One mask per position: 1 inside the patch. A masked copy of an image is x * (1 - mask) + fill * mask.
    masks = torch.zeros(len(positions), 1, height, width, dtype=images.dtype, device=device)
    for index, (r, s) in enumerate(positions):
        masks[index, :, r : r + patch_size, s : s + patch_size] = 1
    coverage = masks.sum(dim=0)[0]  # (H, W): how many patches cover each pixel
    maps = torch.zeros(len(images), height, width, dtype=images.dtype, device=device)
    with _eval_mode(model), torch.no_grad():
        base = F.softmax(model(images), dim=1).gather(1, targets[:, None])[:, 0]  # (N,)
        for n in range(len(images)):
            drops = []
            for start in range(0, len(positions), batch_size):
                mask = masks[start : start + batch_size]
                occluded = images[n] * (1 - mask) + fill * mask
                probability = F.softmax(model(occluded), dim=1)[:, targets[n]]
                drops.append(base[n] - probability)
            drops = torch.cat(drops)  # (P,)
            maps[n] = (drops[:, None, None] * masks[:, 0]).sum(dim=0)
    return torch.where(coverage > 0, maps / coverage.clamp(min=1), torch.zeros_like(maps)).detach()


def peak_in_box(maps, boxes) -> np.ndarray:
    """Whether the largest value of each map lies inside the object's box.

    The peak of map n is its first largest pixel (row i, column j) in row-major order; it is inside the box
    ``(x0, y0, x1, y1)`` (pixel edges, as in :mod:`cnnlib.detection`) when ``x0 <= j < x1`` and ``y0 <= i < y1``. A
    map that ignored the object would hit the box with probability about the box's share of the image.

    Args:
        maps: shape (N, H, W) (array or tensor).
        boxes: shape (N, 4), ``(x0, y0, x1, y1)`` in pixels.

    Returns:
        Booleans of shape (N,).

    Raises:
        ValueError: for maps not of shape (N, H, W) or boxes not of shape (N, 4).
    """
    maps = maps.detach().cpu().numpy() if isinstance(maps, torch.Tensor) else np.asarray(maps)
    boxes = np.asarray(boxes)
    if maps.ndim != 3 or boxes.shape != (len(maps), 4):
        raise ValueError(f"expected maps of shape (N, H, W) and boxes of shape (N, 4), got {maps.shape} and "
                         f"{boxes.shape}")
    rows, columns = np.unravel_index(maps.reshape(len(maps), -1).argmax(axis=1), maps.shape[1:])
    x0, y0, x1, y1 = boxes.T
    return (x0 <= columns) & (columns < x1) & (y0 <= rows) & (rows < y1)


def fgsm(model: nn.Module, images, labels, epsilon: float) -> torch.Tensor:
    """Adversarial examples by the fast gradient sign method of Goodfellow et al. (2015).

    ``x_adv = clip(x + epsilon * sign(d L(x, y) / d x), 0, 1)``, with L the softmax cross-entropy of the true label:
    one step that raises the loss as much as a change of at most ``epsilon`` per pixel can to first order (the
    maximum of ``g . delta`` over ``max |delta| <= epsilon`` is ``epsilon * sign(g)``), clipped to the valid pixel
    range [0, 1] of the book's images.

    Args:
        model: a classifier mapping (N, C, H, W) to logits (N, K).
        images: floats of shape (N, C, H, W) with values in [0, 1].
        labels: the true classes, integers of shape (N,).
        epsilon: the largest change of a pixel, a float >= 0.

    Returns:
        A tensor of shape (N, C, H, W) on the model's device, detached.

    Raises:
        ValueError: for bad images or labels, or a negative epsilon.
    """
    images, labels = _check_inputs(images, labels)
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be a non-negative float, got {epsilon!r}")
    device = _device(model)
    x = images.to(device).detach().clone().requires_grad_(True)
    with _eval_mode(model), torch.enable_grad():
        loss = F.cross_entropy(model(x), labels.to(device), reduction="sum")
        (gradient,) = torch.autograd.grad(loss, x)
    return (x + epsilon * gradient.sign()).clamp(0, 1).detach()
