"""Cached loaders: data once per server, models once per file, scores once per model."""

from __future__ import annotations

import functools
import gc

import numpy as np
import streamlit as st

from mnist import data as mnist_data
from mnist import i18n, runs
from mnist.background import Job, Jobs
from mnist.config import ModelConfig
from mnist.i18n import _
from mnist.ui.state import ModelChoice

# A cached function's own spinner text is fixed when the module is imported, in no session's
# language. So the cached functions below show none (``show_spinner=False``); each public
# loader wraps its call in ``st.spinner`` with the text in the language of the session asking
# (shown only when the call takes longer than half a second, i.e. on a cache miss). Cached
# functions call each other's private, spinner-less versions.


@st.cache_resource(show_spinner=False)
def _dataset() -> mnist_data.Dataset:
    return mnist_data.load()


def dataset() -> mnist_data.Dataset:
    """All 70,000 images, once per server.

    A resource, not ``cache_data``: the arrays are read-only (``np.frombuffer``), so every
    session can share them without the copy ``cache_data`` makes on each access.
    """
    with st.spinner(_("Loading MNIST…")):
        return _dataset()


@st.cache_data(show_spinner=False)
def data_counts(validation_size: int = mnist_data.DEFAULT_VALIDATION_SIZE) -> dict:
    """The images in each part and whether the files are verified, without loading them
    (the home page's start-up: ~15 ms instead of ~0.45 s for ``dataset_stats``)."""
    counts = mnist_data.counts()
    return {
        "sizes": {
            "train": counts["train"] - validation_size,
            "validation": validation_size,
            "test": counts["test"],
        },
        "verified": counts["verified"],
    }


@st.cache_data(show_spinner=False)
def dataset_stats(validation_size: int = mnist_data.DEFAULT_VALIDATION_SIZE) -> dict:
    """Split sizes and counts, mean image per digit, pixel histogram — all computed."""
    ds = _dataset()
    split = ds.split(validation_size=validation_size)
    counts, edges = mnist_data.pixel_histogram(ds.train_images, bins=64)
    return {
        "sizes": {
            "train": len(split.y_train),
            "validation": len(split.y_val),
            "test": len(ds.test_labels),
        },
        "counts": {
            "train": mnist_data.class_counts(split.y_train).tolist(),
            "validation": mnist_data.class_counts(split.y_val).tolist(),
            "test": mnist_data.class_counts(ds.test_labels).tolist(),
        },
        "mean_images": mnist_data.mean_images(ds.train_images, ds.train_labels),
        "histogram": (counts, edges),
        "mean_intensity": float(ds.train_images.mean()),
        "ink_share": float((ds.train_images > 0).mean()),
        "verified": ds.verified,
    }


@functools.cache
def _import_keras() -> None:
    """Import TensorFlow and Keras once, then hide their objects from full collections.

    After every script run Streamlit calls ``keras.backend.clear_session()`` (its
    ``ScriptRunner._clean_problem_modules``), which runs a full ``gc.collect()``. With
    TensorFlow loaded the heap holds ~400,000 objects, and each collection held the GIL for
    ~220 ms: the next rerun (a sketch stroke) waited for it. The imported modules live as
    long as the server, so they move to the permanent generation (``gc.freeze``), which full
    collections skip: the collection then takes well under 1 ms. Garbage made later (models,
    evaluations) is not frozen and is collected as usual. benchmarks/RESULTS.md, figure 5.
    """
    import mnist.models  # noqa: F401  (TensorFlow and Keras)

    gc.collect()
    gc.freeze()


@st.cache_resource(max_entries=8, show_spinner=False)
def _model(path: str, mtime: float):
    _import_keras()
    from mnist.models import load_model

    return load_model(path)


def model_for(key: tuple[str, float]):
    """The Keras model at ``key = (path, mtime)``; shared read-only — never train it."""
    with st.spinner(_("Loading the model…")):
        return _model(*key)


@st.cache_data(max_entries=8, show_spinner=False)
def _scored(key: tuple[str, float]):
    _import_keras()
    from mnist.evaluation import evaluate_predictions, predict_probabilities

    ds = _dataset()
    probs = predict_probabilities(_model(*key), ds.test_images)
    return evaluate_predictions(ds.test_labels, probs), probs


@st.cache_data(max_entries=8, show_spinner=False)
def _stored(run_dir: str, mtime: float):
    return runs.load_run(run_dir).stored_scores()


def model_scores(choice: ModelChoice):
    """(Evaluation, (10000, 10) probabilities) of the model in use on the test set: those its
    run stored when it finished (instant), else scored once per model file."""
    if choice.run_id is not None:
        run_dir = choice.path.parent
        stored = run_dir / runs.EVALUATION
        if stored.exists():
            scores = _stored(str(run_dir), stored.stat().st_mtime)
            if scores is not None:
                return scores
    with st.spinner(_("Scoring the 10,000 test images…")):
        return _scored(choice.key)


def model_summary(config: ModelConfig) -> dict:
    """Summary rows, parameter counts and a Graphviz diagram of the built model (its text
    in the session's language)."""
    with st.spinner(_("Building the model…")):
        return _model_summary(config, i18n.language())


@st.cache_data(max_entries=64, show_spinner=False)
def _model_summary(config: ModelConfig, lang: str) -> dict:
    """``model_summary`` for the language ``lang`` (part of the key: the diagram's words)."""
    _import_keras()
    from mnist.models import build_model, model_dot, parameter_counts, shown_row, summary_rows

    model = build_model(config)
    return {
        "rows": [shown_row(row) for row in summary_rows(model)],
        "params": parameter_counts(model),
        "dot": model_dot(model),
    }


@st.cache_data(max_entries=4, show_spinner=False)
def _embedding_features(key: tuple[str, float]) -> tuple[np.ndarray, np.ndarray]:
    _import_keras()
    from mnist import explain

    features, probs = explain.features_and_probabilities(_model(*key), _dataset().test_images)
    return features, probs.argmax(axis=1).astype(int)


def embedding_features(key: tuple[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """The test digits' penultimate features (10000, d) and the model's answers, once per
    model file."""
    with st.spinner(_("Running the 10,000 test digits through the model…")):
        return _embedding_features(key)


@st.cache_data(max_entries=4, show_spinner=False)
def _embedding(key: tuple[str, float]):
    import pandas as pd  # not at the top: the home page never needs it (start-up, figure 7)

    from mnist import explain

    features, predicted = _embedding_features(key)
    xy = explain.pca_2d(features)
    return pd.DataFrame({
        "x": xy[:, 0], "y": xy[:, 1], "label": _dataset().test_labels.astype(int),
        "predicted": predicted, "index": np.arange(len(xy)), "image": _test_digit_urls(),
    })  # fmt: skip


def embedding(key: tuple[str, float]):
    """The test digits at their features' two principal components, with labels, the
    model's answers and their pictures, as a DataFrame (columns x, y, label, predicted,
    index, image)."""
    with st.spinner(_("Running the 10,000 test digits through the model…")):
        return _embedding(key)


@st.cache_resource(show_spinner=False)
def _test_digit_urls() -> list[str]:
    from mnist.charts import digit_png_urls

    return digit_png_urls(_dataset().test_images)


def test_digit_urls() -> list[str]:
    """Each test digit as a small PNG data URL, for the tooltips: once per server."""
    with st.spinner(_("Drawing the 10,000 test digits…")):
        return _test_digit_urls()


@st.cache_resource
def _jobs() -> Jobs:
    return Jobs(workers=1, keep=8)


def tsne_job(key: tuple[str, float], retry: bool = False) -> Job:
    """The t-SNE of the model's test-digit features: started on first request, in a thread
    of its own (a rerun does not stop it), shared by every session, kept once done."""
    from mnist import explain

    if retry:
        _jobs().forget(("tsne", key))
    return _jobs().start(("tsne", key), explain.tsne_2d, embedding_features(key)[0])
