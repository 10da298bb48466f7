"""mnist.config: validation messages, feature-map sides, dict/JSON round trips, presets.

Feature-map sides are checked against numbers worked out by hand and against Keras' own
``compute_output_shape`` for the layers ``build_model`` uses, not against ``output_side`` itself.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from mnist.config import (
    ACTIVATIONS,
    OPTIMIZERS,
    PRESETS,
    ConvBlock,
    ModelConfig,
    Preset,
    TrainConfig,
    migrate_optimizer_fields,
)

# ---------------------------------------------------------------------------------------------
# ConvBlock validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filters": 0}, r"filters must be a whole number from 1 to 1024; got 0"),
        ({"filters": 1025}, r"filters must be a whole number from 1 to 1024; got 1025"),
        ({"filters": 8.0}, r"filters must be a whole number .*got 8\.0"),
        ({"filters": True}, r"filters must be a whole number .*got True"),
        ({"kernel_size": 0}, r"kernel size must be a whole number from 1 to 28; got 0"),
        ({"kernel_size": 29}, r"kernel size must be a whole number from 1 to 28; got 29"),
        ({"kernel_size": False}, r"kernel size must be a whole number .*got False"),
        ({"stride": 0}, r"stride must be a whole number from 1 to 28; got 0"),
        ({"convs": 0}, r"convolutions per block must be a whole number from 1 to 8; got 0"),
        ({"convs": 9}, r"convolutions per block must be a whole number from 1 to 8; got 9"),
        ({"activation": "softmaxx"}, r"activation must be one of relu, .*; got 'softmaxx'"),
        ({"activation": "ReLU"}, r"activation must be one of .*; got 'ReLU'"),
        ({"padding": "full"}, r"padding must be one of same, valid; got 'full'"),
        ({"pool": "min"}, r"pooling must be one of max, avg, none; got 'min'"),
        ({"dropout": 1.0}, r"block dropout must be at least 0 and below 1; got 1\.0"),
        ({"dropout": -0.1}, r"block dropout must be at least 0 and below 1; got -0\.1"),
        ({"dropout": float("nan")}, r"block dropout must be at least 0 and below 1; got nan"),
    ],
)
def test_conv_block_rejects_bad_values_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvBlock(**kwargs)


def test_conv_block_accepts_every_listed_activation_and_the_edges_of_each_range():
    for activation in ACTIVATIONS:
        assert ConvBlock(activation=activation).activation == activation
    block = ConvBlock(filters=1, kernel_size=28, stride=28, convs=8, dropout=0.0)
    assert (block.filters, block.kernel_size, block.stride, block.convs) == (1, 28, 28, 8)
    assert ConvBlock(filters=1024, dropout=0.999).dropout == 0.999


def test_configs_are_frozen_and_hashable():
    block = ConvBlock()
    with pytest.raises(dataclasses.FrozenInstanceError):
        block.filters = 64
    with pytest.raises(dataclasses.FrozenInstanceError):
        ModelConfig().head = "global_avg"
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().epochs = 3
    # Lists (from JSON or a form) become tuples, so equal configs hash equally.
    a = ModelConfig(conv_blocks=[{"filters": 8}, {"filters": 16}], dense_units=[64, 32])
    b = ModelConfig(conv_blocks=(ConvBlock(filters=8), ConvBlock(filters=16)), dense_units=(64, 32))
    assert a.conv_blocks == (ConvBlock(filters=8), ConvBlock(filters=16))
    assert a.dense_units == (64, 32)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, ModelConfig()}) == 2


# ---------------------------------------------------------------------------------------------
# ModelConfig validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"conv_blocks": ()}, r"number of conv blocks must be a whole number from 1 to 8; got 0"),
        (
            {"conv_blocks": (ConvBlock(pool="none"),) * 9},
            r"number of conv blocks must be a whole number from 1 to 8; got 9",
        ),
        ({"head": "max"}, r"head must be one of flatten, global_avg; got 'max'"),
        ({"dense_units": (0,)}, r"dense units must be a whole number from 1 to 4096; got 0"),
        ({"dense_units": (4097,)}, r"dense units must be a whole number from 1 to 4096; got 4097"),
        ({"dense_units": (True,)}, r"dense units must be a whole number .*got True"),
        ({"dense_units": (8,) * 5}, r"at most 4 hidden dense layers"),
        ({"dense_dropout": 1.0}, r"dense dropout must be at least 0 and below 1; got 1\.0"),
        ({"initializer": "zeros"}, r"initializer must be one of he_normal, .*; got 'zeros'"),
    ],
)
def test_model_config_rejects_bad_values_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)


def test_model_config_rejects_a_bad_block_given_as_a_dict():
    with pytest.raises(ValueError, match=r"filters must be a whole number .*got 0"):
        ModelConfig(conv_blocks=[{"filters": 0}])


def test_feature_map_shrinking_below_one_pixel_names_the_block():
    # Worked by hand: 28 -conv5 valid-> 24 -pool-> 12 -conv5 valid-> 8 -pool-> 4; a 5×5 valid
    # kernel cannot fit in the 4×4 map, so block 3 is the one that fails.
    five = (ConvBlock(filters=8, kernel_size=5, padding="valid", pool="max"),) * 5
    with pytest.raises(ValueError) as excinfo:
        ModelConfig(conv_blocks=five)
    message = str(excinfo.value)
    assert "conv block 3" in message
    assert "4×4" in message
    assert "below 1×1" in message
    # Two of those blocks are fine (the codelab model).
    assert ModelConfig(conv_blocks=five[:2]).feature_sides() == [12, 4]


def test_same_padding_with_pooling_fails_only_at_the_fifth_block():
    # 28 → 14 → 7 → 3 → 1 → 0: halving (floor) each time; the fifth block reaches 0.
    assert ModelConfig(conv_blocks=(ConvBlock(),) * 4).feature_sides() == [14, 7, 3, 1]
    with pytest.raises(ValueError, match=r"conv block 5 would shrink its 1×1 input below 1×1"):
        ModelConfig(conv_blocks=(ConvBlock(),) * 5)


# ---------------------------------------------------------------------------------------------
# Feature-map sides


def test_codelab_feature_sides():
    assert PRESETS["codelab"].model.feature_sides() == [12, 4]


def _side_reference(side: int, block: ConvBlock) -> int:
    """Keras' documented output sizes: valid ⌊(n−k)/s⌋+1, same ⌈n/s⌉, 2×2/2 pooling ⌊n/2⌋."""
    for _ in range(block.convs):
        if block.padding == "valid" and side < block.kernel_size:
            side = 0
        elif block.padding == "valid":
            side = (side - block.kernel_size) // block.stride + 1
        else:
            side = math.ceil(side / block.stride)
    return side // 2 if block.pool != "none" else side


# (block, input side, output side worked out by hand)
SIDE_CASES = [
    (ConvBlock(kernel_size=3), 28, 14),  # same: 28, pool: 14
    (ConvBlock(kernel_size=5, padding="valid"), 28, 12),  # 24, pool 12
    (ConvBlock(kernel_size=3, stride=2, pool="none"), 28, 14),  # ceil(28/2)
    (ConvBlock(kernel_size=3, stride=2, padding="valid", pool="none"), 28, 13),  # 25//2+1
    (ConvBlock(kernel_size=4, stride=3, padding="valid", pool="avg"), 28, 4),  # 24//3+1=9 → 4
    (ConvBlock(kernel_size=3, convs=2, padding="valid"), 28, 12),  # 26, 24, pool 12
    (ConvBlock(kernel_size=3, stride=2, convs=2), 28, 3),  # 14, 7, pool 3
    (ConvBlock(kernel_size=3, stride=2, pool="none"), 7, 4),  # ceil(7/2)
    (ConvBlock(kernel_size=5, padding="valid", pool="none"), 4, 0),  # kernel larger than map
    (ConvBlock(kernel_size=1, pool="max"), 1, 0),  # pooling a 1×1 map
]


@pytest.mark.parametrize(("block", "side", "expected"), SIDE_CASES)
def test_output_side_matches_hand_computed_sides(block, side, expected):
    assert _side_reference(side, block) == expected
    assert block.output_side(side) == expected


@pytest.mark.parametrize(("block", "side", "expected"), [c for c in SIDE_CASES if c[2] > 0])
def test_output_side_matches_keras_layers(block, side, expected):
    from keras import layers

    shape = (None, side, side, 1)
    for _ in range(block.convs):
        conv = layers.Conv2D(2, block.kernel_size, strides=block.stride, padding=block.padding)
        shape = conv.compute_output_shape(shape)
    if block.pool == "max":
        shape = layers.MaxPooling2D(2, strides=2).compute_output_shape(shape)
    elif block.pool == "avg":
        shape = layers.AveragePooling2D(2, strides=2).compute_output_shape(shape)
    assert shape[1] == shape[2] == expected
    assert block.output_side(side) == expected


def test_feature_sides_chain_the_blocks():
    config = ModelConfig(
        conv_blocks=(
            ConvBlock(kernel_size=3, padding="valid", pool="none"),  # 28 → 26
            ConvBlock(kernel_size=3, stride=2),  # 26 → 13 → 6
            ConvBlock(kernel_size=3, convs=2, padding="valid", pool="avg"),  # 6 → 4 → 2 → 1
        )
    )
    assert config.feature_sides() == [26, 6, 1]


# ---------------------------------------------------------------------------------------------
# TrainConfig validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, r"epochs must be a whole number from 1 to 500; got 0"),
        ({"epochs": -3}, r"epochs must be a whole number from 1 to 500; got -3"),
        ({"epochs": 501}, r"epochs must be a whole number from 1 to 500; got 501"),
        ({"epochs": 5.0}, r"epochs must be a whole number .*got 5\.0"),
        ({"epochs": True}, r"epochs must be a whole number .*got True"),
        ({"batch_size": 0}, r"batch size must be a whole number from 1 to 8192; got 0"),
        ({"validation_size": -1}, r"validation size must be a whole number from 0 to 30000"),
        ({"validation_size": 30_001}, r"validation size must be a whole number from 0 to 30000"),
        ({"train_size": 9}, r"train size must be a whole number from 10 to 55000; got 9"),
        ({"train_size": 55_001}, r"train size must be a whole number from 10 to 55000; got 55001"),
        (
            {"train_size": 59_500, "validation_size": 1_000},
            r"train size must be a whole number from 10 to 59000; got 59500",
        ),
        ({"seed": -1}, r"seed must be a whole number from 0 to 2147483647; got -1"),
        ({"early_stopping": -1}, r"early-stopping patience must be a whole number from 0 to 500"),
        ({"early_stopping": 3, "validation_size": 0}, r"early stopping .*validation size above 0"),
        ({"learning_rate": 0.0}, r"learning rate must be above 0 and at most 10; got 0\.0"),
        ({"learning_rate": -0.1}, r"learning rate must be above 0 and at most 10; got -0\.1"),
        ({"learning_rate": 10.5}, r"learning rate must be above 0 and at most 10; got 10\.5"),
        ({"learning_rate": "0.01"}, r"learning rate must be above 0 and at most 10; got '0\.01'"),
        ({"learning_rate": None}, r"learning rate must be above 0 and at most 10; got None"),
        ({"optimizer": "adagrad"}, r"optimizer must be one of adam, adamw, sgd, rmsprop"),
        ({"optimizer": None}, r"optimizer must be one of adam, adamw, sgd, rmsprop"),
        ({"lr_schedule": "step"}, r"learning-rate schedule must be one of constant, cosine"),
        ({"precision": "float16"}, r"precision must be one of auto, float32, mixed_bfloat16"),
    ],
)
def test_train_config_rejects_bad_values_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_train_config_accepts_the_edges():
    assert TrainConfig(train_size=55_000).train_size == 55_000  # exactly what is left
    assert TrainConfig(train_size=60_000, validation_size=0).train_size == 60_000
    assert TrainConfig(validation_size=0).early_stopping == 0
    assert TrainConfig(early_stopping=2, validation_size=1).early_stopping == 2
    for optimizer in OPTIMIZERS:
        assert TrainConfig(optimizer=optimizer).optimizer == optimizer


# ---------------------------------------------------------------------------------------------
# The optimiser moved from the model config to the training config (config.json format 2)


def test_format_1_optimizer_fields_move_to_the_training_config():
    old_model = {**ModelConfig().to_dict(), "optimizer": "sgd", "learning_rate": 0.05}
    old_model["lr_schedule"] = "cosine"
    # Format 1: None in the training config meant "the model's".
    model, train = migrate_optimizer_fields(old_model, {"epochs": 2, "optimizer": None})
    assert ModelConfig.from_dict(model) == ModelConfig()
    assert TrainConfig.from_dict(train) == TrainConfig(
        epochs=2, optimizer="sgd", learning_rate=0.05, lr_schedule="cosine"
    )
    # A training override won over the model's value.
    _, train = migrate_optimizer_fields(old_model, {"learning_rate": 0.3, "optimizer": "adam"})
    assert (train["optimizer"], train["learning_rate"]) == ("adam", 0.3)
    # Today's dicts pass through unchanged.
    today = (ModelConfig().to_dict(), TrainConfig(learning_rate=0.01).to_dict())
    assert migrate_optimizer_fields(*today) == today


# ---------------------------------------------------------------------------------------------
# to_dict / from_dict


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_configs_round_trip_through_dicts_and_json(name):
    preset = PRESETS[name]
    for config in (preset.model, preset.train):
        cls = type(config)
        assert cls.from_dict(config.to_dict()) == config
        via_json = json.loads(json.dumps(config.to_dict()))
        assert cls.from_dict(via_json) == config


def test_model_config_to_dict_is_plain_data():
    data = PRESETS["codelab"].model.to_dict()
    assert data["conv_blocks"][0] == {
        "filters": 8,
        "kernel_size": 5,
        "stride": 1,
        "convs": 1,
        "activation": "relu",
        "batch_norm": False,
        "padding": "valid",
        "pool": "max",
        "dropout": 0.0,
    }
    assert data["dense_units"] == ()
    assert data["initializer"] == "variance_scaling"
    # JSON turns tuples into lists; from_dict turns them back.
    restored = ModelConfig.from_dict(json.loads(json.dumps(data)))
    assert isinstance(restored.conv_blocks, tuple)
    assert all(isinstance(b, ConvBlock) for b in restored.conv_blocks)
    assert isinstance(restored.dense_units, tuple)


def test_train_config_round_trip_with_every_field_set():
    config = TrainConfig(
        epochs=7,
        batch_size=64,
        learning_rate=0.01,
        optimizer="sgd",
        train_size=1_000,
        validation_size=500,
        seed=42,
        augment=True,
        early_stopping=2,
    )
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize("cls", [ModelConfig, TrainConfig])
def test_from_dict_rejects_unknown_fields(cls):
    data = cls().to_dict()
    data["bogus"] = 1
    data["another"] = 2
    with pytest.raises(ValueError, match=rf"unknown {cls.__name__} field\(s\): another, bogus"):
        cls.from_dict(data)


def test_from_dict_fills_missing_fields_with_defaults():
    assert TrainConfig.from_dict({"epochs": 3}) == TrainConfig(epochs=3)
    assert ModelConfig.from_dict({"head": "global_avg"}) == ModelConfig(head="global_avg")


def test_from_dict_validates_values():
    with pytest.raises(ValueError, match=r"epochs must be a whole number"):
        TrainConfig.from_dict({"epochs": 0})


# ---------------------------------------------------------------------------------------------
# Presets


def test_presets_are_the_three_named_presets():
    assert set(PRESETS) == {"codelab", "fast", "best"}
    for key, preset in PRESETS.items():
        assert isinstance(preset, Preset)
        assert preset.name == key
        assert isinstance(preset.model, ModelConfig)
        assert isinstance(preset.train, TrainConfig)
        assert preset.title and preset.description


def test_codelab_preset_matches_the_codelab():
    preset = PRESETS["codelab"]
    train = preset.train
    assert (train.epochs, train.batch_size) == (10, 512)
    assert (train.train_size, train.validation_size) == (5_500, 1_000)
    model = preset.model
    assert [(b.filters, b.kernel_size, b.padding, b.pool) for b in model.conv_blocks] == [
        (8, 5, "valid", "max"),
        (16, 5, "valid", "max"),
    ]
    assert model.dense_units == ()
    assert (train.optimizer, train.learning_rate, train.lr_schedule) == ("adam", 1e-3, "constant")
    # The codelab's 5,994 parameters, counted by hand from the sides:
    # conv 5·5·1·8+8 = 208, conv 5·5·8·16+16 = 3,216, dense (4·4·16)·10+10 = 2,570.
    side = model.feature_sides()[-1]
    flat = side * side * model.conv_blocks[-1].filters
    assert 208 + 3_216 + (flat * 10 + 10) == 5_994


@pytest.mark.parametrize(
    "make",
    [
        lambda: ConvBlock(dropout="0.5"),
        lambda: ConvBlock(batch_norm="no"),
        lambda: ModelConfig(dense_dropout="x"),
        lambda: TrainConfig(learning_rate=True),
        lambda: ModelConfig.from_dict({"conv_blocks": [{"filterz": 8}]}),
        lambda: ModelConfig.from_dict({"conv_blocks": [3]}),
        lambda: TrainConfig(learning_rate="0.1"),
        lambda: TrainConfig(augment="yes"),
    ],
)
def test_wrong_types_are_value_errors_too(make):
    with pytest.raises(ValueError):
        make()


def test_train_config_describes_itself_for_people():
    assert PRESETS["codelab"].train.describe() == (
        "5,500 training + 1,000 validation images · 10 epochs of batch 512 · "
        "adam, learning rate 0.001 · no augmentation · seed 0"
    )
    best = PRESETS["best"].train.describe()
    assert best.startswith("55,000 training + 5,000 validation images")
    assert "cosine decay" in best and "augmented" in best
    patient = TrainConfig(epochs=1, early_stopping=3).describe()
    assert "1 epoch of batch" in patient and "early stopping (patience 3)" in patient


def test_the_codelab_reference_line_is_the_measured_figure():
    """The figure on the charts is the one models/README.md's measured table gives."""
    import re
    from pathlib import Path

    from mnist.config import REFERENCES

    table = (Path(__file__).resolve().parents[2] / "models" / "README.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| `codelab` |"))
    measured = float(re.findall(r"\| ([\d.]+)% \|", row)[0]) / 100
    (codelab,) = [r for r in REFERENCES if r.name == "codelab model"]
    assert codelab.value == pytest.approx(measured, abs=5e-5)
    assert codelab.label == f"codelab model {measured * 100:.2f}%"  # English, as i18n writes it
