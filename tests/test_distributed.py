"""cnnlib.distributed: the ring all-reduce against a plain sum and its closed-form count; shards; the loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnlib import distributed


@pytest.mark.parametrize("workers", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("length", [1, 7, 40, 1001])
def test_ring_allreduce_gives_every_worker_the_sum(workers, length):
    rng = np.random.default_rng(workers * 1000 + length)
    arrays = [rng.standard_normal(length) for _ in range(workers)]
    results, sent = distributed.ring_allreduce(arrays)
    for result in results:
        assert np.allclose(result, np.sum(arrays, axis=0))
    # Every worker sends 2 (P - 1) chunks; with uneven chunks the total over workers is still 2 (P - 1) N.
    assert sum(sent) == 2 * (workers - 1) * length
    if length % workers == 0:
        expected, _ = distributed.ring_allreduce_cost(length, workers)
        assert sent == [expected] * workers


def test_ring_cost_formula():
    sent, seconds = distributed.ring_allreduce_cost(1000, 4, latency=1e-3, bandwidth=4000.0)
    assert sent == 1500  # 2 * 3 / 4 * 1000
    assert seconds == pytest.approx(6e-3 + 1500 * 4 / 4000.0)
    with pytest.raises(ValueError, match="world_size"):
        distributed.ring_allreduce_cost(10, 0)


def test_ring_refuses_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="same length"):
        distributed.ring_allreduce([np.zeros(3), np.zeros(4)])


def test_shards_cover_the_batch_once():
    bounds = [distributed.shard_bounds(64, rank, 4) for rank in range(4)]
    assert bounds == [(0, 16), (16, 32), (32, 48), (48, 64)]
    with pytest.raises(ValueError, match="multiple of world_size"):
        distributed.shard_bounds(10, 0, 4)
    with pytest.raises(ValueError, match="rank must be"):
        distributed.shard_bounds(8, 2, 2)


def test_train_steps_warms_up_and_is_reproducible():
    images = torch.randn(40, 3)
    labels = torch.arange(40) % 2

    def run(warmup):
        torch.manual_seed(0)
        model = nn.Linear(3, 2)
        losses = distributed.train_steps(model, images, labels, global_batch=8, epochs=2, lr=0.1, optimizer="sgd",
                                         seed=5, warmup_steps=warmup)
        return losses, model.weight.detach().clone()

    losses, weights = run(0)
    again, weights_again = run(0)
    assert len(losses) == 10 and losses == again and torch.equal(weights, weights_again)
    warmed, warmed_weights = run(4)
    assert warmed[0] == losses[0] and not torch.equal(warmed_weights, weights)  # same start, smaller first steps
    with pytest.raises(ValueError, match="optimizer"):
        distributed.train_steps(nn.Linear(3, 2), images, labels, optimizer="lbfgs")


def test_launch_command_is_torchrun_with_flags():
    command = distributed.launch_command(2, "out.json", global_batch=32, epochs=1)
    assert command[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m"]
    assert command[-4:] == ["--global-batch", "32", "--epochs", "1"]
