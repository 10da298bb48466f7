"""The Training page's run history: every run in the runs folder, compared, used or deleted."""

from __future__ import annotations

import functools
from dataclasses import asdict

import pandas as pd
import streamlit as st

from mnist import access, runs
from mnist.charts import runs_overlay_chart
from mnist.ui import people
from mnist.ui.state import (
    SELECTED_RUN,
    request_page_rerun,
    rerun_page_if_requested,
    select_run,
)
from mnist.ui.train_panel import WATCHED
from mnist.ui.widgets import keyed_to, show_error

HISTORY = "train.history"
HISTORY_ERROR = "train.history_error"  # why the last Delete or Pin did not happen (shown once)
# While a run is live the history (states, accuracies) refreshes every 6 s: the panel above
# shows the live run itself, and each refresh costs CPU that training lacks (figure 2).
REFRESH_SECONDS = 6.0
COLUMNS = {
    "run": st.column_config.TextColumn(width="medium"),
    "status": st.column_config.TextColumn(width="small"),
    "by": st.column_config.TextColumn(width="small", help="who started the run"),
    "pinned": st.column_config.CheckboxColumn(
        width="small", help="kept however old, whatever the server's retention"
    ),
    "preset": st.column_config.TextColumn(width="small"),
    "test accuracy": st.column_config.NumberColumn(format="%.2f%%"),
    "epochs": st.column_config.TextColumn(width="small"),
    "optimizer": st.column_config.TextColumn(width="small"),
    "learning rate": st.column_config.NumberColumn(format="%.3g"),
    "schedule": st.column_config.TextColumn(width="small"),
    "batch size": st.column_config.NumberColumn(width="small"),
    "train images": st.column_config.NumberColumn(format="localized"),
    "validation": st.column_config.NumberColumn(format="localized", width="small"),
    "augment": st.column_config.CheckboxColumn(width="small"),
    "seed": st.column_config.NumberColumn(width="small"),
    "seconds": st.column_config.NumberColumn(format="%.1f", width="small"),
}
NUMBERS = ["test accuracy", "learning rate", "seconds"]  # blank cells, not "None", when unknown


def table_key(run_ids: list[str]) -> str:
    """The table's widget key, new whenever its rows change (a run added or deleted): a
    selection is kept by row number, so it must not outlive the rows it was made on."""
    return keyed_to(HISTORY, run_ids)


def _watch(run_id: str) -> None:
    st.session_state[WATCHED] = run_id
    request_page_rerun()


def _delete(run_ids: list[str]) -> None:
    deleted, in_use = [], st.session_state.get(SELECTED_RUN)
    person = people.current_person()
    for run_id in run_ids:
        try:
            runs.delete_run(runs.find_run(run_id).path, person)
        except (runs.RunError, access.NotAllowed) as exc:
            st.session_state[HISTORY_ERROR] = str(exc)
            continue
        deleted.append(run_id)
        if st.session_state.get(SELECTED_RUN) == run_id:
            select_run(None)
    if deleted:
        st.toast(f"Deleted {', '.join(deleted)}.", icon=":material/delete:")
    if in_use in deleted:
        st.toast("Evaluate and Sketch now use the bundled model.", icon=":material/info:")
    request_page_rerun()


def _pin(run_ids: list[str], pinned: bool) -> None:
    person = people.current_person()
    for run_id in run_ids:
        try:
            runs.set_pinned(runs.find_run(run_id).path, pinned, person)
        except (runs.RunError, access.NotAllowed) as exc:
            st.session_state[HISTORY_ERROR] = str(exc)
    request_page_rerun()


def _actions(chosen: list[runs.Run]) -> None:
    a, b, c, d, e = st.columns(5)
    one = chosen[0] if len(chosen) == 1 else None
    no_model = one is not None and one.model_path is None
    a.button(
        "Use for Evaluate and Sketch",
        icon=":material/check:",
        disabled=one is None or no_model,
        on_click=select_run,
        args=(one.run_id if one else None,),
        help=f"Run {one.run_id} has no model: it never finished training."
        if no_model
        else ("Select one run." if one is None else None),
    )
    b.button(
        "Watch this run",
        icon=":material/visibility:",
        disabled=one is None,
        on_click=_watch,
        args=(one.run_id if one else None,),
    )
    if one is not None and not no_model:
        with c:
            _exports(one)
    others = [r for r in chosen if not people.may_change(r.config.owner)]
    if others:  # no Pin or Delete: the rows are not all this person's
        why = people.why_not(others[0].config.owner)
        d.caption(why if len(chosen) == 1 else f"Run {others[0].run_id}: {why}")
        return
    pinned = all(runs.is_pinned(r) for r in chosen)
    e.button(
        "Unpin" if pinned else "Pin",
        icon=":material/keep_off:" if pinned else ":material/keep:",
        on_click=_pin,
        args=([r.run_id for r in chosen], not pinned),
        help="A pinned run is kept however old, whatever the server's retention.",
    )
    label = f"Delete {len(chosen)} run{'s' * (len(chosen) > 1)}"
    if any(r.is_live for r in chosen):
        d.button(label, icon=":material/delete:", disabled=True, help="Stop a live run first.")
        return
    with d.popover(label, icon=":material/delete:"):
        names = ", ".join(r.run_id for r in chosen)
        st.markdown(f"Delete {names}: its folder, model and charts? This cannot be undone.")
        st.button(
            "Delete for good",
            type="primary",
            icon=":material/delete_forever:",
            on_click=_delete,
            args=([r.run_id for r in chosen],),
        )


EXPORTS = {  # format → button label
    "keras": "Keras (.keras)",
    "saved_model": "TensorFlow SavedModel",
    "onnx": "ONNX (.onnx)",
    "litert": "LiteRT (.tflite)",
}


def _export_zip(run_dir: str, fmt: str) -> bytes:
    """The export and its model card, zipped; made when the button is pressed."""
    from mnist import export

    run = runs.load_run(run_dir)
    archive, _ = export.export_archive(run.model_path, fmt, export.model_card(run.model_path, run))
    return archive


def _exports(run: runs.Run) -> None:
    with st.popover("Export the model", icon=":material/ios_share:"):
        st.caption(
            "Each export is loaded in its own runtime and checked against Keras on 1,000 test "
            "images before you get it (a few seconds), with a model card."
        )
        for fmt, label in EXPORTS.items():
            st.download_button(
                label,
                data=functools.partial(_export_zip, str(run.path), fmt),
                file_name=f"run-{run.run_id}-{fmt}.zip",
                mime="application/zip",
                icon=":material/download:",
                on_click="ignore",
                key=f"train.export.{fmt}",
            )


IMPORT = "train.import"


def import_box() -> None:
    """Upload a .keras model: it becomes a run, usable by every page."""
    with st.expander("Import a model (.keras)", icon=":material/upload_file:"):
        st.file_uploader(
            "A Keras 3 model that takes 28×28×1 images and gives 10 probabilities",
            type=["keras"],
            key=IMPORT,
            max_upload_size=200,  # MB: mnist.export.MAX_IMPORT_BYTES (without loading TensorFlow)
        )
        upload = st.session_state.get(IMPORT)
        person = people.current_person()
        if st.button(
            "Import",
            icon=":material/upload:",
            disabled=upload is None or not person.signed_in,
            help=people.start_note(),
            key="train.import_button",
        ):
            from mnist import export

            try:
                with st.spinner("Loading the model safely, checking it, scoring it…"):
                    path = export.import_model(upload.getvalue(), name=upload.name, owner=person.id)
            except (OSError, export.ExportError) as exc:
                show_error(f"This model cannot be imported: {exc}")
            else:
                st.session_state[WATCHED] = path.name
                st.toast(f"Imported {upload.name} as run {path.name}.", icon=":material/upload:")
                st.rerun()  # the panel and the history above show the new run
        st.caption(
            "Loaded in Keras's safe mode (no code from the file runs), scored on the 10,000 "
            "test images, then listed above like a trained run."
        )


def _overlay(chosen: list[runs.Run]) -> None:
    curves = []
    for run in chosen:
        tail = runs.MetricsTail(run.path)
        tail.poll()
        curves += [{**asdict(e), "run": run.run_id} for e in tail.epochs if e.complete]
    if curves:
        st.markdown("**Validation accuracy per epoch** of the selected runs")
        st.altair_chart(runs_overlay_chart(pd.DataFrame(curves)), width="stretch")


def _history() -> None:
    all_runs, problems = runs.list_runs()
    for problem in problems:
        st.warning(f"Skipped an unreadable run folder: {problem}", icon=":material/warning:")
    if not all_runs:
        st.caption("Finished runs appear here with their test accuracy.")
        return
    table = pd.DataFrame([runs.history_row(r) for r in all_runs])
    if people.mode() == "local" and table["by"].nunique() == 1:  # one's own machine
        table = table.drop(columns="by")
    table[NUMBERS] = table[NUMBERS].astype(float)
    table["test accuracy"] *= 100  # shown as 91.61%
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key=table_key([r.run_id for r in all_runs]),
        on_select="rerun",
        selection_mode="multi-row",
        column_config=COLUMNS,
    )
    rows = (event or {}).get("selection", {}).get("rows", [])
    chosen = [all_runs[i] for i in rows if i < len(all_runs)]
    selected = st.session_state.get(SELECTED_RUN)
    in_use = f"run {selected}" if selected else "the bundled default model"
    st.caption(f"Evaluate and Sketch use **{in_use}**. Select rows to compare, use or delete runs.")
    if chosen:
        _actions(chosen)
        error = st.session_state.pop(HISTORY_ERROR, None)
        if error:
            show_error(error)
        _overlay(chosen)
    rerun_page_if_requested()


def run_history(any_live: bool) -> None:
    """The table of runs, re-read from disk (every few seconds while a run is live)."""
    st.subheader("Run history")
    st.fragment(run_every=REFRESH_SECONDS if any_live else None)(_history)()
    import_box()
