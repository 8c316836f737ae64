"""cnnlib.train: the loop learns, is deterministic, and evaluate computes what it says."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from cnnlib import data, train


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # The networks here are tiny: one thread is as fast as several and does not slow down on a shared processor.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 10))


def test_fit_learns_digits(digits):
    model = small_cnn()
    history = train.fit(model, digits[:2], digits[2:], epochs=4, lr=0.05, progress=False)
    assert len(history.train_loss) == len(history.test_accuracy) == len(history.seconds) == 4
    assert history.train_loss[-1] < history.train_loss[0] / 2
    assert history.test_accuracy[-1] > 0.9
    # The last entry of the history is the model as it is now.
    assert train.evaluate(model, *digits[2:])[1] == pytest.approx(history.test_accuracy[-1])


def test_fit_is_deterministic_for_a_seed(digits):
    first = train.fit(small_cnn(), digits[:2], epochs=2, progress=False, seed=3)
    second = train.fit(small_cnn(), digits[:2], epochs=2, progress=False, seed=3)
    other = train.fit(small_cnn(), digits[:2], epochs=2, progress=False, seed=4)
    assert first.train_loss == second.train_loss
    assert first.train_loss != other.train_loss


def test_adam_also_trains(digits):
    history = train.fit(small_cnn(), digits[:2], epochs=2, lr=1e-3, optimizer="adam", progress=False)
    assert history.train_loss[-1] < history.train_loss[0]


def test_evaluate_on_a_constant_classifier(digits):
    class AlwaysZero(nn.Module):
        def forward(self, images):
            logits = torch.zeros(len(images), 10)
            logits[:, 0] = 1.0
            return logits

    images, labels = digits.x_test, digits.y_test
    loss, accuracy = train.evaluate(AlwaysZero(), images, labels, batch_size=7)
    assert accuracy == pytest.approx(np.mean(labels == 0))
    # Softmax of (1, 0, ..., 0): the true class has probability e/(e+9) when it is 0, 1/(e+9) otherwise.
    expected = np.where(labels == 0, -math.log(math.e / (math.e + 9)), -math.log(1 / (math.e + 9))).mean()
    assert loss == pytest.approx(expected, rel=1e-5)


def test_bad_arguments_raise(digits):
    with pytest.raises(ValueError, match="300 labels for 1497 images"):
        train.fit(small_cnn(), (digits.x_train, digits.y_test), progress=False)
    with pytest.raises(ValueError, match="'sgd' or 'adam'"):
        train.fit(small_cnn(), digits[:2], optimizer="rmsprop", progress=False)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"batch_size": -64}, ValueError, "batch_size must be an int of at least 1, got -64"),  # trained nothing
        ({"batch_size": 0}, ValueError, "batch_size must be an int of at least 1, got 0"),
        ({"batch_size": 64.0}, TypeError, "batch_size must be an int, got 64.0"),
        ({"batch_size": True}, TypeError, "batch_size must be an int, got True"),
        ({"epochs": -1}, ValueError, "epochs must be an int of at least 0, got -1"),
        ({"epochs": 2.5}, TypeError, "epochs must be an int, got 2.5"),
        ({"seed": -1}, ValueError, "seed must be an int of at least 0, got -1"),
        ({"seed": 1.5}, TypeError, "seed must be an int, got 1.5"),
        ({"patience": 1.5, "validation": "unused"}, TypeError, "patience must be a positive number of epochs"),
        ({"lr": -0.1}, ValueError, "learning rate"),  # torch's own check
    ],
)
def test_fit_refuses_bad_counts_instead_of_training_nothing(digits, kwargs, error, message):
    model = small_cnn()
    before = [parameter.detach().clone() for parameter in model.parameters()]
    with pytest.raises(error, match=re.escape(message)):
        train.fit(model, digits[:2], progress=False, **kwargs)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize(
    "labels",
    [
        lambda y: y.astype(np.float64) + 0.7,  # was truncated: 2.7 trained as class 2
        lambda y: y.astype(np.float32),  # integral values, but float: refused rather than guessed at
        lambda y: torch.as_tensor(y, dtype=torch.float32),
        lambda y: (y % 2).astype(bool),
        lambda y: y.reshape(-1, 1),
    ],
)
def test_fit_and_evaluate_refuse_labels_that_are_not_integer_class_indices(digits, labels):
    bad = labels(digits.y_train)
    with pytest.raises(ValueError, match=r"labels must be integer class indices of shape \(N,\)"):
        train.fit(small_cnn(), (digits.x_train, bad), progress=False)
    with pytest.raises(ValueError, match=r"labels must be integer class indices of shape \(N,\)"):
        train.evaluate(small_cnn(), digits.x_train, bad)
    with pytest.raises(ValueError, match=r"labels must be integer class indices"):
        train.fit(small_cnn(), digits[:2], (digits.x_train, bad), progress=False)


def test_fit_and_evaluate_accept_integer_labels_of_any_width_as_arrays_tensors_or_lists(digits):
    x, y = digits.x_train[:64], digits.y_train[:64]
    expected = train.evaluate(small_cnn(), x, y)
    for labels in (y.astype(np.int32), y.astype(np.uint8), torch.as_tensor(y), list(y)):
        assert train.evaluate(small_cnn(), x, labels) == expected
    history = train.fit(small_cnn(), (x, y.astype(np.int32)), epochs=1, progress=False)
    assert history.train_loss == train.fit(small_cnn(), (x, y), epochs=1, progress=False).train_loss


def test_fit_with_zero_epochs_trains_nothing_and_says_so(digits):
    history = train.fit(small_cnn(), digits[:2], epochs=0, progress=False)
    assert history.train_loss == [] and history.seconds == []


def test_evaluate_refuses_bad_batch_sizes_and_empty_data(digits):
    with pytest.raises(ValueError, match="batch_size must be an int of at least 1, got -5"):  # was loss 0.0
        train.evaluate(small_cnn(), digits.x_test, digits.y_test, batch_size=-5)
    with pytest.raises(TypeError, match=r"batch_size must be an int, got 10\.0"):
        train.evaluate(small_cnn(), digits.x_test, digits.y_test, batch_size=10.0)
    with pytest.raises(ValueError, match=r"at least one image, got images of shape \(0, 1, 8, 8\)"):
        train.evaluate(small_cnn(), digits.x_test[:0], digits.y_test[:0])  # was ZeroDivisionError
    with pytest.raises(ValueError, match="at least one image"):
        train.fit(small_cnn(), (digits.x_test[:0], digits.y_test[:0]), progress=False)


def test_plot_history_draws_both_curves(digits):
    history = train.fit(small_cnn(), digits[:2], digits[2:], epochs=2, progress=False)
    fig = train.plot_history(history, title="digits")
    loss_ax, accuracy_ax = fig.axes
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train", "test"]
    assert np.allclose(accuracy_ax.get_lines()[1].get_ydata(), history.test_accuracy)


def test_augment_is_called_on_every_training_batch(digits):
    calls = []

    def record(images, generator):
        calls.append((images.shape, type(generator)))
        return images

    train.fit(small_cnn(), digits[:2], digits[2:], epochs=2, batch_size=100, progress=False, augment=record)
    batches_per_epoch = math.ceil(len(digits.x_train) / 100)
    assert len(calls) == 2 * batches_per_epoch  # training batches only: never the held-out data
    assert calls[0] == ((100, 1, 8, 8), torch.Generator)
    assert calls[batches_per_epoch - 1][0][0] == len(digits.x_train) - 100 * (batches_per_epoch - 1)


def test_augment_does_not_change_the_batch_order(digits):
    # An identity augmentation draws nothing, so the run must equal one without augmentation, step for step.
    plain = train.fit(small_cnn(), digits[:2], epochs=2, progress=False, seed=1)
    identity = train.fit(
        small_cnn(), digits[:2], epochs=2, progress=False, seed=1, augment=lambda images, generator: images
    )
    assert identity.train_loss == plain.train_loss


def test_augmented_training_is_reproducible_and_uses_the_augmented_images(digits):
    from cnnlib.transforms import random_shift

    def shift(images, generator):
        return random_shift(images, 1, generator)

    first = train.fit(small_cnn(), digits[:2], epochs=2, progress=False, seed=2, augment=shift)
    second = train.fit(small_cnn(), digits[:2], epochs=2, progress=False, seed=2, augment=shift)
    plain = train.fit(small_cnn(), digits[:2], epochs=2, progress=False, seed=2)
    assert first.train_loss == second.train_loss
    assert first.train_loss != plain.train_loss
    blank = train.fit(small_cnn(), digits[:2], epochs=2, progress=False, augment=lambda images, generator: 0 * images)
    assert blank.train_accuracy[-1] < 0.2  # blank images carry no information about the label


def mislabelled(digits):
    # Validation data whose labels are all wrong: the better the network fits its training data, the higher the
    # loss on these, so the validation loss is lowest early and early stopping must trigger.
    return digits.x_train[:300], (digits.y_train[:300] + 1) % 10


def test_early_stopping_stops_and_restores_the_best_weights(digits):
    model = small_cnn()
    history = train.fit(model, digits[:2], digits[2:], epochs=20, progress=False, validation=mislabelled(digits),
                        patience=2, restore_best=True)
    epochs_run = len(history.train_loss)
    assert epochs_run < 20
    assert len(history.validation_loss) == len(history.test_accuracy) == epochs_run
    assert history.best_epoch == int(np.argmin(history.validation_loss)) + 1
    assert epochs_run == history.best_epoch + 2  # stopped after `patience` epochs without improvement
    # The model now holds the best epoch's weights, not the last epoch's ...
    loss, _ = train.evaluate(model, *mislabelled(digits))
    assert loss == pytest.approx(history.validation_loss[history.best_epoch - 1], rel=1e-5)
    assert loss != pytest.approx(history.validation_loss[-1], rel=1e-3)
    # ... which are exactly those of a run stopped by hand at that epoch.
    by_hand = small_cnn()
    train.fit(by_hand, digits[:2], epochs=history.best_epoch, progress=False)
    for restored, expected in zip(model.parameters(), by_hand.parameters(), strict=True):
        assert torch.equal(restored, expected)


def test_restore_best_without_patience_trains_every_epoch(digits):
    model = small_cnn()
    history = train.fit(model, digits[:2], epochs=4, progress=False, validation=mislabelled(digits), restore_best=True)
    assert len(history.train_loss) == 4
    assert train.evaluate(model, *mislabelled(digits))[0] == pytest.approx(min(history.validation_loss), rel=1e-5)


def test_validation_without_early_stopping_only_measures(digits):
    with_validation = train.fit(small_cnn(), digits[:2], epochs=3, progress=False, validation=digits[2:])
    without = train.fit(small_cnn(), digits[:2], epochs=3, progress=False)
    assert with_validation.train_loss == without.train_loss
    assert len(with_validation.validation_accuracy) == 3 and without.validation_loss == []
    assert with_validation.best_epoch == int(np.argmin(with_validation.validation_loss)) + 1
    assert without.best_epoch is None


def test_early_stopping_needs_validation_data(digits):
    with pytest.raises(ValueError, match="needs validation"):
        train.fit(small_cnn(), digits[:2], digits[2:], patience=3, progress=False)
    with pytest.raises(ValueError, match="needs validation"):
        train.fit(small_cnn(), digits[:2], restore_best=True, progress=False)
    with pytest.raises(ValueError, match="positive number of epochs"):
        train.fit(small_cnn(), digits[:2], validation=digits[2:], patience=0, progress=False)


def test_plot_history_draws_validation_and_best_epoch(digits):
    history = train.fit(small_cnn(), digits[:2], digits[2:], epochs=3, progress=False, validation=digits[2:])
    fig = train.plot_history(history)
    loss_ax, _ = fig.axes
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train", "validation", "test", "best epoch"]
    assert loss_ax.get_lines()[-1].get_xdata()[0] == history.best_epoch
