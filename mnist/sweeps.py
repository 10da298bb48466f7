"""Hyper-parameter sweeps (issue 15): the search space, as people write it and as configs.

A sweep varies some fields of a preset's model and training settings. Each searchable field
has a range written ``NAME=KIND:ARGS`` (the CLI's ``--param``, the Sweep page's widgets):

    learning_rate=loguniform:1e-4:1e-2     batch_size=choice:64,128,256
    dropout=uniform:0:0.5                  epochs=int:2:6      optimizer=choice:adam,sgd

``Param`` parses and checks one; ``apply`` turns drawn values into a ``ModelConfig`` and a
``TrainConfig`` (every value checked by the configs themselves).

A sweep is a folder, ``<runs>/sweeps/<id>/`` (docs/run-folder.md): ``sweep.json`` (the spec
and the settings drawn for every trial, written once by ``create_sweep``), ``state.json``
(written only by the sweep's driver, ``mnist.raysweep``), a ``STOP`` file to end it and the
driver's log. Each trial is an ordinary run folder whose ``config.json`` names the sweep and
the trial. This module reads and writes those; it imports no Ray, TensorFlow or Streamlit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mnist import access, runs
from mnist.config import OPTIMIZERS, PRESETS, SCHEDULES, ModelConfig, TrainConfig
from mnist.i18n import N_, _
from mnist.records import FormatError, _known

KINDS = ("choice", "uniform", "loguniform", "int")


def _as_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def _as_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def _as_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"{text!r} is not true or false")


# Field → (type of a value, what it changes, in words). "filters", "dense_units" and the
# dropouts change the preset's architecture; the rest are training settings. The words are
# English (the CLI's); ``field_words`` gives them in the session's language.
ONE_OF = N_("one of {choices}")
CHOICES = {"optimizer": OPTIMIZERS, "lr_schedule": SCHEDULES}  # the fields ONE_OF describes
SEARCHABLE: dict[str, tuple[type, str]] = {
    "learning_rate": (float, N_("the (peak) learning rate")),
    "batch_size": (int, N_("images per training step")),
    "optimizer": (str, ONE_OF.format(choices=", ".join(OPTIMIZERS))),
    "lr_schedule": (str, ONE_OF.format(choices=", ".join(SCHEDULES))),
    "epochs": (int, N_("passes over the training images")),
    "train_size": (int, N_("training images (a stratified subset)")),
    "augment": (bool, N_("random rotation, shift and zoom of training images")),
    "seed": (int, N_("the seed of split, shuffling, weights and augmentation")),
    "filters": (
        int,
        N_("the first conv block's filters; later blocks keep the preset's ratios"),
    ),
    "dense_units": (int, N_("units of every hidden dense layer")),
    "dropout": (float, N_("dropout before the 10-way layer")),
    "block_dropout": (float, N_("dropout after every conv block")),
}


def field_words(name: str) -> str:
    """What searching ``name`` changes, in words of the session's language."""
    if name in CHOICES:
        return _(ONE_OF).format(choices=", ".join(CHOICES[name]))
    return _(SEARCHABLE[name][1])


_TRAIN_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


@dataclass(frozen=True)
class Param:
    """One searched field and its range."""

    name: str
    kind: str  # KINDS
    values: tuple = ()  # choice
    low: float = 0.0  # uniform, loguniform, int (inclusive)
    high: float = 0.0

    def __post_init__(self) -> None:
        # Messages start "NAME: " (``parse`` and ``plan_trials`` take that prefix off).
        if self.name not in SEARCHABLE:
            raise ValueError(
                _("{name} cannot be searched; one of {names}").format(
                    name=repr(self.name), names=", ".join(sorted(SEARCHABLE))
                )
            )
        if self.kind not in KINDS:
            raise ValueError(
                _("{name}: the range must be one of {kinds}").format(
                    name=self.name, kinds=", ".join(KINDS)
                )
            )
        kind, typ = self.kind, SEARCHABLE[self.name][0]
        if kind == "choice":
            if not self.values:
                raise ValueError(
                    _("{name}: choice needs at least one value").format(name=self.name)
                )
            return
        if typ in (str, bool):
            raise ValueError(
                _("{name}: use choice:… (it takes {type} values)").format(
                    name=self.name, type=typ.__name__
                )
            )
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(
                _("{name}: the range needs LOW < HIGH, got {low}:{high}").format(
                    name=self.name, low=f"{self.low:g}", high=f"{self.high:g}"
                )
            )
        if kind == "loguniform" and self.low <= 0:
            raise ValueError(
                _("{name}: a log-uniform range needs LOW above 0").format(name=self.name)
            )
        if kind == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError(_("{name}: int:LOW:HIGH takes whole numbers").format(name=self.name))
        if typ is int and kind != "int":
            raise ValueError(
                _("{name}: takes whole numbers; use int:LOW:HIGH or choice:…").format(
                    name=self.name
                )
            )

    @classmethod
    def parse(cls, text: str) -> Param:
        """``NAME=KIND:ARGS``, as the CLI's ``--param`` takes it."""
        name, eq, spec = text.partition("=")
        name = name.strip().replace("-", "_")
        kind, colon, args = spec.partition(":")
        if not eq or not colon or not args:
            raise ValueError(
                f"--param {text!r}: write NAME=KIND:ARGS, e.g. "
                "learning_rate=loguniform:1e-4:1e-2 or batch_size=choice:64,128"
            )
        kind = kind.strip()
        if name not in SEARCHABLE:
            raise ValueError(f"--param {text!r}: {name!r} cannot be searched; one of "
                             f"{', '.join(sorted(SEARCHABLE))}")  # fmt: skip
        typ = SEARCHABLE[name][0]
        try:
            if kind == "choice":
                convert = {bool: _as_bool, int: _as_int, float: _as_float}.get(typ, str)
                values = tuple(convert(v.strip()) for v in args.split(",") if v.strip())
                return cls(name, kind, values=values)
            low_text, colon2, high_text = args.partition(":")
            if not colon2:
                raise ValueError(f"{kind} takes LOW:HIGH")
            return cls(name, kind, low=_as_float(low_text), high=_as_float(high_text))
        except ValueError as exc:
            message = str(exc)
            if message.startswith(f"{name}:"):
                message = message[len(name) + 2 :]
            raise ValueError(f"--param {text!r}: {message}") from None

    def text(self) -> str:
        """Back to ``NAME=KIND:ARGS``."""
        if self.kind == "choice":
            shown = (str(v).lower() if isinstance(v, bool) else str(v) for v in self.values)
            return f"{self.name}=choice:{','.join(shown)}"
        low, high = (int(self.low), int(self.high)) if self.kind == "int" else (self.low, self.high)
        return f"{self.name}={self.kind}:{low:g}:{high:g}"

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn from the range (what a random search does)."""
        if self.kind == "choice":
            return self.values[int(rng.integers(len(self.values)))]
        if self.kind == "int":
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.kind == "loguniform":
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "values": list(self.values),
                "low": self.low, "high": self.high}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> Param:
        return cls(data["name"], data["kind"], tuple(data.get("values") or ()),
                   float(data.get("low", 0.0)), float(data.get("high", 0.0)))  # fmt: skip


def check_space(params: list[Param]) -> list[Param]:
    """``params`` if each field is searched once; ``ValueError`` otherwise."""
    names = [p.name for p in params]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(
            _("{names} searched twice; give each field one range").format(names=", ".join(twice))
        )
    if not params:
        raise ValueError("a sweep needs at least one --param to vary")
    return params


def apply(preset: str, values: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
    """The preset's model and training with ``values`` put in (each checked by the configs:
    ``ValueError`` naming the field for a value they refuse)."""
    base = PRESETS[preset]
    train = base.train.to_dict()
    model = base.model
    for name, value in values.items():
        if name in _TRAIN_FIELDS:
            train[name] = value
        elif name == "filters":
            ratio = value / model.conv_blocks[0].filters
            blocks = tuple(
                dataclasses.replace(b, filters=max(1, round(b.filters * ratio)))
                for b in model.conv_blocks
            )
            model = dataclasses.replace(model, conv_blocks=blocks)
        elif name == "dense_units":
            if not model.dense_units:
                raise ValueError(
                    _(
                        "dense_units: the {preset} model has no hidden dense layer; vary it with "
                        "a preset that has one (fast, best)"
                    ).format(preset=preset)
                )
            model = dataclasses.replace(
                model, dense_units=tuple(value for _unit in model.dense_units)
            )
        elif name == "dropout":
            model = dataclasses.replace(model, dense_dropout=value)
        elif name == "block_dropout":
            blocks = tuple(dataclasses.replace(b, dropout=value) for b in model.conv_blocks)
            model = dataclasses.replace(model, conv_blocks=blocks)
        else:
            raise ValueError(_("{name} cannot be searched").format(name=repr(name)))
    return model, TrainConfig.from_dict(train)


# -- a sweep: what to try, and its folder ---------------------------------------------------
SWEEPS = "sweeps"  # the folder of sweeps, inside the runs folder
SPEC, STATE, STOP_FILE, LOG = "sweep.json", "state.json", "STOP", "driver.log"
TRIALS = "trials.json"  # what Ray Tune heard from each trial (mnist.raysweep's callback)
TUNE = "tune"  # Ray Tune's own experiment folder (its writer: Ray Tune)
SCHEDULERS = ("none", "asha")
SCHEDULER_WORDS = {  # English (the CLI's help); the page shows _(words)
    "none": N_("every trial trains all its epochs"),
    "asha": N_("after each epoch, trials in the worse half so far stop early (ASHA)"),
}
METRIC = "val_accuracy"  # what trials are compared on, as Ray Tune sees it (mode: max)
MAX_TRIALS = 500
ADDRESS_ENV = "RAY_ADDRESS"  # Ray's own variable: an existing cluster to run on
SPEC_FORMAT = 2  # 2: owner


class SweepError(Exception):
    """A sweep that cannot be made, read, reached or stopped: one sentence for people."""


@dataclass(frozen=True)
class SweepSpec:
    """What ``sweep.json`` holds: the preset, the space, the trials drawn from it, how to
    run them."""

    FORMAT: ClassVar[int] = SPEC_FORMAT

    preset: str
    params: tuple[Param, ...]
    trials: int
    seed: int = 0
    scheduler: str = "none"  # SCHEDULERS
    cpus_per_trial: int = 1
    address: str | None = None  # a Ray cluster's address; None: an embedded Ray
    plan: tuple[dict, ...] = ()  # the values drawn for each trial, in trial order
    created: float = 0.0
    command: str = ""
    owner: str | None = None  # who started it (mnist.access); None: the machine's user

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(
                _("unknown preset {preset}; one of {presets}").format(
                    preset=repr(self.preset), presets=", ".join(PRESETS)
                )
            )
        if not 1 <= self.trials <= MAX_TRIALS:
            raise ValueError(
                _("trials must be 1 to {most}, not {trials}").format(
                    most=MAX_TRIALS, trials=self.trials
                )
            )
        if self.scheduler not in SCHEDULERS:
            raise ValueError(
                _("scheduler must be one of {schedulers}").format(schedulers=", ".join(SCHEDULERS))
            )
        if self.cpus_per_trial < 1:
            raise ValueError(_("each trial needs at least one CPU"))

    @property
    def max_epochs(self) -> int:
        """The most epochs any trial trains (ASHA's horizon)."""
        return max(apply(self.preset, values)[1].epochs for values in self.plan)

    def to_dict(self) -> dict:
        return {
            "format_version": self.FORMAT,
            "preset": self.preset,
            "params": [p.to_dict() for p in self.params],
            "trials": self.trials,
            "seed": self.seed,
            "scheduler": self.scheduler,
            "cpus_per_trial": self.cpus_per_trial,
            "address": self.address,
            "metric": METRIC,
            "mode": "max",
            "plan": [dict(v) for v in self.plan],
            "created": self.created,
            "command": self.command,
            "owner": self.owner,
        }

    @classmethod
    def from_dict(cls, data: dict) -> SweepSpec:
        # metric and mode are fixed (METRIC, max): written for other readers, not read back
        data = {k: v for k, v in data.items() if k not in ("metric", "mode")}
        data = _known(cls, data, cls.FORMAT)
        data["params"] = tuple(Param.from_dict(p) for p in data["params"])
        data["plan"] = tuple(dict(v) for v in data.get("plan") or ())
        return cls(**data)


def plan_trials(preset: str, params: list[Param], trials: int, seed: int) -> list[dict]:
    """Each trial's values, drawn at random from the space (seeded: the same sweep draws the
    same trials); every value checked against the configs."""
    check_space(params)
    for param in params:  # a range the configs refuse at an end, in one sentence, now
        ends = param.values if param.kind == "choice" else (param.low, param.high)
        for value in ends:
            value = int(value) if param.kind == "int" else value
            try:
                apply(preset, {param.name: value})
            except ValueError as exc:
                reason = str(exc).removeprefix(f"{param.name}: ")
                raise ValueError(f"{param.text()}: {reason}") from None
    if not PRESETS[preset].train.validation_size:
        raise ValueError(_("trials are compared on validation accuracy: keep validation images"))
    rng = np.random.default_rng(seed)
    plan = [{p.name: p.sample(rng) for p in params} for _trial in range(trials)]
    for values in plan:
        apply(preset, values)
    return plan


def new_spec(
    preset: str,
    params: list[Param],
    trials: int,
    *,
    seed: int = 0,
    scheduler: str = "none",
    cpus_per_trial: int = 1,
    address: str | None = None,
    command: str = "",
    owner: str | None = None,
) -> SweepSpec:
    """A checked spec with its trials drawn (``ValueError`` in one sentence otherwise);
    ``owner``: who starts it (default: the machine's user)."""
    if preset not in PRESETS:
        raise ValueError(
            _("unknown preset {preset}; one of {presets}").format(
                preset=repr(preset), presets=", ".join(PRESETS)
            )
        )
    plan = plan_trials(preset, params, trials, seed)
    return SweepSpec(preset, tuple(params), trials, seed, scheduler, cpus_per_trial,
                     address or None, tuple(plan), time.time(), command,
                     owner or access.local_user())  # fmt: skip


CONNECT_SECONDS = 10.0


def check_address(address: str) -> None:
    """A quick TCP check that a Ray cluster answers at ``HOST:PORT`` (``SweepError``
    otherwise): Ray itself retries an unreachable address for minutes, logging as it goes."""
    if address.startswith("ray://"):
        raise SweepError(
            _(
                "{address}: Ray Client (ray://) addresses are not supported; run the sweep on "
                "a machine of the cluster with its GCS address (HOST:6379, or auto)"
            ).format(address=address)
        )
    if address == "auto":
        return  # Ray finds the cluster this machine belongs to, or says it has none
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit():
        raise SweepError(
            _("{address} is not a Ray cluster address: write HOST:PORT").format(
                address=repr(address)
            )
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise SweepError(
            _("cannot reach the Ray cluster at {address}: {reason}").format(
                address=address, reason=reason
            )
        ) from None


def sweeps_dir(runs_dir: str | os.PathLike | None = None) -> Path:
    return runs.resolve_runs_dir(runs_dir) / SWEEPS


def create_sweep(spec: SweepSpec, runs_dir: str | os.PathLike | None = None) -> Path:
    """A new sweep folder holding ``sweep.json`` (it reads as queued); nothing runs yet."""

    def write(stage: Path) -> None:
        runs.write_json_atomic(stage / SPEC, spec.to_dict())

    return runs.create_folder(sweeps_dir(runs_dir), write, spec.created or None)


# -- its state, as the driver writes it -----------------------------------------------------
# The run states (records.state_label shows them); a sweep's state is one of them.
QUEUED, RUNNING, STOPPING = "queued", "running", "stopping"
DONE, STOPPED, FAILED = "done", "stopped", "failed"
LIVE = (QUEUED, RUNNING, STOPPING)
STOP_REQUESTED = N_("stop requested")  # a stopping sweep's message (the page shows _(…))


@dataclass(frozen=True)
class SweepState:
    """What ``state.json`` holds. Its one writer is the sweep's driver (``mnist.raysweep``)."""

    FORMAT: ClassVar[int] = 1

    state: str = QUEUED  # queued, running, stopping (live); done, stopped, failed
    pid: int | None = None  # the driver's process id
    heartbeat: float = 0.0  # Unix time of the last write: at least every second while live
    message: str | None = None  # what a live sweep is doing
    error: str | None = None  # why a failed sweep failed, one sentence
    started: float | None = None
    finished: float | None = None
    address: str | None = None  # "embedded", or the Ray cluster's address
    nodes: int | None = None  # Ray nodes alive when it started
    cpus: float | None = None  # their CPUs
    concurrency: int | None = None  # trials at once
    stale: bool = False  # readers only, never written: a live state whose driver is gone

    def replace(self, **fields) -> SweepState:
        return dataclasses.replace(self, **fields)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        del data["stale"]
        return {"format_version": self.FORMAT, **data}

    @classmethod
    def from_dict(cls, data: dict) -> SweepState:
        return cls(**_known(cls, data, cls.FORMAT))

    @property
    def is_live(self) -> bool:
        return self.state in LIVE


def read_state(sweep_dir: Path, now: float | None = None) -> SweepState:
    """``state.json`` judged like a run's status: a live sweep whose driver died or went silent
    reads as failed; a stop request reads as stopping; no file yet, as queued."""
    path = sweep_dir / STATE
    if path.exists():
        try:
            state = SweepState.from_dict(runs.read_json(path))
        except (FormatError, TypeError) as exc:
            raise runs.RunError(f"{path}: {exc}") from None
    else:
        state = SweepState(heartbeat=runs.SlotLock._start_order(sweep_dir)[0])
        with contextlib.suppress(runs.RunError, TypeError, ValueError):
            state = state.replace(heartbeat=float(runs.read_json(sweep_dir / SPEC)["created"]))
    if state.state in (QUEUED, RUNNING) and (sweep_dir / STOP_FILE).exists():
        state = state.replace(state=STOPPING, message=STOP_REQUESTED)
    if state.is_live:
        lost = runs.lost_writer(state.pid, state.heartbeat, now)
        if lost is None:
            return state
        ended, silent = lost
        # Worked out as it is read, never written: in the reader's language.
        reason = (
            _("the sweep's driver process ended without finishing (killed or crashed)")
            if ended
            else _("the sweep's driver has not reported for {seconds} s").format(
                seconds=f"{silent:.0f}"
            )
        )
        state = state.replace(state=FAILED, error=reason, stale=True)
    return state


# -- reading a sweep with its trials --------------------------------------------------------
# A trial's states besides a run's (the page shows _(state), the records keep the English)
PENDING, SKIPPED, PRUNED = N_("pending"), N_("not started"), N_("stopped early")


@dataclass(frozen=True)
class Trial:
    """One trial of a sweep: its settings, its run (once it has one) and what Tune heard."""

    number: int  # 1-based, as people count
    values: dict
    run: runs.Run | None
    result: dict  # trials.json's entry: epochs, val_accuracy, best_val_accuracy, pruned, error

    @property
    def state(self) -> str:
        if self.run is None:
            return FAILED if self.result.get("error") else PENDING
        if self.run.state == runs.STOPPED and self.result.get("pruned"):
            return PRUNED
        return self.run.state

    @property
    def val_accuracy(self) -> float | None:
        """The validation accuracy of the model the run saved (its last epoch's)."""
        if self.run is not None and self.run.status.val_accuracy is not None:
            return self.run.status.val_accuracy
        return self.result.get("val_accuracy")

    @property
    def has_model(self) -> bool:
        return self.run is not None and self.run.model_path is not None and not self.run.is_live


@dataclass(frozen=True)
class Sweep:
    path: Path
    spec: SweepSpec
    state: SweepState
    trials: tuple[Trial, ...]

    @property
    def sweep_id(self) -> str:
        return self.path.name

    @property
    def is_live(self) -> bool:
        return self.state.is_live

    def best(self) -> Trial | None:
        """The trial whose saved model has the highest validation accuracy (ties: the
        earlier trial); None before any trial has a model."""
        ready = [t for t in self.trials if t.has_model and t.val_accuracy is not None]
        return max(ready, key=lambda t: (t.val_accuracy, -t.number), default=None)

    def trial_state(self, trial: Trial) -> str:
        """A trial's state as people read it: a pending trial of an ended sweep never ran."""
        state = trial.state
        return SKIPPED if state == PENDING and not self.is_live else state

    def counts(self) -> dict[str, int]:
        """How many trials are in each state."""
        counted: dict[str, int] = {}
        for trial in self.trials:
            state = self.trial_state(trial)
            counted[state] = counted.get(state, 0) + 1
        return counted


def _runs_by_sweep(runs_dir: Path) -> dict[str, dict[int, runs.Run]]:
    """The run folders of sweeps' trials: sweep id → trial index (0-based) → run."""
    found: dict[str, dict[int, runs.Run]] = {}
    for run in runs.list_runs(runs_dir)[0]:
        link = run.config.sweep
        if link and isinstance(link.get("trial"), int):
            found.setdefault(str(link.get("id")), {})[link["trial"]] = run
    return found


def load_sweep(sweep_dir: str | os.PathLike, run_index: dict | None = None) -> Sweep:
    """A sweep folder with its trials' runs (``RunError`` for a missing or corrupt one)."""
    path = Path(sweep_dir)
    if not path.is_dir():
        raise runs.RunError(_("{folder}: no such sweep").format(folder=path))
    try:
        spec = SweepSpec.from_dict(runs.read_json(path / SPEC))
    except (KeyError, TypeError, ValueError) as exc:
        raise runs.RunError(
            _("{file}: invalid sweep ({error})").format(file=path / SPEC, error=exc)
        ) from None
    state = read_state(path)
    try:
        heard = runs.read_json(path / TRIALS).get("trials") or {}
    except runs.RunError:
        heard = {}
    if run_index is None:
        run_index = _runs_by_sweep(path.parent.parent).get(path.name, {})
    trials = tuple(
        Trial(i + 1, values, run_index.get(i), dict(heard.get(str(i)) or {}))
        for i, values in enumerate(spec.plan)
    )
    return Sweep(path, spec, state, trials)


def list_sweeps(runs_dir: str | os.PathLike | None = None) -> tuple[list[Sweep], list[str]]:
    """Every sweep, newest first, and one message per folder that could not be read."""
    root = sweeps_dir(runs_dir)
    if not root.is_dir():
        return [], []
    by_sweep = _runs_by_sweep(runs.resolve_runs_dir(runs_dir))
    found, problems = [], []
    for path in sorted(root.iterdir(), reverse=True):
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            found.append(load_sweep(path, by_sweep.get(path.name, {})))
        except runs.RunError as exc:
            problems.append(str(exc))
    return found, problems


def find_sweep(sweep_id: str, runs_dir: str | os.PathLike | None = None) -> Sweep:
    if not sweep_id or "/" in sweep_id or sweep_id.startswith("."):
        raise runs.RunError(_("{id} is not a sweep id").format(id=repr(sweep_id)))
    path = sweeps_dir(runs_dir) / sweep_id
    if not path.is_dir():
        raise runs.RunError(_("no sweep {id} in {folder}").format(id=sweep_id, folder=path.parent))
    return load_sweep(path)


def driver_command(sweep_dir: Path) -> list[str]:
    return [sys.executable, "-m", "mnist", "sweep", "--sweep-dir", str(sweep_dir)]


def launch_sweep(sweep_dir: Path) -> Path:
    """Start the driver process of a sweep folder (its own session, like a run's worker)."""
    with open(sweep_dir / LOG, "ab") as log:
        subprocess.Popen(
            driver_command(sweep_dir.resolve()),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=runs.package_env(),
            start_new_session=True,
        )
    return sweep_dir


def request_stop(sweep_dir: str | os.PathLike, person: access.Person | None = None) -> bool:
    """Ask a live sweep to stop: no new trials; every live trial stops at its next batch and
    keeps its model; finished trials stay. False if the sweep is not live. ``person``
    (default: the machine's user) must own the sweep or be an admin."""
    path = Path(sweep_dir)
    try:
        owner = SweepSpec.from_dict(runs.read_json(path / SPEC)).owner
    except (runs.RunError, KeyError, TypeError, ValueError):
        owner = None  # an unreadable sweep: the machine's user's, as for old records
    access.check_may_change(person, owner, f"stop sweep {path.name}")
    state = read_state(path)
    if not state.is_live:
        return False
    # The file alone: the driver and every trial read it. A signal could reach the driver
    # while Ray starts, when Ray's own handler (which ends the process) is in place.
    (path / STOP_FILE).touch()
    return True


def stop_requested(sweep_dir: Path) -> bool:
    return (sweep_dir / STOP_FILE).exists()


def describe_values(values: dict) -> str:
    """A trial's settings in one line: "learning_rate 0.0031, batch_size 128"."""
    shown = []
    for name, value in values.items():
        if isinstance(value, float):
            shown.append(f"{name} {value:.3g}")
        else:
            shown.append(f"{name} {str(value).lower() if isinstance(value, bool) else value}")
    return ", ".join(shown)


def trial_rows(sweep: Sweep) -> list[dict]:
    """The trials table: one row per trial, settings as columns."""
    rows = []
    for trial in sweep.trials:
        run = trial.run
        rows.append({
            "trial": trial.number,
            "state": sweep.trial_state(trial),
            **trial.values,
            "epochs done": (run.status.epochs_completed if run and not run.is_live else None)
            or trial.result.get("epochs"),
            "best val accuracy": trial.result.get("best_val_accuracy") or trial.val_accuracy,
            "val accuracy": trial.val_accuracy,
            "test accuracy": run.status.test_accuracy if run else None,
            "run": run.run_id if run else None,
        })  # fmt: skip
    return rows
