"""The Evaluate page's parts: headline figures, per-class table, confusion matrix, images."""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from mnist.charts import SELECTION, class_errors_chart, confusion_chart
from mnist.evaluation import Evaluation, cell_images
from mnist.ui.loaders import dataset
from mnist.ui.state import INSIDE_INPUT, ModelChoice, current_model_choice, look_inside
from mnist.ui.widgets import digit_grid, keyed_to, percent, show_error

CELL_IMAGES = 40  # images shown of a clicked cell, the most confident first
MISTAKES = 20


def model_in_use(where: str) -> ModelChoice:
    """The model this session's Evaluate and Sketch use, named on the page; stops the page
    with one message when its file is missing."""
    choice = current_model_choice()
    if choice.note:
        st.warning(choice.note, icon=":material/warning:")
    if not choice.path.is_file():
        show_error(f"No model file at {choice.path}. Train a run on the Training page.")
        st.stop()
    st.caption(f"Model: **{choice.label}**{where}")
    return choice


def headline(evaluation: Evaluation) -> None:
    c1, c2, c3 = st.columns(3)
    c1.metric("Test accuracy", f"{evaluation.accuracy:.2%}")
    c2.metric(
        "Mistakes", f"{len(evaluation.mistakes):,}", help=f"of {evaluation.count:,} test images"
    )
    worst = min(evaluation.per_class, key=lambda r: r.recall)
    c3.metric(
        "Hardest digit",
        f"{worst.digit} ({worst.recall:.1%})",
        help="The digit whose test images the model recognises least often (recall).",
    )


def per_class(evaluation: Evaluation) -> None:
    """The codelab's per-class accuracy as a table, and the share wrong as bars from 0."""
    st.subheader("Per class")
    rows = [
        {
            "digit": r.digit,
            "accuracy": 100 * r.recall,  # percent, shown with two decimals
            "precision": 100 * r.precision,
            "F1": r.f1,
            "images": r.support,
            "wrong": r.support - r.correct,
        }
        for r in evaluation.per_class
    ]
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={
            "digit": st.column_config.NumberColumn(width="small"),
            "accuracy": st.column_config.NumberColumn("accuracy (recall)", format="%.2f%%"),
            "precision": st.column_config.NumberColumn(format="%.2f%%"),
            "F1": st.column_config.NumberColumn(format="%.4f"),
            "images": st.column_config.NumberColumn(format="localized"),
            "wrong": st.column_config.NumberColumn(format="localized"),
        },
    )
    st.altair_chart(
        class_errors_chart([r["images"] for r in rows], [r["wrong"] for r in rows]),
        width="stretch",
    )
    st.caption(
        "Accuracy per class is the codelab's `perClassAccuracy`: the share of each "
        "digit's test images recognised (recall); the bars show the rest, the share it got "
        "wrong. Precision: how often a prediction of that digit is right."
    )
    if evaluation.most_confused:
        pairs = ", ".join(f"{t}→{p} ({n})" for t, p, n in evaluation.most_confused[:5])
        st.caption(f"Most confused (true → predicted): {pairs}.")


def confusion(evaluation: Evaluation, choice: ModelChoice) -> tuple[int, int] | None:
    """The clickable confusion matrix; the (true, predicted) cell clicked, if any."""
    st.subheader("Confusion matrix")
    event = st.altair_chart(
        confusion_chart(evaluation.confusion),
        width="stretch",
        on_select="rerun",
        # One selection per model: a click made on one model's matrix never applies to another.
        key=keyed_to("evaluate.confusion", choice.key),
    )
    st.caption("Rows: true digit; columns: the model's prediction. Click a cell to see its images.")
    cells = (event or {}).get("selection", {}).get(SELECTION, [])
    return (int(cells[0]["true"]), int(cells[0]["predicted"])) if cells else None


def cell(probs: np.ndarray, true: int, predicted: int) -> None:
    """The test images of one cell of the confusion matrix, the most confident first."""
    ds = dataset()
    idx = cell_images(ds.test_labels, probs, true, predicted)
    kind = "recognised" if true == predicted else f"taken for {predicted}"
    st.subheader(f"{len(idx):,} test images of {true} {kind}")
    shown = idx[:CELL_IMAGES]
    captions = [f"#{i} · {percent(probs[i, predicted])}" for i in shown]
    digit_grid(ds.test_images[shown], captions, scale=3)
    note = f"The {len(shown)} most confident of {len(idx):,}. " if len(idx) > len(shown) else ""
    st.caption(f"{note}Caption: the test image's number · the model's confidence in {predicted}.")
    if len(shown):
        why_link(
            [int(i) for i in shown],
            lambda i: f"#{i} · {percent(probs[i, predicted])}",
            f"evaluate.why.{true}.{predicted}",
        )


def mistakes(evaluation: Evaluation) -> None:
    st.subheader("The most confident mistakes")
    top = evaluation.mistakes[:MISTAKES]
    if not top:
        st.success("No mistakes on the test set.")
        return
    digit_grid(
        dataset().test_images[[m.index for m in top]],
        [f"{m.true} → {m.predicted} ({percent(m.confidence)})" for m in top],
        scale=3,
    )
    st.caption(
        "Caption: true digit → prediction (the model's confidence). Some MNIST labels "
        "are themselves debatable."
    )
    described = {m.index: f"#{m.index}: {m.true} → {m.predicted} ({percent(m.confidence)})"
                 for m in top}  # fmt: skip
    why_link(list(described), described.__getitem__, "evaluate.why.mistakes")


def why_link(indices: list[int], describe, key: str) -> None:
    """Pick one of the test images shown above and open it on the Inside page."""
    looked_at = (st.session_state.get(INSIDE_INPUT) or {}).get("index")
    start = indices.index(looked_at) if looked_at in indices else 0  # back from Inside
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    index = left.selectbox("Why did the network answer that?", indices, index=start,
                           format_func=describe, key=key)  # fmt: skip
    if right.button("Why? Look inside", icon=":material/neurology:", key=f"{key}.go"):
        look_inside(index=index)


def downloads(evaluation: Evaluation, choice: ModelChoice) -> None:
    st.subheader("Downloads")
    d1, d2, d3 = st.columns(3)
    d1.download_button(
        "Model (.keras)",
        choice.path.read_bytes(),
        file_name=choice.path.name,
        mime="application/octet-stream",
        icon=":material/download:",
    )
    d2.download_button(
        "Per-class metrics (CSV)",
        evaluation.per_class_csv(),
        file_name="per_class.csv",
        mime="text/csv",
        icon=":material/download:",
    )
    d3.download_button(
        "Full evaluation (JSON)",
        json.dumps(evaluation.to_dict(), indent=1),
        file_name="evaluation.json",
        mime="application/json",
        icon=":material/download:",
    )
