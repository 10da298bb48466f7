"""Train every preset with the CLI and write the table of models/README.md: one command.

    python -m benchmarks.presets --write models/README.md      # minutes to tens of minutes
    python -m benchmarks.presets --write models/README.md --export-default

Each preset trains once, in turn, with ``python -m mnist train --preset NAME --seed 0 --json``
(its own settings); the table gets each run's measured figures and the machine they came
from. ``--export-default`` also exports the ``best`` run's model as models/default.keras (how
the bundled model is made). ``--quick`` trains one tiny epoch of each, to check the command
works (the test suite does; it times nothing).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, cli, machine
from mnist.config import PRESETS

START, END = "<!-- presets:start -->", "<!-- presets:end -->"
QUICK = ["--epochs", "1", "--train-size", "500", "--validation-size", "100"]


def train(name: str, runs_dir: str, quick: bool, export: Path | None) -> dict:
    args = ["train", "--preset", name, "--seed", "0", "--runs-dir", runs_dir]
    args += QUICK if quick else []
    args += ["--export", str(export)] if export is not None else []
    return cli(*args, timeout=6 * 3600)


def row(name: str, summary: dict) -> str:
    preset = PRESETS[name]
    return (
        f"| `{name}` | {summary['params']:,} | {preset.train.describe()} | "
        f"{summary['test_accuracy']:.2%} | {summary['train_seconds']:.1f} s | "
        f"{summary['samples_per_second']:,.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.presets", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--write", metavar="FILE", help="replace the table in FILE")
    parser.add_argument("--export-default", action="store_true",
                        help="export the best preset's model as models/default.keras")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="one tiny epoch of each preset")
    args = parser.parse_args(argv)
    export = ROOT / "models" / "default.keras" if args.export_default else None
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, with "
        f"`python -m benchmarks.presets{' --quick' if args.quick else ''}` (each preset once, "
        "in turn, `python -m mnist train --preset NAME --seed 0`):",
        "",
        "| preset | parameters | training | test accuracy | training time | samples/s |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as runs_dir:
        for name in PRESETS:
            started = time.perf_counter()
            summary = train(name, runs_dir, args.quick, export if name == "best" else None)
            lines.append(row(name, summary))
            print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    table = "\n".join(lines)
    print(table)
    if args.write:
        path = Path(args.write)
        text = path.read_text()
        if START not in text or END not in text:
            raise SystemExit(f"{path}: no {START} … {END} block to replace")
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        path.write_text(f"{before}{START}\n{table}\n{END}{after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
