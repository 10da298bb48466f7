"""The classroom rules: who a person is, who may change what, quotas, retention, settings."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from mnist import access, runs, sweeps
from mnist.access import ANONYMOUS, NotAllowed, Person, Policy
from mnist.personal import OWNER, PersonalSet, resolve_personal_dir
from tests.conftest import made_run

ALICE = Person("alice@school.example", "header")
BOB = Person("bob@school.example", "header")
TEACHER = Person("teacher@school.example", "header", admin=True)


@pytest.fixture(autouse=True)
def _no_settings_file(monkeypatch):
    monkeypatch.delenv(access.CONFIG_ENV, raising=False)


# -- settings ------------------------------------------------------------------------------------
def test_no_settings_file_means_one_person_with_the_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    policy = access.load_policy()
    assert policy == Policy() and policy.max_live_runs == 2 and policy.keep_runs == 0


def test_a_settings_file_is_read(tmp_path):
    path = tmp_path / "classroom.toml"
    path.write_text(
        'sign_in = "header"\ntrusted_header = "X-Forwarded-Email"\n'
        'admins = ["Teacher@School.example"]\nmax_live_runs = 1\nkeep_runs = 5\n'
    )
    policy = access.load_policy(path)
    assert policy.sign_in == "header" and policy.trusted_header == "X-Forwarded-Email"
    assert policy.is_admin("teacher@school.example") and not policy.is_admin("alice")
    assert (policy.max_live_runs, policy.keep_runs) == (1, 5)


@pytest.mark.parametrize(
    "text, message",
    [
        ('sign_in = "ldap"', "sign_in must be one of none, oidc, header"),
        ('sign_in = "header"', 'needs trusted_header = "<header name>"'),
        ('trusted_header = "X Bad"', "is not a header name"),
        ("max_live_runs = 0", "max_live_runs must be at least 1"),
        ("keep_runs = -1", "keep_runs cannot be negative"),
        ('max_live_runs = "2"', "max_live_runs must be a int"),
        ("max_live_runs = true", "max_live_runs must be a int"),
        ("admins = [1]", "admins must be a list of names"),
        ("admin = []", "unknown setting 'admin'"),
        ("sign_in = ", "is not valid TOML"),
    ],
)
def test_wrong_settings_are_refused_in_one_sentence(tmp_path, text, message):
    path = tmp_path / "classroom.toml"
    path.write_text(text + "\n")
    with pytest.raises(access.AccessError, match=message) as caught:
        access.load_policy(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value).strip()


def test_a_named_settings_file_must_exist(tmp_path, monkeypatch):
    monkeypatch.setenv(access.CONFIG_ENV, str(tmp_path / "nope.toml"))
    with pytest.raises(access.AccessError, match="no such classroom settings file"):
        access.load_policy()


# -- who a person is ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "address, loopback",
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        (None, False),
        ("192.168.1.20", False),
        ("school.example", False),
    ],
)
def test_loopback_addresses(address, loopback):
    assert access.is_loopback(address) is loopback


def test_without_sign_in_the_person_on_localhost_is_the_machines_user():
    person = access.resolve_person(Policy(), "localhost")
    assert person.id == access.local_user() and person.how == "local" and person.admin
    assert access.mode(Policy(), "localhost") == "local"


@pytest.mark.parametrize("address", [None, "0.0.0.0", "192.168.1.20"])
def test_without_sign_in_a_server_on_the_network_is_a_public_demo(address):
    assert access.resolve_person(Policy(), address) == ANONYMOUS
    assert access.mode(Policy(), address) == "public demo"


def test_public_makes_even_localhost_a_demo():
    policy = Policy(public=True)  # behind a proxy that does not authenticate
    assert access.resolve_person(policy, "localhost") == ANONYMOUS
    assert access.mode(policy, "localhost") == "public demo"


def test_the_trusted_header_names_the_person_and_its_absence_makes_a_visitor():
    policy = Policy(sign_in="header", trusted_header="X-User", admins=frozenset({"teacher"}))
    alice = access.resolve_person(policy, "localhost", " Alice ")
    assert alice == Person("alice", "header", admin=False)
    assert access.resolve_person(policy, "localhost", "Teacher").admin
    for odd in (None, "", "   ", "a\x00b", "x" * 500):
        assert access.resolve_person(policy, "localhost", odd) == ANONYMOUS  # never the local user
    assert access.mode(policy, "localhost") == "sign-in"


def test_oidc_sign_in_uses_the_e_mail_address():
    policy = Policy(sign_in="oidc", admins=frozenset({"teacher@school.example"}))
    signed = {"is_logged_in": True, "email": "Alice@School.example", "name": "Alice"}
    person = access.resolve_person(policy, "0.0.0.0", oidc_user=signed)
    assert person == Person("alice@school.example", "oidc", False, "Alice")
    assert person.shown == "Alice"
    teacher = {"is_logged_in": True, "email": "teacher@school.example"}
    assert access.resolve_person(policy, "0.0.0.0", oidc_user=teacher).admin
    assert access.resolve_person(policy, "localhost", oidc_user={"is_logged_in": False}) == (
        ANONYMOUS
    )
    assert access.resolve_person(policy, "localhost", oidc_user=None) == ANONYMOUS


# -- who may change what --------------------------------------------------------------------------
def test_only_the_owner_or_an_admin_may_stop_delete_or_pin_a_run(runs_dir):
    path = made_run(owner=ALICE.id, state=runs.RUNNING)
    for action in (
        lambda p: runs.request_stop(path, p),
        lambda p: runs.set_pinned(path, True, p),
    ):
        with pytest.raises(NotAllowed, match=f"belongs to {ALICE.id}. Only they or an admin"):
            action(BOB)
        with pytest.raises(NotAllowed, match="Sign in to"):
            action(ANONYMOUS)
    assert not (path / runs.STOP_FILE).exists() and not (path / access.PINNED).exists()
    assert runs.request_stop(path, ALICE) is True
    runs.write_json_atomic(path / runs.STATUS, {"state": runs.DONE, "heartbeat": time.time()})
    with pytest.raises(NotAllowed):
        runs.delete_run(path, BOB)
    assert path.exists()
    runs.set_pinned(path, True, TEACHER)  # an admin may do everything
    assert runs.is_pinned(runs.load_run(path))
    runs.delete_run(path, TEACHER)
    assert not path.exists()


def test_runs_record_their_owner_and_the_cli_owns_its_own(runs_dir):
    mine = runs.load_run(made_run())  # the CLI's: no owner given
    assert mine.config.owner == access.local_user()
    assert runs.load_run(made_run(owner=ALICE.id)).config.owner == ALICE.id
    assert runs.history_row(runs.load_run(made_run(owner=ALICE.id)))["by"] == ALICE.id
    # the library's default person is the machine's user, who may change anything
    theirs = made_run(owner=ALICE.id, state=runs.DONE)
    runs.delete_run(theirs)
    assert not theirs.exists()


def test_a_run_made_before_owners_were_recorded_is_the_machines_users(runs_dir):
    path = made_run(state=runs.DONE)
    config = runs.read_json(path / runs.CONFIG)
    del config["owner"]
    config["format_version"] = 4
    runs.write_json_atomic(path / runs.CONFIG, config)
    run = runs.load_run(path)
    assert run.config.owner is None and access.owner_of(run.config.owner) == access.local_user()
    with pytest.raises(NotAllowed, match=f"belongs to {access.local_user()}"):
        runs.delete_run(path, ALICE)


def test_only_the_owner_or_an_admin_may_stop_a_sweep(runs_dir):
    spec = sweeps.new_spec(
        "fast", [sweeps.Param.parse("learning_rate=choice:0.001,0.003")], 2, owner=ALICE.id
    )
    path = sweeps.create_sweep(spec)
    state = sweeps.SweepState(state=sweeps.RUNNING, pid=None, heartbeat=time.time())
    runs.write_json_atomic(path / sweeps.STATE, state.to_dict())
    assert sweeps.load_sweep(path).spec.owner == ALICE.id
    with pytest.raises(NotAllowed, match="stop sweep"):
        sweeps.request_stop(path, BOB)
    assert not sweeps.stop_requested(path)
    assert sweeps.request_stop(path, TEACHER) is True


# -- fair share -----------------------------------------------------------------------------------
def test_the_live_limit_counts_a_persons_runs_and_sweeps_not_others(runs_dir):
    policy = Policy(max_live_runs=2)
    made_run(owner=ALICE.id, state=runs.RUNNING)
    made_run(owner=ALICE.id, state=runs.DONE)  # finished: does not count
    made_run(owner=BOB.id, state=runs.RUNNING)  # someone else's
    trial = {"id": "20261203-000000-beef", "trial": 0, "values": {}}
    made_run(owner=ALICE.id, state=runs.RUNNING, sweep=trial)  # a trial: counted as its sweep
    access.check_quota(ALICE, policy, runs.list_runs()[0])  # 1 of 2: allowed
    queued = made_run(owner=ALICE.id)  # queued (no status yet) counts
    with pytest.raises(NotAllowed) as caught:
        access.check_quota(ALICE, policy, runs.list_runs()[0])
    message = str(caught.value)
    assert message.startswith("You already have 2 live or queued (run ")
    assert f"run {queued.name}" in message and "this server allows 2 per person" in message
    access.check_quota(BOB, policy, runs.list_runs()[0])  # Bob has one
    access.check_quota(TEACHER, Policy(max_live_runs=1), runs.list_runs()[0])  # admins: no limit
    with pytest.raises(NotAllowed, match="Sign in to train"):
        access.check_quota(ANONYMOUS, policy, [])


def test_two_starts_at_once_cannot_both_pass_the_limit(runs_dir):
    policy = Policy(max_live_runs=3)
    made, refused = [], []

    def start() -> None:
        with access.start_lock(runs_dir):
            try:
                access.check_quota(ALICE, policy, runs.list_runs()[0])
            except NotAllowed:
                refused.append(1)
                return
            made.append(made_run(owner=ALICE.id))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(made) == 3 and len(refused) == 5


# -- retention ------------------------------------------------------------------------------------
def test_retention_keeps_each_persons_newest_and_anything_pinned_in_use_live_or_a_trial(runs_dir):
    now = time.time()
    alice = [made_run(owner=ALICE.id, state=runs.DONE, created=now - 100 + i) for i in range(5)]
    bob = [made_run(owner=BOB.id, state=runs.STOPPED, created=now - 100 + i) for i in range(3)]
    live = made_run(owner=ALICE.id, state=runs.RUNNING, created=now - 1000)
    trial = made_run(owner=ALICE.id, state=runs.DONE, created=now - 2000,
                 sweep={"id": "s", "trial": 0, "values": {}})  # fmt: skip
    runs.set_pinned(alice[0], True, ALICE)
    assert runs.apply_retention(0) == []  # keep_runs 0: keep everything
    removed = runs.apply_retention(2, in_use=(alice[1].name,))
    # Alice: the newest two (alice[4], alice[3]) stay, alice[0] pinned, alice[1] in use;
    # alice[2] goes. Bob: bob[0] goes.
    assert sorted(removed) == sorted([alice[2].name, bob[0].name])
    assert all(p.exists() for p in (alice[0], alice[1], alice[3], alice[4], bob[1], bob[2]))
    assert live.exists() and trial.exists()
    assert runs.apply_retention(2, in_use=(alice[1].name,)) == []  # settled
    assert not list(runs_dir.glob(".deleting-*"))


# -- personal sets --------------------------------------------------------------------------------
def test_each_person_has_their_own_digits(runs_dir):
    x = np.zeros((28, 28, 1), np.float32)
    alice, bob = PersonalSet.of(ALICE.id), PersonalSet.of(BOB.id)
    assert alice.root != bob.root and alice.root.parent == bob.root.parent
    alice.add(x, 3)
    assert len(alice.samples()) == 1 and bob.samples() == []
    assert alice.owner == ALICE.id and (alice.root / OWNER).exists()
    mine = PersonalSet.of(None)  # the machine's user's: the usual folder
    assert mine.root == resolve_personal_dir() and mine.samples() == []
    assert mine.owner == access.local_user()
    # a name that slugs alike is still another folder
    assert access.person_slug("a.b@x") != access.person_slug("a-b@x")
