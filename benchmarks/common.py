"""What every figure shares: its row of the table, medians, fresh processes, the machine."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
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
