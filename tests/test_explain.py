"""cnnlib.explain: saliency against finite differences, Grad-CAM against hand computations, occlusion against a
direct loop, FGSM against its defining first-order property."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlib import explain


def _small_cnn(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 4, 3, padding=1),
                          nn.Tanh(), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
    return model.to(dtype)


def test_input_gradient_matches_finite_differences_and_saliency_takes_the_channel_maximum():
    model = _small_cnn()
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(3, 2, 8, 8, dtype=torch.float64, generator=generator)
    targets = torch.tensor([0, 4, 2])
    gradient = explain.input_gradient(model, images, targets)
    assert gradient.shape == images.shape
    step = 1e-6
    for n in range(3):
        for index in [(0, 0, 0), (1, 3, 4), (0, 7, 7), (1, 5, 2)]:
            plus, minus = images[n : n + 1].clone(), images[n : n + 1].clone()
            plus[(0, *index)] += step
            minus[(0, *index)] -= step
            with torch.no_grad():
                numeric = (model(plus)[0, targets[n]] - model(minus)[0, targets[n]]) / (2 * step)
            assert gradient[(n, *index)].item() == pytest.approx(numeric.item(), rel=1e-6, abs=1e-9)
    saliency = explain.saliency(model, images, targets)
    torch.testing.assert_close(saliency, gradient.abs().max(dim=1).values)


def test_grad_cam_by_hand_on_a_tiny_network():
    # conv (1 -> 2 maps, 2x2 kernels) on a 3x3 image, ReLU, flatten, linear to 2 classes. The gradient of class c's
    # score with respect to the activations A (2, 2, 2) is the linear weight row W[c] reshaped to (2, 2, 2).
    conv = nn.Conv2d(1, 2, 2, bias=False)
    linear = nn.Linear(8, 2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]], [[[0.0, 1.0], [-1.0, 0.0]]]]))
        linear.weight.copy_(torch.tensor([[1.0, 2.0, 3.0, 2.0, -1.0, 0.0, 1.0, -4.0],
                                          [0.0, 1.0, 0.0, 1.0, 2.0, 2.0, 2.0, 2.0]]))
    relu = nn.ReLU()
    model = nn.Sequential(conv, relu, nn.Flatten(), linear)
    image = torch.tensor([[[[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [2.0, 0.0, 1.0]]]])
    # By hand: map 0 = x[i, j] + x[i+1, j+1] = [[2, 5], [0, 2]]; map 1 = ReLU(x[i, j+1] - x[i+1, j]) = [[2, 0], [0, 3]].
    activations = np.array([[[2.0, 5.0], [0.0, 2.0]], [[2.0, 0.0], [0.0, 3.0]]])
    for target, weights in [(0, [(1 + 2 + 3 + 2) / 4, (-1 + 0 + 1 - 4) / 4]), (1, [2 / 4, 8 / 4])]:
        expected = np.maximum(weights[0] * activations[0] + weights[1] * activations[1], 0)
        cam = explain.grad_cam(model, relu, image, torch.tensor([target]))
        np.testing.assert_allclose(cam[0].numpy(), expected, rtol=1e-6)
    # class 0: alpha = (2, -1): [[2, 10], [0, 1]]; class 1: alpha = (0.5, 2): [[5, 2.5], [0, 7]].
    cams = explain.grad_cam(model, relu, image.expand(2, 1, 3, 3), torch.tensor([0, 1]))
    np.testing.assert_allclose(cams.numpy(), [[[2, 10], [0, 1]], [[5, 2.5], [0, 7]]])


def test_grad_cam_of_a_global_average_pooling_network_is_the_class_activation_map():
    # With global average pooling then a linear layer, dy_c/dA_k[i, j] = w_ck / (h w): Grad-CAM is
    # ReLU(sum_k w_ck A_k) / (h w), the class activation map of Zhou et al. (2016) up to that factor.
    torch.manual_seed(3)
    features = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU())
    head = nn.Linear(6, 4)
    model = nn.Sequential(features, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
    images = torch.rand(5, 1, 7, 9)
    targets = torch.tensor([0, 1, 2, 3, 1])
    cam = explain.grad_cam(model, features, images, targets)
    with torch.no_grad():
        activations = features(images)
        expected = F.relu(torch.einsum("nk,nkij->nij", head.weight[targets], activations)) / (7 * 9)
    torch.testing.assert_close(cam, expected, rtol=1e-5, atol=1e-7)
    upsampled = explain.grad_cam(model, features, images, targets, size=(14, 18))
    assert upsampled.shape == (5, 14, 18)


def test_occlusion_matches_a_direct_loop():
    model = _small_cnn(seed=2)
    generator = torch.Generator().manual_seed(4)
    images = torch.rand(2, 2, 8, 8, dtype=torch.float64, generator=generator)
    targets = torch.tensor([1, 3])
    patch, stride, fill = 3, 2, 0.25
    maps = explain.occlusion(model, images, targets, patch_size=patch, stride=stride, fill=fill, batch_size=4)
    with torch.no_grad():
        for n in range(2):
            base = F.softmax(model(images[n : n + 1]), dim=1)[0, targets[n]]
            total, count = np.zeros((8, 8)), np.zeros((8, 8))
            for r in range(0, 8 - patch + 1, stride):  # 0, 2, 4: the last column and row are never covered
                for s in range(0, 8 - patch + 1, stride):
                    occluded = images[n : n + 1].clone()
                    occluded[..., r : r + patch, s : s + patch] = fill
                    drop = base - F.softmax(model(occluded), dim=1)[0, targets[n]]
                    total[r : r + patch, s : s + patch] += drop.item()
                    count[r : r + patch, s : s + patch] += 1
            expected = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
            np.testing.assert_allclose(maps[n].numpy(), expected, rtol=1e-9, atol=1e-12)
    assert (maps[:, 7, :] == 0).all() and (maps[:, :, 7] == 0).all()


def test_peak_in_box_by_hand():
    maps = np.zeros((3, 5, 6))
    maps[0, 2, 3] = 1  # row 2, column 3
    maps[1, 4, 0] = 1  # row 4, column 0
    maps[2, 1, 5] = 1  # row 1, column 5: on the box's right edge, which is outside
    boxes = np.array([[3, 2, 4, 3], [1, 0, 6, 5], [0, 0, 5, 5]], dtype=np.float32)
    np.testing.assert_array_equal(explain.peak_in_box(maps, boxes), [True, False, False])
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        explain.peak_in_box(maps, boxes[:2])


def test_fgsm_is_a_signed_gradient_step_that_raises_the_loss_to_first_order():
    model = _small_cnn(seed=5)
    generator = torch.Generator().manual_seed(6)
    images = 0.2 + 0.6 * torch.rand(4, 2, 8, 8, dtype=torch.float64, generator=generator)  # far from the clip
    labels = torch.tensor([0, 1, 2, 3])
    x = images.clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), labels, reduction="sum")
    (gradient,) = torch.autograd.grad(loss, x)
    epsilon = 1e-4
    adversarial = explain.fgsm(model, images, labels, epsilon)
    torch.testing.assert_close(adversarial, images + epsilon * gradient.sign())
    assert (adversarial - images).abs().max() <= epsilon * (1 + 1e-12)
    with torch.no_grad():
        increase = F.cross_entropy(model(adversarial), labels, reduction="sum") - loss
    # First order: the loss grows by epsilon times the L1 norm of the gradient, the most any step of that size can.
    assert increase.item() == pytest.approx(epsilon * gradient.abs().sum().item(), rel=1e-2)
    torch.testing.assert_close(explain.fgsm(model, images, labels, 0.0), images)
    clipped = explain.fgsm(model, images, labels, 0.5)
    assert clipped.min() >= 0 and clipped.max() <= 1
    with pytest.raises(ValueError, match="epsilon"):
        explain.fgsm(model, images, labels, -0.1)


def test_models_keep_their_mode_and_bad_input_is_rejected():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout(0.5), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    model.train()
    images, targets = torch.rand(2, 1, 6, 6), torch.tensor([0, 2])
    first = explain.saliency(model, images, targets)
    torch.testing.assert_close(first, explain.saliency(model, images, targets))  # dropout is off: deterministic
    explain.occlusion(model, images, targets, patch_size=2, stride=2)
    explain.grad_cam(model, model[0], images, targets)
    assert model.training
    with torch.no_grad():  # the gradients are taken even inside no_grad
        torch.testing.assert_close(explain.saliency(model, images, targets), first)
        explain.fgsm(model, images, targets, 0.1)
        explain.grad_cam(model, model[0], images, targets)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        explain.saliency(model, torch.rand(1, 6, 6), torch.tensor([0]))
    with pytest.raises(ValueError, match="targets"):
        explain.saliency(model, images, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="patch_size"):
        explain.occlusion(model, images, targets, patch_size=7)
    with pytest.raises(ValueError, match="layer"):
        explain.grad_cam(model, model[2], images, targets)  # Flatten outputs (N, 32), not maps
