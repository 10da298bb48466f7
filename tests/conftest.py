"""Shared fixtures: a private runs folder per test and small, fast training configs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mnist import runs
from mnist.config import PRESETS, TrainConfig

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    """An empty runs folder, also set as $MNIST_RUNS_DIR so nothing writes to ./runs."""
    path = tmp_path / "runs"
    monkeypatch.setenv(runs.RUNS_DIR_ENV, str(path))
    monkeypatch.delenv(runs.MAX_RUNS_ENV, raising=False)
    return path


@pytest.fixture
def codelab_model():
    return PRESETS["codelab"].model


@pytest.fixture
def tiny_train() -> TrainConfig:
    """One epoch on 300 images: seconds, not minutes."""
    return TrainConfig(epochs=1, batch_size=64, train_size=300, validation_size=100)


@pytest.fixture(scope="module")
def tiny_model():
    """Flatten → dense 10 softmax: a real Keras model that predicts in microseconds."""
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def wait_for(predicate, timeout: float = 120.0, interval: float = 0.2, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def metrics(run_dir: Path) -> list:
    """A run's ``metrics.jsonl`` as typed records (batch and epoch, the header left out)."""
    return runs.read_metrics(run_dir)[0]


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def non_loopback_listeners() -> set[tuple[str, int]]:
    """(address in /proc/net's hex, port) of every TCP socket listening on something other
    than loopback, on this machine."""
    # /proc/net's hex: 127.x.x.x is "..7F" (IPv4, little-endian), ::1 and ::ffff:127.x in IPv6
    loopback = ("00000000000000000000000001000000",)
    found = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] != "0A" or address in loopback or address.endswith("7F"):
                continue
            found.add((address, int(port, 16)))
    return found


def made_run(owner=None, state=None, created=None, sweep=None, runs_dir=None) -> Path:
    """A fast-preset run folder as if ``owner`` made it at ``created`` (Unix time), with the
    ``state`` its worker last wrote (pid None: judged by its fresh heartbeat alone, so no
    signal reaches anything), or none yet (queued)."""
    fast = PRESETS["fast"]
    path = runs.create_run(fast.model, fast.train, "fast", runs_dir, owner=owner, sweep=sweep)
    if created is not None:
        config = runs.read_json(path / runs.CONFIG)
        runs.write_json_atomic(path / runs.CONFIG, {**config, "created": created})
    if state is not None:
        runs.write_json_atomic(
            path / runs.STATUS, {"state": state, "pid": None, "heartbeat": time.time()}
        )
    return path
