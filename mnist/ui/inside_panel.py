"""The Inside page's parts: the input, every layer's output, why this answer, how fragile,
and where each digit lives. The arithmetic is ``mnist.explain``'s; this only lays it out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from mnist import explain
from mnist.charts import EMBEDDING_SELECTION, embedding_chart, probability_chart
from mnist.ui.loaders import dataset, embedding, model_for
from mnist.ui.state import ModelChoice
from mnist.ui.widgets import enlarge, percent, to_display

INPUT = "inside.input"  # {"kind": "test", "index": i} or {"kind": "sketch", "x": (28, 28, 1)}
DIGIT = "inside.digit"
ANSWERED = "inside.answered"  # the digit the model answered for the current input
SCALE = 6  # 28 px → 168 px on screen
METHODS = {
    "Gradient (saliency)": "How much a tiny change of each pixel would move the probability.",
    "SmoothGrad": "The gradient averaged over 32 noisy copies of the input: less speckle.",
    "Integrated gradients": "Each pixel's share of the probability gained from a black image "
    "to this one (the shares add up to that gain; blue lowers it).",
    "Grad-CAM": "Which places of the last convolution's maps raised the probability.",
    "Occlusion": "How much the probability drops when a 6×6 square there is blacked out.",
}


@st.cache_data(max_entries=32, show_spinner=False)
def _stages(key: tuple[str, float], x: np.ndarray) -> list[explain.Stage]:
    return explain.activations(model_for(key), x)


@st.cache_data(max_entries=32, show_spinner="Computing the five maps…")
def _maps(key: tuple[str, float], x: np.ndarray, cls: int) -> dict:
    """The five attribution maps for class ``cls``: name → (map, signed)."""
    model = model_for(key)
    return {
        "Gradient (saliency)": (explain.saliency(model, x, cls), False),
        "SmoothGrad": (explain.smoothgrad(model, x, cls), False),
        "Integrated gradients": (explain.integrated_gradients(model, x, cls), True),
        "Grad-CAM": (explain.grad_cam(model, x, cls), False),
        "Occlusion": (explain.occlusion(model, x, cls), True),
    }


def show_input(x: np.ndarray | None, index: int | None) -> None:
    """Make test image ``index`` (or a drawing ``x``) the page's input (a "Why?" link)."""
    if x is None:
        st.session_state[INPUT] = {"kind": "test", "index": index}
        st.session_state.pop(DIGIT, None)  # shows that test digit's class
    else:
        st.session_state[INPUT] = {"kind": "sketch", "x": np.asarray(x, np.float32)}
        st.session_state[DIGIT] = None  # no test digit chosen


def _test_index(digit: int, nth: int) -> int:
    labels = dataset().test_labels
    of_digit = np.flatnonzero(labels == digit)
    return int(of_digit[nth % len(of_digit)])


def _another() -> None:
    current = st.session_state.get(INPUT) or {}
    nth = current.get("nth", 0) + 1
    digit = st.session_state.get(DIGIT)
    if digit is None:  # from a drawing: a test digit of the class the model answered
        digit = st.session_state.get(ANSWERED, 0)
        st.session_state[DIGIT] = digit
    st.session_state[INPUT] = {"kind": "test", "index": _test_index(digit, nth), "nth": nth}


def _digit_chosen() -> None:
    if st.session_state[DIGIT] is not None:
        st.session_state[INPUT] = {"kind": "test", "index": _test_index(st.session_state[DIGIT], 0)}


def choose_input() -> tuple[np.ndarray, int | None, str]:
    """The input (28, 28, 1), its true label if known, and what it is; chosen on the page or
    by a "Why?" link. Opens on a test digit, so the page is never empty."""
    state = st.session_state.get(INPUT) or {"kind": "test", "index": _test_index(3, 0)}
    st.session_state[INPUT] = state
    ds = dataset()
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    if state["kind"] == "test":
        st.session_state.setdefault(DIGIT, int(ds.test_labels[state["index"]]))
    c1.selectbox("A test digit", list(range(10)), key=DIGIT, on_change=_digit_chosen,
                 placeholder="choose a digit")  # fmt: skip
    c2.button("Another one", icon=":material/shuffle:", on_click=_another)
    if state["kind"] == "sketch":
        return state["x"], None, "your drawing from the Sketch page"
    index = state["index"]
    x = ds.test_images[index].astype(np.float32)[..., None] / 255.0
    label = int(ds.test_labels[index])
    return x, label, f"test image {index:,} (a {label})"


def answer(choice: ModelChoice, x: np.ndarray, label: int | None, what: str) -> np.ndarray:
    model = model_for(choice.key)
    probs = np.asarray(model.predict_on_batch(x[None])[0], np.float32)
    left, right = st.columns([1, 2])
    left.image(to_display(x, SCALE), width=28 * SCALE, caption=what, output_format="PNG")
    top = int(np.argmax(probs))
    st.session_state[ANSWERED] = top
    verdict = ""
    if label is not None:
        verdict = " — right" if top == label else f" — wrong, it is a {label}"
    right.markdown(f"The network answers **{top}** ({percent(probs[top])}){verdict}.")
    right.altair_chart(probability_chart(probs), width="stretch")
    return probs


def layers(choice: ModelChoice, x: np.ndarray) -> None:
    st.subheader("Layer by layer")
    with st.expander("What the layers do"):
        st.markdown(
            "- A **convolution** slides small filters over its input; each output pixel is "
            "the patch under the filter times the filter's weights, summed, plus a bias. "
            "Each filter makes one map: bright where its pattern is.\n"
            "- **Batch normalisation** rescales each map with statistics learned in "
            "training; **ReLU** keeps the positive values and sets the rest to 0.\n"
            "- **Pooling** keeps the largest (or average) value of each 2×2 square: a smaller "
            "map that still says *whether* a pattern was there, less exactly *where*.\n"
            "- The **dense** layers weigh every feature; the last turns them into ten "
            "probabilities (softmax)."
        )
    for stage in _stages(choice.key, x):
        shape = "×".join(map(str, stage.values.shape))
        low, high = float(stage.values.min()), float(stage.values.max())
        st.markdown(f"**{stage.name}** · {stage.kind} · {shape} · values {low:.3g} to {high:.3g}")
        if stage.is_map:
            side = stage.values.shape[0]
            grid = explain.tile(stage.values, columns=16 if side <= 8 else 8)
            scale = max(1, 96 // side) if side <= 8 else 3
            st.image(enlarge(grid, scale), output_format="PNG")
        else:
            frame = pd.DataFrame({"unit": np.arange(len(stage.values)), "value": stage.values})
            st.bar_chart(frame, x="unit", y="value", height=160)


def first_convolution(choice: ModelChoice, x: np.ndarray) -> None:
    model = model_for(choice.key)
    conv = explain.first_conv_layer(model)
    kernels = np.asarray(conv.get_weights()[0])[..., 0, :]  # (k, k, filters)
    st.subheader(f"The first convolution, by hand ({conv.name})")
    st.caption(f"Its {kernels.shape[-1]} filters, {kernels.shape[0]}×{kernels.shape[1]} each:")
    st.image(enlarge(explain.tile(kernels, columns=16, gap=1), 8), output_format="PNG")
    side = conv.output.shape[1]
    c1, c2, c3 = st.columns(3)
    f = c1.number_input("Filter", 0, kernels.shape[-1] - 1, 0, key="inside.filter")
    row = c2.slider("Output row", 0, side - 1, side // 2, key="inside.row")
    col = c3.slider("Output column", 0, side - 1, side // 2, key="inside.col")
    step = explain.conv_step(model, x, int(f), int(row), int(col))
    k = step.kernel.shape[0]
    cells = pd.DataFrame(
        {
            "input": step.patch.ravel(),
            "weight": step.kernel.ravel(),
            "input × weight": step.products.ravel(),
        },
        index=[f"({i}, {j})" for i in range(k) for j in range(k)],
    )
    left, right = st.columns([1, 1])
    left.dataframe(cells.style.format("{:.3f}"), height=260)
    right.markdown(
        f"Sum of the {k * k} products: **{step.products.sum():.4f}**  \n"
        f"+ bias {step.bias:.4f} = **{step.total:.4f}**  \n"
        f"after {step.activation}: **{step.output:.4f}** — the value of output pixel "
        f"({row}, {col}) of map {f}."
    )


def why(choice: ModelChoice, x: np.ndarray, probs: np.ndarray) -> None:
    st.subheader("Why this answer")
    with st.expander("What these maps do and do not tell"):
        st.markdown(
            "Each map colours the pixels that mattered for one digit's probability, by a "
            "different method. They show where the network looked, not a reason a person "
            "would give; methods disagree, and a map can look convincing for a model that "
            "guesses. Integrated gradients are the most principled: their values add up to "
            "the probability gained from a black image."
        )
    top = int(np.argmax(probs))
    cls = st.selectbox(
        "Explain the probability of",
        list(range(10)),
        index=top,
        format_func=lambda d: f"{d} ({percent(probs[d])})" + (" — the answer" if d == top else ""),
        key="inside.class",
    )
    maps = _maps(choice.key, x, cls)
    columns = st.columns(len(maps))
    for column, (name, (heat, signed)) in zip(columns, maps.items(), strict=True):
        column.image(enlarge(explain.heat_overlay(x, heat, signed), 5), output_format="PNG")
        column.markdown(f"**{name}**")
        column.caption(METHODS[name])


def fragile(choice: ModelChoice, x: np.ndarray, probs: np.ndarray, label: int | None) -> None:
    st.subheader("How fragile")
    st.caption(
        "The fast gradient sign method nudges every pixel by ε in the direction that most "
        "lowers the probability of the true digit (or of the answer, for a drawing)."
    )
    epsilon = st.slider("ε (largest change of any pixel, 0–1)", 0.0, 0.3, 0.1, 0.01,
                        key="inside.epsilon")  # fmt: skip
    model = model_for(choice.key)
    target = int(np.argmax(probs)) if label is None else label
    nudged = explain.fgsm(model, x, target, epsilon)
    after = np.asarray(model.predict_on_batch(nudged[None])[0])
    left, right = st.columns([1, 2])
    left.image(to_display(nudged, SCALE), width=28 * SCALE, output_format="PNG",
               caption=f"largest change {np.abs(nudged - x).max():.2f}")  # fmt: skip
    new = int(np.argmax(after))
    right.markdown(
        f"Now the answer is **{new}** ({percent(after[new])}); the probability of {target} "
        f"went from {percent(probs[target])} to {percent(after[target])}."
    )
    right.altair_chart(probability_chart(after), width="stretch")


def _picked() -> None:
    event = st.session_state.get("inside.embedding") or {}
    points = event.get("selection", {}).get(EMBEDDING_SELECTION, [])
    if points:
        st.session_state[INPUT] = {"kind": "test", "index": int(points[0]["index"])}


def where_digits_live(choice: ModelChoice) -> None:
    st.subheader("Where each digit lives")
    st.caption(
        "Each dot is one of the 10,000 test digits, placed by the features the network "
        "computes just before its answer, flattened to two dimensions by principal component "
        "analysis (the two directions along which they differ most). Crosses are mistakes. "
        "Click a dot to make that digit the input above."
    )
    frame = embedding(choice.key)
    st.altair_chart(embedding_chart(frame), width="stretch", on_select=_picked,
                    key="inside.embedding")  # fmt: skip
