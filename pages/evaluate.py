"""Evaluate: test accuracy, per-class table, clickable confusion matrix, confident mistakes."""

import json

import numpy as np
import streamlit as st

from mnist.charts import SELECTION, class_errors_chart, confusion_chart
from mnist.ui import (
    current_model_choice,
    dataset,
    digit_grid,
    follow_model,
    model_scores,
    page_header,
    require_router,
    show_error,
)
from mnist.ui.widgets import keyed_to, percent

require_router("pages/evaluate.py")


page_header("Evaluate", "How the model does on the 10,000 test images it never trained on.")

choice = current_model_choice()
if choice.note:
    st.warning(choice.note, icon=":material/warning:")
if not choice.path.is_file():
    st.error(
        f"No model file at {choice.path}. Train a run on the Training page.",
        icon=":material/error:",
    )
    st.stop()
st.caption(f"Model: **{choice.label}** — choose another in the Training page's run history.")
follow_model(choice)

try:
    evaluation, probs = model_scores(choice)
except ValueError as exc:  # a damaged or foreign .keras file
    show_error(f"This model cannot be used: {exc}")
    st.stop()
ds = dataset()
labels = ds.test_labels
predicted = probs.argmax(axis=1)
errors = len(evaluation.mistakes)

c1, c2, c3 = st.columns(3)
c1.metric("Test accuracy", f"{evaluation.accuracy:.2%}")
c2.metric("Mistakes", f"{errors:,}", help=f"of {evaluation.count:,} test images")
worst = min(evaluation.per_class, key=lambda r: r.recall)
c3.metric(
    "Hardest digit",
    f"{worst.digit} ({worst.recall:.1%})",
    help="The digit whose test images the model recognises least often (recall).",
)

table, matrix = st.columns([1, 1], gap="large")
with table:
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

with matrix:
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
if cells:
    true, pred = int(cells[0]["true"]), int(cells[0]["predicted"])
    idx = np.flatnonzero((labels == true) & (predicted == pred))
    order = idx[np.argsort(-probs[idx, pred])]
    kind = "recognised" if true == pred else f"taken for {pred}"
    st.subheader(f"{len(idx):,} test images of {true} {kind}")
    shown = order[:40]
    digit_grid(ds.test_images[shown], [f"#{i} · {percent(probs[i, pred])}" for i in shown], scale=3)
    note = f"The {len(shown)} most confident of {len(idx):,}. " if len(idx) > len(shown) else ""
    st.caption(f"{note}Caption: the test image's number · the model's confidence in {pred}.")

st.subheader("The most confident mistakes")
top = evaluation.mistakes[:20]
if top:
    digit_grid(
        ds.test_images[[m.index for m in top]],
        [f"{m.true} → {m.predicted} ({percent(m.confidence)})" for m in top],
        scale=3,
    )
    st.caption(
        "Caption: true digit → prediction (the model's confidence). Some MNIST labels "
        "are themselves debatable."
    )
else:
    st.success("No mistakes on the test set.")

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
