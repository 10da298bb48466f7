"""The training worker: one run folder in, a trained model and its metrics out.

``execute(run_dir)`` is what ``python -m mnist train`` runs, in its own process, whether a
person typed it or the dashboard started it. One small Keras callback per job:
``MetricsRecorder`` writes ``metrics.jsonl`` and the progress in ``status.json``;
``StopOnRequest`` turns a stop request (SIGTERM, SIGINT or a ``STOP`` file) into the end of
training; ``DivergenceGuard`` ends a run whose numbers stop being finite; ``EpochTensorBoard``
logs epochs for TensorBoard.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mnist import data as mnist_data
from mnist import records, runs
from mnist._tf import keras, tf
from mnist.config import TrainConfig
from mnist.evaluation import evaluate_predictions, predict_probabilities
from mnist.hardware import cpu_threads, resolve_precision
from mnist.i18n import N_
from mnist.models import build_model, save_model_atomic
from mnist.records import BatchRecord, EpochRecord, RunStatus


def make_optimizer(
    train: TrainConfig, total_steps: int | None = None
) -> keras.optimizers.Optimizer:
    """The run's optimiser; a cosine schedule needs the planned number of training steps."""
    lr: float | keras.optimizers.schedules.LearningRateSchedule = train.learning_rate
    if train.lr_schedule == "cosine" and total_steps:
        lr = keras.optimizers.schedules.CosineDecay(train.learning_rate, decay_steps=total_steps)
    if train.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=0.9, nesterov=True)
    factory = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "rmsprop": keras.optimizers.RMSprop,
    }[train.optimizer]
    return factory(learning_rate=lr)


def compile_for_training(
    model: keras.Model, train: TrainConfig, total_steps: int | None = None
) -> keras.Model:
    """Compile ``model`` with the run's optimiser, the cross-entropy loss and accuracy."""
    model.compile(
        optimizer=make_optimizer(train, total_steps),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy", NonFinite().watch(model.weights)],
    )
    return model


def _finite(value) -> float | None:
    """A float for JSON, or None for a missing or non-finite value."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class MetricsRecorder(keras.callbacks.Callback):
    """Append a record per batch and per epoch to ``metrics.jsonl`` (its one writer) and keep
    the progress fields of ``status.json`` current.

    A batch record holds Keras's running means over the epoch so far (``loss``,
    ``accuracy``) and the batch's own values (``batch_loss``, ``batch_accuracy``), recovered
    from two consecutive running means: Keras averages over samples, so the sum over an
    epoch's first n samples is mean × n. A non-finite value is written as null
    (``DivergenceGuard`` decides what it means).
    """

    def __init__(
        self,
        run_dir: Path,
        status: runs.StatusWriter,
        *,
        epochs: int,
        steps_per_epoch: int,
        batch_size: int,
        train_samples: int,
        report: Callable[[BatchRecord | EpochRecord], None] | None = None,
    ) -> None:
        super().__init__()
        self.metrics_path = run_dir / runs.METRICS
        self.status = status
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.train_samples = train_samples
        self.report = report
        self.epoch_records: list[EpochRecord] = []  # as written to metrics.jsonl
        self._fh = None
        self._step = 0
        self._lr_table: np.ndarray | None = None
        self.samples = 0  # training images seen so far, all epochs

    # -- helpers -------------------------------------------------------------------------
    def _learning_rate(self) -> float | None:
        """The rate the optimizer uses at the current step."""
        if self._lr_table is not None:
            return _finite(self._lr_table[min(self._step, len(self._lr_table) - 1)])
        try:
            return _finite(np.asarray(self.model.optimizer.learning_rate))
        except (AttributeError, TypeError, ValueError):
            return None

    def _schedule_table(self) -> np.ndarray | None:
        """The learning rate after each step of this fit (index 0: before the first), from
        one call of the optimizer's schedule on all the steps; None for a constant rate.

        Evaluating a schedule takes 1.4 ms of eager TensorFlow ops, about 2 % of a batch of
        128: too much to do after every batch.
        """
        optimizer = getattr(self.model, "optimizer", None)  # None: a model not compiled
        schedule = getattr(optimizer, "_learning_rate", None)  # Keras 3 keeps it here
        if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            return None
        start = int(np.asarray(optimizer.iterations))
        steps = np.arange(start, start + self._total_steps + 1)
        try:
            table = np.asarray(schedule(steps), dtype=np.float64)
        except (TypeError, ValueError, tf.errors.OpError):  # a schedule of one step at a time
            return None
        return table if table.shape == steps.shape else None

    def _emit(self, record: BatchRecord | EpochRecord) -> None:
        self._fh.write(records.dumps(record) + "\n")
        self._fh.flush()
        if self.report:
            self.report(record)

    def _own(self, name: str, mean: float | None, seen: int, size: int) -> float | None:
        """This batch's own value of a metric, from the running means before and after it."""
        before = self._means.get(name)
        self._means[name] = mean
        if mean is None or before is None:
            return mean if self._seen_before == 0 else None
        return _finite((mean * seen - before * self._seen_before) / size)

    # -- Keras hooks ---------------------------------------------------------------------
    def on_train_begin(self, logs=None) -> None:
        fresh = not self.metrics_path.exists() or self.metrics_path.stat().st_size == 0
        self._fh = open(self.metrics_path, "a", encoding="utf-8")
        if fresh:
            self._fh.write(runs.metrics_header() + "\n")
        self._t0 = time.perf_counter()
        self._total_steps = self.epochs * self.steps_per_epoch
        self._lr_table = self._schedule_table()
        self.status.update(
            force=True,
            state=runs.RUNNING,
            started=time.time(),
            epoch=0,
            epochs=self.epochs,
            batch=0,
            batches=self.steps_per_epoch,
            step=0,
            total_steps=self._total_steps,
        )

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._epoch = epoch + 1  # 1-based for people
        self._epoch_t0 = time.perf_counter()
        self._epoch_batches = 0
        self._seen_before = 0  # samples of this epoch before the current batch
        self._means: dict[str, float | None] = {}

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        logs = logs or {}
        self._step += 1
        self._epoch_batches = batch + 1
        size = min(self.batch_size, self.train_samples - batch * self.batch_size)
        seen = self._seen_before + size
        self.samples += size
        now = time.perf_counter()
        elapsed = now - self._t0
        epoch_elapsed = now - self._epoch_t0
        loss, accuracy = _finite(logs.get("loss")), _finite(logs.get("accuracy"))
        record = BatchRecord(
            epoch=self._epoch,
            batch=batch + 1,
            step=self._step,
            loss=loss,
            accuracy=accuracy,
            batch_loss=self._own("loss", loss, seen, size),
            batch_accuracy=self._own("accuracy", accuracy, seen, size),
            lr=self._learning_rate(),
            samples_per_second=_finite(seen / epoch_elapsed) if epoch_elapsed > 0 else None,
            elapsed=round(elapsed, 3),
            eta_seconds=round((self._total_steps - self._step) * elapsed / self._step, 1),
        )
        self._seen_before = seen
        self._emit(record)
        self.status.update(
            epoch=self._epoch,
            batch=batch + 1,
            step=self._step,
            samples_per_second=record.samples_per_second,
            elapsed=record.elapsed,
            eta_seconds=record.eta_seconds,
        )

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        now = time.perf_counter()
        epoch_seconds = now - self._epoch_t0
        complete = self._epoch_batches == self.steps_per_epoch  # not cut short by a stop
        record = EpochRecord(
            epoch=epoch + 1,
            step=self._step,
            loss=_finite(logs.get("loss")),
            accuracy=_finite(logs.get("accuracy")),
            val_loss=_finite(logs.get("val_loss")),
            val_accuracy=_finite(logs.get("val_accuracy")),
            lr=self._learning_rate(),
            samples_per_second=_finite(self.train_samples / epoch_seconds) if complete else None,
            epoch_seconds=round(epoch_seconds, 3),
            elapsed=round(now - self._t0, 3),
            complete=complete,
        )
        self.epoch_records.append(record)
        self._emit(record)
        self.status.update(
            force=True,
            epochs_completed=sum(r.complete for r in self.epoch_records),
            val_loss=record.val_loss,
            val_accuracy=record.val_accuracy,
        )

    def on_train_end(self, logs=None) -> None:
        if self._fh:
            self._fh.close()
            self._fh = None


class StopOnRequest(keras.callbacks.Callback):
    """End training after the batch during which a stop was asked for (a signal or the
    run's ``STOP`` file), marking the run ``stopping``; the model is still saved."""

    def __init__(self, requested: Callable[[], bool], status: runs.StatusWriter) -> None:
        super().__init__()
        self.requested = requested
        self.status = status
        self.stopped = False

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        if not self.stopped and self.requested():
            self.stopped = True
            self.status.update(force=True, state=runs.STOPPING)
            self.model.stop_training = True


NONFINITE = "nonfinite"  # the metric counting non-finite numbers (logs["nonfinite"])


@keras.saving.register_keras_serializable(package="mnist")
class NonFinite(keras.metrics.Metric):
    """How many non-finite numbers training has made so far this epoch: NaN or infinite
    output values, plus one for each step after which a watched weight is not finite.

    Computed inside the compiled train step (after the step's weight update), so it costs
    one sum per weight tensor, nothing in Python. It catches divergence the loss hides:
    whether the cross-entropy's clip turns a NaN probability into NaN or into a finite
    ln 10, and whether ReLU and max-pooling pass a NaN on or drop it, depends on the CPU.
    """

    def __init__(self, name: str = NONFINITE, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")
        self.watched: list = []  # weights to check after each step (``watch``)

    def watch(self, weights: list) -> NonFinite:
        self.watched = list(weights)
        return self

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        bad = keras.ops.sum(
            keras.ops.cast(keras.ops.logical_not(keras.ops.isfinite(y_pred)), self.count.dtype)
        )
        if self.watched:
            # A sum is NaN or infinite if any of its terms is (or if it overflows: then
            # the weights are absurd anyway).
            total = keras.ops.sum(
                keras.ops.stack([keras.ops.sum(keras.ops.cast(w, "float32")) for w in self.watched])
            )
            bad = bad + keras.ops.cast(keras.ops.logical_not(keras.ops.isfinite(total)), bad.dtype)
        self.count.assign_add(bad)

    def result(self):
        return self.count

    def reset_state(self) -> None:
        self.count.assign(0.0)


def weights_finite(model: keras.Model) -> bool:
    """Whether every weight of ``model`` is a finite number."""
    return all(np.isfinite(np.asarray(w)).all() for w in model.weights)


class DivergenceGuard(keras.callbacks.Callback):
    """Stop at the batch where training diverges: a non-finite loss or model output, or
    (checked after each epoch) a non-finite weight. The reason is in ``self.diverged``."""

    def __init__(self) -> None:
        super().__init__()
        self.diverged: str | None = None
        self._epoch = 1

    def _stop(self, what: str, where: str) -> None:
        # English in status.json; runs.error_text says it in the dashboard's language
        self.diverged = runs.DIVERGED.format(where=where, what=what)
        self.model.stop_training = True

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        logs = logs or {}
        where = runs.AT_BATCH.format(epoch=self._epoch, batch=batch + 1)
        loss = logs.get("loss")
        if loss is None or not math.isfinite(float(loss)):
            self._stop(runs.LOSS_BECAME.format(loss=loss), where)
        elif float(logs.get(NONFINITE, 0.0)) != 0.0:
            self._stop(runs.NONFINITE_OUTPUTS, where)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if self.diverged is None and not weights_finite(self.model):
            self._stop(runs.NONFINITE_WEIGHTS, runs.AT_EPOCH.format(epoch=epoch + 1))


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """TensorBoard logs once per epoch (step 1 is the first epoch), without per-batch work.

    With ``update_freq="epoch"`` Keras 3.15's callback still calls ``tf.summary.scalar`` for
    every log of every batch; no writer is active then, so nothing is written, but each call
    costs 0.6 ms: about 2 % of a batch of 128.
    """

    def __init__(self, log_dir: str, **kwargs) -> None:
        super().__init__(log_dir=log_dir, update_freq="epoch", profile_batch=0, **kwargs)

    def on_train_batch_begin(self, batch: int, logs=None) -> None:
        self._global_train_batch += 1

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        # Step = the 1-based epoch, as metrics.jsonl and the dashboard count them.
        super().on_epoch_end(epoch + 1, logs)


AUGMENTATION = {
    "rotation": 10.0,  # degrees, either way
    "translation": 0.1,  # share of the side, either way (±2.8 pixels)
    "zoom": 0.1,  # share of the size, in or out
}

PARALLEL_CALLS = max(1, min(4, cpu_threads()))  # batches prepared at once
PREFETCH_BATCHES = 2  # ready ahead of the model


def augment_batch(x: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Rotate, shift and zoom each image of a (B, 28, 28, 1) batch at random, as one affine
    warp; the randomness comes from ``seed`` (two integers) alone, so a seeded run draws the
    same warps every time, whatever the threads do (Keras's random layers did not)."""
    count = tf.shape(x)[0]
    u = tf.random.stateless_uniform((count, 4), seed=seed, minval=-1.0, maxval=1.0)
    angle = u[:, 0] * (AUGMENTATION["rotation"] * math.pi / 180.0)
    scale = 1.0 + u[:, 1] * AUGMENTATION["zoom"]
    side = tf.cast(tf.shape(x)[1], tf.float32)
    shift_x = u[:, 2] * AUGMENTATION["translation"] * side
    shift_y = u[:, 3] * AUGMENTATION["translation"] * side
    centre = (side - 1.0) / 2.0
    # Each output pixel p reads the input at centre + scale · R(angle) · (p − centre) − shift.
    a0, a1 = scale * tf.cos(angle), -scale * tf.sin(angle)
    b0, b1 = scale * tf.sin(angle), scale * tf.cos(angle)
    a2 = centre - a0 * centre - a1 * centre - shift_x
    b2 = centre - b0 * centre - b1 * centre - shift_y
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x,
        transforms=transforms,
        output_shape=tf.shape(x)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    shuffle_seed: int | None = None,
    augment: bool = False,
    epochs: int = 1,
) -> tf.data.Dataset:
    """uint8 (N, 28, 28) → batches of float32 (B, 28, 28, 1) in 0–1, prefetched.

    With ``epochs`` > 1 the batches of every epoch come from one iterator (reshuffled each
    epoch): fit it with ``steps_per_epoch``. Batch ``i`` of the whole fit is augmented with
    the stateless seed (``shuffle_seed``, ``i``), so a seeded run is reproducible.

    tf.data's autotuning is off, with fixed parallelism instead. With it on, TensorFlow 2.21
    intermittently blocks for ~10 s at the start of an epoch (or an evaluation) while the
    previous iterator's autotuning thread winds down: measured with a 20,000-image fit, 2 to
    5 of 7 epochs took ~20 s instead of ~10 s, the whole delay in the first batch (a
    ``py-spy dump`` shows ``RootDataset::Iterator::~Iterator`` waiting on a tf.data thread).
    Fixed settings train exactly as fast, without the stalls (``benchmarks/RESULTS.md``).
    """
    ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if epochs > 1:
        ds = ds.repeat(epochs)

    def scale(x, y):
        return tf.cast(x, tf.float32)[..., tf.newaxis] / 255.0, y

    ds = ds.map(scale, num_parallel_calls=PARALLEL_CALLS)
    if augment:
        base = tf.constant(shuffle_seed or 0, tf.int64)

        def warp(i, batch):
            x, y = batch
            return augment_batch(x, tf.stack([base, i])), y

        ds = ds.enumerate().map(warp, num_parallel_calls=PARALLEL_CALLS)
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(PREFETCH_BATCHES).with_options(options)


class StopSignal:
    """A stop request: SIGTERM/SIGINT (main thread only) or the run's ``STOP`` file."""

    def __init__(self, run_dir: Path) -> None:
        self.stop_file = run_dir / runs.STOP_FILE
        self._event = threading.Event()
        self._previous: dict = {}

    def __enter__(self) -> StopSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set() or self.stop_file.exists()


def _save_model(model: keras.Model, run_dir: Path) -> Path:
    return save_model_atomic(model, run_dir / runs.MODEL)


def execute(
    run_dir: str | os.PathLike,
    *,
    max_runs: int | None = None,
    report: Callable[[BatchRecord | EpochRecord], None] | None = None,
    data_dir: str | os.PathLike | None = None,
    status: runs.StatusWriter | None = None,
) -> RunStatus:
    """Train the run in ``run_dir`` to the end and return its final status.

    ``status`` is the run's status writer if the caller started it already (the CLI does,
    before TensorFlow loads, so the run reports its worker at once). Never raises for a
    failed run: the failure is recorded in ``status.json``.
    """
    run_dir = Path(run_dir)
    config = runs.RunConfig.from_dict(runs.read_json(run_dir / runs.CONFIG))
    if status is None:
        status = runs.StatusWriter(run_dir)
        status.start()
    slot = runs.SlotLock(run_dir.parent, run_dir.name, runs.max_concurrent_runs(max_runs))
    try:
        with StopSignal(run_dir) as stop:
            while not slot.try_acquire():
                if stop():
                    status.update(
                        force=True,
                        state=runs.STOPPED,
                        finished=time.time(),
                        message=runs.STOPPED_WAITING,
                    )
                    return status.status
                status.update(message=runs.WAITING)
                time.sleep(0.5)
            if stop():  # asked while TensorFlow loaded (the CLI keeps that as the STOP file)
                status.update(force=True, state=runs.STOPPED, finished=time.time(),
                              message=runs.STOPPED_STARTING)  # fmt: skip
                return status.status
            status.update(force=True, state=runs.RUNNING, message=runs.LOADING)
            _train(run_dir, config, status, stop, report, data_dir)
    except Exception as exc:  # the worker's last word: record why, never leave a live state
        traceback.print_exc(file=sys.stderr)
        status.update(
            force=True,
            state=runs.FAILED,
            finished=time.time(),
            error=f"{type(exc).__name__}: {exc}",
        )
    finally:
        slot.release()
        status.close()
    return status.status


def _early_stopping_report(early, recorder: MetricsRecorder) -> dict:
    """What early stopping did, for status.json: whether it ended the run, and the epoch
    whose weights the model holds (Keras restores the best epoch's at the end) with that
    epoch's validation figures."""
    if early is None or early.best_weights is None:
        return {}
    best = early.best_epoch + 1
    record = next((r for r in recorder.epoch_records if r.epoch == best), EpochRecord())
    return {
        "early_stopped": early.stopped_epoch > 0,
        "best_epoch": best,
        "val_loss": record.val_loss,
        "val_accuracy": record.val_accuracy,
    }


def freeze_for(model: keras.Model, mode: str) -> keras.Model:
    """Set which layers of ``model`` learn in a fine-tune (``FinetuneConfig.mode``):
    ``head``, only the last layer with weights; ``features``, every layer after the last one
    whose output is still a feature map (4-D); ``all``, every layer."""
    layers = model.layers
    with_weights = [i for i, layer in enumerate(layers) if layer.weights]
    if mode == "head":
        first_learning = with_weights[-1] if with_weights else len(layers)
    elif mode == "features":
        maps = [i for i, layer in enumerate(layers) if len(layer.output.shape) == 4]
        first_learning = maps[-1] + 1 if maps else 0
    elif mode == "all":
        first_learning = 0
    else:
        raise ValueError(f"unknown fine-tuning mode {mode!r}")
    for i, layer in enumerate(layers):
        layer.trainable = i >= first_learning
    return model


def _finetune_base(run_dir: Path, config: runs.RunConfig) -> keras.Model:
    from mnist.models import load_model

    return freeze_for(load_model(run_dir / runs.BASE_MODEL), config.finetune.mode)


def _train(run_dir, config, status, stop, report, data_dir) -> None:
    tc = config.train
    ft = config.finetune
    keras.utils.set_random_seed(tc.seed)  # per-thread Keras state: set where the work runs
    dataset = mnist_data.load(data_dir)
    split = dataset.split(tc.validation_size, tc.train_size, tc.seed)
    x_train, y_train = split.x_train, split.y_train
    if ft is not None:
        from mnist import finetune
        from mnist.personal import Arrays

        personal = Arrays.load(run_dir / runs.PERSONAL)
        x_train, y_train = finetune.mix(
            x_train, y_train, personal.x_train, personal.y_train, ft.personal_share, tc.seed
        )
    steps_per_epoch = math.ceil(len(y_train) / tc.batch_size)
    if ft is None:
        precision = resolve_precision(tc.precision)  # "auto": what this CPU computes quickly
        model = build_model(config.model, precision=precision)
    else:
        model = _finetune_base(run_dir, config)
        precision = model.dtype_policy.name
        status.update(force=True, message=N_("scoring the base model"))
        before_mnist = predict_probabilities(model, dataset.test_images)
        before_personal = predict_probabilities(model, personal.x_test).argmax(axis=1)
        if stop():  # asked while the base model was scored: nothing trained, nothing to save
            status.update(force=True, state=runs.STOPPED, finished=time.time(),
                          message=runs.STOPPED_STARTING)  # fmt: skip
            return
    model = compile_for_training(model, tc, tc.epochs * steps_per_epoch)
    train_ds = make_dataset(
        x_train,
        y_train,
        tc.batch_size,
        shuffle_seed=tc.seed,
        augment=tc.augment,
        epochs=tc.epochs,
    )
    val_ds = make_dataset(split.x_val, split.y_val, 1000) if len(split.y_val) else None
    recorder = MetricsRecorder(
        run_dir,
        status,
        epochs=tc.epochs,
        steps_per_epoch=steps_per_epoch,
        batch_size=tc.batch_size,
        train_samples=len(y_train),
        report=report,
    )
    guard = DivergenceGuard()
    stopper = StopOnRequest(stop, status)
    callbacks: list[keras.callbacks.Callback] = [
        recorder,
        guard,
        stopper,
        EpochTensorBoard(log_dir=str(run_dir / "tensorboard"), write_graph=False),
    ]
    early = None
    if tc.early_stopping:
        early = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=tc.early_stopping, restore_best_weights=True
        )
        callbacks.append(early)
    status.update(
        force=True,
        message=N_("training"),  # English in status.json; pages show _(message)
        train_samples=len(y_train),
        validation_samples=len(split.y_val),
        params=model.count_params(),
        precision=precision,
    )
    t0 = time.perf_counter()
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=tc.epochs,
        steps_per_epoch=steps_per_epoch,  # one iterator over all epochs (make_dataset)
        callbacks=callbacks,
        verbose=0,
        shuffle=False,
    )  # the dataset shuffles itself
    train_seconds = time.perf_counter() - t0
    if guard.diverged is None and not weights_finite(model):  # stopped mid-epoch, say
        guard.diverged = runs.DIVERGED_WEIGHTS
    if guard.diverged:
        status.update(
            force=True,
            state=runs.FAILED,
            finished=time.time(),
            error=guard.diverged,
            train_seconds=round(train_seconds, 2),
        )
        return
    status.update(
        force=True, message=N_("saving the model"), **_early_stopping_report(early, recorder)
    )
    _save_model(model, run_dir)
    status.update(force=True, message=N_("evaluating on the 10,000 test images"))
    probs = predict_probabilities(model, dataset.test_images)  # (10000, 10)
    evaluation = evaluate_predictions(dataset.test_labels, probs)
    # The probabilities first: a run with evaluation.json has them too (the Evaluate page
    # reads both instead of scoring the model again).
    runs.save_probabilities(run_dir, probs)
    record = evaluation.to_dict()
    if ft is not None:
        after_personal = predict_probabilities(model, personal.x_test).argmax(axis=1)
        before = evaluate_predictions(dataset.test_labels, before_mnist).accuracy
        record["finetune"] = finetune.section(
            personal.y_test, before_personal, after_personal, before, evaluation.accuracy
        )
    runs.write_json_atomic(run_dir / runs.EVALUATION, record)
    status.update(
        force=True,
        state=runs.STOPPED if stopper.stopped else runs.DONE,
        finished=time.time(),
        message=None,
        eta_seconds=0.0,
        test_accuracy=evaluation.accuracy,
        train_seconds=round(train_seconds, 2),
        samples_per_second=round(recorder.samples / train_seconds, 1),
    )
