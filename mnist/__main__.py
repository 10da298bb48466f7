"""Command line: ``mnist train | evaluate | predict | info | runs | finetune | digits | export |
import | sweep | sweeps`` (or ``python -m mnist …``).

Bad flags, files or values end in one line on stderr and a non-zero exit, never a traceback,
and everything that can be checked is checked before TensorFlow loads (a few seconds).
Exit status: 0 success, 1 a failure (a failed run, an unreadable image), 2 bad usage,
3 a training run stopped on request (its model is still saved), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shlex
import signal
import sys
import time
from pathlib import Path

from mnist import DEFAULT_MODEL, __version__, access, runs
from mnist import data as mnist_data
from mnist.config import OPTIMIZERS, PRECISIONS, PRESETS, SCHEDULES, TrainConfig
from mnist.records import BatchRecord, EpochRecord, RunStatus

PROG = "mnist" if Path(sys.argv[0]).name == "mnist" else "python -m mnist"
HELP_WIDTH = 100  # --help is the same on every terminal, so the README can show it
EXIT = {"ok": 0, "failed": 1, "usage": 2, "stopped": 3, "interrupted": 130}


class CliError(Exception):
    """A user error: printed as one line, exit status 2 unless given."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault(
            "formatter_class",
            lambda prog: argparse.HelpFormatter(prog, width=HELP_WIDTH, max_help_position=32),
        )
        super().__init__(*args, **kwargs)

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


def _seed(text: str) -> int:
    """A seed: a whole number, or ``random`` for a fresh one (recorded in config.json)."""
    if text == "random":
        return secrets.randbelow(2**31)
    return _nonneg_int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return value


def _preset_values(field: str, show=str) -> str:
    """Each preset's value of a training field, for the help: "codelab 10, fast 3, best 15"."""
    values = []
    for name, preset in PRESETS.items():
        value = getattr(preset.train, field)
        values.append(f"{name} {show(value)}")
    return ", ".join(values)


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="MNIST CNN Studio from the command line: train, evaluate and use CNNs "
        "for handwritten digits, with the same code as the dashboard.",
        epilog="Exit status: 0 success, 1 failure, 2 bad usage, 3 run stopped on request, "
        "130 interrupted. Errors are one line on stderr.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__} (mnist-cnn-studio)"
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also show TensorFlow's own start-up messages (hidden by default)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    train = sub.add_parser(
        "train",
        help="train a model in a new run folder",
        description="Train a CNN in a new run folder (runs/<id>/): progress on the terminal, "
        "then the test accuracy. Unset options take the preset's values. Ctrl-C, SIGTERM or a "
        "STOP file in the run folder stops at the next batch and still saves the model.",
    )
    train.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="fast",
        help="the model and training to start from (default: fast)",
    )
    train.add_argument(
        "--epochs",
        type=_positive_int,
        metavar="N",
        help=f"passes over the training images (default: {_preset_values('epochs')})",
    )
    train.add_argument(
        "--batch-size",
        type=_positive_int,
        metavar="N",
        help=f"images per training step (default: {_preset_values('batch_size')})",
    )
    train.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        help="adam, adamw, rmsprop, or sgd with Nesterov momentum 0.9 (default: adam)",
    )
    train.add_argument(
        "--learning-rate",
        type=_positive_float,
        metavar="X",
        help="the (peak) learning rate "
        f"(default: {_preset_values('learning_rate', '{:g}'.format)})",
    )
    train.add_argument(
        "--schedule",
        choices=SCHEDULES,
        help="constant, or cosine decay to 0 over the run "
        f"(default: {_preset_values('lr_schedule')})",
    )
    train.add_argument(
        "--train-size",
        type=_positive_int,
        metavar="N",
        help="train on a stratified subset of this many images (default: "
        f"{_preset_values('train_size', lambda n: n or 'all')}; all: every image not held "
        "out for validation)",
    )
    train.add_argument(
        "--validation-size",
        type=_nonneg_int,
        metavar="N",
        help="training images held out for val_loss / val_accuracy "
        f"(default: {_preset_values('validation_size')})",
    )
    train.add_argument(
        "--seed",
        type=_seed,
        metavar="N|random",
        help="seed of the split, shuffling, initial weights and augmentation; the same seed "
        "and settings train the same model (default: 0; 'random' draws a fresh one, recorded "
        "in config.json)",
    )
    train.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random rotation ±10°, shift ±10 %% and zoom ±10 %% of each training image "
        "(default: best only)",
    )
    train.add_argument(
        "--early-stopping",
        type=_nonneg_int,
        metavar="PATIENCE",
        help="stop when val_loss has not improved for PATIENCE epochs; the model keeps the "
        "best epoch's weights (default: 0, off)",
    )
    train.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="float32, or mixed_bfloat16: bfloat16 arithmetic with float32 weights, faster on "
        "CPUs with AVX512_BF16 or AMX and several times slower without; auto: mixed_bfloat16 "
        f"where the CPU has them, else float32 (default: {_preset_values('precision')})",
    )
    train.add_argument(
        "--runs-dir",
        metavar="DIR",
        help="where run folders go (default: $MNIST_RUNS_DIR, else ./runs)",
    )
    train.add_argument(
        "--max-runs",
        type=_positive_int,
        metavar="N",
        help="runs allowed to train at once in the runs folder; the others wait, queued "
        "(default: $MNIST_MAX_RUNS, else 1)",
    )
    train.add_argument(
        "--run-dir",
        metavar="DIR",
        help="train a queued run folder the dashboard created, instead of a new one",
    )
    train.add_argument(
        "--export",
        metavar="PATH.keras",
        help="when the run is done, also write its model without optimizer state to PATH.keras "
        "and a summary beside it (PATH.json): how models/default.keras is made",
    )
    train.add_argument(
        "--json",
        action="store_true",
        help="progress to stderr; the last line on stdout is a JSON summary",
    )

    evaluate = sub.add_parser(
        "evaluate",
        help="test accuracy, per-class table, confusion matrix",
        description="Score a model on the 10,000 MNIST test images.",
    )
    _model_options(evaluate)
    evaluate.add_argument(
        "--json", action="store_true", help="one JSON object instead of the tables"
    )

    predict = sub.add_parser(
        "predict",
        help="classify image files: one JSON line per image",
        description="Classify photos or drawings of digits, each preprocessed as MNIST was "
        "made. One JSON line per image; an unreadable one gets a line on stderr.",
    )
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, … files")
    _model_options(predict)

    info = sub.add_parser(
        "info",
        help="dataset summary: counts per class, checksum status",
        description="The MNIST data in use: where it is read from, checksums, counts.",
    )
    info.add_argument("--json", action="store_true", help="one JSON object instead of a table")

    runs_cmd = sub.add_parser(
        "runs",
        help="list, show, stop or delete run folders",
        description="The run folders of a runs folder, with the same liveness check as the "
        "dashboard: a run whose worker died shows as failed.",
    )
    runs_sub = runs_cmd.add_subparsers(dest="action", required=True, parser_class=Parser)
    listing = runs_sub.add_parser("list", help="every run, newest first")
    listing.add_argument("--json", action="store_true", help="one JSON line per run")
    show = runs_sub.add_parser("show", help="one run's config and status as JSON")
    show.add_argument("run_id", metavar="ID")
    stop = runs_sub.add_parser("stop", help="ask a live run to stop at its next batch")
    stop.add_argument("run_id", metavar="ID")
    delete = runs_sub.add_parser("delete", help="delete finished runs")
    delete.add_argument("run_ids", nargs="+", metavar="ID")
    for p in (listing, show, stop, delete):
        p.add_argument(
            "--runs-dir",
            metavar="DIR",
            help="the runs folder (default: $MNIST_RUNS_DIR, else ./runs)",
        )
    _finetune_parser(sub)
    _digits_parser(sub)
    _sweep_parsers(sub)
    export = sub.add_parser(
        "export",
        help="write a model for another runtime, checked, with a model card",
        description="Export a model as a .keras file (no optimizer state), a TensorFlow "
        "SavedModel folder, ONNX or LiteRT (.tflite). The export is loaded in its own runtime "
        "and its probabilities for 1,000 test images compared with Keras's; it is written only "
        "if they differ by at most 1e-5. A model card (Markdown and JSON) goes beside it.",
    )
    _model_options(export)
    export.add_argument(
        "--format",
        required=True,
        choices=("keras", "saved_model", "onnx", "litert"),
        help="keras: a .keras file without optimizer state; saved_model: a TensorFlow "
        "SavedModel folder; onnx: ONNX through tf2onnx; litert: a .tflite file",
    )
    export.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="the file (.keras, .onnx, .tflite) or, for saved_model, the folder to write",
    )
    imp = sub.add_parser(
        "import",
        help="make a run of a .keras model from elsewhere",
        description="Load a Keras 3 .keras file in safe mode, check that it takes 28×28×1 "
        "images and gives 10 probabilities, score it on the 10,000 test images and add it to "
        "the runs folder, where the dashboard's pages can use it.",
    )
    imp.add_argument("path", metavar="PATH.keras")
    imp.add_argument(
        "--runs-dir", metavar="DIR", help="the runs folder (default: $MNIST_RUNS_DIR, else ./runs)"
    )
    imp.add_argument("--json", action="store_true", help="the new run as one JSON line")
    return parser


def _sweep_parsers(sub) -> None:
    from mnist import sweeps

    sweep = sub.add_parser(
        "sweep",
        help="search hyper-parameters: many runs on Ray Tune, here or on a cluster",
        description="Train --trials runs of a preset, each with settings drawn at random from "
        "the --param ranges, on Ray Tune: an embedded Ray using every CPU of this machine "
        "(--cpus-per-trial each, one trial per budget at once), or the Ray cluster at --address "
        "(default: $RAY_ADDRESS), whose nodes must see the runs folder at the same path. Each "
        "trial is an ordinary run folder; trials are compared on validation accuracy. Ctrl-C "
        "stops every trial at its next batch; finished trials and stopped trials' models stay.",
        epilog="Searchable: "
        + "; ".join(f"{name} ({what})" for name, (_, what) in sweeps.SEARCHABLE.items())
        + ". Ranges: choice:A,B,… uniform:LOW:HIGH loguniform:LOW:HIGH int:LOW:HIGH.",
    )
    sweep.add_argument(
        "--preset", choices=list(PRESETS), default="fast",
        help="the model and settings trials start from (default: fast)",
    )  # fmt: skip
    sweep.add_argument(
        "--param", action="append", default=[], metavar="NAME=KIND:ARGS",
        help="a field to vary and its range, e.g. learning_rate=loguniform:1e-4:1e-2 or "
        "batch_size=choice:64,128,256 (repeat for more fields)",
    )  # fmt: skip
    sweep.add_argument("--trials", type=_positive_int, default=8, help="runs to train (8)")
    sweep.add_argument(
        "--scheduler", choices=sweeps.SCHEDULERS, default="none",
        help="; ".join(f"{k}: {v}" for k, v in sweeps.SCHEDULER_WORDS.items()),
    )  # fmt: skip
    sweep.add_argument(
        "--seed", type=_seed, default=0, help="the seed of the draws (a number or 'random'; 0)"
    )
    sweep.add_argument(
        "--cpus-per-trial", type=_positive_int, default=1, metavar="N",
        help="CPUs (and TensorFlow threads) each trial gets (1)",
    )  # fmt: skip
    sweep.add_argument(
        "--address", metavar="HOST:PORT",
        help="an existing Ray cluster (default: $RAY_ADDRESS; unset: an embedded Ray)",
    )  # fmt: skip
    sweep.add_argument(
        "--runs-dir", metavar="DIR", help="the runs folder (default: $MNIST_RUNS_DIR, else ./runs)"
    )
    sweep.add_argument(
        "--sweep-dir", metavar="DIR",
        help="run a sweep folder made elsewhere (the dashboard's Sweep page) instead",
    )  # fmt: skip
    sweep.add_argument("--json", action="store_true", help="the result as one JSON line")

    manage = sub.add_parser(
        "sweeps", help="list, show or stop sweeps",
        description="The sweeps of a runs folder (runs/sweeps/), as the Sweep page shows them.",
    )  # fmt: skip
    actions = manage.add_subparsers(dest="action", required=True, parser_class=Parser)
    listing = actions.add_parser("list", help="every sweep, newest first")
    show = actions.add_parser("show", help="one sweep's trials")
    show.add_argument("sweep_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="as one JSON line")
    stop = actions.add_parser("stop", help="stop a sweep: no new trials, live ones stop")
    stop.add_argument("sweep_id", metavar="ID")
    for p in (listing, show, stop):
        p.add_argument(
            "--runs-dir", metavar="DIR",
            help="the runs folder (default: $MNIST_RUNS_DIR, else ./runs)",
        )  # fmt: skip


def _samples_option(parser: Parser) -> None:
    parser.add_argument(
        "--samples",
        metavar="DIR",
        help="the folder of your digits (default: $MNIST_PERSONAL_DIR, else personal/ in the "
        "runs folder)",
    )


def _finetune_parser(sub) -> None:
    from mnist import finetune

    ft = sub.add_parser(
        "finetune",
        help="teach a model your own handwriting",
        description="Fine-tune a model on your own digits (collected on the dashboard's My "
        "digits page, or imported with `digits import`), mixed with a replay of MNIST images so "
        "it does not forget MNIST. Every fifth sample of each digit is held out; the run reports "
        "accuracy on them and on the MNIST test images before and after. Needs at least "
        f"{finetune.MIN_PER_DIGIT} samples of every digit.",
    )
    ft.add_argument(
        "--base",
        metavar="RUN|PATH",
        help="the model to start from: a run id, a .keras file, or 'default' (the bundled "
        "model; the default)",
    )
    _samples_option(ft)
    ft.add_argument(
        "--mode",
        choices=("head", "features", "all"),
        default="features",
        help="head: only the last layer learns; features: the convolutions are frozen, the "
        "dense layers learn; all: every layer learns at a low learning rate (default: features)",
    )
    ft.add_argument("--epochs", type=_positive_int, metavar="N", help=f"default: {finetune.EPOCHS}")
    ft.add_argument(
        "--learning-rate",
        type=_positive_float,
        metavar="X",
        help="default: 1e-3 (head, features), 1e-4 (all)",
    )
    ft.add_argument(
        "--replay",
        type=_positive_int,
        metavar="N",
        help=f"MNIST training images mixed into each epoch (default: {finetune.REPLAY_IMAGES:,})",
    )
    ft.add_argument("--seed", type=_seed, metavar="N|random", help="default: 0")
    ft.add_argument(
        "--runs-dir",
        metavar="DIR",
        help="where the run goes (default: $MNIST_RUNS_DIR, else ./runs)",
    )
    ft.add_argument(
        "--max-runs",
        type=_positive_int,
        metavar="N",
        help="runs allowed to train at once (default: $MNIST_MAX_RUNS, else 1)",
    )
    ft.add_argument(
        "--json", action="store_true", help="progress to stderr; the last line is a JSON summary"
    )


def _digits_parser(sub) -> None:
    digits = sub.add_parser(
        "digits",
        help="your own digits: list, export or import them as a zip",
        description="The samples of your handwriting the dashboard's My digits page collects.",
    )
    actions = digits.add_subparsers(dest="action", required=True, parser_class=Parser)
    listing = actions.add_parser("list", help="how many samples of each digit")
    listing.add_argument("--json", action="store_true", help="one JSON object")
    export = actions.add_parser("export", help="write every sample to a zip file")
    export.add_argument("zip", metavar="ZIP")
    imp = actions.add_parser("import", help="add the samples of a zip file")
    imp.add_argument("zip", metavar="ZIP")
    for p in (listing, export, imp):
        _samples_option(p)


def _model_options(parser: Parser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--model", metavar="PATH", help="a .keras file (default: the bundled models/default.keras)"
    )
    source.add_argument("--run", metavar="ID", help="the model of this run")
    parser.add_argument(
        "--runs-dir",
        metavar="DIR",
        help="where --run looks (default: $MNIST_RUNS_DIR, else ./runs)",
    )


# -- train ---------------------------------------------------------------------------------
def _train_config(args: argparse.Namespace) -> TrainConfig:
    preset = PRESETS[args.preset]
    overrides = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "optimizer": args.optimizer,
        "learning_rate": args.learning_rate,
        "lr_schedule": args.schedule,
        "train_size": args.train_size,
        "validation_size": args.validation_size,
        "seed": args.seed,
        "augment": args.augment,
        "early_stopping": args.early_stopping,
        "precision": args.precision,
    }
    values = {**preset.train.to_dict(), **{k: v for k, v in overrides.items() if v is not None}}
    return TrainConfig.from_dict(values)  # ValueError → one line


def _export_path(text: str) -> Path:
    """Where ``--export`` will write, checked before anything trains."""
    path = Path(text).expanduser().absolute()
    if path.suffix != ".keras":
        raise CliError(f"--export {text}: the model file must end in .keras")
    if path.is_dir():
        raise CliError(f"--export {text}: is a folder; give a file name ending in .keras")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise CliError(f"--export {text}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK):
        raise CliError(f"--export {text}: cannot write in {parent}")
    return path


def _trainable_run_dir(text: str) -> Path:
    """A run folder ``--run-dir`` may train: created, never started (or never got going)."""
    run = runs.load_run(text)  # RunError → one line
    status = run.status
    started = (run.path / runs.METRICS).exists() or status.state not in (runs.QUEUED, runs.FAILED)
    if started or (status.state == runs.FAILED and not status.stale):
        raise CliError(
            f"run {run.run_id} is {run.state}: a run folder is trained once; "
            f"start a new run instead (`{PROG} train`)"
        )
    if runs.worker_reported(status) and run.is_live:
        raise CliError(f"run {run.run_id} already has a worker (pid {status.pid})")
    return run.path


def _progress_printer(out, epochs: int):
    last = [0.0]

    def report(record: BatchRecord | EpochRecord) -> None:
        now = time.monotonic()
        loss = record.loss if record.loss is not None else float("nan")
        accuracy = record.accuracy if record.accuracy is not None else float("nan")
        figures = f"loss {loss:.4f}  accuracy {accuracy:.4f}"
        if isinstance(record, EpochRecord):
            val = ""
            if record.val_accuracy is not None:
                val = f"  val_loss {record.val_loss:.4f}  val_accuracy {record.val_accuracy:.4f}"
            how = "finished" if record.complete else "stopped part-way"
            print(
                f"epoch {record.epoch}/{epochs} {how} in {record.epoch_seconds:.1f} s  "
                f"{figures}{val}",
                file=out,
                flush=True,
            )
        elif now - last[0] >= 2.0:
            last[0] = now
            rate = record.samples_per_second or 0
            print(
                f"epoch {record.epoch}/{epochs}  batch {record.batch}  {figures}  "
                f"{rate:.0f} samples/s  ETA {runs.clock(record.eta_seconds)}",
                file=out,
                flush=True,
            )

    return report


def _summary(run_dir: Path, status: RunStatus) -> dict:
    keys = (
        "test_accuracy",
        "train_seconds",
        "samples_per_second",
        "epochs_completed",
        "early_stopped",
        "best_epoch",
        "val_loss",
        "val_accuracy",
        "params",
        "error",
    )
    return {
        "run_id": run_dir.name,
        "run_dir": str(run_dir),
        "status": status.state,
        **{k: getattr(status, k) for k in keys},
    }


def _say_how_it_ended(run_dir: Path, status: RunStatus, summary: dict, out) -> None:
    state = summary["status"]
    if summary["test_accuracy"] is not None:
        line = (
            f"run {run_dir.name} {state}: test accuracy {summary['test_accuracy']:.2%} "
            f"after {summary['epochs_completed'] or 0} complete epoch(s), "
            f"{summary['train_seconds']:.1f} s of training "
            f"({summary['samples_per_second']:.0f} samples/s); model: {run_dir / runs.MODEL}"
        )
        if summary.get("best_epoch"):
            ended = "stopped early; " if summary.get("early_stopped") else ""
            line += f" ({ended}weights of epoch {summary['best_epoch']}, the best val_loss)"
        print(line, file=out, flush=True)
    elif state == runs.STOPPED:
        reason = status.message or "stopped before training began"
        print(f"run {run_dir.name} stopped: {reason}; no model", file=out, flush=True)
    else:
        print(f"run {run_dir.name} {state}: {status.error}", file=sys.stderr, flush=True)


def _export(run_dir: Path, dest: Path, summary: dict, command: str, out) -> None:
    from mnist.models import export_for_inference

    try:
        written = export_for_inference(run_dir / runs.MODEL, dest)
        config = runs.load_run(run_dir).config
        runs.write_json_atomic(
            written.with_suffix(".json"),
            {**summary, "command": command, "config": config.to_dict()},
        )
    except OSError as exc:
        raise CliError(f"--export {dest}: {exc.strerror or exc}", 1) from None
    print(f"exported {written} ({written.stat().st_size / 1e6:.1f} MB)", file=out, flush=True)


@contextlib.contextmanager
def _stop_kept_while_loading(run_dir: Path):
    """SIGTERM or Ctrl-C while TensorFlow loads (seconds; training's own handler is not set
    yet) becomes the run's STOP file, so the run ends as stopped, not as a worker that died
    (measured: a Stop pressed on the Training page within ~3 s of Start read "failed")."""

    def keep(signum, frame) -> None:
        (run_dir / runs.STOP_FILE).touch()

    previous = {sig: signal.signal(sig, keep) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_train(args: argparse.Namespace) -> int:
    out = sys.stderr if args.json else sys.stdout
    command = _command(args)
    export = _export_path(args.export) if args.export else None
    runs.max_concurrent_runs(args.max_runs)  # a bad $MNIST_MAX_RUNS: now, not after loading
    if args.run_dir:
        run_dir = _trainable_run_dir(args.run_dir)
    else:
        preset = PRESETS[args.preset]
        train_config = _train_config(args)
        run_dir = runs.create_run(preset.model, train_config, preset.name, args.runs_dir, command)
        print(f"run {run_dir.name} ({preset.name}): {run_dir}", file=out, flush=True)
    status = _work(run_dir, args.max_runs, out)
    summary = _summary(run_dir, status)
    _say_how_it_ended(run_dir, status, summary, out)
    state = summary["status"]
    if export is not None:
        if state == runs.DONE:
            _export(run_dir, export, summary, command, out)
        else:
            print(
                f"not exported to {export}: the run is {state}"
                + (
                    f"; its model is {run_dir / runs.MODEL}"
                    if (run_dir / runs.MODEL).exists()
                    else ""
                ),
                file=sys.stderr,
                flush=True,
            )
    if args.json:
        print(json.dumps(summary), flush=True)
    return _exit_status(state)


def _command(args: argparse.Namespace) -> str:
    return " ".join([PROG, shlex.join(sys.argv[1:] if args.argv is None else args.argv)])


def _exit_status(state: str) -> int:
    return {runs.DONE: EXIT["ok"], runs.STOPPED: EXIT["stopped"]}.get(state, EXIT["failed"])


def _work(run_dir: Path, max_runs: int | None, out) -> RunStatus:
    """Be the worker of ``run_dir``: train it here, progress on ``out``."""
    config = runs.load_run(run_dir).config
    writer = runs.StatusWriter(run_dir)
    with _stop_kept_while_loading(run_dir):
        runs.stop_with_parent(run_dir)  # a sweep's trial: stop when the trial's process ends
        writer.start()  # the run shows its worker (pid, heartbeat) while TensorFlow loads

        from mnist import training  # TensorFlow: only now

        return training.execute(
            run_dir,
            max_runs=max_runs,
            report=_progress_printer(out, config.train.epochs),
            status=writer,
        )


# -- finetune / digits ---------------------------------------------------------------------
def cmd_finetune(args: argparse.Namespace) -> int:
    from mnist import finetune
    from mnist.personal import PersonalError, PersonalSet

    out = sys.stderr if args.json else sys.stdout
    runs.max_concurrent_runs(args.max_runs)
    base = _base(args)
    samples = PersonalSet(args.samples)
    train = finetune.default_train(
        args.mode,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        train_size=args.replay,
        seed=args.seed,
    )
    try:
        run_dir = finetune.create_finetune_run(
            base, samples, args.mode, train, args.runs_dir, _command(args)
        )
    except PersonalError as exc:
        raise CliError(
            f"{exc} Draw them on the dashboard's My digits page, or add a zip of them with "
            f"`{PROG} digits import ZIP` (samples: {samples.root}).",
            1,
        ) from None
    print(
        f"run {run_dir.name} (fine-tune {base.label}, {args.mode}, "
        f"{len(samples.samples())} samples from {samples.root}): {run_dir}",
        file=out,
        flush=True,
    )
    status = _work(run_dir, args.max_runs, out)
    summary = _summary(run_dir, status)
    _say_how_it_ended(run_dir, status, summary, out)
    evaluation = runs.load_run(run_dir).evaluation() or {}
    if "finetune" in evaluation:
        result = finetune.comparison(evaluation["finetune"])
        summary["finetune"] = {
            "personal_before": result.personal_before,
            "personal_after": result.personal_after,
            "mnist_before": result.mnist_before,
            "mnist_after": result.mnist_after,
            "per_digit": result.per_digit,
        }
        print(
            f"your held-out digits ({result.count}): {result.personal_before:.0%} right before, "
            f"{result.personal_after:.0%} after · MNIST test: {result.mnist_before:.2%} before, "
            f"{result.mnist_after:.2%} after",
            file=out,
            flush=True,
        )
    if args.json:
        print(json.dumps(summary), flush=True)
    return _exit_status(summary["status"])


def _base(args: argparse.Namespace):
    from mnist import finetune

    text = args.base
    if text is None or text == "default":
        return finetune.resolve_base()
    if Path(text).expanduser().is_file():
        return finetune.resolve_base(path=text)
    if "/" in text or text.endswith(".keras"):
        raise CliError(f"--base {text}: no such model file", 1)
    return finetune.resolve_base(run_id=text, runs_dir=args.runs_dir)


def cmd_digits(args: argparse.Namespace) -> int:
    from mnist.personal import PersonalSet

    samples = PersonalSet(args.samples)
    if args.action == "list":
        counts = samples.counts()
        if args.json:
            print(json.dumps({"dir": str(samples.root), "train": counts[:, 0].tolist(),
                              "held_out": counts[:, 1].tolist()}))  # fmt: skip
            return 0
        print(f"your digits in {samples.root}: {int(counts.sum())} samples")
        print("digit  train  held out")
        for d, (train, test) in enumerate(counts):
            print(f"{d:>5}  {train:>5}  {test:>8}")
        from mnist.finetune import readiness

        print(readiness(samples) or "ready to fine-tune")
        return 0
    if args.action == "export":
        if not samples.samples():
            raise CliError(f"no samples in {samples.root} to export", 1)
        dest = Path(args.zip).expanduser().absolute()
        try:
            runs.write_bytes_atomic(dest, samples.to_zip())
        except OSError as exc:
            raise CliError(f"{dest}: {exc.strerror or exc}", 1) from None
        print(f"wrote {len(samples.samples())} samples to {dest}")
        return 0
    report = samples.import_zip(args.zip)  # import
    print(
        f"added {report.added} samples to {samples.root}"
        + (f" ({report.already_there} already there)" if report.already_there else "")
    )
    return 0


# -- export / import -----------------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    path = _model_path(args)
    run = runs.find_run(args.run, args.runs_dir) if args.run else None
    from mnist import export

    try:
        done = export.export_model(path, args.format, args.out, export.model_card(path, run))
    except export.ExportError as exc:
        raise CliError(str(exc), 1) from None
    print(
        f"exported {done.path} ({args.format}; its probabilities differ from Keras's by at most "
        f"{done.max_difference:.1e} on {export.PARITY_IMAGES:,} test images); "
        f"model card: {done.card}"
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from mnist import export

    try:
        run_dir = export.import_model(args.path, runs_dir=args.runs_dir, command=_command(args))
    except export.ExportError as exc:
        raise CliError(str(exc), 1) from None
    run = runs.load_run(run_dir)
    if args.json:
        print(json.dumps(_run_record(run)))
    else:
        print(
            f"imported {Path(args.path).name} as run {run.run_id}: test accuracy "
            f"{run.status.test_accuracy:.2%}; {run_dir}"
        )
    return 0


# -- evaluate / predict --------------------------------------------------------------------
def _model_path(args: argparse.Namespace) -> Path:
    if args.run:
        run = runs.find_run(args.run, args.runs_dir)
        if run.model_path is None:
            raise CliError(f"run {args.run} has no model yet (it is {run.state})", 1)
        return run.model_path
    path = Path(args.model).expanduser().absolute() if args.model else DEFAULT_MODEL
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
    path = _model_path(args)
    stored = runs.find_run(args.run, args.runs_dir).stored_scores() if args.run else None
    if stored is not None:  # scored by its worker when it finished: no TensorFlow needed
        result = stored[0]
    else:
        from mnist.evaluation import evaluate_model

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
                    "path": str(Path(name).absolute()),
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


# -- sweeps --------------------------------------------------------------------------------
def cmd_sweep(args: argparse.Namespace) -> int:
    from mnist import sweeps

    out = sys.stderr if args.json else sys.stdout
    if args.sweep_dir:
        path = Path(args.sweep_dir)
        sweep = sweeps.load_sweep(path)  # RunError: one line
        never_ran = sweep.state.pid is None and sweep.state.state in (sweeps.QUEUED,
                                                                      sweeps.STOPPING)  # fmt: skip
        if not never_ran:
            raise CliError(f"sweep {sweep.sweep_id} is {sweep.state.state}: a sweep runs once")
    else:
        params = [sweeps.Param.parse(text) for text in args.param]  # ValueError: one line
        if not params:
            raise CliError("a sweep needs at least one --param NAME=KIND:ARGS to vary")
        address = args.address or os.environ.get(sweeps.ADDRESS_ENV) or None
        if address:
            sweeps.check_address(address)  # before a folder is made
        spec = sweeps.new_spec(
            args.preset, params, args.trials, seed=args.seed, scheduler=args.scheduler,
            cpus_per_trial=args.cpus_per_trial, address=address, command=_command(args),
        )  # fmt: skip
        path = sweeps.create_sweep(spec, args.runs_dir)
        where = f"the Ray cluster at {address}" if address else "an embedded Ray"
        print(f"sweep {path.name}: {spec.trials} trial(s) of {spec.preset} on {where}; "
              f"runs in {path.parent.parent}", file=out, flush=True)  # fmt: skip
    from mnist import raysweep  # Ray: only now

    printer = _SweepPrinter(path, out)
    printer.start()
    try:
        state = raysweep.run(path)
    finally:
        printer.close()
    sweep = sweeps.load_sweep(path)
    summary = _sweep_record(sweep)
    if state.state == sweeps.FAILED:
        print(f"sweep {path.name} failed: {state.error}", file=sys.stderr, flush=True)
    else:
        _print_trials(sweep, out)
        best = sweep.best()
        if best is not None:
            print(f"best: trial {best.number}, validation accuracy {best.val_accuracy:.2%}, "
                  f"test accuracy {best.run.status.test_accuracy:.2%} "
                  f"({sweeps.describe_values(best.values)}); run {best.run.run_id}",
                  file=out, flush=True)  # fmt: skip
    if args.json:
        print(json.dumps(summary), flush=True)
    return _exit_status(state.state)


class _SweepPrinter:
    """Says on ``out`` when a trial starts, finishes an epoch and ends (from the folder)."""

    def __init__(self, path: Path, out) -> None:
        import threading

        self.path, self.out = path, out
        self.seen: dict[int, tuple] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sweep-printer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._say()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self._say()

    def _say(self) -> None:
        from mnist import sweeps

        try:
            sweep = sweeps.load_sweep(self.path)
        except runs.RunError:
            return
        if sweep.state.state == sweeps.STOPPING and not self.seen.get(0):
            self.seen[0] = ("stopping",)
            print("stopping: no new trials; live trials stop at their next batch and keep "
                  "their models", file=self.out, flush=True)  # fmt: skip
        total = len(sweep.trials)
        for trial in sweep.trials:
            if trial.run is None:
                continue
            epochs = trial.result.get("epochs") or 0
            ended = bool(trial.result.get("ended") or not sweep.is_live)
            now = (trial.state, epochs, ended)
            before = self.seen.get(trial.number)
            if now == before:
                continue
            self.seen[trial.number] = now
            head = f"trial {trial.number}/{total}"
            if before is None:
                print(f"{head} started: {sweeps.describe_values(trial.values)} "
                      f"(run {trial.run.run_id})", file=self.out, flush=True)  # fmt: skip
            if epochs and (before is None or before[1] != epochs):
                value = trial.result.get("val_accuracy") or 0.0
                print(f"{head} epoch {epochs}: val_accuracy {value:.4f}", file=self.out, flush=True)
            if not trial.run.is_live and ended and not (before and before[2]):
                print(f"{head} {_trial_ending(trial)}", file=self.out, flush=True)


def _trial_ending(trial) -> str:
    from mnist import sweeps

    status = trial.run.status
    if trial.state == sweeps.PRUNED:
        how = f"stopped early by ASHA after epoch {status.epochs_completed}"
    elif status.state == runs.FAILED:
        return f"failed: {status.error}"
    else:
        how = status.state
    if status.test_accuracy is None:
        return f"{how}: {status.message}" if status.message else how
    return f"{how}: test accuracy {status.test_accuracy:.2%}"


def _print_trials(sweep, out) -> None:
    from mnist import sweeps

    names = [p.name for p in sweep.spec.params]
    print(f"{'trial':>5}  {'state':<13} {'val acc.':>8} {'test acc.':>9}  settings", file=out)
    for trial in sweep.trials:
        state = sweep.trial_state(trial)
        val = f"{trial.val_accuracy:.2%}" if trial.val_accuracy is not None else "–"
        test = trial.run.status.test_accuracy if trial.run else None
        settings = sweeps.describe_values({n: trial.values[n] for n in names})
        print(f"{trial.number:>5}  {state:<13} {val:>8} "
              f"{f'{test:.2%}' if test is not None else '–':>9}  {settings}", file=out)  # fmt: skip
    out.flush()


def _sweep_record(sweep) -> dict:
    best = sweep.best()
    return {
        "sweep_id": sweep.sweep_id,
        "sweep_dir": str(sweep.path),
        "status": sweep.state.state,
        "error": sweep.state.error,
        "preset": sweep.spec.preset,
        "params": [p.text() for p in sweep.spec.params],
        "scheduler": sweep.spec.scheduler,
        "address": sweep.state.address,
        "counts": sweep.counts(),
        "best_trial": best.number if best else None,
        "best_run_id": best.run.run_id if best else None,
        "best_val_accuracy": best.val_accuracy if best else None,
        "trials": [
            {
                "trial": t.number,
                "state": sweep.trial_state(t),
                "values": t.values,
                "run_id": t.run.run_id if t.run else None,
                "val_accuracy": t.val_accuracy,
                "test_accuracy": t.run.status.test_accuracy if t.run else None,
                "epochs_completed": t.run.status.epochs_completed if t.run else None,
            }
            for t in sweep.trials
        ],
    }


def cmd_sweeps(args: argparse.Namespace) -> int:
    from mnist import sweeps

    if args.action == "list":
        found, problems = sweeps.list_sweeps(args.runs_dir)
        for problem in problems:
            print(f"{PROG} sweeps: warning: skipped {problem}", file=sys.stderr)
        if not found:
            print(f"no sweeps in {sweeps.sweeps_dir(args.runs_dir)}")
            return 0
        print(f"{'sweep':<21} {'status':<9} {'preset':<8} {'trials':>6} {'best val.':>9}  space")
        for sweep in found:
            best = sweep.best()
            shown = f"{best.val_accuracy:.2%}" if best else "–"
            space = " ".join(p.text() for p in sweep.spec.params)
            print(f"{sweep.sweep_id:<21} {sweep.state.state:<9} {sweep.spec.preset:<8} "
                  f"{sweep.spec.trials:>6} {shown:>9}  {space}")  # fmt: skip
        return 0
    sweep = sweeps.find_sweep(args.sweep_id, args.runs_dir)
    if args.action == "show":
        if args.json:
            print(json.dumps(_sweep_record(sweep)))
        else:
            _print_trials(sweep, sys.stdout)
        return 0
    if not sweeps.request_stop(sweep.path):  # stop
        raise CliError(f"sweep {sweep.sweep_id} is {sweep.state.state}: nothing to stop", 1)
    print(f"asked sweep {sweep.sweep_id} to stop: no new trials; live ones stop at their next "
          "batch and keep their models")  # fmt: skip
    return 0


# -- runs ----------------------------------------------------------------------------------
def _run_record(run: runs.Run) -> dict:
    status = run.status
    return {
        "run_id": run.run_id,
        "run_dir": str(run.path),
        "status": run.state,
        "kind": run.config.kind,
        "preset": run.config.preset,
        "created": run.config.created,
        "owner": access.owner_of(run.config.owner),
        "epochs": run.config.train.epochs if run.config.train else None,
        "epochs_completed": status.epochs_completed,
        "test_accuracy": status.test_accuracy,
        "error": status.error,
    }


def cmd_runs(args: argparse.Namespace) -> int:
    if args.action == "list":
        found, problems = runs.list_runs(args.runs_dir)
        for problem in problems:
            print(f"{PROG} runs: warning: skipped {problem}", file=sys.stderr)
        if args.json:
            for run in found:
                print(json.dumps(_run_record(run)))
            return 0
        if not found:
            print(f"no runs in {runs.resolve_runs_dir(args.runs_dir)}")
            return 0
        print(f"{'run':<21} {'status':<9} {'preset':<8} {'epochs':>7} {'test acc.':>9}  created")
        for run in found:
            record = _run_record(run)
            accuracy = record["test_accuracy"]
            created = time.strftime("%Y-%m-%d %H:%M", time.localtime(record["created"]))
            kind = {"import": "imported", "fine-tune": "tuned"}.get(run.config.kind)
            kind = "trial" if run.config.sweep else kind
            epochs = (
                f"{record['epochs_completed'] or 0:>3}/{record['epochs']:<3}"
                if record["epochs"]
                else f"{'–':>7}"
            )
            print(
                f"{run.run_id:<21} {run.state:<9} {kind or run.config.preset or 'custom':<8} "
                f"{epochs} "
                f"{f'{accuracy:.2%}' if accuracy is not None else '–':>9}  {created}"
            )
        return 0
    if args.action == "show":
        run = runs.find_run(args.run_id, args.runs_dir)
        record = {**_run_record(run), "config": run.config.to_dict(), "state": run.status.to_dict()}
        print(json.dumps(record))
        return 0
    if args.action == "stop":
        run = runs.find_run(args.run_id, args.runs_dir)
        if not runs.request_stop(run.path):
            raise CliError(f"run {run.run_id} is {run.state}, not live: nothing to stop", 1)
        print(f"asked run {run.run_id} to stop at its next batch")
        return 0
    for run_id in args.run_ids:  # delete
        runs.delete_run(runs.find_run(run_id, args.runs_dir).path)
        print(f"deleted run {run_id}")
    return 0


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "info": cmd_info,
    "runs": cmd_runs,
    "finetune": cmd_finetune,
    "digits": cmd_digits,
    "export": cmd_export,
    "import": cmd_import,
    "sweep": cmd_sweep,
    "sweeps": cmd_sweeps,
}


def main(argv: list[str] | None = None) -> int:
    from mnist.personal import PersonalError
    from mnist.sketch import SketchError
    from mnist.sweeps import SweepError

    try:
        args = build_parser().parse_args(argv)
        args.argv = argv
        if args.verbose:
            os.environ["MNIST_VERBOSE"] = "1"  # read when TensorFlow loads (mnist._tf)
        return COMMANDS[args.command](args)
    except CliError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.status
    except (mnist_data.DataError, runs.RunError, SketchError, PersonalError, SweepError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT["failed"]
    except ValueError as exc:  # an invalid config value, as the config explains it
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT["usage"]
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT["interrupted"]
    except BrokenPipeError:  # `... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT["ok"]


if __name__ == "__main__":
    sys.exit(main())
