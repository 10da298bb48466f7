"""Sweeps on Ray Tune, for real: an embedded Ray, a simulated two-node cluster, a stop.

Each test trains tiny trials (the codelab model on 2,000 images) in worker processes, as
the dashboard and the CLI do; every wait is for a condition, with generous deadlines.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mnist import runs, sweeps
from mnist.sweeps import Param
from tests.conftest import ROOT, non_loopback_listeners, wait_for

pytestmark = pytest.mark.slow

DEADLINE = 600.0  # seconds for a whole tiny sweep, on a loaded machine
TINY = {"train_size": 2000, "learning_rate": 3e-3, "epochs": 3}


def _spec(plan: list[dict], **changes) -> sweeps.SweepSpec:
    names = sorted({name for values in plan for name in values})
    params = [Param(name, "choice", values=tuple({v[name] for v in plan})) for name in names]
    spec = sweeps.new_spec("codelab", params, len(plan), command="test")
    return dataclasses.replace(spec, plan=tuple(plan), **changes)


def _ray_processes() -> set[int]:
    """Processes of any Ray instance on this machine (GCS, raylets, workers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if comm in ("raylet", "gcs_server") or cmdline.startswith(b"ray::"):
            found.add(int(entry.name))
    return found


def _last_val_accuracy(run_dir: Path) -> float | None:
    """The last epoch's validation accuracy, read from metrics.jsonl (not through the app)."""
    value = None
    for line in (run_dir / runs.METRICS).read_text().splitlines():
        record = json.loads(line)
        if record.get("type") == "epoch":
            value = record["val_accuracy"]
    return value


def _wait_until_ended(path: Path, seen_listeners: set | None = None) -> sweeps.Sweep:
    def ended():
        if seen_listeners is not None:
            seen_listeners.update(non_loopback_listeners())
        sweep = sweeps.load_sweep(path)
        return sweep if not sweep.is_live else None

    return wait_for(ended, timeout=DEADLINE, interval=0.5, what="the sweep to end")


def _no_live_processes(sweep: sweeps.Sweep, ray_before: set[int]) -> None:
    """No trial's worker, no driver, no Ray process is left (each given time to exit: a
    worker's last status comes before its process ends)."""
    assert not any(t.run.is_live for t in sweep.trials if t.run is not None)
    pids = [t.run.status.pid for t in sweep.trials if t.run is not None] + [sweep.state.pid]
    wait_for(lambda: not any(map(runs._pid_alive, pids)), timeout=120, what="workers to exit")
    wait_for(lambda: not (_ray_processes() - ray_before), timeout=120, what="Ray to exit")


def test_a_tiny_sweep_on_the_embedded_ray_with_asha(runs_dir):
    bad = dict(TINY, learning_rate=1e-6, epochs=30)  # learns nothing; 30 epochs if let run
    plan = [TINY, dict(TINY, learning_rate=1e-3), bad, dict(TINY, learning_rate=2e-3)]
    spec = _spec(plan, scheduler="asha")
    ray_before, listening_before = _ray_processes(), non_loopback_listeners()
    path = sweeps.launch_sweep(sweeps.create_sweep(spec, runs_dir))  # as the Sweep page does
    seen: set = set()
    sweep = _wait_until_ended(path, seen)

    assert sweep.state.state == sweeps.DONE, sweep.state.error
    assert sweep.state.address == "embedded"
    assert sweep.state.concurrency == len(os.sched_getaffinity(0))  # one trial per core
    assert not (seen - listening_before), "the embedded Ray listened beyond loopback"
    for trial in sweep.trials:  # every trial is a run folder with a model
        assert trial.run is not None and trial.run.model_path is not None, trial.number
        assert trial.run.config.sweep["id"] == path.name
        assert trial.run.config.train.learning_rate == plan[trial.number - 1]["learning_rate"]
    pruned = sweep.trials[2]
    assert pruned.result.get("pruned") and pruned.state == sweeps.PRUNED
    assert pruned.run.state == runs.STOPPED and pruned.run.status.epochs_completed < 30
    assert any(t.state == runs.DONE for t in sweep.trials[:2])  # the first at a rung goes on
    # the best trial is the one whose saved model validated best, read from the files
    scores = {t.run.run_id: _last_val_accuracy(t.run.path) for t in sweep.trials}
    assert sweep.best().run.run_id == max(scores, key=scores.get)
    assert sweep.best().number != 3
    _no_live_processes(sweep, ray_before)


def test_two_nodes_share_the_trials_and_every_result_reaches_the_runs_folder(runs_dir):
    helper = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "unit" / "ray_cluster.py"), "2"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"},  # loopback only
    )  # fmt: skip
    try:
        address = helper.stdout.readline().strip()
        node_ids = set(helper.stdout.readline().split())
        assert address.startswith("127.0.0.1:") and len(node_ids) == 2
        plan = [TINY | {"epochs": 1}, TINY | {"epochs": 1, "learning_rate": 1e-3}]
        params = ["--param", "epochs=choice:1", "--param", "train_size=choice:2000",
                  "--param", "learning_rate=choice:0.003,0.001"]  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "mnist", "sweep", "--preset", "codelab", "--trials", "2",
             *params, "--address", address, "--runs-dir", str(runs_dir), "--json"],
            capture_output=True, text=True, timeout=DEADLINE, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["status"] == "done" and summary["address"] == address
        assert len(plan) == len(summary["trials"])
        sweep = sweeps.find_sweep(summary["sweep_id"], runs_dir)
        assert sweep.state.nodes == 2
        nodes = {t.run.config.sweep["node"] for t in sweep.trials}
        assert nodes == node_ids  # one trial on each node (one CPU each)
        for trial in sweep.trials:
            assert trial.run.state == runs.DONE and trial.run.model_path is not None
            assert trial.run.status.test_accuracy is not None
            assert trial.run.path.parent == runs_dir
    finally:
        helper.stdin.close()
        helper.wait(timeout=120)


def test_stopping_a_sweep_stops_every_trial_and_keeps_finished_ones(runs_dir):
    long = dict(TINY, epochs=40)
    plan = [dict(TINY, epochs=1), long, dict(long, learning_rate=1e-3), long]
    ray_before = _ray_processes()
    path = sweeps.launch_sweep(sweeps.create_sweep(_spec(plan), runs_dir))

    def training_after_the_first_finished():
        sweep = sweeps.load_sweep(path)
        first = sweep.trials[0]
        if not (first.run and first.run.state == runs.DONE):
            return None
        training = {t.number for t in sweep.trials[1:]
                    if t.run and t.run.is_live and t.run.status.epochs_completed}  # fmt: skip
        return training or None

    # one trial at a time on one core, two on two: either way some are mid-training now
    training = wait_for(training_after_the_first_finished, timeout=DEADLINE, interval=0.5,
                        what="a trial to train after the first finished")  # fmt: skip
    assert sweeps.request_stop(path)
    sweep = _wait_until_ended(path)

    assert sweep.state.state == sweeps.STOPPED
    first, *others = sweep.trials
    assert first.state == runs.DONE and first.run.model_path is not None  # kept
    for trial in others:
        if trial.run is None:  # never started: the stop came first
            assert sweeps.trial_rows(sweep)[trial.number - 1]["state"] == sweeps.SKIPPED
            continue
        assert trial.run.state == runs.STOPPED, trial.number  # none ran on to its 40 epochs
        if trial.number in training:  # stopped at a batch, with its model
            assert trial.run.model_path is not None and trial.run.status.epochs_completed < 40
    assert sweep.trials[3].run is None  # no trial started after the stop
    _no_live_processes(sweep, ray_before)


@pytest.mark.parametrize("when", ["queued", "starting Ray"])
def test_a_sweep_stopped_before_its_trials_began_reads_stopped(runs_dir, when):
    ray_before = _ray_processes()
    path = sweeps.create_sweep(_spec([TINY, TINY]), runs_dir)
    if when == "queued":  # Stop pressed before the driver process wrote anything
        assert sweeps.request_stop(path)
        sweeps.launch_sweep(path)
    else:
        sweeps.launch_sweep(path)
        wait_for(lambda: sweeps.read_state(path).message == "starting Ray", timeout=120,
                 interval=0.05, what="the driver to start Ray")  # fmt: skip
        assert sweeps.request_stop(path)
    sweep = _wait_until_ended(path)
    assert sweep.state.state == sweeps.STOPPED, sweep.state.error
    assert all(t.run is None for t in sweep.trials)
    assert sweeps.trial_rows(sweep)[0]["state"] == sweeps.SKIPPED
    _no_live_processes(sweep, ray_before)


def test_a_node_that_does_not_share_the_runs_folder_is_named(tmp_path, monkeypatch):
    """The storage check's answer on one node (run here, without Ray): another folder at the
    same path, or one it cannot write, is said in a sentence naming the machine."""
    import socket

    from mnist import raysweep

    probe = raysweep._probe._function
    context = type("Context", (), {"get_node_id": lambda self: "n" * 20})()
    monkeypatch.setattr(raysweep.ray, "get_runtime_context", lambda: context)
    (tmp_path / ".probe").write_text("token")
    assert probe(str(tmp_path), "token") is None  # shared: reads the token, writes beside it
    assert not list(tmp_path.glob(".probe-*"))  # and leaves nothing behind
    other = probe(str(tmp_path), "another")
    assert other == f"{socket.gethostname()} sees another folder at {tmp_path}"
    missing = probe(str(tmp_path / "absent"), "token")
    assert missing.startswith(f"{socket.gethostname()} cannot use {tmp_path / 'absent'}")
