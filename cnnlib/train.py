"""Training and evaluating PyTorch models: one loop that every chapter uses.

The loop is deliberately plain (mini-batches, a loss, a step) so that a chapter can show it with
:func:`cnnlib.show_source` and the reader sees every line that trains a network in this book.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class History:
    """What :func:`fit` measured after every epoch.

    Attributes:
        train_loss: mean training loss over each epoch's mini-batches.
        train_accuracy: training accuracy over each epoch's mini-batches (measured while training).
        test_loss: loss on the held-out data after each epoch (empty without held-out data).
        test_accuracy: accuracy on the held-out data after each epoch (empty without held-out data).
        seconds: wall time of each epoch, training and evaluation together.
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def _as_tensors(images, labels, device):
    import torch

    images = torch.as_tensor(np.asarray(images, dtype=np.float32), device=device)
    labels = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=device)
    if len(images) != len(labels):
        raise ValueError(f"expected as many labels as images, got {len(labels)} labels for {len(images)} images")
    return images, labels


def evaluate(model, images, labels, batch_size: int = 500, device=None) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of a classifier on a data set, without tracking gradients.

    Args:
        model: a ``torch.nn.Module`` mapping images of shape (N, ...) to logits of shape (N, num_classes).
        images: array or tensor of shape (N, ...).
        labels: integer class labels of shape (N,).
        batch_size: images evaluated at once.
        device: where to compute (default :func:`cnnlib.device`).

    Returns:
        ``(loss, accuracy)``: the mean loss over the N examples and the fraction classified correctly.
    """
    import torch
    import torch.nn.functional as F

    from cnnlib.utils import device as default_device

    device = device or default_device()
    images, labels = _as_tensors(images, labels, device)
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(images[start : start + batch_size])
            batch_labels = labels[start : start + batch_size]
            total_loss += F.cross_entropy(logits, batch_labels, reduction="sum").item()
            correct += (logits.argmax(dim=1) == batch_labels).sum().item()
    model.train(was_training)
    return total_loss / len(images), correct / len(images)


def fit(
    model,
    train,
    test=None,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 0.05,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    seed: int = 0,
    device=None,
    progress: bool = True,
) -> History:
    """Train a classifier with mini-batch gradient descent on softmax cross-entropy.

    Each epoch visits the training images once in a seeded random order, in mini-batches; after each epoch the model
    is evaluated on ``test`` if given. Two calls with the same seed and data give the same history on the CPU.

    Args:
        model: a ``torch.nn.Module`` mapping images of shape (N, ...) to logits of shape (N, num_classes). It is
            moved to ``device`` and trained in place.
        train: ``(images, labels)``: arrays or tensors of shapes (N, ...) and (N,).
        test: ``(images, labels)`` evaluated after each epoch, or None.
        epochs: passes over the training data.
        batch_size: images per gradient step.
        lr: learning rate.
        optimizer: ``"sgd"`` (with ``momentum``) or ``"adam"``.
        momentum: momentum of SGD.
        weight_decay: L2 penalty coefficient passed to the optimizer.
        seed: seed of the batch order.
        device: where to train (default :func:`cnnlib.device`: a GPU if there is one).
        progress: show a tqdm progress bar (one line per call, updated per epoch).

    Returns:
        A :class:`History` with one entry per epoch.
    """
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    from cnnlib.utils import device as default_device

    device = device or default_device()
    model.to(device)
    train_images, train_labels = _as_tensors(*train, device)
    if optimizer == "sgd":
        step = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer == "adam":
        step = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    order_generator = torch.Generator().manual_seed(seed)
    history = History()
    bar = tqdm(range(epochs), desc="epochs", disable=not progress, leave=True)
    for _ in bar:
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_images), generator=order_generator).to(device)
        total_loss, correct = 0.0, 0
        for begin in range(0, len(order), batch_size):
            batch = order[begin : begin + batch_size]
            logits = model(train_images[batch])
            loss = F.cross_entropy(logits, train_labels[batch])
            step.zero_grad()
            loss.backward()
            step.step()
            total_loss += loss.item() * len(batch)
            correct += (logits.argmax(dim=1) == train_labels[batch]).sum().item()
        history.train_loss.append(total_loss / len(order))
        history.train_accuracy.append(correct / len(order))
        if test is not None:
            test_loss, test_accuracy = evaluate(model, *test, device=device)
            history.test_loss.append(test_loss)
            history.test_accuracy.append(test_accuracy)
        history.seconds.append(time.perf_counter() - start)
        postfix = {"loss": f"{history.train_loss[-1]:.3f}"}
        if test is not None:
            postfix["test acc"] = f"{history.test_accuracy[-1]:.3f}"
        bar.set_postfix(postfix)
    return history


def plot_history(history: History, title: str | None = None):
    """Plot loss and accuracy per epoch, training against held-out data.

    Args:
        history: what :func:`fit` returned.
        title: a title over both panels.

    Returns:
        The matplotlib ``Figure`` (two panels: loss, accuracy).
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from cnnlib.viz import PALETTE

    epochs = np.arange(1, len(history.train_loss) + 1)
    fig, (loss_ax, accuracy_ax) = plt.subplots(1, 2, figsize=(8, 3))
    loss_ax.plot(epochs, history.train_loss, "o-", color=PALETTE["conv"], label="train")
    accuracy_ax.plot(epochs, history.train_accuracy, "o-", color=PALETTE["conv"], label="train")
    if history.test_loss:
        loss_ax.plot(epochs, history.test_loss, "s--", color=PALETTE["output"], label="test")
        accuracy_ax.plot(epochs, history.test_accuracy, "s--", color=PALETTE["output"], label="test")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    accuracy_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (loss_ax, accuracy_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
