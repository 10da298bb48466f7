"""Models out (each format checked in its own runtime) and in (imports become runs)."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from mnist import DEFAULT_MODEL, runs
from mnist.data import load, to_model_input

pytest.importorskip("keras")


@pytest.fixture(scope="module")
def images_and_reference():
    from mnist.models import load_model

    x = to_model_input(load().test_images[:1000])
    return x, np.asarray(load_model(DEFAULT_MODEL).predict_on_batch(x), np.float32)


def _in_its_runtime(fmt: str, path, x):
    """The export's probabilities, computed here without mnist.export's own loader."""
    if fmt == "keras":
        import keras

        return keras.saving.load_model(path, compile=False).predict_on_batch(x)
    if fmt == "saved_model":
        import tensorflow as tf

        return (
            tf.saved_model.load(str(path))
            .signatures["serving_default"](tf.constant(x))["output_0"]
            .numpy()
        )
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    entry = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(entry["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(entry["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("keras", "m.keras"), ("saved_model", "m_saved"), ("onnx", "m.onnx"), ("litert", "m.tflite")],
)
def test_each_export_matches_keras_in_its_own_runtime(fmt, name, tmp_path, images_and_reference):
    from mnist import export

    x, reference = images_and_reference
    done = export.export_model(DEFAULT_MODEL, fmt, tmp_path / name)
    assert done.path == tmp_path / name and done.path.exists()
    assert 0 <= done.max_difference <= export.TOLERANCE
    probs = np.asarray(_in_its_runtime(fmt, done.path, x), np.float32)
    assert probs.shape == (1000, 10)
    assert np.abs(probs - reference).max() <= 1e-5
    card = done.card.read_text()
    assert "Test accuracy**: 99.72%" in card and "| 9 |" in card and f"**Format**: {fmt}" in card
    folder = fmt == "saved_model"
    twin_path = done.path / "model_card.json" if folder else done.path.with_suffix(".card.json")
    twin = json.loads(twin_path.read_text())
    assert twin["export"]["max_probability_difference"] == done.max_difference
    assert set(twin["per_class_accuracy"]) == {str(d) for d in range(10)}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing half-made


def test_augmentation_never_ends_up_in_an_export(tmp_path):
    import keras

    from mnist import export

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.RandomRotation(0.3),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    source = tmp_path / "augmenting.keras"
    model.save(source)
    done = export.export_model(source, "saved_model", tmp_path / "sm")
    import tensorflow as tf

    loaded = tf.saved_model.load(str(done.path))  # kept: its variables live as long as it
    x = to_model_input(load().test_images[:64])
    first, second = loaded.serve(tf.constant(x)).numpy(), loaded.serve(tf.constant(x)).numpy()
    assert np.array_equal(first, second)  # no random rotation at inference
    assert np.allclose(first, model.predict_on_batch(x), atol=1e-5)
    kept = export.without_augmentation(keras.saving.load_model(source))
    assert [type(layer).__name__ for layer in kept.layers] == ["InputLayer", "Flatten", "Dense"]


def test_a_failed_check_leaves_nothing_behind(tmp_path, monkeypatch):
    from mnist import export

    monkeypatch.setattr(export, "run_export", lambda path, fmt, x: np.full((len(x), 10), 0.1))
    with pytest.raises(export.ExportError, match="differ from Keras's"):
        export.export_model(DEFAULT_MODEL, "onnx", tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(export.ExportError, match="ending in .tflite"):
        export.export_model(DEFAULT_MODEL, "litert", tmp_path / "m.onnx")


def test_an_imported_model_is_a_run_like_any_other(runs_dir, tmp_path):
    from mnist import export
    from mnist.models import load_model

    run_dir = export.import_model(DEFAULT_MODEL, command="test")
    run = runs.load_run(run_dir)
    assert run.state == runs.DONE and run.config.kind == "import"
    assert run.config.model is None and run.config.train is None
    assert run.config.imported["source"] == "default.keras"
    assert run.status.test_accuracy == pytest.approx(0.9972)
    evaluation, probs = run.stored_scores()
    assert probs.shape == (10000, 10) and evaluation.accuracy == run.status.test_accuracy
    assert load_model(run.model_path).count_params() == 326442
    assert runs.list_runs()[0][0].run_id == run.run_id
    row = runs.history_row(run)
    assert row["preset"] == "imported" and row["epochs"] is None
    with pytest.raises(export.ExportError, match=f"already imported, as run {run.run_id}"):
        export.import_model(DEFAULT_MODEL)
    card = export.model_card(run.model_path, run)
    assert card["how_it_was_made"] == "imported from default.keras"
    assert card["training_data"] == "unknown: imported from elsewhere"


def _keras_bytes(model) -> bytes:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "m.keras"
        model.save(path)
        return path.read_bytes()


def _other_images():
    import keras

    return keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(5)]
    )


def _custom_code():
    import keras

    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Lambda(lambda t: t * 2), keras.layers.Flatten(),
         keras.layers.Dense(10, activation="softmax")]
    )  # fmt: skip


def _bomb() -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("model.weights.h5", "w", force_zip64=True) as member,
    ):
        for _ in range(70):
            member.write(b"\0" * (1 << 24))
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: _keras_bytes(_other_images()),
            "this model takes 32×32×3 images and gives 5 outputs",
        ),
        (lambda: b"hello", "is not a Keras 3 model file"),
        (lambda: _keras_bytes(_custom_code()), "this app can load safely"),
        (_bomb, "would unpack to 1.1 GB; refused"),
    ],
    ids=["other-shape", "not-keras", "custom-code", "bomb"],
)
def test_an_import_that_cannot_be_used_gets_one_sentence(runs_dir, make, message):
    from mnist import export

    with pytest.raises(export.ExportError) as excinfo:
        export.import_model(make(), name="upload.keras")
    text = str(excinfo.value)
    assert message in text and "\n" not in text and text.startswith("upload.keras")
    assert not runs_dir.exists() or not list(runs_dir.iterdir())
