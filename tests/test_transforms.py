"""cnnlib.transforms: shifts and rotations move pixels where they should, and the random ones are reproducible."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from cnnlib import transforms


def dot_image(height: int, width: int, row: int, col: int) -> torch.Tensor:
    image = torch.zeros(1, 1, height, width)
    image[0, 0, row, col] = 1.0
    return image


def blob(height: int, width: int, row: float, col: float, sigma: float = 1.2) -> torch.Tensor:
    rows = torch.arange(height, dtype=torch.float64)[:, None]
    cols = torch.arange(width, dtype=torch.float64)[None, :]
    return torch.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2 * sigma**2))[None, None]


def centroid(image: torch.Tensor) -> tuple[float, float]:
    weights = image[0, 0]
    rows = torch.arange(weights.shape[0], dtype=weights.dtype)[:, None]
    cols = torch.arange(weights.shape[1], dtype=weights.dtype)[None, :]
    total = weights.sum()
    return float((weights * rows).sum() / total), float((weights * cols).sum() / total)


def pad_and_crop(images: np.ndarray, down: int, right: int) -> np.ndarray:
    """The reference: pad with zeros, then cut the original size out at an offset."""
    height, width = images.shape[-2:]
    pad = max(abs(down), abs(right), 1)
    padded = np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return padded[..., pad - down : pad - down + height, pad - right : pad - right + width]


def test_shift_moves_a_pixel_where_expected():
    image = dot_image(10, 12, row=5, col=7)
    moved = transforms.shift(image, torch.tensor([[2, -3]]))
    assert moved[0, 0, 7, 4] == 1.0
    assert moved.sum() == 1.0


@pytest.mark.parametrize("down, right", [(0, 0), (1, 2), (-3, 1), (4, -4), (12, 0), (0, -30)])
def test_shift_matches_pad_and_crop(down, right):
    images = torch.rand(3, 2, 9, 11)
    shifts = torch.tensor([[down, right]] * 3)
    expected = pad_and_crop(images.numpy(), down, right)
    assert np.array_equal(transforms.shift(images, shifts).numpy(), expected)


def test_shift_uses_each_images_own_shift():
    images = torch.rand(4, 1, 8, 8)
    shifts = torch.tensor([[0, 0], [1, 0], [0, -2], [-3, 3]])
    moved = transforms.shift(images, shifts)
    for index, (down, right) in enumerate(shifts.tolist()):
        assert torch.equal(moved[index : index + 1], transforms.shift(images[index : index + 1], [[down, right]]))
    assert torch.equal(moved[0], images[0])


def test_rotation_by_zero_is_the_identity():
    images = torch.rand(5, 3, 16, 13)
    assert torch.allclose(transforms.rotate(images, 0.0), images, atol=1e-6)


@pytest.mark.parametrize("degrees, quarter_turns", [(90, 1), (180, 2), (270, 3), (-90, 3), (450, 1)])
def test_quarter_turns_match_rot90_on_square_images(degrees, quarter_turns):
    images = torch.rand(4, 2, 15, 15)
    expected = torch.rot90(images, quarter_turns, dims=(-2, -1))
    assert torch.allclose(transforms.rotate(images, degrees), expected, atol=1e-5)


def test_half_turn_of_a_non_square_image_flips_both_axes():
    images = torch.rand(2, 1, 6, 10)
    assert torch.allclose(transforms.rotate(images, 180), torch.flip(images, dims=(-2, -1)), atol=1e-5)


@pytest.mark.parametrize("degrees", [30.0, -45.0, 72.0])
@pytest.mark.parametrize("height, width", [(31, 31), (25, 41)])
def test_rotation_moves_a_blob_counterclockwise_about_the_centre(degrees, height, width):
    centre_row, centre_col = (height - 1) / 2, (width - 1) / 2
    offset_right = 7.0
    image = blob(height, width, centre_row, centre_col + offset_right)
    rotated = transforms.rotate(image, degrees)
    angle = np.deg2rad(degrees)
    # Counterclockwise as displayed: a point to the right of the centre moves up (to smaller rows).
    expected = (centre_row - offset_right * np.sin(angle), centre_col + offset_right * np.cos(angle))
    assert centroid(rotated) == pytest.approx(expected, abs=0.05)


def test_rotation_accepts_one_angle_per_image():
    images = torch.rand(3, 1, 9, 9)
    rotated = transforms.rotate(images, torch.tensor([0.0, 90.0, 180.0]))
    assert torch.allclose(rotated[1], torch.rot90(images[1], 1, dims=(-2, -1)), atol=1e-5)
    assert torch.allclose(rotated[2], torch.rot90(images[2], 2, dims=(-2, -1)), atol=1e-5)


def test_random_transforms_are_reproducible_with_a_generator():
    images = torch.rand(16, 1, 12, 12)
    shift, rotation = partial(transforms.random_shift, max_shift=3), partial(transforms.random_rotation, max_degrees=20)
    for transform in (shift, rotation):
        first = transform(images, generator=torch.Generator().manual_seed(5))
        second = transform(images, generator=torch.Generator().manual_seed(5))
        other = transform(images, generator=torch.Generator().manual_seed(6))
        assert torch.equal(first, second)
        assert not torch.equal(first, other)


def test_random_shift_draws_every_shift_in_range_and_no_other():
    max_shift = 2
    images = dot_image(11, 11, row=5, col=5).repeat(400, 1, 1, 1)
    moved = transforms.random_shift(images, max_shift, generator=torch.Generator().manual_seed(0))
    positions = moved[:, 0].flatten(1).argmax(dim=1)
    displacements = {(int(p) // 11 - 5, int(p) % 11 - 5) for p in positions}
    expected = {(down, right) for down in range(-2, 3) for right in range(-2, 3)}
    assert displacements == expected
    assert torch.all(moved.flatten(1).sum(dim=1) == 1.0)  # whole-pixel moves: the dot is never split


def test_random_rotation_stays_within_its_range():
    height = width = 41
    images = blob(height, width, 20.0, 30.0).repeat(200, 1, 1, 1).float()
    rotated = transforms.random_rotation(images, max_degrees=15, generator=torch.Generator().manual_seed(1))
    angles = []
    for image in rotated:
        row, col = centroid(image[None].double())
        angles.append(np.rad2deg(np.arctan2(20.0 - row, col - 20.0)))
    assert max(np.abs(angles)) <= 15.1
    assert max(angles) > 10 and min(angles) < -10  # the range is used, in both directions


def test_zero_ranges_change_nothing():
    images = torch.rand(4, 1, 10, 10)
    assert torch.equal(transforms.random_shift(images, 0), images)
    assert torch.allclose(transforms.random_rotation(images, 0.0), images, atol=1e-6)


def test_compose_applies_in_order_with_one_generator():
    images = torch.rand(8, 1, 14, 14)
    augment = transforms.compose(
        partial(transforms.random_shift, max_shift=2), partial(transforms.random_rotation, max_degrees=10)
    )
    generator = torch.Generator().manual_seed(3)
    by_hand = transforms.random_rotation(transforms.random_shift(images, 2, generator), 10, generator)
    assert torch.equal(augment(images, generator=torch.Generator().manual_seed(3)), by_hand)


def test_bad_input_raises():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got \(8, 8\)"):
        transforms.shift(torch.zeros(8, 8), torch.zeros(8, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"shifts of shape \(2, 2\), got torch.int64 of shape \(3, 2\)"):
        transforms.shift(torch.zeros(2, 1, 4, 4), torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="integer shifts"):
        transforms.shift(torch.zeros(2, 1, 4, 4), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="floating-point"):
        transforms.rotate(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), 10)
    with pytest.raises(ValueError, match="one angle or 2 angles"):
        transforms.rotate(torch.zeros(2, 1, 4, 4), torch.zeros(3))
    with pytest.raises(ValueError, match="non-negative int"):
        transforms.random_shift(torch.zeros(2, 1, 4, 4), -1)
    with pytest.raises(ValueError, match="non-negative int"):
        transforms.random_shift(torch.zeros(2, 1, 4, 4), 1.5)
    with pytest.raises(ValueError, match="max_degrees >= 0"):
        transforms.random_rotation(torch.zeros(2, 1, 4, 4), -5)
    with pytest.raises(ValueError, match="callable"):
        transforms.compose(transforms.random_shift, 3)
