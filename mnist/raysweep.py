"""A sweep's driver: its trials on Ray Tune, each an ordinary run trained by the usual worker.

``run(sweep_dir)`` starts Ray (an embedded one sized to this machine, or the cluster the
sweep names), hands Ray Tune one trial per planned setting (``sweep.json``'s ``plan``) and
waits. Each trial, wherever Ray places it:

1. makes a run folder (``config.json`` names the sweep and the trial, and the node),
2. starts the worker process (``python -m mnist train --run-dir …``, the code every run uses)
   with the trial's CPU budget as its thread budget, tied to the trial's process,
3. follows the run's ``metrics.jsonl`` and reports each finished epoch to Tune
   (``val_accuracy``), so a scheduler such as ASHA can stop it early.

A stop — Tune's (ASHA), the sweep's ``STOP`` file, or Ray ending the trial's process — reaches
the worker as a stop request: it ends at its next batch, saves its model and reads
``stopped``. Training in the trial's own process would not survive that: Ray kills a stopped
trial's process moments after telling it (measured on Ray 2.60), leaving a run with no model.

Files: the driver writes ``state.json`` (one writer, ``runs.StatusWriter`` with a heartbeat);
the Tune loop's callback writes ``trials.json``; Ray Tune keeps its own experiment folder in
``tune/``. Only the driver imports Ray; the dashboard never does. What it writes is English
(no dashboard session here); the page translates the messages marked ``N_`` as it shows them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path

# Ray reads these when it loads: no usage reports (this machine is offline), no Tune SIGINT
# handler (ours turns Ctrl-C into a stop that keeps models), no progress tables.
for _name, _value in {
    "RAY_USAGE_STATS_ENABLED": "0",
    "TUNE_DISABLE_SIGINT_HANDLER": "1",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_DEDUP_LOGS": "0",
    "RAY_AIR_NEW_OUTPUT": "0",  # the older reporter, which _Silent replaces (the new one boxes)
}.items():
    os.environ.setdefault(_name, _value)

import ray  # noqa: E402
from ray import tune  # noqa: E402
from ray.tune.progress_reporter import TrialProgressCallback  # noqa: E402
from ray.tune.schedulers import ASHAScheduler  # noqa: E402
from ray.tune.stopper import Stopper  # noqa: E402

from mnist import hardware, runs, sweeps  # noqa: E402
from mnist.i18n import N_  # noqa: E402
from mnist.sweeps import SweepState  # noqa: E402

POLL_SECONDS = 0.25  # how often a trial reads its run's new metrics
STOP_GRACE_SECONDS = 120.0  # a stopped worker's time to finish its batch and save its model
OBJECT_STORE_BYTES = 256 * 1024**2  # an embedded Ray's shared memory: trials pass no data


# -- inside a trial (a Ray worker process, on any node) -------------------------------------
def trial(config: dict, *, sweep_dir: str, runs_dir: str, threads: int, max_runs: int) -> None:
    """Ray Tune's function trainable: one trial = one run folder, trained by a worker."""
    folder = Path(sweep_dir)
    if sweeps.stop_requested(folder):  # the sweep is stopping: start nothing new
        return
    spec = sweeps.SweepSpec.from_dict(runs.read_json(folder / sweeps.SPEC))
    index = int(config["trial"])
    values = spec.plan[index]
    model, train = sweeps.apply(spec.preset, values)
    link = {
        "id": folder.name,
        "trial": index,
        "values": values,
        "node": ray.get_runtime_context().get_node_id(),
        "host": socket.gethostname(),
    }
    run_dir = runs.create_run(
        model,
        train,
        spec.preset,
        runs_dir,
        command=f"sweep {folder.name}, trial {index + 1} of {spec.trials}",
        sweep=link,
        owner=spec.owner,  # a trial is its sweep's owner's run
    )
    runs.spawn(run_dir, max_runs, threads=threads, tied=True)
    tail = runs.MetricsTail(run_dir)
    reported, asked = 0, False
    try:
        while True:
            ended = not runs.read_status(run_dir).is_live
            tail.poll()
            for record in tail.epochs[reported:]:
                # The last epoch is reported once the worker has saved and scored the model:
                # Tune ends a trial's process when it hears its last result.
                if record.epoch == train.epochs and not ended:
                    break
                reported += 1
                if record.complete:  # an epoch cut short by a stop is no measurement
                    tune.report(_result(record, run_dir.name))  # SystemExit: Tune stops it
            if ended:
                return
            if not asked and sweeps.stop_requested(folder):
                asked = _stop(run_dir)
            time.sleep(POLL_SECONDS)
    finally:
        # Stopped by Tune (ASHA) or the sweep: the worker ends at its next batch and keeps its
        # model. Ray may end this process any moment now; the worker then stops by itself.
        _stop(run_dir)


def _result(record, run_id: str) -> dict:
    return {
        sweeps.METRIC: record.val_accuracy if record.val_accuracy is not None else 0.0,
        "val_loss": record.val_loss,
        "accuracy": record.accuracy,
        "epoch": record.epoch,
        "run_id": run_id,
    }


def _stop(run_dir: Path) -> bool:
    with contextlib.suppress(runs.RunError):
        runs.request_stop(run_dir)  # the STOP file (read at the next batch), and SIGTERM
    return True


# -- in the process running Tune's loop -----------------------------------------------------
class _Heard:
    """What Tune's loop has heard from each trial, written to ``trials.json`` (its one writer:
    this process's ``_Progress`` callback). The scheduler marks the trials it prunes here."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.trials: dict[str, dict] = {}
        self.live: set[str] = set()
        self.path: Path | None = None

    def update(self, trial, **fields) -> None:
        key = str(trial.config["trial"])
        with self.lock:
            entry = self.trials.setdefault(key, {})
            entry.update(fields)
            if self.path is not None:
                runs.write_json_atomic(self.path, {"format_version": 1, "trials": self.trials})


HEARD = _Heard()


class _Progress(tune.Callback):
    def __init__(self, sweep_dir: str) -> None:
        self.sweep_dir = sweep_dir

    def setup(self, **info) -> None:
        HEARD.path = Path(self.sweep_dir) / sweeps.TRIALS

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        HEARD.live.add(trial.trial_id)
        HEARD.update(trial, started=time.time())

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        value = float(result.get(sweeps.METRIC) or 0.0)
        best = max(
            value, HEARD.trials.get(str(trial.config["trial"]), {}).get("best_val_accuracy") or 0.0
        )
        HEARD.update(
            trial,
            epochs=int(result.get("epoch") or 0),
            val_accuracy=value,
            best_val_accuracy=best,
            run_id=result.get("run_id"),
        )

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        HEARD.live.discard(trial.trial_id)
        HEARD.update(trial, ended=time.time())

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        HEARD.live.discard(trial.trial_id)
        HEARD.update(trial, ended=time.time(), error=_error_line(trial))


class _Silent(TrialProgressCallback):
    """Tune's per-trial printout, silenced: the CLI and the page say what happened."""

    def _print(self, msg: str) -> None:
        pass


def _error_line(trial) -> str:
    """The last line of a failed trial's error (Ray keeps the traceback in its folder)."""
    text = str(getattr(trial, "error_msg", None) or "")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "the trial failed in Ray"


class _Pruning(ASHAScheduler):
    """ASHA that notes which trials it stops before their last epoch."""

    def on_trial_result(self, tune_controller, trial, result) -> str:
        decision = super().on_trial_result(tune_controller, trial, result)
        if decision == self.STOP and result.get("epoch", 0) < self._max_t:
            HEARD.update(trial, pruned=True, pruned_after=int(result.get("epoch") or 0))
        return decision


class _StopFile(Stopper):
    """Ends the experiment once the sweep's STOP file exists and no trial is live (each live
    trial stops its run and waits for the model to be saved)."""

    def __init__(self, sweep_dir: str) -> None:
        self.stop_file = str(Path(sweep_dir) / sweeps.STOP_FILE)

    def __call__(self, trial_id, result) -> bool:
        return False

    def stop_all(self) -> bool:
        return os.path.exists(self.stop_file) and not HEARD.live


# -- the driver -----------------------------------------------------------------------------
def _runtime_env(threads: int) -> dict:
    """What every Ray worker of the sweep gets: this package importable, TensorFlow's threads
    held to the trial's budget, quiet TensorFlow."""
    env = runs.package_env({})
    env.update({
        hardware.THREADS_ENV: str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
    })  # fmt: skip
    return {"env_vars": env}


def _loopback_only() -> None:
    """Make an embedded Ray listen on 127.0.0.1 only. By default every Ray server (GCS,
    raylet, workers) listens on all interfaces, and anyone who reaches one can run code
    here; Ray binds loopback when it thinks the machine cannot join a cluster, which this
    switch (read by Ray's processes, and by this one at call time) tells it. Measured here
    with ``ss -ltn``: all interfaces without it, 127.0.0.1 only with it."""
    from ray._private import ray_constants

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


def connect(address: str | None, threads: int) -> str:
    """Start an embedded Ray, or join the cluster at ``address``; how it is described.
    ``SweepError`` in one sentence when the cluster cannot be reached."""
    quiet = {
        "log_to_driver": False,
        "logging_level": logging.ERROR,
        "runtime_env": _runtime_env(threads),
    }
    if address is None:
        _loopback_only()
        ray.init(
            address="local",  # even when $RAY_ADDRESS is set: the sweep asked for none
            num_cpus=hardware.cpu_threads(),
            include_dashboard=False,
            object_store_memory=OBJECT_STORE_BYTES,
            **quiet,
        )
        return "embedded"
    sweeps.check_address(address)
    if address.rpartition(":")[0] in ("127.0.0.1", "localhost", "[::1]"):
        _loopback_only()  # a cluster on this machine: Ray would dial the external address
    try:
        ray.init(address=address, **quiet)
    except Exception as exc:  # Ray raises ConnectionError, ValueError, RuntimeError …
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise sweeps.SweepError(f"cannot reach the Ray cluster at {address}: {first}") from None
    return address


@ray.remote(num_cpus=0)
def _probe(path: str, token: str) -> str | None:
    """On one node: can it read the driver's token in the sweep folder and write there?"""
    folder = Path(path)
    try:
        if (folder / ".probe").read_text() != token:
            return f"{socket.gethostname()} sees another folder at {path}"
        mine = folder / f".probe-{ray.get_runtime_context().get_node_id()[:12]}"
        mine.write_text(token)
        mine.unlink()
    except OSError as exc:
        return f"{socket.gethostname()} cannot use {path} ({exc.strerror or exc})"
    return None


def check_storage(sweep_dir: Path) -> None:
    """Every node must see the runs folder at the same path (shared storage): a trial writes
    its run folder where it runs. ``SweepError`` naming the first node that cannot."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    token = os.urandom(8).hex()
    probe = sweep_dir / ".probe"
    probe.write_text(token)
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        answers = ray.get([
            _probe.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
            ).remote(str(sweep_dir), token)
            for n in nodes
        ])  # fmt: skip
    finally:
        probe.unlink(missing_ok=True)
    for answer in answers:
        if answer:
            raise sweeps.SweepError(
                f"{answer}: every node must see the runs folder at the same path "
                "(shared storage mounted alike)"
            )


def _tuner(sweep_dir: Path, spec: sweeps.SweepSpec, concurrency: int):
    trainable = tune.with_resources(
        tune.with_parameters(
            trial,
            sweep_dir=str(sweep_dir),
            runs_dir=str(sweep_dir.parent.parent),
            threads=spec.cpus_per_trial,
            max_runs=concurrency,
        ),
        {"cpu": spec.cpus_per_trial},
    )
    scheduler = None
    if spec.scheduler == "asha":
        scheduler = _Pruning(
            time_attr="training_iteration",  # one report per finished epoch
            max_t=spec.max_epochs,
            grace_period=1,
            reduction_factor=2,
        )
    return tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(list(range(spec.trials)))},
        tune_config=tune.TuneConfig(
            metric=sweeps.METRIC,
            mode="max",
            scheduler=scheduler,
            max_concurrent_trials=concurrency,
            reuse_actors=False,
        ),
        run_config=tune.RunConfig(
            name=sweeps.TUNE,
            storage_path=str(sweep_dir),
            verbose=0,
            stop=_StopFile(str(sweep_dir)),
            callbacks=[_Progress(str(sweep_dir)), _Silent()],
            log_to_file=True,
        ),
    )


def _wait_for_trials(sweep_dir: Path) -> None:
    """Until no run of the sweep is live: a trial's worker saves and scores its model after
    Tune has heard its last epoch (bounded: a worker that hangs reads failed in time)."""
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline:
        sweep = sweeps.load_sweep(sweep_dir)
        if not any(t.run is not None and t.run.is_live for t in sweep.trials):
            return
        time.sleep(POLL_SECONDS)


def run(sweep_dir: str | os.PathLike) -> SweepState:
    """Run a sweep folder made by ``sweeps.create_sweep`` to its end; its final state.
    Never raises for a failed sweep: the failure is recorded in ``state.json``."""
    sweep_dir = Path(sweep_dir).resolve()
    spec = sweeps.SweepSpec.from_dict(runs.read_json(sweep_dir / sweeps.SPEC))
    writer = runs.StatusWriter(
        sweep_dir,
        SweepState(state=sweeps.RUNNING, pid=os.getpid(), message=N_("starting Ray"),
                   started=time.time()),
        name=sweeps.STATE,
    )  # fmt: skip
    writer.start()

    def stop(signum, frame) -> None:  # Ctrl-C, SIGTERM: stop the sweep, keep the models
        (sweep_dir / sweeps.STOP_FILE).touch()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    started_ray = False
    try:
        if sweeps.stop_requested(sweep_dir):  # stopped before it began: nothing to start
            writer.update(force=True, state=sweeps.STOPPED, finished=time.time(),
                          message=N_("stopped before any trial started"))  # fmt: skip
            return writer.status
        where = connect(spec.address, spec.cpus_per_trial)
        started_ray = True
        for sig in previous:  # ray.init installs its own, which ends this process at once
            signal.signal(sig, stop)
        alive = [n for n in ray.nodes() if n.get("Alive")]
        cpus = float(ray.cluster_resources().get("CPU", 0))
        concurrency = max(1, int(cpus // spec.cpus_per_trial))
        if spec.address is not None:
            writer.update(force=True, message=N_("checking every node sees the runs folder"))
            check_storage(sweep_dir)
        writer.update(force=True, message=N_("running trials"), address=where, nodes=len(alive),
                      cpus=cpus, concurrency=concurrency)  # fmt: skip
        if not sweeps.stop_requested(sweep_dir):
            _tuner(sweep_dir, spec, concurrency).fit()
        writer.update(force=True, message=N_("waiting for the last models to be saved"))
        _wait_for_trials(sweep_dir)
        final = sweeps.STOPPED if sweeps.stop_requested(sweep_dir) else sweeps.DONE
        writer.update(force=True, state=final, finished=time.time(), message=None)
    except sweeps.SweepError as exc:
        writer.update(force=True, state=sweeps.FAILED, finished=time.time(), error=str(exc))
    except Exception as exc:  # the driver's last word: record why, never leave a live state
        traceback.print_exc(file=sys.stderr)
        writer.update(force=True, state=sweeps.FAILED, finished=time.time(),
                      error=f"{type(exc).__name__}: {exc}")  # fmt: skip
    finally:
        if started_ray:
            with contextlib.suppress(Exception):
                ray.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        writer.close()
    return writer.status
