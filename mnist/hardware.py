"""What this machine's CPU can compute quickly, read without importing TensorFlow.

bfloat16 mixed precision pays only where the CPU has bfloat16 instructions (x86's
AVX512_BF16 or AMX, which oneDNN uses). Elsewhere TensorFlow emulates them: the fast
preset trained 9× *slower* in mixed_bfloat16 than in float32 on an AVX2-only EPYC, and
1.6× faster on one with AVX512_BF16 (benchmarks/RESULTS.md, sessions 5 and 4). So presets ask
for ``auto``, which the worker resolves on the CPU it trains on.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from mnist.i18n import _

CPUINFO = Path("/proc/cpuinfo")
THREADS_ENV = "MNIST_THREADS"  # CPU threads a worker may use (set for a sweep's trials)
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # Linux's names in /proc/cpuinfo


def cpu_threads() -> int:
    """The CPU threads this process may use: ``$MNIST_THREADS``, else every CPU it may run on."""
    raw = os.environ.get(THREADS_ENV, "")
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The CPU's feature flags as Linux lists them (empty where there is no such file)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _sep, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


@functools.cache
def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512_BF16 or AMX on x86 Linux).

    Elsewhere (other systems, ARM) the answer is False: float32 is never the slow choice.
    """
    return bool(cpu_flags() & BF16_FLAGS)


def resolve_precision(precision: str, native: bool | None = None) -> str:
    """The Keras dtype policy a run trains with: ``auto`` becomes ``mixed_bfloat16`` on a CPU
    with native bfloat16 and ``float32`` elsewhere; the others are themselves."""
    if precision != "auto":
        return precision
    return "mixed_bfloat16" if (native_bfloat16() if native is None else native) else "float32"


def describe_precision_support() -> str:
    """One sentence for people: what ``auto`` means on this machine (in the dashboard's
    language)."""
    if native_bfloat16():
        return _("This CPU computes bfloat16 natively, so auto trains in mixed_bfloat16.")
    return _(
        "This CPU has no native bfloat16 (AVX512_BF16 or AMX), so auto trains in float32; "
        "mixed_bfloat16 would be emulated here, several times slower."
    )
