"""The networks of the architecture chapters, written from their papers as PyTorch modules.

One class per idea, so that each can be read on its own: :class:`LeNet5`, :class:`AlexNet`, :class:`VGG` (built
from a list of convolutions per stage), :class:`Inception` and :class:`GoogLeNet`, :class:`BasicBlock` and
:class:`Bottleneck` with :class:`ResNet`, :class:`SEBlock` (which :class:`ResNet` inserts into its blocks to make an
SE-ResNet), and :class:`TextCNN`; :class:`PNet`, :class:`RNet` and :class:`ONet` are the three pretrained networks
of the MTCNN face detector (their weights load from facenet-pytorch's files, see :mod:`cnnlib.faces`). The
functions ``lenet5``, ``alexnet``, ``vgg11`` ... ``textcnn`` build them.

With its defaults each function builds the published configuration: ImageNet networks take (N, 3, 224, 224) images
and return (N, 1000) logits; LeNet-5 takes (N, 1, 32, 32) and returns (N, 10). Their parameter counts equal those of
the reference implementations named in each docstring (the book's tests assert the exact integers). The same code
builds the small networks that the chapters train on a CPU, through keyword arguments:

- ``num_classes`` and ``in_channels``: the classes to predict and the channels of the input (1 for MNIST digits);
- ``width``: the channels of the first convolution; every later layer scales in proportion (64 is published);
- ``input_size``: the side of the (square) input, where the classifier's size depends on it (LeNet-5, AlexNet, VGG);
- ``small_input``: a stride-1 3x3 first convolution and no early downsampling, for 28x28 and 32x32 images
  (AlexNet, GoogLeNet, ResNet);
- ``stage_depths`` (the :class:`VGG` and :class:`ResNet` classes): how many convolutions or blocks each stage has.

For example ``resnet18(num_classes=10, in_channels=1, width=16, small_input=True)`` is a ResNet-18 for MNIST digits
with 16 times fewer parameters than the published one. Weights are initialised as the reference implementations do
(Kaiming initialisation for convolutions followed by ReLU, ...), from PyTorch's global generator, so that
``torch.manual_seed`` makes a construction reproducible. Building under ``with torch.device("meta"):`` creates a
full-size network without allocating its weights, which is enough to count its parameters and FLOPs
(:mod:`cnnlib.profile`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from cnnlib.functional import conv_output_size

__all__ = [
    "VGG",
    "AlexNet",
    "BasicBlock",
    "Bottleneck",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "Inception",
    "InceptionAux",
    "LeNet5",
    "ONet",
    "PNet",
    "RNet",
    "ResNet",
    "SEBlock",
    "TextCNN",
    "UNet",
    "alexnet",
    "googlenet",
    "lenet5",
    "resnet18",
    "resnet34",
    "resnet50",
    "se_resnet50",
    "textcnn",
    "unet",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg19",
]


# ----------------------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------------------


def _check_positive(**values: int) -> None:
    """Raise ValueError naming the first argument that is not a positive int."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"expected {name} to be a positive int, got {value!r}")


def _ceil_half(size: int) -> int:
    """Side after a 2x2, stride-2 max pool with ``ceil_mode=True``: ceil(size / 2)."""
    return -(-size // 2)


def _kaiming_init(module: nn.Module) -> None:
    """He et al. (2015) initialisation for every convolution followed by a ReLU, as torchvision's VGG and ResNet do.

    Convolution weights are drawn from N(0, 2 / fan_out), with fan_out = C_out * kh * kw; biases, batch-norm shifts
    are set to 0 and batch-norm scales to 1.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)


# ----------------------------------------------------------------------------------------------------------------------
# LeNet-5
# ----------------------------------------------------------------------------------------------------------------------


class LeNet5(nn.Module):
    """LeNet-5 of LeCun, Bottou, Bengio and Haffner (1998), in the fully connected modern form.

    Layers, named as in the paper, for a 32x32 input::

        C1  conv 5x5, 6 maps            -> (N, 6, 28, 28)     S2  pool 2x2 -> (N, 6, 14, 14)
        C3  conv 5x5, 16 maps           -> (N, 16, 10, 10)    S4  pool 2x2 -> (N, 16, 5, 5)
        C5  conv 5x5, 120 maps          -> (N, 120, 1, 1)
        F6  linear 120 -> 84, output linear 84 -> num_classes  -> (N, num_classes)

    What differs from the paper: every C3 map sees all six S2 maps (the paper's connection table links each to three,
    four or six of them, 1,516 parameters instead of 2,416), the subsampling layers S2 and S4 are plain average (or
    max) pools without the paper's trainable coefficient and bias per map, the squashing function is ``tanh`` (or
    ReLU) instead of the paper's scaled 1.7159 tanh(2a/3), and the output is a linear layer whose logits go to a
    softmax cross-entropy instead of the paper's Euclidean radial basis function units. The paper counts 60,000
    trainable parameters (C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164); this form has 61,706 with 10 classes
    (C1 156, C3 2,416, C5 48,120, F6 10,164, output 850).

    Args:
        num_classes: Number of classes (outputs).
        in_channels: Channels of the input image (1 for grey digits).
        input_size: Side of the square input. Below 32 the first convolution pads the image with zeros up to 32
            (``32 - input_size`` must be even), as the paper padded 28x28 MNIST digits to 32x32, so the network and its
            parameter count stay those of a 32x32 input. Above 32, C5's kernel grows to cover the whole S4 map.
        activation: ``"tanh"`` (the paper's choice) or ``"relu"``.
        pooling: ``"avg"`` (the paper's subsampling) or ``"max"``.

    Shape:
        Input (N, in_channels, input_size, input_size); output (N, num_classes).
    """

    def __init__(
        self,
        *,
        num_classes: int = 10,
        in_channels: int = 1,
        input_size: int = 32,
        activation: str = "tanh",
        pooling: str = "avg",
    ) -> None:
        super().__init__()
        _check_positive(num_classes=num_classes, in_channels=in_channels, input_size=input_size)
        activations = {"tanh": nn.Tanh, "relu": nn.ReLU}
        pools = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}
        if activation not in activations:
            raise ValueError(f"expected activation 'tanh' or 'relu', got {activation!r}")
        if pooling not in pools:
            raise ValueError(f"expected pooling 'avg' or 'max', got {pooling!r}")
        if input_size < 32 and (32 - input_size) % 2:
            raise ValueError(f"expected 32 - input_size to be even so the input pads to 32x32, got {input_size}")
        padding = (32 - input_size) // 2 if input_size < 32 else 0
        # Side of S4's maps: C1 and C3 trim 4 pixels (5x5, no padding), S2 and S4 halve.
        side = ((input_size + 2 * padding - 4) // 2 - 4) // 2
        Activation, Pool = activations[activation], pools[pooling]
        self.features = nn.Sequential(
            OrderedDict(
                [
                    ("c1", nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding)),
                    ("act1", Activation()),
                    ("s2", Pool(kernel_size=2, stride=2)),
                    ("c3", nn.Conv2d(6, 16, kernel_size=5)),
                    ("act3", Activation()),
                    ("s4", Pool(kernel_size=2, stride=2)),
                    ("c5", nn.Conv2d(16, 120, kernel_size=side)),
                    ("act5", Activation()),
                ]
            )
        )
        self.classifier = nn.Sequential(
            OrderedDict(
                [
                    ("flatten", nn.Flatten()),
                    ("f6", nn.Linear(120, 84)),
                    ("act6", Activation()),
                    ("output", nn.Linear(84, num_classes)),
                ]
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (N, num_classes) for images of shape (N, in_channels, input_size, input_size)."""
        return self.classifier(self.features(x))


def lenet5(**kwargs) -> LeNet5:
    """LeNet-5 (LeCun et al., 1998) with a fully connected C3 and a linear output; see :class:`LeNet5`.

    With the defaults: input (N, 1, 32, 32), 10 classes, 61,706 parameters (the paper's partially connected C3 and
    RBF output give its 60,000). ``lenet5(input_size=28)`` takes MNIST digits as they are, padding them to 32x32.
    """
    return LeNet5(**kwargs)


# ----------------------------------------------------------------------------------------------------------------------
# AlexNet
# ----------------------------------------------------------------------------------------------------------------------


class AlexNet(nn.Module):
    """AlexNet in the single-tower form of Krizhevsky (2014), "One weird trick", as torchvision builds it.

    The original of Krizhevsky, Sutskever and Hinton (2012) split its layers over two GPUs (48 + 48, 128 + 128, ...
    filters, some layers seeing only their own GPU's half) and used local response normalisation; the single-tower
    form has one stack of 64, 192, 384, 256 and 256 filters and no normalisation, 61,100,840 parameters::

        conv 11x11/4, 64  -> ReLU -> maxpool 3/2      (N, 64, 27, 27)
        conv 5x5, 192     -> ReLU -> maxpool 3/2      (N, 192, 13, 13)
        conv 3x3, 384 -> conv 3x3, 256 -> conv 3x3, 256, each with ReLU -> maxpool 3/2    (N, 256, 6, 6)
        dropout -> linear 9216 -> 4096 -> ReLU -> dropout -> linear 4096 -> 4096 -> ReLU -> linear -> num_classes

    An adaptive average pool to the side that the designed ``input_size`` reaches (6 at 224) sits before the
    classifier: at that size it changes nothing, and other sizes still reach the classifier. Weights keep PyTorch's
    default initialisation, as torchvision does.

    Args:
        num_classes: Number of classes.
        in_channels: Channels of the input image.
        width: Filters of the first convolution (64); the others are 3, 6, 4 and 4 times as many.
        input_size: Side of the square input the classifier is sized for.
        small_input: If True, the first convolution is 3x3 with stride 1 and padding 1 instead of 11x11 with
            stride 4, so that 28x28 or 32x32 images keep their resolution until the first pool.
        hidden_features: Width of the two hidden fully connected layers (4096).
        dropout: Dropout probability before each hidden fully connected layer.

    Shape:
        Input (N, in_channels, H, W), with H = W = input_size as designed; output (N, num_classes).
    """

    def __init__(
        self,
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        width: int = 64,
        input_size: int = 224,
        small_input: bool = False,
        hidden_features: int = 4096,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        _check_positive(
            num_classes=num_classes, in_channels=in_channels, width=width, input_size=input_size,
            hidden_features=hidden_features,
        )
        c1, c2, c3, c4, c5 = (width * factor for factor in (1, 3, 6, 4, 4))
        stem = dict(kernel_size=3, stride=1, padding=1) if small_input else dict(kernel_size=11, stride=4, padding=2)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, **stem),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c1, c2, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c2, c3, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        try:
            side = conv_output_size(input_size, stem["kernel_size"], stem["stride"], stem["padding"])
            for _ in range(3):  # the three 3x3, stride-2 max pools; the convolutions between them keep the size
                side = conv_output_size(side, 3, 2)
        except ValueError:
            hint = "" if small_input else "; pass small_input=True for 28x28 or 32x32 images"
            raise ValueError(f"expected an input_size of at least 63, got {input_size}{hint}") from None
        self.pool = nn.AdaptiveAvgPool2d(side)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(p=dropout),
            nn.Linear(c5 * side * side, hidden_features),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden_features, hidden_features),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_features, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (N, num_classes) for images of shape (N, in_channels, H, W)."""
        return self.classifier(self.pool(self.features(x)))


def alexnet(**kwargs) -> AlexNet:
    """AlexNet, single-tower form (Krizhevsky, 2014; torchvision's); see :class:`AlexNet`.

    Defaults: input (N, 3, 224, 224), 1000 classes, 61,100,840 parameters. For digits, for example,
    ``alexnet(num_classes=10, in_channels=1, width=16, input_size=28, small_input=True, hidden_features=256)``.
    """
    return AlexNet(**kwargs)


# ----------------------------------------------------------------------------------------------------------------------
# VGG
# ----------------------------------------------------------------------------------------------------------------------


class VGG(nn.Module):
    """A VGG network of Simonyan and Zisserman (2015): stages of 3x3 convolutions, each stage ending in a 2x2 max pool.

    Stage i has ``stage_depths[i]`` convolutions (3x3, padding 1, each followed by ReLU) of ``width * min(2**i, 8)``
    channels, so the published networks, with five stages, have 64, 128, 256, 512 and 512 channels. The paper's
    configurations A, B, D and E (VGG-11, -13, -16, -19) have stage depths (1, 1, 2, 2, 2), (2, 2, 2, 2, 2),
    (2, 2, 3, 3, 3) and (2, 2, 4, 4, 4). Three fully connected layers follow: 4096, 4096 and ``num_classes`` units,
    with ReLU and dropout after the first two. For a 224x224 input::

        features   (N, 3, 224, 224) -> (N, 512, 7, 7)        five stages, each halving the side
        classifier (N, 512 * 7 * 7) -> (N, 4096) -> (N, 4096) -> (N, num_classes)

    This is torchvision's form (and, with ``batch_norm=True``, its ``vgg*_bn``: a batch normalisation after every
    convolution, whose bias it keeps). The pools round up (``ceil_mode=True``), which changes nothing when the side
    is a multiple of 2 at every pool, as 224 and 32 are, and lets 28x28 digits reach 1x1 after five pools. An adaptive
    average pool to the side the designed ``input_size`` reaches (7 at 224) comes before the classifier, as in
    torchvision. Initialisation as torchvision's: Kaiming normal (fan_out) for convolutions, N(0, 0.01) for the fully
    connected weights, zero biases.

    Args:
        stage_depths: Convolutions in each stage, e.g. ``(1, 1, 2, 2, 2)`` for VGG-11; any number of stages.
        num_classes: Number of classes.
        in_channels: Channels of the input image.
        width: Channels of the first stage (64); stage i has ``width * min(2**i, 8)``.
        input_size: Side of the square input the classifier is sized for.
        hidden_features: Units of the two hidden fully connected layers (4096).
        dropout: Dropout probability after each hidden fully connected layer.
        batch_norm: Insert batch normalisation after every convolution (torchvision's ``vgg*_bn``).

    Shape:
        Input (N, in_channels, H, W), H = W = input_size as designed; output (N, num_classes).
    """

    def __init__(
        self,
        stage_depths: Sequence[int],
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        width: int = 64,
        input_size: int = 224,
        hidden_features: int = 4096,
        dropout: float = 0.5,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        stage_depths = tuple(stage_depths)
        if not stage_depths or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in stage_depths):
            raise ValueError(f"expected stage_depths to be a non-empty sequence of positive ints, got {stage_depths}")
        _check_positive(
            num_classes=num_classes, in_channels=in_channels, width=width, input_size=input_size,
            hidden_features=hidden_features,
        )
        layers: list[nn.Module] = []
        channels, side = in_channels, input_size
        for stage, depth in enumerate(stage_depths):
            out_channels = width * min(2**stage, 8)
            for _ in range(depth):
                layers.append(nn.Conv2d(channels, out_channels, kernel_size=3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(out_channels))
                layers.append(nn.ReLU(inplace=True))
                channels = out_channels
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True))
            side = _ceil_half(side)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(side)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * side * side, hidden_features),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden_features, hidden_features),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden_features, num_classes),
        )
        _kaiming_init(self)
        for layer in self.classifier:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, 0.0, 0.01)
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (N, num_classes) for images of shape (N, in_channels, H, W)."""
        return self.classifier(self.pool(self.features(x)))


def vgg11(**kwargs) -> VGG:
    """VGG-11, configuration A of Simonyan and Zisserman (2015): 8 convolutions, 3 fully connected layers.

    Defaults: input (N, 3, 224, 224), 1000 classes, 132,863,336 parameters (torchvision's ``vgg11``; 132,868,840 with
    ``batch_norm=True``). Keyword arguments as :class:`VGG`.
    """
    return VGG((1, 1, 2, 2, 2), **kwargs)


def vgg13(**kwargs) -> VGG:
    """VGG-13, configuration B of Simonyan and Zisserman (2015): 10 convolutions, 3 fully connected layers.

    Defaults: input (N, 3, 224, 224), 1000 classes, 133,047,848 parameters (torchvision's ``vgg13``; 133,053,736 with
    ``batch_norm=True``). Keyword arguments as :class:`VGG`.
    """
    return VGG((2, 2, 2, 2, 2), **kwargs)


def vgg16(**kwargs) -> VGG:
    """VGG-16, configuration D of Simonyan and Zisserman (2015): 13 convolutions, 3 fully connected layers.

    Defaults: input (N, 3, 224, 224), 1000 classes, 138,357,544 parameters (torchvision's ``vgg16``; 138,365,992 with
    ``batch_norm=True``). Keyword arguments as :class:`VGG`.
    """
    return VGG((2, 2, 3, 3, 3), **kwargs)


def vgg19(**kwargs) -> VGG:
    """VGG-19, configuration E of Simonyan and Zisserman (2015): 16 convolutions, 3 fully connected layers.

    Defaults: input (N, 3, 224, 224), 1000 classes, 143,667,240 parameters (torchvision's ``vgg19``; 143,678,248 with
    ``batch_norm=True``). Keyword arguments as :class:`VGG`.
    """
    return VGG((2, 2, 4, 4, 4), **kwargs)


# ----------------------------------------------------------------------------------------------------------------------
# GoogLeNet
# ----------------------------------------------------------------------------------------------------------------------


def _conv_unit(
    in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0, batch_norm: bool = True
) -> nn.Sequential:
    """Convolution, then batch normalisation (if asked), then ReLU; the convolution has a bias only without the norm."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=not batch_norm)
    ]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels, eps=0.001))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Inception(nn.Module):
    """The Inception module of Szegedy et al. (2015): four parallel branches whose outputs are concatenated.

    Branches, all keeping the spatial size::

        1x1 conv (ch1x1)
        1x1 conv (ch3x3_reduce) -> 3x3 conv (ch3x3)
        1x1 conv (ch5x5_reduce) -> 5x5 conv (ch5x5)       (kernel_size_5x5 x kernel_size_5x5)
        3x3 max pool, stride 1 -> 1x1 conv (pool_proj)

    The 1x1 "reduce" convolutions shrink the channels before the expensive 3x3 and 5x5 convolutions. Every
    convolution is followed by ReLU (and preceded by batch normalisation of its output if ``batch_norm``).

    Args:
        in_channels: Channels of the input.
        ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj: Channels of each convolution, the columns of the
            paper's Table 1.
        batch_norm: Batch normalisation after each convolution (torchvision's form) or not (the paper's).
        kernel_size_5x5: Kernel of the third branch: 5 in the paper.

    Shape:
        Input (N, in_channels, H, W); output (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3_reduce: int,
        ch3x3: int,
        ch5x5_reduce: int,
        ch5x5: int,
        pool_proj: int,
        *,
        batch_norm: bool = True,
        kernel_size_5x5: int = 5,
    ) -> None:
        super().__init__()
        if kernel_size_5x5 < 1 or kernel_size_5x5 % 2 == 0:
            raise ValueError(f"expected an odd kernel_size_5x5 (so the branch keeps the size), got {kernel_size_5x5}")
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        self.branch1 = _conv_unit(in_channels, ch1x1, 1, batch_norm=batch_norm)
        self.branch2 = nn.Sequential(
            _conv_unit(in_channels, ch3x3_reduce, 1, batch_norm=batch_norm),
            _conv_unit(ch3x3_reduce, ch3x3, 3, padding=1, batch_norm=batch_norm),
        )
        self.branch3 = nn.Sequential(
            _conv_unit(in_channels, ch5x5_reduce, 1, batch_norm=batch_norm),
            _conv_unit(ch5x5_reduce, ch5x5, kernel_size_5x5, padding=kernel_size_5x5 // 2, batch_norm=batch_norm),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
            _conv_unit(in_channels, pool_proj, 1, batch_norm=batch_norm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The four branches' outputs concatenated along channels: (N, out_channels, H, W)."""
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class InceptionAux(nn.Module):
    """An auxiliary classifier of GoogLeNet (Szegedy et al., 2015), attached to an intermediate feature map.

    Average pool to 4x4 (the paper's 5x5 pool with stride 3 on a 14x14 map), 1x1 convolution to 128 channels with
    ReLU, a fully connected layer of 1024 units with ReLU, dropout of 70 %, and a linear layer to the classes. Its
    loss, weighted by 0.3 in the paper, is added to the main loss during training only.

    Shape:
        Input (N, in_channels, H, W); output (N, num_classes).
    """

    def __init__(
        self, in_channels: int, num_classes: int, *, channels: int = 128, hidden_features: int = 1024,
        batch_norm: bool = True, dropout: float = 0.7,
    ) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.conv = _conv_unit(in_channels, channels, 1, batch_norm=batch_norm)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * 4 * 4, hidden_features),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden_features, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Auxiliary logits (N, num_classes) from a feature map (N, in_channels, H, W)."""
        return self.classifier(self.conv(self.pool(x)))


class GoogLeNetOutputs(NamedTuple):
    """What :class:`GoogLeNet` returns in training mode with auxiliary classifiers: three (N, num_classes) logits."""

    logits: torch.Tensor
    aux_logits1: torch.Tensor
    aux_logits2: torch.Tensor


# The rows of Table 1 of Szegedy et al. (2015): ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj.
_INCEPTION_TABLE = OrderedDict(
    [
        ("3a", (64, 96, 128, 16, 32, 32)),
        ("3b", (128, 128, 192, 32, 96, 64)),
        ("4a", (192, 96, 208, 16, 48, 64)),
        ("4b", (160, 112, 224, 24, 64, 64)),
        ("4c", (128, 128, 256, 24, 64, 64)),
        ("4d", (112, 144, 288, 32, 64, 64)),
        ("4e", (256, 160, 320, 32, 128, 128)),
        ("5a", (256, 160, 320, 32, 128, 128)),
        ("5b", (384, 192, 384, 48, 128, 128)),
    ]
)


class GoogLeNet(nn.Module):
    """GoogLeNet (Inception v1) of Szegedy et al. (2015): a stem, nine Inception modules, global average pooling.

    For a 224x224 input::

        stem        conv 7x7/2 (64), maxpool 3/2, conv 1x1 (64), conv 3x3 (192), maxpool 3/2    (N, 192, 28, 28)
        3a, 3b      -> maxpool 3/2                                                            (N, 480, 14, 14)
        4a ... 4e   -> maxpool 3/2                                                            (N, 832, 7, 7)
        5a, 5b      -> global average pool, dropout, linear 1024 -> num_classes              (N, num_classes)

    Auxiliary classifiers (:class:`InceptionAux`) read the outputs of 4a and 4d when ``aux_logits``; in training
    mode the network then returns :class:`GoogLeNetOutputs` (main and two auxiliary logits), in evaluation mode only
    the main logits. Max pools round up (``ceil_mode=True``), as in the reference implementations.

    Variants. The paper's network has no batch normalisation, convolutions with biases, 5x5 kernels in the third
    branch of each module, local response normalisation in the stem (left out here) and the two auxiliary
    classifiers. torchvision's ``googlenet``, whose weights were ported from TensorFlow, adds batch normalisation
    (convolutions without bias) and, by a known slip kept for the sake of those weights (pytorch/vision issue 906),
    uses 3x3 kernels in that "5x5" branch. The defaults build torchvision's form without auxiliary classifiers,
    6,624,904 parameters (13,004,888 with ``aux_logits=True``); ``batch_norm=False, kernel_size_5x5=5`` builds the
    paper's layers, 6,998,552 parameters (13,378,280 with the auxiliary classifiers). Initialisation as
    torchvision's: convolution and linear weights from a normal distribution of standard deviation 0.01 truncated at
    +-2 (without batch normalisation, Kaiming normal for the convolutions instead, since weights that small would
    shrink the signal through 22 layers).

    Args:
        num_classes: Number of classes.
        in_channels: Channels of the input image.
        width: Channels of the first convolution (64); every other channel count, the auxiliary classifiers'
            included, scales by ``width / 64`` (rounded, at least 1).
        small_input: If True, the first convolution is 3x3 with stride 1 and the stem's two max pools are left out,
            so 28x28 or 32x32 images enter module 3a at full resolution.
        aux_logits: Add the two auxiliary classifiers.
        batch_norm: Batch normalisation after every convolution (torchvision) or not (the paper).
        kernel_size_5x5: Kernel of the third branch of every module: 3 as torchvision, 5 as the paper.
        dropout: Dropout probability before the last linear layer (the paper's 40 %).

    Shape:
        Input (N, in_channels, H, W); output (N, num_classes), or :class:`GoogLeNetOutputs` (see above).
    """

    def __init__(
        self,
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        width: int = 64,
        small_input: bool = False,
        aux_logits: bool = False,
        batch_norm: bool = True,
        kernel_size_5x5: int = 3,
        dropout: float = 0.4,
    ) -> None:
        super().__init__()
        _check_positive(num_classes=num_classes, in_channels=in_channels, width=width)

        def scaled(channels: int) -> int:
            return max(1, round(channels * width / 64))

        self.aux_logits = aux_logits
        if small_input:
            stem = [_conv_unit(in_channels, scaled(64), 3, padding=1, batch_norm=batch_norm)]
        else:
            stem = [
                _conv_unit(in_channels, scaled(64), 7, stride=2, padding=3, batch_norm=batch_norm),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            ]
        stem += [
            _conv_unit(scaled(64), scaled(64), 1, batch_norm=batch_norm),
            _conv_unit(scaled(64), scaled(192), 3, padding=1, batch_norm=batch_norm),
        ]
        if not small_input:
            stem.append(nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True))
        self.stem = nn.Sequential(*stem)

        channels = scaled(192)
        modules = OrderedDict()
        for name, row in _INCEPTION_TABLE.items():
            block = Inception(
                channels, *(scaled(c) for c in row), batch_norm=batch_norm, kernel_size_5x5=kernel_size_5x5
            )
            modules[name] = block
            channels = block.out_channels
        self.inception3 = nn.Sequential(modules["3a"], modules["3b"])
        self.pool3 = nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
        self.inception4a = modules["4a"]
        self.inception4bcd = nn.Sequential(modules["4b"], modules["4c"], modules["4d"])
        self.inception4e = modules["4e"]
        self.pool4 = nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
        self.inception5 = nn.Sequential(modules["5a"], modules["5b"])
        if aux_logits:
            aux = dict(channels=scaled(128), hidden_features=scaled(1024), batch_norm=batch_norm)
            self.aux1 = InceptionAux(modules["4a"].out_channels, num_classes, **aux)
            self.aux2 = InceptionAux(modules["4d"].out_channels, num_classes, **aux)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(p=dropout), nn.Linear(channels, num_classes))

        for layer in self.modules():
            if isinstance(layer, nn.Conv2d) and not batch_norm:
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(layer.bias)
            elif isinstance(layer, nn.Conv2d | nn.Linear):
                nn.init.trunc_normal_(layer.weight, mean=0.0, std=0.01, a=-2, b=2)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
            elif isinstance(layer, nn.BatchNorm2d):
                nn.init.ones_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        """Logits (N, num_classes); with ``aux_logits`` in training mode, :class:`GoogLeNetOutputs`."""
        x = self.inception3(self.stem(x))
        x = self.inception4a(self.pool3(x))
        aux1 = self.aux1(x) if self.aux_logits and self.training else None
        x = self.inception4bcd(x)
        aux2 = self.aux2(x) if self.aux_logits and self.training else None
        x = self.inception5(self.pool4(self.inception4e(x)))
        logits = self.classifier(self.pool(x))
        if aux1 is not None:
            return GoogLeNetOutputs(logits, aux1, aux2)
        return logits


def googlenet(**kwargs) -> GoogLeNet:
    """GoogLeNet (Szegedy et al., 2015) in torchvision's form; see :class:`GoogLeNet` for the variants.

    Defaults: input (N, 3, 224, 224), 1000 classes, batch normalisation, no auxiliary classifiers, 6,624,904
    parameters (13,004,888 with ``aux_logits=True``).
    """
    return GoogLeNet(**kwargs)


# ----------------------------------------------------------------------------------------------------------------------
# ResNet and SE-ResNet
# ----------------------------------------------------------------------------------------------------------------------


class SEBlock(nn.Module):
    """Squeeze-and-excitation of Hu, Shen and Sun (2018): rescale each channel by a gate computed from all channels.

    For x of shape (N, C, H, W)::

        z = mean over (H, W) of x                        squeeze,    (N, C)
        s = sigmoid(W2 relu(W1 z + b1) + b2)             excitation, (N, C); W1 is (C / r, C), W2 is (C, C / r)
        out = x * s[:, :, None, None]                    scale,      (N, C, H, W)

    with reduction ratio r (16 in the paper). The two fully connected layers have biases, as in the reference Caffe
    model and in the pretrainedmodels port: 2 C^2 / r + C / r + C parameters.

    Args:
        channels: C, the channels of the input.
        reduction: r; the hidden layer has ``max(1, C // r)`` units.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        _check_positive(channels=channels, reduction=reduction)
        hidden = max(1, channels // reduction)
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.excitation = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, H, W) with each channel scaled by its gate in (0, 1)."""
        gates = self.excitation(self.squeeze(x))
        return x * gates[:, :, None, None]


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """Identity when shapes match, else the projection shortcut (option B of He et al.): 1x1 conv with stride, BN."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
    )


class BasicBlock(nn.Module):
    """The residual block of ResNet-18 and -34 (He et al., 2016): two 3x3 convolutions and a shortcut.

    ``out = relu(se(bn2(conv2(relu(bn1(conv1(x)))))) + shortcut(x))``, where ``conv1`` carries the stride, ``se``
    is an :class:`SEBlock` when ``se_reduction`` is given (else the identity), and the shortcut is the identity or a
    strided 1x1 projection when the shape changes.

    Shape:
        Input (N, in_channels, H, W); output (N, channels, H / stride, W / stride).
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, se_reduction: int | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.se = SEBlock(channels, se_reduction) if se_reduction else nn.Identity()
        self.shortcut = _shortcut(in_channels, channels, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output, shape (N, channels, H / stride, W / stride)."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        return self.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """The bottleneck block of ResNet-50 and deeper (He et al., 2016): 1x1 reduce, 3x3, 1x1 expand (4x), shortcut.

    ``out = relu(se(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))))) + shortcut(x))`` with ``channels`` in the
    1x1 and 3x3 convolutions and ``4 * channels`` at the output. The stride sits on the 3x3 convolution (torchvision's
    "ResNet v1.5") or, with ``stride_in_1x1``, on the first 1x1 convolution (the paper's Caffe model, and the SE-ResNet
    reference); the parameter count is the same, the FLOPs are not.

    Shape:
        Input (N, in_channels, H, W); output (N, 4 * channels, H / stride, W / stride).
    """

    expansion = 4

    def __init__(
        self, in_channels: int, channels: int, stride: int = 1, se_reduction: int | None = None,
        stride_in_1x1: bool = False,
    ) -> None:
        super().__init__()
        out_channels = channels * self.expansion
        stride1, stride3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=1, stride=stride1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, stride=stride3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.se = SEBlock(out_channels, se_reduction) if se_reduction else nn.Identity()
        self.shortcut = _shortcut(in_channels, out_channels, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output, shape (N, 4 * channels, H / stride, W / stride)."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.se(self.bn3(self.conv3(out)))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """A residual network of He et al. (2016); with ``se_reduction``, the SE-ResNet of Hu et al. (2018).

    For a 224x224 input::

        stem      conv 7x7/2 (64), BN, ReLU, maxpool 3/2                      (N, 64, 56, 56)
        stage 1   stage_depths[0] blocks of width 64                          (N, 64 e, 56, 56)
        stage 2   stage_depths[1] blocks of width 128, the first with stride 2 (N, 128 e, 28, 28)
        stage 3   ... 256                                                     (N, 256 e, 14, 14)
        stage 4   ... 512                                                     (N, 512 e, 7, 7)
        global average pool, linear 512 e -> num_classes                      (N, num_classes)

    where e is the block's expansion (1 for :class:`BasicBlock`, 4 for :class:`Bottleneck`). Shortcuts that change
    shape are 1x1 projections (the paper's option B). This is torchvision's layout; initialisation as torchvision's
    (Kaiming normal, fan_out, for convolutions; batch-norm scales 1 and shifts 0; PyTorch's default for the linear
    layers). SE-ResNet puts an :class:`SEBlock` on each block's residual branch, before the addition.

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        stage_depths: Blocks per stage, e.g. ``(2, 2, 2, 2)`` for ResNet-18; any number of stages, the widths
            doubling from stage to stage.
        num_classes: Number of classes.
        in_channels: Channels of the input image.
        width: Channels of the stem and of the first stage's blocks (64).
        small_input: If True, the stem is one 3x3 stride-1 convolution without the max pool (as for CIFAR in
            He et al. section 4.2), so 28x28 or 32x32 images keep their resolution in the first stage.
        se_reduction: Reduction ratio r of a squeeze-and-excitation block in every residual block (None: no SE).
        stride_in_1x1: Bottleneck blocks only: put the stride on the first 1x1 convolution instead of the 3x3.

    Shape:
        Input (N, in_channels, H, W); output (N, num_classes).
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        stage_depths: Sequence[int],
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        width: int = 64,
        small_input: bool = False,
        se_reduction: int | None = None,
        stride_in_1x1: bool = False,
    ) -> None:
        super().__init__()
        if block not in (BasicBlock, Bottleneck):
            raise ValueError(f"expected block BasicBlock or Bottleneck, got {block!r}")
        stage_depths = tuple(stage_depths)
        if not stage_depths or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in stage_depths):
            raise ValueError(f"expected stage_depths to be a non-empty sequence of positive ints, got {stage_depths}")
        _check_positive(num_classes=num_classes, in_channels=in_channels, width=width)
        if stride_in_1x1 and block is not Bottleneck:
            raise ValueError("stride_in_1x1 applies to Bottleneck blocks only, got BasicBlock")
        extra = {"stride_in_1x1": stride_in_1x1} if block is Bottleneck else {}

        if small_input:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, width, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            )
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, width, kernel_size=7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            )
        stages = []
        channels = width
        for index, depth in enumerate(stage_depths):
            blocks = []
            for position in range(depth):
                stride = 2 if index > 0 and position == 0 else 1
                blocks.append(block(channels, width * 2**index, stride, se_reduction, **extra))
                channels = width * 2**index * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        _kaiming_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (N, num_classes) for images of shape (N, in_channels, H, W)."""
        return self.fc(self.pool(self.stages(self.stem(x))).flatten(1))


def resnet18(**kwargs) -> ResNet:
    """ResNet-18 (He et al., 2016): basic blocks, stage depths (2, 2, 2, 2); keyword arguments as :class:`ResNet`.

    Defaults: input (N, 3, 224, 224), 1000 classes, 11,689,512 parameters (torchvision's ``resnet18``).
    """
    return ResNet(BasicBlock, (2, 2, 2, 2), **kwargs)


def resnet34(**kwargs) -> ResNet:
    """ResNet-34 (He et al., 2016): basic blocks, stage depths (3, 4, 6, 3); keyword arguments as :class:`ResNet`.

    Defaults: input (N, 3, 224, 224), 1000 classes, 21,797,672 parameters (torchvision's ``resnet34``).
    """
    return ResNet(BasicBlock, (3, 4, 6, 3), **kwargs)


def resnet50(**kwargs) -> ResNet:
    """ResNet-50 (He et al., 2016): bottleneck blocks, stage depths (3, 4, 6, 3); keyword arguments as :class:`ResNet`.

    Defaults: input (N, 3, 224, 224), 1000 classes, 25,557,032 parameters, the stride on the 3x3 convolutions
    (torchvision's ``resnet50``, "v1.5"); ``stride_in_1x1=True`` gives the paper's placement, same parameters.
    """
    return ResNet(Bottleneck, (3, 4, 6, 3), **kwargs)


def se_resnet50(*, se_reduction: int = 16, stride_in_1x1: bool = True, **kwargs) -> ResNet:
    """SE-ResNet-50 (Hu, Shen and Sun, 2018): ResNet-50 with a squeeze-and-excitation block (r = 16) in every block.

    Defaults: input (N, 3, 224, 224), 1000 classes, 28,088,024 parameters: ResNet-50's 25,557,032 plus 2,530,992 in
    the sixteen SE blocks, as in the authors' Caffe model and its PyTorch port in the pretrainedmodels package, which
    also put the stride on the first 1x1 convolution of a bottleneck (hence ``stride_in_1x1=True`` here, unlike
    :func:`resnet50`; compare costs with ``resnet50(stride_in_1x1=True)``). Keyword arguments as :class:`ResNet`.
    """
    return ResNet(Bottleneck, (3, 4, 6, 3), se_reduction=se_reduction, stride_in_1x1=stride_in_1x1, **kwargs)


# ----------------------------------------------------------------------------------------------------------------------
# TextCNN
# ----------------------------------------------------------------------------------------------------------------------


class TextCNN(nn.Module):
    """The sentence classifier of Kim (2014): convolutions over word embeddings, max over time, a linear layer.

    For token ids of shape (N, L)::

        embed                   (N, L) -> (N, L, D) -> transposed to (N, D, L)
        for each width k:       conv1d (D -> F, kernel k) -> ReLU -> (N, F, L - k + 1) -> max over time -> (N, F)
        concatenate             (N, F * K)      K = len(kernel_sizes)
        dropout, linear         (N, num_classes)

    Each filter thus detects one k-gram pattern and reports its strongest match anywhere in the sentence, so the
    feature does not depend on where the k-gram occurs. Kim's variants: CNN-rand (random embeddings, trained),
    CNN-static (pretrained embeddings, frozen), CNN-non-static (pretrained, fine-tuned); his fourth, multichannel
    variant and the max-norm constraint on the last layer's weights are not built here.

    Args:
        vocab_size: Number of distinct token ids V; ids are in [0, V).
        embedding_dim: D, the size of a word vector (300 for word2vec).
        num_classes: Number of classes.
        kernel_sizes: Widths k of the filters, in words (3, 4, 5 in the paper).
        num_filters: F, filters per width (100).
        dropout: Dropout probability before the linear layer (0.5).
        pretrained_embeddings: Optional (V, D) array or tensor of word vectors to start from.
        freeze_embeddings: Keep the embeddings fixed during training (the static variant).
        padding_idx: Optional id of a padding token, whose vector is zero and receives no gradient.

    Shape:
        Input (N, L) integer token ids with L >= max(kernel_sizes); output (N, num_classes).
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 300,
        num_classes: int = 2,
        kernel_sizes: Sequence[int] = (3, 4, 5),
        num_filters: int = 100,
        dropout: float = 0.5,
        *,
        pretrained_embeddings=None,
        freeze_embeddings: bool = False,
        padding_idx: int | None = None,
    ) -> None:
        super().__init__()
        _check_positive(
            vocab_size=vocab_size, embedding_dim=embedding_dim, num_classes=num_classes, num_filters=num_filters
        )
        kernel_sizes = tuple(kernel_sizes)
        if not kernel_sizes or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in kernel_sizes):
            raise ValueError(f"expected kernel_sizes to be a non-empty sequence of positive ints, got {kernel_sizes}")
        self.kernel_sizes = kernel_sizes
        if pretrained_embeddings is not None:
            vectors = torch.as_tensor(pretrained_embeddings, dtype=torch.float32)
            if tuple(vectors.shape) != (vocab_size, embedding_dim):
                raise ValueError(
                    f"expected pretrained_embeddings of shape (vocab_size, embedding_dim) = "
                    f"{(vocab_size, embedding_dim)}, got {tuple(vectors.shape)}"
                )
            self.embedding = nn.Embedding.from_pretrained(
                vectors.clone(), freeze=freeze_embeddings, padding_idx=padding_idx
            )
        else:
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
            self.embedding.weight.requires_grad_(not freeze_embeddings)
        self.convs = nn.ModuleList(nn.Conv1d(embedding_dim, num_filters, kernel_size=k) for k in kernel_sizes)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveMaxPool1d(1)  # max over time
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(num_filters * len(kernel_sizes), num_classes)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """The max-over-time features, (N, F * K), before dropout and the linear layer.

        Raises:
            ValueError: If ``tokens`` is not a 2-D integer tensor, or shorter than the widest filter.
        """
        if tokens.ndim != 2 or tokens.is_floating_point() or tokens.is_complex():
            raise ValueError(
                f"expected integer token ids of shape (N, L), got {tokens.dtype} of shape {tuple(tokens.shape)}"
            )
        if tokens.shape[1] < max(self.kernel_sizes):
            raise ValueError(
                f"expected sequences of at least {max(self.kernel_sizes)} tokens (the widest filter), "
                f"got shape {tuple(tokens.shape)}; pad the sentences"
            )
        x = self.embedding(tokens).transpose(1, 2)  # (N, D, L): embedding dimensions are the channels
        return torch.cat([self.pool(self.relu(conv(x))).squeeze(2) for conv in self.convs], dim=1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits of shape (N, num_classes) for token ids of shape (N, L)."""
        return self.fc(self.dropout(self.features(tokens)))


def textcnn(
    vocab_size: int,
    embedding_dim: int = 300,
    num_classes: int = 2,
    kernel_sizes: Sequence[int] = (3, 4, 5),
    num_filters: int = 100,
    dropout: float = 0.5,
    **kwargs,
) -> TextCNN:
    """TextCNN of Kim (2014) with the paper's settings as defaults; see :class:`TextCNN`.

    Parameters: V D for the embedding, sum over k of (D k F + F) for the convolutions, F K C + C for the classifier.
    With V = 10,000 and the defaults: 3,000,000 + 360,300 + 602.
    """
    return TextCNN(vocab_size, embedding_dim, num_classes, kernel_sizes, num_filters, dropout, **kwargs)


# ----------------------------------------------------------------------------------------------------------------------
# MTCNN: the three networks of the face-detection cascade (Zhang et al., 2016)
# ----------------------------------------------------------------------------------------------------------------------


def _mtcnn_flatten(x: torch.Tensor) -> torch.Tensor:
    """Flatten (N, C, H, W) features in the order the pretrained dense layers expect: width, then height, then channel.

    The published weights were trained in Caffe (via MATLAB, column-major) and converted; their first dense layer
    reads the feature map transposed, so the features are permuted to (N, W, H, C) before flattening.
    """
    return x.permute(0, 3, 2, 1).flatten(1)


class PNet(nn.Module):
    """MTCNN's proposal network: a fully convolutional face/non-face classifier and box regressor on 12x12 windows.

    Layers (the parameter names of the pretrained state dict): conv1 3x3 (3 -> 10), PReLU, 2x2 max pool (stride 2,
    ceil), conv2 3x3 (10 -> 16), PReLU, conv3 3x3 (16 -> 32), PReLU, then two 1x1 heads: ``conv4_1`` (2 face/non-face
    logits) and ``conv4_2`` (4 box offsets). A 12x12 input gives a 1x1 output; a larger image gives an output map
    whose cell (i, j) looks at the 12x12 window at (2 j, 2 i): a sliding window with stride 2 in one pass.

    Input (N, 3, H, W) with pixels scaled as (value - 127.5) / 128, H, W >= 12. Output ``(logits, offsets)`` of shapes
    (N, 2, H', W') and (N, 4, H', W') with H' = ceil((H - 2) / 2) - 4.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3 or min(x.shape[2:]) < 12:
            raise ValueError(f"PNet expects images of shape (N, 3, H, W) with H, W >= 12, got {tuple(x.shape)}")
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_1(x), self.conv4_2(x)


class RNet(nn.Module):
    """MTCNN's refinement network: classifies 24x24 crops of P-Net's candidates and corrects their boxes.

    Layers: conv1 3x3 (3 -> 28), PReLU, 3x3 max pool (stride 2, ceil), conv2 3x3 (28 -> 48), PReLU, 3x3 max pool
    (stride 2, ceil), conv3 2x2 (48 -> 64), PReLU, ``dense4`` (576 -> 128), PReLU, heads ``dense5_1`` (2 logits) and
    ``dense5_2`` (4 box offsets).

    Input (N, 3, 24, 24), scaled as for :class:`PNet`. Output ``(logits, offsets)`` of shapes (N, 2) and (N, 4).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, 24, 24):
            raise ValueError(f"RNet expects crops of shape (N, 3, 24, 24), got {tuple(x.shape)}")
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu4(self.dense4(_mtcnn_flatten(self.prelu3(self.conv3(x)))))
        return self.dense5_1(x), self.dense5_2(x)


class ONet(nn.Module):
    """MTCNN's output network: classifies 48x48 crops, corrects their boxes and places five facial landmarks.

    Layers: conv1 3x3 (3 -> 32), PReLU, 3x3 max pool (stride 2, ceil), conv2 3x3 (32 -> 64), PReLU, 3x3 max pool
    (stride 2, ceil), conv3 3x3 (64 -> 64), PReLU, 2x2 max pool (stride 2, ceil), conv4 2x2 (64 -> 128), PReLU,
    ``dense5`` (1152 -> 256), PReLU, heads ``dense6_1`` (2 logits), ``dense6_2`` (4 box offsets) and ``dense6_3``
    (10 landmark coordinates: the x of the left eye, right eye, nose, left and right mouth corner, then their y, each as
    a fraction of the crop's width or height).

    Input (N, 3, 48, 48), scaled as for :class:`PNet`. Output ``(logits, offsets, landmarks)`` of shapes (N, 2),
    (N, 4) and (N, 10).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, 48, 48):
            raise ValueError(f"ONet expects crops of shape (N, 3, 48, 48), got {tuple(x.shape)}")
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu5(self.dense5(_mtcnn_flatten(self.prelu4(self.conv4(x)))))
        return self.dense6_1(x), self.dense6_2(x), self.dense6_3(x)


# ----------------------------------------------------------------------------------------------------------------------
# U-Net (Ronneberger, Fischer and Brox 2015): an encoder-decoder for segmentation
# ----------------------------------------------------------------------------------------------------------------------


def _unet_double_conv(in_channels: int, out_channels: int, batch_norm: bool) -> nn.Sequential:
    """Two 3x3 convolutions with padding 1, each followed by ReLU (and batch normalisation before it if asked)."""
    layers = []
    for index in range(2):
        layers.append(nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, 3, padding=1,
                                bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """U-Net of Ronneberger, Fischer and Brox (2015): a contracting path, an expanding path and skip connections.

    The contracting path has ``depth`` levels of two 3x3 convolutions and a 2x2 max pool, doubling the channels
    from ``width`` at every level; a bottom level of two convolutions at ``width * 2**depth`` channels follows.
    The expanding path mirrors it: at every level a 2x2 transposed convolution with stride 2 (the paper's
    "up-convolution") doubles the size of the maps and halves the channels, the result is concatenated with the
    contracting path's maps of the same size (the skip connection), and two 3x3 convolutions follow. A final 1x1
    convolution gives ``num_classes`` scores per pixel.

    With the defaults (``width=64``, ``depth=4``, ``num_classes=2``) this is the paper's network, 23 convolutional
    layers, with one difference: the paper's convolutions are unpadded, so that its 572x572 input gives a 388x388
    output and the skip connections are cropped; here every 3x3 convolution has padding 1 and the output has the
    size of the input (which must be divisible by ``2**depth``). Padding changes no parameter count.
    ``batch_norm=True`` adds batch normalisation after every 3x3 convolution (and drops their biases), which the
    paper did not have and which makes the small networks of the book train in few steps.

    Parameters, with w = width, k = 0 ... depth, c_k = w 2^k, C_in input channels and K classes, without batch
    normalisation: each double convolution from a to b channels has 9 a b + b + 9 b b + b; the contracting path
    has them from (C_in, c_0), (c_0, c_1), ..., (c_{depth-1}, c_depth); every expanding level k (from depth - 1
    down to 0) has an up-convolution of 4 c_{k+1} c_k + c_k and a double convolution from 2 c_k to c_k; the head
    has c_0 K + K. Batch normalisation replaces each 3x3 convolution's b biases by 2 b scales and shifts.

    Args:
        in_channels: channels of the input image (1 for a grey microscopy image).
        num_classes: scores per pixel (2 in the paper: background and cell; 1 for a single foreground logit).
        width: channels of the first level (64 in the paper).
        depth: number of 2x2 poolings (4 in the paper).
        batch_norm: add batch normalisation after each 3x3 convolution.

    Input (N, C_in, H, W) with H and W divisible by ``2**depth``; output (N, num_classes, H, W).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: int = 64, depth: int = 4,
                 batch_norm: bool = False) -> None:
        super().__init__()
        _check_positive(in_channels=in_channels, num_classes=num_classes, width=width, depth=depth)
        self.depth = depth
        channels = [width * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList(
            _unet_double_conv(in_channels if level == 0 else channels[level - 1], channels[level], batch_norm)
            for level in range(depth)
        )
        self.pool = nn.MaxPool2d(2)
        self.bottom = _unet_double_conv(channels[depth - 1], channels[depth], batch_norm)
        levels = list(reversed(range(depth)))
        self.up = nn.ModuleList(nn.ConvTranspose2d(channels[level + 1], channels[level], 2, stride=2)
                                for level in levels)
        self.decode = nn.ModuleList(_unet_double_conv(2 * channels[level], channels[level], batch_norm)
                                    for level in levels)
        self.head = nn.Conv2d(channels[0], num_classes, 1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores of shape (N, num_classes, H, W) for images of shape (N, C_in, H, W)."""
        factor = 2**self.depth
        if x.ndim != 4 or x.shape[-2] % factor or x.shape[-1] % factor:
            raise ValueError(f"expected images of shape (N, C, H, W) with H and W divisible by {factor}, "
                             f"got shape {tuple(x.shape)}")
        skips = []
        for level in self.down:
            x = level(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up, decode in zip(self.up, self.decode, strict=True):
            x = decode(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)


def unet(**kwargs) -> UNet:
    """U-Net with the paper's configuration as defaults (width 64, depth 4, 2 classes, no batch normalisation).

    31,030,658 parameters for one input channel (the paper's grey images), counted by the formula of
    :class:`UNet`; ``unet(width=8, depth=2, num_classes=1, batch_norm=True)`` is the small one of the
    segmentation chapter.
    """
    return UNet(**kwargs)
