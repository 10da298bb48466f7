"""Training: hyper-parameters, Start/Stop, live charts of the run on disk, run history."""

from mnist import runs
from mnist.i18n import _
from mnist.ui import page_header, require_router
from mnist.ui.history import run_history
from mnist.ui.train_panel import run_panel, settings_form, start_stop, watched_run

require_router("pages/train.py")

page_header(
    _("Training"),
    _(
        "Each run trains in its own process and writes its progress to disk: "
        "switch pages, reload or open a second tab — the run goes on."
    ),
)
settings_form()
all_runs, _problems = runs.list_runs()  # the history below shows the problems
watched = watched_run(all_runs)
start_stop(watched, all_runs)
run_panel(watched)
run_history(any(r.is_live for r in all_runs))
