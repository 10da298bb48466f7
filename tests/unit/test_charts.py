"""Chart builders: the live Training charts send the same chart as the Altair builders."""

import numpy as np
import pandas as pd
import pytest

from mnist import charts
from mnist.charts import (
    LIVE_ROWS,
    batch_chart,
    epoch_chart,
    live_batch_chart,
    live_epoch_chart,
    metrics_frames,
    thin,
)
from mnist.records import BatchRecord, EpochRecord


@pytest.fixture
def frames():
    batches = [
        BatchRecord(step=s, epoch=1 + s // 50, loss=2.0 / (s + 1), accuracy=s / 100,
                    batch_loss=2.0 / (s + 1) + (s % 3) / 10, batch_accuracy=s / 100)
        for s in range(1, 101)
    ]  # fmt: skip
    epochs = [
        EpochRecord(epoch=1, loss=0.5, accuracy=0.85, val_loss=0.3, val_accuracy=0.9),
        EpochRecord(epoch=2, loss=0.2, accuracy=0.95, val_loss=None, val_accuracy=None),
    ]
    return metrics_frames(batches, epochs)


def _named(chart) -> tuple[list[dict], dict]:
    """An Altair chart's main rows, and its spec with that dataset renamed LIVE_ROWS."""
    spec = chart.to_dict()
    holder = spec if "data" in spec else spec["layer"][0]
    rows = spec["datasets"].pop(holder["data"]["name"])
    holder["data"] = {"name": LIVE_ROWS}
    return rows, spec


def _live(spec: dict) -> tuple[list[dict], dict]:
    rows = spec["datasets"].pop(LIVE_ROWS)
    assert isinstance(rows, pd.DataFrame)  # Streamlit sends it as Arrow, like Altair's rows
    return rows.to_dict("records"), spec


@pytest.mark.parametrize("metric", ["loss", "accuracy"])
def test_live_batch_chart_is_the_altair_chart_with_its_rows_named(frames, metric):
    batches, _ = frames
    rows, spec = _live(live_batch_chart(batches, metric))
    assert (rows, spec) == _named(batch_chart(batches, metric))
    line, smoothed, newest = spec["layer"]
    assert spec["data"] == {"name": LIVE_ROWS}  # every layer draws the rows
    assert line["encoding"]["y"]["field"] == metric and len(rows) == 100
    assert line["encoding"]["y"]["title"] == metric  # short: a long title was cut off
    # The newest row gets a dot: a one-batch run would otherwise draw nothing at all.
    assert newest["mark"]["type"] == "point"
    assert {"filter": "datum.newest == 1"} in newest["transform"]


def test_live_epoch_chart_keeps_each_layers_data_and_drops_missing_values(frames):
    _, epochs = frames
    refs = [("Keras example", 0.99)]
    rows, spec = _live(live_epoch_chart(epochs, "accuracy", refs))
    assert (rows, spec) == _named(epoch_chart(epochs, "accuracy", refs))
    # three accuracy values: epoch 2 has no validation yet
    assert sorted((r["epoch"], r["series"]) for r in rows) == [
        (1.0, "accuracy"),
        (1.0, "val_accuracy"),
        (2.0, "accuracy"),
    ]
    lines, rule = spec["layer"]
    assert lines["data"] == {"name": LIVE_ROWS}
    # the reference lines keep their own, named data: a layer without data would draw the rows
    assert rule["data"] != lines["data"]
    assert spec["datasets"][rule["data"]["name"]] == [{"label": "Keras example", "value": 0.99}]
    # named in a legend, not by text on the plot, where the curves crossed the labels
    assert rule["encoding"]["strokeDash"]["field"] == "label"
    assert not [layer for layer in spec["layer"] if layer["mark"]["type"] == "text"]


def test_live_spec_is_compiled_once_and_safe_to_modify(frames, monkeypatch):
    batches, epochs = frames
    charts._live_spec.cache_clear()
    compiled = []
    real = charts._spec_with_named_rows
    monkeypatch.setattr(charts, "_spec_with_named_rows", lambda c: compiled.append(1) or real(c))
    first = live_batch_chart(batches, "loss")
    first["layer"][0]["encoding"]["y"]["field"] = "changed"  # st.vega_lite_chart edits specs
    second = live_batch_chart(batches.iloc[:10], "loss")
    assert second["layer"][0]["encoding"]["y"]["field"] == "loss"
    assert len(second["datasets"][LIVE_ROWS]) == 10
    live_epoch_chart(epochs, "loss")
    live_epoch_chart(epochs, "loss")
    assert len(compiled) == 2  # one per chart kind and metric, not one per refresh


def test_thin_keeps_at_most_max_points_and_the_newest_step():
    frame = pd.DataFrame({"step": range(1, 1001), "loss": range(1000)})
    thinned = thin(frame, max_points=100)
    assert len(thinned) <= 101 and thinned["step"].iloc[-1] == 1000
    assert thin(frame.iloc[:50], max_points=100).equals(frame.iloc[:50])


def test_a_one_batch_run_draws_a_point_with_readable_ticks():
    batches, _ = metrics_frames([BatchRecord(loss=2.328623, accuracy=0.1)], [])
    for metric, fmt in (("loss", ".3~r"), ("accuracy", ".3~%")):
        spec = batch_chart(batches, metric).to_dict()
        line, _, newest = spec["layer"]
        assert line["encoding"]["y"]["axis"]["format"] == fmt  # 2.33, not 2.328623
        assert newest["mark"]["type"] == "point"  # a line of one row draws nothing


def test_overlay_of_runs_formats_accuracy_ticks():
    frame = pd.DataFrame(
        [
            {"run": "a", "epoch": 1, "val_accuracy": 0.568},
            {"run": "b", "epoch": 1, "val_accuracy": 0.6},
        ]
    )
    spec = charts.runs_overlay_chart(frame).to_dict()
    assert spec["encoding"]["y"]["axis"]["format"] == ".3~%"  # 56.8%, not 0.568000
    assert spec["encoding"]["x"]["axis"]["format"] == "d"


def test_class_errors_bars_start_at_zero():
    """87 % and 99 % recall used to draw bars of one length (a 0–100 % bar per row)."""
    support = [100] * 10
    wrong = [13, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    spec = charts.class_errors_chart(support, wrong).to_dict()
    bars = spec["layer"][0]
    assert "scale" not in bars["encoding"]["y"] or bars["encoding"]["y"]["scale"].get("zero", True)
    rows = spec["datasets"][spec["data"]["name"]]
    assert [r["share"] for r in rows][:2] == [0.13, 0.01]


def test_the_batch_chart_draws_each_batchs_own_value_and_a_moving_average(frames):
    """The codelab's onBatchEnd chart shows each batch's loss; a running mean restarts every
    epoch and draws a staircase a learner reads as jumps in learning."""
    batches, _ = frames
    rows = charts.batch_frame(batches, "loss")
    np.testing.assert_allclose(rows["loss"], batches["batch_loss"])  # not the running mean
    assert rows["smoothed"].diff().std() < rows["loss"].diff().std()  # the calmer line
    spec = batch_chart(batches, "loss").to_dict()
    raw, smoothed, _ = spec["layer"]
    assert raw["encoding"]["y"]["field"] == "loss" and raw["mark"]["opacity"] < 1
    assert smoothed["encoding"]["y"]["field"] == "smoothed"


def test_format_1_records_have_only_the_running_mean_and_still_draw():
    old = [BatchRecord(step=s, loss=1.0 / s, accuracy=0.5) for s in range(1, 6)]
    batches, _ = metrics_frames(old, [])
    rows = charts.batch_frame(batches, "loss")
    np.testing.assert_allclose(rows["loss"], [1.0 / s for s in range(1, 6)])


def test_digit_pictures_for_tooltips_are_the_digits_enlarged():
    import base64
    import io

    from PIL import Image

    from mnist.charts import digit_png_urls

    digits = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    urls = digit_png_urls(digits, scale=2)
    assert len(urls) == 3
    for url, digit in zip(urls, digits, strict=True):
        head, data = url.split(",", 1)
        assert head == "data:image/png;base64"
        picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))
        np.testing.assert_array_equal(picture, digit.repeat(2, axis=0).repeat(2, axis=1))


def test_the_map_shows_each_digits_picture_when_it_has_one():
    from mnist.charts import embedding_chart

    frame = pd.DataFrame({"x": [0.0, 1.0], "y": [1.0, 0.0], "label": [1, 2],
                          "predicted": [1, 3], "index": [0, 1]})  # fmt: skip
    fields = [t["field"] for t in embedding_chart(frame).to_dict()["encoding"]["tooltip"]]
    assert "image" not in fields and "index" in fields
    frame["image"] = ["data:image/png;base64,AA==", "data:image/png;base64,AA=="]
    fields = [t["field"] for t in embedding_chart(frame).to_dict()["encoding"]["tooltip"]]
    assert fields[0] == "image"  # the tooltip plugin draws a field of this name as a picture


def test_sweep_chart_plots_each_varied_setting_against_validation_accuracy():
    from mnist.charts import sweep_chart

    rows = [
        {"trial": 1, "state": "done", "learning_rate": 1e-3, "augment": True,
         "train_size": 1000, "val accuracy": 0.9},
        {"trial": 2, "state": "running", "learning_rate": 3e-3, "augment": False,
         "train_size": 1000, "val accuracy": None},  # no finished epoch yet: not drawn
    ]  # fmt: skip
    params = [
        {"name": "learning_rate", "kind": "loguniform", "values": [], "low": 1e-4, "high": 1e-2},
        {"name": "augment", "kind": "choice", "values": [True, False]},
        {"name": "train_size", "kind": "choice", "values": [1000]},  # one value: no panel
    ]
    spec = sweep_chart(rows, params).to_dict()
    panels = spec["concat"]
    assert [p["encoding"]["x"]["field"] for p in panels] == ["learning_rate", "augment"]
    assert panels[0]["encoding"]["x"]["scale"]["type"] == "log"
    assert panels[1]["encoding"]["x"]["type"] == "ordinal"
    data = next(iter(spec["datasets"].values()))
    assert [d["trial"] for d in data] == [1] and data[0]["augment"] == "true"
