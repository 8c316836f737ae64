"""cnnlib.train: the loop learns, is deterministic, and evaluate computes what it says."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from cnnlib import data, train


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


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


def test_plot_history_draws_both_curves(digits):
    history = train.fit(small_cnn(), digits[:2], digits[2:], epochs=2, progress=False)
    fig = train.plot_history(history, title="digits")
    loss_ax, accuracy_ax = fig.axes
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train", "test"]
    assert np.allclose(accuracy_ax.get_lines()[1].get_ydata(), history.test_accuracy)
