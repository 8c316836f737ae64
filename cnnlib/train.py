"""Training and evaluating PyTorch models: one loop that every chapter uses.

The loop is deliberately plain (mini-batches, a loss, a step) so that a chapter can show it with
:func:`cnnlib.show_source` and the reader sees every line that trains a network in this book. Its optional parts,
data augmentation and early stopping on validation data, are the subject of the chapter on generalization.
"""

from __future__ import annotations

import math
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
        validation_loss: loss on the validation data after each epoch (empty without validation data).
        validation_accuracy: accuracy on the validation data after each epoch (empty without validation data).
        best_epoch: the epoch (counted from 1) with the lowest validation loss so far, or None without validation
            data; with ``restore_best`` the model ends with that epoch's weights.
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    validation_accuracy: list[float] = field(default_factory=list)
    best_epoch: int | None = None


def _check_int(name: str, value, smallest: int) -> int:
    """``value`` as a Python int if it is an int (NumPy's too, not bool) of at least ``smallest``, else an error."""
    if not isinstance(value, int | np.integer) or isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}")
    if value < smallest:
        raise ValueError(f"{name} must be an int of at least {smallest}, got {value}")
    return int(value)


def _as_tensors(images, labels, device):
    """Images as float32 and labels as int64 tensors on ``device``, after checking that the labels are class indices.

    Float labels are refused, not truncated (2.7 would silently become class 2), and so are booleans; an empty set
    is refused too, since its mean loss and accuracy are 0 / 0.
    """
    import torch

    if isinstance(labels, torch.Tensor):
        integer = not (labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool)
    else:
        labels = np.asarray(labels)
        integer = np.issubdtype(labels.dtype, np.integer)
    if not integer or labels.ndim != 1:
        raise ValueError(f"labels must be integer class indices of shape (N,), got dtype {labels.dtype} and shape "
                         f"{tuple(labels.shape)}")
    images = torch.as_tensor(np.asarray(images, dtype=np.float32), device=device)
    labels = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=device)
    if len(images) != len(labels):
        raise ValueError(f"expected as many labels as images, got {len(labels)} labels for {len(images)} images")
    if len(images) == 0:
        raise ValueError(f"expected at least one image, got images of shape {tuple(images.shape)}")
    return images, labels


def evaluate(model, images, labels, batch_size: int = 500, device=None) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of a classifier on a data set, without tracking gradients.

    Args:
        model: a ``torch.nn.Module`` mapping images of shape (N, ...) to logits of shape (N, num_classes).
        images: array or tensor of shape (N, ...).
        labels: integer class labels of shape (N,).
        batch_size: images evaluated at once, a positive int.
        device: where to compute (default :func:`cnnlib.device`).

    Returns:
        ``(loss, accuracy)``: the mean loss over the N examples and the fraction classified correctly.

    Raises:
        TypeError: for a batch size that is not an int.
        ValueError: for a batch size below 1, labels that are not integers of shape (N,), as many as the images,
            or no images at all.
    """
    import torch
    import torch.nn.functional as F

    from cnnlib.utils import device as default_device

    batch_size = _check_int("batch_size", batch_size, 1)
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
    seed: int | None = None,
    device=None,
    progress: bool = True,
    augment=None,
    validation=None,
    patience: int | None = None,
    restore_best: bool = False,
) -> History:
    """Train a classifier with mini-batch gradient descent on softmax cross-entropy.

    Each epoch visits the training images once in a seeded random order, in mini-batches; after each epoch the model
    is evaluated on ``validation`` and ``test`` if given. Two calls with the same seed and data give the same history
    on the CPU (a model with dropout also needs the same state of PyTorch's global generator).

    Early stopping watches the validation loss: training stops once it has not improved for ``patience`` epochs in
    a row, and ``restore_best`` puts back the weights (and buffers, such as batch-norm statistics) of the epoch
    where it was lowest. Choose the epoch on validation data carved from the training set, never on the test set,
    or the test accuracy stops being an honest estimate.

    Args:
        model: a ``torch.nn.Module`` mapping images of shape (N, ...) to logits of shape (N, num_classes). It is
            moved to ``device`` and trained in place.
        train: ``(images, labels)``: arrays or tensors of shapes (N, ...) and (N,), N >= 1, the labels integers.
        test: ``(images, labels)`` evaluated after each epoch, or None.
        epochs: passes over the training data, an int >= 0.
        batch_size: images per gradient step, an int >= 1.
        lr: learning rate.
        optimizer: ``"sgd"`` (with ``momentum``) or ``"adam"``.
        momentum: momentum of SGD.
        weight_decay: L2 penalty coefficient passed to the optimizer.
        seed: seed of the batch order, a non-negative int (None: :func:`cnnlib.book_seed`, moved by
            ``CNN_BOOK_SEED``).
        device: where to train (default :func:`cnnlib.device`: a GPU if there is one).
        progress: show a tqdm progress bar (one line per call, updated per epoch).
        augment: None, or a callable ``augment(images, generator=...)`` applied to every training mini-batch of
            shape (B, ...) before the forward pass (for example from :mod:`cnnlib.transforms`); ``generator`` is a
            ``torch.Generator`` seeded from ``seed``, so augmented runs are reproducible too. The training accuracy
            is then measured on the augmented images.
        validation: ``(images, labels)`` evaluated after each epoch and watched by early stopping, or None.
        patience: stop after this many epochs in a row without a lower validation loss, an int >= 1 (None: never
            stop early).
        restore_best: end with the weights of the epoch with the lowest validation loss.

    Returns:
        A :class:`History` with one entry per epoch trained; its test entries describe the model of each epoch, so
        after ``restore_best`` the final model's are those at index ``best_epoch - 1``.

    Raises:
        TypeError: for an ``epochs``, ``batch_size``, ``seed`` or ``patience`` that is not an int (a float is not
            rounded).
        ValueError: for an unknown optimizer, a negative ``epochs`` or ``seed``, a ``batch_size`` or ``patience``
            below 1, labels that are not integer class indices of shape (N,) (float labels are not truncated) or do
            not match the images, an empty data set, or early stopping settings without validation data. PyTorch's
            optimizers raise ValueError for a negative ``lr``, ``momentum`` or ``weight_decay``.
    """
    import torch
    import torch.nn.functional as F

    from cnnlib.utils import book_seed
    from cnnlib.utils import device as default_device
    from cnnlib.utils import progress as progress_bar

    epochs = _check_int("epochs", epochs, 0)
    batch_size = _check_int("batch_size", batch_size, 1)  # a negative one once trained nothing and reported loss 0.0
    seed = book_seed() if seed is None else _check_int("seed", seed, 0)
    if patience is not None and (not isinstance(patience, int | np.integer) or isinstance(patience, bool | np.bool_)):
        raise TypeError(f"patience must be a positive number of epochs (an int) or None, got {patience!r}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be a positive number of epochs or None, got {patience!r}")
    device = device or default_device()
    model.to(device)
    train_images, train_labels = _as_tensors(*train, device)
    if optimizer == "sgd":
        step = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer == "adam":
        step = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    if (patience is not None or restore_best) and validation is None:
        raise ValueError("early stopping (patience, restore_best) needs validation=(images, labels), got None")
    order_generator = torch.Generator().manual_seed(seed)
    augment_generator = torch.Generator().manual_seed(seed + 2**32)  # a stream of its own: same batch order
    history = History()
    best_loss, best_state, epochs_without_improvement = math.inf, None, 0
    bar = progress_bar(range(epochs), desc="epochs", disable=not progress, leave=True)
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_images), generator=order_generator).to(device)
        total_loss, correct = 0.0, 0
        for begin in range(0, len(order), batch_size):
            batch = order[begin : begin + batch_size]
            images = train_images[batch]
            if augment is not None:
                images = augment(images, generator=augment_generator)
            logits = model(images)
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
        if validation is not None:
            validation_loss, validation_accuracy = evaluate(model, *validation, device=device)
            history.validation_loss.append(validation_loss)
            history.validation_accuracy.append(validation_accuracy)
            if validation_loss < best_loss:
                best_loss, history.best_epoch, epochs_without_improvement = validation_loss, epoch + 1, 0
                if restore_best:  # a copy, not a reference: training goes on changing the tensors in place
                    best_state = {name: value.detach().clone() for name, value in model.state_dict().items()}
            else:
                epochs_without_improvement += 1
        history.seconds.append(time.perf_counter() - start)
        postfix = {"loss": f"{history.train_loss[-1]:.3f}"}
        if validation is not None:
            postfix["val loss"] = f"{history.validation_loss[-1]:.3f}"
        if test is not None:
            postfix["test acc"] = f"{history.test_accuracy[-1]:.3f}"
        bar.set_postfix(postfix)
        if patience is not None and epochs_without_improvement >= patience:
            break
    if restore_best:
        model.load_state_dict(best_state)
    return history


def plot_history(history: History, title: str | None = None):
    """Plot loss and accuracy per epoch, training against held-out data.

    Draws the training curves, the validation and test curves when the history has them, and a dotted vertical
    line at ``history.best_epoch`` when it is set.

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
    if history.validation_loss:
        loss_ax.plot(epochs, history.validation_loss, "^:", color=PALETTE["pool"], label="validation")
        accuracy_ax.plot(epochs, history.validation_accuracy, "^:", color=PALETTE["pool"], label="validation")
    if history.test_loss:
        loss_ax.plot(epochs, history.test_loss, "s--", color=PALETTE["output"], label="test")
        accuracy_ax.plot(epochs, history.test_accuracy, "s--", color=PALETTE["output"], label="test")
    if history.best_epoch is not None:
        for ax in (loss_ax, accuracy_ax):
            ax.axvline(history.best_epoch, color=PALETTE["reference"], linestyle=":", label="best epoch")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    accuracy_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (loss_ax, accuracy_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
