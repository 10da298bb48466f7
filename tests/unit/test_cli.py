"""``python -m mnist``: one clear line and a non-zero exit for bad input, JSON where asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist import DEFAULT_MODEL as DEFAULT_MODEL_PATH
from mnist import runs
from mnist.__main__ import main
from tests.conftest import ROOT

PREFIX = "python -m mnist: error: "


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnist", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX), lines[0]
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        ([], "required: command"),
        (["fly"], "invalid choice: 'fly'"),
        (["train", "--epochs", "0"], "must be at least 1"),
        (["train", "--epochs", "ten"], "'ten' is not a whole number"),
        (["train", "--preset", "huge"], "invalid choice: 'huge'"),
        (["train", "--learning-rate", "-1"], "must be a positive number"),
        (["train", "--learning-rate", "nan"], "must be a positive number"),
        (["train", "--train-size", "58000"], "train size must be a whole number from 10 to 55000"),
        (["train", "--batch-size", "100000"], "batch size must be a whole number from 1 to 8192"),
        (["train", "--early-stopping", "2", "--validation-size", "0"], "validation size above 0"),
        (["evaluate", "--model", "a.keras", "--run", "x"], "not allowed with argument"),
        (["predict"], "required: IMAGE"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(capsys, argv, fragment):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_line_error(captured.err, fragment)


def test_bad_flag_from_a_real_process_has_no_traceback():
    result = run_cli("train", "--epochs", "-3")
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "--epochs", "must be at least 1")


def test_missing_model_and_run_are_one_line_and_exit_1(capsys, runs_dir, tmp_path):
    assert main(["evaluate", "--model", str(tmp_path / "nope.keras")]) == 1
    assert_one_line_error(capsys.readouterr().err, "nope.keras: no such model file")
    assert main(["evaluate", "--run", "20990101-000000-0000"]) == 1
    assert_one_line_error(capsys.readouterr().err, "no such run")
    junk = tmp_path / "junk.keras"
    junk.write_text("this is not a model")
    assert main(["predict", "--model", str(junk), "x.png"]) == 1
    assert_one_line_error(capsys.readouterr().err, "not a readable Keras model")


def test_bad_data_dir_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "elsewhere"))
    assert main(["info"]) == 1
    assert_one_line_error(capsys.readouterr().err, "not a folder of MNIST IDX files")


def test_info_json_counts(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["checksums"] == "verified"
    assert info["train_counts"] == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert info["test_counts"] == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_info_table(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "60,000 training images, 10,000 test images" in out
    assert "    1    6742   1135" in out


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, str]:
    """One tiny codelab run trained by the real CLI in its own process."""
    runs_dir = str(tmp_path_factory.mktemp("cli") / "runs")
    result = run_cli(
        "train", "--preset", "codelab", "--epochs", "1", "--train-size", "500",
        "--validation-size", "100", "--batch-size", "100", "--runs-dir", runs_dir, "--json",
        "--export", str(Path(runs_dir).parent / "export" / "tiny.keras"),
    )  # fmt: skip
    return result, runs_dir


def test_train_json_summary_is_the_last_line(trained_run):
    result, runs_dir = trained_run
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1  # with --json, progress goes to stderr
    summary = json.loads(lines[-1])
    for key in ("run_id", "status", "test_accuracy", "train_seconds", "samples_per_second"):
        assert summary[key] is not None, key
    assert summary["status"] == "done" and summary["params"] == 5994
    assert "epoch 1/1 finished" in result.stderr
    run = runs.find_run(summary["run_id"], runs_dir)
    assert run.state == runs.DONE
    assert run.status.test_accuracy == summary["test_accuracy"]
    assert run.config.train.train_size == 500 and run.config.preset == "codelab"


def test_evaluate_a_run_matches_its_evaluation_file(trained_run, capsys):
    result, runs_dir = trained_run
    run_id = json.loads(result.stdout.strip().splitlines()[-1])["run_id"]
    run = runs.find_run(run_id, runs_dir)
    # --run reads what the worker stored; --model scores the same file afresh: they agree.
    assert main(["evaluate", "--run", run_id, "--runs-dir", runs_dir, "--json"]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert main(["evaluate", "--model", str(run.model_path), "--json"]) == 0
    fresh = json.loads(capsys.readouterr().out)
    assert stored["accuracy"] == run.evaluation()["accuracy"]
    assert fresh["accuracy"] == pytest.approx(stored["accuracy"], abs=1e-4)
    assert fresh["confusion"] == stored["confusion"]
    assert np.array(fresh["confusion"]).sum() == 10_000
    assert main(["evaluate", "--run", run_id, "--runs-dir", runs_dir]) == 0
    table = capsys.readouterr().out
    assert "test accuracy:" in table and "confusion matrix (rows: true digit" in table


def _digit_png(path, kind: str) -> str:
    image = Image.new("L", (200, 200), 255)  # dark ink on white paper, like a scan
    draw = ImageDraw.Draw(image)
    if kind == "one":
        draw.line([(100, 30), (100, 170)], fill=0, width=14)
    else:  # an empty page with a speck of dust
        draw.point((5, 5), fill=0)
    image.save(path)
    return str(path)


def test_predict_reports_each_image_and_fails_if_any_failed(trained_run, tmp_path, capsys):
    result, runs_dir = trained_run
    run_id = json.loads(result.stdout.strip().splitlines()[-1])["run_id"]
    good = _digit_png(tmp_path / "one.png", "one")
    empty = _digit_png(tmp_path / "blank.png", "blank")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    argv = ["predict", "--run", run_id, "--runs-dir", runs_dir, good,
            str(tmp_path / "missing.png"), empty, str(text)]  # fmt: skip
    assert main(argv) == 1
    captured = capsys.readouterr()
    out = [json.loads(line) for line in captured.out.splitlines()]
    assert [o["path"] for o in out] == [good]
    assert set(out[0]) == {"path", "digit", "confidence", "probabilities"}
    assert len(out[0]["probabilities"]) == 10
    assert sum(out[0]["probabilities"]) == pytest.approx(1.0, abs=1e-4)
    assert out[0]["confidence"] == max(out[0]["probabilities"])
    errors = captured.err.strip().splitlines()
    assert len(errors) == 3 and "Traceback" not in captured.err
    assert "missing.png: no such file" in errors[0]
    assert "blank.png: no digit found: the image is blank" in errors[1]
    assert "notes.png is not an image" in errors[2]


def test_export_writes_a_smaller_inference_copy_and_its_summary(trained_run):
    result, runs_dir = trained_run
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    exported = Path(runs_dir).parent / "export" / "tiny.keras"
    original = Path(summary["run_dir"]) / "model.keras"
    assert exported.is_file() and exported.stat().st_size < original.stat().st_size
    from mnist.models import load_model

    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(
        np.asarray(load_model(exported)(x)), np.asarray(load_model(original)(x)), atol=1e-6
    )
    meta = json.loads(exported.with_suffix(".json").read_text())
    assert meta["run_id"] == summary["run_id"] and meta["test_accuracy"] == summary["test_accuracy"]
    assert meta["command"].startswith("python -m mnist train --preset codelab")
    assert meta["config"]["preset"] == "codelab"


# -- issue 14: digits, finetune, export, import ----------------------------------------------
def _samples_zip(tmp_path, per_digit: int) -> Path:
    from mnist.personal import PersonalSet

    samples = PersonalSet(tmp_path / "made")
    for d in range(10):
        for _ in range(per_digit):
            x = np.zeros((28, 28), np.uint8)
            x[5 + d : 20, 10:18] = 255
            samples.add(x, d)
    path = tmp_path / "digits.zip"
    path.write_bytes(samples.to_zip())
    return path


def test_digits_import_list_export_from_another_folder(tmp_path):
    archive = _samples_zip(tmp_path, 2)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNIST_")}
    run = subprocess.run(
        [sys.executable, "-m", "mnist", "digits", "import", str(archive)],
        cwd=elsewhere, capture_output=True, text=True, timeout=120,
        env={**env, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"added 20 samples to {elsewhere / 'runs' / 'personal'}"
    listing = run_cli("digits", "list", "--samples", str(elsewhere / "runs" / "personal"))
    assert listing.returncode == 0
    assert "    7      2         0" in listing.stdout
    assert "Fine-tuning needs at least 5 samples of every digit" in listing.stdout
    out = tmp_path / "again.zip"
    exported = run_cli(
        "digits", "export", str(out), "--samples", str(elsewhere / "runs" / "personal")
    )
    assert exported.returncode == 0 and out.read_bytes()[:2] == b"PK"


R = "{runs}"  # replaced by a fresh folder of the test's own


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("digits", "import", "README.md", "--samples", R), ("README.md is not a zip file",)),
        (("digits", "import", "no.zip", "--samples", R), ("no.zip: no such file",)),
        (("export", "--format", "onnx", "--out", "m.tflite"), ("is a file ending in .onnx",)),
        (("export", "--format", "tar", "--out", "x"), ("invalid choice: 'tar'",)),
        (("import", "README.md", "--runs-dir", R), ("README.md is not a Keras 3 model file",)),
        (("finetune", "--base", "no.keras", "--runs-dir", R), ("--base no.keras: no such",)),
        (("finetune", "--mode", "wings"), ("invalid choice: 'wings'",)),
    ],
    ids=["not-zip", "no-zip", "suffix", "format", "import-not-keras", "no-base", "mode"],
)
def test_new_commands_say_one_line(args, fragments, tmp_path):
    folder = tmp_path / "r"
    result = run_cli(*(str(folder) if a == R else a for a in args))
    assert result.returncode in (1, 2), result
    assert_one_line_error(result.stderr, *fragments)
    assert not folder.exists() or not list(folder.iterdir())  # nothing made


def test_finetune_on_too_few_digits_says_how_many_more(tmp_path):
    archive = _samples_zip(tmp_path, 3)
    samples = tmp_path / "mine"
    assert run_cli("digits", "import", str(archive), "--samples", str(samples)).returncode == 0
    result = run_cli("finetune", "--samples", str(samples), "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 1
    assert_one_line_error(result.stderr, "20 more to go", "2 more 0s", "2 more 9s")
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_export_and_import_on_the_command_line(tmp_path):
    out = tmp_path / "digits.onnx"
    exported = run_cli("export", "--format", "onnx", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert exported.stderr == ""  # no library noise
    assert exported.stdout.startswith(f"exported {out} (onnx; its probabilities differ")
    assert out.is_file() and (tmp_path / "digits.md").is_file()
    imported = run_cli(
        "import", str(DEFAULT_MODEL_PATH), "--runs-dir", str(tmp_path / "runs"), "--json"
    )
    assert imported.returncode == 0, imported.stderr
    record = json.loads(imported.stdout)
    assert record["kind"] == "import" and record["test_accuracy"] == pytest.approx(0.9972)
    listing = run_cli("runs", "list", "--runs-dir", str(tmp_path / "runs"))
    assert f"{record['run_id']}  done      imported       –    99.72%" in listing.stdout
    evaluated = run_cli("evaluate", "--run", record["run_id"], "--runs-dir", str(tmp_path / "runs"))
    assert evaluated.returncode == 0 and "test accuracy: 99.72%" in evaluated.stdout


def test_finetune_on_the_command_line_reports_before_and_after(tmp_path):
    archive = _samples_zip(tmp_path, 5)
    samples = tmp_path / "mine"
    assert run_cli("digits", "import", str(archive), "--samples", str(samples)).returncode == 0
    result = run_cli(
        "finetune", "--samples", str(samples), "--runs-dir", str(tmp_path / "runs"),
        "--mode", "head", "--epochs", "1", "--replay", "300", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["status"] == "done"
    tuned = summary["finetune"]
    assert tuned["mnist_before"] == pytest.approx(0.9972)
    assert sum(row["samples"] for row in tuned["per_digit"]) == 10
    assert (
        f"your held-out digits (10): {tuned['personal_before']:.0%} right before" in result.stderr
    )
    config = json.loads((Path(summary["run_dir"]) / "config.json").read_text())
    assert config["finetune"]["mode"] == "head" and config["train"]["train_size"] == 300
    assert config["provenance"]["command"].startswith("python -m mnist finetune")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("sweep",), ("a sweep needs at least one --param",)),
        (("sweep", "--param", "colour=choice:red"), ("'colour' cannot be searched",)),
        (("sweep", "--param", "learning_rate=uniform:0.001:20"),
         ("learning_rate=uniform:0.001:20: ", "learning rate")),
        (("sweep", "--param", "epochs=choice:1", "--address", "127.0.0.1:1"),
         ("cannot reach the Ray cluster at 127.0.0.1:1",)),
        (("sweep", "--param", "epochs=choice:1", "--address", "ray://head:10001"),
         ("Ray Client (ray://) addresses are not supported",)),
        (("sweeps", "stop", "20261203-000000-abcd", "--runs-dir", R), ("no sweep 20261203",)),
        (("sweeps", "show", "../x", "--runs-dir", R), ("'../x' is not a sweep id",)),
    ],
    ids=["no-param", "bad-field", "bad-range", "unreachable", "ray-client", "no-sweep", "path"],
)  # fmt: skip
def test_sweep_mistakes_are_one_line_and_make_nothing(args, fragments, tmp_path):
    folder = tmp_path / "r"
    result = run_cli(*(str(folder) if a == R else a for a in args), "--runs-dir", str(folder))
    assert result.returncode in (1, 2), result
    assert_one_line_error(result.stderr, *fragments)
    assert not folder.exists() or not list(folder.iterdir())  # no sweep folder was made


def test_sweeps_list_and_a_finished_sweep_is_not_run_again(tmp_path):
    from mnist import sweeps

    empty = run_cli("sweeps", "list", "--runs-dir", str(tmp_path))
    assert empty.returncode == 0 and empty.stdout.startswith("no sweeps in ")
    spec = sweeps.new_spec("codelab", [sweeps.Param.parse("epochs=int:1:3")], 2)
    path = sweeps.create_sweep(spec, tmp_path)
    runs.write_json_atomic(path / sweeps.STATE, sweeps.SweepState(state="done").to_dict())
    listed = run_cli("sweeps", "list", "--runs-dir", str(tmp_path))
    assert path.name in listed.stdout and "epochs=int:1:3" in listed.stdout
    again = run_cli("sweep", "--sweep-dir", str(path))
    assert again.returncode == 2
    assert_one_line_error(again.stderr, f"sweep {path.name} is done: a sweep runs once")
    stop = run_cli("sweeps", "stop", path.name, "--runs-dir", str(tmp_path))
    assert stop.returncode == 1
    assert_one_line_error(stop.stderr, "is done: nothing to stop")
    shown = run_cli("sweeps", "show", path.name, "--json", "--runs-dir", str(tmp_path))
    record = json.loads(shown.stdout)
    assert record["status"] == "done" and [t["state"] for t in record["trials"]] == [
        "not started", "not started"
    ]  # fmt: skip
