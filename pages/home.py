"""Overview: what the app does, the data and model in use, where to go next. No TensorFlow."""

import streamlit as st

from mnist import runs
from mnist.ui import current_model_choice, data_counts, require_router

require_router("pages/home.py")

st.title("MNIST CNN Studio")
st.markdown(
    "Handwritten-digit recognition with a convolutional network, step by step — the "
    "TensorFlow.js codelab *Handwritten digit recognition with CNNs*, retold in Python: "
    "**look at the data**, **build a model**, **train it** with live charts, **evaluate** it "
    "with per-class accuracy and a confusion matrix, then **sketch a digit** and see what the "
    "network thinks."
)

stats = data_counts()
sizes = stats["sizes"]
choice = current_model_choice()
all_runs, _ = runs.list_runs()
live = [r for r in all_runs if r.is_live]

c1, c2, c3, c4 = st.columns(4)
c1.metric("Training images", f"{sizes['train']:,}")
c2.metric("Validation images", f"{sizes['validation']:,}")
c3.metric("Test images", f"{sizes['test']:,}")
c4.metric(
    "Training runs",
    len(all_runs),
    f"{len(live)} live" if live else None,
    delta_color="off",
    delta_arrow="off",
)

st.subheader("In use now")
checksums = "checksums verified" if stats["verified"] else "checksums not checked"
st.markdown(
    f"- **Data**: MNIST, 28×28 grayscale digits, bundled with the app ({checksums}).\n"
    f"- **Model** for Evaluate and Sketch: {choice.label}."
)
if choice.note:
    st.warning(choice.note)
for run in live:
    st.info(f"Run {run.run_id} is {run.state}.", icon=":material/monitoring:")

st.subheader("Where to go next")
left, right = st.columns(2)
with left:
    st.page_link("pages/data.py", label="Explore the data", icon=":material/grid_view:")
    st.caption("Examples of every digit, class balance, the average digit, pixel statistics.")
    st.page_link("pages/model.py", label="Build a model", icon=":material/account_tree:")
    st.caption("Start from the codelab's CNN or a faster, stronger preset; edit every layer.")
    st.page_link("pages/train.py", label="Train it", icon=":material/monitoring:")
    st.caption("Live loss and accuracy per batch and per epoch; runs survive every click.")
    st.page_link("pages/sweep.py", label="Search the settings", icon=":material/tune:")
    st.caption("Many runs at once on Ray Tune: which learning rate or width wins.")
with right:
    st.page_link("pages/evaluate.py", label="Evaluate", icon=":material/fact_check:")
    st.caption("Test accuracy, per-class table, confusion matrix you can click into.")
    st.page_link("pages/sketch.py", label="Sketch a digit", icon=":material/draw:")
    st.caption("Draw or upload a digit and see the 28×28 input and the ten probabilities.")
    st.page_link("pages/digits.py", label="Teach it your handwriting", icon=":material/edit_note:")
    st.caption("Draw each digit a few times, fine-tune on them, compare before and after.")
    st.page_link("pages/inside.py", label="Look inside", icon=":material/neurology:")
    st.caption("Every layer's maps for one digit, why it got its answer, how fragile it is.")

st.divider()
st.caption(
    "MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges (CC BY-SA 3.0), "
    "a derivative of NIST Special Databases 1 and 3."
)
