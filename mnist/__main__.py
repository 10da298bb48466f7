"""Command line: ``python -m mnist train | evaluate | predict | info``.

Bad flags, files or values end in one line on stderr and a non-zero exit, never a traceback.
Exit status: 0 success, 1 a failure (a failed run, an unreadable image), 2 bad usage,
3 a training run stopped on request (its model is still saved), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from mnist import DEFAULT_MODEL, runs
from mnist import data as mnist_data
from mnist.config import PRESETS, TrainConfig

PROG = "python -m mnist"


class CliError(Exception):
    """A user error: printed as one line, exit status 2 unless given."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + error
        raise CliError(f"{message} (see {self.prog} --help)")


def _int_at_least(minimum: int):
    """An argparse type: a whole number no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} must be at least {minimum}")
        return value

    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return value


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description="MNIST CNN Studio from the command line.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    train = sub.add_parser("train", help="train a model in a new run folder (the worker)")
    train.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="fast",
        help="model and training defaults to start from (default: fast)",
    )
    train.add_argument("--epochs", type=_positive_int)
    train.add_argument("--batch-size", type=_positive_int)
    train.add_argument("--learning-rate", type=_positive_float)
    train.add_argument("--optimizer", choices=["adam", "adamw", "sgd", "rmsprop"])
    train.add_argument(
        "--train-size", type=_positive_int, help="train on a stratified subset of this many images"
    )
    train.add_argument("--validation-size", type=_nonneg_int)
    train.add_argument("--seed", type=_nonneg_int)
    train.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random rotation, shift and zoom while training",
    )
    train.add_argument("--early-stopping", type=_nonneg_int, metavar="PATIENCE")
    train.add_argument("--runs-dir", help="where run folders go (default: $MNIST_RUNS_DIR or runs)")
    train.add_argument(
        "--max-runs",
        type=_positive_int,
        help="runs allowed to train at once in this runs folder (default: 1)",
    )
    train.add_argument("--run-dir", help="train an existing run folder (what the dashboard starts)")
    train.add_argument(
        "--json", action="store_true", help="progress to stderr; last stdout line is a JSON summary"
    )
    train.add_argument(
        "--export",
        metavar="PATH",
        help="when done, also write the model without optimizer state to PATH and its summary "
        "beside it (.json): how models/default.keras is made",
    )

    evaluate = sub.add_parser("evaluate", help="test accuracy, per-class table, confusion matrix")
    source = evaluate.add_mutually_exclusive_group()
    source.add_argument("--model", help=f"a .keras file (default: {_rel(DEFAULT_MODEL)})")
    source.add_argument("--run", metavar="ID", help="the model of this run")
    evaluate.add_argument("--runs-dir")
    evaluate.add_argument("--json", action="store_true")

    predict = sub.add_parser("predict", help="classify image files: one JSON line per image")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    psource = predict.add_mutually_exclusive_group()
    psource.add_argument("--model", help=f"a .keras file (default: {_rel(DEFAULT_MODEL)})")
    psource.add_argument("--run", metavar="ID", help="the model of this run")
    predict.add_argument("--runs-dir")

    info = sub.add_parser("info", help="dataset summary: counts per class, checksum status")
    info.add_argument("--json", action="store_true")
    return parser


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# -- train ---------------------------------------------------------------------------------
def _train_config(args: argparse.Namespace) -> TrainConfig:
    preset = PRESETS[args.preset]
    overrides = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "optimizer": args.optimizer,
        "train_size": args.train_size,
        "validation_size": args.validation_size,
        "seed": args.seed,
        "augment": args.augment,
        "early_stopping": args.early_stopping,
    }
    values = {**preset.train.to_dict(), **{k: v for k, v in overrides.items() if v is not None}}
    return TrainConfig.from_dict(values)  # ValueError → one line


def _progress_printer(out, epochs: int):
    last = [0.0]

    def report(record: dict) -> None:
        now = time.monotonic()
        if record["type"] == "epoch":
            val = ""
            if record.get("val_accuracy") is not None:
                val = (
                    f"  val_loss {record['val_loss']:.4f}"
                    f"  val_accuracy {record['val_accuracy']:.4f}"
                )
            print(
                f"epoch {record['epoch']}/{epochs} finished in {record['epoch_seconds']:.1f} s  "
                f"loss {record['loss'] or float('nan'):.4f}  "
                f"accuracy {record['accuracy'] or float('nan'):.4f}{val}",
                file=out,
                flush=True,
            )
        elif now - last[0] >= 2.0:
            last[0] = now
            rate = record.get("samples_per_second") or 0
            print(
                f"epoch {record['epoch']}/{epochs}  batch {record['batch']}  "
                f"loss {record['loss'] or float('nan'):.4f}  "
                f"accuracy {record['accuracy'] or float('nan'):.4f}  "
                f"{rate:.0f} samples/s  ETA {runs.clock(record.get('eta_seconds'))}",
                file=out,
                flush=True,
            )

    return report


def cmd_train(args: argparse.Namespace) -> int:
    out = sys.stderr if args.json else sys.stdout
    if args.run_dir:
        run_dir = Path(args.run_dir)
        config = runs.load_run(run_dir).config  # RunError → one line
    else:
        preset = PRESETS[args.preset]
        train_config = _train_config(args)
        run_dir = runs.create_run(preset.model, train_config, preset.name, args.runs_dir)
        config = runs.load_run(run_dir).config
        print(f"run {run_dir.name} ({preset.name}): {run_dir}", file=out, flush=True)
    writer = runs.StatusWriter(run_dir)
    writer.start()  # the run shows its worker (pid, heartbeat) while TensorFlow loads

    from mnist import training  # TensorFlow: only now

    status = training.execute(
        run_dir,
        max_runs=args.max_runs,
        report=_progress_printer(out, config.train.epochs),
        status=writer,
    )
    state = status.get("state")
    summary = {
        "run_id": run_dir.name,
        "run_dir": str(run_dir),
        "status": state,
        "test_accuracy": status.get("test_accuracy"),
        "train_seconds": status.get("train_seconds"),
        "samples_per_second": status.get("samples_per_second"),
        "epochs_completed": status.get("epoch"),
        "params": status.get("params"),
        "error": status.get("error"),
    }
    if state in (runs.DONE, runs.STOPPED):
        print(
            f"run {run_dir.name} {state}: test accuracy {summary['test_accuracy']:.2%} "
            f"after {summary['train_seconds']:.1f} s of training "
            f"({summary['samples_per_second']:.0f} samples/s); model: {run_dir / runs.MODEL}",
            file=out,
            flush=True,
        )
    else:
        print(f"run {run_dir.name} {state}: {status.get('error')}", file=sys.stderr, flush=True)
    if args.export and state == runs.DONE:
        from mnist.models import export_for_inference

        dest = export_for_inference(run_dir / runs.MODEL, args.export)
        config = runs.load_run(run_dir).config
        runs.write_json_atomic(
            dest.with_suffix(".json"),
            {
                **summary,
                "command": " ".join([PROG, *sys.argv[1:]]),
                "config": config.to_dict(),
            },
        )
        print(f"exported {dest} ({dest.stat().st_size / 1e6:.1f} MB)", file=out, flush=True)
    if args.json:
        print(json.dumps(summary), flush=True)
    return {runs.DONE: 0, runs.STOPPED: 3}.get(state, 1)


# -- evaluate / predict --------------------------------------------------------------------
def _model_path(args: argparse.Namespace) -> Path:
    if args.run:
        run = runs.find_run(args.run, args.runs_dir)
        if run.model_path is None:
            raise CliError(f"run {args.run} has no model yet (it is {run.state})", 1)
        return run.model_path
    path = Path(args.model) if args.model else DEFAULT_MODEL
    if not path.is_file():
        raise CliError(f"{path}: no such model file", 1)
    return path


def _load(path: Path):
    from mnist.models import load_model

    try:
        return load_model(path)
    except ValueError as exc:
        raise CliError(str(exc), 1) from None


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mnist.evaluation import evaluate_model

    path = _model_path(args)
    model = _load(path)
    dataset = mnist_data.load()
    try:
        result = evaluate_model(model, dataset.test_images, dataset.test_labels)
    except ValueError as exc:  # a diverged model's NaN outputs
        raise CliError(f"{path}: {exc}", 1) from None
    if args.json:
        print(json.dumps({"model": str(path), **result.to_dict()}))
        return 0
    print(f"model: {path}")
    print(
        f"test accuracy: {result.accuracy:.2%} ({result.count:,} images, "
        f"{len(result.mistakes)} wrong)\n"
    )
    print("digit  support  precision  recall     f1")
    for row in result.per_class:
        print(
            f"{row.digit:>5}  {row.support:>7}  {row.precision:>9.4f}  {row.recall:>6.4f}"
            f"  {row.f1:>5.4f}"
        )
    print("\nconfusion matrix (rows: true digit, columns: predicted)")
    print("      " + "".join(f"{d:>6}" for d in range(10)))
    for d, row in enumerate(result.confusion):
        print(f"{d:>6}" + "".join(f"{n:>6}" for n in row))
    if result.most_confused:
        pairs = ", ".join(f"{t}→{p} ({n})" for t, p, n in result.most_confused[:5])
        print(f"\nmost confused (true→predicted): {pairs}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from mnist.sketch import SketchError, classify, open_image, preprocess

    path = _model_path(args)
    model = _load(path)
    failed = 0
    for name in args.images:
        try:
            x = preprocess(open_image(name))
        except SketchError as exc:
            failed += 1
            message = str(exc)
            if not message.startswith(name):
                message = f"{name}: {message}"
            print(f"{PROG} predict: error: {message}", file=sys.stderr, flush=True)
            continue
        try:
            probs = classify(model, x)
        except ValueError as exc:  # the model, not the image: no other image will do better
            raise CliError(f"{path}: {exc}", 1) from None
        digit = int(probs.argmax())
        print(
            json.dumps(
                {
                    "path": name,
                    "digit": digit,
                    "confidence": round(float(probs[digit]), 6),
                    "probabilities": [round(float(p), 6) for p in probs],
                }
            ),
            flush=True,
        )
    return 1 if failed else 0


def cmd_info(args: argparse.Namespace) -> int:
    summary = mnist_data.load().summary
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"MNIST from {summary['source']} — checksums {summary['checksums']}")
    print(f"{summary['train']:,} training images, {summary['test']:,} test images")
    print("digit   train   test")
    for d, (tr, te) in enumerate(zip(summary["train_counts"], summary["test_counts"], strict=True)):
        print(f"{d:>5}  {tr:>6}  {te:>5}")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "info": cmd_info}


def main(argv: list[str] | None = None) -> int:
    from mnist.sketch import SketchError

    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except CliError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.status
    except (mnist_data.DataError, runs.RunError, SketchError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # an invalid config value, as the config explains it
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
