"""What only a browser shows: pages painted, real mouse strokes on the canvas."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import exceptions, open_page, wait_idle

pytestmark = pytest.mark.e2e

PAGES = {"": "MNIST CNN Studio", "data": "Data", "model": "Model", "train": "Training",
         "evaluate": "Evaluate", "sketch": "Sketch a digit",
         "inside": "Inside the network"}  # fmt: skip


def test_every_page_paints_its_content(page, server):
    shots = os.environ.get("MNIST_SCREENSHOTS")  # e.g. docs/screenshots: refresh the README's
    for path, title in PAGES.items():
        open_page(page, server, path)
        assert page.locator("h1").first.inner_text() == title
        assert exceptions(page) == [], path
        main = {
            "": "[data-testid='stMetric']",
            "data": "[data-testid='stImage']",
            "model": "[data-testid='stGraphVizChart']",
            "train": "button:has-text('Start')",
            "evaluate": "[data-testid='stVegaLiteChart']",
            "sketch": "canvas.upper-canvas",
            "inside": "text=Where each digit lives",
        }
        expect(page.locator(main[path]).first).to_be_visible()
        if shots:
            _screenshot(page, server, path, Path(shots))


def _screenshot(page, server, path: str, folder: Path) -> None:
    """The README's picture of a page: the Training page after a codelab run, a 7 sketched."""
    from tests.e2e.conftest import click_start, wait_state

    if path == "train":
        run_id = click_start(page, server)
        wait_state(server, run_id, ("done",))
        page.locator("h4").filter(has_text="— done").first.wait_for(timeout=60_000)
    if path == "sketch":
        stroke(page, [(60, 50), (220, 50)])
        stroke(page, [(220, 50), (120, 250)])
        prediction(page)
    folder.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1800})
    wait_idle(page)
    page.screenshot(path=str(folder / f"{path or 'home'}.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})


def stroke(page, points, steps: int = 6) -> None:
    """One pen stroke through ``points`` (canvas pixels), with real mouse events."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0], y0 + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x0 + x, y0 + y, steps=steps)
    page.mouse.up()


def prediction(page, previous: str | None = None, timeout: float = 30) -> str:
    """The Prediction shown in the open tab, once it differs from ``previous``."""
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Prediction")
    metric = metric.filter(visible=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if metric.count() == 1:
            value = metric.locator("[data-testid='stMetricValue']").inner_text().strip()
            if value != previous:
                return value
        time.sleep(0.2)
    raise AssertionError("no new Prediction appeared")


def circle(cx, cy, r, n=24):
    return [
        (cx + r * math.sin(2 * math.pi * i / n), cy - r * math.cos(2 * math.pi * i / n))
        for i in range(n + 1)
    ]


def test_sketch_mouse_strokes_are_classified_and_clear_empties(page, server):
    open_page(page, server, "sketch")
    expect(page.get_by_text("Draw a digit on the black square").first).to_be_visible()
    # A large 7 in the middle: two strokes.
    stroke(page, [(60, 50), (220, 50)])
    stroke(page, [(220, 50), (120, 250)])
    assert prediction(page) == "7"
    page.get_by_role("button", name="Clear").click()
    wait_idle(page)
    shown = page.locator("[data-testid='stMetric']").filter(has_text="Prediction")
    assert shown.filter(visible=True).count() == 0
    # A small 0 off-centre, in the top-left corner.
    stroke(page, circle(70, 80, 35))
    assert prediction(page) == "0"
    assert exceptions(page) == []


def test_a_drawing_outlives_a_page_switch_until_cleared(page, server):
    from tests.e2e.conftest import go

    open_page(page, server, "sketch")
    stroke(page, [(60, 50), (220, 50)])
    stroke(page, [(220, 50), (120, 250)])
    assert prediction(page) == "7"
    go(page, "Data")
    go(page, "Sketch")
    assert prediction(page) == "7"  # the drawing came back with the page
    stroke(page, [(140, 20), (140, 260)])  # more ink on the kept drawing: a new answer comes
    wait_idle(page)
    assert prediction(page) in {str(d) for d in range(10)}
    page.get_by_role("button", name="Clear").click()
    wait_idle(page)
    go(page, "Data")
    go(page, "Sketch")
    shown = page.locator("[data-testid='stMetric']").filter(has_text="Prediction")
    assert shown.filter(visible=True).count() == 0
    assert exceptions(page) == []


def test_a_sketch_is_explained_inside(page, server):
    """Draw a 7, press "Why? Look inside": the Inside page shows that drawing, every layer
    and the five maps; then a test digit again, and back."""
    open_page(page, server, "sketch")
    stroke(page, [(60, 50), (220, 50)])
    stroke(page, [(220, 50), (120, 250)])
    assert prediction(page) == "7"
    page.get_by_role("button", name="Why? Look inside").first.click()
    expect(page.locator("h1").first).to_have_text("Inside the network", timeout=60_000)
    expect(page.get_by_text("your drawing from the Sketch page")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("The network answers 7")).to_be_visible(timeout=60_000)
    for name in ("Gradient (saliency)", "SmoothGrad", "Integrated gradients", "Grad-CAM",
                 "Occlusion", "Where each digit lives"):  # fmt: skip
        expect(page.get_by_text(name, exact=True).first).to_be_visible(timeout=60_000)
    wait_idle(page)
    assert exceptions(page) == []
    # From the drawing to a test digit of the class the model answered, then back
    page.get_by_role("button", name="Another one").click()
    expect(page.get_by_text("(a 7)").first).to_be_visible(timeout=60_000)
    page.get_by_role("link", name="Sketch").first.click()
    expect(page.locator("h1").first).to_have_text("Sketch a digit", timeout=60_000)
    assert prediction(page) == "7"  # the drawing is still there
    page.get_by_role("button", name="Why? Look inside").first.click()
    expect(page.get_by_text("your drawing from the Sketch page")).to_be_visible(timeout=60_000)
    wait_idle(page)
    assert exceptions(page) == []
    shots = os.environ.get("MNIST_SCREENSHOTS")
    if shots:
        page.set_viewport_size({"width": 1400, "height": 3000})
        wait_idle(page)
        page.screenshot(path=str(Path(shots) / "inside.png"))
        page.set_viewport_size({"width": 1400, "height": 1000})
        heading = page.get_by_role("heading", name="Why this answer")
        heading.evaluate("h => h.scrollIntoView({block: 'start'})")
        wait_idle(page)
        page.screenshot(path=str(Path(shots) / "inside-why.png"))
