"""`python -m benchmarks`: measure the figures and print (or write) the table."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import Row, machine, table
from benchmarks.fig1_worker import worker_overhead
from benchmarks.fig2_watched import training_watched
from benchmarks.fig3_time_to_99 import time_to_99
from benchmarks.fig4_sketch import sketch_latency
from benchmarks.fig5_stroke import stroke_to_answer
from benchmarks.fig6_data import data_load
from benchmarks.fig7_startup import start_up
from benchmarks.fig8_codelab import codelab_budget
from benchmarks.fig9_photos import photos_read
from benchmarks.fig10_inside import embedding_first_time, per_input_views
from benchmarks.fig12_sweeps import trial_overhead, trials_per_hour
from benchmarks.fig14_classroom import classroom_load

FIGURES: dict[int, Callable[[bool, int], Row]] = {
    1: worker_overhead, 2: training_watched, 3: time_to_99, 4: sketch_latency,
    5: stroke_to_answer, 6: data_load, 7: start_up, 8: codelab_budget, 9: photos_read,
    10: per_input_views, 11: embedding_first_time, 12: trials_per_hour, 13: trial_overhead,
    14: classroom_load,
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check every row")
    parser.add_argument("--only", help="comma-separated figure numbers, e.g. 4,6")
    parser.add_argument("--reps", type=int, help="repetitions per ratio (default 3, quick 1)")
    parser.add_argument("--write", help="also write the table, with the machine, to this file")
    args = parser.parse_args(argv)
    chosen = sorted(int(f) for f in args.only.split(",")) if args.only else sorted(FIGURES)
    reps = args.reps or (1 if args.quick else 3)
    rows = []
    for number in chosen:
        t = time.perf_counter()
        rows.append(FIGURES[number](args.quick, reps))
        print(f"figure {number} measured in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    text = table(rows)
    print(text)
    if args.write:
        out = Path(args.write)
        old = out.read_text() if out.is_file() else ""
        notes = old[old.index("\n## Notes") :] if "\n## Notes" in old else ""  # hand-written
        stamp = time.strftime("%Y-%m-%d %H:%M")
        out.write_text(
            f"# Benchmark results\n\nMeasured {stamp} on {machine()} with "
            f"`python -m benchmarks{' --quick' if args.quick else ''}`.\n\n{text}\n{notes}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
