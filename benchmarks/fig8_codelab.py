"""Figure 8, the codelab's budget: its model against the best preset's on 5,500 images."""

from __future__ import annotations

import tempfile

from benchmarks.common import Row, cli


def codelab_budget(quick: bool, reps: int) -> Row:
    epochs = "1" if quick else "10"
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("codelab", []), ("best", ["--batch-size", "64"])):
            results[name] = cli("train", "--preset", name, "--epochs", epochs,
                                "--train-size", "5500", "--validation-size", "1000",
                                "--runs-dir", tmp, *extra)  # fmt: skip
    a, b = results["codelab"], results["best"]
    return Row(
        "8 codelab, same budget",
        f"5,500 images × {epochs} epochs: codelab model {a['test_accuracy']:.2%} "
        f"({a['train_seconds']:.0f} s); best preset's model (batch 64, augmentation) "
        f"{b['test_accuracy']:.2%} ({b['train_seconds']:.0f} s)",
        f"{a['test_accuracy']:.2%} vs {b['test_accuracy']:.2%}",
        "report both",
        None,
    )
