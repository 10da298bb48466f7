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
        [sys.executable, "-m", "benchmarks", "--quick", "--write", str(out_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")][1:]
    figures = [row.split("|")[1].strip().split()[0] for row in rows]
    assert figures == [str(n) for n in range(1, 15)]
    for row in rows:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert cells[1] and cells[4], row  # a value and what was measured
        assert cells[3] in {"yes", "**no**", "report"}, row
    written = out_file.read_text()
    assert written.startswith("# Benchmark results") and "TensorFlow" in written


def test_the_preset_table_is_one_command(tmp_path):
    """benchmarks.presets trains every preset and replaces models/README.md's table."""
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "models" / "README.md").read_text())
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.presets", "--quick", "--write", str(readme)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    text = readme.read_text()
    block = text.split("<!-- presets:start -->")[1].split("<!-- presets:end -->")[0]
    assert "Measured " in block and "TensorFlow" in block and "--quick" in block
    rows = [line for line in block.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == ["codelab", "fast", "best"]
    assert all("%" in r and " s |" in r for r in rows)
    # Nothing outside the block changed.
    original = (ROOT / "models" / "README.md").read_text()
    assert text.split("<!-- presets:start -->")[0] == original.split("<!-- presets:start -->")[0]
    assert text.split("<!-- presets:end -->")[1] == original.split("<!-- presets:end -->")[1]
