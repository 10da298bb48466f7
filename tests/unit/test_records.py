"""The run folder's formats: typed records, versions, migration, and the page describing them."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mnist import runs
from mnist.config import ConvBlock, FinetuneConfig, ModelConfig, TrainConfig
from mnist.records import (
    BatchRecord,
    EpochRecord,
    FormatError,
    MetricsHeader,
    RunStatus,
    parse_metrics_line,
)
from mnist.sweeps import SweepSpec, SweepState
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "run-folder.md").read_text()


@pytest.mark.parametrize(
    "cls",
    [RunStatus, BatchRecord, EpochRecord, ModelConfig, TrainConfig, ConvBlock, FinetuneConfig,
     SweepState, SweepSpec],
)  # fmt: skip
def test_the_format_page_names_every_field(cls):
    for field in dataclasses.fields(cls):
        if field.name in ("type", "stale"):
            continue
        assert f"`{field.name}`" in DOC, f"docs/run-folder.md lacks {cls.__name__}.{field.name}"


def test_the_format_page_names_every_config_key():
    config = runs.RunConfig(ModelConfig(), TrainConfig(), "fast", 1.0, runs.provenance("x"))
    tuned = runs.RunConfig(
        None, TrainConfig(), None, 1.0, {}, FinetuneConfig(base="x", base_sha256="0"), {"a": 1}
    )
    trial = runs.RunConfig(ModelConfig(), TrainConfig(), "fast", 1.0, {}, sweep={"id": "s"})
    for key in {**config.to_dict(), **tuned.to_dict(), **trial.to_dict()}:
        assert f"`{key}`" in DOC, key
    for key in config.provenance:
        assert f"`{key}`" in DOC, key


def test_a_status_round_trips_and_leaves_the_readers_judgement_out():
    status = RunStatus(state="running", pid=12, heartbeat=3.5, epoch=2, stale=True)
    data = status.to_dict()
    assert data["format_version"] == RunStatus.FORMAT and "stale" not in data
    assert RunStatus.from_dict(json.loads(json.dumps(data))) == dataclasses.replace(
        status, stale=False
    )


def test_a_format_1_status_still_reads():
    """A status.json as the worker of f8a8552 wrote it at the end of a run."""
    old = {"state": "done", "pid": 4242, "error": None, "heartbeat": 1795924935.2,
           "message": None, "started": 1795924090.1, "epoch": 15, "epochs": 15, "batch": 430,
           "batches": 430, "step": 6450, "total_steps": 6450, "loss": 0.0312,
           "accuracy": 0.9905, "samples_per_second": 975.4, "elapsed": 845.7,
           "eta_seconds": 0.0, "train_samples": 55000, "validation_samples": 5000,
           "params": 184874, "val_loss": 0.021, "val_accuracy": 0.9932,
           "finished": 1795924935.2, "test_accuracy": 0.9932, "train_seconds": 845.82}  # fmt: skip
    status = RunStatus.from_dict(old)
    assert (status.state, status.test_accuracy, status.step) == ("done", 0.9932, 6450)
    assert status.epochs_completed is None  # format 1 did not say


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format_version": 3, "state": "done"}, "format 3 is not one this version"),
        ({"format_version": 2, "state": "done", "loss": 0.1}, "unknown field.*loss"),
        ({"state": "exploded"}, "state must be one of"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_a_status_this_version_cannot_read_says_why(data, message):
    with pytest.raises(FormatError, match=message):
        RunStatus.from_dict(data)


def test_an_unreadable_status_file_is_a_run_error_naming_it(runs_dir, codelab_model, tiny_train):
    path = runs.create_run(codelab_model, tiny_train)
    runs.write_json_atomic(path / runs.STATUS, {"format_version": 9, "state": "done"})
    with pytest.raises(runs.RunError, match=r"status\.json: format 9"):
        runs.load_run(path)
    assert runs.list_runs()[1]  # listed as a problem, not a crash


def test_metrics_lines_parse_to_records_and_damage_costs_one_line():
    assert parse_metrics_line(json.dumps(dataclasses.asdict(MetricsHeader()))) is None
    batch = BatchRecord(epoch=2, batch=3, step=9, loss=0.5, batch_loss=0.4)
    assert parse_metrics_line(json.dumps(dataclasses.asdict(batch))) == batch
    epoch = EpochRecord(epoch=2, val_loss=None, complete=False)
    assert parse_metrics_line(json.dumps(dataclasses.asdict(epoch))) == epoch
    assert parse_metrics_line(b"{not json") is None
    assert parse_metrics_line('{"type": "unheard-of"}') is None
    # Format 1 lines: no header before them, no batch_loss in them.
    old = parse_metrics_line('{"type": "batch", "epoch": 1, "batch": 1, "step": 1, "loss": 2.3}')
    assert old == BatchRecord(loss=2.3) and old.batch_loss is None


def test_a_format_1_run_folder_opens_whole(tmp_path):
    """config.json, status.json and metrics.jsonl as f8a8552's worker wrote them."""
    fixture = json.loads(
        (ROOT / "tests" / "unit" / "fixtures" / "config-format-1.json").read_text()
    )
    run_dir = tmp_path / "runs" / "20261129-034809-e503"
    run_dir.mkdir(parents=True)
    runs.write_json_atomic(run_dir / runs.CONFIG, fixture)
    runs.write_json_atomic(run_dir / runs.STATUS, {"state": "done", "heartbeat": 1.0,
                                                   "epoch": 15, "loss": 0.03, "accuracy": 0.99,
                                                   "test_accuracy": 0.9932})  # fmt: skip
    (run_dir / runs.METRICS).write_text(
        '{"type":"batch","epoch":1,"batch":1,"step":1,"loss":2.3,"accuracy":0.1,"lr":0.002,'
        '"samples_per_second":900.0,"elapsed":0.2,"eta_seconds":800.0}\n'
        '{"type":"epoch","epoch":1,"step":430,"loss":0.3,"accuracy":0.9,"val_loss":0.1,'
        '"val_accuracy":0.97,"lr":0.0019,"samples_per_second":975.0,"epoch_seconds":56.4,'
        '"elapsed":56.4,"complete":true}\n'
    )
    run = runs.load_run(run_dir)
    assert run.config.preset == "best" and run.config.train.optimizer == "adam"
    assert run.state == "done" and run.status.test_accuracy == 0.9932
    tail = runs.MetricsTail(run_dir)
    assert tail.poll() == 2
    assert tail.batches[0].loss == 2.3 and tail.epochs[0].val_accuracy == 0.97
    row = runs.history_row(run)
    assert row["status"] == "done" and row["test accuracy"] == 0.9932
