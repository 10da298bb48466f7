"""Who may do what on a shared server: people, owners, admins, quotas and retention.

A class shares one dashboard. Everyone sees every run (a class learns from each other's), but
only the person who started a run (or sweep), or an admin, may stop, delete or pin it; each
person has their own set of handwritten digits. Who a person is comes from the server's
sign-in (``st.login``, or a header set by an authenticating reverse proxy), worked out by
``mnist.ui.people``; this module holds the rules, so the CLI, the library and the tests share
them. The settings are ``.streamlit/classroom.toml`` (or the file ``$MNIST_CLASSROOM`` names)::

    sign_in = "none"            # "none", "oidc" (st.login) or "header" (a trusted proxy's)
    trusted_header = "X-Forwarded-Email"   # the header naming the person, with sign_in = "header"
    public = false              # true: no one is the machine's own user, even on localhost
    admins = ["teacher@school.example"]    # may stop, delete and pin anyone's runs
    max_live_runs = 2           # live or queued runs and sweeps per person (admins: no limit)
    keep_runs = 0               # finished runs kept per person, newest first (0: all)

With ``sign_in = "none"`` the person at a dashboard that listens on loopback only (the
default) is the machine's own user, like the CLI's; a dashboard that listens on the network
without sign-in is a *public demo*: anyone may look, sketch and evaluate, no one may change.
No Streamlit, no TensorFlow.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import ipaddress
import os
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mnist import i18n
from mnist.i18n import N_, _

CONFIG_ENV = "MNIST_CLASSROOM"  # the settings file, instead of .streamlit/classroom.toml
CONFIG_FILE = Path(".streamlit") / "classroom.toml"
SIGN_IN = ("none", "oidc", "header")
DEFAULT_MAX_LIVE = 2
MAX_ID_CHARS = 200  # a person's id as a header or a sign-in claim gives it
PINNED = "PINNED"  # an empty file in a run folder: retention keeps the run


class AccessError(Exception):
    """The classroom settings are wrong; the message is one sentence for the person."""


class NotAllowed(Exception):
    """This person may not do this; the message says why and who may."""


@dataclass(frozen=True)
class Policy:
    """``classroom.toml`` as read (every field has a default: no file means a single user)."""

    sign_in: str = "none"
    trusted_header: str | None = None
    public: bool = False
    admins: frozenset[str] = frozenset()
    max_live_runs: int = DEFAULT_MAX_LIVE
    keep_runs: int = 0
    source: str | None = None  # the file it came from

    def is_admin(self, person_id: str | None) -> bool:
        return person_id is not None and normal_id(person_id) in self.admins


FIELDS = {
    "sign_in": str,
    "trusted_header": str,
    "public": bool,
    "admins": list,
    "max_live_runs": int,
    "keep_runs": int,
}


def config_path(path: str | os.PathLike | None = None) -> Path:
    """The argument, else ``$MNIST_CLASSROOM``, else ``.streamlit/classroom.toml`` here."""
    return Path(path or os.environ.get(CONFIG_ENV) or CONFIG_FILE)


def load_policy(path: str | os.PathLike | None = None) -> Policy:
    """The classroom settings; no file (at the default place) means the defaults."""
    where = config_path(path)
    explicit = bool(path or os.environ.get(CONFIG_ENV))
    try:
        data = tomllib.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if explicit:
            raise AccessError(
                _("{file}: no such classroom settings file").format(file=where)
            ) from None
        return Policy()
    except (OSError, UnicodeDecodeError) as exc:
        raise AccessError(
            _("{file}: cannot be read ({error})").format(file=where, error=type(exc).__name__)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise AccessError(
            _("{file} is not valid TOML: {error}").format(file=where, error=exc)
        ) from None
    return policy_from_dict(data, str(where))


SETTINGS = N_("the classroom settings")  # where settings given as a dict came from


def policy_from_dict(data: dict, source: str = SETTINGS) -> Policy:
    # The messages are built where they are raised: in a dashboard session, its language.
    where = _(source)
    for key, value in data.items():
        kind = FIELDS.get(key)
        if kind is None:
            known = ", ".join(FIELDS)
            raise AccessError(
                _("{file}: unknown setting {key} (known: {known})").format(
                    file=where, key=repr(key), known=known
                )
            )
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise AccessError(
                _("{file}: {key} must be a {kind}, not {value}").format(
                    file=where, key=key, kind=kind.__name__, value=repr(value)
                )
            )
    sign_in = data.get("sign_in", "none")
    if sign_in not in SIGN_IN:
        raise AccessError(
            _("{file}: sign_in must be one of {choices}, not {value}").format(
                file=where, choices=", ".join(SIGN_IN), value=repr(sign_in)
            )
        )
    header = (data.get("trusted_header") or "").strip() or None
    if sign_in == "header" and not header:
        raise AccessError(
            _('{file}: sign_in = "header" needs trusted_header = "<header name>"').format(
                file=where
            )
        )
    if header and not re.fullmatch(r"[A-Za-z0-9-]+", header):
        raise AccessError(
            _("{file}: trusted_header {header} is not a header name").format(
                file=where, header=repr(header)
            )
        )
    admins = data.get("admins", [])
    if not all(isinstance(a, str) and a.strip() for a in admins):
        raise AccessError(
            _("{file}: admins must be a list of names or e-mail addresses").format(file=where)
        )
    for key in ("max_live_runs", "keep_runs"):
        if data.get(key, 0) < 0:
            raise AccessError(_("{file}: {key} cannot be negative").format(file=where, key=key))
    if data.get("max_live_runs") == 0:
        raise AccessError(_("{file}: max_live_runs must be at least 1").format(file=where))
    return Policy(
        sign_in=sign_in,
        trusted_header=header,
        public=bool(data.get("public", False)),
        admins=frozenset(normal_id(a) for a in admins),
        max_live_runs=data.get("max_live_runs", DEFAULT_MAX_LIVE),
        keep_runs=data.get("keep_runs", 0),
        source=source,
    )


# -- people --------------------------------------------------------------------------------------
def normal_id(value: str) -> str:
    """A person's id as compared: trimmed, and lower case (e-mail addresses and user names
    are not told apart by case)."""
    return value.strip().lower()


def local_user() -> str:
    """The machine's own user (who runs the CLI): the login name."""
    with contextlib.suppress(Exception):
        return normal_id(getpass.getuser())
    return f"uid-{os.getuid()}"


@dataclass(frozen=True)
class Person:
    """Who is using the dashboard or the library right now."""

    id: str | None  # None: an anonymous visitor
    how: str  # "local" (the machine's user), "oidc", "header" or "anonymous"
    admin: bool = False
    name: str | None = None  # how to greet them, if the sign-in says

    @property
    def signed_in(self) -> bool:
        return self.id is not None

    @property
    def shown(self) -> str:
        return self.name or self.id or _("a visitor")


ANONYMOUS = Person(None, "anonymous")


def local_person() -> Person:
    """The machine's own user: owner of the CLI's runs, and allowed everything (whoever runs
    commands on the machine can change the runs folder's files anyway)."""
    return Person(local_user(), "local", admin=True)


def is_loopback(address: str | None) -> bool:
    """Whether a server address (``server.address``) accepts connections from this machine
    only. Unset or empty means every interface."""
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to, assume it is reachable


def valid_id(value: str | None) -> str | None:
    """A person's id from a header or a sign-in claim, or None when it is empty or odd
    (control characters, absurd length): such a request is treated as anonymous."""
    if value is None:
        return None
    value = normal_id(value)
    if not value or len(value) > MAX_ID_CHARS or not value.isprintable():
        return None
    return value


def resolve_person(
    policy: Policy,
    server_address: str | None,
    header_value: str | None = None,
    oidc_user: dict | None = None,
) -> Person:
    """Who the person making a request is, from the server's settings and what the request
    carries. ``oidc_user``: ``st.user`` as a dict (``is_logged_in``, ``email``, ``name``…)."""
    if policy.sign_in == "header":
        pid = valid_id(header_value)
        return Person(pid, "header", policy.is_admin(pid)) if pid else ANONYMOUS
    if policy.sign_in == "oidc":
        user = oidc_user or {}
        if not user.get("is_logged_in"):
            return ANONYMOUS
        pid = valid_id(user.get("email") or user.get("sub"))
        if pid is None:
            return ANONYMOUS
        return Person(pid, "oidc", policy.is_admin(pid), user.get("name") or None)
    if is_loopback(server_address) and not policy.public:
        return local_person()
    return ANONYMOUS


def mode(policy: Policy, server_address: str | None) -> str:
    """How the server is run: "local" (one person, this machine), "sign-in" (people sign
    in; visitors who have not see a demo) or "public demo" (no one may change anything)."""
    if policy.sign_in != "none":
        return "sign-in"
    return "local" if is_loopback(server_address) and not policy.public else "public demo"


# -- ownership -----------------------------------------------------------------------------------
def owner_of(recorded: str | None) -> str:
    """Who owns a record: as recorded, or for one made before owners were recorded, the
    machine's own user (the only person who could make one then)."""
    return normal_id(recorded) if recorded else local_user()


def may_change(person: Person | None, owner: str | None) -> bool:
    """Whether ``person`` may stop, delete or pin what ``owner`` made. None: the machine's
    own user (the CLI)."""
    person = local_person() if person is None else person
    if not person.signed_in:
        return False
    return person.admin or person.id == owner_of(owner)


# The refusals of ``check_may_change``, one whole sentence per action its callers name
# ("stop run X", "delete run X", "pin run X", "unpin run X", "stop sweep X"), so that each
# language can word it: (for a visitor, for someone who is not the owner).
_ACTION = re.compile(r"(stop|delete|pin|unpin) (run|sweep) (\S+)")
REFUSALS = {
    ("stop", "run"): (
        N_("Sign in to stop run {id}: visitors can look, sketch and evaluate."),
        N_("You cannot stop run {id}: it belongs to {owner}. Only they or an admin can."),
    ),
    ("delete", "run"): (
        N_("Sign in to delete run {id}: visitors can look, sketch and evaluate."),
        N_("You cannot delete run {id}: it belongs to {owner}. Only they or an admin can."),
    ),
    ("pin", "run"): (
        N_("Sign in to pin run {id}: visitors can look, sketch and evaluate."),
        N_("You cannot pin run {id}: it belongs to {owner}. Only they or an admin can."),
    ),
    ("unpin", "run"): (
        N_("Sign in to unpin run {id}: visitors can look, sketch and evaluate."),
        N_("You cannot unpin run {id}: it belongs to {owner}. Only they or an admin can."),
    ),
    ("stop", "sweep"): (
        N_("Sign in to stop sweep {id}: visitors can look, sketch and evaluate."),
        N_("You cannot stop sweep {id}: it belongs to {owner}. Only they or an admin can."),
    ),
}
REFUSAL_ANY = (  # any other action, as its caller words it (English)
    N_("Sign in to {action}: visitors can look, sketch and evaluate."),
    N_("You cannot {action}: it belongs to {owner}. Only they or an admin can."),
)


def check_may_change(person: Person | None, owner: str | None, action: str) -> None:
    """Raise ``NotAllowed`` when ``person`` may not ``action`` (e.g. "stop run X"); the
    message is in the language of the call (a dashboard session's, else English)."""
    if may_change(person, owner):
        return
    match = _ACTION.fullmatch(action)
    refusals = REFUSALS.get((match[1], match[2])) if match else None
    visitor, other = refusals or REFUSAL_ANY
    fields = {"id": match[3] if match else "", "action": action, "owner": owner_of(owner)}
    if person is None or not person.signed_in:
        raise NotAllowed(_(visitor).format(**fields))
    raise NotAllowed(_(other).format(**fields))


def why_not_signed_in(how: str) -> str:
    """The sentence a visitor reads where a control that changes things would be."""
    if how == "public demo":
        return _(
            "This server is a public demo: anyone can look, sketch and evaluate, but training, "
            "stopping and deleting need a signed-in user (see the README's Classroom section)."
        )
    return _("Sign in to train, stop and delete runs, and to keep your own digits.")


def person_slug(person_id: str) -> str:
    """A folder name for a person: readable, and distinct for distinct ids."""
    readable = re.sub(r"[^a-z0-9]+", "-", person_id.lower()).strip("-")[:40] or "person"
    return f"{readable}-{hashlib.sha256(person_id.encode()).hexdigest()[:8]}"


# -- fair share ----------------------------------------------------------------------------------
@contextlib.contextmanager
def start_lock(root: Path) -> Iterator[None]:
    """Held while one person's quota is checked and their run created, so two tabs clicking
    Start at once cannot both pass the check."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".start.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def live_work(person_id: str, runs: Iterable, sweeps: Iterable = ()) -> list[str]:
    """What ``person_id`` has live or queued: their runs outside sweeps, and their sweeps
    (a sweep counts once, however many trials it runs)."""
    mine = [
        _("run {id}").format(id=r.run_id)
        for r in runs
        if r.is_live and not r.config.sweep and owner_of(r.config.owner) == person_id
    ]
    mine += [
        _("sweep {id}").format(id=s.sweep_id)
        for s in sweeps
        if s.is_live and owner_of(s.spec.owner) == person_id
    ]
    return mine


def check_quota(person: Person, policy: Policy, runs: Iterable, sweeps: Iterable = ()) -> None:
    """Raise ``NotAllowed`` when ``person`` may not start anything more now."""
    if not person.signed_in:
        raise NotAllowed(_("Sign in to train: visitors can look, sketch and evaluate."))
    if person.admin:
        return
    live = live_work(person.id, runs, sweeps)
    limit = policy.max_live_runs
    if len(live) >= limit:
        raise NotAllowed(
            _(
                "You already have {n} live or queued ({what}): this server allows {limit} per "
                "person. Stop one, or wait for one to finish."
            ).format(n=i18n.number(len(live)), what=", ".join(live), limit=i18n.number(limit))
        )


# -- retention -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Retention:
    """Which finished runs a retention pass removes, and why the others stay."""

    remove: list = field(default_factory=list)  # Run objects
    kept: int = 0


def retention(runs: Iterable, keep: int, in_use: Iterable[str] = ()) -> Retention:
    """Of each person's finished runs, newest first, the ones past the newest ``keep`` that
    are neither pinned nor in use by a page. Live runs and sweep trials (a sweep is kept
    whole) are never removed; ``keep`` 0 removes nothing."""
    if keep <= 0:
        return Retention()
    in_use = set(in_use)
    by_owner: dict[str, list] = {}
    for run in runs:
        if run.is_live or run.config.sweep:
            continue
        by_owner.setdefault(owner_of(run.config.owner), []).append(run)
    remove, kept = [], 0
    for owned in by_owner.values():
        owned.sort(key=lambda r: (r.config.created, r.run_id), reverse=True)
        for i, run in enumerate(owned):
            if i < keep or run.run_id in in_use or (run.path / PINNED).exists():
                kept += 1
            else:
                remove.append(run)
    return Retention(remove, kept)
