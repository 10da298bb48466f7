"""The learner's path, click by click, in Chromium: presets, the editor, Start, the history.

Each test checks what the page shows against an independent source: the preset configs,
the Keras model built from them, the run folders on disk. AppTest passed while these flows
crashed the real page (issue 18), so they are tested here, in a browser.
"""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
import time

import pytest
from playwright.sync_api import expect

from mnist import runs
from mnist.config import PRESETS, ConvBlock, ModelConfig, TrainConfig
from mnist.models import build_model
from tests.e2e.conftest import (
    click_start,
    exceptions,
    go,
    open_page,
    run_heading,
    run_ids,
    select_rows,
    set_slider,
    slider_value,
    stop_all_runs,
    wait_idle,
    wait_state,
    wait_until,
)

pytestmark = pytest.mark.e2e
TITLES = {p.title: name for name, p in PRESETS.items()}


def params(config: ModelConfig) -> str:
    return f"{build_model(config).count_params():,}"


def shown_params(page) -> str:
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Parameters").first
    return metric.locator("[data-testid='stMetricValue']").inner_text()


def picked(page) -> list[str]:
    """The highlighted option(s) of the preset control."""
    buttons = page.locator("[data-testid='stButtonGroup'] button[aria-checked='true']")
    return [b.inner_text().strip() for b in buttons.all()]


def click_preset(page, title: str) -> None:
    page.locator("[data-testid='stButtonGroup'] button").filter(has_text=title).click()
    wait_idle(page)


def editor_shows(page, config: ModelConfig) -> dict:
    """What the editor's widgets show for block 1 and the head, next to ``config``'s values."""
    first: ConvBlock = config.conv_blocks[0]
    tabs = [t.inner_text() for t in page.get_by_role("tab").all()]
    toggle = page.get_by_label("Batch normalisation", exact=True).filter(visible=True).first
    dense = page.get_by_label("Dense units", exact=True).input_value()
    return {
        "blocks": (slider_value(page, "Conv blocks"), str(len(config.conv_blocks))),
        "tabs": (tabs, [f"Block {i + 1}" for i in range(len(config.conv_blocks))]),
        "filters": (slider_value(page, "Filters"), str(first.filters)),
        "kernel": (slider_value(page, "Kernel size"), str(first.kernel_size)),
        "batch norm": (toggle.is_checked(), first.batch_norm),
        "dense": (dense, ", ".join(map(str, config.dense_units))),
        "dropout": (
            slider_value(page, "Dropout before softmax"),
            f"{config.dense_dropout:.2f}",
        ),
    }


def assert_editor_shows(page, config: ModelConfig) -> None:
    shown = editor_shows(page, config)
    wrong = {k: v for k, v in shown.items() if v[0] != v[1]}
    assert not wrong, wrong


def test_every_preset_in_every_order_sets_the_picker_the_editor_and_the_model(page, server):
    open_page(page, server, "model")
    assert picked(page) == ["Codelab"]
    orders = list(itertools.permutations(TITLES))
    for order in orders:
        for title in order:
            click_preset(page, title)
            preset = PRESETS[TITLES[title]]
            assert exceptions(page) == [], (order, title)
            assert picked(page) == [title], (order, title)
            assert shown_params(page) == params(preset.model), (order, title)
            assert_editor_shows(page, preset.model)
            expect(page.get_by_text(preset.description).first).to_be_visible()
    # The same preset twice in a row stays picked (a second click used to un-highlight it).
    click_preset(page, orders[-1][-1])
    assert picked(page) == [orders[-1][-1]]
    # A reload is a new session: the codelab preset, in the picker and the editor.
    page.reload()
    wait_idle(page)
    assert picked(page) == ["Codelab"]
    assert_editor_shows(page, PRESETS["codelab"].model)


def test_an_edit_makes_the_model_custom_and_one_click_restores_a_preset(page, server):
    open_page(page, server, "model")
    click_preset(page, "Best")
    click_preset(page, "Codelab")
    # One step of the first block's stride, with Codelab picked: the codelab model, edited.
    page.get_by_label("Stride", exact=True).filter(visible=True).first.fill("2")
    page.keyboard.press("Enter")
    wait_idle(page)
    codelab = PRESETS["codelab"].model
    strided = dataclasses.replace(
        codelab,
        conv_blocks=(dataclasses.replace(codelab.conv_blocks[0], stride=2),)
        + codelab.conv_blocks[1:],
    )
    assert shown_params(page) == params(strided)  # nothing of Best's leaked into the edit
    assert picked(page) == ["Custom"]
    expect(page.get_by_text("Your own model").first).to_be_visible()
    go(page, "Training")
    expect(page.get_by_text("Model: custom").first).to_be_visible()
    go(page, "Model")
    assert picked(page) == ["Custom"] and shown_params(page) == params(strided)
    click_preset(page, "Codelab")  # one click is enough
    assert picked(page) == ["Codelab"] and shown_params(page) == params(codelab)
    assert_editor_shows(page, codelab)
    go(page, "Training")
    expect(page.get_by_text("Model: codelab").first).to_be_visible()
    go(page, "Model")
    click_preset(page, "Custom")  # the codelab model, now called custom
    assert picked(page) == ["Custom"]
    expect(page.get_by_text("Your own model").first).to_be_visible()
    assert shown_params(page) == params(codelab)
    go(page, "Training")
    expect(page.get_by_text("Model: custom").first).to_be_visible()
    assert exceptions(page) == []


def test_an_invalid_edit_stays_on_screen_and_training_waits_for_a_valid_model(page, server):
    open_page(page, server, "model")
    dense = page.get_by_label("Dense units", exact=True)
    dense.fill("12a")
    page.keyboard.press("Enter")
    wait_idle(page)
    error = page.locator("[data-testid='stAlert']").filter(has_text="cannot be built")
    assert "dense units must be whole numbers" in error.inner_text()
    assert shown_params(page) == params(PRESETS["codelab"].model)  # the last valid model
    go(page, "Training")
    expect(page.get_by_text("The model on the Model page cannot be built").first).to_be_visible()
    expect(page.get_by_role("button", name="Start training")).to_be_disabled()
    go(page, "Model")
    assert dense.input_value() == "12a"  # what the person typed, still shown
    dense.fill("64")
    page.keyboard.press("Enter")
    wait_idle(page)
    assert not page.get_by_text("cannot be built").count()
    with_dense = dataclasses.replace(PRESETS["codelab"].model, dense_units=(64,))
    assert shown_params(page) == params(with_dense)
    go(page, "Training")
    expect(page.get_by_role("button", name="Start training")).to_be_enabled()


def _settings_on_screen(page) -> dict:
    return {
        "epochs": int(slider_value(page, "Epochs")),
        "train_size": int(slider_value(page, "Training images")),
        "validation_size": int(slider_value(page, "Validation images")),
        "early_stopping": int(
            page.get_by_label("Early stopping patience (epochs, 0 = off)", exact=True).input_value()
        ),
    }


def test_start_runs_what_the_form_shows_and_never_what_it_does_not(page, server):
    open_page(page, server, "train")
    set_slider(page, "Epochs", "Home")  # 1 epoch
    set_slider(page, "Validation images", "Home")  # 0
    patience = page.get_by_label("Early stopping patience (epochs, 0 = off)", exact=True)
    patience.fill("2")
    page.keyboard.press("Enter")
    wait_idle(page)
    expect(page.get_by_text("early stopping watches val_loss").first).to_be_visible()
    start = page.get_by_role("button", name="Start training")
    expect(start).to_be_disabled()
    set_slider(page, "Training images", "Home")  # still invalid: Start stays disabled
    expect(start).to_be_disabled()
    patience.fill("0")
    page.keyboard.press("Enter")
    wait_idle(page)
    expect(start).to_be_enabled()
    expect(page.get_by_text("early stopping watches")).to_have_count(0)
    shown = _settings_on_screen(page)
    run_id = click_start(page, server)
    train = runs.find_run(run_id, server.runs_dir).config.train
    assert {k: getattr(train, k) for k in shown} == shown
    assert shown == {"epochs": 1, "train_size": 100, "validation_size": 0, "early_stopping": 0}
    wait_state(server, run_id, runs.FINAL_STATES)


@pytest.mark.parametrize(
    "how", ["double-click", "two clicks 0.3 s apart", "two clicks 0.7 s apart"]
)
def test_two_quick_clicks_on_start_start_one_run(page, server, how):
    open_page(page, server, "train")
    set_slider(page, "Epochs", "Home")
    set_slider(page, "Training images", "Home")
    before = run_ids(server)
    start = page.get_by_role("button", name="Start training")
    if how == "double-click":
        start.dblclick()
    else:
        start.click()
        time.sleep(float(how.split()[2]))
        page.locator("[data-testid='stButton'] button").filter(has_text="Start").first.click(
            force=True, no_wait_after=True
        )
    new = wait_until(lambda: run_ids(server) - before, 60, "a run")
    (run_id,) = new
    wait_state(server, run_id, runs.FINAL_STATES)
    wait_idle(page)
    assert run_ids(server) - before == {run_id}
    # Once the run is under way, Start starts the next one.
    page.get_by_role("button", name="Start training").wait_for()
    expect(page.get_by_role("button", name="Start training")).to_be_enabled()


def _make_finished_run(server, epochs: int) -> str:
    """A finished run folder (no model), as the worker would leave it; returns its id."""
    path = runs.create_run(
        PRESETS["codelab"].model, TrainConfig(epochs=epochs), "codelab", server.runs_dir
    )
    status = {"state": runs.DONE, "pid": None, "heartbeat": time.time(), "epoch": epochs}
    runs.write_json_atomic(path / runs.STATUS, {**status, "test_accuracy": 0.5 + epochs / 100})
    time.sleep(0.01)  # distinct creation times: the history's order is certain
    return path.name


def _select_run(page, run_id: str) -> None:
    """Select ``run_id``'s row, and only it, in the Training page's history."""
    select_rows(page, page.locator("[data-testid='stDataFrame']").last, texts=[run_id])


def test_delete_removes_the_chosen_run_and_selects_nothing_else(page, server):
    stop_all_runs(server)
    ids = [_make_finished_run(server, epochs) for epochs in (1, 2, 3)]
    open_page(page, server, "train")
    newest_first = sorted(ids, key=lambda i: runs.find_run(i, server.runs_dir).config.created)
    newest_first.reverse()
    _select_run(page, newest_first[0])
    page.get_by_role("button", name="Delete 1 run").click()  # asks first
    assert newest_first[0] in run_ids(server)
    page.get_by_role("button", name="Delete for good").click()
    wait_until(lambda: newest_first[0] not in run_ids(server), 30, "the deletion")
    wait_idle(page)
    # Nothing is selected now, so no Delete button waits for a second click.
    expect(page.get_by_role("button", name="Delete 1 run")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete for good")).to_have_count(0)
    assert {newest_first[1], newest_first[2]} <= run_ids(server)
    assert exceptions(page) == []


def test_history_tells_runs_apart(page, server):
    a = runs.create_run(
        PRESETS["codelab"].model, TrainConfig(learning_rate=0.1, optimizer="sgd"), None,
        server.runs_dir,
    )  # fmt: skip
    open_page(page, server, "train")
    grid = page.locator("[data-testid='stDataFrame']").last
    grid.scroll_into_view_if_needed()
    # The grid draws the columns in view: read them, scrolled to the left and to the right.
    headers, cells = set(), []
    for end in ("0", "e.scrollWidth"):
        grid.locator(".dvn-scroller").first.evaluate(f"e => {{ e.scrollLeft = {end}; }}")
        time.sleep(0.5)
        headers |= set(grid.locator("th").all_inner_texts())
        cells += grid.locator("td").all_inner_texts()
    for column in ("status", "optimizer", "learning rate", "schedule", "validation", "seed"):
        assert column in headers, headers
    assert "sgd" in cells and "0.1" in cells
    # A queued run's unknown figures are blank cells, not the text "None".
    assert "None" not in cells, cells
    runs.request_stop(a)


def history_cells(page) -> list[str]:
    grid = page.locator("[data-testid='stDataFrame']").last
    grid.scroll_into_view_if_needed()
    return grid.locator("td").all_inner_texts()


def test_the_watched_runs_row_in_the_history_follows_it(page, server):
    """The panel above shows the watched run; the history's row of it follows too (its own
    refresh while a run is live): the epoch under way, then the state it ended in."""
    path = runs.create_run(PRESETS["codelab"].model, TrainConfig(epochs=5), "codelab",
                           server.runs_dir)  # fmt: skip
    sleeper = subprocess.Popen(["sleep", "600"])  # the "worker" a reader finds alive
    status = runs.StatusWriter(path)
    status.status = status.status.replace(pid=sleeper.pid)
    status.start()
    try:
        # A long run (3 s refreshes), well into its first epoch.
        status.update(force=True, state=runs.RUNNING, message="training", started=time.time(),
                      epoch=1, epochs=5, elapsed=100.0, eta_seconds=400.0)  # fmt: skip
        open_page(page, server, "train")
        assert run_heading(page) == (path.name, runs.RUNNING)
        wait_until(lambda: "1/5" in history_cells(page), 60, "the history to show epoch 1")
        for epoch in (2, 3):
            status.update(force=True, epoch=epoch, epochs_completed=epoch - 1,
                          elapsed=100.0 * epoch)  # fmt: skip
            wait_until(lambda e=epoch: f"{e}/5" in history_cells(page), 60,
                       f"the history to show epoch {epoch}")  # fmt: skip
        status.update(force=True, state=runs.STOPPED, epochs_completed=3, finished=time.time())
        wait_until(lambda: runs.STOPPED in history_cells(page), 60, "the history to show stopped")
        assert "3/5" in history_cells(page) and exceptions(page) == []
    finally:
        status.close()
        sleeper.kill()
        sleeper.wait()


def test_the_learning_rate_slider_is_in_order(page, server):
    open_page(page, server, "train")
    set_slider(page, "Learning rate (log scale)", "Home")
    seen = [float(slider_value(page, "Learning rate (log scale)"))]
    for _ in range(7):
        set_slider(page, "Learning rate (log scale)", "ArrowRight")
        seen.append(float(slider_value(page, "Learning rate (log scale)")))
    stops = sorted(dict.fromkeys(seen))
    assert seen[: len(stops)] == stops  # every step to the right is a larger rate
    assert stops[0] == 1e-4 and 1e-3 in stops and stops[-1] == 0.1


def test_after_a_reload_the_panel_shows_the_watched_runs_own_settings(page, server):
    stop_all_runs(server)
    open_page(page, server, "train")
    set_slider(page, "Epochs", "End")
    set_slider(page, "Training images", "End")
    run_id = click_start(page, server)
    page.reload()
    wait_idle(page)
    assert run_heading(page)[0] == run_id
    settings = runs.find_run(run_id, server.runs_dir).config.train.describe()
    caption = page.locator("[data-testid='stCaptionContainer']").filter(has_text="seed ")
    assert settings in caption.first.inner_text()
    assert slider_value(page, "Training images") == "5500"  # the form: this session's next run
    assert "59,000 training" in settings
    stop_all_runs(server)


def test_a_page_load_asks_no_host_but_the_apps(page, server):
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(r.url.split("/")[2]) if "://" in r.url else None)
    for path in ("", "data", "model", "train", "evaluate", "sketch"):
        open_page(page, server, path)
    assert hosts == {server.url.split("/")[2]}


def test_model_diagram_text_is_legible_for_every_preset(page, server):
    open_page(page, server, "model")
    for title in TITLES:
        click_preset(page, title)
        svg = page.locator("[data-testid='stGraphVizChart'] svg").first
        heights = svg.locator("text").evaluate_all(
            "ts => ts.map(t => t.getBoundingClientRect().height)"
        )
        assert heights and min(heights) >= 11, (title, min(heights))
        box = svg.bounding_box()
        main = page.locator("[data-testid='stMain']").bounding_box()
        assert box["x"] + box["width"] <= main["x"] + main["width"], title  # not cut off


def test_evaluate_per_class_table_fits_and_follows_a_deleted_run(page, server, tmp_path):
    import keras

    # A run with a model (a tiny one, saved as the worker would), selected in the history.
    path = runs.create_run(PRESETS["codelab"].model, TrainConfig(), "codelab", server.runs_dir)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])  # fmt: skip
    model.save(path / runs.MODEL)
    runs.write_json_atomic(path / runs.STATUS, {"state": runs.DONE, "pid": None, "heartbeat": 0})
    open_page(page, server, "train")
    _select_run(page, path.name)
    page.get_by_role("button", name="Use for Evaluate and Sketch").click()
    wait_idle(page)
    go(page, "Evaluate")
    expect(page.get_by_text(f"run {path.name}").first).to_be_visible()
    grid = page.locator("[data-testid='stDataFrame']").first
    overflow = grid.locator(".dvn-scroller").first.evaluate("e => e.scrollWidth - e.clientWidth")
    assert overflow <= 0  # every column, "wrong" included, fits
    runs.delete_run(path)  # as another tab would
    warning = page.get_by_text(f"Run {path.name} no longer exists")
    warning.wait_for(timeout=30_000)  # no click needed
    assert page.get_by_text("Model: **the bundled default model**").count() == 0
    expect(page.get_by_text("the bundled default model").first).to_be_visible()
    assert exceptions(page) == []


def test_use_these_settings_fills_the_form_at_once(page, server):
    stop_all_runs(server)
    train = TrainConfig(epochs=7, batch_size=64, train_size=2_000, validation_size=500)
    path = runs.create_run(PRESETS["fast"].model, train, "fast", server.runs_dir)
    runs.write_json_atomic(path / runs.STATUS, {"state": runs.DONE, "pid": None, "heartbeat": 0})
    open_page(page, server, "train")
    assert run_heading(page)[0] == path.name  # the newest run
    assert slider_value(page, "Epochs") == str(PRESETS["codelab"].train.epochs)  # a new session
    page.get_by_role("button", name="Use these settings").click()
    wait_idle(page)
    # No other click: the form above shows the run's settings, and Start would run them.
    assert slider_value(page, "Epochs") == "7"
    assert slider_value(page, "Batch size") == "64"
    assert slider_value(page, "Training images") == "2000"
    expect(page.get_by_text("Model: fast").first).to_be_visible()
    run_id = click_start(page, server)
    config = runs.find_run(run_id, server.runs_dir).config
    assert (config.train, config.model, config.preset) == (train, PRESETS["fast"].model, "fast")
    stop_all_runs(server)


def test_watching_another_run_keeps_a_way_back_to_the_live_one(page, server):
    stop_all_runs(server)
    old = _make_finished_run(server, 1)
    open_page(page, server, "train")
    set_slider(page, "Epochs", "End")
    set_slider(page, "Training images", "End")
    live = click_start(page, server)
    _select_run(page, old)
    page.get_by_role("button", name="Watch this run").click()
    wait_idle(page)
    assert run_heading(page)[0] == old
    page.get_by_role("button", name="Watch the live run").click()
    wait_idle(page)
    assert run_heading(page)[0] == live
    page.get_by_role("button", name="Stop", exact=True).click()
    run = wait_state(server, live, runs.FINAL_STATES)
    assert run.state == runs.STOPPED
