"""Models in and out in Chromium: a .keras upload becomes a run that Evaluate scores; each
export format downloads from the run history as a zip with the model and its card."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

from playwright.sync_api import expect

from mnist import DEFAULT_MODEL, runs
from tests.e2e.conftest import exceptions, go, open_page, select_rows, wait_idle, wait_until


def _import(page, path) -> str:
    """Upload ``path`` with the history's import box; the new run's id."""
    page.get_by_text("Import a model (.keras)").click()
    page.locator(".st-key-train-import input[type='file']").set_input_files(str(path))
    button = page.locator(".st-key-train-import_button button").first
    expect(button).to_be_enabled()
    button.click()


def test_import_a_model_evaluate_it_and_download_every_export(page, server, tmp_path):
    open_page(page, server, "train")
    before = {r.run_id for r in runs.list_runs(server.runs_dir)[0]}
    _import(page, DEFAULT_MODEL)
    run_id = wait_until(
        lambda: {r.run_id for r in runs.list_runs(server.runs_dir)[0]} - before,
        120,
        "the import to make a run",
    ).pop()
    run = runs.find_run(run_id, server.runs_dir)
    assert run.config.kind == "import" and run.state == runs.DONE
    expect(page.locator("h4").filter(has_text=f"Run {run_id} — done").first).to_be_visible()
    expect(page.get_by_text("Trained elsewhere and imported")).to_be_visible()

    # Select it in the history, use it, and Evaluate scores it.
    select_rows(page, page.locator("[data-testid='stDataFrame']").first, texts=[run_id])
    page.get_by_role("button", name="Use for Evaluate and Sketch").click()
    wait_idle(page)
    go(page, "Evaluate")
    expect(page.get_by_text(f"run {run_id} (imported)").first).to_be_visible()
    accuracy = page.locator("[data-testid='stMetric']").filter(has_text="Test accuracy")
    expect(accuracy.locator("[data-testid='stMetricValue']")).to_have_text("99.72%")

    go(page, "Training")
    select_rows(page, page.locator("[data-testid='stDataFrame']").first, texts=[run_id])
    expected = {
        "keras": "model.keras",
        "saved_model": "saved_model/saved_model.pb",
        "onnx": "model.onnx",
        "litert": "model.tflite",
    }
    for fmt, model_file in expected.items():
        page.get_by_role("button", name="Export the model").click()
        shots = os.environ.get("MNIST_SCREENSHOTS")
        if shots and fmt == "keras":
            wait_idle(page)
            page.screenshot(path=str(Path(shots) / "export.png"))
        with page.expect_download(timeout=300_000) as info:
            page.locator(f".st-key-train-export-{fmt} button").click()
        path = tmp_path / f"{fmt}.zip"
        info.value.save_as(path)
        with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as zf:
            names = set(zf.namelist())
            assert model_file in names, names
            card_name = next(n for n in names if n.endswith(("card.json", "model_card.json")))
            card = json.loads(zf.read(card_name))
        assert card["export"]["format"] == fmt
        assert card["export"]["max_probability_difference"] <= 1e-5
        assert card["name"] == f"run {run_id}" and card["test_accuracy"] == 0.9972
        page.keyboard.press("Escape")
    assert exceptions(page) == []


def test_a_model_for_other_images_is_refused_in_one_sentence(page, server, tmp_path):
    import keras

    path = tmp_path / "cifar.keras"
    keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(5)]
    ).save(path)
    open_page(page, server, "train")
    before = {r.run_id for r in runs.list_runs(server.runs_dir)[0]}
    _import(page, path)
    expect(
        page.get_by_text(
            "This model cannot be imported: cifar.keras: this model takes 32×32×3 images and "
            "gives 5 outputs"
        )
    ).to_be_visible()
    assert {r.run_id for r in runs.list_runs(server.runs_dir)[0]} == before
    assert exceptions(page) == []
