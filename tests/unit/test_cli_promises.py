"""The engineer's path (issue 19): every CLI path keeps the README's promises, from any folder.

Each test drives the real command line (a process, as a person would) where the promise is
about the process: exit codes, the last JSON line, one line of error, what is on disk.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist import access, runs, training
from mnist.__main__ import build_parser
from mnist.config import PRESETS, TrainConfig
from tests.conftest import ROOT, metrics, wait_for

TINY = ["--preset", "codelab", "--epochs", "1", "--train-size", "500", "--validation-size", "100"]


def cli(*args: str, cwd: Path = ROOT, env: dict | None = None, **kwargs):
    """``python -m mnist ARGS`` in a new process, without any of the test's variables set."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MNIST_")}
    base["PYTHONPATH"] = str(ROOT)  # the source checkout, from any folder
    return subprocess.Popen(
        [sys.executable, "-m", "mnist", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def finish(proc, timeout: float = 600) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- 1 and 3: Ctrl-C on a queued run; an export that cannot happen -----------------------------
def test_ctrl_c_on_a_queued_run_exits_3_with_a_json_line_and_says_nothing_was_exported(
    tmp_path,
):
    runs_dir = tmp_path / "runs"
    blocker = runs.SlotLock(runs_dir, "00000000-000000-0000", max_runs=1)
    assert blocker.try_acquire()  # another run holds the only training slot
    try:
        proc = cli("train", *TINY, "--runs-dir", str(runs_dir), "--json",
                   "--export", str(tmp_path / "out" / "m.keras"), cwd=tmp_path)  # fmt: skip
        waiting = wait_for(
            lambda: [
                r
                for r in runs.list_runs(runs_dir)[0]
                if r.status.message == "waiting for another run to finish"
            ],  # fmt: skip
            timeout=180,
            what="the run to wait for a slot",
        )
        proc.send_signal(signal.SIGINT)
        code, out, err = finish(proc)
    finally:
        blocker.release()
    assert code == 3, err
    assert "Traceback" not in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "stopped" and summary["test_accuracy"] is None
    assert summary["run_id"] == waiting[0].run_id
    assert "stopped while waiting for a training slot" in err
    assert f"not exported to {tmp_path / 'out' / 'm.keras'}: the run is stopped" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_as_soon_as_the_worker_shows_ends_the_run_as_stopped(tmp_path, sig):
    """The Training page's Stop (SIGTERM) or a Ctrl-C the moment the run shows its worker,
    while TensorFlow still loads: the run ends stopped, never as a worker that died."""
    runs_dir = tmp_path / "runs"
    proc = cli("train", *TINY, "--runs-dir", str(runs_dir), "--json", cwd=tmp_path)
    shown = wait_for(
        lambda: [r for r in runs.list_runs(runs_dir)[0] if r.status.pid == proc.pid],
        timeout=180,
        what="the worker to show in status.json",
    )
    proc.send_signal(sig)
    code, out, err = finish(proc)
    run = runs.load_run(shown[0].path)
    assert run.state == runs.STOPPED, (run.status, err[-2000:])
    assert code == 3 and "Traceback" not in err
    assert json.loads(out.strip().splitlines()[-1])["status"] == "stopped"


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("a-file/model.keras", "a-file is a file, not a folder"),
        ("model.json", "must end in .keras"),
        ("folder", "must end in .keras"),
    ],
)
def test_a_bad_export_path_is_refused_before_anything_trains(tmp_path, target, fragment):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "folder").mkdir()
    code, out, err = finish(cli("train", *TINY, "--export", target, cwd=tmp_path))
    assert code == 2 and out == ""
    assert fragment in one_error_line(err)
    assert not (tmp_path / "runs").exists()  # no run folder was made


# -- 4: configs are checked before TensorFlow loads ---------------------------------------------
@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--early-stopping", "2", "--validation-size", "0"], "validation size above 0"),
        (["--train-size", "5"], "train size must be a whole number from 10"),
        (["--export", "x.txt"], "must end in .keras"),
    ],
)
def test_config_errors_come_before_tensorflow(argv, fragment, tmp_path):
    code = (
        "import sys; from mnist.__main__ import main; "
        f"status = main(['train', *{argv!r}]); "
        "print(status, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120,
    )  # fmt: skip
    assert out.stdout.split() == ["2", "False"], out.stderr
    assert fragment in one_error_line(out.stderr)


# -- 2 and 9: seeds --------------------------------------------------------------------------
def _batch_losses(run_dir: str) -> list[float]:
    return [r.loss for r in metrics(Path(run_dir)) if r.type == "batch"]


def test_a_seeded_run_with_augmentation_is_reproducible_and_random_is_one_flag_away(tmp_path):
    argv = ["train", "--preset", "codelab", "--augment", "--epochs", "2", "--train-size",
            "1000", "--validation-size", "100", "--batch-size", "100",
            "--runs-dir", str(tmp_path), "--json"]  # fmt: skip
    summaries = []
    for seed in ("0", "0", "random"):
        code, out, err = finish(cli(*argv, "--seed", seed))
        assert code == 0, err
        summaries.append(json.loads(out.strip().splitlines()[-1]))
    same, again, fresh = (_batch_losses(s["run_dir"]) for s in summaries)
    assert len(same) == 20 and same == again  # every batch of both epochs, bit for bit
    assert summaries[0]["test_accuracy"] == summaries[1]["test_accuracy"]
    seed = runs.load_run(summaries[2]["run_dir"]).config.train.seed
    assert seed != 0 and fresh != same  # recorded, and a different run


def test_augmentation_is_a_pure_function_of_the_seed():
    import tensorflow as tf

    x = tf.random.stateless_uniform((4, 28, 28, 1), seed=[1, 2])
    a = training.augment_batch(x, tf.constant([0, 7], tf.int64)).numpy()
    b = training.augment_batch(x, tf.constant([0, 7], tf.int64)).numpy()
    c = training.augment_batch(x, tf.constant([0, 8], tf.int64)).numpy()
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.shape == (4, 28, 28, 1)


def test_an_identity_warp_leaves_the_image_alone(monkeypatch):
    import tensorflow as tf

    for name in training.AUGMENTATION:
        monkeypatch.setitem(training.AUGMENTATION, name, 0.0)
    x = tf.random.stateless_uniform((2, 28, 28, 1), seed=[3, 4])
    out = training.augment_batch(x, tf.constant([0, 1], tf.int64)).numpy()
    np.testing.assert_allclose(out, x.numpy(), atol=1e-6)


# -- 5 and 6: truthful epochs and early stopping ------------------------------------------------
def test_a_run_stopped_mid_epoch_counts_only_complete_epochs(runs_dir, codelab_model):
    train = TrainConfig(epochs=3, batch_size=50, train_size=500, validation_size=100)
    path = runs.create_run(codelab_model, train)

    def stop_in_epoch_two(record):
        if record.type == "batch" and record.epoch == 2 and record.batch == 3:
            (path / runs.STOP_FILE).touch()

    status = training.execute(path, report=stop_in_epoch_two)
    assert status.state == runs.STOPPED
    epochs = [r for r in metrics(path) if r.type == "epoch"]
    assert [(e.epoch, e.complete) for e in epochs] == [(1, True), (2, False)]
    assert status.epochs_completed == 1


def test_early_stopping_says_which_epochs_weights_the_model_holds(runs_dir, codelab_model):
    train = TrainConfig(
        epochs=6, batch_size=50, train_size=500, validation_size=200, early_stopping=1,
        learning_rate=0.01,
    )  # fmt: skip
    path = runs.create_run(codelab_model, train)
    status = training.execute(path)
    assert status.state == runs.DONE, status.error
    epochs = [r for r in metrics(path) if r.type == "epoch"]
    best = min(epochs, key=lambda r: r.val_loss)
    assert status.best_epoch == best.epoch
    assert status.val_loss == best.val_loss
    assert status.val_accuracy == best.val_accuracy
    assert status.early_stopped == (len(epochs) < train.epochs)
    assert status.epochs_completed == len(epochs)


def test_the_summary_names_the_restored_epoch(capsys):
    from mnist.__main__ import _say_how_it_ended

    summary = {"status": "done", "test_accuracy": 0.9, "epochs_completed": 8,
               "train_seconds": 10.0, "samples_per_second": 100.0, "best_epoch": 7,
               "early_stopped": True}  # fmt: skip
    _say_how_it_ended(Path("/r/x"), {}, summary, sys.stdout)
    assert "stopped early; weights of epoch 7" in capsys.readouterr().out


# -- 7: a run folder is trained once ----------------------------------------------------------
def test_run_dir_refuses_a_finished_run(tmp_path):
    code, out, err = finish(cli("train", *TINY, "--runs-dir", str(tmp_path), "--json"))
    assert code == 0, err
    run_dir = json.loads(out.strip().splitlines()[-1])["run_dir"]
    before = (Path(run_dir) / runs.METRICS).read_bytes()
    code, out, err = finish(cli("train", "--run-dir", run_dir))
    assert code == 2
    assert "is done: a run folder is trained once" in one_error_line(err)
    assert (Path(run_dir) / runs.METRICS).read_bytes() == before


# -- 8: liveness from the command line ----------------------------------------------------------
def test_runs_list_shows_a_killed_workers_run_as_failed(runs_dir, codelab_model, tiny_train):
    path = runs.create_run(codelab_model, tiny_train)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runs.write_json_atomic(
        path / runs.STATUS, {"state": runs.RUNNING, "pid": dead.pid, "heartbeat": 0, "epoch": 1}
    )
    code, out, err = finish(cli("runs", "list", "--json", "--runs-dir", str(runs_dir)))
    assert code == 0, err
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record["status"] == "failed" and "killed or crashed" in record["error"]
    assert record["owner"] == access.local_user()  # the CLI's runs are the machine user's
    code, out, _ = finish(cli("runs", "list", "--runs-dir", str(runs_dir)))
    assert path.name in out and "failed" in out
    code, _, err = finish(cli("runs", "stop", path.name, "--runs-dir", str(runs_dir)))
    assert code == 1 and "not live" in one_error_line(err)
    code, out, _ = finish(cli("runs", "show", path.name, "--runs-dir", str(runs_dir)))
    assert json.loads(out)["config"]["train"] == tiny_train.to_dict()
    code, out, _ = finish(cli("runs", "delete", path.name, "--runs-dir", str(runs_dir)))
    assert code == 0 and not path.exists()


# -- 10: a package, from any folder ---------------------------------------------------------
def test_the_wheel_holds_the_library_its_data_the_model_and_a_console_script(tmp_path):
    import shutil

    source = tmp_path / "src"  # a copy: setuptools builds in the source tree
    skip = shutil.ignore_patterns("__pycache__")
    for folder in ("mnist", "models"):
        shutil.copytree(ROOT / folder, source / folder, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("mnist_cnn_studio-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.endswith(".dist-info/RECORD")}
    assert {t for t in top if not t.endswith(".dist-info")} == {"mnist"}
    for needed in ("mnist/bundled/default.keras", "mnist/data/train-images-idx3-ubyte.gz",
                   "mnist/ui/icon.png", "mnist/__main__.py"):  # fmt: skip
        assert needed in names, needed
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "mnist = mnist.__main__:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_the_cli_works_from_another_folder_with_absolute_paths(tmp_path):
    code, out, err = finish(cli("train", *TINY, "--runs-dir", "rel-runs", "--json", cwd=tmp_path))
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["run_dir"] == str(tmp_path / "rel-runs" / summary["run_id"])
    code, out, err = finish(cli("info", "--json", cwd=tmp_path))
    assert code == 0 and json.loads(out)["checksums"] == "verified"


# -- 11: the codelab's initialiser -------------------------------------------------------------
def test_variance_scaling_is_tfjs_s_truncated_normal_without_rescaling():
    """tfjs-layers initializers.ts: truncatedNormal(0, sqrt(scale / fanIn)), cut at 2σ; the
    standard deviation of such a cut normal is σ·0.8796 (σ²·(1 − 2·2·φ(2)/(2Φ(2)−1)))."""
    import keras

    from mnist.models import _initializer

    fan_in = 25  # the codelab's first convolution: 5×5×1
    sigma = math.sqrt(1 / fan_in)
    phi = math.exp(-2) / math.sqrt(2 * math.pi)
    cut = math.erf(2 / math.sqrt(2))
    expected = sigma * math.sqrt(1 - 4 * phi / cut)  # 0.1759
    keras.utils.set_random_seed(0)
    w = np.asarray(_initializer("variance_scaling")((5, 5, 1, 20_000)))
    assert abs(w).max() <= 2 * sigma + 1e-6
    assert w.std() == pytest.approx(expected, rel=0.01)
    assert expected == pytest.approx(0.176, abs=5e-4)


# -- 12: help, README and the record of a run ----------------------------------------------------
def _subparsers(parser):
    for action in parser._actions:
        if hasattr(action, "choices") and isinstance(action.choices, dict):
            yield from action.choices.items()


def test_every_flag_has_help_and_train_flags_name_their_default():
    parser = build_parser()
    todo = list(_subparsers(parser))
    while todo:
        name, sub = todo.pop()
        todo += [(f"{name} {n}", p) for n, p in _subparsers(sub)]
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings}"
                if name == "train" and action.dest not in ("json", "run_dir", "export"):
                    assert "default" in action.help, f"{name} {action.option_strings}"


def test_the_readme_shows_what_help_prints():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```text\n\$ python -m mnist (.*?) --help\n(.*?)```", readme, re.S)
    assert {b[0] for b in blocks} >= {"train", "evaluate", "predict", "info", "runs"}
    parser = build_parser()
    for command, shown in blocks:
        sub = dict(_subparsers(parser))[command]
        assert sub.format_help() == shown, command


def test_version_and_the_record_of_a_run(tmp_path):
    code, out, _ = finish(cli("--version"))
    assert code == 0 and out.startswith("python -m mnist 0.")
    code, out, err = finish(cli("train", *TINY, "--runs-dir", str(tmp_path), "--json"))
    assert code == 0, err
    run_dir = Path(json.loads(out.splitlines()[-1])["run_dir"])
    config = json.loads((run_dir / "config.json").read_text())
    record = config["provenance"]
    assert record["command"].startswith("python -m mnist train --preset codelab")
    assert {"python", "tensorflow", "keras", "numpy"} <= set(record["versions"])
    assert record["data"]["sha256"]["train-images-idx3-ubyte"].startswith("ba891046")


def test_tensorboard_counts_epochs_from_one(runs_dir, codelab_model, tiny_train):
    import tensorflow as tf

    path = runs.create_run(codelab_model, TrainConfig(**{**tiny_train.to_dict(), "epochs": 2}))
    training.execute(path)
    steps = set()
    for event_file in (path / "tensorboard").rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            if any(v.tag == "epoch_loss" for v in event.summary.value):
                steps.add(event.step)
    assert steps == {1, 2}


def test_presets_the_help_quotes_are_the_presets():
    help_text = dict(_subparsers(build_parser()))["train"].format_help()
    flat = " ".join(help_text.split())
    assert f"codelab {PRESETS['codelab'].train.epochs}" in flat
    assert f"best {PRESETS['best'].train.epochs}" in flat


def test_tensorflow_start_up_noise_reaches_nobody_who_did_not_ask(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    code, out, err = finish(cli("predict", str(text), cwd=tmp_path))
    assert code == 1 and out == ""
    assert "is not an image this app can read" in one_error_line(err)  # and nothing else
    code, out, err = finish(cli("evaluate", "--json", cwd=tmp_path))
    assert code == 0 and err == "" and json.loads(out)["count"] == 10_000
    code, _, err = finish(cli("--verbose", "evaluate", "--json", cwd=tmp_path))
    assert code == 0 and err.strip()  # asked for: TensorFlow's own lines are shown


def test_a_model_made_for_other_images_gets_one_sentence_and_exit_1(tmp_path):
    import keras

    path = tmp_path / "cifar.keras"
    keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(5)]
    ).save(path)
    digit = tmp_path / "seven.png"
    from PIL import Image, ImageDraw

    image = Image.new("L", (100, 100), 255)
    ImageDraw.Draw(image).line([(20, 20), (80, 20), (40, 90)], fill=0, width=8)
    image.save(digit)
    for argv in (["predict", "--model", str(path), str(digit)], ["evaluate", "--model", str(path)]):
        code, out, err = finish(cli(*argv, cwd=tmp_path))
        assert code == 1 and out == ""
        line = one_error_line(err)
        assert "this model takes 32×32×3 images and gives 5 outputs" in line, line
