"""The bundled model: present, small, and as accurate as models/README.md says."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist import DEFAULT_MODEL
from mnist import data as mnist_data
from mnist.models import load_model


@pytest.fixture(scope="module")
def scored():
    dataset = mnist_data.load()
    model = load_model(DEFAULT_MODEL)
    x = mnist_data.to_model_input(dataset.test_images)
    probs = np.asarray(model.predict(x, batch_size=1000, verbose=0))  # Keras's own loop
    return float((probs.argmax(axis=1) == dataset.test_labels).mean())


def test_default_model_is_small():
    assert DEFAULT_MODEL.stat().st_size < 4_000_000  # "a few MB at most"


def test_default_model_reaches_99_6_percent_on_the_test_set(scored):
    assert scored >= 0.996  # issue 12's target for the bundled model


def test_default_model_summary_matches_a_fresh_evaluation(scored):
    meta = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    assert meta["status"] == "done"
    assert meta["test_accuracy"] == pytest.approx(scored, abs=1e-4)
    assert meta["command"].startswith("python -m mnist train")
    readme = (DEFAULT_MODEL.parent / "README.md").read_text()
    assert f"{meta['test_accuracy']:.2%}" in readme  # the README quotes the measured figure
