"""Data-parallel training on several processes with ``torch.distributed``, and the arithmetic of all-reduce.

Data parallelism gives every process a full copy of the network and a different shard of each mini-batch. Each
process computes the gradient of the mean loss over its shard; an *all-reduce* then averages the gradients over
the processes, so every copy takes the same step, the step that one process would take on the whole mini-batch.

The pieces here:

- :func:`shard_bounds` and :func:`train_steps`: one training loop for one process or many; with ``world_size`` > 1
  it runs inside ``torch.distributed`` and the model is wrapped in ``DistributedDataParallel``.
- :func:`ring_allreduce`: the ring algorithm simulated in NumPy, counting what each worker sends;
  :func:`ring_allreduce_cost` is the count in closed form.
- :func:`launch`: starts ``python -m torch.distributed.run`` (the ``torchrun`` launcher) with this module as the
  program each process runs (:func:`main`), and returns what rank 0 measured.

Nothing here needs more than one machine or a GPU: the ``gloo`` backend runs the processes on the CPU and talks
over the loopback interface, exactly as it would between machines.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def shard_bounds(batch_size: int, rank: int, world_size: int) -> tuple[int, int]:
    """The slice ``[start, stop)`` of a global mini-batch that process ``rank`` of ``world_size`` computes.

    The shards are contiguous and of equal size, so the mean of the shards' mean losses is the mean loss of the
    whole mini-batch, and the averaged gradient is its gradient.

    Args:
        batch_size: size B of the global mini-batch, a multiple of ``world_size``.
        rank: the process, from 0 to ``world_size - 1``.
        world_size: the number of processes P.

    Returns:
        ``(rank * B / P, (rank + 1) * B / P)``.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank must be from 0 to world_size - 1 = {world_size - 1}, got rank {rank}")
    if batch_size % world_size:
        raise ValueError(f"batch_size must be a multiple of world_size = {world_size}, got {batch_size}")
    size = batch_size // world_size
    return rank * size, (rank + 1) * size


def ring_allreduce(arrays: list[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
    """Sum P arrays with the ring algorithm, as P workers would, and count the numbers each worker sends.

    Each worker's array is cut into P chunks. In the *reduce-scatter* phase (P - 1 steps) worker i sends one chunk
    to worker i + 1 (mod P), which adds it to its own; after it, worker i holds the complete sum of chunk i + 1.
    In the *all-gather* phase (P - 1 more steps) the complete chunks travel once around the ring. Every step, every
    worker sends one chunk and receives one, so all links are busy at once.

    Args:
        arrays: one 1-D array per worker, all of the same length N.

    Returns:
        ``(results, sent)``: each worker's copy of the sum (all equal to ``sum(arrays)``), and how many numbers each
        worker sent, ``2 (P - 1) N / P`` when P divides N (:func:`ring_allreduce_cost`).
    """
    workers = len(arrays)
    if workers < 1 or any(np.ndim(a) != 1 or len(a) != len(arrays[0]) for a in arrays):
        raise ValueError(f"expected one 1-D array of the same length per worker, got shapes "
                         f"{[np.shape(a) for a in arrays]}")
    chunks = [np.array_split(np.array(a, dtype=np.float64), workers) for a in arrays]
    sent = [0] * workers
    for step in range(workers - 1):  # reduce-scatter
        outgoing = [(i, (i - step) % workers, chunks[i][(i - step) % workers].copy()) for i in range(workers)]
        for sender, index, chunk in outgoing:
            chunks[(sender + 1) % workers][index] += chunk
            sent[sender] += chunk.size
    for step in range(workers - 1):  # all-gather
        outgoing = [(i, (i + 1 - step) % workers, chunks[i][(i + 1 - step) % workers].copy()) for i in range(workers)]
        for sender, index, chunk in outgoing:
            chunks[(sender + 1) % workers][index] = chunk
            sent[sender] += chunk.size
    return [np.concatenate(worker) for worker in chunks], sent


def ring_allreduce_cost(num_elements: int, world_size: int, latency: float = 0.0,
                        bandwidth: float = float("inf"), bytes_per_element: int = 4) -> tuple[float, float]:
    """What one worker sends in a ring all-reduce of N numbers over P workers, and the time it takes.

        sent = 2 (P - 1) / P * N,    T = 2 (P - 1) * latency + sent * b / bandwidth

    with the latency of one message in seconds, the bandwidth of a link in bytes per second and b the bytes per
    number. The volume per worker is almost independent of P: the ring is bandwidth optimal
    (Patarasuk and Yuan, 2009).

    Returns:
        ``(numbers sent per worker, seconds)``.
    """
    if world_size < 1 or num_elements < 0:
        raise ValueError(f"expected world_size >= 1 and num_elements >= 0, got {world_size} and {num_elements}")
    sent = 2 * (world_size - 1) / world_size * num_elements
    return sent, 2 * (world_size - 1) * latency + sent * bytes_per_element / bandwidth


def train_steps(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, global_batch: int = 64,
                epochs: int = 1, lr: float = 1e-3, optimizer: str = "adam", seed: int = 0, rank: int = 0,
                world_size: int = 1, warmup_steps: int = 0) -> list[float]:
    """Train ``model`` with mini-batches of ``global_batch`` images shared among ``world_size`` processes.

    Every process draws the same seeded order of the training images; at each step process ``rank`` takes its
    shard (:func:`shard_bounds`) of the next global mini-batch, computes the mean cross-entropy over it and its
    gradient. With ``world_size`` > 1 the model must be a ``DistributedDataParallel`` module, whose backward pass
    averages the gradients of all processes, so every process takes the step of the whole mini-batch.

    Args:
        model: maps images (N, ...) to logits (N, classes); trained in place.
        images, labels: the training set, shapes (N, ...) and (N,), the same on every process.
        global_batch: images per step over all processes, a multiple of ``world_size``.
        epochs: passes over the training set (a last incomplete mini-batch is dropped, so every shard is full).
        lr: the learning rate after warm-up.
        optimizer: ``"adam"``, or ``"sgd"`` with momentum 0.9.
        seed: seed of the image order, the same on every process.
        rank, world_size: this process and the number of processes.
        warmup_steps: steps over which the learning rate rises linearly from ``lr / warmup_steps`` to ``lr``
            (Goyal et al., 2017); 0 for none.

    Returns:
        The loss of every step, averaged over the whole global mini-batch (all-reduced when ``world_size`` > 1).
    """
    start, stop = shard_bounds(global_batch, rank, world_size)
    if optimizer == "adam":
        step = torch.optim.Adam(model.parameters(), lr=lr)
    elif optimizer == "sgd":
        step = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    generator = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for first in range(0, len(order) - global_batch + 1, global_batch):
            if warmup_steps and len(losses) < warmup_steps:
                for group in step.param_groups:
                    group["lr"] = lr * (len(losses) + 1) / warmup_steps
            batch = order[first : first + global_batch][start:stop]
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            step.zero_grad()
            loss.backward()
            step.step()
            total = loss.detach().clone()
            if world_size > 1:
                dist.all_reduce(total)
            losses.append(float(total) / world_size)
    return losses


def _seconds(function, repeats: int, summary=statistics.median) -> float:
    """Time ``function()`` ``repeats`` times and summarize (the median; the minimum for the fastest possible call)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return summary(times)


def main(argv: list[str] | None = None) -> None:
    """The program every process runs under ``torchrun``: check, train and time data-parallel training.

    Rank 0 writes a JSON file (``--out``) with: the largest difference between the all-reduced gradient of the
    shards and the gradient of the whole mini-batch computed by one process; the loss of every training step and
    the test accuracy after training; the median time of a training step with and without the gradient all-reduce;
    and the median time of ``all_reduce`` for several message sizes.
    """
    from torch.nn.parallel import DistributedDataParallel

    from cnnlib import benchmark
    from cnnlib.train import evaluate

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--global-batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timing-steps", type=int, default=15)
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    split = benchmark.load()
    images, labels = torch.as_tensor(split.x_train), torch.as_tensor(split.y_train)
    torch.manual_seed(args.seed)
    model = benchmark.small_model(args.model)
    reference = benchmark.small_model(args.model)
    reference.load_state_dict(model.state_dict())
    parallel = DistributedDataParallel(model)  # broadcasts rank 0's weights; the seed made them equal anyway

    # 1. One mini-batch: the all-reduced gradient of the shards against one process's gradient of the whole batch.
    batch = torch.arange(args.global_batch)
    start, stop = shard_bounds(args.global_batch, rank, world_size)
    F.cross_entropy(parallel(images[batch[start:stop]]), labels[batch[start:stop]]).backward()
    F.cross_entropy(reference(images[batch]), labels[batch]).backward()
    shard_grads = torch.cat([p.grad.flatten() for p in parallel.parameters()])
    whole_grads = torch.cat([p.grad.flatten() for p in reference.parameters()])
    gradient_difference = float((shard_grads - whole_grads).abs().max())
    gradient_scale = float(whole_grads.abs().max())
    parallel.zero_grad()

    # 2. Training, data-parallel.
    start_time = time.perf_counter()
    losses = train_steps(parallel, images, labels, global_batch=args.global_batch, epochs=args.epochs,
                         seed=args.seed, rank=rank, world_size=world_size)
    train_seconds = time.perf_counter() - start_time
    test_loss, test_accuracy = evaluate(model, split.x_test, split.y_test)

    # 3. Where the time goes: a step with the all-reduce, a step without it (DDP's no_sync), and all_reduce alone.
    shard = images[batch[start:stop]], labels[batch[start:stop]]

    def step_with_sync():
        F.cross_entropy(parallel(shard[0]), shard[1]).backward()

    def step_without_sync():
        with parallel.no_sync():
            F.cross_entropy(parallel(shard[0]), shard[1]).backward()

    dist.barrier()
    with_sync = _seconds(step_with_sync, args.timing_steps)
    dist.barrier()
    without_sync = _seconds(step_without_sync, args.timing_steps)
    num_parameters = sum(p.numel() for p in model.parameters())
    sizes = sorted({1_000, 10_000, 100_000, num_parameters, 1_000_000})
    allreduce_seconds = {}
    for size in sizes:
        tensor = torch.ones(size)
        dist.barrier()
        # The fastest of several calls: what the link can do when no other program interrupts either process.
        allreduce_seconds[size] = _seconds(lambda tensor=tensor: dist.all_reduce(tensor), 15, summary=min)
    if rank == 0:
        Path(args.out).write_text(json.dumps({
            "world_size": world_size, "model": args.model, "global_batch": args.global_batch, "seed": args.seed,
            "gradient_difference": gradient_difference, "gradient_scale": gradient_scale,
            "losses": losses, "train_seconds": train_seconds,
            "test_accuracy": test_accuracy, "test_loss": test_loss,
            "step_with_sync": with_sync, "step_without_sync": without_sync, "num_parameters": num_parameters,
            "allreduce_sizes": sizes, "allreduce_seconds": [allreduce_seconds[s] for s in sizes],
        }))
    dist.destroy_process_group()


def launch_command(nproc: int, out: str | os.PathLike, **options) -> list[str]:
    """The command that starts ``nproc`` processes of :func:`main` on this machine, as ``torchrun`` would.

    ``python -m torch.distributed.run`` is the module behind the ``torchrun`` command. ``--standalone`` runs the
    rendezvous on this machine at a free port; on a cluster it is replaced by ``--nnodes``, ``--node-rank`` (or an
    elastic rendezvous) and the address of the first machine.
    """
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "cnnlib.distributed", "--out", str(out)]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    return command


def launch(nproc: int = 2, **options) -> dict:
    """Run :func:`main` on ``nproc`` local processes and return what rank 0 measured (see :func:`main`).

    Each process uses one thread. Options are :func:`main`'s command-line flags (``global_batch``, ``epochs``,
    ``seed``, ``model``, ``timing_steps``).

    Raises:
        RuntimeError: with the processes' output when the launch fails.
    """
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        finished = subprocess.run(launch_command(nproc, out, **options), capture_output=True, text=True,
                                  env=environment, check=False)
        if finished.returncode != 0 or not out.is_file():
            raise RuntimeError(f"torch.distributed.run failed ({finished.returncode}):\n{finished.stdout}\n"
                               f"{finished.stderr}")
        return json.loads(out.read_text())


if __name__ == "__main__":
    main()
