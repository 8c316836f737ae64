"""cnnlib.models: published parameter counts, shapes of the small variants, the SE block and TextCNN's max over time.

Full-size networks are built on the meta device: their parameters have shapes but no memory, which is all that
counting needs, so the whole file runs in seconds.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlib import models
from cnnlib.profile import count_params

# Published parameter counts of the reference implementations (torchvision's model documentation, num_params, for
# all but SE-ResNet-50; SE-ResNet-50 as the pretrainedmodels port of Hu et al.'s Caffe model and osmr/imgclsmob).
PUBLISHED = [
    ("alexnet", {}, 61_100_840),
    ("vgg11", {}, 132_863_336),
    ("vgg13", {}, 133_047_848),
    ("vgg16", {}, 138_357_544),
    ("vgg19", {}, 143_667_240),
    ("vgg11", {"batch_norm": True}, 132_868_840),
    ("vgg13", {"batch_norm": True}, 133_053_736),
    ("vgg16", {"batch_norm": True}, 138_365_992),
    ("vgg19", {"batch_norm": True}, 143_678_248),
    ("googlenet", {}, 6_624_904),
    ("googlenet", {"aux_logits": True}, 13_004_888),
    ("resnet18", {}, 11_689_512),
    ("resnet34", {}, 21_797_672),
    ("resnet50", {}, 25_557_032),
    ("resnet50", {"stride_in_1x1": True}, 25_557_032),
    ("se_resnet50", {}, 28_088_024),
]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small convolutions run far faster on one thread than on threads that wait for each other on a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build_meta(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return getattr(models, name)(**kwargs)


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"), PUBLISHED, ids=["-".join([name, *kwargs]) for name, kwargs, _ in PUBLISHED]
)
def test_full_size_parameter_counts_equal_the_published_ones(name, kwargs, expected):
    assert count_params(build_meta(name, **kwargs)) == expected


@pytest.mark.parametrize("name", ["alexnet", "vgg11", "googlenet", "resnet18", "resnet50", "se_resnet50"])
def test_full_size_networks_map_imagenet_images_to_1000_logits(name):
    model = build_meta(name).eval()
    assert model(torch.zeros(2, 3, 224, 224, device="meta")).shape == (2, 1000)


def test_meta_and_cpu_builds_agree():
    torch.manual_seed(0)
    assert count_params(models.resnet18()) == count_params(build_meta("resnet18")) == 11_689_512


def test_lenet5_counts_layer_by_layer():
    model = models.lenet5()
    per_layer = {name: count_params(layer) for name, layer in [*model.features.named_children(),
                                                                *model.classifier.named_children()]}
    # C1 (5*5*1+1)*6, C3 (5*5*6+1)*16 with every map connected (the paper's table: 1,516), C5 (5*5*16+1)*120,
    # F6 (120+1)*84, output (84+1)*10.
    assert {k: v for k, v in per_layer.items() if v} == {"c1": 156, "c3": 2416, "c5": 48120, "f6": 10164, "output": 850}
    assert count_params(model) == 61_706
    # The paper's own count: its C3 table and trainable subsampling coefficients give 60,000 exactly.
    assert 156 + 12 + 1516 + 32 + 48120 + 10164 == 60_000


def test_lenet5_pads_mnist_digits_to_32():
    small, full = models.lenet5(input_size=28), models.lenet5()
    assert count_params(small) == count_params(full)
    assert small(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert full(torch.zeros(3, 1, 32, 32)).shape == (3, 10)
    with pytest.raises(ValueError, match="even"):
        models.lenet5(input_size=27)
    with pytest.raises(ValueError, match="activation"):
        models.lenet5(activation="sigmoid")


def test_googlenet_paper_variant_differs_by_the_expected_parameters():
    # Table 1 of Szegedy et al.: the convolutions' output channels, stem first, then each Inception module's columns.
    table = list(models._INCEPTION_TABLE.values())
    conv_channels = 64 + 64 + 192 + sum(sum(row) for row in table)
    wide_branch = sum(row[3] * row[4] for row in table)  # ch5x5_reduce * ch5x5 weights per kernel position
    assert conv_channels == 7280
    paper = count_params(build_meta("googlenet", batch_norm=False, kernel_size_5x5=5))
    # Without batch norm each convolution trades 2 C norm parameters for C biases; 5x5 kernels have 25 - 9 = 16
    # more weights per position than torchvision's 3x3.
    assert paper == 6_624_904 - conv_channels + 16 * wide_branch == 6_998_552


def test_googlenet_returns_auxiliary_logits_only_while_training():
    model = models.googlenet(num_classes=10, width=8, small_input=True, aux_logits=True)
    images = torch.zeros(2, 3, 32, 32)
    outputs = model.train()(images)
    assert isinstance(outputs, models.GoogLeNetOutputs)
    assert [tuple(o.shape) for o in outputs] == [(2, 10)] * 3
    assert model.eval()(images).shape == (2, 10)


def test_inception_concatenates_its_four_branches():
    block = models.Inception(192, 64, 96, 128, 16, 32, 32)
    x = torch.randn(2, 192, 7, 7)
    out = block.eval()(x)
    assert out.shape == (2, 64 + 128 + 32 + 32, 7, 7) and block.out_channels == 256
    assert torch.equal(out[:, :64], block.branch1(x))
    assert torch.equal(out[:, 224:], block.branch4(x))


def test_bottleneck_stride_placement():
    v15 = models.resnet50(width=8, small_input=True)
    v1 = models.resnet50(width=8, small_input=True, stride_in_1x1=True)
    first_of_stage2 = (v15.stages[1][0], v1.stages[1][0])
    assert (first_of_stage2[0].conv1.stride, first_of_stage2[0].conv2.stride) == ((1, 1), (2, 2))
    assert (first_of_stage2[1].conv1.stride, first_of_stage2[1].conv2.stride) == ((2, 2), (1, 1))
    with pytest.raises(ValueError, match="Bottleneck"):
        models.resnet18(stride_in_1x1=True)


# The small networks the chapters train: digits (1x28x28) and colour thumbnails (3x32x32), 10 classes.
SMALL = {
    "lenet5": lambda c, s: models.lenet5(in_channels=c, input_size=s),
    "alexnet": lambda c, s: models.alexnet(num_classes=10, in_channels=c, width=8, input_size=s, small_input=True,
                                           hidden_features=64),
    "vgg11": lambda c, s: models.vgg11(num_classes=10, in_channels=c, width=8, input_size=s, hidden_features=64),
    "vgg16_bn": lambda c, s: models.vgg16(num_classes=10, in_channels=c, width=8, input_size=s, hidden_features=64,
                                          batch_norm=True),
    "small_vgg": lambda c, s: models.VGG((1, 1, 2), num_classes=10, in_channels=c, width=8, input_size=s,
                                         hidden_features=32),
    "googlenet": lambda c, s: models.googlenet(num_classes=10, in_channels=c, width=8, small_input=True),
    "resnet18": lambda c, s: models.resnet18(num_classes=10, in_channels=c, width=8, small_input=True),
    "resnet34": lambda c, s: models.resnet34(num_classes=10, in_channels=c, width=8, small_input=True),
    "resnet50": lambda c, s: models.resnet50(num_classes=10, in_channels=c, width=8, small_input=True),
    "se_resnet50": lambda c, s: models.se_resnet50(num_classes=10, in_channels=c, width=8, small_input=True),
    "small_resnet": lambda c, s: models.ResNet(models.BasicBlock, (1, 1, 1), num_classes=10, in_channels=c,
                                               width=8, small_input=True, se_reduction=4),
}


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize(("channels", "size"), [(1, 28), (3, 32)])
def test_small_variants_classify_small_images(name, channels, size):
    torch.manual_seed(0)
    model = SMALL[name](channels, size)
    images = torch.randn(2, channels, size, size)
    for mode in (model.train(), model.eval()):
        logits = mode(images)
        assert logits.shape == (2, 10) and torch.isfinite(logits).all()


def test_small_variants_are_small():
    # The parameters of a convolutional network grow with the square of its width: 8 / 64 leaves about 1/64.
    for name in ["resnet18", "resnet50", "se_resnet50", "googlenet"]:
        assert count_params(SMALL[name](1, 28)) < count_params(build_meta(name)) / 50
    # A width-16 ResNet-18 for digits, the example of the module docstring.
    assert count_params(models.resnet18(num_classes=10, in_channels=1, width=16, small_input=True)) < 800_000
    # VGG's and AlexNet's bulk is the classifier; its input shrinks with the image.
    assert count_params(SMALL["vgg11"](1, 28)) < 200_000
    assert count_params(SMALL["alexnet"](1, 28)) < 200_000


def test_alexnet_without_small_input_rejects_thumbnails():
    with pytest.raises(ValueError, match="small_input"):
        models.alexnet(input_size=32)


def test_construction_is_deterministic_given_the_seed():
    def weights(seed):
        torch.manual_seed(seed)
        return models.resnet18(num_classes=10, width=8, small_input=True).state_dict()

    first, second, other = weights(0), weights(0), weights(1)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not torch.equal(first["stem.0.weight"], other["stem.0.weight"])


def test_convolutions_are_kaiming_initialised():
    torch.manual_seed(0)
    model = models.vgg11(width=32, input_size=32, hidden_features=64)
    conv = model.features[3]  # the first convolution of stage 2: 32 -> 64 channels, 3x3
    assert isinstance(conv, nn.Conv2d)
    fan_out = conv.out_channels * 3 * 3
    assert conv.weight.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.05)
    assert torch.count_nonzero(conv.bias) == 0
    linear = model.classifier[1]
    assert linear.weight.std().item() == pytest.approx(0.01, rel=0.05)


# ----------------------------------------------------------------------------------------------------------------------
# Squeeze-and-excitation
# ----------------------------------------------------------------------------------------------------------------------


def test_se_overhead_is_two_small_linear_layers_per_block():
    # Every bottleneck of SE-ResNet-50 ends with C = 256, 512, 1024, 2048 channels (3, 4, 6, 3 blocks); its SE block
    # has C * C/16 + C/16 (squeeze to C/16) and C/16 * C + C (excite back to C) parameters.
    stages = [(256, 3), (512, 4), (1024, 6), (2048, 3)]
    overhead = sum(blocks * (2 * c * (c // 16) + c // 16 + c) for c, blocks in stages)
    assert overhead == 2_530_992
    assert count_params(build_meta("se_resnet50")) - count_params(build_meta("resnet50")) == overhead
    assert overhead / 25_557_032 == pytest.approx(0.099, abs=0.001)


def test_se_block_matches_its_formula():
    torch.manual_seed(0)
    block = models.SEBlock(32, reduction=4)
    first, second = block.excitation[1], block.excitation[3]
    x = torch.randn(3, 32, 5, 6)
    squeezed = x.mean(dim=(2, 3))
    gates = torch.sigmoid(torch.relu(squeezed @ first.weight.T + first.bias) @ second.weight.T + second.bias)
    torch.testing.assert_close(block(x), x * gates[:, :, None, None])
    assert first.out_features == 8


def test_se_block_with_a_zero_excitation_halves_its_input():
    block = models.SEBlock(16)
    nn.init.zeros_(block.excitation[3].weight)
    nn.init.zeros_(block.excitation[3].bias)
    x = torch.randn(2, 16, 4, 4)
    torch.testing.assert_close(block(x), x / 2)  # sigmoid(0) = 1/2 on every channel


# ----------------------------------------------------------------------------------------------------------------------
# TextCNN
# ----------------------------------------------------------------------------------------------------------------------


def test_textcnn_shape_and_parameter_count():
    vocab, dim, classes, widths, filters = 50, 12, 3, (2, 3, 5), 7
    model = models.textcnn(vocab, embedding_dim=dim, num_classes=classes, kernel_sizes=widths, num_filters=filters)
    embedding, convolutions = vocab * dim, sum(dim * k * filters + filters for k in widths)
    expected = embedding + convolutions + filters * len(widths) * classes + classes
    assert count_params(model) == expected
    tokens = torch.randint(0, vocab, (4, 9))
    assert model(tokens).shape == (4, classes)
    assert model.features(tokens).shape == (4, filters * len(widths))
    # Kim's setting: 300-dimensional vectors, widths 3, 4, 5, 100 filters each, 2 classes.
    assert count_params(models.textcnn(10_000)) == 3_000_000 + 360_300 + 602


def test_textcnn_features_are_the_max_over_time_of_each_filter():
    torch.manual_seed(0)
    model = models.textcnn(20, embedding_dim=4, num_classes=2, kernel_sizes=(2, 3), num_filters=5).eval()
    tokens = torch.randint(0, 20, (3, 8))
    embedded = model.embedding(tokens)  # (N, L, D)
    expected = []
    for conv in model.convs:
        k = conv.kernel_size[0]
        windows = torch.stack([embedded[:, t : t + k].flatten(1) for t in range(8 - k + 1)], dim=1)  # (N, T, k D)
        # Conv1d's weight (F, D, k) flattened position-major to match a window (k, D).
        responses = windows @ conv.weight.permute(0, 2, 1).flatten(1).T + conv.bias  # (N, T, F)
        expected.append(torch.relu(responses).amax(dim=1))
    torch.testing.assert_close(model.features(tokens), torch.cat(expected, dim=1))


def test_textcnn_feature_does_not_depend_on_where_the_ngram_is():
    torch.manual_seed(0)
    model = models.textcnn(10, embedding_dim=6, kernel_sizes=(2,), num_filters=4, padding_idx=0).eval()
    sentences = torch.zeros(3, 9, dtype=torch.long)  # padding everywhere (zero vectors) ...
    for row, start in enumerate([1, 4, 6]):  # ... and the bigram (4, 7) at three places, padding on both sides
        sentences[row, start : start + 2] = torch.tensor([4, 7])
    features = model.features(sentences)
    torch.testing.assert_close(features[0], features[1])
    torch.testing.assert_close(features[0], features[2])
    # Reversing the bigram changes it: the filters see order within a window.
    reversed_bigram = sentences[:1].clone()
    reversed_bigram[0, 1:3] = torch.tensor([7, 4])
    assert not torch.allclose(model.features(reversed_bigram)[0], features[0])


def test_textcnn_pretrained_static_and_non_static_embeddings():
    vectors = torch.randn(15, 8)
    static = models.textcnn(15, embedding_dim=8, pretrained_embeddings=vectors, freeze_embeddings=True)
    tuned = models.textcnn(15, embedding_dim=8, pretrained_embeddings=vectors.numpy())
    assert torch.equal(static.embedding.weight, vectors) and torch.equal(tuned.embedding.weight, vectors)
    assert not static.embedding.weight.requires_grad and tuned.embedding.weight.requires_grad
    assert count_params(static) - count_params(static, trainable_only=True) == 15 * 8
    vectors[0, 0] = 100.0  # the model holds its own copy
    assert static.embedding.weight[0, 0] != 100.0
    with pytest.raises(ValueError, match=r"\(15, 8\)"):
        models.textcnn(15, embedding_dim=8, pretrained_embeddings=torch.zeros(15, 9))


def test_textcnn_rejects_short_or_float_input():
    model = models.textcnn(10, embedding_dim=4)
    with pytest.raises(ValueError, match="at least 5 tokens"):
        model(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="integer token ids"):
        model(torch.zeros(2, 6))
