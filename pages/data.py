"""Data: split sizes, class balance, example digits, the mean digit, pixel statistics."""

import streamlit as st

from mnist import i18n
from mnist.charts import class_counts_chart, pixel_histogram_chart
from mnist.data import sample_indices
from mnist.i18n import _
from mnist.ui import dataset, dataset_stats, digit_grid, page_header, require_router

require_router("pages/data.py")

page_header(
    _("Data"), _("MNIST: 70,000 handwritten digits, 28×28 pixels, 0 (black) to 255 (white).")
)
st.session_state.setdefault("data.seed", 0)
st.session_state.setdefault("data.digits", [])

ds = dataset()
stats = dataset_stats()
sizes = stats["sizes"]

c1, c2, c3 = st.columns(3)
c1.metric(_("Training"), i18n.number(sizes["train"]), help=_("Images the model learns from."))
c2.metric(
    _("Validation"),
    i18n.number(sizes["validation"]),
    help=_(
        "Held out of the 60,000 training images (stratified, seed 0) to watch "
        "overfitting during training."
    ),
)
c3.metric(
    _("Test"),
    i18n.number(sizes["test"]),
    help=_("The separate 10,000-image test set, used only to evaluate."),
)


def reshuffle() -> None:
    st.session_state["data.seed"] += 1


st.subheader(_("Examples"))
left, right = st.columns([4, 1], vertical_alignment="bottom")
digits = left.pills(
    _("Digits to show"),
    list(range(10)),
    selection_mode="multi",
    key="data.digits_widget",
    default=st.session_state["data.digits"],
    help=_("None selected: all digits."),
)
st.session_state["data.digits"] = digits
right.button(_("Reshuffle"), icon=":material/shuffle:", width="stretch", on_click=reshuffle)
idx = sample_indices(ds.train_labels, 20, digits, seed=st.session_state["data.seed"])
digit_grid(
    ds.train_images[idx],
    [_("label {digit}").format(digit=ds.train_labels[i]) for i in idx],
    scale=3,
)

st.subheader(_("How many of each digit"))
st.altair_chart(class_counts_chart(stats["counts"]), width="stretch")
train_counts = stats["counts"]["train"]
few, many = train_counts.index(min(train_counts)), train_counts.index(max(train_counts))
st.caption(
    _(
        "The classes are close to balanced: the rarest training digit, {few}, has {few_count} "
        "images; the commonest, {many}, has {many_count}."
    ).format(
        few=few,
        few_count=i18n.number(train_counts[few]),
        many=many,
        many_count=i18n.number(train_counts[many]),
    )
)

st.subheader(_("The average digit"))
digit_grid(stats["mean_images"].astype("uint8"), [str(d) for d in range(10)], scale=3)
st.caption(_("Each image is the pixel-wise mean of every training image of that digit."))

st.subheader(_("Pixel intensities"))
counts, edges = stats["histogram"]
st.altair_chart(pixel_histogram_chart(counts, edges), width="stretch")
st.caption(
    _(
        "Training set: {ink} of pixels carry ink (above 0); the mean intensity is {mean} of 255."
    ).format(ink=i18n.percent(stats["ink_share"], 1), mean=i18n.number(stats["mean_intensity"], 1))
)
