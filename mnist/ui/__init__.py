"""The only Streamlit-aware code: cached loaders, session-state accessors, small widgets.

Pages import from here; nothing in here imports TensorFlow at module level, so the home page
stays fast. Functions that need a model import it when called.
"""

from pathlib import Path

from mnist.ui import language as _language  # noqa: F401 - makes i18n follow the session
from mnist.ui.loaders import (
    data_counts,
    dataset,
    dataset_stats,
    model_for,
    model_scores,
    model_summary,
)
from mnist.ui.state import (
    ModelChoice,
    current_model_choice,
    follow_model,
    get_model_config,
    get_train_config,
    init_session,
    pop_intended_page,
    require_router,
    select_run,
    set_model_config,
    set_train_config,
)
from mnist.ui.widgets import digit_grid, page_header, show_error

ICON = Path(__file__).resolve().parent / "icon.png"  # the browser tab's icon

__all__ = [
    "ICON",
    "ModelChoice",
    "current_model_choice",
    "dataset",
    "data_counts",
    "dataset_stats",
    "digit_grid",
    "follow_model",
    "get_model_config",
    "get_train_config",
    "init_session",
    "model_for",
    "model_summary",
    "page_header",
    "pop_intended_page",
    "require_router",
    "select_run",
    "set_model_config",
    "set_train_config",
    "show_error",
    "model_scores",
]
