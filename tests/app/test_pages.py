"""Every page under AppTest: no exception, and the widgets do what they say."""

from __future__ import annotations

import base64
import io
import os
import re
import time

import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from mnist import DEFAULT_MODEL, runs
from mnist.config import PRESETS
from mnist.models import build_model
from mnist.ui.history import table_key
from mnist.ui.widgets import keyed_to
from tests.app.conftest import APP, PAGES, open_page
from tests.conftest import ROOT, wait_for


@pytest.mark.parametrize("name", PAGES)
def test_every_page_runs_without_exception(name):
    at = open_page(name)
    assert not at.exception, at.exception
    assert at.title, "every page has a title"


def test_home_page_names_the_data_and_the_model():
    at = open_page("home")
    assert [m.value for m in at.metric][:3] == ["55,000", "5,000", "10,000"]
    text = " ".join(m.value for m in at.markdown)
    assert "checksums verified" in text and "the bundled default model" in text


def test_home_page_does_not_import_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys; from streamlit.testing.v1 import AppTest; "
        f"at = AppTest.from_file({APP!r}, default_timeout=60).run(); "
        "assert not at.exception, at.exception; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    # pandas too: importing it cost the home page 0.2 s of start-up (figure 7)
    assert out.stdout.strip().splitlines()[-1] == "False False False", out.stderr[-2000:]


def test_full_collections_skip_tensorflow_once_it_is_loaded():
    """Streamlit runs ``keras.backend.clear_session()`` (a full ``gc.collect()``) after every
    script run; with TensorFlow's ~400,000 objects in view that took ~220 ms each time."""
    import subprocess
    import sys

    code = (
        "import gc, sys; from streamlit.testing.v1 import AppTest; "
        f"at = AppTest.from_file({APP!r}, default_timeout=120).run(); "
        "at.switch_page('pages/model.py').run(); assert not at.exception, at.exception; "
        "import keras; tracked = {id(o) for o in gc.get_objects()}; "
        "print('keras' in sys.modules, gc.get_freeze_count() > 100_000, "
        "id(keras.layers.Conv2D) in tracked, id(sys.modules['tensorflow']) in tracked)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert out.stdout.strip().splitlines()[-1] == "True True False False", out.stderr[-2000:]


def test_streamlit_config_is_offline_and_skips_per_rerun_work():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["browser"]["gatherUsageStats"] is False
    assert config["runner"]["postScriptGC"] is False
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["address"] == "localhost"  # never every interface by default


def test_data_page_filters_and_reshuffles_examples():
    at = open_page("data")
    labels_before = [i.proto.imgs[0].caption for i in at.get("image")][:20]
    assert len(labels_before) == 20 and all(c.startswith("label ") for c in labels_before)
    at.pills(key="data.digits_widget").set_value([3]).run()
    shown = [i.proto.imgs[0].caption for i in at.get("image")][:20]
    assert shown == ["label 3"] * 20
    at.button[0].click().run()  # Reshuffle
    again = [i.proto.imgs[0].caption for i in at.get("image")][:20]
    assert again == ["label 3"] * 20


def _params_metric(at) -> str:
    return next(m.value for m in at.metric if m.label == "Parameters")


def test_model_page_presets_change_the_parameter_count():
    at = open_page("model")
    assert _params_metric(at) == "5,994"
    at.segmented_control(key="model.preset").set_value("fast").run()
    expected = build_model(PRESETS["fast"].model).count_params()
    assert _params_metric(at) == f"{expected:,}"
    assert at.session_state["model_preset"] == "fast"
    assert at.session_state["train_config"] == PRESETS["fast"].train


def test_model_page_edit_and_invalid_choice_shows_the_librarys_message():
    at = open_page("model")
    at.select_slider(key="model.w.b0.filters").set_value(16).run()
    assert at.session_state["model_preset"] is None
    edited = at.session_state["model_config"]
    assert edited.conv_blocks[0].filters == 16
    # 16 filters 5×5 on 1 channel + bias, the rest of the codelab model as before.
    assert _params_metric(at) == f"{5994 - 208 + (5 * 5 * 16 + 16) + (5 * 5 * 8 * 16):,}"
    at.slider(key="model.w.blocks").set_value(4).run()  # 24→12, 8→4, 4→2, 2→1
    four = at.session_state["model_config"]
    assert four.feature_sides() == [12, 4, 2, 1] and not at.error
    at.selectbox(key="model.w.b3.padding").set_value("valid").run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and "conv block 4 would shrink its 2×2 input below 1×1" in errors[0]
    assert at.session_state["model_config"] == four  # the last valid model is kept


def test_model_page_settings_survive_a_page_switch():
    at = open_page("model")
    at.segmented_control(key="model.preset").set_value("best").run()
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/model.py").run()
    assert at.segmented_control(key="model.preset").value == "best"
    assert _params_metric(at) == f"{build_model(PRESETS['best'].model).count_params():,}"


def test_training_page_runs_a_tiny_training_to_the_history(runs_dir):
    at = open_page("train")
    assert not at.exception
    at.slider(key="train.w.validation_size").set_value(500).run()
    at.slider(key="train.w.train_size").set_value(500).run()
    at.slider(key="train.w.epochs").set_value(1).run()
    at.select_slider(key="train.w.batch_size").set_value(128).run()
    config = at.session_state["train_config"]
    assert (config.epochs, config.train_size, config.validation_size) == (1, 500, 500)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state["train.run"]
    assert run_id
    final = wait_for(
        lambda: runs.find_run(run_id).state in runs.FINAL_STATES,
        timeout=300,
        what="the run to finish",
    )
    run = runs.find_run(run_id)
    assert final and run.state == runs.DONE, run.status
    at.run()
    assert not at.exception, at.exception
    assert any("Test accuracy on the 10,000 test images" in s.value for s in at.success)
    assert len(at.get("vega_lite_chart")) >= 4  # batch loss/accuracy, epoch loss/accuracy
    history = at.dataframe[0].value
    assert list(history["run"]) == [run_id]
    assert list(history["status"]) == ["done"]
    assert history["test accuracy"][0] == pytest.approx(100 * run.status.test_accuracy)

    # Make it the model of Evaluate and Sketch, then delete it.
    at.session_state[table_key([run_id])] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    next(b for b in at.button if b.label == "Use for Evaluate and Sketch").click().run()
    assert at.session_state["selected_run"] == run_id
    at.switch_page("pages/sketch.py").run()
    assert any(f"Model: **run {run_id} (codelab)**" in c.value for c in at.caption)
    at.switch_page("pages/train.py").run()
    at.session_state[table_key([run_id])] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    # Delete asks first (a popover), then deletes.
    next(b for b in at.button if b.label == "Delete for good").click().run()
    assert not at.exception, at.exception
    assert not run.path.exists()
    assert at.session_state["selected_run"] is None
    assert not at.dataframe


def test_training_page_shows_a_bad_setting_clearly():
    at = open_page("train")
    at.number_input(key="train.w.early_stopping").set_value(3).run()
    at.slider(key="train.w.validation_size").set_value(0).run()
    assert not at.exception
    assert any("validation size above 0" in e.value for e in at.error)


@pytest.mark.parametrize("native", [False, True])
def test_training_page_warns_of_emulated_bfloat16(monkeypatch, native):
    from mnist import hardware

    monkeypatch.setattr(hardware, "native_bfloat16", lambda: native)
    at = open_page("train")
    for precision in ("auto", "float32"):
        at.selectbox(key="train.w.precision").set_value(precision).run()
        assert not at.exception and not at.warning
    at.selectbox(key="train.w.precision").set_value("mixed_bfloat16").run()
    assert not at.exception
    assert at.session_state["train_config"].precision == "mixed_bfloat16"
    warned = [w.value for w in at.warning if "no native bfloat16" in w.value]
    assert len(warned) == (0 if native else 1)


def test_training_page_reattaches_to_a_run_on_disk(runs_dir, codelab_model, tiny_train):
    path = runs.create_run(codelab_model, tiny_train, preset="codelab")
    at = open_page("train")  # a new session: nothing in its state names the run
    assert at.session_state["train.run"] == path.name


def test_evaluate_page_cell_selection_shows_that_cells_images():
    at = open_page("evaluate")
    metric = next(m.value for m in at.metric if m.label == "Test accuracy")
    assert metric.endswith("%")
    assert len(at.get("vega_lite_chart")) == 2  # the errors per digit, the confusion matrix
    key = keyed_to("evaluate.confusion", (str(DEFAULT_MODEL), DEFAULT_MODEL.stat().st_mtime))
    at.session_state[key] = {"selection": {"cell": [{"true": 4, "predicted": 9}]}}
    at.run()
    assert not at.exception
    heading = next(s.value for s in at.subheader if "test images of 4" in s.value)
    assert heading.endswith("taken for 9")


def _canvas_drawing(draw) -> dict:
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    draw(ImageDraw.Draw(image))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    return {"drawing": {"raw": {"objects": []}, "data": url}}


@pytest.mark.parametrize(
    ("digit", "draw"),
    [
        (1, lambda d: d.line([(140, 40), (140, 240)], fill="white", width=22)),
        (0, lambda d: d.ellipse([80, 40, 200, 240], outline="white", width=22)),
        (7, lambda d: d.line([(70, 50), (210, 50), (120, 240)], fill="white", width=22)),
    ],
)
def test_sketch_page_predicts_an_injected_drawing(digit, draw):
    at = open_page("sketch")
    assert any("Draw a digit" in i.value for i in at.info)  # empty canvas: no prediction
    assert not [m for m in at.metric if m.label == "Prediction"]
    at.session_state["sketch.canvas.0"] = _canvas_drawing(draw)
    at.run()
    assert not at.exception, at.exception
    assert next(m.value for m in at.metric if m.label == "Prediction") == str(digit)


def test_sketch_page_uses_the_selected_run_or_says_it_is_gone(runs_dir):
    at = open_page("sketch")
    at.session_state["selected_run"] = "20000101-000000-gone"
    at.run()
    assert any("no longer exists" in w.value for w in at.warning)
    assert not at.exception


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_model_page_shows_every_preset(name):
    at = open_page("model")
    at.segmented_control(key="model.preset").set_value(name).run()
    assert not at.exception, at.exception
    assert _params_metric(at) == f"{build_model(PRESETS[name].model).count_params():,}"


def test_sketch_page_says_when_the_network_is_unsure(runs_dir, codelab_model, tiny_train):
    import keras

    # A model that gives every digit 10 %: its best guess is a guess.
    path = runs.create_run(codelab_model, tiny_train)
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(),
         keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros")]
    )  # fmt: skip
    model.save(path / runs.MODEL)
    runs.write_json_atomic(path / runs.STATUS, {"state": runs.DONE, "heartbeat": 0})
    at = open_page("sketch")
    at.session_state["selected_run"] = path.name
    at.session_state["sketch.canvas.0"] = _canvas_drawing(
        lambda d: d.line([(140, 40), (140, 240)], fill="white", width=22)
    )
    at.run()
    assert not at.exception, at.exception
    metric = next(m for m in at.metric if m.label == "Prediction")
    assert "unsure" in metric.proto.delta
    assert any("The network is unsure" in w.value for w in at.warning)


def test_evaluate_reads_a_finished_runs_stored_scores_instead_of_scoring_again(
    runs_dir, codelab_model, tiny_train
):
    """The stored scores claim 12.34 %: the page shows that figure, so it did not re-score
    the model (an untrained one, which would score something else)."""
    import keras
    import numpy as np

    from mnist import data as mnist_data
    from mnist.evaluation import evaluate_predictions

    path = runs.create_run(codelab_model, tiny_train)
    keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    ).save(path / runs.MODEL)
    labels = mnist_data.load().test_labels
    rng = np.random.default_rng(0)
    probs = np.full((10_000, 10), 0.01, dtype=np.float32)
    right = rng.random(10_000) < 0.1234
    guess = np.where(right, labels, (labels + 1) % 10)
    probs[np.arange(10_000), guess] = 0.91
    evaluation = evaluate_predictions(labels, probs)
    runs.save_probabilities(path, probs)
    runs.write_json_atomic(path / runs.EVALUATION, evaluation.to_dict())
    runs.write_json_atomic(path / runs.STATUS, {"state": runs.DONE, "heartbeat": 0})
    at = open_page("evaluate")
    at.session_state["selected_run"] = path.name
    at.run()
    assert not at.exception, at.exception
    shown = next(m.value for m in at.metric if m.label == "Test accuracy")
    assert shown == f"{evaluation.accuracy:.2%}" and abs(evaluation.accuracy - 0.1234) < 0.01


def _page_using_a_run_model(name, write_model, codelab_model, tiny_train) -> AppTest:
    """``pages/<name>.py`` in a session that chose a finished run whose ``model.keras`` is
    what ``write_model(path)`` wrote; on Sketch, with a stroke drawn."""
    path = runs.create_run(codelab_model, tiny_train)
    write_model(path / runs.MODEL)
    runs.write_json_atomic(path / runs.STATUS, {"state": runs.DONE, "heartbeat": 0})
    at = open_page(name)
    at.session_state["selected_run"] = path.name
    at.run()
    if name == "sketch":
        at.session_state["sketch.canvas.0"] = _canvas_drawing(
            lambda d: d.line([(140, 40), (140, 240)], fill="white", width=22)
        )
        at.run()
    assert not at.exception, at.exception
    return at


def _damaged(path):
    path.write_bytes(b"not a keras archive")


def _diverged(path):
    import keras
    import numpy as np

    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    )
    model.layers[-1].bias.assign(np.full(10, np.nan, dtype="float32"))
    model.save(path)


def _for_other_images(path):
    import keras

    keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(5)]
    ).save(path)


@pytest.mark.parametrize("name", ["evaluate", "sketch"])
@pytest.mark.parametrize(
    ("write_model", "message"),
    [
        (_damaged, "not a readable Keras model file"),
        (_diverged, "outputs are not finite numbers"),
        (_for_other_images, "this model takes 32×32×3 images and gives 5 outputs"),
    ],
    ids=["damaged", "diverged", "other-images"],
)
def test_a_model_that_cannot_be_used_gets_one_sentence(
    name, write_model, message, codelab_model, tiny_train
):
    at = _page_using_a_run_model(name, write_model, codelab_model, tiny_train)
    errors = [e.value for e in at.error]
    assert any("This model cannot be used" in e and message in e for e in errors), errors


def test_inside_opens_on_a_test_digit_and_follows_every_control():
    at = open_page("inside")
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "The network answers **3**" in text  # test digit 3, the first of its class
    assert "conv" in text and "probabilities" in text  # every layer, by name
    at.selectbox(key="inside.digit").set_value(7).run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "The network answers **7**" in text
    first = at.session_state["inside.input"]["index"]
    at.button[0].click().run()  # Another one
    second = at.session_state["inside.input"]["index"]
    assert second != first and at.session_state["inside.input"]["kind"] == "test"
    at.selectbox(key="inside.class").set_value(1).run()
    at.slider(key="inside.epsilon").set_value(0.25).run()
    at.number_input(key="inside.filter").set_value(3).run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Now the answer is" in text and "of map 3" in text
    at.selectbox(key="inside.digit").set_value(5).run()  # a new input: its own answer
    assert "— the answer" in at.selectbox(key="inside.class").format_func(
        at.selectbox(key="inside.class").value
    )
    gaps = {}
    for steps in (16, 512):
        at.select_slider(key="inside.steps").set_value(steps).run()
        assert not at.exception, at.exception
        check = next(c.value for c in at.caption if "Integrated gradients, checked" in c.value)
        gaps[steps] = float(re.search(r"([\d.]+)% of that is left unaccounted for", check).group(1))
    assert gaps[512] < gaps[16]  # computed, not typed in: more steps, a smaller error


def test_inside_places_the_digits_by_tsne_in_the_background(monkeypatch):
    from mnist import explain

    # a short t-SNE: this test is about the page waiting for it, not its quality
    monkeypatch.setattr(explain, "TSNE_SETTINGS", {"early_exaggeration_iter": 5, "n_iter": 5})
    at = open_page("inside")
    at.radio(key="inside.projection").set_value("t-SNE").run()
    assert not at.exception, at.exception
    deadline = time.monotonic() + 600
    while any("Placing the 10,000 digits by t-SNE" in i.value for i in at.info):
        assert time.monotonic() < deadline, "t-SNE never finished"
        time.sleep(1)
        at.run()
        assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("keeps each digit's nearest neighbours" in c.value for c in at.caption)
    assert at.get("vega_lite_chart")  # the map


def test_a_mistake_on_evaluate_opens_inside_on_that_digit():
    at = open_page("evaluate")
    assert not at.exception, at.exception
    box = at.selectbox(key="evaluate.why.mistakes")
    second = box.options[1]
    box.set_value(second).run()
    at.button(key="evaluate.why.mistakes.go").click().run()
    assert not at.exception, at.exception
    index, true, predicted = map(int, re.match(r"#(\d+): (\d) → (\d)", second).groups())
    assert at.session_state["inside.input"] == {"kind": "test", "index": index}
    text = " ".join(m.value for m in at.markdown)
    assert f"The network answers **{predicted}**" in text and f"wrong, it is a {true}" in text


# -- My digits (issue 14) ------------------------------------------------------------------
def test_my_digits_saves_a_drawing_and_asks_for_the_next_digit(runs_dir):
    from mnist.personal import PersonalSet

    at = open_page("digits")
    assert at.segmented_control(key="digits.target").value == 0
    assert any("Fine-tuning needs at least 5" in i.value for i in at.info)
    assert at.button(key="digits.save").disabled  # nothing drawn yet
    at.session_state["digits.canvas.0"] = _canvas_drawing(
        lambda d: d.ellipse([80, 40, 200, 240], outline="white", width=22)
    )
    at.run()
    assert not at.button(key="digits.save").disabled
    at.button(key="digits.save").click().run()
    assert not at.exception, at.exception
    (sample,) = PersonalSet(runs_dir / "personal").samples()
    assert sample.digit == 0 and not sample.held_out
    assert at.segmented_control(key="digits.target").value == 1  # the next digit to draw
    assert at.button(key="digits.save").disabled  # a fresh canvas
    assert "digits.canvas.1" in at.session_state or at.session_state["digits.canvas_id"] == 1


def test_my_digits_fine_tunes_once_ready(runs_dir, tmp_path):
    import numpy as np

    from mnist.personal import PersonalSet

    samples = PersonalSet(runs_dir / "personal")
    for d in range(10):
        for _ in range(5):
            x = np.zeros((28, 28), np.uint8)
            x[4 + d : 22, 9:19] = 255
            samples.add(x, d)
    at = open_page("digits")
    assert not any("Fine-tuning needs" in i.value for i in at.info)
    at.radio(key="digits.mode").set_value("head").run()
    at.button(key="digits.start").click().run()
    assert not at.exception, at.exception
    (run,) = runs.list_runs()[0]
    try:
        assert run.config.finetune.mode == "head"
        assert run.config.finetune.samples_fingerprint == samples.fingerprint()
        assert run.config.finetune.base == "the bundled model"
        assert (run.path / runs.BASE_MODEL).read_bytes() == DEFAULT_MODEL.read_bytes()
        assert any(f"Run {run.run_id}" in m.value for m in at.markdown)
        assert at.button(key="digits.start").disabled  # one fine-tune at a time
    finally:
        runs.request_stop(run.path)
        wait_for(lambda: not runs.load_run(run.path).is_live, 300, what="the run to stop")


def test_my_digits_keeps_a_digit_the_person_picked(runs_dir):
    from mnist.personal import PersonalSet

    at = open_page("digits")
    at.segmented_control(key="digits.target").set_value(7).run()
    for i in range(2):
        at.session_state[f"digits.canvas.{i}"] = _canvas_drawing(
            lambda d: d.line([(70, 50), (210, 50), (120, 240)], fill="white", width=22)
        )
        at.run()
        at.button(key="digits.save").click().run()
        assert at.segmented_control(key="digits.target").value == 7
    assert PersonalSet(runs_dir / "personal").counts()[7].sum() == 2


def test_sketch_save_as_empties_its_choice_so_one_drawing_is_saved_once(runs_dir):
    from mnist.personal import PersonalSet

    at = open_page("sketch")
    at.session_state["sketch.canvas.0"] = _canvas_drawing(
        lambda d: d.line([(140, 40), (140, 240)], fill="white", width=22)
    )
    at.run()
    at.selectbox(key="sketch.save_as.canvas").set_value(4).run()
    at.button(key="sketch.save_as.canvas.button").click().run()
    assert not at.exception, at.exception
    (sample,) = PersonalSet(runs_dir / "personal").samples()
    assert sample.digit == 4
    assert not at.selectbox  # a fresh canvas: nothing to save
    at.session_state["sketch.canvas.1"] = _canvas_drawing(
        lambda d: d.line([(140, 40), (140, 240)], fill="white", width=22)
    )
    at.run()
    assert at.selectbox(key="sketch.save_as.canvas").value is None  # not the last choice


# -- Sweep ---------------------------------------------------------------------------------
def _sweep_with_trials(runs_dir):
    """A finished sweep of three trials (two with models), made as the driver leaves one."""
    import json as _json

    from mnist import sweeps
    from mnist.records import RunStatus
    from mnist.sweeps import Param

    params = [Param.parse("learning_rate=loguniform:1e-4:1e-2")]
    spec = sweeps.new_spec("codelab", params, 3, scheduler="asha")
    path = sweeps.create_sweep(spec, runs_dir)
    results = [(runs.DONE, 0.97, 0.975), (runs.STOPPED, 0.60, 0.61), (runs.DONE, 0.98, 0.979)]
    ids = []
    for index, (state, val, test) in enumerate(results):
        model, train = sweeps.apply("codelab", spec.plan[index])
        link = {"id": path.name, "trial": index, "values": spec.plan[index]}
        run = runs.create_run(model, train, "codelab", runs_dir, sweep=link)
        status = RunStatus(state=state, heartbeat=time.time(), val_accuracy=val,
                           test_accuracy=test, epochs_completed=1)  # fmt: skip
        runs.write_json_atomic(run / runs.STATUS, status.to_dict())
        (run / runs.MODEL).write_bytes(DEFAULT_MODEL.read_bytes())
        ids.append(run.name)
    heard = {"1": {"epochs": 1, "val_accuracy": 0.6, "best_val_accuracy": 0.6, "pruned": True}}
    (path / sweeps.TRIALS).write_text(_json.dumps({"format_version": 1, "trials": heard}))
    state = sweeps.SweepState(state=sweeps.DONE, heartbeat=time.time(), address="embedded")
    runs.write_json_atomic(path / sweeps.STATE, state.to_dict())
    return path, ids


def _make_live(sweep_dir):
    """The sweep's state as its driver (this process, reporting now) writes it while running."""
    from mnist import sweeps

    live = sweeps.SweepState(state=sweeps.RUNNING, pid=os.getpid(), heartbeat=time.time())
    runs.write_json_atomic(sweep_dir / sweeps.STATE, live.to_dict())
    return live


def test_sweep_page_starts_the_sweep_its_widgets_describe(runs_dir, monkeypatch):
    from mnist import sweeps

    launched = []
    monkeypatch.setattr(sweeps, "launch_sweep", lambda path: launched.append(path) or path)
    at = open_page("sweep")
    assert "No sweeps yet" in at.info[0].value
    at.number_input(key="sweep.space.w.trials").set_value(3).run()
    at.toggle(key="sweep.space.w.asha").set_value(False).run()
    at.multiselect(key="sweep.space.w.fields").set_value(
        ["learning_rate", "batch_size", "augment"]
    ).run()
    at.multiselect(key="sweep.space.w.range.batch_size").set_value([32, 64]).run()
    command = at.code[0].value
    assert "--trials 3" in command and "--param batch_size=choice:32,64" in command
    assert "--param augment=choice:false,true" in command and "--scheduler" not in command
    at.button(key="sweep.start").click().run()
    assert not at.exception, at.exception
    assert len(launched) == 1
    spec = sweeps.load_sweep(launched[0]).spec
    assert spec.trials == 3 and spec.scheduler == "none" and spec.preset == "fast"
    assert [p.text() for p in spec.params] == [
        "learning_rate=loguniform:0.0001:0.01", "batch_size=choice:32,64",
        "augment=choice:false,true",
    ]  # fmt: skip
    assert all(v["batch_size"] in (32, 64) for v in spec.plan)
    # a sweep that has not reported yet is live: no second one
    assert at.button(key="sweep.start").disabled
    # the form is the person's: kept across a page switch
    at.switch_page("pages/train.py").run()
    at.switch_page("pages/sweep.py").run()
    assert at.number_input(key="sweep.space.w.trials").value == 3


def test_sweep_page_says_what_is_missing_in_one_sentence():
    at = open_page("sweep")
    at.multiselect(key="sweep.space.w.range.batch_size").set_value([]).run()
    assert [e.value for e in at.error] == ["batch_size: pick at least one value"]
    assert at.button(key="sweep.start").disabled
    at.multiselect(key="sweep.space.w.fields").set_value([]).run()
    assert [e.value for e in at.error] == ["Choose at least one setting to vary."]


def test_sweep_page_shows_the_trials_and_uses_the_best(runs_dir):
    path, ids = _sweep_with_trials(runs_dir)
    at = open_page("sweep")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table["trial"]) == [1, 2, 3]
    assert list(table["state"]) == ["done", "stopped early", "done"]
    assert "Best trial: **trial 3**" in at.success[0].value and ids[2] in at.success[0].value
    assert at.get("vega_lite_chart"), "settings against accuracy"
    at.button(key="sweep.use").click().run()
    assert at.session_state["selected_run"] == ids[2]
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, at.exception
    shown = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert any(ids[2] in text for text in shown)


def _place(node, text: str) -> tuple | None:
    """Where on the page (the child indices down the tree) the markdown holding ``text`` is."""
    for index, child in getattr(node, "children", {}).items():
        if child.type == "markdown" and text in child.value:
            return (index,)
        inner = _place(child, text)
        if inner is not None:
            return (index, *inner)
    return None


def test_the_sweep_panel_keeps_its_place_when_its_sweep_ends(runs_dir):
    """The panel reruns the whole page when its sweep ends. The page above it shows more while
    a sweep is live (a caption under Start), yet the full run must draw the panel where its
    own runs drew it: a fragment run still in flight would otherwise leave a second panel."""
    from mnist import sweeps

    path, _ids = _sweep_with_trials(runs_dir)
    live = _make_live(path)
    heading = f"Sweep {path.name}"
    at = open_page("sweep")
    assert not at.exception, at.exception
    (note,) = [c.value for c in at.caption if "one sweep at a time" in c.value]
    assert "list" not in note  # one sweep: no list of sweeps to choose it in
    while_live = _place(at.main, heading)
    assert while_live is not None and "Best so far" in at.success[0].value
    runs.write_json_atomic(path / sweeps.STATE, live.replace(state=sweeps.DONE).to_dict())
    at.run()
    assert not at.exception, at.exception
    assert not any("one sweep at a time" in c.value for c in at.caption)
    assert "Best trial" in at.success[0].value
    assert _place(at.main, heading) == while_live


def test_a_live_sweep_among_others_is_found_in_the_list(runs_dir):
    older, _ids = _sweep_with_trials(runs_dir)
    _make_live(older)
    _sweep_with_trials(runs_dir)  # another, done: two sweeps, so the list is shown
    at = open_page("sweep")
    assert not at.exception, at.exception
    (note,) = [c.value for c in at.caption if "one sweep at a time" in c.value]
    assert f"Sweep {older.name} is running" in note and "choose it in the list" in note
    assert len(at.selectbox(key="sweep.chooser").options) == 2


def test_a_trials_run_says_which_sweep_and_settings_it_has(runs_dir):
    from mnist.ui.train_panel import run_description

    path, ids = _sweep_with_trials(runs_dir)
    run = runs.find_run(ids[1])
    text = run_description(run)
    value = run.config.sweep["values"]["learning_rate"]
    assert text.startswith(f"**Trial 2** of sweep {path.name} (learning_rate {value:g})")
    assert "**codelab** model" in text


def test_sweep_page_draws_other_trials_with_another_seed(runs_dir, monkeypatch):
    from mnist import sweeps

    launched = []
    monkeypatch.setattr(sweeps, "launch_sweep", lambda path: launched.append(path) or path)
    at = open_page("sweep")
    at.number_input(key="sweep.space.w.seed").set_value(7).run()
    assert "--seed 7" in at.code[0].value and f"--runs-dir {runs_dir}" in at.code[0].value
    at.button(key="sweep.start").click().run()
    spec = sweeps.load_sweep(launched[0]).spec
    assert spec.seed == 7
    assert spec.plan != sweeps.new_spec(spec.preset, list(spec.params), spec.trials).plan
    assert "one sweep at a time" in " ".join(c.value for c in at.caption)


def test_a_page_drawn_before_another_tab_started_a_sweep_starts_none(runs_dir, monkeypatch):
    from mnist import sweeps

    monkeypatch.setattr(sweeps, "launch_sweep", lambda path: path)
    at = open_page("sweep")
    assert not at.button(key="sweep.start").disabled
    other = sweeps.create_sweep(sweeps.new_spec("fast", [_lr_range()], 2), runs_dir)  # a 2nd tab
    at.button(key="sweep.start").click().run()
    assert [s.sweep_id for s in sweeps.list_sweeps(runs_dir)[0]] == [other.name]
    assert any(f"sweep {other.name} is queued; one at a time" in e.value for e in at.error)


def _lr_range():
    from mnist.sweeps import Param

    return Param.parse("learning_rate=loguniform:1e-4:1e-2")
