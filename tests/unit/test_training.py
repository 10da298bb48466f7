"""The worker end to end on tiny runs: files written, stop requests, failures, slots."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal

import keras
import numpy as np
import pytest

from mnist import runs, training
from mnist.config import ConvBlock, ModelConfig, TrainConfig
from mnist.models import load_model
from tests.conftest import metrics, wait_for


def test_tiny_run_writes_every_file(runs_dir, codelab_model, tiny_train):
    path = runs.create_run(codelab_model, tiny_train, preset="codelab")
    seen = []
    status = training.execute(path, report=seen.append)

    assert status.state == runs.DONE, status.error
    records = metrics(path)
    steps = math.ceil(tiny_train.train_size / tiny_train.batch_size)  # 300 / 64 → 5
    batches = [r for r in records if r.type == "batch"]
    epochs = [r for r in records if r.type == "epoch"]
    assert [r.step for r in batches] == list(range(1, steps + 1))
    assert len(epochs) == 1 and epochs[0].complete
    for key in ("loss", "accuracy", "batch_loss", "batch_accuracy", "lr", "samples_per_second"):
        assert all(getattr(r, key) is not None for r in batches), key
    for key in ("val_loss", "val_accuracy", "epoch_seconds", "samples_per_second"):
        assert getattr(epochs[0], key) is not None, key
    assert seen == records  # the CLI's progress sees exactly what the file holds
    header = json.loads((path / runs.METRICS).read_text().splitlines()[0])
    assert header == {"type": "header", "format_version": 2}

    assert status.total_steps == steps and status.step == steps
    assert status.train_samples == 300 and status.validation_samples == 100
    assert status.params == 5994 and status.eta_seconds == 0.0
    assert status.finished >= status.started
    assert status.samples_per_second > 0

    evaluation = runs.read_json(path / runs.EVALUATION)
    stored, probs = runs.load_run(path).stored_scores()
    assert probs.shape == (10_000, 10) and stored.accuracy == evaluation["accuracy"]
    assert evaluation["count"] == 10_000
    assert evaluation["accuracy"] == status.test_accuracy
    assert sum(map(sum, evaluation["confusion"])) == 10_000

    model = load_model(path / runs.MODEL)
    assert model.count_params() == 5994
    assert list((path / "tensorboard").rglob("events.out.tfevents.*"))
    leftovers = [p.name for p in path.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # every temporary file was renamed into place


def test_stop_file_ends_training_after_the_batch_it_came_in(runs_dir, codelab_model):
    train = TrainConfig(epochs=3, batch_size=32, train_size=640, validation_size=100)
    path = runs.create_run(codelab_model, train)

    def stop_after_three(record):
        if record.type == "batch" and record.step == 3:
            (path / runs.STOP_FILE).touch()

    status = training.execute(path, report=stop_after_three)
    assert status.state == runs.STOPPED
    batches = [r for r in metrics(path) if r.type == "batch"]
    assert batches[-1].step == 3  # no batch trains after the one during which it was asked
    assert status.test_accuracy is not None
    model = load_model(path / runs.MODEL)  # a stopped run still leaves a usable model
    assert np.asarray(model(np.zeros((1, 28, 28, 1), np.float32))).shape == (1, 10)


def test_sigterm_is_a_stop_request(runs_dir, codelab_model):
    train = TrainConfig(epochs=2, batch_size=32, train_size=640, validation_size=100)
    path = runs.create_run(codelab_model, train)

    def signal_at_step_two(record):
        if record.type == "batch" and record.step == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    status = training.execute(path, report=signal_at_step_two)
    assert status.state == runs.STOPPED
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler restored


def test_stop_while_queued_ends_without_training(runs_dir, codelab_model, tiny_train):
    path = runs.create_run(codelab_model, tiny_train)
    blocker = runs.SlotLock(runs_dir, "00000000-000000-0000", max_runs=1)
    assert blocker.try_acquire()
    try:
        (path / runs.STOP_FILE).touch()
        status = training.execute(path)
    finally:
        blocker.release()
    assert status.state == runs.STOPPED
    assert "waiting for a training slot" in status.message
    assert not (path / runs.METRICS).exists() and not (path / runs.MODEL).exists()


def _guard_on(model: keras.Model) -> training.DivergenceGuard:
    guard = training.DivergenceGuard()
    model.stop_training = False  # as Model.fit sets it
    guard.set_model(model)
    guard.on_epoch_begin(0)
    return guard


def test_a_nan_loss_stops_training_with_the_epoch_batch_and_a_remedy():
    guard = _guard_on(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    guard.on_train_batch_end(0, {"loss": 0.5, training.NONFINITE: 0.0})
    assert not guard.model.stop_training and guard.diverged is None
    guard.on_train_batch_end(1, {"loss": float("nan"), training.NONFINITE: 0.0})
    assert guard.model.stop_training
    assert "epoch 1, batch 2" in guard.diverged and "lower learning rate" in guard.diverged


def test_nan_outputs_stop_training_even_when_the_loss_looks_finite():
    """The cross-entropy clips probabilities: on some CPUs a NaN comes out as ln 10."""
    guard = _guard_on(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    guard.on_train_batch_end(0, {"loss": 2.302585, training.NONFINITE: 40.0})
    assert guard.model.stop_training
    assert (
        "weights or outputs became NaN" in guard.diverged and "epoch 1, batch 1" in guard.diverged
    )


def test_nonfinite_metric_counts_nan_and_infinite_outputs_and_weights():
    metric = training.NonFinite()
    metric.update_state(np.zeros(3), np.array([[0.5, np.nan], [np.inf, 0.1], [0.2, 0.8]]))
    assert float(metric.result()) == 2.0
    metric.reset_state()
    assert float(metric.result()) == 0.0
    weight = keras.Variable(np.ones((3, 3), dtype="float32"))
    metric.watch([weight, keras.Variable(np.zeros(2, dtype="float32"))])
    metric.update_state(np.zeros(1), np.array([[0.5, 0.5]]))
    assert float(metric.result()) == 0.0
    weight.assign(np.array([[1, 2, 3], [4, np.nan, 6], [7, 8, 9]], dtype="float32"))
    metric.update_state(np.zeros(1), np.array([[0.5, 0.5]]))
    assert float(metric.result()) == 1.0


def _diverging(monkeypatch, poison) -> None:
    """Make every run's model diverge the way ``poison(model)`` says, whatever the CPU."""
    real = training.build_model

    def build(config, **kwargs):
        model = real(config, **kwargs)
        poison(model)
        return model

    monkeypatch.setattr(training, "build_model", build)


def _nan_bias(model):
    bias = model.get_layer("probabilities").bias
    bias.assign(np.full(bias.shape, np.nan, dtype="float32"))


def _nan_first_kernel(model):
    kernel = model.get_layer("conv1").kernel
    values = np.asarray(kernel).copy()
    values[0, 0, 0, 0] = np.nan
    kernel.assign(values)


@pytest.mark.parametrize("poison", [_nan_bias, _nan_first_kernel], ids=["bias", "first-kernel"])
def test_a_nan_weight_ends_the_run_failed_at_the_first_batch_without_a_model(
    runs_dir, codelab_model, tiny_train, monkeypatch, poison
):
    _diverging(monkeypatch, poison)
    path = runs.create_run(codelab_model, dataclasses.replace(tiny_train, epochs=3))
    status = training.execute(path)
    assert status.state == runs.FAILED
    assert "training diverged at epoch 1, batch 1" in status.error, status.error
    assert "lower learning rate" in status.error
    assert not (path / runs.MODEL).exists() and not (path / runs.EVALUATION).exists()
    batches = [r for r in metrics(path) if r.type == "batch"]
    assert len(batches) == 1  # it stopped at that batch, not at the end


def test_an_absurd_learning_rate_ends_the_run_failed(runs_dir):
    # Deep ReLU layers multiply a huge step's effect: at the largest rate the config allows,
    # SGD overflows the activations within a few batches.
    deep = ModelConfig(
        conv_blocks=(ConvBlock(filters=8, kernel_size=3),), dense_units=(256, 256, 256, 256)
    )
    train = TrainConfig(
        epochs=2, batch_size=32, train_size=640, validation_size=100, optimizer="sgd",
        learning_rate=10.0,
    )  # fmt: skip
    path = runs.create_run(deep, train)
    status = training.execute(path)
    assert status.state == runs.FAILED, status
    assert "training diverged" in status.error and "lower learning rate" in status.error
    assert not (path / runs.MODEL).exists()


def test_poisoned_batches_end_the_run_failed_without_a_model(
    runs_dir, codelab_model, tiny_train, monkeypatch
):
    # An infinite pixel in every training batch: the outputs are NaN from the first batch,
    # whether or not the CPU's clip lets the loss show it.
    make_dataset = training.make_dataset

    def poisoned(images, labels, batch_size, **kwargs):
        ds = make_dataset(images, labels, batch_size, **kwargs)
        if kwargs.get("shuffle_seed") is None:
            return ds  # validation stays clean
        return ds.map(lambda x, y: (x * float("inf"), y))

    monkeypatch.setattr(training, "make_dataset", poisoned)
    path = runs.create_run(codelab_model, dataclasses.replace(tiny_train, epochs=3))
    status = training.execute(path)
    assert status.state == runs.FAILED
    assert "training diverged at epoch 1, batch 1" in status.error, status.error
    assert not (path / runs.MODEL).exists()


def test_a_crash_ends_failed_with_the_reason(runs_dir, codelab_model, tiny_train, tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    path = runs.create_run(codelab_model, tiny_train)
    status = training.execute(path, data_dir=empty)
    assert status.state == runs.FAILED
    assert status.error.startswith("DataError:") and "train-images-idx3-ubyte" in status.error
    assert runs.read_status(path).state == runs.FAILED


def test_early_stopping_needs_validation():
    with pytest.raises(ValueError, match="validation size above 0"):
        TrainConfig(early_stopping=2, validation_size=0)


def test_make_dataset_scales_and_augments():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 28, 28), dtype=np.uint8)
    labels = np.arange(10, dtype=np.uint8)
    x, y = next(iter(training.make_dataset(images, labels, batch_size=10)))
    np.testing.assert_allclose(x.numpy()[..., 0], images / 255.0, rtol=1e-6)
    assert x.shape == (10, 28, 28, 1) and list(y.numpy()) == list(range(10))
    xa, _ = next(iter(training.make_dataset(images, labels, 10, augment=True)))
    assert xa.shape == (10, 28, 28, 1)
    assert not np.allclose(xa.numpy(), x.numpy())  # augmentation changed the pixels
    assert float(xa.numpy().min()) >= 0.0 and float(xa.numpy().max()) <= 1.0 + 1e-6


def test_make_dataset_turns_off_tf_data_autotuning_and_keeps_order():
    # With autotuning on, TensorFlow 2.21 blocks ~10 s at the start of many epochs while the
    # last epoch's iterator winds down (benchmarks/RESULTS.md). Fixed parallelism must still
    # give every batch, in order, each epoch reshuffled.
    images = np.repeat(np.arange(100, dtype=np.uint8), 784).reshape(100, 28, 28)
    labels = np.arange(100) % 10
    plain = training.make_dataset(images, labels, 32)
    augmented = training.make_dataset(images, labels, 32, shuffle_seed=0, augment=True)
    for ds in (plain, augmented):
        assert ds.options().autotune.enabled is False
    firsts = [np.round(x.numpy()[:, 0, 0, 0] * 255).astype(int) for x, _ in plain]
    assert np.concatenate(firsts).tolist() == list(range(100))
    shuffled = training.make_dataset(images, labels, 32, shuffle_seed=0)
    epochs = [np.concatenate([y.numpy() for _, y in shuffled]) for _ in range(2)]
    assert sorted(epochs[0].tolist()) == sorted(labels.tolist())
    assert epochs[0].tolist() != epochs[1].tolist()


def test_worker_process_trains_a_run_started_by_the_runs_api(runs_dir, codelab_model, tiny_train):
    path = runs.start_run(codelab_model, tiny_train, preset="codelab")
    # The worker reports itself (its pid) before TensorFlow loads; the launcher writes nothing.
    pid = wait_for(lambda: runs.read_status(path).pid, what="the worker's pid")
    assert pid != os.getpid()
    final = wait_for(
        lambda: runs.load_run(path).state in runs.FINAL_STATES and runs.load_run(path),
        timeout=240,
        what="the worker to finish",
    )
    assert final.state == runs.DONE, (path / runs.LOG).read_text()[-2000:]
    assert final.model_path is not None and final.evaluation()["count"] == 10_000


def test_two_runs_share_one_slot_in_start_order(runs_dir, codelab_model, tiny_train):
    first = runs.start_run(codelab_model, dataclasses.replace(tiny_train, epochs=2))
    second = runs.start_run(codelab_model, tiny_train)
    wait_for(lambda: runs.load_run(first).state == runs.RUNNING, timeout=120, what="first running")
    waiting = runs.load_run(second)
    assert waiting.state == runs.QUEUED
    for path in (first, second):
        wait_for(lambda p=path: runs.load_run(p).state in runs.FINAL_STATES, timeout=240)
    a, b = runs.load_run(first), runs.load_run(second)
    assert (a.state, b.state) == (runs.DONE, runs.DONE)
    assert b.status.started >= a.status.finished - 1.0  # never both training at once


def test_sigkilled_worker_shows_as_failed(runs_dir, codelab_model):
    train = TrainConfig(epochs=50, batch_size=32, train_size=2000, validation_size=100)
    path = runs.start_run(codelab_model, train)
    pid = wait_for(
        lambda: runs.load_run(path).state == runs.RUNNING and runs.load_run(path).status.pid,
        timeout=120,
        what="the worker to start training",
    )
    os.kill(pid, signal.SIGKILL)
    run = wait_for(
        lambda: runs.load_run(path).state == runs.FAILED and runs.load_run(path), timeout=30
    )
    assert "killed or crashed" in run.status.error


def _fit_with_probe(tmp_path, lr, steps_per_epoch=4, epochs=2, batch_size=8):
    """A small fit with the worker's callbacks; a probe records what the optimizer's rate
    really was after each batch (the slow way: evaluating it)."""
    n = steps_per_epoch * batch_size
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])  # fmt: skip
    model.compile(
        keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    recorder = training.MetricsRecorder(
        tmp_path, runs.StatusWriter(tmp_path), epochs=epochs,
        steps_per_epoch=steps_per_epoch, batch_size=batch_size, train_samples=n,
    )  # fmt: skip
    seen = []
    probe = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda b, logs: seen.append(float(model.optimizer.learning_rate))
    )
    board = training.EpochTensorBoard(str(tmp_path / "tensorboard"), write_graph=False)
    images = np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    data = training.make_dataset(images, np.arange(n) % 10, batch_size)
    model.fit(data, epochs=epochs, verbose=0, callbacks=[recorder, board, probe], shuffle=False)
    return metrics(tmp_path), seen, board


def test_recorded_learning_rate_follows_a_schedule_step_by_step(tmp_path):
    schedule = keras.optimizers.schedules.CosineDecay(0.01, decay_steps=8)
    records, seen, _ = _fit_with_probe(tmp_path, schedule)
    batches = [r.lr for r in records if r.type == "batch"]
    assert len(batches) == 8 and len(set(batches)) == 8  # it changes at every step
    np.testing.assert_allclose(batches, seen, rtol=1e-6)
    assert [r.lr for r in records if r.type == "epoch"] == [batches[3], batches[7]]
    assert batches[-1] == pytest.approx(0.0, abs=1e-9)  # decayed to 0 at the last step


def test_recorded_learning_rate_of_a_constant_rate(tmp_path):
    records, seen, _ = _fit_with_probe(tmp_path, 0.003)
    assert len(records) == 10 and len(seen) == 8  # 8 batches, 2 epochs
    assert all(r.lr == pytest.approx(0.003) for r in records)


def test_tensorboard_writes_epochs_and_skips_per_batch_summaries(tmp_path, monkeypatch):
    import importlib

    import tensorflow as tf

    summary = importlib.import_module("tensorflow.summary")  # what Keras's callback calls
    calls = []
    real = summary.scalar
    monkeypatch.setattr(summary, "scalar", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    _, _, board = _fit_with_probe(tmp_path, 0.003)
    assert board._global_train_batch == 8
    assert not [c for c in calls if c.startswith("batch_")]
    assert "epoch_loss" in calls  # the patch sees the callback's calls
    tags = set()
    for event_file in (tmp_path / "tensorboard").rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags |= {v.tag for v in event.summary.value}
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"} <= tags, tags


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd", "rmsprop"])
def test_every_optimizer_compiles_with_the_configured_rate(optimizer):
    from mnist.config import PRESETS
    from mnist.models import build_model

    train = TrainConfig(optimizer=optimizer, learning_rate=0.02)
    model = training.compile_for_training(build_model(PRESETS["codelab"].model), train)
    assert type(model.optimizer).__name__.lower() == optimizer
    assert float(np.asarray(model.optimizer.learning_rate)) == pytest.approx(0.02)
    if optimizer == "sgd":  # documented: Nesterov momentum 0.9
        assert model.optimizer.nesterov and model.optimizer.momentum == pytest.approx(0.9)


def test_cosine_schedule_decays_over_the_planned_steps():
    from mnist.config import PRESETS
    from mnist.models import build_model

    train = TrainConfig(lr_schedule="cosine", learning_rate=0.01)
    model = training.compile_for_training(build_model(PRESETS["codelab"].model), train, 10)
    schedule = model.optimizer._learning_rate
    assert float(schedule(0)) == pytest.approx(0.01)
    assert float(schedule(5)) == pytest.approx(0.005, rel=1e-3)  # cos(π/2): half way
    assert float(schedule(10)) == pytest.approx(0.0, abs=1e-8)


def test_each_batchs_own_loss_and_accuracy_match_an_independent_computation(tmp_path):
    """With a learning rate of 0 the weights never change, so each batch's loss and accuracy
    can be computed afresh from the model and that batch alone, and compared."""
    batch_size, steps = 8, 5
    n = batch_size * steps - 3  # a short last batch too
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])  # fmt: skip
    model.compile(
        keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    recorder = training.MetricsRecorder(
        tmp_path, runs.StatusWriter(tmp_path), epochs=2, steps_per_epoch=steps,
        batch_size=batch_size, train_samples=n,
    )  # fmt: skip
    images = np.random.default_rng(2).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = np.random.default_rng(3).integers(0, 10, n)
    model.fit(training.make_dataset(images, labels, batch_size), epochs=2, verbose=0,
              callbacks=[recorder], shuffle=False)  # fmt: skip
    batches = [r for r in metrics(tmp_path) if r.type == "batch"]
    assert len(batches) == 2 * steps
    x = images.astype(np.float32)[..., None] / 255
    for record in batches:
        start = (record.batch - 1) * batch_size
        xb, yb = x[start : start + batch_size], labels[start : start + batch_size]
        probs = np.asarray(model(xb))
        loss = float(np.mean(-np.log(probs[np.arange(len(yb)), yb])))
        accuracy = float(np.mean(probs.argmax(axis=1) == yb))
        assert record.batch_loss == pytest.approx(loss, rel=1e-4)
        assert record.batch_accuracy == pytest.approx(accuracy, abs=1e-5)


@pytest.mark.parametrize(("native", "policy"), [(False, "float32"), (True, "mixed_bfloat16")])
def test_auto_precision_trains_in_what_the_cpu_computes_and_says_so(
    runs_dir, codelab_model, tiny_train, monkeypatch, native, policy
):
    from mnist import hardware

    monkeypatch.setattr(hardware, "native_bfloat16", lambda: native)
    train = dataclasses.replace(tiny_train, precision="auto")
    path = runs.create_run(codelab_model, train, preset=None)
    status = training.execute(path)

    assert status.state == runs.DONE, status.error
    assert status.precision == policy
    assert runs.load_run(path).config.train.precision == "auto"  # the config stays as asked
    assert load_model(path / runs.MODEL).get_layer("conv1").dtype_policy.name == policy
