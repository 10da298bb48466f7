"""Figure 1, worker overhead: `mnist train` against a bare `model.fit` of the same model."""

from __future__ import annotations

import math
import tempfile
import time

from benchmarks.common import Row, child, child_main, cli, fast_precision, median


def bare_fit(n: str, epochs: str) -> dict:
    """The fast preset's model fitted with nothing around it (run in a fresh process)."""
    from mnist import data
    from mnist._tf import keras
    from mnist.config import PRESETS
    from mnist.models import build_model
    from mnist.training import compile_for_training, make_dataset

    n, epochs = int(n), int(epochs)
    p = PRESETS["fast"]
    split = data.load().split(1000, n, 0)
    keras.utils.set_random_seed(0)
    model = build_model(p.model, precision=fast_precision())  # as the worker builds it
    model = compile_for_training(model, p.train, epochs * math.ceil(n / 128))
    train = make_dataset(split.x_train, split.y_train, 128, shuffle_seed=0)
    val = make_dataset(split.x_val, split.y_val, 1000)
    t = time.perf_counter()
    model.fit(train, validation_data=val, epochs=epochs, verbose=0, shuffle=False)
    return {"samples_per_second": n * epochs / (time.perf_counter() - t)}


def worker_overhead(quick: bool, reps: int) -> Row:
    """Adjacent pairs (worker, then bare fit): speed drifts over minutes on this shared
    machine, so the figure is the median of the pairs' ratios, not the ratio of two medians.
    (Most of the 2× swings seen earlier were a tf.data stall, fixed since: RESULTS.md.)"""
    n, epochs, pairs = (1000, 1, reps) if quick else (20000, 1, max(reps, 5))
    worker, bare = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(pairs):
            summary = cli("train", "--preset", "fast", "--epochs", str(epochs),
                          "--train-size", str(n), "--validation-size", "1000",
                          "--batch-size", "128", "--runs-dir", tmp)  # fmt: skip
            worker.append(summary["samples_per_second"])
            bare.append(child("fig1_worker", "bare_fit", n, epochs)["samples_per_second"])
    ratio = median([w / b for w, b in zip(worker, bare, strict=True)])
    return Row("1 worker overhead",
               f"`mnist train` {median(worker):,.0f} vs bare `model.fit` {median(bare):,.0f} "
               f"samples/s (fast preset, {n:,} images × {epochs}; median of {pairs} ratios, "
               "each of two runs back to back)",
               f"{ratio:.3f}", "≥ 0.97", ratio >= 0.97)  # fmt: skip


if __name__ == "__main__":
    child_main({"bare_fit": bare_fit})
