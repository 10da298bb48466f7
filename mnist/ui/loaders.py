"""Cached loaders: data once per server, models once per file, scores once per model."""

from __future__ import annotations

import functools
import gc

import numpy as np
import streamlit as st

from mnist import data as mnist_data
from mnist import runs
from mnist.background import Job, Jobs
from mnist.config import ModelConfig
from mnist.ui.state import ModelChoice


@st.cache_resource(show_spinner="Loading MNIST…")
def dataset() -> mnist_data.Dataset:
    """All 70,000 images, once per server.

    A resource, not ``cache_data``: the arrays are read-only (``np.frombuffer``), so every
    session can share them without the copy ``cache_data`` makes on each access.
    """
    return mnist_data.load()


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
    ds = dataset()
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


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def _model(path: str, mtime: float):
    _import_keras()
    from mnist.models import load_model

    return load_model(path)


def model_for(key: tuple[str, float]):
    """The Keras model at ``key = (path, mtime)``; shared read-only — never train it."""
    return _model(*key)


@st.cache_data(max_entries=8, show_spinner="Scoring the 10,000 test images…")
def _scored(key: tuple[str, float]):
    _import_keras()
    from mnist.evaluation import evaluate_predictions, predict_probabilities

    ds = dataset()
    probs = predict_probabilities(model_for(key), ds.test_images)
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
    return _scored(choice.key)


@st.cache_data(max_entries=64, show_spinner="Building the model…")
def model_summary(config: ModelConfig) -> dict:
    """Summary rows, parameter counts and a Graphviz diagram of the built model."""
    _import_keras()
    from mnist.models import build_model, model_dot, parameter_counts, summary_rows

    model = build_model(config)
    return {
        "rows": [row.__dict__ for row in summary_rows(model)],
        "params": parameter_counts(model),
        "dot": model_dot(model),
    }


@st.cache_data(max_entries=4, show_spinner="Running the 10,000 test digits through the model…")
def embedding_features(key: tuple[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """The test digits' penultimate features (10000, d) and the model's answers, once per
    model file."""
    _import_keras()
    from mnist import explain

    features, probs = explain.features_and_probabilities(model_for(key), dataset().test_images)
    return features, probs.argmax(axis=1).astype(int)


@st.cache_data(max_entries=4, show_spinner=False)
def embedding(key: tuple[str, float]):
    """The test digits at their features' two principal components, with labels, the
    model's answers and their pictures, as a DataFrame (columns x, y, label, predicted,
    index, image)."""
    import pandas as pd  # not at the top: the home page never needs it (start-up, figure 7)

    from mnist import explain

    features, predicted = embedding_features(key)
    xy = explain.pca_2d(features)
    return pd.DataFrame({
        "x": xy[:, 0], "y": xy[:, 1], "label": dataset().test_labels.astype(int),
        "predicted": predicted, "index": np.arange(len(xy)), "image": test_digit_urls(),
    })  # fmt: skip


@st.cache_resource(show_spinner="Drawing the 10,000 test digits…")
def test_digit_urls() -> list[str]:
    """Each test digit as a small PNG data URL, for the tooltips: once per server."""
    from mnist.charts import digit_png_urls

    return digit_png_urls(dataset().test_images)


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
