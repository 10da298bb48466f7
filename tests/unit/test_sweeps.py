"""Sweeps without Ray: the search space as people write it, drawn values, configs, and the
sweep folder (spec, state, trials joined to their runs, the best trial)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from mnist import runs, sweeps
from mnist.config import PRESETS
from mnist.records import RunStatus
from mnist.sweeps import Param, apply, check_space


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "learning_rate=loguniform:1e-4:1e-2",
            Param("learning_rate", "loguniform", low=1e-4, high=1e-2),
        ),
        ("batch_size=choice:64,128,256", Param("batch_size", "choice", values=(64, 128, 256))),
        ("optimizer=choice:adam,sgd", Param("optimizer", "choice", values=("adam", "sgd"))),
        ("augment=choice:true,false", Param("augment", "choice", values=(True, False))),
        ("epochs=int:2:6", Param("epochs", "int", low=2, high=6)),
        ("dropout=uniform:0:0.5", Param("dropout", "uniform", low=0, high=0.5)),
        ("batch-size=choice:32", Param("batch_size", "choice", values=(32,))),
    ],
)
def test_ranges_parse_and_print_back(text, expected):
    param = Param.parse(text)
    assert param == expected
    assert Param.parse(param.text()) == param
    assert Param.from_dict(param.to_dict()) == param


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("learning_rate", "write NAME=KIND:ARGS"),
        ("colour=choice:red", "'colour' cannot be searched"),
        ("learning_rate=loguniform:0:1", "needs LOW above 0"),
        ("learning_rate=uniform:1e-2:1e-4", "needs LOW < HIGH"),
        ("learning_rate=gaussian:0:1", "must be one of choice, uniform, loguniform, int"),
        ("batch_size=uniform:16:64", "takes whole numbers"),
        ("batch_size=choice:64,big", "'big' is not a whole number"),
        ("dropout=uniform:0:half", "'half' is not a number"),
        ("epochs=int:1.5:3", "takes whole numbers"),
        ("optimizer=uniform:0:1", "use choice"),
        ("augment=choice:maybe", "is not true or false"),
        ("epochs=int:2", "takes LOW:HIGH"),
    ],
)
def test_a_bad_range_gets_one_sentence(text, fragment):
    with pytest.raises(ValueError) as excinfo:
        Param.parse(text)
    message = str(excinfo.value)
    assert fragment in message and message.startswith(f"--param {text!r}") and "\n" not in message


def test_draws_stay_in_range_and_log_ranges_spread_by_decade():
    rng = np.random.default_rng(0)
    lr = Param.parse("learning_rate=loguniform:1e-4:1e-2")
    draws = np.array([lr.sample(rng) for _ in range(4000)])
    assert draws.min() >= 1e-4 and draws.max() <= 1e-2
    below = (draws < 1e-3).mean()  # half the decades lie below 1e-3
    assert 0.45 < below < 0.55
    epochs = Param.parse("epochs=int:2:4")
    assert {epochs.sample(rng) for _ in range(200)} == {2, 3, 4}
    batch = Param.parse("batch_size=choice:64,128")
    assert {batch.sample(rng) for _ in range(200)} == {64, 128}


def test_values_become_checked_configs():
    model, train = apply(
        "fast",
        {"learning_rate": 3e-3, "batch_size": 256, "filters": 16, "dense_units": 64,
         "dropout": 0.25, "block_dropout": 0.1},
    )  # fmt: skip
    assert (train.learning_rate, train.batch_size) == (3e-3, 256)
    assert train.epochs == PRESETS["fast"].train.epochs  # untouched fields keep the preset's
    assert [b.filters for b in model.conv_blocks] == [16, 32]  # the preset's 1:2 ratio kept
    assert model.dense_units == (64,) and model.dense_dropout == 0.25
    assert all(b.dropout == 0.1 for b in model.conv_blocks)
    with pytest.raises(ValueError, match="dense_units: the codelab model has no hidden dense"):
        apply("codelab", {"dense_units": 64})
    with pytest.raises(ValueError, match="batch size must be a whole number"):
        apply("fast", {"batch_size": 0})


def test_a_space_names_each_field_once():
    with pytest.raises(ValueError, match="learning_rate searched twice"):
        check_space([Param.parse("learning_rate=uniform:0.1:0.2")] * 2)
    with pytest.raises(ValueError, match="at least one --param"):
        check_space([])


# -- the sweep folder (no Ray) --------------------------------------------------------------
def _spec(**changes) -> sweeps.SweepSpec:
    params = [Param.parse("learning_rate=loguniform:1e-4:1e-2"), Param.parse("epochs=int:1:3")]
    spec = sweeps.new_spec("codelab", params, 5, seed=3, scheduler="asha", command="test")
    return dataclasses.replace(spec, **changes)


def test_a_spec_draws_its_trials_once_seeded_and_round_trips(runs_dir):
    spec = _spec()
    again = _spec()
    assert spec.plan == again.plan  # the same seed, the same trials
    assert len(spec.plan) == 5 and len({v["learning_rate"] for v in spec.plan}) == 5
    assert all(1e-4 <= v["learning_rate"] <= 1e-2 and 1 <= v["epochs"] <= 3 for v in spec.plan)
    assert spec.max_epochs == max(v["epochs"] for v in spec.plan)
    path = sweeps.create_sweep(spec, runs_dir)
    assert path.parent == runs_dir / "sweeps" and not list(path.parent.glob(".creating-*"))
    stored = json.loads((path / sweeps.SPEC).read_text())
    assert stored["format_version"] == 2 and stored["metric"] == "val_accuracy"
    assert sweeps.SweepSpec.from_dict(stored) == spec


@pytest.mark.parametrize(
    ("texts", "fragment"),
    [
        (["learning_rate=uniform:0.001:20"], "learning_rate=uniform:0.001:20: "),
        (["batch_size=choice:64,0"], "batch_size=choice:64,0: "),
        (["dense_units=int:16:64"], None),
        (["epochs=int:1:2", "epochs=int:2:3"], "epochs searched twice"),
    ],
)
def test_a_range_the_configs_refuse_is_refused_before_anything_runs(texts, fragment):
    params = [Param.parse(t) for t in texts]
    if fragment is None:  # the codelab model has no hidden dense layer
        with pytest.raises(ValueError, match="has no hidden dense layer"):
            sweeps.new_spec("codelab", params, 2)
        return
    with pytest.raises(ValueError) as info:
        sweeps.new_spec("codelab", params, 2)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_a_sweep_reads_queued_then_judged_like_a_run(runs_dir):
    path = sweeps.create_sweep(_spec(), runs_dir)
    assert sweeps.read_state(path).state == sweeps.QUEUED
    assert sweeps.read_state(path, now=time.time() + 3600).state == sweeps.FAILED  # nobody ran it
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = sweeps.SweepState(state=sweeps.RUNNING, pid=dead.pid, heartbeat=time.time())
    runs.write_json_atomic(path / sweeps.STATE, state.to_dict())
    judged = sweeps.read_state(path)
    assert judged.state == sweeps.FAILED and judged.stale and "driver" in judged.error
    alive = state.replace(pid=os.getpid())
    runs.write_json_atomic(path / sweeps.STATE, alive.to_dict())
    assert sweeps.read_state(path).state == sweeps.RUNNING
    (path / sweeps.STOP_FILE).touch()
    assert sweeps.read_state(path).state == sweeps.STOPPING


def _trial_run(runs_dir, sweep_path, index, values, state, val, test=None, model=True):
    spec = sweeps.SweepSpec.from_dict(json.loads((sweep_path / sweeps.SPEC).read_text()))
    model_config, train = sweeps.apply(spec.preset, values)
    link = {"id": sweep_path.name, "trial": index, "values": values, "node": "n", "host": "h"}
    path = runs.create_run(model_config, train, spec.preset, runs_dir, sweep=link)
    status = RunStatus(state=state, heartbeat=time.time(), val_accuracy=val, test_accuracy=test,
                       epochs_completed=train.epochs)  # fmt: skip
    runs.write_json_atomic(path / runs.STATUS, status.to_dict())
    if model:
        (path / runs.MODEL).write_bytes(b"stand-in")
    return path


def test_trials_join_their_runs_and_the_best_is_the_best_saved_model(runs_dir):
    spec = _spec()
    path = sweeps.create_sweep(spec, runs_dir)
    plan = spec.plan
    _trial_run(runs_dir, path, 0, plan[0], runs.DONE, 0.91, 0.92)
    _trial_run(runs_dir, path, 1, plan[1], runs.STOPPED, 0.40, 0.41)
    _trial_run(runs_dir, path, 2, plan[2], runs.DONE, 0.95, 0.94)
    _trial_run(runs_dir, path, 3, plan[3], runs.FAILED, 0.99, None, model=False)
    heard = {"1": {"epochs": 1, "val_accuracy": 0.4, "best_val_accuracy": 0.4, "pruned": True}}
    runs.write_json_atomic(path / sweeps.TRIALS, {"format_version": 1, "trials": heard})
    ended = sweeps.SweepState(state=sweeps.DONE, pid=None, heartbeat=time.time())
    runs.write_json_atomic(path / sweeps.STATE, ended.to_dict())

    sweep = sweeps.find_sweep(path.name, runs_dir)
    states = [t.state for t in sweep.trials]
    assert states == [runs.DONE, sweeps.PRUNED, runs.DONE, runs.FAILED, sweeps.PENDING]
    best = sweep.best()
    assert best.number == 3 and best.val_accuracy == 0.95  # 0.99 has no model
    assert sweep.counts() == {"done": 2, "stopped early": 1, "failed": 1, "not started": 1}
    rows = sweeps.trial_rows(sweep)
    assert [r["trial"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[1]["state"] == "stopped early" and rows[4]["state"] == "not started"
    assert rows[0]["learning_rate"] == plan[0]["learning_rate"]
    listed, problems = sweeps.list_sweeps(runs_dir)
    assert [s.sweep_id for s in listed] == [path.name] and not problems
    assert [t.run.run_id if t.run else None for t in listed[0].trials] == [
        t.run.run_id if t.run else None for t in sweep.trials
    ]
    # the runs listing shows the trials as runs, never the sweeps folder
    found, problems = runs.list_runs(runs_dir)
    assert len(found) == 4 and not problems
    assert {r.config.origin for r in found} == {f"sweep trial {i}" for i in (1, 2, 3, 4)}


def test_a_run_config_keeps_its_sweep_link(runs_dir, codelab_model, tiny_train):
    link = {"id": "s", "trial": 2, "values": {"epochs": 1}, "node": "n", "host": "h"}
    path = runs.create_run(codelab_model, tiny_train, "codelab", runs_dir, sweep=link)
    data = json.loads((path / runs.CONFIG).read_text())
    assert data["format_version"] == 5 and data["sweep"] == link
    assert runs.load_run(path).config.sweep == link


@pytest.mark.parametrize(
    ("address", "fragment"),
    [
        ("ray://head:10001", "Ray Client (ray://) addresses are not supported"),
        ("head", "is not a Ray cluster address"),
        ("127.0.0.1:1", "cannot reach the Ray cluster at 127.0.0.1:1"),
    ],
)
def test_an_address_that_cannot_work_is_one_sentence(address, fragment):
    with pytest.raises(sweeps.SweepError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        sweeps.check_address(address)


def test_stop_is_refused_for_a_sweep_that_is_not_live(runs_dir):
    path = sweeps.create_sweep(_spec(), runs_dir)
    runs.write_json_atomic(path / sweeps.STATE, sweeps.SweepState(state=sweeps.DONE).to_dict())
    assert sweeps.request_stop(path) is False and not (path / sweeps.STOP_FILE).exists()
