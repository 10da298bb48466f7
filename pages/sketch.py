"""Sketch: draw or upload a digit, see the 28×28 input the network gets and its answer."""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from mnist.charts import probability_chart
from mnist.sketch import EmptySketch, SketchError, classify, open_image, preprocess
from mnist.ui import current_model_choice, model_for, page_header, require_router, show_error
from mnist.ui.widgets import to_display

require_router("pages/sketch.py")

CANVAS_SIDE = 280  # 10× MNIST's 28 pixels
DRAW, UPLOAD = "Draw", "Upload an image"

page_header(
    "Sketch a digit",
    "Draw with the mouse (or a finger), or upload a photo of a "
    "digit: the network answers when you lift the pen.",
)
st.session_state.setdefault("sketch.canvas_id", 0)  # bumped by Clear: a fresh canvas
st.session_state.setdefault("sketch.stroke", 22)
st.session_state.setdefault("sketch.source", DRAW)

choice = current_model_choice()
if choice.note:
    st.warning(choice.note, icon=":material/warning:")
if not choice.path.is_file():
    show_error(f"No model file at {choice.path}. Train a run on the Training page.")
    st.stop()
st.caption(f"Model: **{choice.label}**.")


def clear() -> None:
    st.session_state["sketch.canvas_id"] += 1


def remember(key: str, widget: str) -> None:
    st.session_state[key] = st.session_state[widget]


source = (
    st.segmented_control(
        "Input",
        [DRAW, UPLOAD],
        default=st.session_state["sketch.source"],
        key="sketch.source_w",
        on_change=remember,
        args=("sketch.source", "sketch.source_w"),
    )
    or DRAW
)


pad, canvas_col, input_col, answer_col = st.columns([0.05, 1.2, 0.8, 1.6], gap="medium")
image = None
with canvas_col:
    if source == DRAW:
        stroke = st.slider(
            "Stroke width",
            8,
            40,
            st.session_state["sketch.stroke"],
            key="sketch.stroke_w",
            on_change=remember,
            args=("sketch.stroke", "sketch.stroke_w"),
        )
        result = st_canvas(
            stroke_width=stroke,
            stroke_color="#FFFFFF",
            background_color="#000000",
            height=CANVAS_SIDE,
            width=CANVAS_SIDE,
            drawing_mode="freedraw",
            return_image_data=True,
            key=f"sketch.canvas.{st.session_state['sketch.canvas_id']}",
        )
        st.button("Clear", icon=":material/ink_eraser:", on_click=clear)
        image = result.image_data
    else:
        upload = st.file_uploader(
            "PNG or JPEG, up to 5 MB", type=["png", "jpg", "jpeg"], key="sketch.upload"
        )
        if upload is not None:
            try:
                image = open_image(upload.getvalue())
            except SketchError as exc:
                show_error(f"{upload.name}: {exc}")
            else:
                st.image(image, caption=upload.name, width=CANVAS_SIDE)

x = None
if image is not None:
    try:
        x = preprocess(image)  # (28, 28, 1) float32
    except EmptySketch:
        x = None
    except SketchError as exc:
        show_error(exc)

with input_col:
    st.markdown("**What the network sees**")
    if x is not None:
        st.image(to_display(x, scale=6), width=28 * 6, output_format="PNG")
        st.caption(
            "28×28: cropped to the ink, fitted in 20×20, centred by mass — as MNIST "
            "digits were made."
        )
    else:
        st.caption("The 28×28 input appears here.")

with answer_col:
    if x is None:
        st.info(
            "Draw a digit on the black square (or upload one) to see what the network thinks.",
            icon=":material/draw:",
        )
    else:
        try:
            probs = classify(model_for(choice.key), x)
        except ValueError as exc:  # a damaged or foreign .keras file
            show_error(f"This model cannot be used: {exc}")
            st.stop()
        digit = int(probs.argmax())
        runner_up = int(probs.argsort()[-2])
        st.metric(
            "Prediction",
            digit,
            f"{probs[digit]:.1%} confident",
            delta_color="off",
            delta_arrow="off",
        )
        st.altair_chart(probability_chart(probs), width="stretch")
        st.caption(f"Runner-up: {runner_up} ({probs[runner_up]:.1%}).")
