"""The Inside page's parts: the input, every layer's output, why this answer, how fragile,
and where each digit lives. The arithmetic is ``mnist.explain``'s; this only lays it out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from mnist import explain
from mnist.charts import EMBEDDING_SELECTION, embedding_chart, probability_chart
from mnist.ui.loaders import dataset, embedding, model_for, tsne_job
from mnist.ui.state import INSIDE_DIGIT as DIGIT
from mnist.ui.state import INSIDE_INPUT as INPUT
from mnist.ui.state import ModelChoice
from mnist.ui.widgets import enlarge, keyed_to, percent, show_error, to_display

ANSWERED = "inside.answered"  # the digit the model answered for the current input
SCALE = 6  # 28 px → 168 px on screen
METHODS = {
    "Gradient (saliency)": "How much a tiny change of each pixel would move the score.",
    "SmoothGrad": f"The gradient averaged over {explain.SMOOTHGRAD_SAMPLES} noisy copies of "
    "the input: less speckle.",
    "Integrated gradients": "Each pixel's share of the score gained from a black image to "
    "this one (the shares add up to that gain; blue lowers it).",
    "Grad-CAM": "Which places of the last convolution's maps raised the score.",
    "Occlusion": "How much the score drops when a 7×7 square there is blacked out (blue: "
    "it rises).",
}
IG_STEPS = (16, 32, 64, 128, 256, 512)
TSNE_POLL_SECONDS = 2


def note(title: str, text: str) -> None:
    """A learner's note beside a view: collapsed, in plain words."""
    with st.expander(title, icon=":material/school:"):
        st.markdown(text)


@st.cache_data(max_entries=32, show_spinner=False)
def _stages(key: tuple[str, float], x: np.ndarray) -> list[explain.Stage]:
    return explain.activations(model_for(key), x)


@st.cache_data(max_entries=32, show_spinner="Computing the five maps…")
def _maps(key: tuple[str, float], x: np.ndarray, cls: int, steps: int):
    """The five attribution maps for class ``cls`` (name → (map, signed)) and the integrated
    gradients with their completeness check."""
    model = model_for(key)
    g = explain.gradient_maps(model, x, cls, steps=steps)
    ig = g.integrated
    return {
        "Gradient (saliency)": (g.saliency, False),
        "SmoothGrad": (g.smoothgrad, False),
        "Integrated gradients": (ig.values, True),
        "Grad-CAM": (explain.grad_cam(model, x, cls), False),
        "Occlusion": (explain.occlusion(model, x, cls), True),
    }, ig


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
    note(
        "How the network turns an image into ten probabilities",
        "The image passes through the layers below, one after another; each computes new "
        "maps or numbers from the last one's. The last layer gives each digit a **score** "
        "(a logit); *softmax* turns the ten scores into probabilities that add up to 100 %: "
        "the highest score gets the highest probability. The answer is the digit with the "
        "highest probability — the network always answers, even for a scribble.",
    )
    return probs


def layers(choice: ModelChoice, x: np.ndarray) -> None:
    st.subheader("Layer by layer")
    with st.expander("What the layers do", icon=":material/school:"):
        st.markdown(
            "Each grid below is one layer's output for this input: one small image per "
            "channel (filter), bright where the value is high. After a ReLU, black is 0; "
            "in layers with negative values, black is the most negative and 0 is grey.\n"
            "- A **convolution** slides small filters over its input; each output pixel is "
            "the patch under the filter times the filter's weights, summed, plus a bias. "
            "Each filter makes one map: bright where its pattern is.\n"
            "- **Batch normalisation** rescales each map with statistics learned in "
            "training; **ReLU** keeps the positive values and sets the rest to 0.\n"
            "- **Pooling** (when the model has it) keeps the largest (or average) value of "
            "each 2×2 square: a smaller map that still says *whether* a pattern was there, "
            "less exactly *where*. A convolution with stride 2 shrinks maps the same way.\n"
            "- The **dense** layers weigh every feature; the last turns them into ten "
            "probabilities (softmax).\n\n"
            "The early maps still look like the digit (edges, strokes); deeper ones are "
            "smaller and more abstract: they say which parts are present, not where."
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
    note(
        "How to follow one convolution step",
        "A filter is a small square of weights, learned in training. To compute one pixel "
        "of its output map, lay the filter over the input at that place, multiply each "
        "input pixel by the weight over it, add the products up and add the bias; the "
        "activation (ReLU: negative becomes 0) gives the output. Sliding the filter over "
        "every place makes the whole map. Pick a filter and a place below and check the "
        "sum yourself: it equals the value Keras computed for that pixel.",
    )
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
    if step.activation == "linear":  # batch normalisation and its activation follow
        after = "no activation in this layer (the next ones normalise, then activate)"
    else:
        after = f"after {step.activation}: **{step.output:.4f}**"
    right.markdown(
        f"Sum of the {k * k} products: **{step.products.sum():.4f}**  \n"
        f"plus the bias {step.bias:.4f}: **{step.total:.4f}**  \n"
        f"{after} — the value of output pixel ({row}, {col}) of map {f}."
    )


def why(choice: ModelChoice, x: np.ndarray, probs: np.ndarray) -> None:
    st.subheader("Why this answer")
    note(
        "What these maps do and do not tell",
        "Each map colours the pixels that mattered for one digit's **score** (the number "
        "the last layer gives it before softmax; a probability near 100 % barely moves "
        "when a pixel does, a score still does), each by a different method. They show "
        "where the network looked, not a reason a person would give; methods disagree, "
        "and a map can look convincing for a model that guesses. Pick another digit to "
        "ask *why not that one?*: the maps then show what speaks for it. Integrated "
        "gradients are the most principled: their values add up to the score gained "
        "from a black image — the check under the maps says how closely.",
    )
    top = int(np.argmax(probs))
    shown_for = hash(np.asarray(x, np.float32).tobytes())
    if st.session_state.get("inside.class.for") != shown_for:  # a new input: its answer
        st.session_state.pop("inside.class", None)
        st.session_state["inside.class.for"] = shown_for
    c1, c2 = st.columns([1, 1])
    cls = c1.selectbox(
        "Explain the score of",
        list(range(10)),
        index=top,
        format_func=lambda d: f"{d} ({percent(probs[d])})" + (" — the answer" if d == top else ""),
        key="inside.class",
    )
    steps = c2.select_slider(
        "Integrated gradients: steps along the path",
        IG_STEPS,
        value=explain.IG_STEPS,
        key="inside.steps",
        help="More steps, usually a smaller error, and more time: each step is one more "
        "image through the network and back.",
    )
    maps, ig = _maps(choice.key, x, cls, steps)
    columns = st.columns(len(maps))
    for column, (name, (heat, signed)) in zip(columns, maps.items(), strict=True):
        column.image(enlarge(explain.heat_overlay(x, heat, signed), 5), output_format="PNG")
        column.markdown(f"**{name}**")
        column.caption(METHODS[name])
    st.caption(
        f"Integrated gradients, checked: the shares add up to {ig.values.sum():.3f}; the "
        f"score of {cls} changed by {ig.gain:+.3f} from a black image to this one. "
        f"{ig.gap:.1%} of that is left unaccounted for by {steps} steps (more steps usually "
        "leave less; a digit the network does not answer can need many)."
    )


def fragile(choice: ModelChoice, x: np.ndarray, probs: np.ndarray, label: int | None) -> None:
    st.subheader("How fragile")
    st.caption(
        "The fast gradient sign method nudges every pixel by ε in the direction that most "
        "lowers the probability of the true digit (or of the answer, for a drawing)."
    )
    note(
        "Why a nudge can fool the network",
        "The gradient says, for every pixel, which way would lower the right digit's "
        "probability. Moving *all* 784 pixels a little that way adds up: a change a person "
        "barely sees can flip the answer. Such *adversarial examples* (Goodfellow et al., "
        "2015) show that the network does not see digits the way we do. Training on nudged "
        "images makes a network harder to fool.",
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


def _picked(key: str) -> None:
    event = st.session_state.get(key) or {}
    points = event.get("selection", {}).get(EMBEDDING_SELECTION, [])
    if points:
        st.session_state[INPUT] = {"kind": "test", "index": int(points[0]["index"])}
        st.session_state.pop(DIGIT, None)


PROJECTIONS = {
    "PCA": "principal component analysis: the two directions along which the features differ most",
    "t-SNE": "t-SNE: a map that keeps each digit's nearest neighbours near it",
}


def where_digits_live(choice: ModelChoice) -> None:
    st.subheader("Where each digit lives")
    how = st.radio("Flattened to two dimensions by", list(PROJECTIONS), horizontal=True,
                   key="inside.projection")  # fmt: skip
    st.caption(
        "Each dot is one of the 10,000 test digits, placed by the features the network "
        f"computes just before its answer, flattened by {PROJECTIONS[how]}. Crosses are "
        "mistakes. Point at a dot to see the digit; click it to make it the input above."
    )
    note(
        "Reading this map",
        "Before its last layer the network describes each digit by a list of numbers "
        "(its features). Digits the network finds alike get similar lists. A map can only "
        "show two numbers per digit, so the lists are flattened: **PCA** keeps the two "
        "directions of largest spread (fast, faithful to distances, but clusters overlap); "
        "**t-SNE** moves the dots until each one's nearest neighbours are near it (clear "
        "clusters, but the distances *between* clusters and their sizes mean little). "
        "Mistakes usually sit at the border of two clusters or inside the wrong one.",
    )
    frame = embedding(choice.key)
    if how == "t-SNE":
        job = tsne_job(choice.key)
        if not job.done:
            _wait_for_tsne(choice.key)
            return
        if job.error is not None:
            show_error(f"t-SNE failed: {job.error}")
            if st.button("Try again", key="inside.tsne.retry"):
                tsne_job(choice.key, retry=True)
                st.rerun()
            return
        xy = job.result()
        frame = frame.assign(x=xy[:, 0], y=xy[:, 1])
    # One selection per input: a click on the dot already chosen before still chooses it.
    key = keyed_to("inside.embedding", st.session_state.get(INPUT, {}).get("index"))
    st.altair_chart(embedding_chart(frame), width="stretch",
                    on_select=lambda: _picked(key), key=key)  # fmt: skip


@st.fragment(run_every=TSNE_POLL_SECONDS)
def _wait_for_tsne(key: tuple[str, float]) -> None:
    """A note that the t-SNE runs, until it is done; then the page shows it."""
    job = tsne_job(key)
    if job.done:
        st.rerun()
    st.info(
        f"Placing the 10,000 digits by t-SNE… {job.seconds:.0f} s so far. This takes a while "
        "the first time for each model, and is instant after; the rest of the page works "
        "meanwhile.",
        icon=":material/hourglass_top:",
    )
