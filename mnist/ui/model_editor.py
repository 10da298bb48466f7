"""The Model page's parts: the preset picker, the architecture editor, summary and diagram."""

from __future__ import annotations

import streamlit as st

from mnist.config import ACTIVATIONS, HEADS, INITIALIZERS, PADDINGS, POOLS, PRESETS
from mnist.forms import EDITOR_BLOCKS, model_form, model_from_form
from mnist.ui.drafts import Draft, build_into
from mnist.ui.loaders import model_summary
from mnist.ui.state import (
    MODEL_CONFIG,
    MODEL_ERROR,
    MODEL_PRESET,
    get_model_config,
    model_error,
    set_model_config,
    set_train_config,
)

CUSTOM = "custom"
PRESET_WIDGET = "model.preset"
FILTERS = [4, 8, 16, 32, 48, 64, 96, 128]
KERNELS = [1, 3, 5, 7]
CUSTOM_DESCRIPTION = (
    "Your own model: change any layer below. Training keeps its current settings "
    "(the Training page)."
)


def _draft() -> Draft:
    return Draft("model", lambda: model_form(get_model_config()[0]))


def _edited() -> None:
    """A field changed: the draft describes the session's model now, or says why not."""
    build_into(_draft(), model_from_form, MODEL_CONFIG, MODEL_ERROR)
    st.session_state[MODEL_PRESET] = None  # edited: no longer the preset it came from


def _preset_chosen() -> None:
    name = st.session_state.get(PRESET_WIDGET)
    if name in PRESETS:
        set_model_config(PRESETS[name].model, name)
        set_train_config(PRESETS[name].train)  # the training it was designed for
    elif name == CUSTOM:
        st.session_state[MODEL_PRESET] = None
    # None: the highlighted option was clicked again; the next run highlights it anew.


def preset_picker() -> None:
    """Codelab / Fast / Best / Custom, always showing where the session's model came from."""
    _, preset = get_model_config()
    st.session_state[PRESET_WIDGET] = preset or CUSTOM
    st.segmented_control(
        "Start from a preset",
        [*PRESETS, CUSTOM],
        key=PRESET_WIDGET,
        on_change=_preset_chosen,
        format_func=lambda n: PRESETS[n].title if n in PRESETS else "Custom",
        help="Choosing a preset also sets the Training page to the training it was designed for.",
    )
    st.caption(PRESETS[preset].description if preset else CUSTOM_DESCRIPTION)


def _block_editor(draft: Draft, i: int) -> None:
    p = f"b{i}."
    a, b = st.columns(2)
    a.select_slider(
        "Filters",
        sorted({*FILTERS, draft[p + "filters"]}),  # a preset or run may use other widths
        help="Feature maps the block's convolutions make: each filter finds one pattern.",
        **draft.bind(p + "filters", then=_edited),
    )
    b.select_slider(
        "Kernel size",
        sorted({*KERNELS, draft[p + "kernel_size"]}),
        help="The side of each filter's square window, in pixels.",
        **draft.bind(p + "kernel_size", then=_edited),
    )
    a.number_input(
        "Convolutions",
        1,
        max(3, draft[p + "convs"]),
        help="Convolutions in a row before the block's pooling (VGG-style stacks).",
        **draft.bind(p + "convs", then=_edited),
    )
    b.number_input(
        "Stride",
        1,
        max(3, draft[p + "stride"]),
        help="How far each filter moves per step: 2 halves the map's side.",
        **draft.bind(p + "stride", then=_edited),
    )
    a.selectbox(
        "Padding",
        PADDINGS,
        help="same: keep the map's side; valid: no border, the side shrinks by kernel − 1.",
        **draft.bind(p + "padding", then=_edited),
    )
    b.selectbox(
        "Pooling (2×2)",
        POOLS,
        help="Halves the map's side, keeping the strongest (max) or the mean (avg) response.",
        **draft.bind(p + "pool", then=_edited),
    )
    a.selectbox("Activation", ACTIVATIONS, **draft.bind(p + "activation", then=_edited))
    b.slider(
        "Dropout",
        0.0,
        0.5,
        step=0.05,
        help="Share of the block's outputs switched off at random while training.",
        **draft.bind(p + "dropout", then=_edited),
    )
    st.toggle(
        "Batch normalisation",
        help="Normalise each convolution's output over the batch before the activation.",
        **draft.bind(p + "batch_norm", then=_edited),
    )


def architecture_editor() -> None:
    """Every field of the model, as the draft holds it (valid or not)."""
    draft = _draft()
    st.subheader("Architecture")
    count = draft["blocks"]
    st.slider(
        "Conv blocks",
        1,
        max(EDITOR_BLOCKS, count),
        help="Each block: convolutions, then pooling and dropout.",
        **draft.bind("blocks", then=_edited),
    )
    for i, tab in enumerate(st.tabs([f"Block {i + 1}" for i in range(count)])):
        with tab:
            _block_editor(draft, i)
    st.subheader("Head")
    a, b = st.columns(2)
    a.selectbox(
        "Head",
        HEADS,
        help="flatten: every feature of the last map; global_avg: one average per channel.",
        **draft.bind("head", then=_edited),
    )
    b.text_input(
        "Dense units",
        placeholder="none",
        help="Hidden dense layers before the softmax, e.g. 128 or 256, 64. Empty: none.",
        **draft.bind("dense", then=_edited),
    )
    a.slider(
        "Dropout before softmax",
        0.0,
        0.7,
        step=0.05,
        **draft.bind("dense_dropout", then=_edited),
    )
    b.selectbox(
        "Initialiser",
        INITIALIZERS,
        help="How every conv and dense layer's weights start.",
        **draft.bind("initializer", then=_edited),
    )
    st.caption("The optimiser and learning rate are training settings: see the Training page.")


def summary_panel() -> dict:
    """Parameter counts and the layer table of the session's model; returns the summary."""
    error = model_error()
    if error:
        st.error(f"That model cannot be built: {error}", icon=":material/error:")
        st.caption("Showing the last valid model, which is also what Training would use.")
    config, _ = get_model_config()
    info = model_summary(config)
    params = info["params"]
    c1, c2, c3 = st.columns(3)
    c1.metric("Parameters", f"{params['total']:,}")
    c2.metric("Trainable", f"{params['trainable']:,}")
    c3.metric(
        "Non-trainable",
        f"{params['non_trainable']:,}",
        help="Batch-norm moving statistics: updated while training, not by gradients.",
    )
    st.dataframe(
        info["rows"],
        hide_index=True,
        width="stretch",
        column_config={
            "name": "Layer",
            "type": "Type",
            "output_shape": "Output shape",
            "params": st.column_config.NumberColumn("Parameters", format="localized"),
        },
    )
    return info


def diagram(info: dict) -> None:
    """The built model as a top-to-bottom diagram, drawn at its own size (legible)."""
    st.subheader("Diagram")
    st.graphviz_chart(info["dot"], width="content")
    st.caption(
        "Built from the Keras model itself: each box is a layer, each arrow the shape of "
        "the tensor passing between them (batch axis left out)."
    )
