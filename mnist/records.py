"""What a run folder's files hold, as typed records with a format version.

Each file has one writer; every reader goes through these classes, never through string keys.
``docs/run-folder.md`` describes every field for people who script against run folders.

=================  ==========================================  ==========================
file               record                                      written by
=================  ==========================================  ==========================
``config.json``    ``runs.RunConfig`` (format 2)                whoever creates the run,
                                                               once (``runs.create_run``)
``status.json``    ``RunStatus`` (format 2)                     the worker only
                                                               (``runs.StatusWriter``)
``metrics.jsonl``  a ``MetricsHeader`` line, then one           the worker only
                   ``BatchRecord`` per batch and one            (``training.MetricsRecorder``)
                   ``EpochRecord`` per epoch (format 2)
``evaluation.json``  ``evaluation.Evaluation``                 the worker, once, at the end
=================  ==========================================  ==========================

Format 1 (before ``format_version`` existed) still reads: its status had the last batch's
running loss and accuracy (now only in ``metrics.jsonl``) and no ``epochs_completed``; its
batch records had no ``batch_loss`` / ``batch_accuracy``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from mnist.i18n import N_, _

QUEUED, RUNNING, STOPPING = "queued", "running", "stopping"
DONE, STOPPED, FAILED = "done", "stopped", "failed"
LIVE_STATES = (QUEUED, RUNNING, STOPPING)
FINAL_STATES = (DONE, STOPPED, FAILED)
# The states as a person reads them (the records keep the English codes above).
STATE_LABELS = {
    QUEUED: N_("queued"),
    RUNNING: N_("running"),
    STOPPING: N_("stopping"),
    DONE: N_("done"),
    STOPPED: N_("stopped"),
    FAILED: N_("failed"),
}


def state_label(state: str) -> str:
    """A run's or a sweep's state in the session's language (unknown states as they are)."""
    return _(STATE_LABELS[state]) if state in STATE_LABELS else state


STATES = LIVE_STATES + FINAL_STATES


class FormatError(ValueError):
    """A file of a run folder is not in a format this version reads."""


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}


def _known(cls: type, data: dict, current: int, dropped: tuple[str, ...] = ()) -> dict:
    """``data``'s fields for ``cls``: its format checked, fields of older formats dropped."""
    if not isinstance(data, dict):
        raise FormatError(f"expected a JSON object, got {type(data).__name__}")
    version = data.get("format_version", 1)
    if not isinstance(version, int) or not 1 <= version <= current:
        raise FormatError(
            f"format {version!r} is not one this version of MNIST CNN Studio reads (1 to {current})"
        )
    values = {k: v for k, v in data.items() if k != "format_version"}
    if version < current:
        values = {k: v for k, v in values.items() if k not in dropped}
    unknown = sorted(set(values) - _fields(cls))
    if unknown:
        raise FormatError(f"unknown field(s) for format {version}: {', '.join(unknown)}")
    return values


@dataclass(frozen=True)
class RunStatus:
    """``status.json``: where a run is and how it ended. Written only by its worker."""

    FORMAT: ClassVar[int] = 2

    state: str = QUEUED  # queued, running, stopping, done, stopped or failed
    pid: int | None = None  # the worker's process id (None until the worker starts)
    heartbeat: float = 0.0  # Unix time of the last write: at least every second while live
    message: str | None = None  # what a live run is doing: loading TensorFlow, waiting, …
    error: str | None = None  # why a failed run failed, in one sentence
    started: float | None = None  # Unix time training began
    finished: float | None = None  # Unix time the run ended
    epoch: int = 0  # the epoch under way (1-based), or the last one
    epochs: int | None = None  # epochs planned
    batch: int = 0  # the batch of that epoch (1-based)
    batches: int | None = None  # batches per epoch
    step: int = 0  # batches trained so far, all epochs
    total_steps: int | None = None  # batches planned
    elapsed: float | None = None  # seconds since training began
    eta_seconds: float | None = None  # estimated seconds of training left
    samples_per_second: float | None = None  # the epoch's speed; at the end, the run's
    train_samples: int | None = None  # training images
    validation_samples: int | None = None  # validation images
    params: int | None = None  # the model's parameters
    precision: str | None = None  # the dtype policy it trains in (config's, "auto" resolved)
    epochs_completed: int | None = None  # epochs trained to their end (a stop cuts one short)
    val_loss: float | None = None  # the last epoch's; with early stopping, the best epoch's
    val_accuracy: float | None = None
    early_stopped: bool | None = None  # with early stopping: whether it ended the run
    best_epoch: int | None = None  # with early stopping: the epoch whose weights the model has
    test_accuracy: float | None = None  # on the 10,000 test images (evaluation.json has more)
    train_seconds: float | None = None  # seconds of training, not loading or evaluating
    stale: bool = False  # readers only, never written: a live state whose worker is gone

    # Format 1's status also carried the last batch's running loss and accuracy.
    DROPPED: ClassVar[tuple[str, ...]] = ("loss", "accuracy")

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise FormatError(f"state must be one of {', '.join(STATES)}; got {self.state!r}")

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES

    def to_dict(self) -> dict:
        data = asdict(self)
        del data["stale"]
        return {"format_version": self.FORMAT, **data}

    @classmethod
    def from_dict(cls, data: dict) -> RunStatus:
        return cls(**_known(cls, data, cls.FORMAT, cls.DROPPED))

    def replace(self, **changes: Any) -> RunStatus:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class MetricsHeader:
    """The first line of ``metrics.jsonl``: its format."""

    type: str = "header"
    format_version: int = 2


@dataclass(frozen=True)
class BatchRecord:
    """One line of ``metrics.jsonl`` per training batch (onBatchEnd)."""

    type: str = "batch"
    epoch: int = 1  # 1-based
    batch: int = 1  # 1-based, within the epoch
    step: int = 1  # 1-based, over the whole run
    loss: float | None = None  # Keras's running mean over the epoch so far (null: not finite)
    accuracy: float | None = None  # likewise
    batch_loss: float | None = None  # this batch's own loss (what the codelab's chart plots)
    batch_accuracy: float | None = None  # this batch's own accuracy
    lr: float | None = None  # the learning rate this batch used
    samples_per_second: float | None = None  # over the epoch so far
    elapsed: float = 0.0  # seconds since training began
    eta_seconds: float | None = None  # estimated seconds of training left


@dataclass(frozen=True)
class EpochRecord:
    """One line of ``metrics.jsonl`` per epoch (onEpochEnd)."""

    type: str = "epoch"
    epoch: int = 1  # 1-based
    step: int = 0  # batches trained so far, all epochs
    loss: float | None = None  # the epoch's mean training loss
    accuracy: float | None = None
    val_loss: float | None = None  # on the validation images (null without them)
    val_accuracy: float | None = None
    lr: float | None = None  # the learning rate at the epoch's end
    samples_per_second: float | None = None  # null for an epoch cut short
    epoch_seconds: float = 0.0
    elapsed: float = 0.0  # seconds since training began
    complete: bool = True  # false: cut short by a stop request


RECORDS: dict[str, type] = {"batch": BatchRecord, "epoch": EpochRecord, "header": MetricsHeader}


def parse_metrics_line(line: bytes | str) -> BatchRecord | EpochRecord | None:
    """One line of ``metrics.jsonl`` as a record; None for a header or a damaged line."""
    try:
        data = json.loads(line)
        cls = RECORDS[data.get("type", "batch")]
        if cls is MetricsHeader:
            return None
        return cls(**{k: v for k, v in data.items() if k in _fields(cls)})
    except (ValueError, TypeError, KeyError, AttributeError):
        return None  # a damaged line costs one point, not the chart


def dumps(record: BatchRecord | EpochRecord | MetricsHeader) -> str:
    """A record as one JSON line (strict: no NaN)."""
    return json.dumps(asdict(record), separators=(",", ":"), allow_nan=False)
