"""The My digits page's parts: collect your handwriting, browse it, move it, fine-tune on it,
and see whether that helped. Also the Sketch page's "save it as …" box."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import streamlit as st

from mnist import NUM_CLASSES, access, finetune, i18n, runs
from mnist.charts import personal_counts_chart
from mnist.config import FINETUNE_MODE_WORDS, FINETUNE_MODES
from mnist.i18n import _, ngettext, pgettext
from mnist.personal import (
    MAX_ZIP_BYTES,
    MIN_PER_DIGIT,
    PEOPLE,
    PersonalError,
    PersonalSet,
    resolve_personal_dir,
)
from mnist.ui import people
from mnist.ui.sketch_panel import clear_canvas
from mnist.ui.state import ModelChoice, select_run
from mnist.ui.train_panel import run_panel
from mnist.ui.widgets import in_this_language, keyed_to, show_error

TARGET = "digits.target"  # the digit the page asks for
ERROR = "digits.error.{}"  # the last failure of a section ("save", "table", …), shown once
PICKED = "digits.picked"  # the person chose the digit to draw: keep it after a save
RUN = "digits.run"  # the fine-tuning run this session started last
MODE = "digits.mode"
EPOCHS = "digits.epochs"
START_TOKEN = "digits.start_token"


def _how_many(digit: int, n: int) -> str:
    """``n`` samples of ``digit`` in words ("3 sevens"): one message per digit, so a language
    can name each digit (and its grammar) its own way."""
    return (
        ngettext("{n} zero", "{n} zeros", n),
        ngettext("{n} one", "{n} ones", n),
        ngettext("{n} two", "{n} twos", n),
        ngettext("{n} three", "{n} threes", n),
        ngettext("{n} four", "{n} fours", n),
        ngettext("{n} five", "{n} fives", n),
        ngettext("{n} six", "{n} sixes", n),
        ngettext("{n} seven", "{n} sevens", n),
        ngettext("{n} eight", "{n} eights", n),
        ngettext("{n} nine", "{n} nines", n),
    )[digit].format(n=i18n.number(n))


def _signed(value: float, digits: int) -> str:
    """``value`` with its sign always written ("+3", "-0.12"), in the locale's digits."""
    sign = f"{value:+.{digits}f}"[0]
    return sign + i18n.number(abs(value), digits)


def personal_set() -> PersonalSet:
    """This person's own set. A visitor (not signed in) has an empty one nothing writes to."""
    person = people.current_person()
    if not person.signed_in:
        return PersonalSet(resolve_personal_dir() / PEOPLE / ".visitors")
    return PersonalSet.of(person.id)


def _refused(where: str) -> bool:
    """For a visitor: say why nothing is kept (in ``where``'s message slot) and refuse."""
    note = people.start_note()
    if note:
        _fail(where, note)
    return bool(note)


def visitor_note() -> None:
    """At the top of My digits, for a visitor: what they can do here and what needs sign-in."""
    note = people.start_note()
    if note:
        st.info(
            _(
                "{note} You can draw and see what the network reads; saving digits and "
                "fine-tuning need a signed-in user, each with their own set."
            ).format(note=note),
            icon=":material/lock:",
        )


def _fail(where: str, message: object) -> None:
    st.session_state[ERROR.format(where)] = str(message)


def _show_error(where: str) -> None:
    """A section's last failure, where the person just acted."""
    message = st.session_state.pop(ERROR.format(where), None)
    if message:
        show_error(message)


def _next_target(samples: PersonalSet) -> int:
    """The digit with the fewest samples (the smallest such digit)."""
    return int(np.argmin(samples.counts().sum(axis=1)))


# -- collect -------------------------------------------------------------------------------
def _save(
    x: np.ndarray,
    digit: int,
    drawing: np.ndarray | None,
    prefix: str | None,
    reset: str | None = None,
) -> None:
    """Save a sample; then a fresh canvas (the one under ``prefix``, if any) and the widget
    ``reset`` emptied, so one drawing is saved once."""
    samples = personal_set()
    try:
        samples.add(x, digit, drawing)
    except (OSError, PersonalError) as exc:
        _fail("save", _("Could not save the sample: {error}").format(error=exc))
        return
    if prefix:
        clear_canvas(prefix)
    if reset:
        st.session_state[reset] = None
    total = int(samples.counts()[digit].sum())
    st.toast(
        _("Saved as a {digit}: My digits has {count}.").format(
            digit=digit, count=_how_many(digit, total)
        ),
        icon=":material/save:",
    )
    if prefix == "digits":
        keep = st.session_state.get(PICKED) and st.session_state.get(TARGET) is not None
        st.session_state[TARGET] = digit if keep else _next_target(samples)


def target_digit() -> int:
    """The digit to draw next: chosen by the person, else the one with the fewest samples."""
    if st.session_state.get(TARGET) is None:
        st.session_state[TARGET] = _next_target(personal_set())
    st.segmented_control(
        _("Digit to draw"),
        list(range(NUM_CLASSES)),
        key=TARGET,
        on_change=_picked,
        help=_(
            "The page asks for the digit you have fewest of. Choose one yourself to draw it "
            "several times in a row."
        ),
    )
    return int(st.session_state[TARGET])


def _picked() -> None:
    if st.session_state.get(TARGET) is None:  # the chosen one clicked again: back to the page's
        st.session_state[PICKED] = False
        st.session_state[TARGET] = _next_target(personal_set())
    else:
        st.session_state[PICKED] = True


def save_button(x: np.ndarray | None, digit: int, drawing: np.ndarray | None) -> None:
    """Save the drawing as ``digit`` (disabled until there is something to save)."""
    st.button(
        _("Save as {digit}").format(digit=digit),
        type="primary",
        icon=":material/save:",
        disabled=x is None or bool(people.start_note()),
        on_click=_save,
        args=(x, digit, drawing, "digits"),
        help=people.start_note() or (None if x is not None else _("Draw the digit first.")),
        key="digits.save",
        width="stretch",
    )
    _show_error("save")


def guess(choice: ModelChoice, x: np.ndarray | None, digit: int) -> None:
    """What the model in use reads the drawing as: a hint of what fine-tuning should fix."""
    if x is None:
        return
    from mnist.sketch import classify
    from mnist.ui.loaders import model_for

    try:
        probs = classify(model_for(choice.key), x)
    except ValueError as exc:
        show_error(_("This model cannot be used: {error}").format(error=exc))
        return
    read = int(probs.argmax())
    share = i18n.percent(float(probs[read]), 0)
    if read == digit:
        st.caption(
            _("The model reads it as **{read}** ({share}): right already.").format(
                read=read, share=share
            )
        )
    else:
        st.warning(
            _(
                "The model reads it as **{read}** ({share}), not {digit}: just the kind of "
                "sample fine-tuning learns from."
            ).format(read=read, share=share, digit=digit),
            icon=":material/lightbulb:",
        )


def save_box(x: np.ndarray | None, drawing: np.ndarray | None, source: str) -> None:
    """The Sketch page's offer: keep a misread drawing as a sample of the right digit."""
    if x is None:
        return
    key = f"sketch.save_as.{source}"
    left, right = st.columns([2, 1], vertical_alignment="bottom")
    digit = left.selectbox(
        _("Wrong answer? Save it to My digits as"),
        list(range(NUM_CLASSES)),
        index=None,
        placeholder=_("the digit you meant"),
        key=key,
    )
    right.button(
        _("Save"),
        icon=":material/save:",
        disabled=digit is None or bool(people.start_note()),
        help=people.start_note(),
        on_click=_save,
        args=(x, digit, drawing, "sketch" if source == "canvas" else None, key),
        key=f"{key}.button",
        width="stretch",
    )
    _show_error("save")


def progress(samples: PersonalSet) -> None:
    """Samples per digit against what fine-tuning needs, and what is still missing."""
    st.altair_chart(personal_counts_chart(samples.counts(), MIN_PER_DIGIT), width="stretch")
    st.caption(
        _(
            "Every fifth sample of each digit is held out: fine-tuning never trains on it, and "
            "it shows whether fine-tuning helped. At least {min} of each digit are needed."
        ).format(min=MIN_PER_DIGIT)
    )


# -- browse, delete, relabel, move ---------------------------------------------------------
def _png_url(path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _delete(ids: list[str]) -> None:
    if _refused("table"):
        return
    samples = personal_set()
    for sample_id in ids:
        try:
            samples.delete(sample_id)
        except PersonalError as exc:
            _fail("table", exc)
    n = len(ids)
    st.toast(
        ngettext("Deleted {n} sample.", "Deleted {n} samples.", n).format(n=i18n.number(n)),
        icon=":material/delete:",
    )


def _relabel(ids: list[str], key: str) -> None:
    digit = st.session_state.get(key)
    if digit is None or _refused("table"):
        return
    samples = personal_set()
    for sample_id in ids:
        try:
            samples.relabel(sample_id, digit)
        except PersonalError as exc:
            _fail("table", exc)
    st.toast(
        _("Relabelled {n} as {digit}.").format(n=i18n.number(len(ids)), digit=digit),
        icon=":material/label:",
    )


SHOW = "digits.show"


def _show_all_if_none() -> None:
    if st.session_state.get(SHOW) is None:  # the chosen filter clicked again
        st.session_state[SHOW] = "all"


def browse(samples: PersonalSet) -> None:
    """Every sample, by digit: look, delete, relabel."""
    found = samples.samples()
    if not found:
        st.caption(_("Your samples appear here once you save some."))
        return
    st.session_state.setdefault(SHOW, "all")
    shown = st.segmented_control(
        _("Show"),
        ["all"] + list(range(NUM_CLASSES)),
        key=SHOW,
        on_change=_show_all_if_none,
        format_func=in_this_language(lambda v: _("all") if v == "all" else str(v)),
    )
    rows = [s for s in reversed(found) if shown in (None, "all") or s.digit == shown]
    # The columns' names are what the person reads (the column_config below uses them too).
    sample, digit, part, saved = _("sample"), _("digit"), _("part"), _("saved")
    held_out, train = _("held out"), pgettext("part of a set", "train")
    table = pd.DataFrame(
        {
            sample: [_png_url(s.path) for s in rows],
            digit: [s.digit for s in rows],
            part: [held_out if s.held_out else train for s in rows],
            saved: [pd.Timestamp(s.saved, unit="s") for s in rows],
        }
    )
    event = st.dataframe(
        table,
        hide_index=True,
        key=keyed_to("digits.table", [s.id for s in rows] + [s.digit for s in rows]),
        on_select="rerun",
        selection_mode="multi-row",
        row_height=48,
        column_config={
            sample: st.column_config.ImageColumn(sample, width="small"),
            digit: st.column_config.NumberColumn(width="small"),
            saved: st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
        },
    )
    chosen = [rows[i].id for i in (event or {}).get("selection", {}).get("rows", [])]
    if not chosen:
        st.caption(_("Select samples to delete them or give them another label."))
        return
    a, b, c = st.columns([1, 1, 1], vertical_alignment="bottom")
    n = len(chosen)
    with a.popover(_("Delete {n}").format(n=i18n.number(n)), icon=":material/delete:"):
        st.markdown(
            ngettext(
                "Delete {n} sample and the drawing they came from? This cannot be undone (a zip "
                "you downloaded keeps them).",
                "Delete {n} samples and the drawings they came from? This cannot be undone (a "
                "zip you downloaded keeps them).",
                n,
            ).format(n=i18n.number(n))
        )
        st.button(
            _("Delete for good"),
            type="primary",
            icon=":material/delete_forever:",
            on_click=_delete,
            args=(chosen,),
            key="digits.delete",
        )
    relabel_key = "digits.relabel_to"
    b.selectbox(
        _("Relabel as"),
        list(range(NUM_CLASSES)),
        index=None,
        key=relabel_key,
        placeholder=_("digit"),
    )
    c.button(
        _("Relabel"),
        icon=":material/label:",
        on_click=_relabel,
        args=(chosen, relabel_key),
        disabled=st.session_state.get(relabel_key) is None,
        key="digits.relabel",
    )
    _show_error("table")


def _import(key: str) -> None:
    upload = st.session_state.get(key)
    if upload is None or _refused("move"):
        return
    try:
        report = personal_set().import_zip(upload.getvalue())
    except PersonalError as exc:
        _fail("move", f"{upload.name}: {exc}")
        return
    n = report.added
    if report.already_there:
        text = ngettext(
            "Added {n} sample ({already} already here).",
            "Added {n} samples ({already} already here).",
            n,
        )
    else:
        text = ngettext("Added {n} sample.", "Added {n} samples.", n)
    st.toast(
        text.format(n=i18n.number(n), already=i18n.number(report.already_there)),
        icon=":material/upload:",
    )


def move(samples: PersonalSet) -> None:
    """Download the set as a zip; add the samples of a zip."""
    left, right = st.columns(2)
    root = samples.root
    left.download_button(
        _("Download your digits (.zip)"),
        data=lambda: PersonalSet(root).to_zip(),  # made when clicked, not on every rerun
        file_name="my-digits.zip",
        mime="application/zip",
        icon=":material/download:",
        on_click="ignore",
        disabled=not samples.samples(),
    )
    key = "digits.upload"
    with right:
        st.file_uploader(
            _("Add digits from a zip made here"),
            type=["zip"],
            key=key,
            max_upload_size=MAX_ZIP_BYTES // 2**20,
        )
        st.button(
            _("Add them"),
            icon=":material/upload:",
            on_click=_import,
            args=(key,),
            disabled=st.session_state.get(key) is None,
            key="digits.import",
        )
        _show_error("move")
    if people.current_person().signed_in:
        st.caption(
            _("Stored in `{root}` — they stay when you reload, switch pages or restart.").format(
                root=root
            )
        )


# -- fine-tune -----------------------------------------------------------------------------
def _start(choice: ModelChoice, token: int) -> None:
    if token != st.session_state.get(START_TOKEN, 0):
        return  # a second click on the same start
    st.session_state[START_TOKEN] = token + 1
    mode = st.session_state[MODE]
    try:
        base = finetune.resolve_base(run_id=choice.run_id)  # None: the bundled model
        train = finetune.default_train(mode, epochs=st.session_state[EPOCHS])
        samples = personal_set()
        path = people.start_as(
            lambda owner: finetune.create_finetune_run(base, samples, mode, train, owner=owner)
        )
        runs.launch(path)
    except access.NotAllowed as exc:
        _fail("finetune", exc)
        return
    except (OSError, PersonalError, runs.RunError, ValueError) as exc:
        _fail("finetune", _("Could not start fine-tuning: {error}").format(error=exc))
        return
    st.session_state[RUN] = path.name
    st.toast(
        _("Fine-tuning run {run_id} started.").format(run_id=path.name),
        icon=":material/play_arrow:",
    )


def _stop(run_id: str) -> None:
    try:
        runs.request_stop(runs.find_run(run_id).path, people.current_person())
    except (runs.RunError, access.NotAllowed) as exc:
        _fail("finetune", exc)


def latest_finetune(all_runs: list[runs.Run]) -> runs.Run | None:
    """This session's last fine-tuning run, else the person's newest (a visitor: anyone's)."""
    person = people.current_person()
    tuned = [
        r
        for r in all_runs
        if r.config.finetune is not None
        and (not person.signed_in or access.owner_of(r.config.owner) == person.id)
    ]
    mine = st.session_state.get(RUN)
    return next((r for r in tuned if r.run_id == mine), tuned[0] if tuned else None)


def _mode_name(mode: str) -> str:
    """A fine-tuning mode's name as shown (the mode itself, ``head``, stays English)."""
    names = {
        "head": pgettext("fine-tuning mode", "head"),
        "features": pgettext("fine-tuning mode", "features"),
        "all": pgettext("fine-tuning mode", "all"),
    }
    return names.get(mode, mode)


def finetune_controls(choice: ModelChoice, samples: PersonalSet, run: runs.Run | None) -> None:
    """Mode, epochs, Start and Stop."""
    st.session_state.setdefault(MODE, "features")
    st.session_state.setdefault(EPOCHS, finetune.EPOCHS)
    st.session_state.setdefault(START_TOKEN, 0)
    st.radio(
        _("What learns"),
        FINETUNE_MODES,
        key=MODE,
        format_func=in_this_language(
            lambda m: _("{mode} — {words}").format(
                mode=_mode_name(m), words=_(FINETUNE_MODE_WORDS[m])
            )
        ),
    )
    st.slider(_("Epochs"), 1, 30, key=EPOCHS)
    st.caption(
        _(
            "Each epoch mixes your training samples (augmented, a quarter of the images) with "
            "{replay} MNIST images, so the model learns your hand without forgetting MNIST. "
            "Starts from **{model}**."
        ).format(replay=i18n.number(finetune.REPLAY_IMAGES), model=choice.label)
    )
    problem = finetune.readiness(samples)
    if problem:
        st.info(problem, icon=":material/draw:")
    _show_error("finetune")
    live = run is not None and run.is_live
    left, right = st.columns(2)
    left.button(
        _("Fine-tune"),
        type="primary",
        icon=":material/play_arrow:",
        disabled=bool(problem) or live or bool(people.start_note()),
        on_click=_start,
        args=(choice, st.session_state[START_TOKEN]),
        help=_("Disabled while a fine-tuning run is live.") if live else people.start_note(),
        key="digits.start",
        width="stretch",
    )
    if live and people.may_change(run.config.owner):
        right.button(
            _("Stop"),
            icon=":material/stop:",
            on_click=_stop,
            args=(run.run_id,),
            key="digits.stop",
            width="stretch",
        )


def watch(run: runs.Run | None) -> None:
    """The fine-tuning run's live panel (the Training page's)."""
    if run is not None:
        run_panel(run)


def results(run: runs.Run | None) -> None:
    """Before and after: your held-out digits, per digit, and the MNIST test images."""
    if run is None or run.is_live:
        return
    evaluation = run.evaluation() or {}
    if "finetune" not in evaluation:
        return
    result = finetune.comparison(evaluation["finetune"])
    st.subheader(_("Did it help?"))
    if run.state == runs.STOPPED:
        done = run.status.epochs_completed or 0
        st.warning(
            ngettext(
                "This run was stopped after {done} complete epoch of {epochs}: the figures are "
                "of the model as it was then.",
                "This run was stopped after {done} complete epochs of {epochs}: the figures are "
                "of the model as it was then.",
                done,
            ).format(done=i18n.number(done), epochs=i18n.number(run.config.train.epochs)),
            icon=":material/stop_circle:",
        )
    a, b = st.columns(2)
    # The delta starts with its sign: st.metric colours it by that.
    points = _("{delta} points (was {before})")
    a.metric(
        ngettext("Your {n} held-out digit", "Your {n} held-out digits", result.count).format(
            n=i18n.number(result.count)
        ),
        i18n.percent(result.personal_after, 0),
        points.format(
            delta=_signed((result.personal_after - result.personal_before) * 100, 0),
            before=i18n.percent(result.personal_before, 0),
        ),
        help=_("Samples fine-tuning never trained on: the 5th, 10th, … of each digit you saved."),
    )
    b.metric(
        _("MNIST's 10,000 test images"),
        i18n.percent(result.mnist_after, 2),
        points.format(
            delta=_signed((result.mnist_after - result.mnist_before) * 100, 2),
            before=i18n.percent(result.mnist_before, 2),
        ),
        help=_("Whether the model kept what it knew."),
    )
    table = pd.DataFrame(
        [
            {
                _("digit"): r["digit"],
                _("held out"): r["samples"],
                _("right before"): f"{r['before']}/{r['samples']}",
                _("right after"): f"{r['after']}/{r['samples']}",
            }
            for r in result.per_digit
        ]
    )
    st.dataframe(table, hide_index=True)
    st.button(
        _("Use the fine-tuned model"),
        icon=":material/check:",
        on_click=_use,
        args=(run.run_id,),
        help=_("Evaluate, Sketch and Inside use it, and the next fine-tune starts from it."),
        key="digits.use",
    )


def _use(run_id: str) -> None:
    select_run(run_id)
    st.toast(
        _("Evaluate, Sketch, Inside and the next fine-tune now use run {run_id}.").format(
            run_id=run_id
        ),
        icon=":material/check:",
    )
