"""Training: hyper-parameters, Start/Stop, live charts of the run on disk, run history."""

import pandas as pd
import streamlit as st

from mnist import runs
from mnist.charts import live_batch_chart, live_epoch_chart, metrics_frames, runs_overlay_chart
from mnist.config import OPTIMIZERS, REFERENCES, TrainConfig
from mnist.ui import (
    get_model_config,
    get_train_config,
    page_header,
    require_router,
    select_run,
    set_train_config,
    show_error,
)
from mnist.ui.state import SELECTED_RUN

require_router("pages/train.py")

W = "train.w."  # prefix of the settings widgets' keys
WATCHED = "train.run"  # the run this session watches
TAIL = "train.tail"  # its MetricsTail
# While a run is live: its charts every 3 s, the history (states, accuracies) every 6 s. Each
# refresh costs the server and the browser CPU that training on the same cores then lacks.
# Server + Chromium while watching, charts / history refresh: 1 s / 1 s 0.43 cores, 2 s / 6 s
# 0.24, 3 s / 6 s 0.16; training then ran at 0.87 of its unwatched speed at 2 s, 0.89–0.95
# at 3 s (benchmarks/RESULTS.md, figure 2).
REFRESH_SECONDS = 3.0
HISTORY_REFRESH_SECONDS = 6.0
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
MODEL_RATE = "model"  # the slider's first stop: keep the model config's learning rate
BATCH_SIZES = [16, 32, 64, 128, 256, 512, 1024]
MAX_VALIDATION = 10_000

page_header(
    "Training",
    "Each run trains in its own process and writes its progress to disk: "
    "switch pages, reload or open a second tab — the run goes on.",
)
st.session_state.setdefault("train.error", None)
st.session_state.setdefault(WATCHED, None)
model_config, preset = get_model_config()
train_config = get_train_config()


def apply_settings() -> None:
    s = st.session_state
    validation = s[W + "validation"]
    train_size = s[W + "train_size"]
    try:
        config = TrainConfig(
            epochs=s[W + "epochs"],
            batch_size=s[W + "batch"],
            learning_rate=None if s[W + "lr"] == MODEL_RATE else s[W + "lr"],
            optimizer=s[W + "optimizer"],
            train_size=None if train_size >= 60_000 - validation else train_size,
            validation_size=validation,
            seed=int(s[W + "seed"]),
            augment=s[W + "augment"],
            early_stopping=s[W + "patience"],
        )
    except ValueError as exc:
        s["train.error"] = str(exc)
        return
    s["train.error"] = None
    set_train_config(config)


def start() -> None:
    try:
        path = runs.start_run(model_config, get_train_config(), preset)
    except (OSError, runs.RunError, ValueError) as exc:
        st.session_state["train.error"] = f"Could not start the run: {exc}"
        return
    st.session_state[WATCHED] = path.name
    st.session_state.pop(TAIL, None)


def stop(run_id: str) -> None:
    try:
        runs.request_stop(runs.find_run(run_id).path)
    except runs.RunError as exc:
        st.session_state["train.error"] = str(exc)


with st.expander("Hyper-parameters", expanded=True, icon=":material/tune:"):
    st.caption(
        f"Model: **{preset or 'custom'}** (set on the Model page) · optimizer "
        f"{model_config.optimizer}, learning rate {model_config.learning_rate:g}, "
        f"{model_config.lr_schedule} schedule unless overridden here."
    )
    c1, c2, c3 = st.columns(3)
    c1.slider("Epochs", 1, 50, train_config.epochs, key=W + "epochs", on_change=apply_settings)
    c2.select_slider(
        "Batch size",
        sorted({*BATCH_SIZES, train_config.batch_size}),
        train_config.batch_size,
        key=W + "batch",
        on_change=apply_settings,
    )
    rates = [MODEL_RATE, *sorted({*LEARNING_RATES, train_config.learning_rate or 1e-3})]
    c3.select_slider(
        "Learning rate (log scale)",
        rates,
        train_config.learning_rate or MODEL_RATE,
        key=W + "lr",
        on_change=apply_settings,
        format_func=lambda r: (
            f"model's ({model_config.learning_rate:g})" if r == MODEL_RATE else f"{r:g}"
        ),
    )
    c1.selectbox(
        "Optimizer",
        [None, *OPTIMIZERS],
        [None, *OPTIMIZERS].index(train_config.optimizer),
        key=W + "optimizer",
        on_change=apply_settings,
        format_func=lambda o: f"model's ({model_config.optimizer})" if o is None else o,
    )
    all_train = 60_000 - train_config.validation_size
    c2.slider(
        "Training images",
        500,
        all_train,
        train_config.train_size or all_train,
        500,
        key=W + "train_size",
        on_change=apply_settings,
        help="A stratified subset of the training images; the maximum uses them all.",
    )
    c3.slider(
        "Validation images",
        0,
        MAX_VALIDATION,
        train_config.validation_size,
        500,
        key=W + "validation",
        on_change=apply_settings,
        help="Held out of the 60,000 training images for val_loss / val_accuracy.",
    )
    c1.number_input(
        "Seed", 0, 2**31 - 1, train_config.seed, key=W + "seed", on_change=apply_settings
    )
    c2.number_input(
        "Early stopping patience (epochs, 0 = off)",
        0,
        20,
        train_config.early_stopping,
        key=W + "patience",
        on_change=apply_settings,
    )
    c3.toggle(
        "Augmentation (rotate, shift, zoom)",
        train_config.augment,
        key=W + "augment",
        on_change=apply_settings,
    )

if st.session_state["train.error"]:
    show_error(st.session_state["train.error"])

all_runs, problems = runs.list_runs()
by_id = {r.run_id: r for r in all_runs}
watched = st.session_state[WATCHED]
if watched not in by_id:  # a new session, or a deleted run: re-attach from disk
    live = [r for r in all_runs if r.is_live]
    watched = (live[0] if live else all_runs[0]).run_id if all_runs else None
    st.session_state[WATCHED] = watched

left, right, _ = st.columns([1, 1, 3])
left.button(
    "Start training",
    type="primary",
    icon=":material/play_arrow:",
    on_click=start,
    width="stretch",
)

watched_run = by_id.get(watched)
if watched_run and watched_run.is_live:
    right.button("Stop", icon=":material/stop:", on_click=stop, args=(watched,), width="stretch")


def show_run(run_id: str) -> None:
    """Status, progress and charts of one run, read from its folder."""
    try:
        run = runs.find_run(run_id)
    except runs.RunError as exc:
        show_error(exc)
        return
    tail = st.session_state.get(TAIL)
    if tail is None or tail.run_dir != run.path:
        tail = st.session_state[TAIL] = runs.MetricsTail(run.path)
    tail.poll()
    fraction, text = runs.progress(run.status)
    label = {
        "queued": ":material/hourglass_top:",
        "running": ":material/sync:",
        "stopping": ":material/pause:",
        "done": ":material/check_circle:",
        "stopped": ":material/stop_circle:",
        "failed": ":material/error:",
    }
    st.markdown(f"#### {label.get(run.state, '')} Run {run.run_id} — {run.state}")
    st.progress(fraction, text=text)
    if run.state == runs.FAILED:
        show_error(f"The run failed: {run.status.get('error')}")
    elif run.state in (runs.DONE, runs.STOPPED) and run.status.get("test_accuracy") is not None:
        st.success(
            f"Test accuracy on the 10,000 test images: **{run.status['test_accuracy']:.2%}**",
            icon=":material/verified:",
        )
    batches, epochs = metrics_frames(tail.batches, tail.epochs)
    if batches.empty:
        st.info("The charts appear with the first batch.")
    else:
        a, b = st.columns(2)
        a.markdown("**Per batch** (onBatchEnd)")
        a.vega_lite_chart(spec=live_batch_chart(batches, "loss"), width="stretch")
        b.markdown("&nbsp;")
        b.vega_lite_chart(spec=live_batch_chart(batches, "accuracy"), width="stretch")
    if not epochs.empty:
        a, b = st.columns(2)
        a.markdown("**Per epoch** (onEpochEnd)")
        a.vega_lite_chart(spec=live_epoch_chart(epochs, "loss"), width="stretch")
        b.markdown("&nbsp;")
        refs = [(label, value) for label, value, _ in REFERENCES]
        b.vega_lite_chart(spec=live_epoch_chart(epochs, "accuracy", refs), width="stretch")
        b.caption(" · ".join(f"{label}: {source}" for label, _, source in REFERENCES))
    if st.session_state.get("train.was_live") and not run.is_live:
        st.session_state["train.was_live"] = False
        st.rerun()  # the run just ended: refresh the history and stop polling
    st.session_state["train.was_live"] = run.is_live


if watched_run is None:
    st.info("No runs yet: press **Start training** to train the model from the Model page.")
else:
    live_every = REFRESH_SECONDS if watched_run.is_live else None
    st.session_state["train.was_live"] = watched_run.is_live
    st.fragment(run_every=live_every)(show_run)(watched)

st.subheader("Run history")


def delete_runs(run_ids: list[str]) -> None:
    for run_id in run_ids:
        try:
            runs.delete_run(runs.find_run(run_id).path)
        except runs.RunError as exc:
            st.session_state["train.error"] = str(exc)
            continue
        if st.session_state[SELECTED_RUN] == run_id:
            select_run(None)


def show_history() -> None:
    """The table of runs, re-read from disk (live while a run trains)."""
    all_runs, problems = runs.list_runs()
    for problem in problems:
        st.warning(f"Skipped an unreadable run folder: {problem}", icon=":material/warning:")
    if all_runs:
        table = [runs.history_row(r) for r in all_runs]
        event = st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            key="train.history",
            on_select="rerun",
            selection_mode="multi-row",
            column_config={
                "test accuracy": st.column_config.NumberColumn(format="percent"),
                "seconds": st.column_config.NumberColumn(format="%.1f"),
            },
        )
        chosen = [all_runs[i] for i in (event or {}).get("selection", {}).get("rows", [])]
        selected = st.session_state[SELECTED_RUN]
        in_use = f"run {selected}" if selected else "the bundled default model"
        st.caption(
            f"Evaluate and Sketch use **{in_use}**. Select rows to compare, use or delete runs."
        )
        if chosen:
            a, b, c = st.columns(3)
            one = chosen[0] if len(chosen) == 1 else None
            a.button(
                "Use for Evaluate and Sketch",
                icon=":material/check:",
                disabled=one is None or one.model_path is None,
                on_click=select_run,
                args=(one.run_id if one else None,),
            )
            # These two change what the whole page shows: rerun all of it, not the fragment.
            if b.button("Watch this run", icon=":material/visibility:", disabled=one is None):
                st.session_state[WATCHED] = one.run_id
                st.rerun()
            if c.button(
                f"Delete {len(chosen)} run{'s' * (len(chosen) > 1)}",
                icon=":material/delete:",
                disabled=any(r.is_live for r in chosen),
                help="Stop a live run before deleting it.",
            ):
                delete_runs([r.run_id for r in chosen])
                st.rerun()
            curves = []
            for run in chosen:
                tail = runs.MetricsTail(run.path)
                tail.poll()
                curves += [{**e, "run": run.run_id} for e in tail.epochs]
            if curves:
                st.altair_chart(runs_overlay_chart(pd.DataFrame(curves)), width="stretch")
    else:
        st.caption("Finished runs appear here with their test accuracy.")


any_live = any(r.is_live for r in all_runs)
st.fragment(run_every=HISTORY_REFRESH_SECONDS if any_live else None)(show_history)()
