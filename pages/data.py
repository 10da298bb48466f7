"""Data: split sizes, class balance, example digits, the mean digit, pixel statistics."""

import streamlit as st

from mnist.charts import class_counts_chart, pixel_histogram_chart
from mnist.data import sample_indices
from mnist.ui import dataset, dataset_stats, digit_grid, page_header, require_router

require_router("pages/data.py")

page_header("Data", "MNIST: 70,000 handwritten digits, 28×28 pixels, 0 (black) to 255 (white).")
st.session_state.setdefault("data.seed", 0)
st.session_state.setdefault("data.digits", [])

ds = dataset()
stats = dataset_stats()
sizes = stats["sizes"]

c1, c2, c3 = st.columns(3)
c1.metric("Training", f"{sizes['train']:,}", help="Images the model learns from.")
c2.metric(
    "Validation",
    f"{sizes['validation']:,}",
    help="Held out of the 60,000 training images (stratified, seed 0) to watch "
    "overfitting during training.",
)
c3.metric(
    "Test", f"{sizes['test']:,}", help="The separate 10,000-image test set, used only to evaluate."
)


def reshuffle() -> None:
    st.session_state["data.seed"] += 1


st.subheader("Examples")
left, right = st.columns([4, 1], vertical_alignment="bottom")
digits = left.pills(
    "Digits to show",
    list(range(10)),
    selection_mode="multi",
    key="data.digits_widget",
    default=st.session_state["data.digits"],
    help="None selected: all digits.",
)
st.session_state["data.digits"] = digits
right.button("Reshuffle", icon=":material/shuffle:", width="stretch", on_click=reshuffle)
idx = sample_indices(ds.train_labels, 20, digits, seed=st.session_state["data.seed"])
digit_grid(ds.train_images[idx], [f"label {ds.train_labels[i]}" for i in idx], scale=3)

st.subheader("How many of each digit")
st.altair_chart(class_counts_chart(stats["counts"]), width="stretch")
train_counts = stats["counts"]["train"]
few, many = train_counts.index(min(train_counts)), train_counts.index(max(train_counts))
st.caption(
    f"The classes are close to balanced: the rarest training digit, {few}, has "
    f"{train_counts[few]:,} images; the commonest, {many}, has {train_counts[many]:,}."
)

st.subheader("The average digit")
digit_grid(stats["mean_images"].astype("uint8"), [str(d) for d in range(10)], scale=3)
st.caption("Each image is the pixel-wise mean of every training image of that digit.")

st.subheader("Pixel intensities")
counts, edges = stats["histogram"]
st.altair_chart(pixel_histogram_chart(counts, edges), width="stretch")
st.caption(
    f"Training set: {stats['ink_share']:.1%} of pixels carry ink (above 0); the mean "
    f"intensity is {stats['mean_intensity']:.1f} of 255."
)
