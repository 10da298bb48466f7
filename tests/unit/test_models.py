"""build_model and the summary derived from it, checked against hand-computed layer sizes."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

from mnist.config import PRESETS, ConvBlock, ModelConfig
from mnist.models import build_model, load_model, parameter_counts, summary_rows


def conv_params(k: int, c_in: int, c_out: int, bias: bool = True) -> int:
    return k * k * c_in * c_out + (c_out if bias else 0)


def test_codelab_model_has_the_codelabs_5994_parameters():
    model = build_model(PRESETS["codelab"].model)
    # conv 8@5×5 on 1 channel, conv 16@5×5 on 8, dense 10 on 4·4·16 features.
    expected = conv_params(5, 1, 8) + conv_params(5, 8, 16) + (4 * 4 * 16 * 10 + 10)
    assert expected == 5994
    assert model.count_params() == expected
    assert parameter_counts(model) == {"total": 5994, "trainable": 5994, "non_trainable": 0}


def test_codelab_summary_rows_follow_the_shapes():
    rows = summary_rows(build_model(PRESETS["codelab"].model))
    assert [(r.type, r.output_shape) for r in rows] == [
        ("InputLayer", "(batch, 28, 28, 1)"),
        ("Conv2D", "(batch, 24, 24, 8)"),
        ("MaxPooling2D", "(batch, 12, 12, 8)"),
        ("Conv2D", "(batch, 8, 8, 16)"),
        ("MaxPooling2D", "(batch, 4, 4, 16)"),
        ("Flatten", "(batch, 256)"),
        ("Dense", "(batch, 10)"),
    ]
    assert [r.params for r in rows] == [0, 208, 0, 3216, 0, 0, 2570]


def test_batch_norm_block_params_and_frozen_statistics():
    config = ModelConfig(
        conv_blocks=(ConvBlock(filters=4, kernel_size=3, batch_norm=True, pool="max"),),
        dense_units=(),
    )
    model = build_model(config)
    # conv without bias (BN's beta replaces it), BN: gamma, beta + moving mean, variance.
    conv = conv_params(3, 1, 4, bias=False)
    dense = 14 * 14 * 4 * 10 + 10
    counts = parameter_counts(model)
    assert counts == {
        "total": conv + 4 * 4 + dense,
        "trainable": conv + 8 + dense,
        "non_trainable": 8,
    }
    assert sum(r.params for r in summary_rows(model)) == counts["total"]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_build_and_output_probabilities(name):
    model = build_model(PRESETS[name].model)
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    probs = np.asarray(model(x, training=False))
    assert probs.shape == (3, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert sum(r.params for r in summary_rows(model)) == model.count_params()


def test_feature_sides_match_the_built_model():
    for preset in PRESETS.values():
        model = build_model(preset.model)
        after_block: dict[int, int] = {}  # block number → side of its last layer's output
        for layer in model.layers:
            found = re.fullmatch(r"[a-z]+?(\d+)(_\d+)?", layer.name)
            if found and len(layer.output.shape) == 4:
                after_block[int(found.group(1))] = layer.output.shape[1]
        sides = [after_block[b] for b in sorted(after_block)]
        assert sides == preset.model.feature_sides(), preset.name


def test_strided_valid_global_avg_head():
    config = ModelConfig(
        conv_blocks=(ConvBlock(filters=6, kernel_size=4, stride=2, padding="valid", pool="none"),),
        head="global_avg",
        dense_units=(16, 8),
        dense_dropout=0.5,
    )
    model = build_model(config)
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert shapes["conv1"] == ((28 - 4) // 2 + 1,) * 2 + (6,)
    assert shapes["global_avg"] == (6,)
    assert [layer.name for layer in model.layers][-2:] == ["output_dropout", "probabilities"]
    assert model.count_params() == conv_params(4, 1, 6) + (6 * 16 + 16) + (16 * 8 + 8) + 90


def test_the_built_model_is_not_compiled():
    """The optimiser belongs to training (keras-io's make_model style)."""
    assert not build_model(PRESETS["fast"].model).compiled


def test_saved_model_loads_safely_with_the_same_outputs(tmp_path):
    model = build_model(PRESETS["fast"].model)
    path = tmp_path / "m.keras"
    model.save(path)
    again = load_model(path)
    x = np.random.default_rng(1).random((2, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(
        np.asarray(again(x, training=False)), np.asarray(model(x, training=False)), atol=1e-6
    )


def test_load_model_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        load_model(tmp_path / "missing.keras")
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="not a readable Keras model"):
        load_model(junk)


def test_a_model_for_other_inputs_is_refused_with_one_sentence(tmp_path):
    other = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(5)]
    )
    path = tmp_path / "cifar.keras"
    other.save(path)
    with pytest.raises(ValueError) as excinfo:
        load_model(path)
    message = str(excinfo.value)
    assert message == (
        f"{path}: this model takes 32×32×3 images and gives 5 outputs; this app needs 28×28×1 "
        "images in and 10 probabilities out"
    )
    assert "\x1b[" not in message and "\n" not in message  # no colours, one line


def test_a_damaged_file_says_so_without_kerass_own_message(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError) as excinfo:
        load_model(junk)
    assert str(excinfo.value) == f"{junk}: not a readable Keras model file"


def test_mixed_bfloat16_computes_in_bfloat16_with_float32_weights_and_probabilities(tmp_path):
    model = build_model(PRESETS["fast"].model, precision="mixed_bfloat16")
    conv = model.get_layer("conv1")
    assert conv.dtype_policy.name == "mixed_bfloat16"
    assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"
    assert model.get_layer("probabilities").dtype_policy.name == "float32"
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    probs = model.predict_on_batch(x)
    assert probs.dtype == np.float32 and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # the same numbers after a save and a load (the policy travels with the file)
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    assert again.get_layer("conv1").dtype_policy.name == "mixed_bfloat16"
    np.testing.assert_allclose(again.predict_on_batch(x), probs, rtol=1e-6)
    # float32 builds are unchanged: same parameters, float32 throughout
    plain = build_model(PRESETS["fast"].model)
    assert plain.get_layer("conv1").compute_dtype == "float32"
    assert plain.count_params() == model.count_params()
