"""The Sweep page's parts: the space built with widgets, Start/Stop, the live trials table,
settings against accuracy, and "use the best trial"."""

from __future__ import annotations

import dataclasses
import os
import shlex

import pandas as pd
import streamlit as st

from mnist import access, i18n, runs, sweeps
from mnist.charts import sweep_chart
from mnist.config import OPTIMIZERS, PRESETS, SCHEDULES
from mnist.hardware import cpu_threads
from mnist.i18n import _, pgettext
from mnist.records import state_label
from mnist.sweeps import SEARCHABLE, Param
from mnist.ui import people
from mnist.ui.drafts import Draft
from mnist.ui.state import request_page_rerun, rerun_page_if_requested, select_run
from mnist.ui.train_panel import schedule_label
from mnist.ui.widgets import in_this_language, show_error

PREFIX = "sweep."
SHOWN = PREFIX + "shown"  # the sweep this session looks at (non-widget key: kept across pages)
ERROR = PREFIX + "error"  # (where, message) of the last failed action
START_TOKEN = PREFIX + "start_token"  # one sweep per click, however many reruns
REFRESH_SECONDS = 2.0  # while a sweep is live: its table and chart re-read its folder

LR_STEPS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
# How each searchable field is asked for: ("log", steps, default), ("range", lo, hi, step,
# default) or ("choice", options, default).
FIELD_WIDGETS: dict[str, tuple] = {
    "learning_rate": ("log", LR_STEPS, (1e-4, 1e-2)),
    "batch_size": ("choice", (16, 32, 64, 128, 256, 512), (64, 128, 256)),
    "optimizer": ("choice", OPTIMIZERS, ("adam", "sgd")),
    "lr_schedule": ("choice", SCHEDULES, SCHEDULES),
    "epochs": ("range", 1, 30, 1, (1, 4)),
    "train_size": ("choice", (1000, 2000, 5000, 10000, 20000, 55000), (5000, 20000)),
    "augment": ("choice", (False, True), (False, True)),
    "seed": ("range", 0, 99, 1, (0, 9)),
    "filters": ("choice", (4, 8, 16, 32, 64), (8, 16, 32)),
    "dense_units": ("choice", (32, 64, 128, 256), (64, 128)),
    "dropout": ("range", 0.0, 0.9, 0.05, (0.0, 0.5)),
    "block_dropout": ("range", 0.0, 0.9, 0.05, (0.0, 0.3)),
}
DEFAULT_FIELDS = ["learning_rate", "batch_size"]


def _fail(where: str, message: object) -> None:
    st.session_state[ERROR] = (where, str(message))


def _show_error(where: str) -> None:
    error = st.session_state.get(ERROR)
    if error and error[0] == where:
        show_error(error[1])


def _address() -> str | None:
    return os.environ.get(sweeps.ADDRESS_ENV) or None


# -- the space ------------------------------------------------------------------------------
def _initial() -> dict:
    values = {
        "preset": "fast",
        "fields": list(DEFAULT_FIELDS),
        "trials": 8,
        "asha": True,
        "cpus": 1,
        "seed": 0,
    }
    for name, (kind, *spec) in FIELD_WIDGETS.items():
        values[f"range.{name}"] = tuple(spec[-1]) if kind != "choice" else list(spec[-1])
    return values


def _draft() -> Draft:
    """The form's values, kept across reruns and page switches (``mnist.ui.drafts``)."""
    return Draft(PREFIX + "space", _initial)


def _shown(value) -> str:
    if isinstance(value, bool):  # as the CLI writes it (augment=choice:false,true)
        return pgettext("a switch", "true") if value else pgettext("a switch", "false")
    if isinstance(value, str):  # a learning-rate schedule; other names stay as they are
        return schedule_label(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _setting(name: str) -> str:
    """A searchable field as a person reads it: its name (the config's, the CLI's), and in
    other languages what it is, glossed with the name."""
    settings = {
        "learning_rate": pgettext("sweep setting", "learning_rate"),
        "batch_size": pgettext("sweep setting", "batch_size"),
        "optimizer": pgettext("sweep setting", "optimizer"),
        "lr_schedule": pgettext("sweep setting", "lr_schedule"),
        "epochs": pgettext("sweep setting", "epochs"),
        "train_size": pgettext("sweep setting", "train_size"),
        "augment": pgettext("sweep setting", "augment"),
        "seed": pgettext("sweep setting", "seed"),
        "filters": pgettext("sweep setting", "filters"),
        "dense_units": pgettext("sweep setting", "dense_units"),
        "dropout": pgettext("sweep setting", "dropout"),
        "block_dropout": pgettext("sweep setting", "block_dropout"),
    }
    return settings.get(name, name)


def _trial_state(state: str) -> str:
    """A trial's state in the session's language (the records keep the English)."""
    if state in (sweeps.PENDING, sweeps.SKIPPED, sweeps.PRUNED):
        return _(state)
    return state_label(state)


def _describe(values: dict) -> str:
    """A trial's settings in one line (``sweeps.describe_values``, as the page words it)."""
    return ", ".join(
        f"{_setting(name)} {f'{value:.3g}' if isinstance(value, float) else _shown(value)}"
        for name, value in values.items()
    )


def _field_widget(draft: Draft, name: str) -> None:
    """The range widget of one searched field, labelled in words."""
    kind, *spec = FIELD_WIDGETS[name]
    label = f"{_setting(name)} — {sweeps.field_words(name)}"
    field = f"range.{name}"
    if kind == "choice":
        options, _default = spec
        st.multiselect(
            label,
            options,
            format_func=in_this_language(_shown),
            placeholder=_("Choose values"),
            **draft.bind(field),
            help=_("Each trial picks one of these at random."),
        )
        return
    # A range slider takes its range from ``value=``; given only through the session state,
    # Streamlit 1.67 turns it into a one-handle slider at the first touch (measured). So the
    # widget gets the draft's value and its own key (never set through the session state),
    # and its callback keeps the draft (which outlives the widget on a page switch).
    key = draft.widget_key(field)
    keep = {"key": key, "on_change": _keep_range, "args": (draft, field, key)}
    if kind == "log":
        steps, _default = spec
        st.select_slider(
            label,
            options=steps,
            value=tuple(draft[field]),
            format_func=in_this_language(_shown),
            help=_("Drawn log-uniformly: each decade as likely as the next."),
            **keep,
        )
    else:
        low, high, step, _default = spec
        st.slider(
            label,
            low,
            high,
            value=tuple(draft[field]),
            step=step,
            help=_("Drawn uniformly from the range."),
            **keep,
        )


def _keep_range(draft: Draft, field: str, key: str) -> None:
    if key in st.session_state:
        draft.replace({**draft.values, field: tuple(st.session_state[key])})


def _param(values: dict, name: str) -> Param:
    """The field's range as the form has it (``ValueError`` for an empty choice)."""
    kind = FIELD_WIDGETS[name][0]
    value = values[f"range.{name}"]
    if kind == "choice":
        if not value:
            raise ValueError(_("{name}: pick at least one value").format(name=name))
        return Param(name, "choice", values=tuple(value))
    low, high = value
    if low == high:  # both ends at one value: that value, every time
        return Param(name, "choice", values=(low,))
    if kind == "log":
        return Param(name, "loguniform", low=float(low), high=float(high))
    if SEARCHABLE[name][0] is int:
        return Param(name, "int", low=int(low), high=int(high))
    return Param(name, "uniform", low=float(low), high=float(high))


def spec_of(values: dict, address: str | None = None) -> sweeps.SweepSpec:
    """The sweep a form's values describe (``ValueError`` in one sentence otherwise)."""
    if not values["fields"]:
        raise ValueError(_("Choose at least one setting to vary."))
    return sweeps.new_spec(
        values["preset"],
        [_param(values, name) for name in values["fields"]],
        int(values["trials"]),
        seed=int(values.get("seed", 0)),
        scheduler="asha" if values["asha"] else "none",
        cpus_per_trial=int(values["cpus"]),
        address=address,
        command="the dashboard's Sweep page",  # recorded in sweep.json: English
    )


def command_line(spec: sweeps.SweepSpec) -> str:
    """The same sweep from the command line."""
    parts = [
        "python",
        "-m",
        "mnist",
        "sweep",
        "--preset",
        spec.preset,
        "--trials",
        str(spec.trials),
    ]
    for param in spec.params:
        parts += ["--param", param.text()]
    if spec.scheduler != "none":
        parts += ["--scheduler", spec.scheduler]
    if spec.cpus_per_trial != 1:
        parts += ["--cpus-per-trial", str(spec.cpus_per_trial)]
    if spec.seed:
        parts += ["--seed", str(spec.seed)]
    parts += ["--runs-dir", str(runs.resolve_runs_dir())]  # where this page looks
    return shlex.join(parts)


def space_form() -> sweeps.SweepSpec | None:
    """Preset, settings to vary and their ranges, trials, early stopping, CPUs per trial."""
    draft = _draft()
    st.session_state.setdefault(START_TOKEN, 0)
    left, right = st.columns([1, 2], gap="large")
    with left:
        st.selectbox(
            _("Start from the preset"),
            list(PRESETS),
            **draft.bind("preset"),
            format_func=in_this_language(lambda p: _(PRESETS[p].title)),
            help=_(
                "Every trial trains this preset's model and settings, with the "
                "settings you vary drawn anew."
            ),
        )
        st.number_input(
            _("Trials"),
            1,
            sweeps.MAX_TRIALS,
            **draft.bind("trials"),
            help=_("How many runs to train, each with settings drawn at random."),
        )
        st.toggle(
            _("Stop poor trials early (ASHA)"),
            **draft.bind("asha"),
            help=_(
                "After each epoch, a trial in the worse half of those that reached "
                "that epoch stops (and keeps its model): more trials in the same time."
            ),
        )
        st.number_input(
            _("CPUs per trial"),
            1,
            64 if _address() else max(1, cpu_threads()),
            **draft.bind("cpus"),
            help=_(
                "Each trial's CPU and TensorFlow-thread budget; trials run side by "
                "side while CPUs last."
            ),
        )
        st.number_input(
            _("Seed of the draws"),
            0,
            2**31 - 1,
            **draft.bind("seed"),
            help=_("The same seed draws the same trials; change it to try other settings."),
        )
    with right:
        st.multiselect(
            _("Settings to vary"),
            list(SEARCHABLE),
            **draft.bind("fields"),
            format_func=in_this_language(_setting),
            placeholder=_("Choose settings"),
            help=_("The rest stay as the preset has them."),
        )
        for name in draft["fields"]:
            _field_widget(draft, name)
    try:
        spec = spec_of(draft.values, _address())
    except ValueError as exc:
        show_error(exc)
        return None
    if spec.address:
        where = _(
            "Runs on the Ray cluster at `{address}`. Trials are ordinary runs: they appear in "
            "the Training page's history, and can be evaluated, sketched with and exported "
            "like any run."
        ).format(address=spec.address)
    else:
        where = _(
            "Runs on an embedded Ray on this machine: {cpus} CPUs, {trials} trial(s) at a "
            "time. Trials are ordinary runs: they appear in the Training page's history, and "
            "can be evaluated, sketched with and exported like any run."
        ).format(
            cpus=i18n.number(cpu_threads()),
            trials=i18n.number(max(1, cpu_threads() // spec.cpus_per_trial)),
        )
    st.caption(where)
    with st.expander(_("The same sweep from the command line")):
        st.code(command_line(spec), language="bash")
    return spec


def _start(token: int) -> None:
    if token != st.session_state.get(START_TOKEN, 0):
        return  # a second click on the same Start
    st.session_state[START_TOKEN] = token + 1
    st.session_state.pop(ERROR, None)
    try:
        live = next((s for s in sweeps.list_sweeps()[0] if s.is_live), None)
        if live is not None:  # started from another tab since this one was drawn
            raise sweeps.SweepError(
                _("sweep {id} is {state}; one at a time").format(
                    id=live.sweep_id, state=state_label(live.state.state)
                )
            )
        spec = spec_of(_draft().values, _address())
        if spec.address:
            sweeps.check_address(spec.address)
        path = people.start_as(
            lambda owner: sweeps.create_sweep(dataclasses.replace(spec, owner=owner))
        )
        sweeps.launch_sweep(path)
    except access.NotAllowed as exc:
        _fail("start", str(exc))
        return
    except (OSError, ValueError, sweeps.SweepError, runs.RunError) as exc:
        _fail("start", _("Could not start the sweep: {error}").format(error=exc))
        return
    st.session_state[SHOWN] = path.name
    st.toast(
        _("Sweep {id} started: {trials} trials.").format(
            id=path.name, trials=i18n.number(spec.trials)
        ),
        icon=":material/play_arrow:",
    )


def start_button(spec: sweeps.SweepSpec | None, all_sweeps: list[sweeps.Sweep]) -> None:
    # One container whatever it holds: the panel below keeps its place on the page when a
    # sweep starts or ends (see sweep_panel).
    with st.container():
        live = next((s for s in all_sweeps if s.is_live), None)
        visitor = people.start_note()
        st.button(
            _("Start sweep"),
            type="primary",
            icon=":material/play_arrow:",
            disabled=spec is None or live is not None or bool(visitor),
            help=visitor,
            on_click=_start,
            args=(st.session_state[START_TOKEN],),
            key=PREFIX + "start",
        )
        if visitor:
            st.caption(visitor)
        elif live is not None:
            note = (
                _(
                    "Sweep {id} is {state}: one sweep at a time. Stop it below (choose it in "
                    "the list) or wait for it to end."
                )
                if len(all_sweeps) > 1  # the list of sweeps is shown (sweep_chooser)
                else _(
                    "Sweep {id} is {state}: one sweep at a time. Stop it below or wait for it "
                    "to end."
                )
            )
            st.caption(note.format(id=live.sweep_id, state=state_label(live.state.state)))
        _show_error("start")


# -- a sweep, live --------------------------------------------------------------------------
def shown_sweep(all_sweeps: list[sweeps.Sweep]) -> sweeps.Sweep | None:
    """The sweep this session looks at: its choice, else the newest."""
    if not all_sweeps:
        return None
    wanted = st.session_state.get(SHOWN)
    return next((s for s in all_sweeps if s.sweep_id == wanted), all_sweeps[0])


def _show(key: str) -> None:
    st.session_state[SHOWN] = st.session_state[key]


def sweep_chooser(all_sweeps: list[sweeps.Sweep], shown: sweeps.Sweep | None) -> None:
    with st.container():  # one place, shown or not (see start_button)
        if len(all_sweeps) < 2 or shown is None:
            return
        ids = [s.sweep_id for s in all_sweeps]
        by_id = {s.sweep_id: s for s in all_sweeps}
        key = PREFIX + "chooser"
        st.session_state[key] = shown.sweep_id
        st.selectbox(
            _("Sweep"),
            ids,
            key=key,
            on_change=_show,
            args=(key,),
            format_func=in_this_language(
                lambda i: _("{id} · {preset} · {state} · {trials} trials").format(
                    id=i,
                    preset=by_id[i].spec.preset,
                    state=state_label(by_id[i].state.state),
                    trials=i18n.number(by_id[i].spec.trials),
                )
            ),
        )


def _stop(sweep_id: str) -> None:
    try:
        sweeps.request_stop(sweeps.find_sweep(sweep_id).path, people.current_person())
    except (runs.RunError, access.NotAllowed) as exc:
        _fail("stop", exc)
    request_page_rerun()


USED = PREFIX + "used"  # a run just chosen with "Use the best trial", for the toast


def _use(run_id: str) -> None:
    select_run(run_id)
    st.session_state[USED] = run_id  # toasted by the panel: a callback of a fragment must not


def _where(state: sweeps.SweepState) -> str:
    """Where a sweep runs, and how wide, in words ("" before it knows)."""
    fields = {
        "address": state.address,
        "nodes": i18n.number(state.nodes or 0),
        "trials": i18n.number(state.concurrency or 0),
    }
    if state.address == "embedded":
        if state.concurrency:
            return _("on an embedded Ray ({nodes} node(s), {trials} trial(s) at a time)").format(
                **fields
            )
        return _("on an embedded Ray")
    if not state.address:
        return ""
    if state.concurrency:
        return _("on {address} ({nodes} node(s), {trials} trial(s) at a time)").format(**fields)
    return _("on {address}").format(**fields)


def _status_line(sweep: sweeps.Sweep) -> str:
    state = sweep.state
    counts = " · ".join(
        _("{count} {state}").format(count=i18n.number(n), state=_trial_state(what))
        for what, n in sweep.counts().items()
    )
    parts = [f"**{state_label(state.state)}**", counts, _where(state)]
    if state.is_live and state.message:
        parts.append(_(state.message))  # the driver's words: English, translated if known
    return " — ".join(p for p in parts if p)


def _table_columns() -> dict[str, str]:
    """The trials table's columns (``sweeps.trial_rows``' keys) → their headers."""
    return {
        "trial": _("trial"),
        "state": _("state"),
        "epochs done": _("epochs done"),
        "best val accuracy": _("best val accuracy"),
        "val accuracy": _("val accuracy"),
        "test accuracy": _("test accuracy"),
        "run": pgettext("a training run", "run"),
    }


def _column_config(header: dict[str, str]) -> dict:
    """How the trials table shows each column, keyed by its header."""
    return {
        header["trial"]: st.column_config.NumberColumn(width="small"),
        header["state"]: st.column_config.TextColumn(),
        header["epochs done"]: st.column_config.NumberColumn(width="small"),
        header["best val accuracy"]: st.column_config.ProgressColumn(
            format="%.2f%%",
            min_value=0.0,
            max_value=100.0,
            help=_("The best validation accuracy the trial reported so far (Ray Tune's view)."),
        ),
        header["val accuracy"]: st.column_config.NumberColumn(
            format="%.2f%%", help=_("Of the model the run saved (its last epoch).")
        ),
        header["test accuracy"]: st.column_config.NumberColumn(format="%.2f%%"),
        header["run"]: st.column_config.TextColumn(width="large"),
    }


PERCENTS = ["best val accuracy", "val accuracy", "test accuracy"]  # shown as 0–100


NUMBERS = ["epochs done", "best val accuracy", "val accuracy", "test accuracy"]


def _panel(sweep_id: str, was_live: bool, shown_state: str) -> None:
    try:
        sweep = sweeps.find_sweep(sweep_id)
    except runs.RunError as exc:
        show_error(exc)
        return
    heading, action = st.columns([4, 1], vertical_alignment="bottom")
    heading.markdown(
        "#### " + _("Sweep {id} — {preset}").format(id=sweep.sweep_id, preset=sweep.spec.preset)
    )
    if sweep.is_live and people.may_change(sweep.spec.owner):
        action.button(
            _("Stop sweep"),
            icon=":material/stop:",
            on_click=_stop,
            args=(sweep.sweep_id,),
            key=PREFIX + "stop",
            help=_(
                "No new trials; live trials stop at their next batch and keep their "
                "models; finished trials stay."
            ),
        )
    _show_error("stop")
    st.markdown(_status_line(sweep))
    space = " ".join(f"`{p.text()}`" for p in sweep.spec.params)
    st.caption(
        _("Space: {space} · {trials} trials · seed {seed} · {scheduler}").format(
            space=space,
            trials=i18n.number(sweep.spec.trials),
            seed=sweep.spec.seed,
            scheduler=_(sweeps.SCHEDULER_WORDS[sweep.spec.scheduler]),
        )
    )
    if sweep.state.state == sweeps.FAILED:
        show_error(_("The sweep failed: {error}").format(error=sweep.state.error))
    rows = sweeps.trial_rows(sweep)
    best = sweep.best()
    if best is not None:
        a, b = st.columns([3, 1], vertical_alignment="center")
        best_line = (
            _(
                "Best so far: **trial {number}** — validation {val}, test {test} ({values}); "
                "run `{run_id}`"
            )
            if sweep.is_live
            else _(
                "Best trial: **trial {number}** — validation {val}, test {test} ({values}); "
                "run `{run_id}`"
            )
        )
        a.success(
            best_line.format(
                number=best.number,
                val=i18n.percent(best.val_accuracy, 2),
                test=i18n.percent(best.run.status.test_accuracy, 2),
                values=_describe(best.values),
                run_id=best.run.run_id,
            ),
            icon=":material/emoji_events:",
        )
        b.button(
            _("Use the best trial"),
            icon=":material/check:",
            on_click=_use,
            args=(best.run.run_id,),
            key=PREFIX + "use",
            help=_("Evaluate, Sketch and Inside use its model."),
        )
    frame = pd.DataFrame(rows)
    for column in NUMBERS:  # blank cells, not "None", for what is not known yet
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame[PERCENTS] = frame[PERCENTS] * 100
    frame["run"] = frame["run"].fillna("")
    shown = frame["val accuracy"].notna().any() or frame["best val accuracy"].notna().any()
    frame["state"] = frame["state"].map(_trial_state)
    # Shown with headers in the session's language; the rows (and the chart) keep the keys.
    header = _table_columns()
    header.update({p.name: _setting(p.name) for p in sweep.spec.params})
    columns = _column_config(header)
    for param in sweep.spec.params:  # a drawn rate reads 0.000121, not 0.0001
        if param.kind in ("uniform", "loguniform") or any(
            isinstance(v, float) for v in param.values
        ):
            columns[header[param.name]] = st.column_config.NumberColumn(format="%.3g")
    st.dataframe(frame.rename(columns=header), hide_index=True, column_config=columns)
    if shown:
        st.altair_chart(sweep_chart(rows, [p.to_dict() for p in sweep.spec.params]))
        st.caption(
            _(
                "Each dot is a trial: the setting it drew (across) and the validation accuracy "
                "of its model (up). Trials still training show their last finished epoch."
            )
        )
    else:
        st.caption(_("The chart of settings against accuracy appears when a trial finishes "
                     "its first epoch."))  # fmt: skip
    if (was_live, shown_state) != (sweep.is_live, sweep.state.state):
        st.rerun()  # started, stopping or ended: the whole page (Start, the chooser) changes
    used = st.session_state.pop(USED, None)
    if used:
        st.toast(
            _("Evaluate, Sketch and Inside now use run {run_id}.").format(run_id=used),
            icon=":material/check:",
        )
    rerun_page_if_requested()


def sweep_panel(sweep: sweeps.Sweep | None) -> None:
    """The shown sweep, re-read every few seconds while it is live.

    When the sweep starts, stops or ends, the panel reruns the whole page. The page above it
    keeps the same number of elements in every state (each part that may be empty is one
    container), so the fragment is drawn at the same place by the full run as by its own
    runs: a fragment run still in flight then redraws the panel rather than leaving a
    second copy of it where the panel used to be (seen in Chromium under load)."""
    if sweep is None:
        st.info(_("No sweeps yet: choose what to vary above and press **Start sweep**."))
        return
    interval = REFRESH_SECONDS if sweep.is_live else None
    st.fragment(run_every=interval)(_panel)(sweep.sweep_id, sweep.is_live, sweep.state.state)
