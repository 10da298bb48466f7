"""The dashboard's editors as flat forms: one field per widget, to and from the typed configs.

A page keeps a form's fields (its *draft*) in session state and shows exactly them, valid or
not; the config is built from the draft, so a run starts with what the screen shows or not
at all. No Streamlit here: these are plain dicts and the configs' own validation.
"""

from __future__ import annotations

import dataclasses

from mnist import TRAIN_IMAGES
from mnist.config import ConvBlock, ModelConfig, TrainConfig
from mnist.i18n import _

EDITOR_BLOCKS = 4  # conv blocks the Model page's editor offers
BLOCK_FIELDS = tuple(f.name for f in dataclasses.fields(ConvBlock))


def parse_units(text: str) -> tuple[int, ...]:
    """``"256, 64"`` → ``(256, 64)``; an empty text is no hidden dense layer."""
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(
            _(
                "dense units must be whole numbers separated by commas, like 128 or 256, 64; "
                "not {text!r}"
            ).format(text=text)
        ) from None


def model_form(config: ModelConfig) -> dict:
    """The Model page's fields for ``config``; blocks past its own are defaults, kept hidden."""
    blocks = list(config.conv_blocks)
    blocks += [ConvBlock()] * max(0, EDITOR_BLOCKS - len(blocks))
    form = {
        "blocks": len(config.conv_blocks),
        "head": config.head,
        "dense": ", ".join(map(str, config.dense_units)),
        "dense_dropout": config.dense_dropout,
        "initializer": config.initializer,
    }
    for i, block in enumerate(blocks):
        for name in BLOCK_FIELDS:
            form[f"b{i}.{name}"] = getattr(block, name)
    return form


def model_from_form(form: dict) -> ModelConfig:
    """The ``ModelConfig`` the fields describe; ``ValueError`` says what is wrong."""
    blocks = tuple(
        ConvBlock(**{name: form[f"b{i}.{name}"] for name in BLOCK_FIELDS})
        for i in range(form["blocks"])
    )
    return ModelConfig(
        conv_blocks=blocks,
        head=form["head"],
        dense_units=parse_units(form["dense"]),
        dense_dropout=form["dense_dropout"],
        initializer=form["initializer"],
    )


def train_form(config: TrainConfig) -> dict:
    """The Training page's fields for ``config`` (``train_size`` None: every image left)."""
    return dataclasses.asdict(config)


def all_train_images(validation_size: int) -> int:
    """Training images left once ``validation_size`` are held out."""
    return TRAIN_IMAGES - validation_size


def train_from_form(form: dict) -> TrainConfig:
    """The ``TrainConfig`` the fields describe; ``ValueError`` says what is wrong."""
    values = dict(form)
    size = values.get("train_size")
    if size is not None and size >= all_train_images(values["validation_size"]):
        values["train_size"] = None  # the slider's maximum: all of them
    return TrainConfig.from_dict(values)
