"""Fine-tuning on a person's digits: the run it makes, what learns, and whether it helped."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist import DEFAULT_MODEL, finetune, runs
from mnist.config import PRESETS
from mnist.data import load
from mnist.personal import PersonalError, PersonalSet


def _rotated_set(root, per_digit: int = 5) -> PersonalSet:
    """A "person" who writes every digit turned a quarter: MNIST's models misread them."""
    samples = PersonalSet(root)
    test = load()
    for d in range(10):
        for i in np.flatnonzero(test.test_labels == d)[:per_digit]:
            samples.add(np.rot90(test.test_images[i]), d)
    return samples


def test_readiness_says_what_is_missing(tmp_path):
    samples = PersonalSet(tmp_path / "p")
    for _ in range(3):
        samples.add(np.ones((28, 28), np.uint8), 7)
    message = finetune.readiness(samples)
    assert "47 more to go" in message and "2 more 7s" in message and "5 more 0s" in message
    with pytest.raises(PersonalError, match="at least 5 samples of every digit"):
        finetune.create_finetune_run(finetune.resolve_base(), samples, "head", runs_dir=tmp_path)
    assert not (tmp_path / "runs").exists() and not list(tmp_path.glob("2*"))


def test_mix_makes_the_personal_samples_the_share_asked_for():
    x_mnist, y_mnist = np.zeros((300, 28, 28), np.uint8), np.zeros(300, np.uint8)
    x_mine = np.full((7, 28, 28), 9, np.uint8)
    y_mine = np.arange(7, dtype=np.uint8)
    x, y = finetune.mix(x_mnist, y_mnist, x_mine, y_mine, 0.25, seed=0)
    assert len(y) == 400 and (x[:, 0, 0] == 9).sum() == 100
    assert set(y[300:]) == set(range(7))  # every sample repeated, none left out
    counts = np.bincount(y[300:], minlength=7)
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("name", [*PRESETS, "bundled"])
def test_freeze_for_each_mode(name):
    from mnist._tf import keras
    from mnist.models import build_model, load_model
    from mnist.training import freeze_for

    def fresh():
        return load_model(DEFAULT_MODEL) if name == "bundled" else build_model(PRESETS[name].model)

    def learning(model):
        return {w.path.split("/")[0] for w in model.trainable_weights}

    head = learning(freeze_for(fresh(), "head"))
    assert head == {"probabilities"}
    features = freeze_for(fresh(), "features")
    names = learning(features)
    assert "probabilities" in names
    assert not any(isinstance(features.get_layer(n), keras.layers.Conv2D) for n in names)
    every = freeze_for(fresh(), "all")
    assert len(every.trainable_weights) == len(fresh().trainable_weights)


def test_a_finetune_run_learns_the_persons_hand_and_keeps_mnist(tmp_path, runs_dir):
    from mnist import training
    from mnist.models import load_model

    samples = _rotated_set(tmp_path / "personal")
    base = finetune.resolve_base()
    train = finetune.default_train("features", epochs=3, train_size=1500)
    path = finetune.create_finetune_run(base, samples, "features", train, command="test")
    assert sorted(p.name for p in path.iterdir()) == ["base.keras", "config.json", "personal.npz"]
    assert not list(runs_dir.glob(".creating-*"))
    config = runs.load_run(path).config
    assert config.kind == "fine-tune" and config.model == PRESETS["best"].model
    ft = config.finetune
    assert (ft.personal_train, ft.personal_test) == (40, 10)
    assert ft.samples_fingerprint == samples.fingerprint() and ft.base == "the bundled model"

    status = training.execute(path)
    assert status.state == runs.DONE, status.error
    evaluation = runs.load_run(path).evaluation()
    result = finetune.comparison(evaluation["finetune"])
    bundled = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())["test_accuracy"]
    assert result.mnist_before == pytest.approx(bundled, abs=1e-4)
    assert result.mnist_after == evaluation["accuracy"] > 0.98  # MNIST not forgotten
    assert result.count == 10 and sum(r["samples"] for r in result.per_digit) == 10
    assert result.personal_after > result.personal_before  # it learnt the rotated hand
    # "features": the convolutions did not move; the last layer did.
    tuned, original = load_model(path / runs.MODEL), load_model(DEFAULT_MODEL)
    for layer in original.layers:
        if layer.weights and layer.name.startswith("conv"):
            for a, b in zip(layer.get_weights(), tuned.get_layer(layer.name).get_weights(),
                            strict=True):  # fmt: skip
                assert np.array_equal(a, b), layer.name
    changed = original.get_layer("probabilities").get_weights()[0]
    assert not np.array_equal(changed, tuned.get_layer("probabilities").get_weights()[0])
    # The run shows in the history as a fine-tune.
    assert runs.history_row(runs.load_run(path))["preset"] == "fine-tuned"


def test_base_from_a_run_or_a_file(tmp_path, runs_dir, codelab_model, tiny_train):
    run_dir = runs.create_run(codelab_model, tiny_train)
    with pytest.raises(runs.RunError, match="has no model to fine-tune"):
        finetune.resolve_base(run_id=run_dir.name)
    (run_dir / runs.MODEL).write_bytes(DEFAULT_MODEL.read_bytes())
    base = finetune.resolve_base(run_id=run_dir.name)
    assert base.label == f"run {run_dir.name}" and base.model == codelab_model
    assert finetune.resolve_base(path=DEFAULT_MODEL).label == "the bundled model"
    with pytest.raises(runs.RunError, match="no such model file"):
        finetune.resolve_base(path=tmp_path / "missing.keras")
