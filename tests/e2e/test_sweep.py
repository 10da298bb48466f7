"""The Sweep page in Chromium: a tiny sweep built with the widgets, its table filling in
(through a reload), the best trial used on Evaluate."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from mnist import sweeps
from tests.e2e.conftest import exceptions, go, open_page, readme_screenshot, wait_idle, wait_until

pytestmark = pytest.mark.e2e


def _choose(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def _add_to(page, label: str, names: list[str]) -> None:
    box = page.get_by_role("combobox", name=label)
    for name in names:
        box.click()
        page.keyboard.type(name)
        page.keyboard.press("Enter")
        wait_idle(page)
    page.keyboard.press("Escape")


def _stop_sweeps(server) -> None:
    for sweep in sweeps.list_sweeps(server.runs_dir)[0]:
        sweeps.request_stop(sweep.path)
    wait_until(lambda: not any(s.is_live for s in sweeps.list_sweeps(server.runs_dir)[0]),
               600, "every sweep to end")  # fmt: skip


def test_a_tiny_sweep_from_the_page_to_evaluate(page, server):
    open_page(page, server, "sweep")
    try:
        _choose(page, "Start from the preset", "Codelab")
        trials = page.get_by_role("spinbutton", name="Trials")
        trials.fill("4")
        trials.press("Enter")
        wait_idle(page)
        _add_to(page, "Settings to vary", ["train_size", "epochs"])
        sizes = page.locator(".st-key-sweep-space-w-range-train_size")
        for chip in ("5000", "20000"):
            sizes.get_by_role("button", name=f"Remove {chip}").click()
            wait_idle(page)
        page.get_by_role("combobox", name="train_size — training images").click()
        page.get_by_role("option", name="1000", exact=True).click()
        page.keyboard.press("Escape")
        wait_idle(page)
        epochs = page.locator("[data-testid='stSlider']").filter(has_text="epochs —")
        upper = epochs.locator("input[type='range']").last
        upper.focus()
        for _ in range(3):  # 1–4 → 1–1: one epoch each
            page.keyboard.press("ArrowLeft")
        wait_idle(page)
        page.get_by_text("The same sweep from the command line").click()
        command = page.locator("[data-testid='stCode']").first
        expect(command).to_contain_text("--preset codelab --trials 4")
        expect(command).to_contain_text("--param train_size=choice:1000 --param epochs=choice:1")

        page.get_by_role("button", name=re.compile("Start sweep")).click()
        expect(page.get_by_role("button", name=re.compile("Stop sweep"))).to_be_visible()
        expect(page.get_by_role("button", name=re.compile("Start sweep"))).to_be_disabled()
        page.reload()  # a reload in the middle: the sweep goes on, the page finds it again
        # .first while waiting: a redraw can show two lines for a moment; once the page has
        # settled there must be one (checked below)
        expect(page.get_by_text(re.compile(r"^running — ")).first).to_be_visible(timeout=120_000)

        # the table fills in as trials finish; the sweep ends on its own
        expect(page.get_by_text(re.compile(r"^done — ")).first).to_be_visible(timeout=900_000)
        assert not exceptions(page)
        (sweep,) = sweeps.list_sweeps(server.runs_dir)[0]
        assert sweep.state.state == sweeps.DONE
        assert all(t.run is not None and t.run.model_path is not None for t in sweep.trials)
        table = page.locator("[data-testid='stDataFrame']").first
        for trial in sweep.trials:  # every trial's run is in the table
            expect(table).to_contain_text(trial.run.run_id)
        best = sweep.best()
        # One panel: the sweep's end reran the page, and the panel is drawn where it was
        # (a second copy, left by a fragment run in flight, was seen under load).
        expect(page.get_by_text(re.compile(r"^done — "))).to_have_count(1)
        banner = page.get_by_text(re.compile(r"Best trial: trial \d"))
        expect(banner).to_have_count(1)
        expect(banner).to_contain_text(f"trial {best.number}")
        expect(banner).to_contain_text(best.run.run_id)
        expect(banner).to_contain_text(f"{best.val_accuracy:.2%}")
        expect(page.get_by_role("button", name=re.compile("Start sweep"))).to_be_enabled()
        readme_screenshot(page, "sweep.png", 2000)

        # The panel's last refresh may still be drawing (its old elements shown until the new
        # ones replace them): wait for the page to settle before the click.
        wait_idle(page)
        page.get_by_role("button", name=re.compile("Use the best trial")).click()
        wait_idle(page)
        go(page, "Evaluate")
        expect(page.locator("[data-testid='stMain']")).to_contain_text(best.run.run_id)
        assert not exceptions(page)
    finally:
        _stop_sweeps(server)
