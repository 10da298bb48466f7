"""Models in and out: export a run's model to other runtimes, checked; import a ``.keras`` file.

Export uses Keras 3's own ``model.export`` (SavedModel; ONNX through tf2onnx; LiteRT) or a
``.keras`` file without optimizer state. Every export is **checked** by loading it in its own
runtime (TensorFlow for SavedModel, ``onnxruntime``, the LiteRT interpreter, Keras) and
comparing its probabilities for 1,000 test images with the Keras model's; an export that
differs by more than ``TOLERANCE`` is not written. Each carries a model card (Markdown and
JSON): architecture, parameters, training data and settings, test and per-class accuracy, the
input it expects, and the parity measured.

An import is loaded in Keras's safe mode, checked for 28×28×1 in and 10 out, scored on the
10,000 test images and becomes a run folder like any other (``config.json`` with an
``imported`` section; the importer is the run's only writer of ``status.json``).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist import DEFAULT_MODEL, INPUT_SHAPE, __version__, i18n, runs
from mnist import data as mnist_data
from mnist._tf import keras, tf
from mnist.evaluation import evaluate_predictions, predict_probabilities
from mnist.i18n import N_, _
from mnist.models import (
    check_input_output,
    load_model,
    parameter_counts,
    save_model_atomic,
    summary_rows,
)
from mnist.records import DONE, RunStatus

# name → (what it is, file suffix; "" for a folder). What it is goes into the model card in
# English; the dashboard shows it translated: _(FORMATS[fmt][0]).
FORMATS = {
    "keras": (N_("Keras 3 model file, without optimizer state"), ".keras"),
    "saved_model": (N_("TensorFlow SavedModel (TF Serving, TF.js converter)"), ""),
    "onnx": (N_("ONNX, converted by tf2onnx (onnxruntime and others)"), ".onnx"),
    "litert": (N_("LiteRT (formerly TensorFlow Lite) flatbuffer"), ".tflite"),
}
TOLERANCE = 1e-5  # largest difference allowed between the export's and Keras's probabilities
PARITY_IMAGES = 1_000  # the first test images
CARD_FORMAT = 1
MAX_IMPORT_BYTES = 200 * 1024 * 1024  # a .keras file to import
MAX_IMPORT_UNPACKED = 1024 * 1024 * 1024  # what its archive may inflate to


class ExportError(ValueError):
    """An export or import that cannot be done, in one sentence for the person (in the
    dashboard's language where the dashboard can meet it; the CLI's are English)."""


# -- export --------------------------------------------------------------------------------
_AUGMENTING = (
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
    "RandomBrightness", "RandomCrop", "RandomErasing", "RandomGaussianBlur", "RandAugment",
    "AugMix", "RandomGrayscale", "RandomHue", "RandomSaturation", "RandomSharpness",
    "RandomShear", "RandomPerspective", "RandomColorJitter", "RandomElasticTransform",
    "RandomInvert", "RandomPosterization", "Solarization", "GaussianNoise", "GaussianDropout",
)  # fmt: skip


def without_augmentation(model: keras.Model) -> keras.Model:
    """``model`` with its random augmentation layers left out (they are identities at
    inference in Keras, but not in every exported graph). A model whose augmentation layers
    are not in a plain chain of layers cannot be rebuilt: ``ExportError``."""
    found = [layer for layer in model.layers if type(layer).__name__ in _AUGMENTING]
    if not found:
        return model
    if not _is_chain(model):
        raise ExportError(
            _(
                "the model has augmentation layers ({layers}) inside a graph that is not a chain "
                "of layers; export it without them"
            ).format(layers=", ".join(layer.name for layer in found))
        )
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = inputs
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer) or type(layer).__name__ in _AUGMENTING:
            continue
        x = layer(x)
    return keras.Model(inputs, x, name=model.name)


def _is_chain(model: keras.Model) -> bool:
    """Whether each layer takes the output of the one before it (and nothing else)."""
    if isinstance(model, keras.Sequential):
        return True
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    try:
        previous = model.inputs[0]
        for layer in layers:
            if len(model.inputs) != 1 or layer.input is not previous:
                return False
            previous = layer.output
    except (AttributeError, ValueError):  # a layer used more than once has no single input
        return False
    return True


def _write(model: keras.Model, fmt: str, dest: Path) -> None:
    if fmt == "keras":
        model.save(dest)
        return
    keras_format = {"saved_model": "tf_saved_model", "onnx": "onnx", "litert": "litert"}[fmt]
    try:
        with warnings.catch_warnings():  # tf2onnx's own FutureWarning about np.object
            warnings.simplefilter("ignore", FutureWarning)
            model.export(str(dest), format=keras_format, verbose=False)
    except ImportError as exc:
        raise ExportError(
            _("the {format} export needs a package that is not installed ({error})").format(
                format=fmt, error=exc
            )
        ) from None


def run_export(path: Path, fmt: str, x: np.ndarray) -> np.ndarray:
    """The probabilities an exported model gives for ``x`` (N, 28, 28, 1), in its own runtime."""
    if fmt == "keras":
        return np.asarray(load_model(path).predict_on_batch(x), np.float32)
    if fmt == "saved_model":
        loaded = tf.saved_model.load(str(path))
        return np.asarray(loaded.serve(tf.constant(x)), np.float32)
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return np.asarray(session.run(None, {name: x})[0], np.float32)
    if fmt == "litert":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path))
        entry = interpreter.get_input_details()[0]
        interpreter.resize_tensor_input(entry["index"], list(x.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(entry["index"], x)
        interpreter.invoke()
        return np.asarray(
            interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), np.float32
        )
    raise ExportError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


@dataclass(frozen=True)
class Exported:
    path: Path  # the model file or folder
    card: Path  # the model card (Markdown); its JSON twin is beside it
    max_difference: float  # largest probability difference from Keras on PARITY_IMAGES


def _card_paths(dest: Path, fmt: str) -> tuple[Path, Path]:
    if FORMATS[fmt][1] == "":  # a folder: the card goes inside
        return dest / "MODEL_CARD.md", dest / "model_card.json"
    return dest.with_suffix(".md"), dest.with_suffix(".card.json")


def export_model(
    model_path: Path, fmt: str, dest: str | os.PathLike, card: dict | None = None
) -> Exported:
    """Write ``model_path``'s model to ``dest`` in ``fmt``, checked against Keras, with its
    model card; nothing is left at ``dest`` if any step fails."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    dest = Path(dest).expanduser().absolute()
    suffix = FORMATS[fmt][1]
    if suffix and dest.suffix != suffix:
        raise ExportError(f"{dest.name}: a {fmt} export is a file ending in {suffix}")
    if dest.exists() and (dest.is_dir() != (suffix == "")):
        kind = "folder" if dest.is_dir() else "file"
        raise ExportError(f"{dest} is a {kind}; choose another name")
    model = without_augmentation(load_model(model_path))
    x = mnist_data.to_model_input(mnist_data.load().test_images[:PARITY_IMAGES])
    reference = np.asarray(model.predict_on_batch(x), np.float32)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.") as work:
        staged = Path(work) / f"model{suffix}"
        _write(model, fmt, staged)
        difference = float(np.abs(run_export(staged, fmt, x) - reference).max())
        if not difference <= TOLERANCE:
            raise ExportError(
                _(
                    "the {format} export's probabilities differ from Keras's by {difference} "
                    "(more than {tolerance}) on {n} test images; not written"
                ).format(
                    format=fmt,
                    difference=f"{difference:.2g}",
                    tolerance=f"{TOLERANCE:g}",
                    n=i18n.number(PARITY_IMAGES),
                )
            )
        card = dict(card or model_card(model_path))
        card["export"] = {
            "format": fmt,
            "what": FORMATS[fmt][0],
            "max_probability_difference": difference,
            "checked_on": f"the first {PARITY_IMAGES:,} MNIST test images",
            "tolerance": TOLERANCE,
        }
        if suffix == "":
            _write_card(card, *_card_paths(staged, fmt))
        if dest.is_dir():
            shutil.rmtree(dest)
        os.replace(staged, dest)
        if suffix:
            md, js = _card_paths(dest, fmt)
            _write_card(card, md, js)
    md, _json = _card_paths(dest, fmt)
    return Exported(dest, md, difference)


def export_archive(model_path: Path, fmt: str, card: dict | None = None) -> tuple[bytes, float]:
    """A zip with the export and its model card (what the dashboard offers to download),
    and the parity measured."""
    with tempfile.TemporaryDirectory(prefix="mnist-export-") as work:
        name = f"model{FORMATS[fmt][1]}" if FORMATS[fmt][1] else "saved_model"
        done = export_model(model_path, fmt, Path(work) / name, card)
        md, js = _card_paths(done.path, fmt)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(Path(work).rglob("*")):
                if file.is_file() and file not in (md, js):
                    zf.write(file, file.relative_to(work).as_posix())
            zf.write(md, "MODEL_CARD.md")  # the same two names whatever the format
            zf.write(js, "model_card.json")
        return out.getvalue(), done.max_difference


# -- model cards ---------------------------------------------------------------------------
def model_card(model_path: Path, run: runs.Run | None = None) -> dict:
    """What a model is, how it was made and how well it does, as JSON-ready data. In English
    whatever the dashboard speaks: a card travels with the model, like the run's records."""
    with i18n.use_language(i18n.SOURCE_LANGUAGE):
        return _model_card(model_path, run)


def _model_card(model_path: Path, run: runs.Run | None) -> dict:
    model = load_model(model_path)
    counts = parameter_counts(model)
    card: dict = {
        "format_version": CARD_FORMAT,
        "name": f"run {run.run_id}" if run else model_path.name,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "made_with": f"MNIST CNN Studio {__version__}, Keras {keras.__version__}",
        "input": "float32 (N, 28, 28, 1): a grayscale digit, light ink on black, 0–1; made as "
        "MNIST was (cropped to the ink, fitted in 20×20, centred by mass in 28×28)",
        "output": "float32 (N, 10): the probability of each digit 0–9",
        "architecture": [
            {"layer": r.name, "type": r.type, "output": r.output_shape, "params": r.params}
            for r in summary_rows(model)
        ],
        "parameters": counts,
    }
    evaluation = None
    if run is not None:
        config = run.config
        card["how_it_was_made"] = _made(run)
        card["training"] = config.train.to_dict() if config.train else None
        if config.finetune:
            card["fine_tuning"] = config.finetune.to_dict()
        evaluation = run.evaluation()
    elif model_path.resolve() == DEFAULT_MODEL.resolve():
        record = runs.read_json(DEFAULT_MODEL.with_suffix(".json"))
        card["how_it_was_made"] = f"the bundled default model: {record.get('command', '')}"
        card["training"] = record.get("config", {}).get("train")
    if evaluation is None:
        ds = mnist_data.load()
        evaluation = evaluate_predictions(
            ds.test_labels, predict_probabilities(model, ds.test_images)
        ).to_dict()
    card["training_data"] = (
        "MNIST (60,000 training images; validation held out of them)"
        + (" and the person's own digits" if run and run.config.finetune else "")
        if not (run and run.config.imported)
        else "unknown: imported from elsewhere"
    )
    card["test_accuracy"] = evaluation["accuracy"]
    card["per_class_accuracy"] = {
        str(row["digit"]): row["recall"] for row in evaluation["per_class"]
    }
    card["test_images"] = evaluation["count"]
    return card


def _made(run: runs.Run) -> str:
    config = run.config
    if config.imported:
        return f"imported from {config.imported.get('source')}"
    if config.finetune:
        ft = config.finetune
        return f"fine-tuned from {ft.base} ({ft.mode}) on {ft.personal_train} personal digits"
    return f"trained by MNIST CNN Studio ({config.preset or 'custom'} model): " + (
        config.train.describe() if config.train else ""
    )


def card_markdown(card: dict) -> str:
    """The model card as Markdown for people."""
    lines = [f"# Model card — {card['name']}", ""]
    lines += [f"- **Made**: {card.get('how_it_was_made', 'unknown')}"]
    lines += [f"- **Training data**: {card['training_data']}"]
    lines += [f"- **Input**: {card['input']}", f"- **Output**: {card['output']}"]
    p = card["parameters"]
    lines += [
        f"- **Parameters**: {p['total']:,} ({p['trainable']:,} trainable, "
        f"{p['non_trainable']:,} not)"
    ]
    lines += [f"- **Test accuracy**: {card['test_accuracy']:.2%} on {card['test_images']:,} "
              "MNIST test images"]  # fmt: skip
    if "export" in card:
        e = card["export"]
        lines += [
            f"- **Format**: {e['format']} — {e['what']}; its probabilities differ from Keras's "
            f"by at most {e['max_probability_difference']:.1e} on {e['checked_on']}"
        ]
    if card.get("training"):
        settings = ", ".join(f"{k} {v}" for k, v in card["training"].items())
        lines += [f"- **Training settings**: {settings}"]
    if card.get("fine_tuning"):
        ft = card["fine_tuning"]
        lines += [f"- **Fine-tuning**: from {ft['base']}, mode {ft['mode']}, "
                  f"{ft['personal_train']} samples (+{ft['personal_test']} held out)"]  # fmt: skip
    lines += ["", "## Accuracy per digit", "", "| digit | accuracy |", "|---|---|"]
    lines += [f"| {d} | {a:.2%} |" for d, a in card["per_class_accuracy"].items()]
    lines += ["", "## Architecture", "", "| layer | type | output | parameters |"]
    lines += ["|---|---|---|---|"]
    lines += [
        f"| {r['layer']} | {r['type']} | {r['output']} | {r['params']:,} |"
        for r in card["architecture"]
    ]
    lines += ["", f"{card['made_with']}, {card['created']}.", ""]
    return "\n".join(lines)


def _write_card(card: dict, md: Path, js: Path) -> None:
    runs.write_bytes_atomic(md, card_markdown(card).encode("utf-8"))
    runs.write_json_atomic(js, card)


# -- import --------------------------------------------------------------------------------
def _check_archive(data: bytes, name: str) -> None:
    """A ``.keras`` file is a zip: refuse one that is not, or that would inflate hugely."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ExportError(
            _("{name} is larger than {mb} MB").format(
                name=name, mb=i18n.number(MAX_IMPORT_BYTES // 2**20)
            )
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise ExportError(
            _("{name} is not a Keras 3 model file (.keras)").format(name=name)
        ) from None
    if unpacked > MAX_IMPORT_UNPACKED:
        raise ExportError(
            _("{name} would unpack to {gb} GB; refused").format(
                name=name, gb=i18n.number(unpacked / 2**30, 1)
            )
        )


def import_model(
    source: str | os.PathLike | bytes,
    name: str | None = None,
    runs_dir: str | os.PathLike | None = None,
    command: str = "the dashboard's Training page",
    owner: str | None = None,
) -> Path:
    """Make a run of a ``.keras`` model from elsewhere: loaded safely, checked, scored;
    ``owner``: who imports it (default: the machine's user).

    ``ExportError`` (one sentence) for a file that is not a digit classifier.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise ExportError(f"{path}: no such file")
        name = name or path.name
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise ExportError(f"{name} is larger than {MAX_IMPORT_BYTES // 2**20} MB")
        source = path.read_bytes()
    name = name or "model.keras"
    _check_archive(source, name)
    digest = hashlib.sha256(source).hexdigest()
    for run in runs.list_runs(runs_dir)[0]:
        if (run.config.imported or {}).get("sha256") == digest and run.model_path:
            raise ExportError(
                _("{name} is already imported, as run {run_id}").format(
                    name=name, run_id=run.run_id
                )
            )
    with tempfile.TemporaryDirectory(prefix="mnist-import-") as work:
        staged = Path(work) / "model.keras"  # Keras insists on the suffix
        staged.write_bytes(source)
        try:
            model = keras.saving.load_model(staged, compile=False, safe_mode=True)
        except Exception:  # Keras raises many types, with long messages, for a bad archive
            raise ExportError(
                _(
                    "{name} is not a Keras 3 model this app can load safely (a .keras file made "
                    "by model.save, without custom code)"
                ).format(name=name)
            ) from None
        try:
            check_input_output(model, name)
        except ValueError as exc:
            raise ExportError(str(exc)) from None
        dataset = mnist_data.load()
        try:
            probs = predict_probabilities(model, dataset.test_images)
        except Exception as exc:
            raise ExportError(
                _("{name}: the model fails on MNIST digits ({error})").format(name=name, error=exc)
            ) from None
        evaluation = evaluate_predictions(dataset.test_labels, probs)
        imported = {
            "source": name,
            "sha256": digest,
            "bytes": len(source),
        }
        params = int(model.count_params())

        def files(folder: Path) -> None:
            # As Keras reads it: no optimizer, nothing else from the file.
            save_model_atomic(model, folder / runs.MODEL)
            runs.save_probabilities(folder, probs)
            runs.write_json_atomic(folder / runs.EVALUATION, evaluation.to_dict())
            now = time.time()
            status = RunStatus(
                state=DONE,
                pid=os.getpid(),
                heartbeat=now,
                started=now,
                finished=now,
                message=None,
                params=params,
                test_accuracy=evaluation.accuracy,
            )
            runs.write_json_atomic(folder / runs.STATUS, status.to_dict())

        return runs.create_run(
            None, None, None, runs_dir, command, imported=imported, files=files, owner=owner
        )
