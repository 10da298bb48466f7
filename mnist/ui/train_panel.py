"""The Training page's parts: the settings form, Start/Stop, and the live panel of one run."""

from __future__ import annotations

import streamlit as st

from mnist import access, hardware, i18n, runs
from mnist.charts import live_batch_chart, live_epoch_chart, metrics_frames
from mnist.config import FINETUNE_MODE_WORDS, OPTIMIZERS, PRECISIONS, REFERENCES, SCHEDULES
from mnist.forms import all_train_images, train_form, train_from_form
from mnist.i18n import _, pgettext
from mnist.ui import people
from mnist.ui.drafts import Draft, build_into
from mnist.ui.state import (
    TRAIN_CONFIG,
    TRAIN_ERROR,
    get_model_config,
    get_train_config,
    model_error,
    request_page_rerun,
    rerun_page_if_requested,
    set_model_config,
    set_train_config,
    train_error,
)
from mnist.ui.widgets import full_stop, in_this_language, show_error

WATCHED = "train.run"  # the run this session watches
TAIL = "train.tail"  # its MetricsTail
STARTING = "train.starting"  # a run this session started whose worker has not reported yet
START_TOKEN = "train.start_token"  # changes with every start: a stale click starts nothing
START_ERROR = "train.start_error"  # why the last Start or Stop did nothing (shown once)
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
BATCH_SIZES = (16, 32, 64, 128, 256, 512, 1024)
MAX_EPOCHS = 50
MAX_VALIDATION = 10_000
MAX_PATIENCE = 20
STATE_ICONS = {
    "queued": ":material/hourglass_top:",
    "running": ":material/sync:",
    "stopping": ":material/pause:",
    "done": ":material/check_circle:",
    "stopped": ":material/stop_circle:",
    "failed": ":material/error:",
}


def _draft() -> Draft:
    return Draft("train", lambda: train_form(get_train_config()))


def _edited() -> None:
    """A setting changed: the draft is the session's training config now, or says why not."""
    build_into(_draft(), train_from_form, TRAIN_CONFIG, TRAIN_ERROR)


def settings_form() -> None:
    """Every training setting, as the draft holds it; what Start will run."""
    draft = _draft()
    _model, preset = get_model_config()
    with st.expander(_("Hyper-parameters"), expanded=True, icon=":material/tune:"):
        st.caption(
            _(
                "Model: **{preset}** (set on the Model page). These settings belong to this "
                "browser tab: a reload starts again from the codelab preset, and a run's "
                "**Use these settings** brings its own back."
            ).format(preset=preset or _("custom"))
        )
        c1, c2, c3 = st.columns(3)
        c1.slider(
            _("Epochs"), 1, max(MAX_EPOCHS, draft["epochs"]), **draft.bind("epochs", then=_edited)
        )
        c2.select_slider(
            _("Batch size"),
            sorted({*BATCH_SIZES, draft["batch_size"]}),
            help=_("Images per gradient step."),
            **draft.bind("batch_size", then=_edited),
        )
        c3.select_slider(
            _("Learning rate (log scale)"),
            sorted({*LEARNING_RATES, draft["learning_rate"]}),
            format_func=lambda r: f"{r:g}",
            help=_(
                "The size of each step down the loss; with a cosine schedule, the first step's."
            ),
            **draft.bind("learning_rate", then=_edited),
        )
        c1.selectbox(
            _("Optimizer"),
            OPTIMIZERS,
            help=_(
                "adam (the codelab's), adamw (Adam with weight decay), rmsprop, "
                "or sgd with Nesterov momentum 0.9."
            ),
            **draft.bind("optimizer", then=_edited),
        )
        c2.selectbox(
            _("Learning-rate schedule"),
            SCHEDULES,
            format_func=in_this_language(schedule_label),
            help=_("constant, or cosine: decays to 0 over the planned training steps."),
            **draft.bind("lr_schedule", then=_edited),
        )
        c3.toggle(
            _("Augmentation (rotate, shift, zoom)"),
            help=_("Each training image is randomly rotated ±10°, shifted ±10% and zoomed ±10%."),
            **draft.bind("augment", then=_edited),
        )
        all_train = all_train_images(draft["validation_size"])
        size = min(draft["train_size"] or all_train, all_train)
        low = min(100, size)
        c1.slider(
            _("Training images"),
            low,
            all_train,
            step=100,
            help=_("A stratified subset of the training images; the maximum uses them all."),
            **draft.bind("train_size", shown=size, then=_edited),
        )
        c2.slider(
            _("Validation images"),
            0,
            max(MAX_VALIDATION, draft["validation_size"]),
            step=500,
            help=_("Held out of the 60,000 training images for val_loss / val_accuracy."),
            **draft.bind("validation_size", then=_edited),
        )
        c3.number_input(
            _("Seed"),
            0,
            2**31 - 1,
            help=_("The same seed and settings train the same model again."),
            **draft.bind("seed", then=_edited),
        )
        c1.number_input(
            _("Early stopping patience (epochs, 0 = off)"),
            0,
            max(MAX_PATIENCE, draft["early_stopping"]),
            help=_(
                "Stop when val_loss has not improved for this many epochs; "
                "the best epoch's weights are kept."
            ),
            **draft.bind("early_stopping", then=_edited),
        )
        c2.selectbox(
            _("Precision"),
            PRECISIONS,
            format_func=in_this_language(precision_label),
            help=_(
                "mixed_bfloat16: bfloat16 arithmetic with float32 weights, about 1.6× faster "
                "on CPUs with AVX512_BF16 or AMX, several times slower on CPUs without them "
                "(benchmarks/RESULTS.md); auto picks it only where the CPU has them. {support}"
            ).format(support=hardware.describe_precision_support()),
            **draft.bind("precision", then=_edited),
        )
    if draft["precision"] == "mixed_bfloat16" and not hardware.native_bfloat16():
        st.warning(
            _(
                "This CPU has no native bfloat16 (AVX512_BF16 or AMX): mixed_bfloat16 would be "
                "emulated and train several times slower than float32. Choose auto or float32."
            ),
            icon=":material/speed:",
        )
    if model_error():
        show_error(
            _(
                "The model on the Model page cannot be built: {error} "
                "Fix it there (or pick a preset) to train."
            ).format(error=full_stop(model_error()))
        )
    if train_error():
        show_error(
            _("These settings cannot be trained: {error}").format(error=full_stop(train_error()))
        )


def schedule_label(schedule: str) -> str:
    """A learning-rate schedule as shown (the setting itself, ``cosine``, stays English)."""
    names = {
        "constant": pgettext("learning-rate schedule", "constant"),
        "cosine": pgettext("learning-rate schedule", "cosine"),
    }
    return names.get(schedule, schedule)


def precision_label(precision: str) -> str:
    """A precision as shown: ``auto`` in words, the dtype policies as they are."""
    return pgettext("precision", "auto") if precision == "auto" else precision


def watched_run(all_runs: list[runs.Run]) -> runs.Run | None:
    """The run this session watches; a new session re-attaches to a live run (the person's own
    first), else the newest (likewise)."""
    by_id = {r.run_id: r for r in all_runs}
    watched = st.session_state.get(WATCHED)
    if watched not in by_id:  # a new session, or a deleted run
        me = people.current_person().id
        mine = [r for r in all_runs if access.owner_of(r.config.owner) == me]
        live = [r for r in all_runs if r.is_live]
        # On a shared server: one's own live run, anyone's, one's own newest, anyone's.
        order = [r for r in mine if r.is_live] + live + mine + all_runs
        watched = order[0].run_id if order else None
        st.session_state[WATCHED] = watched
    return by_id.get(watched)


def _starting() -> bool:
    """Whether the run this session started last is still getting ready (its worker starting,
    TensorFlow and the data loading): a Start click meanwhile is a second click on the same
    start, not a new run. Waiting for another run's slot is not starting."""
    run_id = st.session_state.get(STARTING)
    if not run_id:
        return False
    try:
        if runs.is_starting(runs.find_run(run_id).status):
            return True
    except runs.RunError:
        pass
    st.session_state[STARTING] = None
    return False


def _start(token: int) -> None:
    # A second click before the page showed the first run (a stale token), or while that
    # run's worker is still starting, starts nothing more.
    if token != st.session_state.get(START_TOKEN, 0) or _starting():
        return
    st.session_state[START_TOKEN] = token + 1
    model, preset = get_model_config()
    try:
        train = train_from_form(_draft().values)  # exactly what the form shows
        if model_error():
            raise ValueError(model_error())
        path = people.start_as(lambda owner: runs.start_run(model, train, preset, owner=owner))
    except access.NotAllowed as exc:
        st.session_state[START_ERROR] = str(exc)
        return
    except (OSError, runs.RunError, ValueError) as exc:
        st.session_state[START_ERROR] = _("Could not start the run: {error}").format(error=exc)
        return
    st.session_state[WATCHED] = st.session_state[STARTING] = path.name
    st.session_state.pop(TAIL, None)
    st.toast(_("Run {run_id} started.").format(run_id=path.name), icon=":material/play_arrow:")


def _stop(run_id: str) -> None:
    try:
        runs.request_stop(runs.find_run(run_id).path, people.current_person())
    except (runs.RunError, access.NotAllowed) as exc:
        st.session_state[START_ERROR] = str(exc)


def _watch(run_id: str) -> None:
    st.session_state[WATCHED] = run_id
    st.session_state.pop(TAIL, None)


def start_stop(run: runs.Run | None, all_runs: list[runs.Run]) -> None:
    """Start (disabled while the settings are invalid or a start is under way); Stop for the
    watched run, or a way back to a live run when another is watched."""
    st.session_state.setdefault(START_TOKEN, 0)
    starting = _starting()
    visitor = people.start_note()  # a visitor: why they cannot start
    left, right, note = st.columns([1, 1, 3], vertical_alignment="center")
    left.button(
        _("Starting…") if starting else _("Start training"),
        type="primary",
        icon=":material/play_arrow:",
        on_click=_start,
        args=(st.session_state[START_TOKEN],),
        disabled=starting or bool(visitor or model_error() or train_error()),
        help=_("Disabled while the run just started gets ready, or while a setting is invalid.")
        if starting
        else visitor,
        width="stretch",
    )
    live = [r for r in all_runs if r.is_live]
    if visitor:
        note.caption(visitor)
    if run is not None and run.is_live:
        if people.may_change(run.config.owner):
            right.button(
                _("Stop"),
                icon=":material/stop:",
                on_click=_stop,
                args=(run.run_id,),
                width="stretch",
            )
        elif not visitor:
            note.caption(
                _("Run {run_id} is {owner}'s.").format(
                    run_id=run.run_id, owner=access.owner_of(run.config.owner)
                )
            )
    elif live:
        right.button(
            _("Watch the live run"),
            icon=":material/visibility:",
            on_click=_watch,
            args=(live[0].run_id,),
            width="stretch",
        )
        if not visitor:
            note.caption(
                _("Run {run_id} is {state}.").format(
                    run_id=live[0].run_id, state=runs.state_label(live[0].state)
                )
            )
    error = st.session_state.pop(START_ERROR, None)
    if error:
        show_error(error)


def use_settings(run_id: str) -> None:
    """Make a run's model and training settings this session's (the Model and Training pages)."""
    try:
        config = runs.find_run(run_id).config
    except runs.RunError as exc:
        st.session_state[TRAIN_ERROR] = str(exc)
        return
    set_model_config(config.model, config.preset)
    set_train_config(config.train)
    request_page_rerun()  # the form above this panel shows them at once
    st.toast(
        _("The Model and Training pages now hold run {run_id}'s settings.").format(run_id=run_id)
    )


def _base_label(base: str) -> str:
    """A fine-tune's base model as shown: ``FinetuneConfig.base`` is "run <id>", "the bundled
    model" (English in config.json) or a path."""
    if base == "the bundled model":
        return _("the bundled model")
    if base.startswith("run "):
        return _("run {run_id}").format(run_id=base.removeprefix("run "))
    return base


def run_description(run: runs.Run) -> str:
    """One line: the run's model and how it was trained, fine-tuned or imported."""
    config = run.config
    if config.imported:
        source = config.imported.get("source", None)
        source = _("a file") if source is None else source
        return _("**Imported** model from {source}").format(source=source)
    resolved = run.status.precision
    train = config.train.describe()
    if config.train.precision == "auto" and resolved:
        train = _("{train} (here: {precision})").format(train=train, precision=resolved)
    preset = config.preset or _("custom")
    if config.finetune:
        ft = config.finetune
        return _(
            "**Fine-tuned** from {base} on {count} of your digits ({mode}: {words}) · {train}"
        ).format(
            base=_base_label(ft.base),
            count=i18n.number(ft.personal_train),
            mode=pgettext("fine-tuning mode", ft.mode),
            words=_(FINETUNE_MODE_WORDS[ft.mode]),
            train=train,
        )
    if config.sweep:
        link = config.sweep
        values = ", ".join(
            pgettext("a sweep trial's setting", "{setting} {value}").format(
                setting=k, value=f"{v:g}" if isinstance(v, float) else v
            )
            for k, v in (link.get("values") or {}).items()
        )
        return _(
            "**Trial {n}** of sweep {sweep_id} ({values}) · **{preset}** model · {train}"
        ).format(
            n=link["trial"] + 1, sweep_id=link["id"], values=values, preset=preset, train=train
        )
    return _("**{preset}** model · {train}").format(preset=preset, train=train)


def _charts(run: runs.Run, tail: runs.MetricsTail) -> None:
    complete = [e for e in tail.epochs if e.complete]
    batches, epochs = metrics_frames(tail.batches, complete)
    if batches.empty:
        if run.config.imported:
            st.caption(_("Trained elsewhere and imported: there are no training curves here."))
        elif run.is_live:
            st.info(_("The charts appear with the first batch."), icon=":material/hourglass_top:")
        else:
            status = run.status
            reason = (
                _(status.message)
                if status.message
                else runs.error_text(status.error)
                if status.error
                else _("no batches")
            )
            st.info(
                _("This run never trained ({reason}).").format(reason=reason),
                icon=":material/info:",
            )
        return
    a, b = st.columns(2)
    a.markdown(_("**Per batch** (onBatchEnd): each batch's own value, and its moving average"))
    a.vega_lite_chart(spec=live_batch_chart(batches, "loss"), width="stretch")
    b.markdown("&nbsp;")
    b.vega_lite_chart(spec=live_batch_chart(batches, "accuracy"), width="stretch")
    if not epochs.empty:
        a, b = st.columns(2)
        a.markdown(_("**Per epoch** (onEpochEnd)"))
        a.vega_lite_chart(spec=live_epoch_chart(epochs, "loss"), width="stretch")
        b.markdown("&nbsp;")
        # The references are models trained from scratch: beside a fine-tune they mislead.
        shown = REFERENCES if run.config.kind == "train" else ()
        refs = [(ref.label, ref.value) for ref in shown]
        b.vega_lite_chart(spec=live_epoch_chart(epochs, "accuracy", refs), width="stretch")
        if shown:
            b.caption(" · ".join(f"{ref.label}: {_(ref.source)}" for ref in shown))
    if run.config.finetune:
        st.caption(
            _(
                "While fine-tuning, *accuracy* is on the training mix (your digits, augmented, "
                "and MNIST images) and *val_* on MNIST validation images only: it stays high "
                "when the model keeps what it knew."
            )
        )
    cut = [e for e in tail.epochs if not e.complete]
    if cut:
        st.caption(
            _(
                "Epoch {epoch} was cut short by Stop: the per-epoch charts show only complete "
                "epochs."
            ).format(epoch=cut[-1].epoch)
        )


def _panel(run_id: str, interval: float | None) -> None:
    try:
        run = runs.find_run(run_id)
    except runs.RunError as exc:
        show_error(exc)
        return
    tail = st.session_state.get(TAIL)
    if tail is None or tail.run_dir != run.path:
        tail = st.session_state[TAIL] = runs.MetricsTail(run.path)
    tail.poll()
    heading, action = st.columns([4, 1], vertical_alignment="bottom")
    title = _("Run {run_id} — {state}").format(run_id=run.run_id, state=runs.state_label(run.state))
    heading.markdown(f"#### {STATE_ICONS.get(run.state, '')} {title}")
    config = run.config
    trained_here = config.kind == "train"
    if trained_here:  # a fine-tune or an import has no Training-page settings to load
        action.button(
            _("Use these settings"),
            icon=":material/settings_backup_restore:",
            on_click=use_settings,
            args=(run.run_id,),
            help=_(
                "Load this run's model and training settings into the Model and Training pages."
            ),
            key="train.reuse",
        )
    st.caption(run_description(run), help=_("How this run's model came to be."))
    fraction, text = runs.progress(run.status)
    st.progress(fraction, text=text)
    if run.state == runs.FAILED:
        show_error(_("The run failed: {error}").format(error=runs.error_text(run.status.error)))
    elif run.state in (runs.DONE, runs.STOPPED) and run.status.test_accuracy is not None:
        st.success(
            _("Test accuracy on the 10,000 test images: **{accuracy}**").format(
                accuracy=i18n.percent(run.status.test_accuracy, 2)
            ),
            icon=":material/verified:",
        )
    _charts(run, tail)
    # Rerun the whole page when what it shows outside this panel changes: the run ended
    # (history, Stop), its worker reported (Start), or it needs another refresh rate.
    if interval is not None and (
        runs.watch_interval(run.status) != interval
        or (st.session_state.get(STARTING) == run_id and not _starting())
    ):
        st.rerun()
    rerun_page_if_requested()


def run_panel(run: runs.Run | None) -> None:
    """The watched run's state, progress and live charts, re-read while it is live."""
    if run is None:
        st.info(_("No runs yet: press **Start training** to train the model from the Model page."))
        return
    interval = runs.watch_interval(run.status)
    st.fragment(run_every=interval)(_panel)(run.run_id, interval)
