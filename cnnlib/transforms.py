"""Data augmentation: random shifts and rotations of a batch of images, in PyTorch, without torchvision.

Every function takes and returns a float tensor of images of shape (N, C, H, W) and treats each of the N images on
its own. The random versions draw their shifts and angles from a ``torch.Generator``, so that the same generator
state gives the same augmented batch; :func:`cnnlib.train.fit` passes its own seeded generator to the
``augment`` callable it is given. Pixels that a transform brings in from outside the image are zero (background
for MNIST digits).

Conventions: rows grow downwards and columns to the right, as an image is displayed; a positive angle rotates the
content counterclockwise as displayed, like ``torch.rot90`` with ``dims=(-2, -1)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F


def _check_images(images) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
        raise ValueError(f"expected a tensor of images of shape (N, C, H, W), got {shape}")


def shift(images: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Move every image by a whole number of pixels, filling the uncovered border with zeros.

    ``out[n, c, i, j] = images[n, c, i - shifts[n, 0], j - shifts[n, 1]]`` where that pixel exists, else 0.

    Args:
        images: tensor of shape (N, C, H, W).
        shifts: integer tensor of shape (N, 2): rows down and columns right for each image (negative: up, left).

    Returns:
        Tensor of shape (N, C, H, W), same dtype and device as ``images``.

    Raises:
        ValueError: if ``images`` is not 4-D or ``shifts`` is not an integer tensor of shape (N, 2).
    """
    _check_images(images)
    num_images, channels, height, width = images.shape
    shifts = torch.as_tensor(shifts)
    if shifts.shape != (num_images, 2) or shifts.is_floating_point():
        raise ValueError(
            f"expected integer shifts of shape ({num_images}, 2), got {shifts.dtype} of shape {tuple(shifts.shape)}"
        )
    shifts = shifts.to(images.device)
    source_rows = torch.arange(height, device=images.device) - shifts[:, :1]  # (N, H): row each output row reads
    source_cols = torch.arange(width, device=images.device) - shifts[:, 1:]  # (N, W)
    inside = ((source_rows >= 0) & (source_rows < height))[:, :, None] & (
        (source_cols >= 0) & (source_cols < width)
    )[:, None, :]  # (N, H, W)
    batch_index = torch.arange(num_images, device=images.device)[:, None, None, None]
    channel_index = torch.arange(channels, device=images.device)[None, :, None, None]
    gathered = images[
        batch_index,
        channel_index,
        source_rows.clamp(0, height - 1)[:, None, :, None],
        source_cols.clamp(0, width - 1)[:, None, None, :],
    ]
    return gathered * inside[:, None].to(images.dtype)


def rotate(images: torch.Tensor, degrees) -> torch.Tensor:
    """Rotate every image about its centre, with bilinear interpolation and zeros outside the image.

    An output pixel at position ``p`` (measured from the image centre, in pixels) takes the value of the input at
    ``R(-angle) p``, interpolated between the four nearest pixels; ``torch.nn.functional.affine_grid`` and
    ``grid_sample`` do the work. Rotations by multiples of 90 degrees move pixel centres onto pixel centres, so they
    agree with ``torch.rot90`` up to rounding (on square images, for 90 and 270).

    Args:
        images: float tensor of shape (N, C, H, W).
        degrees: one angle for all images, or a tensor of shape (N,) with one angle per image; positive angles
            rotate counterclockwise as displayed.

    Returns:
        Tensor of shape (N, C, H, W).

    Raises:
        ValueError: if ``images`` is not a 4-D float tensor or ``degrees`` has the wrong shape.
    """
    _check_images(images)
    if not images.is_floating_point():
        raise ValueError(f"expected floating-point images for interpolation, got {images.dtype}")
    num_images, _, height, width = images.shape
    angles = torch.as_tensor(degrees, dtype=images.dtype, device=images.device) * (math.pi / 180)
    if angles.ndim == 0:
        angles = angles.expand(num_images)
    if angles.shape != (num_images,):
        raise ValueError(f"expected one angle or {num_images} angles, got shape {tuple(angles.shape)}")
    cos, sin = torch.cos(angles), torch.sin(angles)
    zero = torch.zeros_like(angles)
    # affine_grid works in coordinates scaled to [-1, 1] along each axis; the ratios keep the rotation rigid in
    # pixels when the image is not square.
    theta = torch.stack(
        [torch.stack([cos, -sin * height / width, zero], dim=1), torch.stack([sin * width / height, cos, zero], dim=1)],
        dim=1,
    )  # (N, 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by its own random whole number of pixels, up to ``max_shift`` along each axis.

    The row and column shifts are drawn independently and uniformly from ``-max_shift, ..., max_shift``.

    Args:
        images: tensor of shape (N, C, H, W).
        max_shift: the largest shift in pixels, a non-negative int.
        generator: the source of randomness (default: PyTorch's global generator).

    Returns:
        Tensor of shape (N, C, H, W); see :func:`shift`.

    Raises:
        ValueError: for a negative or non-integer ``max_shift``, or images that are not (N, C, H, W).
    """
    _check_images(images)
    if not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"expected max_shift to be a non-negative int, got {max_shift!r}")
    shifts = torch.randint(-max_shift, max_shift + 1, (len(images), 2), generator=generator)
    return shift(images, shifts)


def random_rotation(images: torch.Tensor, max_degrees: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Rotate each image by its own random angle, drawn uniformly from [-max_degrees, max_degrees].

    Args:
        images: float tensor of shape (N, C, H, W).
        max_degrees: the largest angle in degrees, non-negative.
        generator: the source of randomness (default: PyTorch's global generator).

    Returns:
        Tensor of shape (N, C, H, W); see :func:`rotate`.

    Raises:
        ValueError: for a negative ``max_degrees``, or images that are not a 4-D float tensor.
    """
    _check_images(images)
    if not max_degrees >= 0:
        raise ValueError(f"expected max_degrees >= 0, got {max_degrees!r}")
    angles = (2 * torch.rand(len(images), generator=generator, dtype=torch.float64) - 1) * max_degrees
    return rotate(images, angles.to(images.dtype))


def compose(*transforms: Callable) -> Callable:
    """Chain random transforms into one ``augment(images, generator)`` callable, applied left to right.

    Each transform is called as ``transform(images, generator=generator)``, so transforms with settings are written
    with ``functools.partial``, for example ``compose(partial(random_shift, max_shift=2),
    partial(random_rotation, max_degrees=10))``.

    Args:
        *transforms: callables taking a batch (N, C, H, W) and a ``generator`` keyword, returning a batch.

    Returns:
        A callable ``augment(images, generator=None)`` returning a batch of the same shape.

    Raises:
        ValueError: if a transform is not callable.
    """
    for transform in transforms:
        if not callable(transform):
            raise ValueError(f"expected callable transforms, got {transform!r}")

    def augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for transform in transforms:
            images = transform(images, generator=generator)
        return images

    return augment
