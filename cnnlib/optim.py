"""Optimizers for :mod:`cnnlib.nn` networks: stochastic gradient descent (with momentum and weight decay) and Adam.

An optimizer holds a network and, at each :meth:`Optimizer.step`, moves every parameter against the gradient the
last backward pass left in ``network.gradients()``, updating the arrays in place. The updates are PyTorch's, so a
NumPy network and a torch network that start equal and see the same gradients stay equal (``torch.optim.SGD`` and
``torch.optim.Adam`` with the same arguments). A training step reads::

    logits = network(images)
    grad_logits = F.cross_entropy_backward(logits, labels)
    optimizer.zero_grad()
    network.backward(grad_logits)
    optimizer.step()
"""

from __future__ import annotations

import numpy as np

__all__ = ["SGD", "Adam", "Optimizer"]


class Optimizer:
    """What every optimizer shares: the network, the learning rate, weight decay, and per-parameter state.

    Args:
        network: a :class:`cnnlib.nn.Module` whose ``parameters()`` are updated in place.
        lr: the learning rate, positive.
        weight_decay: the L2 penalty coefficient lambda, non-negative: ``lambda * param`` is added to each gradient,
            the gradient of the penalty ``(lambda / 2) * sum(param ** 2)``.

    Raises:
        ValueError: for a non-positive learning rate or a negative weight decay.
    """

    def __init__(self, network, lr: float, weight_decay: float = 0.0) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be non-negative, got {weight_decay}")
        self.network, self.lr, self.weight_decay = network, float(lr), float(weight_decay)
        self.state: dict[str, dict] = {}  # per parameter name: momentum buffers, moments, step counts
        self.steps = 0

    def zero_grad(self) -> None:
        """Forget the network's gradients, before the next backward pass."""
        self.network.zero_grad()

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        gradients = self.network.gradients()
        if not gradients:
            raise RuntimeError("no gradients: run the network's backward pass before step()")
        self.steps += 1
        for name, parameter in self.network.parameters().items():
            if name not in gradients:
                continue  # a parameter the last backward pass did not reach
            gradient = gradients[name].astype(parameter.dtype, copy=False)
            if self.weight_decay:
                gradient = gradient + self.weight_decay * parameter
            parameter -= self._update(name, gradient).astype(parameter.dtype, copy=False)

    def _update(self, name: str, gradient: np.ndarray) -> np.ndarray:
        """The amount to subtract from parameter ``name`` given its gradient (weight decay included)."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum (PyTorch's form, without dampening).

    With gradient g (weight decay added), momentum mu and learning rate lr, each step does::

        v     <- mu * v + g          (v starts at g on the first step)
        param <- param - lr * v

    With mu = 0 this is plain gradient descent, ``param <- param - lr * g``. Momentum averages the recent gradients,
    so steps along a consistent direction grow up to ``1 / (1 - mu)`` times while oscillating components cancel.

    Args:
        network: a :class:`cnnlib.nn.Module`.
        lr: learning rate.
        momentum: mu in [0, 1).
        weight_decay: L2 penalty coefficient.

    Raises:
        ValueError: for out-of-range arguments.
    """

    def __init__(self, network, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(network, lr, weight_decay)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)

    def _update(self, name: str, gradient: np.ndarray) -> np.ndarray:
        if not self.momentum:
            return self.lr * gradient
        state = self.state.setdefault(name, {})
        if "velocity" not in state:
            state["velocity"] = gradient.copy()
        else:
            state["velocity"] = self.momentum * state["velocity"] + gradient
        return self.lr * state["velocity"]


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015): a step per parameter scaled by running estimates of the gradient's moments.

    With gradient g (weight decay added, as in ``torch.optim.Adam``), at step t::

        m     <- beta1 * m + (1 - beta1) * g             first moment (mean) estimate
        v     <- beta2 * v + (1 - beta2) * g**2          second moment estimate
        m_hat =  m / (1 - beta1**t),   v_hat = v / (1 - beta2**t)     bias corrections (m and v start at 0)
        param <- param - lr * m_hat / (sqrt(v_hat) + eps)

    Each entry's step is about ``lr`` in size whatever the scale of its gradient.

    Args:
        network: a :class:`cnnlib.nn.Module`.
        lr: learning rate (1e-3 is the paper's default).
        betas: (beta1, beta2), each in [0, 1).
        eps: added to the denominator.
        weight_decay: L2 penalty coefficient.

    Raises:
        ValueError: for out-of-range arguments.
    """

    def __init__(self, network, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(network, lr, weight_decay)
        if not all(0.0 <= beta < 1.0 for beta in betas) or len(betas) != 2:
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas}")
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.betas, self.eps = (float(betas[0]), float(betas[1])), float(eps)

    def _update(self, name: str, gradient: np.ndarray) -> np.ndarray:
        beta1, beta2 = self.betas
        state = self.state.setdefault(name, {"m": np.zeros_like(gradient), "v": np.zeros_like(gradient), "t": 0})
        state["t"] += 1
        state["m"] = beta1 * state["m"] + (1 - beta1) * gradient
        state["v"] = beta2 * state["v"] + (1 - beta2) * gradient**2
        m_hat = state["m"] / (1 - beta1 ** state["t"])
        v_hat = state["v"] / (1 - beta2 ** state["t"])
        return self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
