"""Hyper-parameter sweeps (issue 15): the search space, as people write it and as configs.

A sweep varies some fields of a preset's model and training settings. Each searchable field
has a range written ``NAME=KIND:ARGS`` (the CLI's ``--param``, the Sweep page's widgets):

    learning_rate=loguniform:1e-4:1e-2     batch_size=choice:64,128,256
    dropout=uniform:0:0.5                  epochs=int:2:6      optimizer=choice:adam,sgd

``Param`` parses and checks one; ``apply`` turns drawn values into a ``ModelConfig`` and a
``TrainConfig`` (every value checked by the configs themselves). No Ray, TensorFlow or
Streamlit here. (Issue 15 in progress: the Ray Tune side, sweep folders, the page and the CLI
come next.)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnist.config import OPTIMIZERS, PRESETS, SCHEDULES, ModelConfig, TrainConfig

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
# dropouts change the preset's architecture; the rest are training settings.
SEARCHABLE: dict[str, tuple[type, str]] = {
    "learning_rate": (float, "the (peak) learning rate"),
    "batch_size": (int, "images per training step"),
    "optimizer": (str, f"one of {', '.join(OPTIMIZERS)}"),
    "lr_schedule": (str, f"one of {', '.join(SCHEDULES)}"),
    "epochs": (int, "passes over the training images"),
    "train_size": (int, "training images (a stratified subset)"),
    "augment": (bool, "random rotation, shift and zoom of training images"),
    "seed": (int, "the seed of split, shuffling, weights and augmentation"),
    "filters": (int, "the first conv block's filters; later blocks keep the preset's ratios"),
    "dense_units": (int, "units of every hidden dense layer"),
    "dropout": (float, "dropout before the 10-way layer"),
    "block_dropout": (float, "dropout after every conv block"),
}
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
        if self.name not in SEARCHABLE:
            raise ValueError(
                f"{self.name!r} cannot be searched; one of {', '.join(sorted(SEARCHABLE))}"
            )
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: the range must be one of {', '.join(KINDS)}")
        kind, typ = self.kind, SEARCHABLE[self.name][0]
        if kind == "choice":
            if not self.values:
                raise ValueError(f"{self.name}: choice needs at least one value")
            return
        if typ in (str, bool):
            raise ValueError(f"{self.name}: use choice:… (it takes {typ.__name__} values)")
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(
                f"{self.name}: the range needs LOW < HIGH, got {self.low:g}:{self.high:g}"
            )
        if kind == "loguniform" and self.low <= 0:
            raise ValueError(f"{self.name}: a log-uniform range needs LOW above 0")
        if kind == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError(f"{self.name}: int:LOW:HIGH takes whole numbers")
        if typ is int and kind != "int":
            raise ValueError(f"{self.name}: takes whole numbers; use int:LOW:HIGH or choice:…")

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
        raise ValueError(f"{', '.join(twice)} searched twice; give each field one range")
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
                raise ValueError(f"dense_units: the {preset} model has no hidden dense layer")
            model = dataclasses.replace(model, dense_units=tuple(value for _ in model.dense_units))
        elif name == "dropout":
            model = dataclasses.replace(model, dense_dropout=value)
        elif name == "block_dropout":
            blocks = tuple(dataclasses.replace(b, dropout=value) for b in model.conv_blocks)
            model = dataclasses.replace(model, conv_blocks=blocks)
        else:
            raise ValueError(f"{name!r} cannot be searched")
    return model, TrainConfig.from_dict(train)
