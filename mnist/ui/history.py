"""The Training page's run history: every run in the runs folder, compared, used or deleted."""

from __future__ import annotations

import functools
from dataclasses import asdict

import pandas as pd
import streamlit as st

from mnist import access, runs
from mnist.charts import runs_overlay_chart
from mnist.i18n import _, ngettext, pgettext
from mnist.ui import people
from mnist.ui.state import (
    SELECTED_RUN,
    origin_label,
    request_page_rerun,
    rerun_page_if_requested,
    select_run,
)
from mnist.ui.train_panel import WATCHED, schedule_label
from mnist.ui.widgets import keyed_to, show_error

HISTORY = "train.history"
HISTORY_ERROR = "train.history_error"  # why the last Delete or Pin did not happen (shown once)
# While a run is live the history (states, accuracies) refreshes every 6 s: the panel above
# shows the live run itself, and each refresh costs CPU that training lacks (figure 2).
REFRESH_SECONDS = 6.0
# The table's columns by their keys (runs.history_row's); headers and help are shown
# translated (``_headers``, ``_columns``).
COLUMNS = {
    "run": st.column_config.TextColumn(width="medium"),
    "status": st.column_config.TextColumn(width="small"),
    "by": st.column_config.TextColumn(width="small"),
    "pinned": st.column_config.CheckboxColumn(width="small"),
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


def _headers() -> dict[str, str]:
    """Each column's header in the session's language, by its key."""
    return {
        "run": pgettext("run history column", "run"),
        "status": pgettext("run history column", "status"),
        "by": pgettext("run history column", "by"),
        "pinned": pgettext("run history column", "pinned"),
        "preset": pgettext("run history column", "preset"),
        "test accuracy": pgettext("run history column", "test accuracy"),
        "epochs": pgettext("run history column", "epochs"),
        "optimizer": pgettext("run history column", "optimizer"),
        "learning rate": pgettext("run history column", "learning rate"),
        "schedule": pgettext("run history column", "schedule"),
        "batch size": pgettext("run history column", "batch size"),
        "train images": pgettext("run history column", "train images"),
        "validation": pgettext("run history column", "validation"),
        "augment": pgettext("run history column", "augment"),
        "seed": pgettext("run history column", "seed"),
        "seconds": pgettext("run history column", "seconds"),
    }


def _columns(headers: dict[str, str]) -> dict:
    """``COLUMNS`` keyed by the headers shown, with their help in the session's language."""
    helps = {
        "by": _("who started the run"),
        "pinned": _("kept however old, whatever the server's retention"),
    }
    columns = {}
    for key, column in COLUMNS.items():
        column = dict(column)
        if key in helps:
            column["help"] = helps[key]
        columns[headers[key]] = column
    return columns


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
        st.toast(_("Deleted {runs}.").format(runs=", ".join(deleted)), icon=":material/delete:")
    if in_use in deleted:
        st.toast(_("Evaluate and Sketch now use the bundled model."), icon=":material/info:")
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
        _("Use for Evaluate and Sketch"),
        icon=":material/check:",
        disabled=one is None or no_model,
        on_click=select_run,
        args=(one.run_id if one else None,),
        help=_("Run {run_id} has no model: it never finished training.").format(run_id=one.run_id)
        if no_model
        else (_("Select one run.") if one is None else None),
    )
    b.button(
        _("Watch this run"),
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
        d.caption(
            why
            if len(chosen) == 1
            else _("Run {run_id}: {reason}").format(run_id=others[0].run_id, reason=why)
        )
        return
    pinned = all(runs.is_pinned(r) for r in chosen)
    e.button(
        _("Unpin") if pinned else _("Pin"),
        icon=":material/keep_off:" if pinned else ":material/keep:",
        on_click=_pin,
        args=([r.run_id for r in chosen], not pinned),
        help=_("A pinned run is kept however old, whatever the server's retention."),
    )
    label = ngettext("Delete {n} run", "Delete {n} runs", len(chosen)).format(n=len(chosen))
    if any(r.is_live for r in chosen):
        d.button(label, icon=":material/delete:", disabled=True, help=_("Stop a live run first."))
        return
    with d.popover(label, icon=":material/delete:"):
        names = ", ".join(r.run_id for r in chosen)
        st.markdown(
            _("Delete {names}: its folder, model and charts? This cannot be undone.").format(
                names=names
            )
        )
        st.button(
            _("Delete for good"),
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
    archive, _card = export.export_archive(
        run.model_path, fmt, export.model_card(run.model_path, run)
    )
    return archive


def _exports(run: runs.Run) -> None:
    with st.popover(_("Export the model"), icon=":material/ios_share:"):
        st.caption(
            _(
                "Each export is loaded in its own runtime and checked against Keras on 1,000 "
                "test images before you get it (a few seconds), with a model card."
            )
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
    with st.expander(_("Import a model (.keras)"), icon=":material/upload_file:"):
        st.file_uploader(
            _("A Keras 3 model that takes 28×28×1 images and gives 10 probabilities"),
            type=["keras"],
            key=IMPORT,
            max_upload_size=200,  # MB: mnist.export.MAX_IMPORT_BYTES (without loading TensorFlow)
        )
        upload = st.session_state.get(IMPORT)
        person = people.current_person()
        if st.button(
            _("Import"),
            icon=":material/upload:",
            disabled=upload is None or not person.signed_in,
            help=people.start_note(),
            key="train.import_button",
        ):
            from mnist import export

            try:
                with st.spinner(_("Loading the model safely, checking it, scoring it…")):
                    path = export.import_model(upload.getvalue(), name=upload.name, owner=person.id)
            except (OSError, export.ExportError) as exc:
                show_error(_("This model cannot be imported: {error}").format(error=exc))
            else:
                st.session_state[WATCHED] = path.name
                st.toast(
                    _("Imported {name} as run {run_id}.").format(
                        name=upload.name, run_id=path.name
                    ),
                    icon=":material/upload:",
                )
                st.rerun()  # the panel and the history above show the new run
        st.caption(
            _(
                "Loaded in Keras's safe mode (no code from the file runs), scored on the 10,000 "
                "test images, then listed above like a trained run."
            )
        )


def _overlay(chosen: list[runs.Run]) -> None:
    curves = []
    for run in chosen:
        tail = runs.MetricsTail(run.path)
        tail.poll()
        curves += [{**asdict(e), "run": run.run_id} for e in tail.epochs if e.complete]
    if curves:
        st.markdown(_("**Validation accuracy per epoch** of the selected runs"))
        st.altair_chart(runs_overlay_chart(pd.DataFrame(curves)), width="stretch")


def _history() -> None:
    all_runs, problems = runs.list_runs()
    for problem in problems:
        st.warning(
            _("Skipped an unreadable run folder: {problem}").format(problem=problem),
            icon=":material/warning:",
        )
    if not all_runs:
        st.caption(_("Finished runs appear here with their test accuracy."))
        return
    table = pd.DataFrame([runs.history_row(r) for r in all_runs])
    if people.mode() == "local" and table["by"].nunique() == 1:  # one's own machine
        table = table.drop(columns="by")
    table[NUMBERS] = table[NUMBERS].astype(float)
    table["test accuracy"] *= 100  # shown as 91.61%
    # The words of the cells and the headers in the session's language (the keys stay English)
    table["status"] = [runs.state_label(r.state) for r in all_runs]
    table["preset"] = [origin_label(r.config) for r in all_runs]
    table["schedule"] = [schedule_label(s) if s else s for s in table["schedule"]]
    headers = _headers()
    event = st.dataframe(
        table.rename(columns=headers),
        hide_index=True,
        width="stretch",
        key=table_key([r.run_id for r in all_runs]),
        on_select="rerun",
        selection_mode="multi-row",
        column_config=_columns(headers),
    )
    rows = (event or {}).get("selection", {}).get("rows", [])
    chosen = [all_runs[i] for i in rows if i < len(all_runs)]
    selected = st.session_state.get(SELECTED_RUN)
    st.caption(
        _(
            "Evaluate and Sketch use **run {run_id}**. Select rows to compare, use or delete runs."
        ).format(run_id=selected)
        if selected
        else _(
            "Evaluate and Sketch use **the bundled default model**. Select rows to compare, use "
            "or delete runs."
        )
    )
    if chosen:
        _actions(chosen)
        error = st.session_state.pop(HISTORY_ERROR, None)
        if error:
            show_error(error)
        _overlay(chosen)
    rerun_page_if_requested()


def run_history(any_live: bool) -> None:
    """The table of runs, re-read from disk (every few seconds while a run is live)."""
    st.subheader(_("Run history"))
    st.fragment(run_every=REFRESH_SECONDS if any_live else None)(_history)()
    import_box()
