"""Figures 12 and 13, sweeps on Ray Tune: trials per hour against the same runs one after
another, and a trial's training speed against the same run through the CLI."""

from __future__ import annotations

import tempfile
import time

from benchmarks.common import Row, cli, median
from mnist import runs


def _sweep(tmp: str, trials: int, size: int, epochs: int, *extra: str) -> tuple[dict, float]:
    t = time.perf_counter()
    summary = cli("sweep", "--preset", "fast", "--trials", str(trials),
                  "--param", "learning_rate=loguniform:3e-4:3e-3",
                  "--param", f"train_size=choice:{size}", "--param", f"epochs=choice:{epochs}",
                  "--runs-dir", tmp, *extra)  # fmt: skip
    return summary, time.perf_counter() - t


def _train(tmp: str, values: dict) -> tuple[dict, float]:
    t = time.perf_counter()
    summary = cli("train", "--preset", "fast", "--learning-rate", repr(values["learning_rate"]),
                  "--train-size", str(values["train_size"]), "--epochs", str(values["epochs"]),
                  "--runs-dir", tmp)  # fmt: skip
    return summary, time.perf_counter() - t


def trials_per_hour(quick: bool, reps: int) -> Row:
    """A fixed small sweep (the fast preset, learning rates drawn with seed 0) on the
    embedded Ray with one trial per core, against its trials run one after another through
    the CLI (each using every core), wall clock from command to result, Ray's start-up
    included. Adjacent pairs; the median of their ratios."""
    trials, size, epochs = (2, 1000, 1) if quick else (6, 10000, 2)
    pairs = reps if quick else max(reps, 2)
    ray_rates, seq_rates = [], []
    for _ in range(pairs):
        with tempfile.TemporaryDirectory() as tmp:
            summary, seconds = _sweep(tmp, trials, size, epochs)
            assert summary["counts"].get("done") == trials, summary
            ray_rates.append(trials / seconds * 3600)
            started = time.perf_counter()
            for trial in summary["trials"]:
                _train(tmp, trial["values"])
            seq_rates.append(trials / (time.perf_counter() - started) * 3600)
    ratio = median([r / s for r, s in zip(ray_rates, seq_rates, strict=True)])
    return Row("12 sweep trials per hour",
               f"{trials} trials of the fast preset ({size:,} images × {epochs} epochs, "
               f"learning rates drawn from 3e-4–3e-3): embedded Ray, one trial per core, "
               f"{median(ray_rates):,.0f} trials/h vs the same runs one after another with "
               f"`mnist train` {median(seq_rates):,.0f} trials/h (wall clock, Ray's start "
               f"included; median of {pairs} ratios)",
               f"{ratio:.2f}×", "report", None)  # fmt: skip


def trial_overhead(quick: bool, reps: int) -> Row:
    """One trial given every core (``--cpus-per-trial`` = cores) against the same run through
    the CLI: training speed (samples/s over its epochs) in adjacent pairs."""
    import os

    size, epochs = (1000, 1) if quick else (20000, 2)
    cores = os.cpu_count() or 1
    ray_speed, cli_speed = [], []
    for _ in range(reps if quick else max(reps, 3)):
        with tempfile.TemporaryDirectory() as tmp:
            summary, _ = _sweep(tmp, 1, size, epochs, "--cpus-per-trial", str(cores))
            (trial,) = summary["trials"]
            run = runs.find_run(trial["run_id"], tmp)
            ray_speed.append(run.status.samples_per_second)
            done, _ = _train(tmp, trial["values"])
            cli_speed.append(done["samples_per_second"])
    ratio = median([r / c for r, c in zip(ray_speed, cli_speed, strict=True)])
    return Row("13 a trial on Ray vs the CLI",
               f"training speed of one trial with all {cores} cores, {median(ray_speed):,.0f} "
               f"samples/s, vs the same run through `mnist train`, {median(cli_speed):,.0f} "
               f"(fast preset, {size:,} images × {epochs}; median of the pairs' ratios)",
               f"{ratio:.3f}", "≥ 0.9", ratio >= 0.9)  # fmt: skip
