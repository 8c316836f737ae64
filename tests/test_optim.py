"""cnnlib.optim takes the same steps as torch.optim on the same network and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn as torch_nn

from cnnlib import functional as F
from cnnlib import nn, optim


def twin_networks():
    torch.manual_seed(0)
    reference = torch_nn.Sequential(
        torch_nn.Conv2d(1, 3, 3), torch_nn.ReLU(), torch_nn.MaxPool2d(2), torch_nn.Flatten(), torch_nn.Linear(27, 4),
    ).double()
    return reference, nn.from_torch(reference)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda net: optim.SGD(net, lr=0.1), lambda params: torch.optim.SGD(params, lr=0.1)),
        (lambda net: optim.SGD(net, lr=0.05, momentum=0.9, weight_decay=0.01),
         lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=0.01)),
        (lambda net: optim.Adam(net, lr=0.01), lambda params: torch.optim.Adam(params, lr=0.01)),
        (lambda net: optim.Adam(net, lr=0.003, betas=(0.8, 0.99), weight_decay=0.1),
         lambda params: torch.optim.Adam(params, lr=0.003, betas=(0.8, 0.99), weight_decay=0.1)),
    ],
    ids=["sgd", "sgd-momentum-decay", "adam", "adam-betas-decay"],
)
def test_optimizers_take_torchs_steps(ours, theirs):
    reference, network = twin_networks()
    our_optimizer, their_optimizer = ours(network), theirs(reference.parameters())
    generator = np.random.default_rng(0)
    for _ in range(5):
        x = generator.standard_normal((6, 1, 8, 8))
        targets = generator.integers(0, 4, 6)
        logits = network(x)
        our_optimizer.zero_grad()
        network.backward(F.cross_entropy_backward(logits, targets))
        our_optimizer.step()

        their_optimizer.zero_grad()
        torch.nn.functional.cross_entropy(reference(torch.from_numpy(x)), torch.from_numpy(targets)).backward()
        their_optimizer.step()
    moved = False
    for name, parameter in reference.named_parameters():
        np.testing.assert_allclose(network.parameters()[name], parameter.detach().numpy(), rtol=1e-9, atol=1e-12)
        moved |= not np.allclose(network.parameters()[name], twin_networks()[1].parameters()[name])
    assert moved


def test_sgd_descends_a_quadratic_to_its_minimum():
    layer = nn.Linear(2, 1, bias=False, rng=0).astype(np.float64)
    optimizer = optim.SGD(layer, lr=0.1, momentum=0.5)
    target = np.array([[1.0, -2.0]])
    for _ in range(200):  # minimize 0.5 * ||weight - target||^2, whose gradient is weight - target
        layer.grads["weight"] = layer.weight - target
        optimizer.step()
    np.testing.assert_allclose(layer.weight, target, atol=1e-8)


def test_step_without_gradients_is_an_error():
    with pytest.raises(RuntimeError, match="backward"):
        optim.SGD(nn.Linear(2, 2), lr=0.1).step()


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: optim.SGD(nn.Linear(2, 2), lr=0.0), "lr must be positive"),
        (lambda: optim.SGD(nn.Linear(2, 2), lr=0.1, momentum=1.0), "momentum"),
        (lambda: optim.SGD(nn.Linear(2, 2), lr=0.1, weight_decay=-1.0), "weight_decay"),
        (lambda: optim.Adam(nn.Linear(2, 2), betas=(0.9, 1.0)), "betas"),
        (lambda: optim.Adam(nn.Linear(2, 2), eps=0.0), "eps"),
    ],
)
def test_bad_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()
