"""The Model page's parts: the preset picker, the architecture editor, summary and diagram."""

from __future__ import annotations

import streamlit as st

from mnist import i18n
from mnist.config import ACTIVATIONS, HEADS, INITIALIZERS, PADDINGS, POOLS, PRESETS
from mnist.forms import EDITOR_BLOCKS, model_form, model_from_form
from mnist.i18n import N_, _, pgettext
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
from mnist.ui.widgets import in_this_language

CUSTOM = "custom"
PRESET_WIDGET = "model.preset"
FILTERS = [4, 8, 16, 32, 48, 64, 96, 128]
KERNELS = [1, 3, 5, 7]
CUSTOM_DESCRIPTION = N_(
    "Your own model: change any layer below. Training keeps its current settings "
    "(the Training page)."
)


def _preset_title(name: str) -> str:
    return _(PRESETS[name].title) if name in PRESETS else _("Custom")


def _pool_name(pool: str) -> str:
    """A pooling option as shown (the option itself is ``ConvBlock.pool``'s value)."""
    shown = {
        "max": pgettext("pooling", "max"),
        "avg": pgettext("pooling", "avg"),
        "none": pgettext("pooling", "none"),
    }
    return shown.get(pool, pool)


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
    _config, preset = get_model_config()
    st.session_state[PRESET_WIDGET] = preset or CUSTOM
    st.segmented_control(
        _("Start from a preset"),
        [*PRESETS, CUSTOM],
        key=PRESET_WIDGET,
        on_change=_preset_chosen,
        format_func=in_this_language(_preset_title),
        help=_(
            "Choosing a preset also sets the Training page to the training it was designed for."
        ),
    )
    st.caption(_(PRESETS[preset].description) if preset else _(CUSTOM_DESCRIPTION))


def _block_editor(draft: Draft, i: int) -> None:
    p = f"b{i}."
    a, b = st.columns(2)
    a.select_slider(
        _("Filters"),
        sorted({*FILTERS, draft[p + "filters"]}),  # a preset or run may use other widths
        help=_("Feature maps the block's convolutions make: each filter finds one pattern."),
        **draft.bind(p + "filters", then=_edited),
    )
    b.select_slider(
        _("Kernel size"),
        sorted({*KERNELS, draft[p + "kernel_size"]}),
        help=_("The side of each filter's square window, in pixels."),
        **draft.bind(p + "kernel_size", then=_edited),
    )
    a.number_input(
        _("Convolutions"),
        1,
        max(3, draft[p + "convs"]),
        help=_("Convolutions in a row before the block's pooling (VGG-style stacks)."),
        **draft.bind(p + "convs", then=_edited),
    )
    b.number_input(
        _("Stride"),
        1,
        max(3, draft[p + "stride"]),
        help=_("How far each filter moves per step: 2 halves the map's side."),
        **draft.bind(p + "stride", then=_edited),
    )
    a.selectbox(
        _("Padding"),
        PADDINGS,
        help=_("same: keep the map's side; valid: no border, the side shrinks by kernel − 1."),
        **draft.bind(p + "padding", then=_edited),
    )
    b.selectbox(
        _("Pooling (2×2)"),
        POOLS,
        format_func=in_this_language(_pool_name),
        help=_("Halves the map's side, keeping the strongest (max) or the mean (avg) response."),
        **draft.bind(p + "pool", then=_edited),
    )
    a.selectbox(
        _("Activation"),
        ACTIVATIONS,  # Keras's names in every language: what a learner types in code
        **draft.bind(p + "activation", then=_edited),
    )
    b.slider(
        _("Dropout"),
        0.0,
        0.5,
        step=0.05,
        help=_("Share of the block's outputs switched off at random while training."),
        **draft.bind(p + "dropout", then=_edited),
    )
    st.toggle(
        _("Batch normalisation"),
        help=_("Normalise each convolution's output over the batch before the activation."),
        **draft.bind(p + "batch_norm", then=_edited),
    )


def architecture_editor() -> None:
    """Every field of the model, as the draft holds it (valid or not)."""
    draft = _draft()
    st.subheader(_("Architecture"))
    count = draft["blocks"]
    st.slider(
        _("Conv blocks"),
        1,
        max(EDITOR_BLOCKS, count),
        help=_("Each block: convolutions, then pooling and dropout."),
        **draft.bind("blocks", then=_edited),
    )
    titles = [_("Block {n}").format(n=i + 1) for i in range(count)]
    for i, tab in enumerate(st.tabs(titles)):
        with tab:
            _block_editor(draft, i)
    st.subheader(_("Head"))
    a, b = st.columns(2)
    a.selectbox(
        _("Head"),
        HEADS,
        help=_("flatten: every feature of the last map; global_avg: one average per channel."),
        **draft.bind("head", then=_edited),
    )
    b.text_input(
        _("Dense units"),
        placeholder=_("none"),
        help=_("Hidden dense layers before the softmax, e.g. 128 or 256, 64. Empty: none."),
        **draft.bind("dense", then=_edited),
    )
    a.slider(
        _("Dropout before softmax"),
        0.0,
        0.7,
        step=0.05,
        **draft.bind("dense_dropout", then=_edited),
    )
    b.selectbox(
        _("Initialiser"),
        INITIALIZERS,
        help=_("How every conv and dense layer's weights start."),
        **draft.bind("initializer", then=_edited),
    )
    st.caption(_("The optimiser and learning rate are training settings: see the Training page."))


def summary_panel() -> dict:
    """Parameter counts and the layer table of the session's model; returns the summary."""
    error = model_error()
    if error:
        st.error(
            _("That model cannot be built: {error}").format(error=error), icon=":material/error:"
        )
        st.caption(_("Showing the last valid model, which is also what Training would use."))
    config, _preset = get_model_config()
    info = model_summary(config)
    params = info["params"]
    c1, c2, c3 = st.columns(3)
    c1.metric(_("Parameters"), i18n.number(params["total"]))
    c2.metric(_("Trainable"), i18n.number(params["trainable"]))
    c3.metric(
        _("Non-trainable"),
        i18n.number(params["non_trainable"]),
        help=_("Batch-norm moving statistics: updated while training, not by gradients."),
    )
    # The table's columns under the names a person reads (the rows keep LayerRow's fields).
    columns = {
        "name": _("Layer"),
        "type": _("Type"),
        "output_shape": _("Output shape"),
        "params": _("Parameters"),
    }
    st.dataframe(
        [{columns[k]: v for k, v in row.items()} for row in info["rows"]],
        hide_index=True,
        width="stretch",
        column_config={
            columns["params"]: st.column_config.NumberColumn(columns["params"], format="localized"),
        },
    )
    return info


def diagram(info: dict) -> None:
    """The built model as a top-to-bottom diagram, drawn at its own size (legible)."""
    st.subheader(_("Diagram"))
    st.graphviz_chart(info["dot"], width="content")
    st.caption(
        _(
            "Built from the Keras model itself: each box is a layer, each arrow the shape of "
            "the tensor passing between them (batch axis left out)."
        )
    )
