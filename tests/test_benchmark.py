"""cnnlib.benchmark: the data are fixed, every small model fits the benchmark, and a run is reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlib import benchmark, data
from cnnlib.profile import count_params

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def split():
    return benchmark.load()


@pytest.fixture(scope="module")
def tiny(split):
    """A few hundred benchmark images, so that a whole run takes a fraction of a second."""
    return data.Split(split.x_train[:256], split.y_train[:256], split.x_test[:100], split.y_test[:100])


@pytest.fixture
def one_epoch():
    import dataclasses

    return dataclasses.replace(benchmark.SETTINGS, epochs=1)


def test_load_is_deterministic_and_has_the_benchmark_shape(split):
    assert split.x_train.shape == (4000, *benchmark.INPUT_SHAPE)
    assert split.x_test.shape == (1000, *benchmark.INPUT_SHAPE)
    assert split.x_train.dtype == np.float32 and 0.0 <= split.x_train.min() <= split.x_train.max() <= 1.0
    np.testing.assert_array_equal(np.bincount(split.y_test), np.full(10, 100))
    again = benchmark.load()
    np.testing.assert_array_equal(split.x_train, again.x_train)
    np.testing.assert_array_equal(split.x_test, again.x_test)
    np.testing.assert_array_equal(split.y_train, again.y_train)


@pytest.mark.parametrize("name", benchmark.NAMES)
def test_small_models_map_benchmark_images_to_ten_logits(name, split):
    torch.manual_seed(0)
    # Training mode, as fit runs it: batch normalisation uses the batch's statistics. (In evaluation mode a fresh
    # network's running statistics are still mean 0 and variance 1, which is not what training sees.)
    model = benchmark.small_model(name).train()
    with torch.no_grad():
        logits = model(torch.as_tensor(split.x_test[:64]))
    assert logits.shape == (64, 10)
    assert torch.isfinite(logits).all()
    # At initialisation the logits must carry a signal that depends on the image; a classifier whose logits are
    # a thousandth of their usual size (VGG's N(0, 0.01) initialisation of narrow layers) stays at chance for long.
    assert logits.std(dim=0).mean() > 1e-3


def test_small_models_are_small_and_lenet5_is_the_published_one():
    sizes = {name: count_params(benchmark.small_model(name)) for name in benchmark.NAMES}
    assert sizes["lenet5"] == 61_706  # the published LeNet-5 for 32x32 digits, with a linear output layer
    assert all(size < 500_000 for size in sizes.values())
    # The SE-ResNet is the ResNet plus its squeeze-and-excitation gates, nothing else.
    assert sizes["resnet"] < sizes["se_resnet"] < 1.1 * sizes["resnet"]


def test_small_model_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="expected a name in"):
        benchmark.small_model("inception_v3")


def test_run_returns_sane_fields_and_restores_the_thread_count(tiny, one_epoch):
    threads = torch.get_num_threads()
    result = benchmark.run("lenet5", tiny, settings=one_epoch, device=CPU, progress=False)
    assert torch.get_num_threads() == threads
    assert result.name == "lenet5"
    assert 0.0 <= result.test_accuracy <= 1.0
    assert result.test_accuracy == result.history.test_accuracy[-1] and len(result.history.test_accuracy) == 1
    assert result.params == count_params(result.model) == 61_706
    # LeNet-5's multiply-adds, 2 FLOPs each: C1 6*28*28*25, C3 16*10*10*150, C5 120*400, F6 120*84, output 84*10.
    assert result.flops == 2 * (6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 120 * 400 + 120 * 84 + 84 * 10)
    assert result.latency_ms > 0 and result.train_seconds > 0 and result.train_cpu_seconds > 0


def test_run_is_deterministic_on_the_cpu(tiny, one_epoch):
    first = benchmark.run("se_resnet", tiny, settings=one_epoch, device=CPU, progress=False)
    second = benchmark.run("se_resnet", tiny, settings=one_epoch, device=CPU, progress=False)
    assert first.history.train_loss == second.history.train_loss
    assert first.test_accuracy == second.test_accuracy
    for (name, a), (_, b) in zip(first.model.state_dict().items(), second.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_run_trains_a_model_of_ones_own(tiny, one_epoch):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 10))
    result = benchmark.run(model, tiny, settings=one_epoch, device=CPU, progress=False)
    assert result.name == "Sequential" and result.model is model
    assert result.params == 32 * 32 * 10 + 10 and result.flops == 2 * 32 * 32 * 10
    assert benchmark.run(model, tiny, settings=one_epoch, name="linear", device=CPU, progress=False).name == "linear"


def test_cpu_latency_leaves_the_model_as_it_was_and_checks_repeats():
    model = benchmark.small_model("vgg").train()
    assert benchmark.cpu_latency_ms(model, repeats=3) > 0
    assert model.training  # a copy was put in evaluation mode, not the model
    with pytest.raises(ValueError, match="positive number of repeats"):
        benchmark.cpu_latency_ms(model, repeats=0)


def test_run_many_in_parallel_processes_equals_sequential_runs(tiny, one_epoch):
    names = ["lenet5", "resnet"]
    parallel = benchmark.run_many(names, tiny, settings=one_epoch, workers=2, device=CPU)
    assert list(parallel) == names
    for name in names:
        alone = benchmark.run(name, tiny, settings=one_epoch, device=CPU, progress=False)
        assert parallel[name].history.train_loss == alone.history.train_loss
        assert parallel[name].history.test_accuracy == alone.history.test_accuracy
        for ours, theirs in zip(parallel[name].model.state_dict().values(), alone.model.state_dict().values(),
                                strict=True):
            assert torch.equal(ours.cpu(), theirs.cpu())


def test_run_many_rejects_unknown_or_repeated_names_and_no_workers(tiny):
    for names in (["lenet5", "lenet5"], ["no_such_net"]):
        with pytest.raises(ValueError, match="distinct names"):
            benchmark.run_many(names, tiny)
    with pytest.raises(ValueError, match="at least one worker"):
        benchmark.run_many(["lenet5"], tiny, workers=0)
