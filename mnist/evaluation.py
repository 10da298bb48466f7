"""Predictions on the test set → accuracy, per-class metrics, confusion matrix, mistakes.

The metric functions take plain arrays, so they are checked against hand-made cases; only
``predict_probabilities`` touches a model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from mnist import NUM_CLASSES
from mnist.data import to_model_input
from mnist.i18n import N_, _


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """(10, 10) int64 counts; rows are the true digit, columns the predicted one."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            _("{labels} labels but {predictions} predictions").format(
                labels=len(y_true), predictions=len(y_pred)
            )
        )
    for message, values in (
        (N_("label {value} at index {index} is not a digit 0–9"), y_true),
        (N_("prediction {value} at index {index} is not a digit 0–9"), y_pred),
    ):
        bad = (values < 0) | (values >= NUM_CLASSES)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(_(message).format(value=values[i], index=i))
    flat = np.bincount(y_true * NUM_CLASSES + y_pred, minlength=NUM_CLASSES**2)
    return flat.reshape(NUM_CLASSES, NUM_CLASSES)


@dataclass(frozen=True)
class ClassMetrics:
    """One digit's row of the per-class table (0.0 where a ratio has no denominator)."""

    digit: int
    support: int  # test images of this digit
    predicted: int  # test images predicted as this digit
    correct: int
    precision: float  # correct / predicted
    recall: float  # correct / support: the codelab's per-class accuracy
    f1: float


def per_class_metrics(confusion: np.ndarray) -> list[ClassMetrics]:
    """Precision, recall (= per-class accuracy) and F1 for each digit, from a confusion matrix."""
    rows = []
    for d in range(len(confusion)):
        correct = int(confusion[d, d])
        support = int(confusion[d].sum())
        predicted = int(confusion[:, d].sum())
        precision = correct / predicted if predicted else 0.0
        recall = correct / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append(ClassMetrics(d, support, predicted, correct, precision, recall, f1))
    return rows


def most_confused(confusion: np.ndarray, k: int = 10) -> list[tuple[int, int, int]]:
    """The ``k`` largest off-diagonal cells as (true, predicted, count), largest first."""
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:k]
    pairs = [(int(i // len(off)), int(i % len(off)), int(off.flat[i])) for i in order]
    return [p for p in pairs if p[2] > 0]


@dataclass(frozen=True)
class Mistake:
    """A misclassified test image."""

    index: int  # position in the 10,000-image test set
    true: int
    predicted: int
    confidence: float  # probability given to the (wrong) prediction
    probabilities: list[float]  # all ten


@dataclass(frozen=True)
class Evaluation:
    """Everything the Evaluate page and ``evaluation.json`` show about one model."""

    accuracy: float
    count: int  # test images evaluated
    confusion: list[list[int]]  # rows = true digit, columns = predicted
    per_class: list[ClassMetrics]
    most_confused: list[tuple[int, int, int]]
    mistakes: list[Mistake]  # most confident first

    def to_dict(self) -> dict:
        return asdict(self)

    def per_class_csv(self) -> str:
        """The per-class table as CSV text (accuracy per class = recall)."""
        lines = ["digit,support,predicted,correct,precision,recall,f1"]
        lines += [
            f"{r.digit},{r.support},{r.predicted},{r.correct},"
            f"{r.precision:.6f},{r.recall:.6f},{r.f1:.6f}"
            for r in self.per_class
        ]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> Evaluation:
        return cls(
            accuracy=float(data["accuracy"]),
            count=int(data["count"]),
            confusion=[list(map(int, row)) for row in data["confusion"]],
            per_class=[ClassMetrics(**row) for row in data["per_class"]],
            most_confused=[tuple(p) for p in data["most_confused"]],
            mistakes=[Mistake(**m) for m in data["mistakes"]],
        )


def evaluate_predictions(y_true: np.ndarray, probabilities: np.ndarray) -> Evaluation:
    """Score (N, 10) class probabilities against (N,) true labels."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] != NUM_CLASSES:
        raise ValueError(
            _("expected (N, {classes}) probabilities, got {shape}").format(
                classes=NUM_CLASSES, shape=probabilities.shape
            )
        )
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = probabilities.argmax(axis=1)
    confusion = confusion_matrix(y_true, y_pred)
    wrong = np.flatnonzero(y_pred != y_true)
    confidence = probabilities[wrong, y_pred[wrong]]
    wrong = wrong[np.argsort(-confidence, kind="stable")]
    mistakes = [
        Mistake(
            index=int(i),
            true=int(y_true[i]),
            predicted=int(y_pred[i]),
            confidence=round(float(probabilities[i, y_pred[i]]), 6),
            probabilities=[round(float(p), 6) for p in probabilities[i]],
        )
        for i in wrong
    ]
    return Evaluation(
        accuracy=float((y_pred == y_true).mean()) if len(y_true) else 0.0,
        count=len(y_true),
        confusion=confusion.tolist(),
        per_class=per_class_metrics(confusion),
        most_confused=most_confused(confusion),
        mistakes=mistakes,
    )


NOT_FINITE = N_(
    "the model's outputs are not finite numbers (NaN or infinite): its weights diverged "
    "in training, so it cannot be used"
)


def check_probabilities(probs: np.ndarray) -> np.ndarray:
    """``probs`` if every value is finite, else ``ValueError`` with a plain sentence."""
    if not np.isfinite(probs).all():
        raise ValueError(_(NOT_FINITE))  # the dashboard shows it, in the session's language
    return probs


def predict_probabilities(model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """(N, 28, 28) uint8 images → (N, 10) float32 probabilities, in batches.

    ``ValueError`` if the model gives NaN or infinite outputs (a diverged model).
    """
    out = []
    for start in range(0, len(images), batch_size):
        x = to_model_input(images[start : start + batch_size])
        out.append(np.asarray(model(x, training=False), dtype=np.float32))
    probs = np.concatenate(out) if out else np.zeros((0, NUM_CLASSES), np.float32)
    return check_probabilities(probs)


def evaluate_model(model, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Predict ``images`` with ``model`` and score against ``labels``."""
    return evaluate_predictions(labels, predict_probabilities(model, images))


def cell_images(labels: np.ndarray, probs: np.ndarray, true: int, predicted: int) -> np.ndarray:
    """Indices of the test images of digit ``true`` that the model took for ``predicted``
    (one cell of the confusion matrix), the most confident first."""
    idx = np.flatnonzero((labels == true) & (probs.argmax(axis=1) == predicted))
    return idx[np.argsort(-probs[idx, predicted], kind="stable")]
