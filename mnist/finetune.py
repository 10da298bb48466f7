"""Fine-tuning a model on a person's own digits: the run it makes, and did it help.

A fine-tuning run is an ordinary run folder trained by the same worker (``mnist.training``),
with a ``finetune`` section in ``config.json`` and two more files its creator writes:
``base.keras`` (the model it starts from) and ``personal.npz`` (the samples, split into the
part it trains on and the part held out). Each epoch mixes the personal samples, repeated and
augmented, with a replay of MNIST training images so the model does not forget MNIST. Its
``evaluation.json`` adds a ``finetune`` section: the held-out samples' labels and the base
and tuned models' answers, and the MNIST test accuracy before and after. No TensorFlow here.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist import DEFAULT_MODEL, NUM_CLASSES, i18n, runs
from mnist.config import (
    FINETUNE_LEARNING_RATES,
    FINETUNE_MODES,
    FinetuneConfig,
    ModelConfig,
    TrainConfig,
)
from mnist.i18n import _, ngettext
from mnist.personal import MIN_PER_DIGIT, PersonalError, PersonalSet

REPLAY_IMAGES = 3_000  # MNIST training images replayed in each epoch
EPOCHS = 5
BATCH_SIZE = 64
VALIDATION_IMAGES = 1_000  # MNIST images for the live val_* curves: is MNIST forgotten?
FINETUNE_FORMAT = 1  # of evaluation.json's "finetune" section


@dataclass(frozen=True)
class Base:
    """The model a fine-tune starts from."""

    path: Path
    label: str  # "run <id>", "the bundled model" or the file's path
    model: ModelConfig | None  # its architecture, when a ModelConfig describes it


def resolve_base(
    run_id: str | None = None,
    path: str | os.PathLike | None = None,
    runs_dir: str | os.PathLike | None = None,
) -> Base:
    """A run's model, a ``.keras`` file, or (neither given) the bundled default model."""
    if run_id:
        run = runs.find_run(run_id, runs_dir)
        if run.model_path is None:
            raise runs.RunError(
                _("run {run_id} has no model to fine-tune (it is {state})").format(
                    run_id=run_id, state=runs.state_label(run.state)
                )
            )
        return Base(run.model_path, f"run {run_id}", run.config.model)
    if path is None or Path(path).resolve() == DEFAULT_MODEL.resolve():
        return Base(DEFAULT_MODEL, "the bundled model", _bundled_model_config())
    file = Path(path).expanduser().absolute()
    if not file.is_file():
        raise runs.RunError(f"{file}: no such model file")
    return Base(file, str(file), None)


def _bundled_model_config() -> ModelConfig | None:
    record = DEFAULT_MODEL.with_suffix(".json")
    try:
        return ModelConfig.from_dict(runs.read_json(record)["config"]["model"])
    except (runs.RunError, KeyError, TypeError, ValueError):
        return None


def default_train(mode: str, **overrides) -> TrainConfig:
    """The training settings of a fine-tune in ``mode``; ``overrides`` change any field."""
    if mode not in FINETUNE_MODES:
        raise ValueError(f"fine-tuning mode must be one of {', '.join(FINETUNE_MODES)}")
    values = {
        "epochs": EPOCHS,
        "batch_size": BATCH_SIZE,
        "optimizer": "adam",
        "learning_rate": FINETUNE_LEARNING_RATES[mode],
        "train_size": REPLAY_IMAGES,
        "validation_size": VALIDATION_IMAGES,
        "augment": True,
        "precision": "float32",  # the base model keeps its own dtype policy
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig.from_dict(values)


def readiness(samples: PersonalSet) -> str | None:
    """None when the set can be fine-tuned on, else what it still needs, in words (the
    dashboard's language in the dashboard, English in the CLI)."""
    needed = samples.needed()
    if not needed:
        return None
    total = sum(needed.values())
    parts = ", ".join(
        ngettext("{n} more {digit}", "{n} more {digit}s", n).format(n=i18n.number(n), digit=d)
        for d, n in needed.items()
    )
    return _(
        "Fine-tuning needs at least {min} samples of every digit, one of them held out to "
        "measure the result (every fifth is): {total} more to go — {parts}."
    ).format(min=MIN_PER_DIGIT, total=i18n.number(total), parts=parts)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def create_finetune_run(
    base: Base,
    samples: PersonalSet,
    mode: str,
    train: TrainConfig | None = None,
    runs_dir: str | os.PathLike | None = None,
    command: str = "the dashboard's My digits page",
    owner: str | None = None,
) -> Path:
    """A queued run folder that fine-tunes ``base`` on ``samples`` (see the module's doc);
    ``owner``: who starts it (default: the machine's user).

    ``PersonalError`` (with what is missing) when the set is not ready.
    """
    problem = readiness(samples)
    if problem:
        raise PersonalError(problem)
    arrays = samples.arrays()
    train = train or default_train(mode)
    ft = FinetuneConfig(
        base=base.label,
        base_sha256=_sha256(base.path),
        mode=mode,
        samples_dir=str(samples.root),
        samples_fingerprint=samples.fingerprint(),
        personal_train=len(arrays.y_train),
        personal_test=len(arrays.y_test),
    )

    def files(folder: Path) -> None:
        runs.write_bytes_atomic(folder / runs.BASE_MODEL, base.path.read_bytes())
        arrays.save(folder / runs.PERSONAL)

    return runs.create_run(
        base.model, train, None, runs_dir, command, finetune=ft, files=files, owner=owner
    )


def mix(
    x_mnist: np.ndarray,
    y_mnist: np.ndarray,
    x_personal: np.ndarray,
    y_personal: np.ndarray,
    share: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's images: the MNIST replay plus the personal samples repeated so that they
    are ``share`` of the whole (each copy is augmented differently when training augments)."""
    n = len(y_personal)
    if n == 0:
        return x_mnist, y_mnist
    copies = max(n, round(len(y_mnist) * share / (1.0 - share)))
    rng = np.random.default_rng(seed)
    idx = rng.permutation(np.tile(np.arange(n), -(-copies // n)))[:copies]
    return (
        np.concatenate([x_mnist, x_personal[idx]]),
        np.concatenate([y_mnist, y_personal[idx]]),
    )


@dataclass(frozen=True)
class Comparison:
    """Before and after, as the page and the CLI show them."""

    count: int  # held-out personal samples
    per_digit: list[dict]  # digit, samples, before (right), after (right)
    personal_before: float | None
    personal_after: float | None
    mnist_before: float | None
    mnist_after: float | None


def comparison(section: dict) -> Comparison:
    """Read ``evaluation.json``'s ``finetune`` section."""
    labels = np.asarray(section["labels"], int)
    before = np.asarray(section["before"], int)
    after = np.asarray(section["after"], int)
    rows = []
    for d in range(NUM_CLASSES):
        mine = labels == d
        rows.append(
            {
                "digit": d,
                "samples": int(mine.sum()),
                "before": int((before[mine] == d).sum()),
                "after": int((after[mine] == d).sum()),
            }
        )
    n = len(labels)
    return Comparison(
        count=n,
        per_digit=rows,
        personal_before=float((before == labels).mean()) if n else None,
        personal_after=float((after == labels).mean()) if n else None,
        mnist_before=section.get("mnist_before"),
        mnist_after=section.get("mnist_after"),
    )


def section(
    labels: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    mnist_before: float,
    mnist_after: float,
) -> dict:
    """``evaluation.json``'s ``finetune`` section (written by the worker)."""
    return {
        "format_version": FINETUNE_FORMAT,
        "labels": [int(v) for v in labels],
        "before": [int(v) for v in before],
        "after": [int(v) for v in after],
        "mnist_before": float(mnist_before),
        "mnist_after": float(mnist_after),
    }
