"""Who is using this session, and what they may change: the classroom rules of
``mnist.access`` applied to Streamlit's sign-in (``st.login`` / ``st.user``), the request's
headers (a trusted proxy's) and the address the server listens on."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mnist import access, runs
from mnist.i18n import _

T = TypeVar("T")
# Retention runs at most this often (and at a server's first page): it lists every run.
TIDY_SECONDS = 60.0


def _policy_file() -> tuple[access.Policy, str | None]:
    """The classroom settings, or the safest ones (nobody may change anything) and why."""
    try:
        return access.load_policy(), None
    except access.AccessError as exc:
        # Wrong settings must not open the server: everyone is a visitor until they are fixed.
        return access.Policy(public=True), str(exc)


def policy() -> access.Policy:
    return _policy_file()[0]


def _auth_section() -> dict | None:
    try:
        return dict(st.secrets["auth"])
    except Exception:  # no secrets.toml, or no [auth] in it (Streamlit raises several kinds)
        return None


def settings_error() -> str | None:
    """Why this server's sign-in settings cannot work (shown to everyone), or None."""
    pol, error = _policy_file()
    if error:
        return _("The classroom settings are wrong, so no one can change anything: {error}").format(
            error=error
        )
    if pol.sign_in == "oidc" and _auth_section() is None:
        return _(
            'classroom.toml says sign_in = "oidc", but .streamlit/secrets.toml has no [auth] '
            "section: no one can sign in (see the README's Classroom section)."
        )
    return None


def server_address() -> str | None:
    return st.get_option("server.address")


def current_person() -> access.Person:
    """The person this session's request comes from."""
    pol, error = _policy_file()
    if error:
        return access.ANONYMOUS
    header = st.context.headers.get(pol.trusted_header) if pol.trusted_header else None
    oidc = None
    if pol.sign_in == "oidc":
        try:
            oidc = st.user.to_dict()
        except Exception:  # no [auth] configured: nobody is signed in
            oidc = None
    return access.resolve_person(pol, server_address(), header, oidc)


def mode() -> str:
    """ "local", "sign-in" or "public demo" (``access.mode``)."""
    return access.mode(policy(), server_address())


def why_not(owner: str | None = None, person: access.Person | None = None) -> str | None:
    """Why the current person may not change what ``owner`` made (None: the person's own, or
    they are an admin), in words for a disabled control's help; None when they may."""
    person = current_person() if person is None else person
    try:
        access.check_may_change(person, owner, "do this")
    except access.NotAllowed:
        if not person.signed_in:
            return access.why_not_signed_in(mode())
        return _("This belongs to {owner}: only they or an admin can change it.").format(
            owner=access.owner_of(owner)
        )
    return None


def may_change(owner: str | None) -> bool:
    return access.may_change(current_person(), owner)


def check_start(person: access.Person) -> None:
    """Raise ``access.NotAllowed`` when ``person`` may not start a run or sweep now."""
    from mnist import sweeps

    access.check_quota(person, policy(), runs.list_runs()[0], sweeps.list_sweeps()[0])


def start_note() -> str | None:
    """For a visitor: why Start is off (shown beside it)."""
    if current_person().signed_in:
        return None
    return access.why_not_signed_in(mode())


def identity() -> None:
    """The sidebar's line on who you are, with Sign in / Sign out where that applies."""
    problem = settings_error()
    if problem:
        st.sidebar.error(problem, icon=":material/lock:")
        return
    person, how = current_person(), mode()
    with st.sidebar:
        if how == "local":
            return  # one person on their own machine: nothing to say
        if person.signed_in:
            signed_in = (
                _(":material/person: Signed in as **{name}** (admin)")
                if person.admin
                else _(":material/person: Signed in as **{name}**")
            )
            st.caption(signed_in.format(name=person.shown))
            if person.how == "oidc":
                st.button(_("Sign out"), icon=":material/logout:", on_click=st.logout)
        elif how == "public demo":
            st.caption(_(":material/visibility: Public demo: look, sketch and evaluate."))
        elif policy().sign_in == "oidc":
            st.button(_("Sign in"), icon=":material/login:", on_click=_login, type="primary")
        else:
            st.caption(_(":material/visibility: Not signed in: look, sketch and evaluate."))


def _login() -> None:
    auth = _auth_section() or {}
    providers = [k for k, v in auth.items() if isinstance(v, dict) and "client_id" in v]
    if "client_id" in auth or not providers:
        st.login()
    else:
        st.login(providers[0])


# -- runs in use and retention --------------------------------------------------------------------
@st.cache_resource
def _in_use() -> dict[str, str]:
    """Server-wide: session id → the run its Evaluate and Sketch pages use (kept by retention)."""
    return {}


@st.cache_resource
def _tidied() -> dict[str, float]:
    return {"at": 0.0}


def note_in_use(run_id: str | None) -> None:
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    if run_id:
        _in_use()[ctx.session_id] = run_id
    else:
        _in_use().pop(ctx.session_id, None)


def tidy_runs() -> list[str]:
    """Apply the retention policy (``keep_runs``) at the server's first page and then at most
    every ``TIDY_SECONDS``; the run ids removed."""
    keep = policy().keep_runs
    last = _tidied()
    if keep <= 0 or (last["at"] and time.monotonic() - last["at"] < TIDY_SECONDS):
        return []
    last["at"] = time.monotonic()
    return runs.apply_retention(keep, tuple(_in_use().values()))


def start_as(create: Callable[[str], T]) -> T:
    """Run ``create(owner_id)`` (which makes a run or sweep) for the current person once the
    classroom rules allow it: signed in, under their limit of live work. The check and the
    creation hold one lock, so two tabs pressing Start at once cannot both pass. Raises
    ``access.NotAllowed`` with the sentence to show."""
    person = current_person()
    with access.start_lock(runs.resolve_runs_dir()):
        check_start(person)
        return create(person.id)
