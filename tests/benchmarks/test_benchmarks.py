"""The benchmark command runs end to end on tiny sizes and prints every figure's row.

It checks that the measurements work, never how fast anything is: times on shared machines
are noise, and the targets are judged in benchmarks/RESULTS.md, not here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import _require_chromium

pytestmark = pytest.mark.slow


def test_quick_benchmark_prints_a_row_for_every_figure(tmp_path):
    _require_chromium()  # figures 2, 5 and 7 drive the browser
    out_file = tmp_path / "RESULTS.md"
    result = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--write", str(out_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")][1:]
    figures = [row.split("|")[1].strip().split()[0] for row in rows]
    assert figures == ["1", "2", "3", "4", "5", "6", "7", "8"]
    for row in rows:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert cells[1] and cells[4], row  # a value and what was measured
        assert cells[3] in {"yes", "**no**", "report"}, row
    written = out_file.read_text()
    assert written.startswith("# Benchmark results") and "TensorFlow" in written
