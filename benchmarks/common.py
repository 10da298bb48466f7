"""What every figure shares: its row of the table, medians, fresh processes, the machine."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    figure: str
    measured: str  # what was measured, with the numbers
    value: str  # the headline figure
    target: str
    met: bool | None  # None: report only


def median(values: list[float]) -> float:
    return statistics.median(values)


def fast_precision() -> str:
    """The dtype policy the fast preset trains in on this CPU, as the worker resolves it."""
    from mnist.config import PRESETS
    from mnist.hardware import resolve_precision

    return resolve_precision(PRESETS["fast"].train.precision)


def child(module: str, name: str, *args: object, timeout: float = 1800) -> dict:
    """Run function ``name`` of ``benchmarks.<module>`` in a fresh interpreter (cold caches,
    its own TensorFlow); the JSON object it printed last."""
    out = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", name, *map(str, args)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"benchmark step {module}.{name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_main(functions: dict[str, Callable[..., dict]]) -> None:
    """A figure module run as ``python -m``: call the named child, print its JSON result."""
    name, *args = sys.argv[1:]
    print(json.dumps(functions[name](*args)))


def cli(*args: str, timeout: float = 3600) -> dict:
    """``python -m mnist ARGS --json`` in a fresh process; its JSON summary."""
    out = subprocess.run(
        [sys.executable, "-m", "mnist", *args, "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if out.returncode not in (0, 3):
        raise RuntimeError(f"`mnist {' '.join(args)}` failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    """The machine, in one line: cores, CPU, memory, platform, Python, TensorFlow."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} × {cpu}, {mem:.0f} GiB, {platform.platform()}, "
        f"Python {platform.python_version()}, TensorFlow {metadata.version('tensorflow')}"
    )


def table(rows: list[Row]) -> str:
    lines = ["| figure | value | target | met | measured |", "|---|---|---|---|---|"]
    for r in rows:
        met = "report" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(f"| {r.figure} | {r.value} | {r.target} | {met} | {r.measured} |")
    return "\n".join(lines)


def start_long_run(runs_dir: str | os.PathLike, quick: bool, owner: str | None = None):
    """A fast-preset run long enough to outlast any measurement however fast the machine
    (500 epochs; stop it with ``stop_run``), returned once it trains (TensorFlow's start-up is
    not training): (its folder, a ``MetricsTail`` of it)."""
    import dataclasses

    from mnist import runs
    from mnist.config import PRESETS

    p = PRESETS["fast"]
    train = dataclasses.replace(p.train, epochs=500, train_size=20000 if quick else 55000)
    path = runs.start_run(p.model, train, "fast", runs_dir, owner=owner)
    tail = runs.MetricsTail(path)
    try:
        while not tail.batches:
            tail.poll()
            if runs.load_run(path).state in runs.FINAL_STATES:
                raise RuntimeError("the benchmark run ended before it trained")
            time.sleep(0.2)
    except BaseException:
        stop_run(path)
        raise
    return path, tail


def steps_per_second(batches: list) -> float:
    """Training steps per second over consecutive batch records, on the worker's own clock,
    within epochs (the pause to validate at an epoch's end is not training speed)."""
    steps = [(a, b) for a, b in zip(batches, batches[1:], strict=False) if a.epoch == b.epoch]
    if not steps:
        raise RuntimeError("the run made no progress in a phase")
    return len(steps) / sum(b.elapsed - a.elapsed for a, b in steps)


def stop_run(path: Path | None) -> None:
    """Stop a run and wait (up to 2 min) until it has saved and scored its model."""
    from mnist import runs

    if path is not None and runs.request_stop(path):
        for _ in range(600):
            if runs.load_run(path).state in runs.FINAL_STATES:
                break
            time.sleep(0.2)
