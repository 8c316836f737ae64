"""cnnlib.video: shapes, parameter counts against hand formulas, order (in)sensitivity, and the joint labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnlib import profile, video


def _conv_weights(module: nn.Module) -> int:
    return sum(layer.weight.numel() for layer in module.modules() if isinstance(layer, nn.Conv3d | nn.Conv2d))


@pytest.mark.parametrize("build", [video.FrameAverage, video.c3d, video.r2plus1d])
@pytest.mark.parametrize("shape", [(2, 1, 6, 20, 20), (3, 1, 4, 16, 12), (1, 1, 8, 32, 32)])
def test_models_map_clips_to_logits(build, shape):
    model = build(20).eval()
    with torch.no_grad():
        assert model(torch.rand(shape)).shape == (shape[0], 20)


@pytest.mark.parametrize("build", [video.FrameAverage, video.c3d, video.r2plus1d])
def test_models_refuse_images(build):
    with pytest.raises(ValueError, match=r"\(N, C, T, H, W\)"):
        build(10)(torch.rand(2, 1, 20, 20))


@pytest.mark.parametrize(("n_in", "n_out"), [(1, 8), (8, 16), (16, 16), (64, 64), (3, 45), (256, 512)])
def test_intermediate_channels_matches_the_formula_and_the_parameters(n_in, n_out):
    m = video.intermediate_channels(n_in, n_out)
    assert m == (27 * n_in * n_out) // (9 * n_in + 3 * n_out)
    factorised = 9 * n_in * m + 3 * m * n_out
    assert factorised <= 27 * n_in * n_out < factorised + 9 * n_in + 3 * n_out  # the largest such M
    # The blocks built with it have exactly those weights.
    assert _conv_weights(video.conv2plus1d(n_in, n_out)) == factorised
    assert _conv_weights(video.conv3d(n_in, n_out)) == 27 * n_in * n_out


def test_intermediate_channels_of_the_paper_example():
    # 64 -> 64 channels, 3x3x3: M = floor(27 * 64 * 64 / (9 * 64 + 3 * 64)) = floor(144) = 144.
    assert video.intermediate_channels(64, 64) == 144


def test_counts_of_the_small_networks():
    width = 8
    blocks3d = 27 * (1 * width + width * 2 * width + 2 * width * 2 * width)
    bn = 2 * (width + 2 * width + 2 * width)
    head = 2 * width * 20 + 20
    assert profile.count_params(video.c3d(20, width)) == blocks3d + bn + head
    r21 = video.r2plus1d(20, width)
    assert _conv_weights(r21) <= blocks3d
    # FLOPs of the 3D network: 2 * weights * output positions of each convolution, plus the linear layer.
    t, s = 6, 20
    expected = 2 * 27 * (width * t * s * s + width * 2 * width * t * (s // 2) ** 2
                         + 2 * width * 2 * width * t * (s // 4) ** 2) + 2 * 2 * width * 20
    assert profile.count_flops(video.c3d(20, width), (1, 1, t, s, s)) == expected


def test_frame_average_ignores_the_order_of_frames_and_c3d_does_not():
    torch.manual_seed(0)
    clips = torch.rand(4, 1, 6, 16, 16)
    reversed_clips = clips.flip(2)
    average, network3d = video.FrameAverage(4).eval(), video.c3d(4).eval()
    with torch.no_grad():
        torch.testing.assert_close(average(reversed_clips), average(clips), rtol=1e-5, atol=1e-6)
        assert not torch.allclose(network3d(reversed_clips), network3d(clips), atol=1e-4)


def test_circular_padding_makes_c3d_equivariant_to_wrapped_shifts():
    # On a torus a shift by an even number of pixels (the pooling's stride squared) leaves the pooled logits unchanged.
    torch.manual_seed(0)
    clips = torch.rand(2, 1, 4, 16, 16)
    model = video.c3d(5).eval()
    with torch.no_grad():
        torch.testing.assert_close(model(clips.roll((4, -8), dims=(3, 4))), model(clips), rtol=1e-4, atol=1e-5)


def test_joint_labels_round_trip():
    digits = np.array([0, 3, 9, 9, 5])
    motions = np.array([1, 0, 1, 0, 1])
    joint = video.joint_labels(digits, motions)
    assert joint.tolist() == [1, 6, 19, 18, 11] and joint.dtype == np.int64
    logits = np.full((5, 20), -10.0)
    logits[np.arange(5), joint] = 10.0
    predicted_digits, predicted_motions = video.split_predictions(logits)
    assert predicted_digits.tolist() == digits.tolist() and predicted_motions.tolist() == motions.tolist()


def test_split_predictions_sums_probabilities_over_the_other_label():
    # Joint probabilities: (digit 0, left) 0.4, (digit 1, right) 0.35, (digit 1, left) 0.25. The most likely pair is
    # (0, left), but digit 1 has 0.6 in all and "left" 0.65.
    probabilities = torch.tensor([[0.4, 0.0, 0.25, 0.35]]) + 1e-12
    digits, motions = video.split_predictions(probabilities.log())
    assert digits.tolist() == [1] and motions.tolist() == [0]


@pytest.mark.parametrize(("digits", "motions"), [([0, 1], [0]), ([0, 1], [0, 2]), ([0.5, 1], [0, 1]), ([-1], [0])])
def test_joint_labels_refuses_bad_labels(digits, motions):
    with pytest.raises(ValueError):
        video.joint_labels(np.array(digits), np.array(motions))


def test_split_predictions_refuses_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, K \* 2\)"):
        video.split_predictions(np.zeros((3, 5)))


def test_recompute_batch_norm_sets_the_statistics_of_the_data():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv3d(1, 3, 1), nn.BatchNorm3d(3))
    clips = torch.randn(40, 1, 2, 4, 4) * 3 + 1
    weights_before = [p.clone() for p in model.parameters()]
    video.recompute_batch_norm(model, clips, batch_size=10)  # four equal batches: the average of their means
    with torch.no_grad():
        features = model[0](clips)
    expected_mean = features.mean(dim=(0, 2, 3, 4))
    torch.testing.assert_close(model[1].running_mean, expected_mean, rtol=1e-5, atol=1e-5)
    batch_variances = torch.stack([features[i : i + 10].var(dim=(0, 2, 3, 4)) for i in range(0, 40, 10)])
    torch.testing.assert_close(model[1].running_var, batch_variances.mean(dim=0), rtol=1e-5, atol=1e-5)
    assert not model.training and model[1].momentum == 0.1 and model[1].num_batches_tracked == 4
    assert all(torch.equal(a, b) for a, b in zip(weights_before, model.parameters(), strict=True))


def test_recompute_batch_norm_refuses_bad_arguments():
    model = video.c3d(4)
    with pytest.raises(ValueError, match="at least one"):
        video.recompute_batch_norm(model, np.zeros((0, 1, 4, 8, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="batch_size"):
        video.recompute_batch_norm(model, np.zeros((2, 1, 4, 8, 8), dtype=np.float32), batch_size=0)
