"""Video classification: three small networks for clips of shape (N, C, T, H, W), and two labels in one head.

- :class:`FrameAverage`: a 2D CNN applied to every frame on its own, its features averaged over the frames (late
  fusion, as in the single-frame and late-fusion baselines of Karpathy et al., 2014). It cannot see the order of the
  frames.
- :func:`c3d`: a 3D CNN whose convolutions have 3x3x3 kernels over time, rows and columns, the choice of C3D
  (Tran et al., 2015).
- :func:`r2plus1d`: the same network with every 3x3x3 convolution factorised into a 1x3x3 spatial and a 3x1x1
  temporal one, with the intermediate width of :func:`intermediate_channels` that keeps the parameter count of the
  3D convolution (R(2+1)D, Tran et al., 2018).

All three end with a global average pool and one linear layer. The convolutions pad circularly by default: the
clips of :func:`cnnlib.data.load_moving_digits` live on a torus, where circular padding makes every layer exactly
equivariant to the digit's (wrapped) translations.

After training, :func:`recompute_batch_norm` replaces the running statistics of batch normalisation by the exact
statistics of the final weights on the training clips (the running averages lag behind weights that still change
quickly at the end of a short training).

To train one network on two labels with the book's single-label loop (:func:`cnnlib.train.fit`), the labels are
combined into one class, :func:`joint_labels`, and split again from the predicted probabilities,
:func:`split_predictions`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = [
    "FrameAverage", "c3d", "conv2plus1d", "conv3d", "intermediate_channels", "joint_labels", "r2plus1d",
    "recompute_batch_norm", "split_predictions",
]


def _check_positive(name: str, value) -> int:
    """``value`` as an int if it is a positive int (not bool), else a ValueError naming it."""
    if not isinstance(value, int | np.integer) or isinstance(value, bool | np.bool_) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _check_clips(x: torch.Tensor) -> None:
    """Raise ValueError unless ``x`` has the 5 dimensions (N, C, T, H, W) of a batch of clips."""
    if x.dim() != 5:
        raise ValueError(f"expected clips of shape (N, C, T, H, W), got shape {tuple(x.shape)}")


def intermediate_channels(in_channels: int, out_channels: int, temporal: int = 3, spatial: int = 3) -> int:
    """Width M of a (2+1)D block with about the parameters of the t x d x d convolution it replaces.

    A 3D convolution from N_in to N_out channels with a t x d x d kernel has ``t d^2 N_in N_out`` weights; its
    factorised form, a 1 x d x d convolution to M channels then a t x 1 x 1 one to N_out, has
    ``d^2 N_in M + t M N_out``. Tran et al. (2018) choose the largest M for which the second is not larger:

        M = floor(t d^2 N_in N_out / (d^2 N_in + t N_out)).

    Args:
        in_channels: N_in, a positive int.
        out_channels: N_out, a positive int.
        temporal: t, the temporal kernel size, a positive int.
        spatial: d, the spatial kernel size, a positive int.

    Returns:
        M, an int (at least 1).

    Raises:
        ValueError: for an argument that is not a positive int.
    """
    n_in, n_out = _check_positive("in_channels", in_channels), _check_positive("out_channels", out_channels)
    t, d = _check_positive("temporal", temporal), _check_positive("spatial", spatial)
    return max(1, (t * d * d * n_in * n_out) // (d * d * n_in + t * n_out))


def conv3d(in_channels: int, out_channels: int, padding_mode: str = "circular") -> nn.Sequential:
    """A 3x3x3 convolution, batch normalisation and ReLU: the building block of C3D (with normalisation added).

    Shapes: (N, in_channels, T, H, W) -> (N, out_channels, T, H, W) (padding 1 in every dimension). The convolution
    has no bias (the normalisation's shift plays its part): ``27 * in_channels * out_channels`` weights.
    """
    return nn.Sequential(
        nn.Conv3d(_check_positive("in_channels", in_channels), _check_positive("out_channels", out_channels), 3,
                  padding=1, bias=False, padding_mode=padding_mode),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
    )


def conv2plus1d(in_channels: int, out_channels: int, padding_mode: str = "circular") -> nn.Sequential:
    """A (2+1)D block: a 1x3x3 spatial then a 3x1x1 temporal convolution, each with batch normalisation and ReLU.

    Shapes: (N, in_channels, T, H, W) -> (N, M, T, H, W) -> (N, out_channels, T, H, W), with
    ``M = intermediate_channels(in_channels, out_channels)``, so that the two convolutions have
    ``9 * in_channels * M + 3 * M * out_channels <= 27 * in_channels * out_channels`` weights, about those of
    :func:`conv3d`. The extra ReLU between them is one more nonlinearity than the 3D block has.
    """
    middle = intermediate_channels(in_channels, out_channels)
    return nn.Sequential(
        nn.Conv3d(in_channels, middle, (1, 3, 3), padding=(0, 1, 1), bias=False, padding_mode=padding_mode),
        nn.BatchNorm3d(middle),
        nn.ReLU(inplace=True),
        nn.Conv3d(middle, out_channels, (3, 1, 1), padding=(1, 0, 0), bias=False, padding_mode=padding_mode),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
    )


def _conv2d(in_channels: int, out_channels: int, padding_mode: str) -> nn.Sequential:
    """A 3x3 convolution (no bias), batch normalisation and ReLU: (N, C_in, H, W) -> (N, C_out, H, W)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False, padding_mode=padding_mode),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class FrameAverage(nn.Module):
    """A per-frame 2D CNN whose features are averaged over the frames, then classified (late fusion).

    Every frame goes through the same 2D network, three 3x3 convolutions (widths ``width``, ``2 width``,
    ``2 width``) with 2x2 max pooling after the first two and a global average pool, giving a feature vector f_t;
    the clip's logits are ``W mean_t(f_t) + b``. Averaging makes the output the same for the frames in any order.

    Shapes: (N, in_channels, T, H, W) -> (N, num_classes).
    """

    def __init__(self, num_classes: int, width: int = 8, in_channels: int = 1, padding_mode: str = "circular"):
        super().__init__()
        width = _check_positive("width", width)
        self.frame_features = nn.Sequential(
            _conv2d(_check_positive("in_channels", in_channels), width, padding_mode),
            nn.MaxPool2d(2),
            _conv2d(width, 2 * width, padding_mode),
            nn.MaxPool2d(2),
            _conv2d(2 * width, 2 * width, padding_mode),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(2 * width, _check_positive("num_classes", num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_clips(x)
        n, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(n * t, c, h, w)  # every frame an image of its own
        features = self.frame_features(frames).reshape(n, t, -1)
        return self.classifier(features.mean(dim=1))


class _Clips(nn.Sequential):
    """nn.Sequential that checks its input is a batch of clips (N, C, T, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_clips(x)
        return super().forward(x)


def _video_cnn(block, num_classes: int, width: int, in_channels: int, padding_mode: str) -> nn.Sequential:
    """Three blocks (widths width, 2 width, 2 width), 1x2x2 max pooling after the first two, pool, linear."""
    width = _check_positive("width", width)
    return _Clips(
        block(_check_positive("in_channels", in_channels), width, padding_mode),
        nn.MaxPool3d((1, 2, 2)),
        block(width, 2 * width, padding_mode),
        nn.MaxPool3d((1, 2, 2)),
        block(2 * width, 2 * width, padding_mode),
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Linear(2 * width, _check_positive("num_classes", num_classes)),
    )


def c3d(num_classes: int, width: int = 8, in_channels: int = 1, padding_mode: str = "circular") -> nn.Sequential:
    """A small 3D CNN in the manner of C3D: 3x3x3 convolutions throughout (Tran et al., 2015).

    Three :func:`conv3d` blocks (widths ``width``, ``2 width``, ``2 width``), 1x2x2 max pooling after the first two
    (space is halved, time is kept, as in C3D's first pooling layer), a global average pool over time and space and
    a linear classifier. Every 3x3x3 kernel sees three consecutive frames, so the network can compare them.

    Shapes: (N, in_channels, T, H, W) -> (N, num_classes).
    """
    return _video_cnn(conv3d, num_classes, width, in_channels, padding_mode)


def r2plus1d(num_classes: int, width: int = 8, in_channels: int = 1,
             padding_mode: str = "circular") -> nn.Sequential:
    """:func:`c3d` with every 3x3x3 block replaced by a :func:`conv2plus1d` block (R(2+1)D, Tran et al., 2018).

    Shapes: (N, in_channels, T, H, W) -> (N, num_classes). The convolution weights are at most those of
    :func:`c3d` with the same arguments (see :func:`intermediate_channels`).
    """
    return _video_cnn(conv2plus1d, num_classes, width, in_channels, padding_mode)


def joint_labels(digits, motions, num_motions: int = 2) -> np.ndarray:
    """One class per pair of labels: ``joint = digit * num_motions + motion``.

    Args:
        digits: int labels of shape (N,), 0 <= digit.
        motions: int labels of shape (N,), 0 <= motion < num_motions.
        num_motions: the number of motion classes, a positive int.

    Returns:
        int64 array of shape (N,).

    Raises:
        ValueError: for labels of different shapes, not 1-D integers, or out of range.
    """
    num_motions = _check_positive("num_motions", num_motions)
    digits, motions = np.asarray(digits), np.asarray(motions)
    if digits.shape != motions.shape or digits.ndim != 1:
        raise ValueError(f"expected two label arrays of the same shape (N,), got {digits.shape} and {motions.shape}")
    if not (np.issubdtype(digits.dtype, np.integer) and np.issubdtype(motions.dtype, np.integer)):
        raise ValueError(f"expected integer labels, got dtypes {digits.dtype} and {motions.dtype}")
    if digits.size and (digits.min() < 0 or motions.min() < 0 or motions.max() >= num_motions):
        raise ValueError(f"expected digits >= 0 and motions in [0, {num_motions}), got digits from {digits.min()} "
                         f"and motions from {motions.min()} to {motions.max()}")
    return (digits.astype(np.int64) * num_motions + motions).astype(np.int64)


def split_predictions(logits, num_motions: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Predict each label from joint logits by summing the softmax probabilities over the other label.

    With p(k, m) the softmax of the logits over the joint classes ``k * num_motions + m`` (:func:`joint_labels`),
    the predicted digit is ``argmax_k sum_m p(k, m)`` and the predicted motion ``argmax_m sum_k p(k, m)``.

    Args:
        logits: array or tensor of shape (N, K * num_motions).
        num_motions: the number of motion classes, a positive int.

    Returns:
        ``(digits, motions)``: int64 arrays of shape (N,).

    Raises:
        ValueError: for logits that are not 2-D with a multiple of ``num_motions`` columns.
    """
    num_motions = _check_positive("num_motions", num_motions)
    logits = torch.as_tensor(logits).detach().float().cpu()
    if logits.dim() != 2 or logits.shape[1] % num_motions:
        raise ValueError(f"expected logits of shape (N, K * {num_motions}), got shape {tuple(logits.shape)}")
    probabilities = torch.softmax(logits, dim=1).reshape(len(logits), -1, num_motions)
    digits = probabilities.sum(dim=2).argmax(dim=1)
    motions = probabilities.sum(dim=1).argmax(dim=1)
    return digits.numpy().astype(np.int64), motions.numpy().astype(np.int64)


def recompute_batch_norm(model: nn.Module, clips, batch_size: int = 250) -> nn.Module:
    """Set every batch normalisation's running mean and variance to their values over ``clips`` for the current weights.

    During training, batch normalisation keeps exponential moving averages of the batch statistics (momentum 0.1),
    which evaluation mode then uses. After a short training with a large learning rate they lag behind the final
    weights. This pass recomputes them exactly: with momentum None PyTorch keeps the cumulative average over the
    batches seen, mean_c = (1 / B) sum_b mean_c(batch b), and likewise the (unbiased) variance. No weight changes and
    no gradient is computed. The model ends in evaluation mode.

    Args:
        model: a network with ``BatchNorm`` layers (others are left alone), on any device.
        clips: array or tensor of inputs of shape (N, ...), for example the training clips (N, C, T, H, W).
        batch_size: inputs per forward pass, a positive int.

    Returns:
        The model, in evaluation mode, its normalisation layers' momentum restored.

    Raises:
        ValueError: for an empty input or a batch size that is not a positive int.
    """
    batch_size = _check_positive("batch_size", batch_size)
    clips = torch.as_tensor(np.asarray(clips, dtype=np.float32) if not isinstance(clips, torch.Tensor) else clips)
    if len(clips) == 0:
        raise ValueError(f"expected at least one input, got shape {tuple(clips.shape)}")
    layers = [layer for layer in model.modules() if isinstance(layer, nn.modules.batchnorm._BatchNorm)]
    momenta = [layer.momentum for layer in layers]
    device = next(model.parameters()).device
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for start in range(0, len(clips), batch_size):
            model(clips[start : start + batch_size].to(device))
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
    return model.eval()
