"""The Evaluate page's parts: headline figures, per-class table, confusion matrix, images."""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from mnist import i18n
from mnist.charts import SELECTION, class_errors_chart, confusion_chart
from mnist.evaluation import Evaluation, cell_images
from mnist.i18n import _, ngettext
from mnist.ui.loaders import dataset
from mnist.ui.state import INSIDE_INPUT, ModelChoice, current_model_choice, look_inside
from mnist.ui.widgets import digit_grid, keyed_to, percent, show_error

CELL_IMAGES = 40  # images shown of a clicked cell, the most confident first
MISTAKES = 20


def model_in_use(where: str) -> ModelChoice:
    """The model this session's Evaluate and Sketch use, named on the page; stops the page
    with one message when its file is missing. ``where``: what follows the model's name in
    the caption, already translated (" — choose another …", or ".")."""
    choice = current_model_choice()
    if choice.note:
        st.warning(choice.note, icon=":material/warning:")
    if not choice.path.is_file():
        show_error(
            _("No model file at {path}. Train a run on the Training page.").format(path=choice.path)
        )
        st.stop()
    st.caption(_("Model: **{model}**{where}").format(model=choice.label, where=where))
    return choice


def headline(evaluation: Evaluation) -> None:
    c1, c2, c3 = st.columns(3)
    c1.metric(_("Test accuracy"), i18n.percent(evaluation.accuracy, 2))
    c2.metric(
        _("Mistakes"),
        i18n.number(len(evaluation.mistakes)),
        help=_("of {count} test images").format(count=i18n.number(evaluation.count)),
    )
    worst = min(evaluation.per_class, key=lambda r: r.recall)
    c3.metric(
        _("Hardest digit"),
        f"{worst.digit} ({i18n.percent(worst.recall, 1)})",
        help=_("The digit whose test images the model recognises least often (recall)."),
    )


def per_class(evaluation: Evaluation) -> None:
    """The codelab's per-class accuracy as a table, and the share wrong as bars from 0."""
    st.subheader(_("Per class"))
    support = [r.support for r in evaluation.per_class]
    wrong = [r.support - r.correct for r in evaluation.per_class]
    # The columns are named in the session's language (their headers; the data is the same).
    digit, accuracy, precision = _("digit"), _("accuracy"), _("precision")
    images, wrong_name = _("images"), _("wrong")
    rows = [
        {
            digit: r.digit,
            accuracy: 100 * r.recall,  # percent, shown with two decimals
            precision: 100 * r.precision,
            "F1": r.f1,
            images: n,
            wrong_name: w,
        }
        for r, n, w in zip(evaluation.per_class, support, wrong, strict=True)
    ]
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={
            digit: st.column_config.NumberColumn(width="small"),
            accuracy: st.column_config.NumberColumn(_("accuracy (recall)"), format="%.2f%%"),
            precision: st.column_config.NumberColumn(format="%.2f%%"),
            "F1": st.column_config.NumberColumn(format="%.4f"),
            images: st.column_config.NumberColumn(format="localized"),
            wrong_name: st.column_config.NumberColumn(format="localized"),
        },
    )
    st.altair_chart(class_errors_chart(support, wrong), width="stretch")
    st.caption(
        _(
            "Accuracy per class is the codelab's `perClassAccuracy`: the share of each "
            "digit's test images recognised (recall); the bars show the rest, the share it got "
            "wrong. Precision: how often a prediction of that digit is right."
        )
    )
    if evaluation.most_confused:
        pairs = ", ".join(f"{t}→{p} ({i18n.number(n)})" for t, p, n in evaluation.most_confused[:5])
        st.caption(_("Most confused (true → predicted): {pairs}.").format(pairs=pairs))


def confusion(evaluation: Evaluation, choice: ModelChoice) -> tuple[int, int] | None:
    """The clickable confusion matrix; the (true, predicted) cell clicked, if any."""
    st.subheader(_("Confusion matrix"))
    event = st.altair_chart(
        confusion_chart(evaluation.confusion),
        width="stretch",
        on_select="rerun",
        # One selection per model: a click made on one model's matrix never applies to another.
        key=keyed_to("evaluate.confusion", choice.key),
    )
    st.caption(
        _("Rows: true digit; columns: the model's prediction. Click a cell to see its images.")
    )
    cells = (event or {}).get("selection", {}).get(SELECTION, [])
    return (int(cells[0]["true"]), int(cells[0]["predicted"])) if cells else None


def cell(probs: np.ndarray, true: int, predicted: int) -> None:
    """The test images of one cell of the confusion matrix, the most confident first."""
    ds = dataset()
    idx = cell_images(ds.test_labels, probs, true, predicted)
    if true == predicted:
        heading = ngettext(
            "{n} test image of {true} recognised", "{n} test images of {true} recognised", len(idx)
        )
    else:
        heading = ngettext(
            "{n} test image of {true} taken for {predicted}",
            "{n} test images of {true} taken for {predicted}",
            len(idx),
        )
    st.subheader(heading.format(n=i18n.number(len(idx)), true=true, predicted=predicted))
    shown = idx[:CELL_IMAGES]
    captions = [f"#{i} · {percent(probs[i, predicted])}" for i in shown]
    digit_grid(ds.test_images[shown], captions, scale=3)
    if len(idx) > len(shown):
        note = _(
            "The {shown} most confident of {total}. Caption: the test image's number · the "
            "model's confidence in {predicted}."
        )
    else:
        note = _("Caption: the test image's number · the model's confidence in {predicted}.")
    st.caption(note.format(shown=len(shown), total=i18n.number(len(idx)), predicted=predicted))
    if len(shown):
        why_link(
            [int(i) for i in shown],
            lambda i: f"#{i} · {percent(probs[i, predicted])}",
            f"evaluate.why.{true}.{predicted}",
        )


def mistakes(evaluation: Evaluation) -> None:
    st.subheader(_("The most confident mistakes"))
    top = evaluation.mistakes[:MISTAKES]
    if not top:
        st.success(_("No mistakes on the test set."))
        return
    digit_grid(
        dataset().test_images[[m.index for m in top]],
        [f"{m.true} → {m.predicted} ({percent(m.confidence)})" for m in top],
        scale=3,
    )
    st.caption(
        _(
            "Caption: true digit → prediction (the model's confidence). Some MNIST labels "
            "are themselves debatable."
        )
    )
    described = {m.index: f"#{m.index}: {m.true} → {m.predicted} ({percent(m.confidence)})"
                 for m in top}  # fmt: skip
    why_link(list(described), described.__getitem__, "evaluate.why.mistakes")


def why_link(indices: list[int], describe, key: str) -> None:
    """Pick one of the test images shown above and open it on the Inside page."""
    looked_at = (st.session_state.get(INSIDE_INPUT) or {}).get("index")
    start = indices.index(looked_at) if looked_at in indices else 0  # back from Inside
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    index = left.selectbox(_("Why did the network answer that?"), indices, index=start,
                           format_func=describe, key=key)  # fmt: skip
    if right.button(_("Why? Look inside"), icon=":material/neurology:", key=f"{key}.go"):
        look_inside(index=index)


def downloads(evaluation: Evaluation, choice: ModelChoice) -> None:
    st.subheader(_("Downloads"))
    d1, d2, d3 = st.columns(3)
    d1.download_button(
        _("Model (.keras)"),
        choice.path.read_bytes(),
        file_name=choice.path.name,
        mime="application/octet-stream",
        icon=":material/download:",
    )
    d2.download_button(
        _("Per-class metrics (CSV)"),
        evaluation.per_class_csv(),
        file_name="per_class.csv",
        mime="text/csv",
        icon=":material/download:",
    )
    d3.download_button(
        _("Full evaluation (JSON)"),
        json.dumps(evaluation.to_dict(), indent=1),
        file_name="evaluation.json",
        mime="application/json",
        icon=":material/download:",
    )
