"""A classroom in Chromium: two people signed in through a trusted proxy header, a public demo
on the network, and the address a dashboard listens on by default."""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect

from benchmarks.dashboard import Dashboard
from mnist import access, runs
from tests.conftest import made_run, non_loopback_listeners
from tests.e2e.conftest import (
    ARTIFACTS,
    _require_chromium,
    click_start,
    exceptions,
    go,
    open_page,
    select_rows,
    stop_all_runs,
    wait_state,
)
from tests.e2e.test_browser import prediction, stroke

HEADER = "X-Forwarded-User"
STOP = re.compile(r"\bStop$")
CHANGES = re.compile(r"\b(Delete|Pin|Unpin)\b")


def _server(tmp_path, name: str, settings: str | None, address: str = "127.0.0.1") -> Dashboard:
    _require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {}
    if settings is not None:
        path = tmp_path / "classroom.toml"
        path.write_text(settings)
        env[access.CONFIG_ENV] = str(path)
    srv = Dashboard(tmp_path / "runs", ARTIFACTS / f"{name}-server.log", address=address, env=env)
    srv.wait_healthy()
    return srv


def _person(browser, who: str | None):
    """A browser (a context) whose requests the proxy has signed as ``who``."""
    headers = {HEADER: who} if who else {}
    size = {"width": 1400, "height": 1000}
    context = browser.new_context(viewport=size, extra_http_headers=headers)
    return context, context.new_page()


def _select_first_history_row(pg) -> None:
    select_rows(pg, pg.locator("[data-testid='stDataFrame']").first, numbers=[1])


def _keep_artifacts(request, srv: Dashboard, pages: list) -> None:
    report = getattr(request.node, "stash_report", None)
    if report is not None and report.failed:
        for i, pg in enumerate(pages):
            pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{i}.png"), full_page=True)
        shutil.copy(srv.log_path, ARTIFACTS / f"{request.node.name}-server.log")


def test_two_people_see_each_others_runs_but_change_only_their_own(browser, tmp_path, request):
    srv = _server(
        tmp_path,
        "classroom",
        f'sign_in = "header"\ntrusted_header = "{HEADER}"\nmax_live_runs = 1\n',
    )
    # The test holds the one training slot: every run waits, queued and live, however fast
    # or slow the machine (nothing trains, nothing finishes before the test looks).
    slot = runs.SlotLock(srv.runs_dir, "the-test-holds-the-slot", 1)
    srv.runs_dir.mkdir(parents=True, exist_ok=True)
    assert slot.try_acquire()
    contexts, pages = [], []
    try:
        ctx_a, alice = _person(browser, "alice")
        ctx_b, bob = _person(browser, "bob")
        contexts, pages = [ctx_a, ctx_b], [alice, bob]

        open_page(alice, srv, "train")
        expect(alice.locator("[data-testid='stSidebar']")).to_contain_text("Signed in as alice")
        run_id = click_start(alice, srv)
        run = wait_state(srv, run_id, runs.LIVE_STATES)
        assert run.config.owner == "alice"

        # Bob sees Alice's live run, with no Stop; her row in the history, with no Delete.
        open_page(bob, srv, "train")
        expect(bob.locator("[data-testid='stSidebar']")).to_contain_text("Signed in as bob")
        expect(bob.locator("h4").filter(has_text=f"Run {run_id}").first).to_be_visible()
        expect(bob.get_by_text(f"Run {run_id} is alice's.")).to_be_visible()
        assert bob.get_by_role("button", name=STOP).count() == 0
        _select_first_history_row(bob)
        expect(bob.get_by_text("This belongs to alice: only they or an admin can")).to_be_visible()
        assert bob.get_by_role("button", name=CHANGES).count() == 0
        expect(bob.get_by_role("button", name=re.compile("Watch this run"))).to_be_enabled()

        # Through the library, Bob is refused too, and nothing changes on disk.
        bob_person = access.Person("bob", "header")
        with pytest.raises(access.NotAllowed, match="belongs to alice"):
            runs.request_stop(run.path, bob_person)
        with pytest.raises(access.NotAllowed, match="belongs to alice"):
            runs.set_pinned(run.path, True, bob_person)
        assert not (run.path / runs.STOP_FILE).exists()

        # Bob's first run queues; his second meets the limit, in one sentence.
        mine = click_start(bob, srv)
        assert runs.find_run(mine, srv.runs_dir).config.owner == "bob"
        start = bob.get_by_role("button", name=re.compile("Start training"))
        expect(start).to_be_enabled()  # his run is waiting for the slot, not starting
        before = {r.run_id for r in runs.list_runs(srv.runs_dir)[0]}
        start.click()
        limit = f"You already have 1 live or queued (run {mine}): this server allows 1 per"
        expect(bob.get_by_text(limit)).to_be_visible()
        assert {r.run_id for r in runs.list_runs(srv.runs_dir)[0]} == before

        # Alice stops her own run.
        alice.get_by_role("button", name=STOP).click()
        assert wait_state(srv, run_id, runs.FINAL_STATES).state == runs.STOPPED
        assert exceptions(alice) == [] and exceptions(bob) == []
    finally:
        _keep_artifacts(request, srv, pages)
        slot.release()
        stop_all_runs(srv)
        for context in contexts:
            context.close()
        srv.close()


def test_a_public_demo_lets_anyone_look_and_sketch_but_change_nothing(browser, tmp_path, request):
    # Listening on every interface with no sign-in set up: the public demo. The test talks to
    # it over loopback only.
    srv = _server(tmp_path, "demo", None, address="0.0.0.0")
    context, pg = _person(browser, None)
    try:
        assert srv.port in {port for _, port in non_loopback_listeners()}  # on the network
        done = made_run(state=runs.DONE, runs_dir=srv.runs_dir)

        open_page(pg, srv, "train")
        expect(pg.locator("[data-testid='stSidebar']")).to_contain_text("Public demo")
        expect(pg.get_by_text("This server is a public demo").first).to_be_visible()
        expect(pg.get_by_role("button", name=re.compile("Start training"))).to_be_disabled()
        _select_first_history_row(pg)
        assert pg.get_by_role("button", name=CHANGES).count() == 0

        go(pg, "Sketch")  # sketching works for everyone
        stroke(pg, [(60, 50), (220, 50)])
        stroke(pg, [(220, 50), (120, 250)])
        assert prediction(pg) == "7"
        save = pg.locator(".st-key-sketch-save_as-canvas-button button").first
        expect(save).to_be_disabled()

        go(pg, "My digits")
        expect(pg.get_by_text("This server is a public demo").first).to_be_visible()
        expect(pg.locator(".st-key-digits-save button").first).to_be_disabled()
        go(pg, "Sweep")
        expect(pg.locator(".st-key-sweep-start button").first).to_be_disabled()
        assert exceptions(pg) == []
        assert done.exists() and runs.list_runs(srv.runs_dir)[0][0].run_id == done.name
    finally:
        _keep_artifacts(request, srv, [pg])
        context.close()
        srv.close()


def test_the_dashboard_listens_on_loopback_only_by_default(tmp_path):
    # No --server.address: what .streamlit/config.toml says, as `streamlit run app.py` does.
    srv = Dashboard(tmp_path / "runs", ARTIFACTS / "default-address-server.log", address=None)
    try:
        srv.wait_healthy()  # it answers on 127.0.0.1…
        assert srv.port not in {port for _, port in non_loopback_listeners()}  # …and only there
    finally:
        srv.close()


def test_people_sign_in_with_st_login_and_each_owns_their_own(browser, tmp_path, request):
    """The real st.login flow against an OpenID Connect provider on loopback
    (tests/e2e/oidc_provider.py): Sign in, the provider's redirect back, the person's name in
    the sidebar, their run recorded as theirs, Sign out."""
    from benchmarks.dashboard import free_port
    from tests.e2e.oidc_provider import Provider

    provider = Provider()
    port = free_port()
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(provider.secrets_toml(f"http://127.0.0.1:{port}/oauth2callback"))
    (tmp_path / "classroom.toml").write_text('sign_in = "oidc"\nmax_live_runs = 1\n')
    srv = Dashboard(
        tmp_path / "runs",
        ARTIFACTS / "oidc-server.log",
        env={access.CONFIG_ENV: str(tmp_path / "classroom.toml")},
        args=("--secrets.files", str(secrets_file)),
        port=port,
    )
    srv.wait_healthy()
    slot = runs.SlotLock(srv.runs_dir, "the-test-holds-the-slot", 1)  # runs stay queued
    srv.runs_dir.mkdir(parents=True, exist_ok=True)
    assert slot.try_acquire()
    context, pg = _person(browser, None)
    try:
        open_page(pg, srv, "train")
        sidebar = pg.locator("[data-testid='stSidebar']")
        expect(pg.get_by_role("button", name=re.compile("Start training"))).to_be_disabled()
        provider.next_email = "Carol@School.example"
        sidebar.get_by_role("button", name=re.compile("Sign in")).click()
        expect(sidebar).to_contain_text("Signed in as Carol", timeout=60_000)
        assert provider.tokens_issued == 1
        go(pg, "Training")
        run_id = click_start(pg, srv)
        assert runs.find_run(run_id, srv.runs_dir).config.owner == "carol@school.example"
        expect(pg.get_by_role("button", name=STOP)).to_be_visible()  # hers to stop
        sidebar.get_by_role("button", name=re.compile("Sign out")).click()
        expect(sidebar.get_by_role("button", name=re.compile("Sign in"))).to_be_visible()
        go(pg, "Training")
        expect(pg.get_by_role("button", name=re.compile("Start training"))).to_be_disabled()
        assert pg.get_by_role("button", name=STOP).count() == 0
        assert exceptions(pg) == []
    finally:
        _keep_artifacts(request, srv, [pg])
        slot.release()
        stop_all_runs(srv)
        context.close()
        srv.close()
        provider.close()
