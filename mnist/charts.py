"""Altair chart builders: plain data in, ``alt.Chart`` out — testable without a browser."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import asdict

import altair as alt
import numpy as np
import pandas as pd

from mnist import NUM_CLASSES, i18n
from mnist.i18n import N_, _, pgettext
from mnist.records import STATE_LABELS, BatchRecord, EpochRecord, state_label

DIGITS = list(range(NUM_CLASSES))
SELECTION = "cell"  # the confusion matrix's point selection (read back through on_select)
MAX_BATCH_POINTS = 600  # per-batch series are thinned to this many points before drawing

# Titles, legends and tooltips are translated when a chart is built (in the session of the
# person looking); field names and data keys stay English.
# Keras's metric names as a person reads them (the English shows the names themselves).
METRIC_LABELS = {
    "loss": N_("loss"),
    "accuracy": N_("accuracy"),
    "val_loss": N_("val_loss"),
    "val_accuracy": N_("val_accuracy"),
}
# A sweep's trial states beyond a run's own (mnist.sweeps: PENDING, SKIPPED, PRUNED).
TRIAL_STATE_LABELS = (N_("pending"), N_("not started"), N_("stopped early"))


def metric_label(metric: str) -> str:
    """A metric's name in the session's language (unknown names as they are)."""
    return _(METRIC_LABELS[metric]) if metric in METRIC_LABELS else metric


def _trial_state(state: object) -> object:
    if not isinstance(state, str):
        return state
    return state_label(state) if state in STATE_LABELS else _(state)


def class_counts_chart(counts: dict[str, Sequence[int]]) -> alt.Chart:
    """Grouped bars: images per digit, one colour per split (``{"train": [...], ...}``)."""
    names = {
        "train": pgettext("data split", "train"),
        "validation": pgettext("data split", "validation"),
        "test": pgettext("data split", "test"),
    }
    splits = [names.get(split, split) for split in counts]  # as shown in the legend
    frame = pd.DataFrame(
        [
            {"digit": d, "split": shown, "images": int(n)}
            for shown, values in zip(splits, counts.values(), strict=True)
            for d, n in enumerate(values)
        ]
    )
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("digit:O", title=_("digit"), axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("split:N", sort=splits),
            y=alt.Y("images:Q", title=_("images")),
            color=alt.Color("split:N", title=_("split"), sort=splits),
            tooltip=[
                alt.Tooltip("digit:O", title=_("digit")),
                alt.Tooltip("split:N", title=_("split")),
                alt.Tooltip("images:Q", format=",", title=_("images")),
            ],
        )
        .properties(height=260)
    )


def pixel_histogram_chart(counts: np.ndarray, edges: np.ndarray) -> alt.Chart:
    """Pixel-intensity histogram on a log axis (black background pixels dwarf the rest)."""
    frame = pd.DataFrame(
        {"from": edges[:-1].astype(int), "to": edges[1:].astype(int), "pixels": counts}
    )
    frame = frame[frame["pixels"] > 0]
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(
                "from:Q",
                bin="binned",
                title=_("intensity (0 = black, 255 = white)"),
                scale=alt.Scale(domain=[0, 256]),
            ),
            x2="to:Q",
            y=alt.Y("pixels:Q", scale=alt.Scale(type="log"), title=_("pixels (log scale)")),
            y2=alt.datum(1),  # a log axis has no zero: bars start at 1 pixel
            tooltip=[
                alt.Tooltip("from:Q", title=_("from")),
                alt.Tooltip("to:Q", title=_("to")),
                alt.Tooltip("pixels:Q", format=",", title=_("pixels")),
            ],
        )
        .properties(height=260)
    )


_BATCH_COLUMNS = ["step", "epoch", "loss", "accuracy", "batch_loss", "batch_accuracy"]
_EPOCH_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]


def metrics_frames(
    batches: Sequence[BatchRecord], epochs: Sequence[EpochRecord]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-batch and per-epoch records → DataFrames with the columns the charts use."""
    b = pd.DataFrame([asdict(r) for r in batches], columns=_BATCH_COLUMNS)
    e = pd.DataFrame([asdict(r) for r in epochs], columns=_EPOCH_COLUMNS)
    return b.astype(float), e.astype(float)


def thin(frame: pd.DataFrame, max_points: int = MAX_BATCH_POINTS, by: str = "step") -> pd.DataFrame:
    """Every k-th row so at most ``max_points`` remain; the newest row is always kept."""
    n = frame[by].nunique() if len(frame) else 0
    if n <= max_points:
        return frame
    stride = int(np.ceil(n / max_points))
    steps = np.sort(frame[by].unique())
    keep = set(steps[::stride]) | {steps[-1]}
    return frame[frame[by].isin(keep)]


def batch_frame(batches: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The rows ``batch_chart`` draws, thinned: step, epoch, each batch's own ``metric`` and
    its exponential moving average (``smoothed``, over about a tenth of an epoch).

    Records of format 1 have only Keras's running mean; it stands in for the batch values.
    """
    own = f"batch_{metric}"
    source = own if own in batches and batches[own].notna().any() else metric
    frame = batches[["step", "epoch", source]].dropna().rename(columns={source: metric})
    per_epoch = frame.groupby("epoch")["step"].count().max() if len(frame) else 1
    span = int(np.clip(per_epoch / 10, 3, 50))
    frame["smoothed"] = frame[metric].ewm(span=span).mean()
    return thin(frame)


AXIS_FORMATS = {"loss": ".3~r", "accuracy": ".3~%"}  # 2.33, 0.0123; 56.8%, 99.1%


def _axis_format(metric: str) -> str:
    return AXIS_FORMATS["loss" if "loss" in metric else "accuracy"]


def _newest_point(chart: alt.Chart, x: str) -> alt.Chart:
    """A dot on the newest row of ``chart``'s data: where training is now, and the only mark
    a one-row series gets (a line needs two rows)."""
    return (
        chart.mark_point(filled=True, size=40)
        .transform_window(newest="rank()", sort=[alt.SortField(x, order="descending")])
        .transform_filter("datum.newest == 1")
    )


def batch_chart(batches: pd.DataFrame, metric: str) -> alt.Chart:
    """One metric (``loss`` or ``accuracy``) per batch, over training steps: onBatchEnd.

    Each batch's own value (thin, as the codelab's chart) and its moving average (bold).
    """
    shown = metric_label(metric)
    base = alt.Chart(batch_frame(batches, metric)).encode(
        x=alt.X("step:Q", title=_("batch (training step)"), axis=alt.Axis(format="d")),
        tooltip=[
            alt.Tooltip("epoch:Q", title=_("epoch")),
            alt.Tooltip("step:Q", title=_("step")),
            alt.Tooltip(
                f"{metric}:Q", format=".4f", title=_("this batch's {metric}").format(metric=shown)
            ),
            alt.Tooltip("smoothed:Q", format=".4f", title=_("moving average")),
        ],
    )
    y = alt.Y(
        f"{metric}:Q",
        title=shown,
        scale=alt.Scale(zero=False),
        axis=alt.Axis(format=_axis_format(metric)),
    )
    raw = base.mark_line(color="#1f77b4", opacity=0.35, strokeWidth=1).encode(y=y)
    smooth = base.mark_line(color="#1f77b4", strokeWidth=2.5).encode(y="smoothed:Q")
    return alt.layer(raw, smooth, _newest_point(base.encode(y=y), "step")).properties(height=240)


def _epoch_series(epochs: pd.DataFrame, metric: str) -> list[str]:
    return [m for m in (metric, f"val_{metric}") if m in epochs]


def epoch_frame(epochs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The rows ``epoch_chart`` draws: epoch, series (``metric``, ``val_metric``, as the
    session's language names them), value."""
    series = _epoch_series(epochs, metric)
    frame = epochs.melt(id_vars=["epoch"], value_vars=series, var_name="series").dropna()
    frame["series"] = frame["series"].map(metric_label)
    return frame


def epoch_chart(
    epochs: pd.DataFrame,
    metric: str,
    references: Sequence[tuple[str, float]] = (),
) -> alt.Chart:
    """``metric`` and ``val_metric`` per epoch: onEpochEnd. Reference lines are dashed and
    named in the legend, where no curve can cross their labels."""
    series = [metric_label(s) for s in _epoch_series(epochs, metric)]
    lines = (
        alt.Chart(epoch_frame(epochs, metric))
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title=_("epoch"), axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y(
                "value:Q",
                title=metric_label(metric),
                scale=alt.Scale(zero=False),
                axis=alt.Axis(format=_axis_format(metric)),
            ),
            color=alt.Color("series:N", title=None, sort=series, legend=alt.Legend(orient="right")),
            tooltip=[
                alt.Tooltip("epoch:Q", title=_("epoch")),
                alt.Tooltip("series:N", title=_("series")),
                alt.Tooltip("value:Q", format=".4f", title=_("value")),
            ],
        )
    )
    layers: list[alt.Chart] = [lines]
    if references:
        refs = pd.DataFrame(references, columns=["label", "value"])
        rule = (
            alt.Chart(refs)
            .mark_rule(color="gray")
            .encode(
                y="value:Q",
                strokeDash=alt.StrokeDash(
                    "label:N",
                    title=None,
                    sort=[label for label, _ in references],
                    legend=alt.Legend(orient="right", symbolStrokeColor="gray"),
                ),
                tooltip=[
                    alt.Tooltip("label:N", title=pgettext("reference line", "label")),
                    alt.Tooltip("value:Q", format=".2%", title=_("value")),
                ],
            )
        )
        layers.append(rule)
    return alt.layer(*layers).resolve_legend(color="independent").properties(height=240)


# -- live charts: the Altair spec compiled once, only the rows change on each refresh --------
# Building and validating an Altair chart took about half of the dashboard server's CPU
# while the Training page refreshed a live run (py-spy; benchmarks/RESULTS.md, figure 2).
# The charts' specs do not change during a run, only their rows do.
LIVE_ROWS = "rows"  # the name of the rows' dataset in a live chart's spec


def _spec_with_named_rows(chart: alt.Chart) -> dict:
    """``chart``'s Vega-Lite spec with its main dataset renamed ``LIVE_ROWS`` and emptied.

    Other layers' datasets, such as reference lines, stay as they are: every dataset is
    named, so each layer keeps its own data.
    """
    spec = chart.to_dict()
    holder = spec if "data" in spec else spec["layer"][0]
    del spec["datasets"][holder["data"]["name"]]
    holder["data"] = {"name": LIVE_ROWS}
    return spec


@functools.lru_cache(maxsize=32)
def _live_spec(kind: str, metric: str, references: tuple[tuple[str, float], ...], lang: str) -> str:
    """The spec of a live chart, compiled once per kind, metric, references and ``lang``: its
    titles are in the language of the session that asked (``lang`` is only the cache's key)."""
    if kind == "batch":
        chart = batch_chart(pd.DataFrame(columns=_BATCH_COLUMNS, dtype=float), metric)
    else:
        chart = epoch_chart(pd.DataFrame(columns=_EPOCH_COLUMNS, dtype=float), metric, references)
    return json.dumps(_spec_with_named_rows(chart))  # json.loads: a fresh copy for each caller


def _with_rows(spec_json: str, rows: pd.DataFrame) -> dict:
    spec = json.loads(spec_json)
    spec["datasets"][LIVE_ROWS] = rows
    return spec


def live_batch_chart(batches: pd.DataFrame, metric: str) -> dict:
    """``batch_chart`` as a Vega-Lite spec with its rows, for ``st.vega_lite_chart(spec=…)``."""
    spec = _live_spec("batch", metric, (), i18n.language())
    return _with_rows(spec, batch_frame(batches, metric))


def live_epoch_chart(
    epochs: pd.DataFrame, metric: str, references: Sequence[tuple[str, float]] = ()
) -> dict:
    """``epoch_chart`` as a Vega-Lite spec with its rows, for ``st.vega_lite_chart(spec=…)``."""
    refs = tuple((str(label), float(value)) for label, value in references)
    spec = _live_spec("epoch", metric, refs, i18n.language())
    return _with_rows(spec, epoch_frame(epochs, metric))


def runs_overlay_chart(epochs: pd.DataFrame, metric: str = "val_accuracy") -> alt.Chart:
    """``metric`` per epoch for several runs (a ``run`` column), one line each."""
    frame = epochs[["run", "epoch", metric]].dropna()
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title=_("epoch"), axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y(
                f"{metric}:Q",
                title=metric_label(metric),
                scale=alt.Scale(zero=False),
                axis=alt.Axis(format=_axis_format(metric)),
            ),
            color=alt.Color("run:N", title=pgettext("a training run", "run")),
            tooltip=[
                alt.Tooltip("run:N", title=pgettext("a training run", "run")),
                alt.Tooltip("epoch:Q", title=_("epoch")),
                alt.Tooltip(f"{metric}:Q", format=".4f", title=metric_label(metric)),
            ],
        )
        .properties(height=280)
    )


def confusion_chart(confusion: Sequence[Sequence[int]]) -> alt.Chart:
    """Heatmap of counts, rows = true digit; click a cell to select it (``on_select``)."""
    matrix = np.asarray(confusion)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    frame = pd.DataFrame(
        [
            {
                "true": t,
                "predicted": p,
                "count": int(matrix[t, p]),
                "share": share[t, p],
                "kind": "correct" if t == p else "error",
            }
            for t in range(len(matrix))
            for p in range(len(matrix))
        ]
    )
    select = alt.selection_point(name=SELECTION, fields=["true", "predicted"], on="click")
    base = alt.Chart(frame).encode(
        x=alt.X(
            "predicted:O", title=_("predicted digit"), axis=alt.Axis(orient="top", labelAngle=0)
        ),
        y=alt.Y("true:O", title=_("true digit")),
    )
    # Off-diagonal errors are few: colour by the log of the count so they stay visible; an
    # empty cell is white, so a single mistake does not look like none.
    heat = (
        base.mark_rect(stroke="#dddddd")
        .encode(
            color=alt.condition(
                "datum.count == 0",
                alt.value("white"),
                alt.Color("count:Q", scale=alt.Scale(type="symlog", scheme="blues"), legend=None),
            ),
            opacity=alt.condition(select, alt.value(1.0), alt.value(0.35)),
            tooltip=[
                alt.Tooltip("true:O", title=_("true")),
                alt.Tooltip("predicted:O", title=_("predicted")),
                alt.Tooltip("count:Q", format=",", title=_("count")),
                alt.Tooltip("share:Q", format=".1%", title=_("of this digit")),
            ],
        )
        .add_params(select)
    )
    text = base.mark_text(fontSize=12).encode(
        text=alt.Text("count:Q", format=","),
        color=alt.condition("datum.share > 0.5", alt.value("white"), alt.value("black")),
        # Dimmed with its cell when another cell is selected: white on pale blue is unreadable.
        opacity=alt.condition(select, alt.value(1.0), alt.value(0.45)),
    )
    return alt.layer(heat, text).properties(height=420)


def probability_chart(probabilities: Sequence[float], highlight: int | None = None) -> alt.Chart:
    """Ten bars, one per digit; the predicted digit stands out."""
    frame = pd.DataFrame({"digit": DIGITS, "probability": [float(p) for p in probabilities]})
    top = int(np.argmax(probabilities)) if highlight is None else highlight
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("digit:O", title=_("digit"), axis=alt.Axis(labelAngle=0)),
            y=alt.Y(
                "probability:Q",
                title=_("probability"),
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
            ),
            color=alt.condition(alt.datum.digit == top, alt.value("#1f77b4"), alt.value("#c7c7c7")),
            tooltip=[
                alt.Tooltip("digit:O", title=_("digit")),
                alt.Tooltip("probability:Q", format=".2%", title=_("probability")),
            ],
        )
        .properties(height=220)
    )


def class_errors_chart(support: Sequence[int], wrong: Sequence[int]) -> alt.Chart:
    """Share of each digit's test images the model got wrong: bars from 0, labelled."""
    frame = pd.DataFrame(
        {
            "digit": DIGITS,
            "wrong": [int(w) for w in wrong],
            "share": [w / s if s else 0.0 for w, s in zip(wrong, support, strict=True)],
        }
    )
    base = alt.Chart(frame).encode(
        x=alt.X("digit:O", title=_("digit"), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("share:Q", title=_("wrong"), axis=alt.Axis(format="~%")),
        tooltip=[
            alt.Tooltip("digit:O", title=_("digit")),
            alt.Tooltip("wrong:Q", title=_("wrong")),
            alt.Tooltip("share:Q", format=".2%", title=_("share")),
        ],
    )
    bars = base.mark_bar(color="#d62728")
    labels = base.mark_text(dy=-6, fontSize=11).encode(text=alt.Text("share:Q", format=".1%"))
    return alt.layer(bars, labels).properties(height=200)


EMBEDDING_SELECTION = "digit"  # the embedding's point selection (read back through on_select)


def digit_png_urls(images: np.ndarray, scale: int = 2) -> list[str]:
    """(N, 28, 28) uint8 digits → PNG data URLs, ``scale`` times enlarged (nearest pixel):
    the picture a chart's tooltip shows for its column named ``image`` (Vega's tooltip
    plugin; Streamlit uses it). ~520 bytes each at ×2 for MNIST's test digits."""
    import base64
    import io

    from PIL import Image

    urls = []
    for image in np.asarray(images, np.uint8):
        buffer = io.BytesIO()
        Image.fromarray(np.kron(image, np.ones((scale, scale), np.uint8))).save(buffer, "PNG")
        urls.append("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode())
    return urls


def embedding_chart(frame: pd.DataFrame) -> alt.Chart:
    """Test digits at their 2-D coordinates (columns x, y, label, predicted, index, and
    optionally image: a data URL the tooltip shows), coloured by true label; mistakes drawn
    as crosses; click one to select it (``on_select``)."""
    right, mistake = pgettext("an answer", "right"), _("mistake")  # the legend's words
    frame = frame.assign(outcome=np.where(frame["label"] == frame["predicted"], right, mistake))
    select = alt.selection_point(name=EMBEDDING_SELECTION, fields=["index"], on="click")
    return (
        alt.Chart(frame)
        .mark_point(filled=True, size=14, opacity=0.55)
        .encode(
            x=alt.X("x:Q", title=_("component 1"), axis=alt.Axis(labels=False)),
            y=alt.Y("y:Q", title=_("component 2"), axis=alt.Axis(labels=False)),
            color=alt.Color("label:N", title=_("true digit"), scale=alt.Scale(scheme="category10")),
            shape=alt.Shape(
                "outcome:N",
                scale=alt.Scale(domain=[right, mistake], range=["circle", "cross"]),
                title=None,
            ),  # fmt: skip
            size=alt.condition(alt.datum.outcome == mistake, alt.value(60), alt.value(14)),
            tooltip=[
                # No title: the tooltip plugin draws the entry named "image" as a picture.
                *([alt.Tooltip("image:N")] if "image" in frame else []),
                alt.Tooltip("index:Q", title=_("test image")),
                alt.Tooltip("label:N", title=_("true digit")),
                alt.Tooltip("predicted:N", title=_("answer")),
            ],  # fmt: skip
        )
        .add_params(select)
        .properties(height=480)
    )


def personal_counts_chart(counts: np.ndarray, minimum: int) -> alt.Chart:
    """Stacked bars of a person's samples per digit (to train on, held out) and a dashed line
    at the ``minimum`` fine-tuning needs of each digit. ``counts``: (10, 2)."""
    parts = (_("to train on"), _("held out"))  # the legend's words
    frame = pd.DataFrame(
        [
            {"digit": d, "part": part, "samples": int(counts[d][i]), "order": i}
            for d in DIGITS
            for i, part in enumerate(parts)
        ]
    )
    top = max(minimum, int(np.asarray(counts).sum(axis=1).max(initial=0))) + 1
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("digit:O", title=_("digit"), axis=alt.Axis(labelAngle=0)),
            y=alt.Y(
                "samples:Q",
                title=_("samples"),
                stack="zero",
                scale=alt.Scale(domain=[0, top]),
                axis=alt.Axis(tickMinStep=1, format="d"),
            ),
            color=alt.Color(
                "part:N", title=None, sort=list(parts), legend=alt.Legend(orient="top")
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("digit:O", title=_("digit")),
                alt.Tooltip("part:N", title=_("part")),
                alt.Tooltip("samples:Q", title=_("samples")),
            ],
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"needed": [minimum]}))
        .mark_rule(strokeDash=[4, 3], color="#888")
        .encode(y="needed:Q", tooltip=[alt.Tooltip("needed:Q", title=_("needed per digit"))])
    )
    return (bars + rule).properties(height=220)


def sweep_chart(rows: Sequence[dict], params: Sequence[dict]) -> alt.ConcatChart:
    """One scatter per searched setting: its value (x) against the trial's validation
    accuracy (y, shared), coloured by the trial's state — which settings win, at a glance.
    Three to a row; a setting with one value (the same for every trial) gets none.

    ``rows``: the trials table (``mnist.sweeps.trial_rows``); ``params``: the searched fields
    (``Param.to_dict()``: log-uniform ranges get a log axis, choices a category axis)."""
    params = [p for p in params if p["kind"] != "choice" or len(p["values"]) > 1] or params[:1]
    names = [p["name"] for p in params]
    frame = pd.DataFrame(
        [r for r in rows if r.get("val accuracy") is not None],
        columns=["trial", "state", "val accuracy", *names],
    )
    frame["state"] = frame["state"].map(_trial_state)  # as the legend and tooltip show it
    y = alt.Y(
        "val accuracy:Q",
        title=_("validation accuracy"),
        scale=alt.Scale(zero=False),
        axis=alt.Axis(format=".1%"),
    )
    typed = [f"{p['name']}:{'N' if p['kind'] == 'choice' else 'Q'}" for p in params]
    tooltip = [
        alt.Tooltip("trial:O", title=_("trial")),
        alt.Tooltip("state:N", title=_("state")),
        alt.Tooltip("val accuracy:Q", format=".2%", title=_("validation accuracy")),
        *typed,
    ]
    panels = []
    for i, param in enumerate(params):
        name = param["name"]
        if param["kind"] == "choice":
            x = alt.X(f"{name}:O", title=name, axis=alt.Axis(labelAngle=0))
            if param["values"] and isinstance(param["values"][0], bool):
                frame[name] = frame[name].map(lambda v: str(v).lower())
        elif param["kind"] == "loguniform":
            x = alt.X(f"{name}:Q", title=name, scale=alt.Scale(type="log"))
        elif param["kind"] == "int":
            x = alt.X(f"{name}:Q", title=name, scale=alt.Scale(zero=False),
                      axis=alt.Axis(format="d", tickMinStep=1))  # fmt: skip
        else:
            x = alt.X(f"{name}:Q", title=name, scale=alt.Scale(zero=False))
        panels.append(
            alt.Chart(frame)
            .mark_circle(size=90, opacity=0.85)
            .encode(
                x=x,
                y=y if i == 0 else alt.Y("val accuracy:Q", title=None, scale=alt.Scale(zero=False),
                                         axis=alt.Axis(format=".1%")),
                color=alt.Color("state:N", title=_("state"), legend=alt.Legend(orient="top")),
                tooltip=tooltip,
            )
            .properties(width=220, height=220)
        )  # fmt: skip
    return alt.concat(*panels, columns=3).resolve_scale(y="shared")
