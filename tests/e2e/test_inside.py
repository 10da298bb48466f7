"""The Inside page in Chromium: every preset's model and an edited architecture, a mistake
from the Evaluate page, the t-SNE map and a click on it."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

from mnist import runs
from mnist.config import PRESETS, ConvBlock, ModelConfig, TrainConfig
from mnist.models import build_model
from tests.e2e.conftest import (
    exceptions,
    open_page,
    select_rows,
    stop_all_runs,
    wait_idle,
    wait_until,
)

pytestmark = pytest.mark.slow

EDITED = ModelConfig(
    conv_blocks=(
        ConvBlock(filters=6, convs=2, batch_norm=True, padding="valid", pool="avg"),
        ConvBlock(filters=12, kernel_size=5, stride=2, pool="none", dropout=0.1),
    ),
    head="global_avg",
    dense_units=(24, 16),
    dense_dropout=0.2,
)
MAPS = ("Gradient (saliency)", "SmoothGrad", "Integrated gradients", "Grad-CAM", "Occlusion")


def _run_with_model(server, name: str, config: ModelConfig) -> str:
    """A finished run whose model is ``config`` built (untrained: what matters here is that
    the page can look inside any architecture)."""
    import keras

    path = runs.create_run(config, TrainConfig(), name, server.runs_dir)
    keras.utils.set_random_seed(0)
    build_model(config).save(path / runs.MODEL)
    runs.write_json_atomic(path / runs.STATUS, {"state": runs.DONE, "pid": None, "heartbeat": 0})
    time.sleep(0.01)  # distinct creation times: the history's order is certain
    return path.name


def _use_run(page, server, run_id: str) -> None:
    """Choose ``run_id`` in the Training page's history for Evaluate, Sketch and Inside."""
    open_page(page, server, "train")
    select_rows(page, page.locator("[data-testid='stDataFrame']").last, texts=[run_id])
    page.get_by_role("button", name="Use for Evaluate and Sketch").click()
    wait_idle(page)


def _to_inside(page) -> None:
    page.locator("[data-testid='stSidebarNavLink']").filter(has_text="Inside").click()
    expect(page.locator("h1").first).to_have_text("Inside the network")
    wait_idle(page, timeout=300)


def _open(page, label: str):
    """Open the select box labelled ``label``; its options."""
    options = page.get_by_role("option")
    for _ in range(10):  # a click while a chart is still being drawn can be lost: again
        page.get_by_role("combobox", name=label).last.click()
        try:
            options.first.wait_for(timeout=5_000)
            return options
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError: try once more
            page.keyboard.press("Escape")
    raise AssertionError(f"the select box {label!r} never opened")


def _choose(page, label: str, option: str) -> None:
    """Pick the option starting with ``option`` in the select box ``label``, as a person does."""
    _open(page, label).filter(has_text=re.compile("^" + re.escape(option))).first.click()
    wait_idle(page, timeout=300)


def test_every_preset_and_an_edited_architecture_can_be_looked_inside(page, server):
    stop_all_runs(server)
    models = {name: PRESETS[name].model for name in PRESETS} | {"edited": EDITED}
    made = {name: _run_with_model(server, name, config) for name, config in models.items()}
    for name, run_id in made.items():
        _use_run(page, server, run_id)
        _to_inside(page)
        expect(page.get_by_text(f"run {run_id}").first).to_be_visible()
        expect(page.get_by_text(re.compile(r"The network answers \d")).first).to_be_visible()
        first_conv = build_model(models[name]).layers[1].name
        expect(page.get_by_text(f"The first convolution, by hand ({first_conv})")).to_be_visible()
        for title in MAPS:
            expect(page.get_by_text(title, exact=True).first).to_be_visible()
        expect(page.get_by_text("Integrated gradients, checked").first).to_be_visible()
        chart = page.locator("[data-testid='stVegaLiteChart']").last
        expect(chart).to_be_visible()
        # why not another digit: the maps and the check follow
        _choose(page, "Explain the score of", "4 (")
        expect(page.get_by_text("the score of 4 changed by").first).to_be_visible()
        assert exceptions(page) == [], name


def test_a_mistake_on_the_evaluate_page_is_explained_inside(page, server):
    open_page(page, server, "evaluate")  # a new session: the bundled model
    options = _open(page, "Why did the network answer that?")
    third = options.nth(2).inner_text()
    index, true, predicted = map(int, re.match(r"#(\d+): (\d) → (\d)", third).groups())
    options.nth(2).click()
    wait_idle(page)
    page.get_by_role("button", name="Why? Look inside").last.click()
    expect(page.locator("h1").first).to_have_text("Inside the network")
    expect(page.get_by_text(f"test image {index:,} (a {true})")).to_be_visible()
    expect(page.get_by_text(f"The network answers {predicted}").first).to_be_visible()
    expect(page.get_by_text(f"wrong, it is a {true}").first).to_be_visible()
    wait_idle(page, timeout=300)
    assert exceptions(page) == []
    # Back on Evaluate and again: the same link, the same digit
    page.go_back()
    expect(page.locator("h1").first).to_have_text("Evaluate")
    wait_idle(page)
    page.get_by_role("button", name="Why? Look inside").last.click()
    expect(page.get_by_text(f"test image {index:,} (a {true})")).to_be_visible()
    assert exceptions(page) == []


def test_the_tsne_map_appears_and_a_click_on_it_chooses_the_input(page, server):
    open_page(page, server, "inside")
    start = page.get_by_text(re.compile(r"test image [\d,]+ \(a \d\)")).first.inner_text()
    page.get_by_text("t-SNE", exact=True).first.click()  # the radio
    # The first time for a model it takes a while (benchmarks, figure 11): a note says so,
    # the rest of the page keeps working, and the map appears on its own.
    expect(page.get_by_text("flattened by t-SNE").first).to_be_visible()
    wait_idle(page, timeout=300)  # the PCA map is gone
    chart = page.locator(
        "[class*='st-key-inside-embedding'][data-stale='false'] [data-testid='stVegaLiteChart']"
    )
    wait_until(lambda: chart.count(), 900, "the t-SNE map")
    expect(page.get_by_text("Placing the 10,000 digits by t-SNE")).to_have_count(0)
    wait_idle(page, timeout=300)
    assert exceptions(page) == []
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    caption = page.get_by_text(re.compile(r"test image [\d,]+ \(a \d\)")).first

    def pointed_at_a_digit() -> bool:
        # Point across the plot until a tooltip shows a digit's picture (the dots are small).
        tip = page.locator("#vg-tooltip-element img")
        for fx in np.linspace(0.1, 0.8, 15):
            for fy in np.linspace(0.1, 0.9, 9):
                page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
                page.wait_for_timeout(100)
                if tip.count() and tip.first.is_visible():
                    src = tip.first.get_attribute("src")
                    shots = os.environ.get("MNIST_SCREENSHOTS")
                    if shots:
                        page.screenshot(path=str(Path(shots) / "inside-map.png"))
                    return src.startswith("data:image/png;base64,") and len(src) > 100
        return False

    assert pointed_at_a_digit(), "no tooltip with a digit's picture"

    def clicked_a_dot() -> bool:
        # Dots are small: try places across the plot until one is a digit.
        for fx, fy in ((0.5, 0.5), (0.3, 0.3), (0.7, 0.7), (0.3, 0.7), (0.7, 0.3),
                       (0.45, 0.2), (0.2, 0.5), (0.6, 0.85), (0.85, 0.5), (0.5, 0.4)):  # fmt: skip
            page.mouse.click(box["x"] + box["width"] * fx * 0.85, box["y"] + box["height"] * fy)
            wait_idle(page, timeout=300)
            if caption.inner_text() != start:
                return True
        return False

    assert clicked_a_dot(), "no click on the map chose a digit"
    assert exceptions(page) == []
