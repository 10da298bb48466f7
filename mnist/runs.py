"""Training runs on disk: one folder per run, shared by every process that looks at it.

A run folder (``runs/<run-id>/``) holds ``config.json`` (model + training config), a
``metrics.jsonl`` the worker appends per batch and per epoch, a ``status.json`` (state, pid,
heartbeat, progress, error) and, once trained, ``model.keras`` and ``evaluation.json``; each
file has one writer and a typed, versioned format (``mnist.records``, docs/run-folder.md).
Whole files are written to a temporary name and renamed, so a reader never sees half a file.

Runs are started as worker processes (``python -m mnist train --run-dir DIR``); a server-wide
slot policy (``MNIST_MAX_RUNS``, default 1) makes the rest wait, queued, in start order.
This module never imports TensorFlow: the dashboard lists and watches runs without it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from mnist import TRAIN_IMAGES, access, i18n
from mnist.config import FinetuneConfig, ModelConfig, TrainConfig, migrate_optimizer_fields
from mnist.i18n import N_, _
from mnist.records import (
    DONE,
    FAILED,
    FINAL_STATES,
    LIVE_STATES,
    QUEUED,
    RUNNING,
    STOPPED,
    STOPPING,
    BatchRecord,
    EpochRecord,
    FormatError,
    MetricsHeader,
    RunStatus,
    dumps,
    parse_metrics_line,
    state_label,
)

RUNS_DIR_ENV = "MNIST_RUNS_DIR"
MAX_RUNS_ENV = "MNIST_MAX_RUNS"
DEFAULT_RUNS_DIR = "runs"
DEFAULT_MAX_RUNS = 1  # one training at a time: a 2-core machine has nothing to spare

__all__ = [  # the run states, re-exported: runs.DONE reads better than records.DONE
    "DONE", "FAILED", "FINAL_STATES", "LIVE_STATES", "QUEUED", "RUNNING", "STOPPED", "STOPPING",
    "state_label",
]  # fmt: skip

# What a live run's status says while it is not training yet. The records keep the English;
# pages show _(status.message), so every message a worker writes is marked with N_.
STARTING = N_("starting: loading TensorFlow")  # the worker is up, TensorFlow loads (seconds)
WAITING = N_("waiting for another run to finish")  # queued for a training slot
LOADING = N_("loading data")  # has its slot, reads MNIST and builds the model
STOPPED_WAITING = N_("stopped while waiting for a training slot")
STOPPED_STARTING = N_("stopped before training began")
STOP_REQUESTED = N_("stop requested")  # a reader's word for a run whose STOP file is there

# Why a worker ended a run that diverged (status.json's ``error``, in English): one sentence
# with its parts, so that ``error_text`` can say it again in the reader's language.
DIVERGED = N_(
    "training diverged at {where}: {what}; try a lower learning rate (or batch normalisation)"
)
DIVERGED_WEIGHTS = N_("training diverged: the weights became NaN or infinite")
AT_BATCH = N_("epoch {epoch}, batch {batch}")
AT_EPOCH = N_("epoch {epoch}")
LOSS_BECAME = N_("the loss became {loss}")
NONFINITE_OUTPUTS = N_("the model's weights or outputs became NaN or infinite")
NONFINITE_WEIGHTS = N_("its weights became NaN or infinite")
_ERROR_TEMPLATES = (DIVERGED, AT_BATCH, AT_EPOCH, LOSS_BECAME)  # the longer of a kind first

STAGE_ABANDONED_SECONDS = 3600.0  # a half-made run folder this old has lost its creator
HEARTBEAT_SECONDS = 1.0  # how often a worker rewrites status.json, busy or not
STALE_SECONDS = 30.0  # a live run silent this long has lost its worker

CONFIG, STATUS, METRICS = "config.json", "status.json", "metrics.jsonl"
MODEL, EVALUATION, STOP_FILE, LOG = "model.keras", "evaluation.json", "STOP", "worker.log"
BASE_MODEL, PERSONAL = "base.keras", "personal.npz"  # a fine-tune's base model and samples
NOT_RUNS = ("personal", "sweeps")  # folders of the runs folder that are not runs
STOP_WITH_PARENT_ENV = "MNIST_STOP_WITH_PARENT"  # a pid: stop the worker when it dies
PROBABILITIES = "test_probabilities.npy"  # (10000, 10) float32: the model's test predictions


class RunError(Exception):
    """A run folder is missing, unreadable or in a state that forbids the request."""


def resolve_runs_dir(runs_dir: str | os.PathLike | None = None) -> Path:
    """The argument, else ``$MNIST_RUNS_DIR``, else ``./runs``; as an absolute path."""
    chosen = runs_dir or os.environ.get(RUNS_DIR_ENV) or DEFAULT_RUNS_DIR
    return Path(chosen).expanduser().absolute()


def max_concurrent_runs(value: int | None = None) -> int:
    """The slot limit: the argument, else ``$MNIST_MAX_RUNS``, else 1."""
    if value is None:
        raw = os.environ.get(MAX_RUNS_ENV, "")
        try:
            value = int(raw) if raw else DEFAULT_MAX_RUNS
        except ValueError:
            raise RunError(
                _("{name} must be a whole number, not {value}").format(
                    name=MAX_RUNS_ENV, value=repr(raw)
                )
            ) from None
    if value < 1:
        raise RunError(
            _("the number of concurrent runs must be at least 1, not {value}").format(value=value)
        )
    return value


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary sibling, then rename it over ``path`` (atomic on POSIX):
    a reader finds the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON whole (``write_bytes_atomic``)."""
    text = json.dumps(data, indent=1, allow_nan=False) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"))


def read_json(path: Path) -> dict:
    """A JSON object from ``path``; anything else raises ``RunError`` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(_("{path}: missing").format(path=path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(_("{path}: unreadable ({error})").format(path=path, error=exc)) from None
    if not isinstance(data, dict):
        raise RunError(_("{path}: expected a JSON object").format(path=path))
    return data


def new_run_id(now: float | None = None) -> str:
    """Sortable, unique enough: ``20261129-143012-3fa2``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"{stamp}-{secrets.token_hex(2)}"


# 5: owner; 4: sweep trials; 3: fine-tuned and imported runs; 2: optimiser in train
CONFIG_FORMAT = 5
VERSIONED = ("mnist-cnn-studio", "tensorflow", "keras", "numpy")


def provenance(command: str) -> dict:
    """Where a run comes from: the command that started it, package versions, the data."""
    from importlib import metadata

    from mnist import __version__
    from mnist import data as mnist_data

    versions = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # a source checkout that was never installed
            versions[name] = __version__ if name == "mnist-cnn-studio" else None
    return {"command": command, "versions": versions, "data": mnist_data.fingerprint()}


@dataclass(frozen=True)
class RunConfig:
    """What ``config.json`` holds: the model, how to train it, and where it came from.

    ``model`` is None when the architecture is not one ``ModelConfig`` describes (a model
    imported from elsewhere, or fine-tuned from one); ``train`` is None for an imported model,
    which this app never trained. A fine-tuning run has ``finetune``; an import, ``imported``
    (``source``: the file's name, ``sha256``: its bytes'); a sweep's trial, ``sweep`` (``id``,
    ``trial``: its 0-based number, ``values``: the settings drawn for it, ``node``, ``host``).
    ``owner`` is who started it (``mnist.access``): a signed-in person's id, or the machine's
    user for the CLI; None in runs made before owners were recorded (the machine's user).
    """

    model: ModelConfig | None
    train: TrainConfig | None
    preset: str | None = None  # the preset it started from, if any
    created: float = 0.0  # Unix time
    provenance: dict = field(default_factory=dict)  # command, versions, data (``provenance``)
    finetune: FinetuneConfig | None = None
    imported: dict | None = None
    sweep: dict | None = None
    owner: str | None = None

    @property
    def kind(self) -> str:
        """ "import", "fine-tune" or "train": how the run's model came to be."""
        return "import" if self.imported else "fine-tune" if self.finetune else "train"

    @property
    def origin(self) -> str:
        """How pages name the model: "imported", "fine-tuned", its preset or "custom"."""
        named = {"import": "imported", "fine-tune": "fine-tuned"}.get(self.kind)
        if self.sweep:
            named = f"sweep trial {self.sweep['trial'] + 1}"
        return named or self.preset or "custom"

    def to_dict(self) -> dict:
        data = {
            "format_version": CONFIG_FORMAT,
            "model": self.model.to_dict() if self.model else None,
            "train": self.train.to_dict() if self.train else None,
            "preset": self.preset,
            "created": self.created,
            "provenance": self.provenance,
            "owner": self.owner,
        }
        if self.finetune:
            data["finetune"] = self.finetune.to_dict()
        if self.imported:
            data["imported"] = dict(self.imported)
        if self.sweep:
            data["sweep"] = dict(self.sweep)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Any format this code has written (format 1 had no ``format_version``)."""
        version = data.get("format_version", 1)
        if not isinstance(version, int) or version > CONFIG_FORMAT:
            raise ValueError(
                _(
                    "config format {version} is newer than this version of MNIST CNN Studio "
                    "reads ({supported})"
                ).format(version=repr(version), supported=CONFIG_FORMAT)
            )
        model, train = data["model"], data["train"]
        if model is not None and train is not None:
            model, train = migrate_optimizer_fields(model, train)
        finetune = data.get("finetune")
        return cls(
            model=ModelConfig.from_dict(model) if model is not None else None,
            train=TrainConfig.from_dict(train) if train is not None else None,
            preset=data.get("preset"),
            created=float(data.get("created", 0.0)),
            provenance=dict(data.get("provenance") or {}),
            finetune=FinetuneConfig.from_dict(finetune) if finetune else None,
            imported=dict(data["imported"]) if data.get("imported") else None,
            sweep=dict(data["sweep"]) if data.get("sweep") else None,
            owner=data.get("owner") or None,
        )


@dataclass(frozen=True)
class Run:
    """A run folder as read at one moment."""

    path: Path
    config: RunConfig
    status: RunStatus  # status.json, with a dead worker's live state turned into "failed"

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def state(self) -> str:
        return self.status.state

    @property
    def is_live(self) -> bool:
        return self.status.is_live

    @property
    def model_path(self) -> Path | None:
        path = self.path / MODEL
        return path if path.is_file() else None

    def evaluation(self) -> dict | None:
        """``evaluation.json``, or None before the run has one."""
        try:
            return read_json(self.path / EVALUATION)
        except RunError:
            return None

    def stored_scores(self):
        """(Evaluation, (10000, 10) probabilities) the worker stored for this run's model, or
        None when it has none (an older run, or one without a model)."""
        from mnist.evaluation import Evaluation

        data = self.evaluation()
        try:
            probs = np.load(self.path / PROBABILITIES, allow_pickle=False)
            evaluation = Evaluation.from_dict(data) if data else None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if evaluation is None or probs.shape != (evaluation.count, 10):
            return None
        return evaluation, probs


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        # Reap our own finished child first, or it would linger as a zombie that looks alive.
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass  # not our child: fine, ask the kernel below
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (ended, not yet reaped by whoever adopted it) answers kill(0) too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def read_status(run_dir: Path, now: float | None = None) -> RunStatus:
    """``status.json`` as the worker last wrote it, judged by a reader: a live state whose
    worker died or went silent reads as ``failed``, a stop request as ``stopping``. A run
    whose worker has not written yet reads as ``queued`` since its creation."""
    path = run_dir / STATUS
    if path.exists():
        try:
            status = RunStatus.from_dict(read_json(path))
        except FormatError as exc:
            raise RunError(f"{path}: {exc}") from None
    else:  # created, its worker not started yet: silence since the run's creation counts
        created = SlotLock._start_order(run_dir)[0]
        status = RunStatus(state=QUEUED, heartbeat=created)
    if status.state in (QUEUED, RUNNING) and (run_dir / STOP_FILE).exists():
        # Asked to stop: the worker sees it at its next batch; say so already.
        status = status.replace(state=STOPPING, message=STOP_REQUESTED)
    if status.is_live:
        lost = lost_writer(status.pid, status.heartbeat, now)
        if lost is None:
            return status
        ended, silent = lost
        # Worked out as it is read, never written: in the reader's language.
        reason = (
            _("the worker process ended without finishing the run (killed or crashed)")
            if ended
            else _("the worker has not reported for {seconds} s (hung or killed)").format(
                seconds=f"{silent:.0f}"
            )
        )
        status = status.replace(state=FAILED, error=reason, stale=True)
    return status


def lost_writer(
    pid: int | None, heartbeat: float, now: float | None = None
) -> tuple[bool, float] | None:
    """Whether the process writing a live record (a run's worker, a sweep's driver) is gone:
    ``(True, s)`` when its pid has ended, ``(False, s)`` when it has been silent longer than
    ``STALE_SECONDS`` (``s``: seconds since its heartbeat), None while it reports. Before a
    process has written its pid, only silence can condemn it."""
    silent = (time.time() if now is None else now) - heartbeat
    if pid is not None and not _pid_alive(pid):
        return True, silent
    if silent > STALE_SECONDS:
        return False, silent
    return None


def load_run(run_dir: str | os.PathLike) -> Run:
    """Read one run folder; a missing or corrupt one raises ``RunError``."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(_("{path}: no such run").format(path=path))
    try:
        config = RunConfig.from_dict(read_json(path / CONFIG))
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(
            _("{path}: invalid run config ({error})").format(path=path / CONFIG, error=exc)
        ) from None
    return Run(path=path, config=config, status=read_status(path))


def find_run(run_id: str, runs_dir: str | os.PathLike | None = None) -> Run:
    """The run called ``run_id`` in the runs folder."""
    if not run_id or "/" in run_id or run_id.startswith("."):
        raise RunError(_("{run_id} is not a run id").format(run_id=repr(run_id)))
    return load_run(resolve_runs_dir(runs_dir) / run_id)


def list_runs(runs_dir: str | os.PathLike | None = None) -> tuple[list[Run], list[str]]:
    """All runs, newest first, and one message per folder that could not be read."""
    root = resolve_runs_dir(runs_dir)
    if not root.is_dir():
        return [], []
    runs, problems = [], []
    for path in sorted(root.iterdir(), reverse=True):
        if path.name.startswith(".") or path.name in NOT_RUNS or not path.is_dir():
            continue
        try:
            runs.append(load_run(path))
        except RunError as exc:
            problems.append(str(exc))
    runs.sort(key=lambda r: (r.config.created, r.run_id), reverse=True)
    return runs, problems


def create_run(
    model: ModelConfig | None,
    train: TrainConfig | None,
    preset: str | None = None,
    runs_dir: str | os.PathLike | None = None,
    command: str = "the dashboard's Training page",
    *,
    finetune: FinetuneConfig | None = None,
    imported: dict | None = None,
    sweep: dict | None = None,
    files: Callable[[Path], None] | None = None,
    owner: str | None = None,
) -> Path:
    """A new run folder with its config (it reads as ``queued``); nothing runs yet.

    ``files(folder)`` writes whatever else the run starts with (a fine-tune's base model and
    samples, an import's model and scores). The folder is made under a hidden name and
    renamed into place when complete, so no reader ever sees a run without its files.
    ``owner``: who starts it (default: the machine's own user, as for the CLI).
    """
    now = time.time()
    owner = owner or access.local_user()

    def write(stage: Path) -> None:
        config = RunConfig(
            model, train, preset, now, provenance(command), finetune, imported, sweep, owner
        )
        write_json_atomic(stage / CONFIG, config.to_dict())  # status.json is the worker's
        if files is not None:
            files(stage)

    return create_folder(resolve_runs_dir(runs_dir), write, now)


def create_folder(root: Path, write: Callable[[Path], None], now: float | None = None) -> Path:
    """A new folder ``root/<new id>`` holding what ``write(folder)`` puts in it, made under a
    hidden name and renamed into place when complete (so no reader sees it half made)."""
    root.mkdir(parents=True, exist_ok=True)
    now = time.time() if now is None else now
    for left in root.glob(".creating-*"):  # a creator killed mid-way, an hour or more ago
        with contextlib.suppress(OSError):
            if now - left.stat().st_mtime > STAGE_ABANDONED_SECONDS:
                shutil.rmtree(left, ignore_errors=True)
    stage = root / f".creating-{os.getpid()}-{secrets.token_hex(4)}"
    stage.mkdir()
    try:
        write(stage)
        while True:
            path = root / new_run_id(now)
            if path.exists():
                continue
            try:
                os.rename(stage, path)
                return path
            except OSError:  # made by another process in between: another id
                if not stage.exists():
                    raise
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def worker_command(run_dir: Path, max_runs: int | None = None) -> list[str]:
    """The command that trains an existing run folder: the same code path as the CLI."""
    cmd = [sys.executable, "-m", "mnist", "train", "--run-dir", str(run_dir)]
    if max_runs is not None:
        cmd += ["--max-runs", str(max_runs)]
    return cmd


def start_run(
    model: ModelConfig,
    train: TrainConfig,
    preset: str | None = None,
    runs_dir: str | os.PathLike | None = None,
    max_runs: int | None = None,
    owner: str | None = None,
) -> Path:
    """Create a run and start its worker process (no shell); returns the run folder."""
    return launch(create_run(model, train, preset, runs_dir, owner=owner), max_runs)


def launch(path: Path, max_runs: int | None = None) -> Path:
    """Start the worker process (no shell) of a run folder made by ``create_run``."""
    spawn(path, max_runs)
    # The worker writes its own pid into status.json within a fraction of a second (before
    # TensorFlow loads); one that dies before that reads as failed once its heartbeat is stale.
    return path


def package_env(env: dict | None = None) -> dict:
    """``env`` (default: this process's) with *this* package importable, wherever the
    working directory is, and TensorFlow's C++ notices down to warnings."""
    env = dict(os.environ if env is None else env)
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


# Starts a command as a grandchild and prints its pid: argv = log file, command…
_DETACH = (
    "import subprocess, sys\n"
    "with open(sys.argv[1], 'ab') as log:\n"
    "    p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log,\n"
    "                         stderr=subprocess.STDOUT, start_new_session=True)\n"
    "print(p.pid)\n"
)


def spawn(
    path: Path, max_runs: int | None = None, *, threads: int | None = None, tied: bool = False
) -> int:
    """Start a run folder's worker in a session of its own (a page rerun or a Ctrl-C in the
    server's terminal does not reach it); its process id.

    ``threads``: the CPU threads it may use (TensorFlow's thread pools and the input
    pipeline), for a worker sharing the machine with others (a sweep's trials).
    ``tied``: the worker stops as if asked (at its next batch, keeping its model) once this
    process has ended. It is started through a short-lived intermediate so that it is not
    this process's child: Ray kills a trial's child processes with the trial (SIGKILL, no
    model saved), at once when it stops a trial early.
    """
    env = package_env()
    if threads is not None:
        from mnist.hardware import THREADS_ENV

        for name in (THREADS_ENV, "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
            env[name] = str(threads)
    command = worker_command(path.resolve(), max_runs)
    if tied:
        env[STOP_WITH_PARENT_ENV] = str(os.getpid())
        done = subprocess.run(
            [sys.executable, "-c", _DETACH, str(path / LOG), *command],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return int(done.stdout.strip())
    with open(path / LOG, "ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        ).pid


def stop_with_parent(run_dir: Path) -> None:
    """In a worker started ``tied``: a thread that asks the run to stop (its ``STOP`` file)
    once the process that started it has ended."""
    watched = os.environ.pop(STOP_WITH_PARENT_ENV, "")
    if not watched.isdigit():
        return

    def watch() -> None:
        while _pid_alive(int(watched)):
            time.sleep(HEARTBEAT_SECONDS)
        (run_dir / STOP_FILE).touch()

    threading.Thread(target=watch, name="stop-with-parent", daemon=True).start()


class StatusWriter:
    """The worker's single writer of ``status.json``: a ``RunStatus`` plus a heartbeat thread.

    ``update`` changes fields (written at most every ``HEARTBEAT_SECONDS``, at once with
    ``force``); the thread rewrites the file every ``HEARTBEAT_SECONDS`` even while data loads
    or the model is saved, so readers can tell a slow run from a dead one.
    """

    def __init__(self, run_dir: Path, status: Any = None, name: str = STATUS) -> None:
        # ``status``/``name``: another record with ``replace``, ``to_dict`` and a heartbeat
        # (a sweep's ``state.json``, mnist.sweeps)
        self.path = run_dir / name
        self._lock = threading.Lock()
        self.status = status or RunStatus(state=QUEUED, pid=os.getpid(), message=STARTING)
        self._last_write = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def start(self) -> None:
        self.update(force=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def update(self, force: bool = False, **fields) -> None:
        with self._lock:
            self.status = self.status.replace(**fields)
            now = time.time()
            if force or now - self._last_write >= HEARTBEAT_SECONDS:
                self._write(now)

    def _write(self, now: float) -> None:
        self.status = self.status.replace(heartbeat=now)
        write_json_atomic(self.path, self.status.to_dict())
        self._last_write = now

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with self._lock:
                if time.time() - self._last_write >= HEARTBEAT_SECONDS:
                    self._write(time.time())


def save_probabilities(run_dir: Path, probs: np.ndarray) -> None:
    """Store a model's test probabilities in its run folder (written whole, then renamed)."""
    tmp = run_dir / f".{PROBABILITIES}.{os.getpid()}.tmp.npy"
    np.save(tmp, np.asarray(probs, dtype=np.float32), allow_pickle=False)
    os.replace(tmp, run_dir / PROBABILITIES)


def request_stop(run_dir: str | os.PathLike, person: access.Person | None = None) -> bool:
    """Ask a live run to stop at its next batch (stop file + SIGTERM); False if not live.
    ``person`` (default: the machine's user) must own the run or be an admin
    (``access.NotAllowed`` otherwise)."""
    run = load_run(run_dir)
    access.check_may_change(person, run.config.owner, f"stop run {run.run_id}")
    if not run.is_live:
        return False
    (run.path / STOP_FILE).touch()
    pid = run.status.pid
    if pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)  # if it fails, the stop file still tells the worker
    return True


def delete_run(run_dir: str | os.PathLike, person: access.Person | None = None) -> None:
    """Remove a finished run's folder; a live run must be stopped first. ``person``
    (default: the machine's user) must own the run or be an admin."""
    run = load_run(run_dir)
    access.check_may_change(person, run.config.owner, f"delete run {run.run_id}")
    _remove(run)


def _remove(run: Run) -> None:
    if run.is_live:
        raise RunError(
            _("run {run_id} is {state}; stop it before deleting it").format(
                run_id=run.run_id, state=state_label(run.state)
            )
        )
    # Rename first: the folder vanishes from listings at once, never half-deleted.
    trash = run.path.with_name(f".deleting-{run.run_id}-{os.getpid()}")
    os.replace(run.path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def set_pinned(
    run_dir: str | os.PathLike, pinned: bool, person: access.Person | None = None
) -> None:
    """Pin a run (retention keeps it, however old) or unpin it; owner or admin only."""
    run = load_run(run_dir)
    verb = "pin" if pinned else "unpin"
    access.check_may_change(person, run.config.owner, f"{verb} run {run.run_id}")
    marker = run.path / access.PINNED
    if pinned:
        marker.touch()
    else:
        marker.unlink(missing_ok=True)


def is_pinned(run: Run) -> bool:
    return (run.path / access.PINNED).exists()


def apply_retention(
    keep: int, in_use: tuple[str, ...] = (), runs_dir: str | os.PathLike | None = None
) -> list[str]:
    """Remove each person's finished runs past their newest ``keep`` (``access.retention``:
    never a live run, a pinned one, one in ``in_use`` or a sweep's trial); the ids removed."""
    removed = []
    for run in access.retention(list_runs(runs_dir)[0], keep, in_use).remove:
        with contextlib.suppress(OSError, RunError):  # gone or turned live meanwhile: skip
            _remove(load_run(run.path))
            removed.append(run.run_id)
    return removed


def read_metrics(
    run_dir: str | os.PathLike, offset: int = 0
) -> tuple[list[BatchRecord | EpochRecord], int]:
    """Records appended since byte ``offset`` and the offset to pass next time.

    Only whole lines are returned, so a line the worker is still writing is read next time.
    """
    path = Path(run_dir) / METRICS
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n") + 1
    records = [r for r in map(parse_metrics_line, chunk[:end].splitlines()) if r is not None]
    return records, offset + end


def metrics_header() -> str:
    """The first line of a new ``metrics.jsonl``."""
    return dumps(MetricsHeader())


@dataclass
class MetricsTail:
    """Follows one run's ``metrics.jsonl``: each ``poll`` reads only what was appended."""

    run_dir: Path
    offset: int = 0
    batches: list[BatchRecord] = field(default_factory=list)
    epochs: list[EpochRecord] = field(default_factory=list)

    def poll(self) -> int:
        """Read new records; returns how many arrived."""
        records, self.offset = read_metrics(self.run_dir, self.offset)
        for record in records:
            (self.epochs if isinstance(record, EpochRecord) else self.batches).append(record)
        return len(records)


def clock(seconds: float | None) -> str:
    """Seconds as ``m:ss`` or ``h:mm:ss`` (``–`` when unknown), for progress lines."""
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress(status: RunStatus) -> tuple[float, str]:
    """Fraction done (0–1) and one line of progress for people (in the dashboard session's
    language; the worker's messages are kept in English and translated here)."""
    state = status.state
    total = status.total_steps or 0
    fraction = min(1.0, status.step / total) if total else 0.0
    if state == DONE:
        fraction = 1.0
    if state == QUEUED:
        if not worker_reported(status):
            return 0.0, _("starting the worker process")
        return 0.0, _(status.message or N_("queued: waiting for a training slot"))
    parts = []
    if status.epochs:
        parts.append(_("epoch {epoch}/{epochs}").format(epoch=status.epoch, epochs=status.epochs))
    if status.batches:
        parts.append(
            _("batch {batch}/{batches}").format(batch=status.batch, batches=status.batches)
        )
    if status.samples_per_second:
        parts.append(_("{rate} samples/s").format(rate=i18n.number(status.samples_per_second, 0)))
    if status.elapsed is not None or status.train_seconds is not None:
        parts.append(_("elapsed {time}").format(time=clock(status.train_seconds or status.elapsed)))
    if status.is_live and status.eta_seconds is not None:
        parts.append(_("ETA {time}").format(time=clock(status.eta_seconds)))
    if status.is_live and status.message:
        parts.append(_(status.message))
    return fraction, " · ".join(parts) or state_label(state)


def _template_pattern(template: str) -> re.Pattern:
    """A regular expression matching what ``template.format(...)`` gives, a group per field."""
    pattern = ""
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        pattern += re.escape(literal) + (f"(?P<{name}>.+?)" if name else "")
    return re.compile(pattern, re.DOTALL)


def error_text(error: str | None) -> str:
    """A run's ``error`` as the session reads it: a sentence the worker words itself
    (``DIVERGED`` and its parts), translated with its values; any other text translated if it
    is a known message, else as it is (a Python exception's words)."""
    if not error:
        return ""
    for template in _ERROR_TEMPLATES:
        match = _template_pattern(template).fullmatch(error)
        if match:
            values = {name: error_text(value) for name, value in match.groupdict().items()}
            return _(template).format(**values)
    return _(error)


def epochs_text(status: RunStatus, planned: int) -> str:
    """Epochs done of those planned: "3/10" while it trains (the epoch under way), and once
    it has ended, complete epochs only: "14/15" for a run stopped during its 15th."""
    if status.state in FINAL_STATES and status.epochs_completed is not None:
        return f"{status.epochs_completed}/{planned}"
    return f"{status.epoch}/{planned}"


def history_row(run: Run) -> dict:
    """One row of the run-history table: what tells runs apart, and how each ended."""
    train = run.config.train
    status = run.status
    return {
        "run": run.run_id,  # starts with the date and time it was created
        "status": run.state,
        "by": access.owner_of(run.config.owner),
        "pinned": is_pinned(run),
        "preset": run.config.origin,
        "test accuracy": status.test_accuracy,
        "epochs": epochs_text(status, train.epochs) if train else None,
        "optimizer": train.optimizer if train else None,
        "learning rate": train.learning_rate if train else None,
        "schedule": train.lr_schedule if train else None,
        "batch size": train.batch_size if train else None,
        "train images": (
            status.train_samples or train.train_size or TRAIN_IMAGES - train.validation_size
        )
        if train
        else None,
        "validation": train.validation_size if train else None,
        "augment": train.augment if train else None,
        "seed": train.seed if train else None,
        "seconds": status.train_seconds,
    }


def worker_reported(status: RunStatus) -> bool:
    """Whether the run's worker process has written its status (pid, heartbeat) yet."""
    return status.pid is not None or status.state != QUEUED


def is_starting(status: RunStatus) -> bool:
    """Whether a live run is still getting ready to train: its worker starting, TensorFlow
    or the data loading (seconds). Waiting for another run's slot is not starting."""
    if not status.is_live:
        return False
    return not worker_reported(status) or status.message in (STARTING, LOADING)


# How often a page showing a live run re-reads it. Each refresh costs CPU that training on
# the same cores then lacks (benchmarks/RESULTS.md, figure 2), so a long run is refreshed
# every few seconds; a run's first seconds, and short runs such as the codelab's (a few
# seconds of training), are refreshed often enough to watch the curves grow.
WATCH_SECONDS = 3.0
WATCH_SECONDS_YOUNG = 0.5
YOUNG_SECONDS = 10.0  # of training, after the first batch
SHORT_RUN_SECONDS = 60.0  # runs expected to train for less than this are watched closely


def watch_interval(status: RunStatus) -> float | None:
    """Seconds between refreshes of a page watching this run; None once it has ended."""
    if not status.is_live:
        return None
    if status.state == QUEUED and worker_reported(status):
        return WATCH_SECONDS  # waiting for another run to finish: nothing moves here
    if status.elapsed is None:  # the worker is starting or loading data: a batch is near
        return WATCH_SECONDS_YOUNG
    planned = status.elapsed + (status.eta_seconds or 0.0)
    if status.elapsed < YOUNG_SECONDS or planned < SHORT_RUN_SECONDS:
        return WATCH_SECONDS_YOUNG
    return WATCH_SECONDS


class SlotLock:
    """Hold one of the ``max_runs`` training slots of a runs folder while training.

    Slots are ``flock``-ed files, so a worker killed with SIGKILL frees its slot at once.
    A run only tries for a slot when no older run is waiting, so queued runs start in order.
    """

    def __init__(self, runs_dir: Path, run_id: str, max_runs: int) -> None:
        self.dir = runs_dir / ".slots"
        self.run_id = run_id
        self.max_runs = max_runs
        self._fh: IO[bytes] | None = None

    @staticmethod
    def _start_order(path: Path) -> tuple[float, str]:
        """(created, name): the order runs were started in, even within one second."""
        try:
            return float(read_json(path / CONFIG).get("created", 0.0)), path.name
        except (RunError, TypeError, ValueError):
            pass
        try:  # no readable config: fall back on the id's own timestamp
            return time.mktime(time.strptime(path.name[:15], "%Y%m%d-%H%M%S")), path.name
        except ValueError:
            return 0.0, path.name

    def _older_run_waiting(self) -> bool:
        root = self.dir.parent
        if not root.is_dir():
            return False
        mine = self._start_order(root / self.run_id)
        for path in root.iterdir():
            if path.name == self.run_id or path.name.startswith(".") or not path.is_dir():
                continue
            try:
                # load_run: a worker that died while queued no longer holds the queue up
                if self._start_order(path) < mine and load_run(path).state == QUEUED:
                    return True
            except RunError:
                continue
        return False

    def try_acquire(self) -> bool:
        """Take a free slot now if it is this run's turn; True when held."""
        if self._fh is not None:
            return True
        if self._older_run_waiting():
            return False
        self.dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.max_runs):
            fh = open(self.dir / f"slot-{i}.lock", "ab")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                continue
            self._fh = fh
            return True
        return False

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
