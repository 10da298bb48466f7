"""Model: pick a preset or edit the architecture; summary, parameter count and diagram."""

import dataclasses

import streamlit as st

from mnist.config import (
    ACTIVATIONS,
    HEADS,
    INITIALIZERS,
    OPTIMIZERS,
    PADDINGS,
    POOLS,
    PRESETS,
    SCHEDULES,
    ConvBlock,
    ModelConfig,
)
from mnist.ui import get_model_config, model_summary, page_header, require_router, set_model_config
from mnist.ui.state import set_train_config

require_router("pages/model.py")

EDIT = "model.edit."  # prefix of every editor widget key
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
FILTERS = [4, 8, 16, 32, 48, 64, 96, 128]
KERNELS = [1, 3, 5, 7]
CUSTOM = "custom"

page_header(
    "Model",
    "A convolutional network: conv blocks find strokes and shapes, "
    "the dense head turns them into ten probabilities.",
)
st.session_state.setdefault("model.error", None)
config, preset = get_model_config()


def clear_editor() -> None:
    for key in [k for k in st.session_state if str(k).startswith(EDIT)]:
        del st.session_state[key]


def choose_preset() -> None:
    name = st.session_state["model.preset_widget"]
    if name in PRESETS:
        set_model_config(PRESETS[name].model, name)
        set_train_config(PRESETS[name].train)  # the training it was designed for
        st.session_state["model.error"] = None
        clear_editor()


def edited_config() -> ModelConfig:
    """The ModelConfig the editor widgets describe (ValueError if it is invalid)."""
    state = st.session_state
    current, _ = get_model_config()
    blocks = []
    for i in range(state[EDIT + "blocks"]):
        old = current.conv_blocks[i] if i < len(current.conv_blocks) else ConvBlock()
        p = f"{EDIT}b{i}."
        blocks.append(
            dataclasses.replace(
                old,
                filters=state.get(p + "filters", old.filters),
                kernel_size=state.get(p + "kernel", old.kernel_size),
                stride=state.get(p + "stride", old.stride),
                convs=state.get(p + "convs", old.convs),
                padding=state.get(p + "padding", old.padding),
                pool=state.get(p + "pool", old.pool),
                batch_norm=state.get(p + "bn", old.batch_norm),
                dropout=state.get(p + "dropout", old.dropout),
                activation=state.get(p + "activation", old.activation),
            )
        )
    units_text = state.get(EDIT + "dense", "")
    try:
        units = tuple(int(u) for u in units_text.replace(" ", "").split(",") if u)
    except ValueError:
        raise ValueError(
            f"dense units must be whole numbers separated by commas, not {units_text!r}"
        ) from None
    return ModelConfig(
        conv_blocks=tuple(blocks),
        head=state[EDIT + "head"],
        dense_units=units,
        dense_dropout=state[EDIT + "dense_dropout"],
        initializer=state[EDIT + "init"],
        optimizer=state[EDIT + "optimizer"],
        learning_rate=state[EDIT + "lr"],
        lr_schedule=state[EDIT + "schedule"],
    )


def apply_edit() -> None:
    try:
        new = edited_config()
    except ValueError as exc:
        st.session_state["model.error"] = str(exc)
        return
    st.session_state["model.error"] = None
    set_model_config(new, None)


st.segmented_control(
    "Start from a preset",
    [*PRESETS, CUSTOM],
    key="model.preset_widget",
    default=preset or CUSTOM,
    on_change=choose_preset,
    format_func=lambda n: PRESETS[n].title if n in PRESETS else "Custom",
    help="Choosing a preset also sets the Training page to the training it was designed for.",
)

if preset:
    st.caption(PRESETS[preset].description)

editor, summary = st.columns([2, 3], gap="large")

with editor:
    st.subheader("Architecture")
    st.slider(
        "Conv blocks", 1, 4, len(config.conv_blocks), key=EDIT + "blocks", on_change=apply_edit
    )
    tabs = st.tabs([f"Block {i + 1}" for i in range(len(config.conv_blocks))])
    for i, (tab, block) in enumerate(zip(tabs, config.conv_blocks, strict=True)):
        p = f"{EDIT}b{i}."
        with tab:
            a, b = st.columns(2)
            a.select_slider(
                "Filters",
                sorted({*FILTERS, block.filters}),  # a preset may use other widths
                block.filters,
                key=p + "filters",
                on_change=apply_edit,
            )
            b.select_slider(
                "Kernel size",
                sorted({*KERNELS, block.kernel_size}),
                block.kernel_size,
                key=p + "kernel",
                on_change=apply_edit,
            )
            a.number_input("Convolutions", 1, 3, block.convs, key=p + "convs", on_change=apply_edit)
            b.number_input("Stride", 1, 3, block.stride, key=p + "stride", on_change=apply_edit)
            a.selectbox(
                "Padding",
                PADDINGS,
                PADDINGS.index(block.padding),
                key=p + "padding",
                on_change=apply_edit,
            )
            b.selectbox(
                "Pooling (2×2)",
                POOLS,
                POOLS.index(block.pool),
                key=p + "pool",
                on_change=apply_edit,
            )
            a.selectbox(
                "Activation",
                ACTIVATIONS,
                ACTIVATIONS.index(block.activation),
                key=p + "activation",
                on_change=apply_edit,
            )
            b.slider(
                "Dropout", 0.0, 0.5, block.dropout, 0.05, key=p + "dropout", on_change=apply_edit
            )
            st.toggle("Batch normalisation", block.batch_norm, key=p + "bn", on_change=apply_edit)
    st.subheader("Head and optimiser")
    a, b = st.columns(2)
    a.selectbox(
        "Head",
        HEADS,
        HEADS.index(config.head),
        key=EDIT + "head",
        on_change=apply_edit,
        help="flatten: every feature; global_avg: one per channel",
    )
    b.text_input(
        "Dense units",
        ", ".join(map(str, config.dense_units)),
        key=EDIT + "dense",
        on_change=apply_edit,
        placeholder="none",
        help="Hidden dense layers before the softmax, e.g. 128 or 256, 64.",
    )
    a.slider(
        "Dropout before softmax",
        0.0,
        0.7,
        config.dense_dropout,
        0.05,
        key=EDIT + "dense_dropout",
        on_change=apply_edit,
    )
    b.selectbox(
        "Initialiser",
        INITIALIZERS,
        INITIALIZERS.index(config.initializer),
        key=EDIT + "init",
        on_change=apply_edit,
    )
    a.selectbox(
        "Optimizer",
        OPTIMIZERS,
        OPTIMIZERS.index(config.optimizer),
        key=EDIT + "optimizer",
        on_change=apply_edit,
    )
    rates = sorted({*LEARNING_RATES, config.learning_rate})
    b.select_slider(
        "Learning rate",
        rates,
        config.learning_rate,
        key=EDIT + "lr",
        on_change=apply_edit,
        format_func=lambda r: f"{r:g}",
    )
    a.selectbox(
        "Schedule",
        SCHEDULES,
        SCHEDULES.index(config.lr_schedule),
        key=EDIT + "schedule",
        on_change=apply_edit,
        help="cosine: decay to 0 over the planned training steps",
    )

with summary:
    if st.session_state["model.error"]:
        st.error(
            f"That model cannot be built: {st.session_state['model.error']}",
            icon=":material/error:",
        )
        st.caption("Showing the last valid model.")
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

st.subheader("Diagram")
st.graphviz_chart(info["dot"], width="stretch")
st.caption(
    "Built from the Keras model itself: each box is a layer, each edge the shape of "
    "the tensor passing between them (batch axis left out)."
)
