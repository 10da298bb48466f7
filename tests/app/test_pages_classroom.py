"""A shared dashboard under AppTest: people signed in (``st.user``), visitors, wrong settings,
the live-work limit and retention, page by page."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from mnist import access, runs
from mnist.ui import people
from mnist.ui.history import table_key
from tests.app.conftest import APP
from tests.conftest import made_run

AUTH = {  # what st.login needs in secrets.toml; never contacted under AppTest
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "not-a-secret",
    "client_id": "studio",
    "client_secret": "x",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


@pytest.fixture
def classroom(tmp_path, monkeypatch):
    """Write the classroom settings (``classroom("max_live_runs = 1", …)``) and name them."""

    def write(*lines: str) -> None:
        path = tmp_path / "classroom.toml"
        path.write_text("\n".join(lines) + "\n")
        monkeypatch.setenv(access.CONFIG_ENV, str(path))

    return write


def _session(page: str, user: dict | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.secrets["auth"] = AUTH
    if user is not None:
        at.user = user
    at.run()
    assert not at.exception, at.exception
    if page != "home":
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, at.exception
    return at


def _signed_in(email: str) -> dict:
    return {"is_logged_in": True, "email": email, "name": email.split("@")[0].title()}


def _select_history_row(at: AppTest, run_ids: list[str], row: int) -> None:
    at.session_state[table_key(run_ids)] = {"selection": {"rows": [row], "columns": []}}
    at.run()
    assert not at.exception, at.exception


def _sidebar(user: dict | None) -> str:
    """The sidebar's words and buttons, as the router draws them (AppTest's page switches run
    the page alone, so the router's sidebar shows on the home page)."""
    at = _session("home", user)
    return " ".join([c.value for c in at.sidebar.caption] + [b.label for b in at.sidebar.button])


def _labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def _texts(at: AppTest) -> str:
    kinds = ("caption", "markdown", "info", "error")
    return " ".join(e.value for kind in kinds for e in at.get(kind))


ALICE, BOB, TEACHER = "alice@school.example", "bob@school.example", "teacher@school.example"


def test_a_person_sees_anothers_runs_but_cannot_stop_or_delete_them(classroom):
    classroom('sign_in = "oidc"', "max_live_runs = 1", f'admins = ["{TEACHER}"]')
    done = made_run(ALICE, runs.DONE, created=time.time() - 60)
    live = made_run(ALICE, runs.RUNNING)
    assert "Signed in as **Bob**" in _sidebar(_signed_in(BOB))
    assert "Sign out" in _sidebar(_signed_in(BOB))
    at = _session("train", _signed_in(BOB))
    assert at.session_state["train.run"] == live.name  # the live run is shown…
    assert "Stop" not in _labels(at)  # …without a Stop
    assert f"Run {live.name} is {ALICE}'s." in _texts(at)
    history = at.dataframe[0].value
    assert list(history["by"]) == [ALICE, ALICE]
    _select_history_row(at, [live.name, done.name], 1)  # Alice's finished run
    assert not [label for label in _labels(at) if "Delete" in label or "Pin" in label]
    assert f"This belongs to {ALICE}: only they or an admin can change it." in _texts(at)
    assert "Use for Evaluate and Sketch" in _labels(at)  # a class learns from each other
    assert done.exists() and not (live / runs.STOP_FILE).exists()


def test_the_owner_stops_pins_and_deletes_their_own_and_an_admin_anyones(classroom):
    classroom('sign_in = "oidc"', f'admins = ["{TEACHER}"]')
    done = made_run(ALICE, runs.DONE, created=time.time() - 60)
    live = made_run(ALICE, runs.RUNNING)
    at = _session("train", _signed_in(ALICE))
    next(b for b in at.button if b.label == "Stop").click().run()
    assert not at.exception, at.exception
    assert (live / runs.STOP_FILE).exists()
    _select_history_row(at, [live.name, done.name], 1)
    next(b for b in at.button if b.label == "Pin").click().run()
    assert (done / access.PINNED).exists()
    next(b for b in at.button if b.label == "Delete for good").click().run()
    assert not at.exception, at.exception
    assert not done.exists()

    other = made_run(BOB, runs.DONE)
    assert "(admin)" in _sidebar(_signed_in(TEACHER))
    teacher = _session("train", _signed_in(TEACHER))
    runs_now = [r.run_id for r in runs.list_runs()[0]]
    _select_history_row(teacher, runs_now, runs_now.index(other.name))
    next(b for b in teacher.button if b.label == "Delete for good").click().run()
    assert not other.exists()


def test_the_live_limit_is_met_with_one_clear_sentence(classroom):
    classroom('sign_in = "oidc"', "max_live_runs = 1")
    mine = made_run(BOB)  # queued: counts
    at = _session("train", _signed_in(BOB))
    before = {r.run_id for r in runs.list_runs()[0]}
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        f"You already have 1 live or queued (run {mine.name}): this server allows 1 per "
        "person. Stop one, or wait for one to finish."
    ]
    assert {r.run_id for r in runs.list_runs()[0]} == before  # nothing started
    at.run()
    assert not at.error  # said once, where the person pressed Start


@pytest.mark.parametrize(
    "settings, user, says",
    [
        (['sign_in = "oidc"'], {"is_logged_in": False}, "Sign in to train"),
        (["public = true"], None, "This server is a public demo"),
    ],
    ids=["not-signed-in", "public-demo"],
)
def test_a_visitor_can_look_and_sketch_but_not_change_anything(classroom, settings, user, says):
    classroom(*settings)
    theirs = made_run(access.local_user(), runs.DONE)
    at = _session("train", user)
    start = next(b for b in at.button if b.label == "Start training")
    assert start.disabled and says in _texts(at)
    _select_history_row(at, [theirs.name], 0)
    assert not [label for label in _labels(at) if "Delete" in label or "Pin" in label]
    assert ("Sign in" if user else "Public demo") in _sidebar(user)
    at.switch_page("pages/digits.py").run()
    assert not at.exception, at.exception
    assert at.button(key="digits.save").disabled and says in _texts(at)
    at.switch_page("pages/sweep.py").run()
    assert at.button(key="sweep.start").disabled and says in _texts(at)
    for page in ("sketch", "evaluate"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, at.exception
    assert theirs.exists()


def test_wrong_settings_lock_the_server_and_say_why(classroom):
    classroom('sign_in = "ldap"')
    (error,) = [e.value for e in _session("home", None).sidebar.error]
    at = _session("train", None)
    assert error.startswith("The classroom settings are wrong, so no one can change anything:")
    assert "sign_in must be one of none, oidc, header" in error
    assert next(b for b in at.button if b.label == "Start training").disabled


def test_retention_runs_when_the_server_first_shows_a_page(classroom):
    classroom("keep_runs = 1")
    now = time.time()
    old = [made_run(access.local_user(), runs.DONE, created=now - 100 + i) for i in range(3)]
    pinned = made_run(access.local_user(), runs.STOPPED, created=now - 500)
    (pinned / access.PINNED).touch()
    people._tidied.clear()  # a server's first page
    _session("home", None)
    assert [p.exists() for p in old] == [False, False, True] and pinned.exists()
