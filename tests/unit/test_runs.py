"""Run folders: atomic files, listing, incremental metrics, liveness, stop/delete, slots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from mnist import runs
from mnist.config import TrainConfig
from mnist.records import BatchRecord, EpochRecord, RunStatus


def test_write_json_atomic_leaves_no_temp_file(tmp_path):
    path = tmp_path / "status.json"
    runs.write_json_atomic(path, {"state": "running", "epoch": 3})
    runs.write_json_atomic(path, {"state": "done"})
    assert json.loads(path.read_text()) == {"state": "done"}
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_write_json_atomic_refuses_nan_and_keeps_old_file(tmp_path):
    path = tmp_path / "status.json"
    runs.write_json_atomic(path, {"loss": 1.0})
    with pytest.raises(ValueError):
        runs.write_json_atomic(path, {"loss": float("nan")})
    assert json.loads(path.read_text()) == {"loss": 1.0}


def test_read_json_names_the_file(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(runs.RunError, match="config.json: unreadable"):
        runs.read_json(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(runs.RunError, match="expected a JSON object"):
        runs.read_json(bad)
    with pytest.raises(runs.RunError, match="missing"):
        runs.read_json(tmp_path / "nope.json")


def test_create_run_writes_config_and_queued_status(runs_dir, codelab_model, tiny_train):
    path = runs.create_run(codelab_model, tiny_train, preset="codelab")
    assert path.parent == runs_dir
    run = runs.load_run(path)
    assert run.config.model == codelab_model
    assert run.config.train == tiny_train
    assert run.config.preset == "codelab"
    assert run.status.state == runs.QUEUED
    assert run.model_path is None and run.evaluation() is None


def test_queued_run_whose_worker_never_started_fails_after_silence(
    runs_dir, codelab_model, tiny_train
):
    path = runs.create_run(codelab_model, tiny_train)
    created = runs.load_run(path).config.created
    assert not (path / runs.STATUS).exists()  # status.json is the worker's alone
    assert runs.read_status(path, now=created + 1).state == runs.QUEUED
    status = runs.read_status(path, now=created + runs.STALE_SECONDS + 1)
    assert status.state == runs.FAILED
    assert "has not reported" in status.error
    # Reading never writes the file: the worker remains its only writer.
    assert not (path / runs.STATUS).exists()


def test_live_run_whose_worker_died_reads_as_failed_at_once(runs_dir, codelab_model, tiny_train):
    path = runs.create_run(codelab_model, tiny_train)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    runs.write_json_atomic(
        path / runs.STATUS, {"state": runs.RUNNING, "pid": dead.pid, "heartbeat": time.time()}
    )
    status = runs.read_status(path)
    assert status.state == runs.FAILED
    assert "worker process ended" in status.error


def test_live_run_with_stale_heartbeat_reads_as_failed(runs_dir, codelab_model, tiny_train):
    path = runs.create_run(codelab_model, tiny_train)
    now = time.time()
    alive = {"state": runs.RUNNING, "pid": os.getpid(), "heartbeat": now - 2}
    runs.write_json_atomic(path / runs.STATUS, alive)
    assert runs.read_status(path, now=now).state == runs.RUNNING
    stale = {**alive, "heartbeat": now - runs.STALE_SECONDS - 5}
    runs.write_json_atomic(path / runs.STATUS, stale)
    status = runs.read_status(path, now=now)
    assert status.state == runs.FAILED and "has not reported" in status.error


def test_killed_child_is_reaped_and_reads_as_failed(runs_dir, codelab_model, tiny_train):
    path = runs.create_run(codelab_model, tiny_train)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 10
    while time.time() < deadline and not os.path.exists(f"/proc/{child.pid}/stat"):
        time.sleep(0.05)
    time.sleep(0.5)  # the child exits: a zombie until reaped
    runs.write_json_atomic(
        path / runs.STATUS, {"state": runs.RUNNING, "pid": child.pid, "heartbeat": time.time()}
    )
    assert runs.read_status(path).state == runs.FAILED


def test_list_runs_newest_first_and_reports_corrupt_folders(runs_dir, codelab_model, tiny_train):
    first = runs.create_run(codelab_model, tiny_train)
    second = runs.create_run(codelab_model, TrainConfig(epochs=2))
    corrupt = runs_dir / "20000101-000000-dead"
    corrupt.mkdir()
    (corrupt / runs.CONFIG).write_text("{broken")
    invalid = runs_dir / "20000101-000000-beef"
    invalid.mkdir()
    runs.write_json_atomic(invalid / runs.CONFIG, {"model": {"conv_blocks": []}, "train": {}})
    (runs_dir / ".slots").mkdir()
    (runs_dir / "notes.txt").write_text("not a run")
    found, problems = runs.list_runs()
    assert [r.path for r in found] == [second, first]
    assert len(problems) == 2
    assert any("dead" in p and "unreadable" in p for p in problems)
    assert any("beef" in p and "invalid run config" in p for p in problems)


def test_list_runs_of_missing_folder_is_empty(tmp_path):
    assert runs.list_runs(tmp_path / "nowhere") == ([], [])


def test_find_run_rejects_paths(runs_dir):
    for bad in ("", "../etc", ".slots", "a/b"):
        with pytest.raises(runs.RunError):
            runs.find_run(bad)
    with pytest.raises(runs.RunError, match="no such run"):
        runs.find_run("20990101-000000-0000")


def test_read_metrics_is_incremental_and_skips_partial_lines(tmp_path):
    path = tmp_path / runs.METRICS
    lines = [runs.metrics_header(), '{"type": "batch", "step": 1}', '{"type": "batch", "step": 2}']
    path.write_text("\n".join(lines) + '\n{"ty')
    records, offset = runs.read_metrics(tmp_path)
    assert records == [BatchRecord(step=1), BatchRecord(step=2)]  # the header is not a record
    records, offset2 = runs.read_metrics(tmp_path, offset)
    assert records == [] and offset2 == offset
    with open(path, "a") as fh:
        fh.write('pe": "epoch", "epoch": 3}\ngarbage\n{"type": "batch", "step": 4}\n')
    records, offset3 = runs.read_metrics(tmp_path, offset)
    assert records == [EpochRecord(epoch=3), BatchRecord(step=4)]
    assert offset3 == path.stat().st_size
    assert runs.read_metrics(tmp_path / "missing") == ([], 0)


def test_delete_refuses_live_run_and_removes_finished_one(runs_dir, codelab_model, tiny_train):
    path = runs.create_run(codelab_model, tiny_train)
    runs.write_json_atomic(
        path / runs.STATUS, {"state": runs.RUNNING, "pid": os.getpid(), "heartbeat": time.time()}
    )
    with pytest.raises(runs.RunError, match="stop it before deleting"):
        runs.delete_run(path)
    assert path.exists()
    runs.write_json_atomic(path / runs.STATUS, {"state": runs.DONE, "heartbeat": time.time()})
    runs.delete_run(path)
    assert not path.exists()
    assert list(runs_dir.iterdir()) == []


def test_request_stop_writes_stop_file_only_for_live_runs(runs_dir, codelab_model, tiny_train):
    path = runs.create_run(codelab_model, tiny_train)
    runs.write_json_atomic(path / runs.STATUS, {"state": runs.DONE, "heartbeat": time.time()})
    assert runs.request_stop(path) is False
    assert not (path / runs.STOP_FILE).exists()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        runs.write_json_atomic(
            path / runs.STATUS,
            {"state": runs.RUNNING, "pid": sleeper.pid, "heartbeat": time.time()},
        )
        assert runs.request_stop(path) is True
        assert (path / runs.STOP_FILE).exists()
        assert sleeper.wait(timeout=10) == -15  # SIGTERM reached the worker's pid
    finally:
        sleeper.kill()


def test_slot_lock_allows_max_runs_and_frees_on_release(tmp_path):
    a = runs.SlotLock(tmp_path, "20260101-000001-aaaa", max_runs=1)
    b = runs.SlotLock(tmp_path, "20260101-000002-bbbb", max_runs=1)
    assert a.try_acquire()
    assert not b.try_acquire()
    a.release()
    assert b.try_acquire()
    b.release()
    two = [runs.SlotLock(tmp_path, f"20260101-00000{i}-cccc", max_runs=2) for i in range(3)]
    assert [lock.try_acquire() for lock in two] == [True, True, False]
    for lock in two:
        lock.release()


def test_slot_lock_waits_for_older_queued_run(runs_dir, codelab_model, tiny_train):
    older = runs.create_run(codelab_model, tiny_train)
    runs.write_json_atomic(
        older / runs.STATUS, {"state": runs.QUEUED, "pid": os.getpid(), "heartbeat": time.time()}
    )
    newer = runs.SlotLock(runs_dir, "29991231-235959-ffff", max_runs=1)
    assert not newer.try_acquire()  # a slot is free, but the older run goes first
    runs.write_json_atomic(older / runs.STATUS, {"state": runs.DONE, "heartbeat": time.time()})
    assert newer.try_acquire()
    newer.release()


def test_slot_is_freed_when_its_holder_is_killed(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from mnist.runs import SlotLock; "
            "lock = SlotLock(Path(sys.argv[1]), '20260101-000001-aaaa', 1); "
            "assert lock.try_acquire(); print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        waiter = runs.SlotLock(tmp_path, "20260101-000002-bbbb", max_runs=1)
        assert not waiter.try_acquire()
        holder.kill()
        holder.wait(timeout=10)
        assert waiter.try_acquire()
        waiter.release()
    finally:
        holder.kill()


@pytest.mark.parametrize(("env", "arg", "expected"), [(None, None, 1), ("3", None, 3), ("3", 2, 2)])
def test_max_concurrent_runs(monkeypatch, env, arg, expected):
    if env is None:
        monkeypatch.delenv(runs.MAX_RUNS_ENV, raising=False)
    else:
        monkeypatch.setenv(runs.MAX_RUNS_ENV, env)
    assert runs.max_concurrent_runs(arg) == expected


@pytest.mark.parametrize("bad", ["zero", "0", "-1"])
def test_max_concurrent_runs_rejects_bad_values(monkeypatch, bad):
    monkeypatch.setenv(runs.MAX_RUNS_ENV, bad)
    with pytest.raises(runs.RunError):
        runs.max_concurrent_runs()


def test_resolve_runs_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv(runs.RUNS_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert runs.resolve_runs_dir() == tmp_path / "runs"  # absolute: it goes into JSON
    assert runs.resolve_runs_dir("rel") == tmp_path / "rel"
    monkeypatch.setenv(runs.RUNS_DIR_ENV, str(tmp_path / "env"))
    assert runs.resolve_runs_dir() == tmp_path / "env"
    assert runs.resolve_runs_dir(tmp_path / "arg") == tmp_path / "arg"


def test_slot_order_follows_creation_time_not_the_random_suffix(
    runs_dir, codelab_model, tiny_train
):
    first = runs.create_run(codelab_model, tiny_train)
    second = runs.create_run(codelab_model, tiny_train)
    # Same second, and a suffix that sorts the newer run first: creation time must decide.
    older, newer = runs_dir / "20260101-000000-ffff", runs_dir / "20260101-000000-0000"
    first.rename(older)
    second.rename(newer)
    for path in (older, newer):
        runs.write_json_atomic(
            path / runs.STATUS, {"state": runs.QUEUED, "pid": os.getpid(), "heartbeat": time.time()}
        )
    assert not runs.SlotLock(runs_dir, newer.name, max_runs=1).try_acquire()
    lock = runs.SlotLock(runs_dir, older.name, max_runs=1)
    assert lock.try_acquire()
    lock.release()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "–"), (0, "0:00"), (59.6, "1:00"), (754, "12:34"), (3700, "1:01:40")],
)
def test_clock_formats_progress_times(seconds, text):
    assert runs.clock(seconds) == text


# ---------------------------------------------------------------------------------------------
# How often a watching page refreshes, what the history shows


@pytest.mark.parametrize(
    ("status", "seconds"),
    [
        ({"state": runs.QUEUED, "pid": None}, runs.WATCH_SECONDS_YOUNG),  # the worker starts
        ({"state": runs.QUEUED, "pid": 7, "message": "waiting"}, runs.WATCH_SECONDS),  # queued
        ({"state": runs.RUNNING, "pid": 7}, runs.WATCH_SECONDS_YOUNG),  # loading data
        ({"state": runs.RUNNING, "pid": 7, "elapsed": 2.0, "eta_seconds": 900}, 0.5),  # young
        ({"state": runs.RUNNING, "pid": 7, "elapsed": 3.0, "eta_seconds": 1.0}, 0.5),  # short
        ({"state": runs.RUNNING, "pid": 7, "elapsed": 30.0, "eta_seconds": 900}, 3.0),  # long
        ({"state": runs.STOPPING, "pid": 7, "elapsed": 30.0, "eta_seconds": 90}, 3.0),
        ({"state": runs.DONE, "pid": 7, "elapsed": 3.0}, None),  # over: no refresh
        ({"state": runs.FAILED}, None),
    ],
)
def test_watch_interval(status, seconds):
    assert runs.watch_interval(RunStatus(**status)) == seconds
    assert runs.WATCH_SECONDS_YOUNG < runs.WATCH_SECONDS


def test_a_short_run_is_watched_closely_from_start_to_end():
    # The codelab preset trained for 3.7 s here: every refresh of it is a young one.
    for elapsed in (0.1, 1.0, 3.6):
        status = RunStatus(state=runs.RUNNING, pid=1, elapsed=elapsed, eta_seconds=3.7 - elapsed)
        assert runs.watch_interval(status) == runs.WATCH_SECONDS_YOUNG


def test_progress_of_a_run_whose_worker_has_not_started():
    starting = RunStatus(state=runs.QUEUED, pid=None)
    assert runs.progress(starting) == (0.0, "starting the worker process")
    waiting = RunStatus(state=runs.QUEUED, pid=3, message="waiting for another run to finish")
    assert runs.progress(waiting) == (0.0, "waiting for another run to finish")


def test_history_row_tells_runs_apart_and_leaves_unknowns_empty(runs_dir, codelab_model):
    fast = runs.create_run(codelab_model, TrainConfig(learning_rate=0.1, optimizer="sgd"))
    slow = runs.create_run(codelab_model, TrainConfig(learning_rate=1e-4, validation_size=0))
    a, b = (runs.history_row(runs.load_run(p)) for p in (fast, slow))
    assert (a["learning rate"], a["optimizer"], a["validation"]) == (0.1, "sgd", 5_000)
    assert (b["learning rate"], b["optimizer"], b["validation"]) == (1e-4, "adam", 0)
    assert a["train images"] == 55_000 and b["train images"] == 60_000
    assert a["status"] == runs.QUEUED
    assert a["test accuracy"] is None and a["seconds"] is None  # blank cells, not text


def test_status_writer_is_the_workers_and_reports_its_pid(tmp_path):
    writer = runs.StatusWriter(tmp_path)
    writer.start()
    try:
        status = RunStatus.from_dict(runs.read_json(tmp_path / runs.STATUS))
        assert status.pid == os.getpid() and runs.worker_reported(status)
        assert status.state == runs.QUEUED
        assert not runs.worker_reported(RunStatus(state=runs.QUEUED, pid=None))
    finally:
        writer.close()


def test_a_format_1_config_opens_with_the_optimiser_in_training(tmp_path):
    """The bundled model's config as format 1 wrote it (models/default.json at f8a8552)."""
    from pathlib import Path

    from mnist.config import ConvBlock, ModelConfig, TrainConfig

    old = json.loads((Path(__file__).parent / "fixtures" / "config-format-1.json").read_text())
    assert "format_version" not in old and "optimizer" in old["model"]
    config = runs.RunConfig.from_dict(old)
    # the best preset of then (it has changed since)
    block = ConvBlock(filters=32, kernel_size=5, padding="valid", batch_norm=True)
    assert config.model == ModelConfig(
        conv_blocks=(block, ConvBlock(filters=64, kernel_size=5, padding="valid", batch_norm=True)),
        dense_units=(128,),
        dense_dropout=0.3,
    )
    assert config.train == TrainConfig(
        epochs=15, batch_size=128, optimizer="adam", learning_rate=2e-3, lr_schedule="cosine",
        augment=True,
    )  # fmt: skip
    assert config.train.precision == "float32"  # absent then: what it always was
    assert runs.RunConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["format_version"] == runs.CONFIG_FORMAT
    with pytest.raises(ValueError, match="newer than this version"):
        runs.RunConfig.from_dict({**config.to_dict(), "format_version": runs.CONFIG_FORMAT + 1})


def test_a_run_stopped_mid_epoch_reads_as_its_complete_epochs():
    stopped = RunStatus(state=runs.STOPPED, epoch=15, epochs_completed=14)
    assert runs.epochs_text(stopped, 15) == "14/15"
    assert runs.epochs_text(RunStatus(state=runs.RUNNING, epoch=3), 10) == "3/10"
    assert runs.epochs_text(RunStatus(state=runs.QUEUED), 10) == "0/10"


def test_a_stop_request_shows_as_stopping_at_once(runs_dir, codelab_model, tiny_train):
    path = runs.create_run(codelab_model, tiny_train)
    runs.write_json_atomic(
        path / runs.STATUS, {"state": runs.RUNNING, "pid": os.getpid(), "heartbeat": time.time()}
    )
    assert runs.load_run(path).state == runs.RUNNING
    (path / runs.STOP_FILE).touch()
    run = runs.load_run(path)
    assert run.state == runs.STOPPING and run.is_live


@pytest.mark.parametrize(
    ("status", "starting"),
    [
        ({"state": runs.QUEUED, "pid": None}, True),  # launched, the worker not up yet
        ({"state": runs.QUEUED, "pid": 5, "message": runs.STARTING}, True),  # TF loads
        ({"state": runs.QUEUED, "pid": 5, "message": runs.WAITING}, False),  # another run's slot
        ({"state": runs.RUNNING, "pid": 5, "message": runs.LOADING}, True),
        ({"state": runs.RUNNING, "pid": 5, "message": "training"}, False),
        ({"state": runs.FAILED, "pid": None}, False),
    ],
)
def test_is_starting(status, starting):
    assert runs.is_starting(RunStatus(**status)) is starting


def test_a_run_appears_whole_and_half_made_ones_are_cleared(runs_dir, codelab_model, tiny_train):
    import os

    seen = []

    def files(folder):
        seen.append(sorted(p.name for p in runs_dir.iterdir() if not p.name.startswith(".")))
        (folder / "extra.bin").write_bytes(b"x")

    old = runs_dir / ".creating-1-deadbeef"
    old.mkdir(parents=True)
    os.utime(old, (0, 0))
    fresh = runs_dir / ".creating-2-cafecafe"
    fresh.mkdir()
    path = runs.create_run(codelab_model, tiny_train, files=files)
    assert seen == [[]]  # while its files were written the run was not listed
    assert (path / "extra.bin").exists() and (path / runs.CONFIG).exists()
    assert not old.exists() and fresh.exists()  # only the abandoned one is cleared

    def broken(folder):
        raise OSError("disk full")

    with pytest.raises(OSError):
        runs.create_run(codelab_model, tiny_train, files=broken)
    assert [r.run_id for r in runs.list_runs()[0]] == [path.name]
    assert sorted(p.name for p in runs_dir.glob(".creating-*")) == [fresh.name]
