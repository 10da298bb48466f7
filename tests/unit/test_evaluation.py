"""mnist.evaluation: confusion matrix and metrics against hand-worked cases and plain loops."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist.evaluation import (
    ClassMetrics,
    Evaluation,
    Mistake,
    confusion_matrix,
    evaluate_model,
    evaluate_predictions,
    most_confused,
    per_class_metrics,
    predict_probabilities,
)

# A hand-worked case (13 images). Correct: indices 0, 1, 3, 4, 5, 6, 10 → accuracy 7/13.
#   index   0  1  2  3  4  5  6  7  8  9 10 11 12
HAND_TRUE = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 3, 5, 6]
HAND_PRED = [0, 0, 1, 1, 1, 2, 2, 0, 3, 3, 3, 3, 7]
# Non-zero cells of the confusion matrix, (true, predicted): count.
HAND_CELLS = {(0, 0): 2, (0, 1): 1, (1, 1): 2, (2, 2): 2, (2, 0): 1, (2, 3): 2, (3, 3): 1,
              (5, 3): 1, (6, 7): 1}  # fmt: skip
# digit: (support, predicted, correct, precision, recall, F1), worked out by hand.
HAND_METRICS = {
    0: (3, 3, 2, 2 / 3, 2 / 3, 2 / 3),
    1: (2, 3, 2, 2 / 3, 1.0, 0.8),  # F1 = 2·(2/3)·1 / (5/3)
    2: (5, 2, 2, 1.0, 0.4, 4 / 7),  # F1 = 2·0.4 / 1.4
    3: (1, 4, 1, 0.25, 1.0, 0.4),  # F1 = 2·0.25 / 1.25
    4: (0, 0, 0, 0.0, 0.0, 0.0),  # never seen, never predicted
    5: (1, 0, 0, 0.0, 0.0, 0.0),  # seen, never predicted
    6: (1, 0, 0, 0.0, 0.0, 0.0),
    7: (0, 1, 0, 0.0, 0.0, 0.0),  # predicted once, never seen
    8: (0, 0, 0, 0.0, 0.0, 0.0),
    9: (0, 0, 0, 0.0, 0.0, 0.0),
}


def one_hot_probabilities(predicted: list[int], confidence: list[float]) -> np.ndarray:
    """Rows whose largest entry is ``confidence`` at ``predicted``, the rest spread evenly."""
    rows = np.zeros((len(predicted), 10))
    for i, (p, c) in enumerate(zip(predicted, confidence, strict=True)):
        rows[i] = (1 - c) / 9
        rows[i, p] = c
    return rows


# ---------------------------------------------------------------------------------------------
# confusion_matrix / per_class_metrics / most_confused


def test_confusion_matrix_hand_case():
    cm = confusion_matrix(np.array(HAND_TRUE), np.array(HAND_PRED))
    assert cm.shape == (10, 10)
    assert cm.dtype == np.int64
    expected = [[HAND_CELLS.get((t, p), 0) for p in range(10)] for t in range(10)]
    assert cm.tolist() == expected


def test_confusion_matrix_accepts_lists_and_empty_input():
    assert confusion_matrix([3], [4])[3, 4] == 1
    assert confusion_matrix([3], [4]).sum() == 1
    empty = confusion_matrix([], [])
    assert empty.shape == (10, 10) and empty.sum() == 0


def test_confusion_matrix_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="3 labels but 2 predictions"):
        confusion_matrix([1, 2, 3], [1, 2])


def test_per_class_metrics_hand_case():
    rows = per_class_metrics(confusion_matrix(HAND_TRUE, HAND_PRED))
    assert [r.digit for r in rows] == list(range(10))
    for row in rows:
        support, predicted, correct, precision, recall, f1 = HAND_METRICS[row.digit]
        assert (row.support, row.predicted, row.correct) == (support, predicted, correct)
        assert row.precision == pytest.approx(precision)
        assert row.recall == pytest.approx(recall)
        assert row.f1 == pytest.approx(f1)
        assert isinstance(row.support, int) and isinstance(row.precision, float)


def test_zero_denominators_give_zero_not_nan():
    rows = per_class_metrics(np.zeros((10, 10), dtype=np.int64))
    assert all(r.precision == r.recall == r.f1 == 0.0 for r in rows)
    # A class predicted but always wrong: precision and recall are 0, so F1 is 0 (not 0/0).
    cm = confusion_matrix([1, 2], [2, 1])
    one = per_class_metrics(cm)[1]
    assert (one.support, one.predicted, one.correct) == (1, 1, 0)
    assert one.f1 == 0.0


def reference_metrics(y_true: list[int], y_pred: list[int]) -> list[tuple]:
    """Per-class counts and ratios from the label lists themselves, in plain Python."""
    out = []
    for d in range(10):
        tp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == d and p == d)
        support = sum(1 for t in y_true if t == d)
        predicted = sum(1 for p in y_pred if p == d)
        precision = tp / predicted if predicted > 0 else 0.0
        recall = tp / support if support > 0 else 0.0
        # F1 as the harmonic mean written with counts: 2·TP / (support + predicted).
        f1 = 2 * tp / (support + predicted) if tp > 0 else 0.0
        out.append((d, support, predicted, tp, precision, recall, f1))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_confusion_and_metrics_match_a_plain_loop_on_random_labels(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 10, 500)
    # Mostly right, some wrong, and digit 9 never predicted.
    y_pred = np.where(rng.random(500) < 0.7, y_true, rng.integers(0, 9, 500))
    y_pred[y_pred == 9] = 8
    cm = confusion_matrix(y_true, y_pred)

    loop = [[0] * 10 for _ in range(10)]
    for t, p in zip(y_true.tolist(), y_pred.tolist(), strict=True):
        loop[t][p] += 1
    assert cm.tolist() == loop

    reference = reference_metrics(y_true.tolist(), y_pred.tolist())
    for row, ref in zip(per_class_metrics(cm), reference, strict=True):
        assert (row.digit, row.support, row.predicted, row.correct) == ref[:4]
        assert row.precision == pytest.approx(ref[4])
        assert row.recall == pytest.approx(ref[5])
        assert row.f1 == pytest.approx(ref[6])


def test_most_confused_hand_case():
    cm = confusion_matrix(HAND_TRUE, HAND_PRED)
    pairs = most_confused(cm)
    assert pairs[0] == (2, 3, 2)
    assert set(pairs[1:]) == {(0, 1, 1), (2, 0, 1), (5, 3, 1), (6, 7, 1)}
    assert len(pairs) == 5  # zero cells and the diagonal are left out
    assert most_confused(cm, k=2)[0] == (2, 3, 2) and len(most_confused(cm, k=2)) == 2


def test_most_confused_random_against_a_loop():
    rng = np.random.default_rng(7)
    cm = rng.integers(0, 50, size=(10, 10))
    cells = sorted(
        ((int(cm[t, p]), t, p) for t in range(10) for p in range(10) if t != p and cm[t, p] > 0),
        reverse=True,
    )
    before = cm.copy()
    pairs = most_confused(cm, k=10)
    np.testing.assert_array_equal(cm, before)  # the diagonal is masked on a copy
    assert [c for _, _, c in pairs] == [c for c, _, _ in cells[:10]]
    assert all(cm[t, p] == c and t != p for t, p, c in pairs)
    assert len(set((t, p) for t, p, _ in pairs)) == 10
    assert all(isinstance(v, int) for pair in pairs for v in pair)


# ---------------------------------------------------------------------------------------------
# evaluate_predictions


def test_evaluate_predictions_hand_case():
    confidence = [0.9, 0.8, 0.55, 0.7, 0.6, 0.95, 0.5, 0.4, 0.99, 0.3, 0.65, 0.85, 0.45]
    probs = one_hot_probabilities(HAND_PRED, confidence)
    ev = evaluate_predictions(np.array(HAND_TRUE), probs)

    assert ev.accuracy == pytest.approx(7 / 13)
    assert ev.count == 13
    assert ev.confusion == [[HAND_CELLS.get((t, p), 0) for p in range(10)] for t in range(10)]
    assert [(m.digit, m.support, m.correct) for m in ev.per_class][:4] == [
        (0, 3, 2),
        (1, 2, 2),
        (2, 5, 2),
        (3, 1, 1),
    ]
    assert ev.most_confused[0] == (2, 3, 2)
    # Wrong: 2 (0.55), 7 (0.4), 8 (0.99), 9 (0.3), 11 (0.85), 12 (0.45) → by confidence.
    assert [m.index for m in ev.mistakes] == [8, 11, 2, 12, 7, 9]
    first = ev.mistakes[0]
    assert (first.true, first.predicted) == (2, 3)
    assert first.confidence == pytest.approx(0.99)
    assert len(first.probabilities) == 10
    np.testing.assert_allclose(first.probabilities, probs[8], atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_evaluate_predictions_random_against_a_loop(seed):
    rng = np.random.default_rng(seed)
    n = 300
    probs = rng.dirichlet(np.full(10, 0.3), size=n)
    y_true = rng.integers(0, 10, n)
    ev = evaluate_predictions(y_true, probs)

    predicted = [max(range(10), key=lambda d, row=row: row[d]) for row in probs.tolist()]
    wrong = [i for i in range(n) if predicted[i] != y_true[i]]
    assert ev.accuracy == pytest.approx(1 - len(wrong) / n)
    assert ev.count == n
    assert sorted(m.index for m in ev.mistakes) == wrong
    confidences = [m.confidence for m in ev.mistakes]
    assert confidences == sorted(confidences, reverse=True)
    for m in ev.mistakes:
        assert m.true == y_true[m.index] and m.predicted == predicted[m.index]
        assert m.predicted != m.true
        assert m.confidence == pytest.approx(probs[m.index].max(), abs=1e-6)
        assert len(m.probabilities) == 10
        np.testing.assert_allclose(m.probabilities, probs[m.index], atol=1e-6)
    for row, ref in zip(ev.per_class, reference_metrics(y_true.tolist(), predicted), strict=True):
        assert (row.support, row.predicted, row.correct) == ref[1:4]
        assert row.f1 == pytest.approx(ref[6])


def test_evaluate_predictions_all_correct_and_empty():
    ev = evaluate_predictions([4, 2], one_hot_probabilities([4, 2], [0.9, 0.6]))
    assert ev.accuracy == 1.0 and ev.mistakes == [] and ev.most_confused == []
    empty = evaluate_predictions(np.zeros(0, dtype=int), np.zeros((0, 10)))
    assert (empty.accuracy, empty.count, empty.mistakes) == (0.0, 0, [])


def test_evaluate_predictions_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        evaluate_predictions([1, 2, 3], one_hot_probabilities([1, 2], [0.9, 0.9]))


@pytest.mark.parametrize("shape", [(5, 9), (5, 11), (10,), (2, 10, 1)])
def test_evaluate_predictions_rejects_bad_probability_shapes(shape):
    with pytest.raises(ValueError, match=r"expected \(N, 10\) probabilities"):
        evaluate_predictions(np.zeros(shape[0], dtype=int), np.full(shape, 0.1))


def test_evaluation_round_trips_through_json():
    rng = np.random.default_rng(4)
    ev = evaluate_predictions(rng.integers(0, 10, 80), rng.dirichlet(np.ones(10), size=80))
    data = ev.to_dict()
    assert set(data) == {"accuracy", "count", "confusion", "per_class", "most_confused", "mistakes"}
    assert data["per_class"][3]["digit"] == 3
    text = json.dumps(data)
    restored = Evaluation.from_dict(json.loads(text))
    assert restored == ev
    assert all(isinstance(r, ClassMetrics) for r in restored.per_class)
    assert all(isinstance(m, Mistake) for m in restored.mistakes)
    assert all(isinstance(p, tuple) for p in restored.most_confused)
    assert json.dumps(restored.to_dict()) == text


# ---------------------------------------------------------------------------------------------
# predict_probabilities / evaluate_model with a tiny Keras model


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(9).integers(0, 256, size=(23, 28, 28), dtype=np.uint8)


def test_predict_probabilities_shape_and_rows(tiny_model, images):
    probs = predict_probabilities(tiny_model, images, batch_size=5)
    assert probs.shape == (23, 10)
    assert probs.dtype == np.float32
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 5, 7, 23, 1000])
def test_predict_probabilities_in_batches_equals_one_call(tiny_model, images, batch_size):
    x = (images.astype(np.float32) / 255.0).reshape(-1, 28, 28, 1)
    expected = np.asarray(tiny_model(x))
    got = predict_probabilities(tiny_model, images, batch_size=batch_size)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_predict_probabilities_of_nothing(tiny_model):
    probs = predict_probabilities(tiny_model, np.zeros((0, 28, 28), np.uint8))
    assert probs.shape == (0, 10) and probs.dtype == np.float32


def test_evaluate_model_scores_the_models_predictions(tiny_model, images):
    labels = np.arange(23) % 10
    ev = evaluate_model(tiny_model, images, labels)
    x = (images.astype(np.float32) / 255.0)[..., None]
    predicted = np.asarray(tiny_model(x)).argmax(axis=1)
    assert ev.count == 23
    assert ev.accuracy == pytest.approx(np.mean(predicted == labels))
    assert sorted(m.index for m in ev.mistakes) == np.flatnonzero(predicted != labels).tolist()


@pytest.mark.parametrize(
    ("y_true", "y_pred"), [([0], [10]), ([10], [0]), ([-1], [0]), ([12, 0], [0, 0])]
)
def test_labels_outside_0_9_are_refused(y_true, y_pred):
    with pytest.raises(ValueError, match="is not a digit 0–9"):
        confusion_matrix(np.array(y_true), np.array(y_pred))


def test_per_class_csv_has_one_row_per_digit():
    y = np.array([0, 0, 1, 2])
    probs = np.eye(10)[[0, 1, 1, 2]]
    lines = evaluate_predictions(y, probs).per_class_csv().splitlines()
    assert lines[0] == "digit,support,predicted,correct,precision,recall,f1"
    assert lines[1] == "0,2,1,1,1.000000,0.500000,0.666667"
    assert lines[2] == "1,1,2,1,0.500000,1.000000,0.666667"
    assert len(lines) == 11


def test_cell_images_are_that_cells_images_most_confident_first():
    from mnist.evaluation import cell_images

    rng = np.random.default_rng(5)
    labels = rng.integers(0, 10, 500)
    probs = rng.random((500, 10)).astype(np.float32)
    probs /= probs.sum(axis=1, keepdims=True)
    for true, predicted in [(4, 9), (3, 3), (7, 1)]:
        got = cell_images(labels, probs, true, predicted)
        expected = [i for i in range(500) if labels[i] == true and probs[i].argmax() == predicted]
        assert sorted(got.tolist()) == expected
        confidences = probs[got, predicted]
        assert all(a >= b for a, b in zip(confidences, confidences[1:], strict=False))
