"""The Inside page's parts: the input, every layer's output, why this answer, how fragile,
and where each digit lives. The arithmetic is ``mnist.explain``'s; this only lays it out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from mnist import explain, i18n
from mnist.charts import EMBEDDING_SELECTION, embedding_chart, probability_chart
from mnist.i18n import N_, _, ngettext
from mnist.ui.loaders import dataset, embedding, model_for, tsne_job
from mnist.ui.state import INSIDE_DIGIT as DIGIT
from mnist.ui.state import INSIDE_INPUT as INPUT
from mnist.ui.state import ModelChoice
from mnist.ui.widgets import enlarge, keyed_to, percent, show_error, to_display

ANSWERED = "inside.answered"  # the digit the model answered for the current input
SCALE = 6  # 28 px → 168 px on screen
# The five maps: their names (also the keys ``_maps`` returns, in English) and what each shows,
# translated where they are shown.
METHODS = {
    N_("Gradient (saliency)"): N_("How much a tiny change of each pixel would move the score."),
    N_("SmoothGrad"): N_(
        "The gradient averaged over {samples} noisy copies of the input: less speckle."
    ),
    N_("Integrated gradients"): N_(
        "Each pixel's share of the score gained from a black image to this one (the shares "
        "add up to that gain; blue lowers it)."
    ),
    N_("Grad-CAM"): N_("Which places of the last convolution's maps raised the score."),
    N_("Occlusion"): N_(
        "How much the score drops when a 7×7 square there is blacked out (blue: it rises)."
    ),
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


# No spinner of its own: a decorator's text could not be translated (the caller shows one).
@st.cache_data(max_entries=32, show_spinner=False)
def _maps(key: tuple[str, float], x: np.ndarray, cls: int, steps: int):
    """The five attribution maps for class ``cls`` (English name → (map, signed)) and the
    integrated gradients with their completeness check."""
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
    c1.selectbox(_("A test digit"), list(range(10)), key=DIGIT, on_change=_digit_chosen,
                 placeholder=_("choose a digit"))  # fmt: skip
    c2.button(_("Another one"), icon=":material/shuffle:", on_click=_another)
    if state["kind"] == "sketch":
        return state["x"], None, _("your drawing from the Sketch page")
    index = state["index"]
    x = ds.test_images[index].astype(np.float32)[..., None] / 255.0
    label = int(ds.test_labels[index])
    return (
        x,
        label,
        _("test image {index} (a {label})").format(index=i18n.number(index), label=label),
    )


def answer(choice: ModelChoice, x: np.ndarray, label: int | None, what: str) -> np.ndarray:
    model = model_for(choice.key)
    probs = np.asarray(model.predict_on_batch(x[None])[0], np.float32)
    left, right = st.columns([1, 2])
    left.image(to_display(x, SCALE), width=28 * SCALE, caption=what, output_format="PNG")
    top = int(np.argmax(probs))
    st.session_state[ANSWERED] = top
    if label is None:
        said = _("The network answers **{answer}** ({probability}).")
    elif top == label:
        said = _("The network answers **{answer}** ({probability}) — right.")
    else:
        said = _("The network answers **{answer}** ({probability}) — wrong, it is a {label}.")
    right.markdown(said.format(answer=top, probability=percent(probs[top]), label=label))
    right.altair_chart(probability_chart(probs), width="stretch")
    note(
        _("How the network turns an image into ten probabilities"),
        _(
            "The image passes through the layers below, one after another; each computes new "
            "maps or numbers from the last one's. The last layer gives each digit a **score** "
            "(a logit); *softmax* turns the ten scores into probabilities that add up to "
            "100 %: the highest score gets the highest probability. The answer is the digit "
            "with the highest probability — the network always answers, even for a scribble."
        ),
    )
    return probs


def layers(choice: ModelChoice, x: np.ndarray) -> None:
    st.subheader(_("Layer by layer"))
    with st.expander(_("What the layers do"), icon=":material/school:"):
        st.markdown(
            _(
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
        )
    for stage in _stages(choice.key, x):
        shape = "×".join(map(str, stage.values.shape))
        low, high = float(stage.values.min()), float(stage.values.max())
        st.markdown(
            _("**{name}** · {kind} · {shape} · values {low} to {high}").format(
                name=stage.name, kind=stage.kind, shape=shape, low=f"{low:.3g}", high=f"{high:.3g}"
            )
        )
        if stage.is_map:
            side = stage.values.shape[0]
            grid = explain.tile(stage.values, columns=16 if side <= 8 else 8)
            scale = max(1, 96 // side) if side <= 8 else 3
            st.image(enlarge(grid, scale), output_format="PNG")
        else:
            unit, value = _("unit"), _("value")  # the chart's axes
            frame = pd.DataFrame({unit: np.arange(len(stage.values)), value: stage.values})
            st.bar_chart(frame, x=unit, y=value, height=160)


def first_convolution(choice: ModelChoice, x: np.ndarray) -> None:
    model = model_for(choice.key)
    conv = explain.first_conv_layer(model)
    kernels = np.asarray(conv.get_weights()[0])[..., 0, :]  # (k, k, filters)
    st.subheader(_("The first convolution, by hand ({layer})").format(layer=conv.name))
    note(
        _("How to follow one convolution step"),
        _(
            "A filter is a small square of weights, learned in training. To compute one pixel "
            "of its output map, lay the filter over the input at that place, multiply each "
            "input pixel by the weight over it, add the products up and add the bias; the "
            "activation (ReLU: negative becomes 0) gives the output. Sliding the filter over "
            "every place makes the whole map. Pick a filter and a place below and check the "
            "sum yourself: it equals the value Keras computed for that pixel."
        ),
    )
    n = kernels.shape[-1]
    st.caption(
        ngettext("Its {n} filter, {h}×{w}:", "Its {n} filters, {h}×{w} each:", n).format(
            n=i18n.number(n), h=kernels.shape[0], w=kernels.shape[1]
        )
    )
    st.image(enlarge(explain.tile(kernels, columns=16, gap=1), 8), output_format="PNG")
    side = conv.output.shape[1]
    c1, c2, c3 = st.columns(3)
    f = c1.number_input(_("Filter"), 0, kernels.shape[-1] - 1, 0, key="inside.filter")
    row = c2.slider(_("Output row"), 0, side - 1, side // 2, key="inside.row")
    col = c3.slider(_("Output column"), 0, side - 1, side // 2, key="inside.col")
    step = explain.conv_step(model, x, int(f), int(row), int(col))
    k = step.kernel.shape[0]
    cells = pd.DataFrame(
        {
            _("input"): step.patch.ravel(),
            _("weight"): step.kernel.ravel(),
            _("input × weight"): step.products.ravel(),
        },
        index=[f"({i}, {j})" for i in range(k) for j in range(k)],
    )
    left, right = st.columns([1, 1])
    left.dataframe(cells.style.format("{:.3f}"), height=260)
    if step.activation == "linear":  # batch normalisation and its activation follow
        after = _(
            "no activation in this layer (the next ones normalise, then activate) — the value "
            "of output pixel ({row}, {col}) of map {filter}."
        )
    else:
        after = _(
            "after {activation}: **{output}** — the value of output pixel ({row}, {col}) of "
            "map {filter}."
        )
    lines = [
        _("Sum of the {count} products: **{sum}**").format(
            count=k * k, sum=i18n.number(step.products.sum(), 4)
        ),
        _("plus the bias {bias}: **{total}**").format(
            bias=i18n.number(step.bias, 4), total=i18n.number(step.total, 4)
        ),
        after.format(
            activation=step.activation,
            output=i18n.number(step.output, 4),
            row=row,
            col=col,
            filter=f,
        ),
    ]
    right.markdown("  \n".join(lines))


def why(choice: ModelChoice, x: np.ndarray, probs: np.ndarray) -> None:
    st.subheader(_("Why this answer"))
    note(
        _("What these maps do and do not tell"),
        _(
            "Each map colours the pixels that mattered for one digit's **score** (the number "
            "the last layer gives it before softmax; a probability near 100 % barely moves "
            "when a pixel does, a score still does), each by a different method. They show "
            "where the network looked, not a reason a person would give; methods disagree, "
            "and a map can look convincing for a model that guesses. Pick another digit to "
            "ask *why not that one?*: the maps then show what speaks for it. Integrated "
            "gradients are the most principled: their values add up to the score gained "
            "from a black image — the check under the maps says how closely."
        ),
    )
    top = int(np.argmax(probs))
    shown_for = hash(np.asarray(x, np.float32).tobytes())
    if st.session_state.get("inside.class.for") != shown_for:  # a new input: its answer
        st.session_state.pop("inside.class", None)
        st.session_state["inside.class.for"] = shown_for
    c1, c2 = st.columns([1, 1])
    # Labels made here, in the session's language: a format_func may also be called outside
    # the script run (AppTest does), where ``_()`` would speak English.
    labels = {
        d: (
            _("{digit} ({probability}) — the answer") if d == top else "{digit} ({probability})"
        ).format(digit=d, probability=percent(probs[d]))
        for d in range(10)
    }
    cls = c1.selectbox(
        _("Explain the score of"),
        list(range(10)),
        index=top,
        format_func=labels.__getitem__,
        key="inside.class",
    )
    steps = c2.select_slider(
        _("Integrated gradients: steps along the path"),
        IG_STEPS,
        value=explain.IG_STEPS,
        key="inside.steps",
        help=_(
            "More steps, usually a smaller error, and more time: each step is one more image "
            "through the network and back."
        ),
    )
    with st.spinner(_("Computing the five maps…")):
        maps, ig = _maps(choice.key, x, cls, steps)
    columns = st.columns(len(maps))
    for column, (name, (heat, signed)) in zip(columns, maps.items(), strict=True):
        column.image(enlarge(explain.heat_overlay(x, heat, signed), 5), output_format="PNG")
        column.markdown(f"**{_(name)}**")
        column.caption(_(METHODS[name]).format(samples=explain.SMOOTHGRAD_SAMPLES))
    st.caption(
        _(
            "Integrated gradients, checked: the shares add up to {total}; the score of {digit} "
            "changed by {gain} from a black image to this one. {gap} of that is left "
            "unaccounted for by {steps} steps (more steps usually leave less; a digit the "
            "network does not answer can need many)."
        ).format(
            total=i18n.number(ig.values.sum(), 3),
            digit=cls,
            gain=("+" if ig.gain >= 0 else "") + i18n.number(ig.gain, 3),
            gap=i18n.percent(ig.gap, 1),
            steps=i18n.number(steps),
        )
    )


def fragile(choice: ModelChoice, x: np.ndarray, probs: np.ndarray, label: int | None) -> None:
    st.subheader(_("How fragile"))
    st.caption(
        _(
            "The fast gradient sign method nudges every pixel by ε in the direction that most "
            "lowers the probability of the true digit (or of the answer, for a drawing)."
        )
    )
    note(
        _("Why a nudge can fool the network"),
        _(
            "The gradient says, for every pixel, which way would lower the right digit's "
            "probability. Moving *all* 784 pixels a little that way adds up: a change a person "
            "barely sees can flip the answer. Such *adversarial examples* (Goodfellow et al., "
            "2015) show that the network does not see digits the way we do. Training on nudged "
            "images makes a network harder to fool."
        ),
    )
    epsilon = st.slider(_("ε (largest change of any pixel, 0–1)"), 0.0, 0.3, 0.1, 0.01,
                        key="inside.epsilon")  # fmt: skip
    model = model_for(choice.key)
    target = int(np.argmax(probs)) if label is None else label
    nudged = explain.fgsm(model, x, target, epsilon)
    after = np.asarray(model.predict_on_batch(nudged[None])[0])
    left, right = st.columns([1, 2])
    left.image(to_display(nudged, SCALE), width=28 * SCALE, output_format="PNG",
               caption=_("largest change {change}").format(
                   change=i18n.number(np.abs(nudged - x).max(), 2)))  # fmt: skip
    new = int(np.argmax(after))
    right.markdown(
        _(
            "Now the answer is **{answer}** ({probability}); the probability of {digit} went "
            "from {before} to {after}."
        ).format(
            answer=new,
            probability=percent(after[new]),
            digit=target,
            before=percent(probs[target]),
            after=percent(after[target]),
        )
    )
    right.altair_chart(probability_chart(after), width="stretch")


def _picked(key: str) -> None:
    event = st.session_state.get(key) or {}
    points = event.get("selection", {}).get(EMBEDDING_SELECTION, [])
    if points:
        st.session_state[INPUT] = {"kind": "test", "index": int(points[0]["index"])}
        st.session_state.pop(DIGIT, None)


# The two flattenings: the radio's value (kept English) → its label and the map's caption.
PROJECTIONS = {
    "PCA": (
        N_("PCA"),
        N_(
            "Each dot is one of the 10,000 test digits, placed by the features the network "
            "computes just before its answer, flattened by principal component analysis: the "
            "two directions along which the features differ most. Crosses are mistakes. Point "
            "at a dot to see the digit; click it to make it the input above."
        ),
    ),
    "t-SNE": (
        N_("t-SNE"),
        N_(
            "Each dot is one of the 10,000 test digits, placed by the features the network "
            "computes just before its answer, flattened by t-SNE: a map that keeps each digit's "
            "nearest neighbours near it. Crosses are mistakes. Point at a dot to see the "
            "digit; click it to make it the input above."
        ),
    ),
}


def where_digits_live(choice: ModelChoice) -> None:
    st.subheader(_("Where each digit lives"))
    names = {p: _(name) for p, (name, _caption) in PROJECTIONS.items()}  # see ``why``
    how = st.radio(_("Flattened to two dimensions by"), list(PROJECTIONS), horizontal=True,
                   format_func=names.__getitem__, key="inside.projection")  # fmt: skip
    st.caption(_(PROJECTIONS[how][1]))
    note(
        _("Reading this map"),
        _(
            "Before its last layer the network describes each digit by a list of numbers "
            "(its features). Digits the network finds alike get similar lists. A map can only "
            "show two numbers per digit, so the lists are flattened: **PCA** keeps the two "
            "directions of largest spread (fast, faithful to distances, but clusters overlap); "
            "**t-SNE** moves the dots until each one's nearest neighbours are near it (clear "
            "clusters, but the distances *between* clusters and their sizes mean little). "
            "Mistakes usually sit at the border of two clusters or inside the wrong one."
        ),
    )
    frame = embedding(choice.key)
    if how == "t-SNE":
        job = tsne_job(choice.key)
        if not job.done:
            _wait_for_tsne(choice.key)
            return
        if job.error is not None:
            show_error(_("t-SNE failed: {error}").format(error=job.error))
            if st.button(_("Try again"), key="inside.tsne.retry"):
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
        _(
            "Placing the 10,000 digits by t-SNE… {seconds} s so far. This takes a while the "
            "first time for each model, and is instant after; the rest of the page works "
            "meanwhile."
        ).format(seconds=i18n.number(job.seconds, 0)),
        icon=":material/hourglass_top:",
    )
