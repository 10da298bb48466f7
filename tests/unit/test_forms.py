"""mnist.forms: the editors' flat fields round-trip every config and say what is wrong."""

from __future__ import annotations

import dataclasses

import pytest

from mnist.config import PRESETS, ConvBlock, ModelConfig, TrainConfig
from mnist.forms import (
    EDITOR_BLOCKS,
    model_form,
    model_from_form,
    parse_units,
    train_form,
    train_from_form,
)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips_through_its_forms(name):
    preset = PRESETS[name]
    assert model_from_form(model_form(preset.model)) == preset.model
    assert train_from_form(train_form(preset.train)) == preset.train


def test_hidden_blocks_come_back_when_the_count_grows():
    form = model_form(PRESETS["fast"].model)
    assert form["blocks"] == 2 and f"b{EDITOR_BLOCKS - 1}.filters" in form
    form["blocks"] = 1
    one = model_from_form(form)
    assert one.conv_blocks == PRESETS["fast"].model.conv_blocks[:1]
    form["blocks"] = 2  # the second block as it was, not a default one
    assert model_from_form(form) == PRESETS["fast"].model
    form["blocks"] = 3
    assert model_from_form(form).conv_blocks[2] == ConvBlock()


def test_a_bigger_model_than_the_editor_offers_keeps_all_its_blocks():
    config = ModelConfig(conv_blocks=(ConvBlock(pool="none"),) * 6)
    assert model_from_form(model_form(config)) == config


@pytest.mark.parametrize(
    ("text", "units"), [("", ()), ("128", (128,)), (" 256, 64 ", (256, 64)), ("32,", (32,))]
)
def test_parse_units(text, units):
    assert parse_units(text) == units


def test_bad_units_and_bad_fields_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"dense units must be whole numbers .* not '12a'"):
        parse_units("12a")
    form = model_form(PRESETS["codelab"].model)
    with pytest.raises(ValueError, match="dense units must be whole numbers"):
        model_from_form({**form, "dense": "12a"})
    with pytest.raises(ValueError, match="conv block 3 would shrink its 4×4 input"):
        model_from_form({**form, "blocks": 3, "b2.kernel_size": 5, "b2.padding": "valid"})


def test_train_form_keeps_every_field_valid_or_not():
    form = {**train_form(TrainConfig()), "validation_size": 0, "early_stopping": 2}
    with pytest.raises(ValueError, match="early stopping watches val_loss"):
        train_from_form(form)
    assert train_from_form({**form, "early_stopping": 0}).validation_size == 0


def test_the_training_images_slider_at_its_maximum_means_all_of_them():
    form = train_form(TrainConfig(validation_size=5_000))
    assert train_from_form({**form, "train_size": 55_000}).train_size is None
    assert train_from_form({**form, "train_size": 54_900}).train_size == 54_900
    # More validation images: a size that no longer fits is "all that are left".
    bigger = {**form, "train_size": 55_000, "validation_size": 10_000}
    assert train_from_form(bigger) == dataclasses.replace(
        TrainConfig(), train_size=None, validation_size=10_000
    )
