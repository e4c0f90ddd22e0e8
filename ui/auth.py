"""Who is using the app, with which role, and the checks every write action makes (issue #8).

Three modes, chosen from the configuration (``mode()``):

- **oidc** — ``[auth]`` in ``.streamlit/secrets.toml``: Streamlit's OpenID Connect login (``st.login``, needs
  ``streamlit[auth]``). The role comes from the users file's ``[oidc]`` mapping (emails, then groups), default
  viewer (``crm_core.auth.UsersFile.oidc_role``).
- **password** — a users file (``$CRM_LENS_USERS`` or ``.streamlit/users.toml``): a login form; passwords are
  checked against their scrypt hashes; the role is read from the file on every check, so a changed role or a
  removed user takes effect at once.
- **local** — neither: single-user local mode, the one user is admin, and the sidebar says so.

:func:`require` is called *inside* every function that carries out a write (``ui.data.save_cost_rates``,
``ui.data.prepare_pages``, the import and delete on the Data page, ``ui.review.save_targets``,
``ui.frameworks.save_assessment``); hiding a control (:func:`allowed`) is only the courtesy on top. Other code
calls ``ui.auth.require("apply_quality_fix")`` the same way (actions: ``crm_core.auth.PERMISSIONS``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import streamlit as st

from crm_core import auth
from crm_core.auth import PermissionDenied, User
from ui import state

log = logging.getLogger("crm_lens.auth")

__all__ = ["PermissionDenied", "User", "allowed", "current_user", "gate", "mode", "require", "sidebar_panel"]

# Session keys (widgets found by these in tests).
SESSION_USER = "_auth_user"  # the logged-in User (password mode); a frozen dataclass no widget can forge
LOGIN_FORM = "auth_login_form"
LOGIN_NAME = "auth_login_name"
LOGIN_PASSWORD = "auth_login_password"
LOGIN_ERROR = "_auth_login_error"
OIDC_LOGIN = "auth_oidc_login"  # button (one per provider: key + "_" + provider)
LOGOUT = "auth_logout"
USERS_FORM = "auth_users_form"
USERS_NAME = "auth_users_name"
USERS_ROLE = "auth_users_role"
USERS_PASSWORD = "auth_users_password"
USERS_REMOVE = "auth_users_remove"
USERS_REMOVE_BUTTON = "auth_users_remove_button"

LOCAL_USER = User(name="local user", role="admin", mode="local")
LOCAL_NOTICE = (
    "Single-user local mode: no login is configured, so you have every right (admin). For a shared server, add "
    "users with `python -m crm_core users add NAME --role admin` or configure OIDC login."
)
FAILED_LOGIN_DELAY_S = 0.5  # slows password guessing through the form


# ---------------------------------------------------------------------------- configuration
def _oidc_section() -> Mapping | None:
    try:
        if not st.secrets.load_if_toml_exists():
            return None
        section = st.secrets.get("auth")
    except Exception:  # noqa: BLE001 - an unreadable secrets file means no OIDC, as Streamlit itself treats it
        return None
    return section if section else None


def mode() -> str:
    """``oidc``, ``password`` or ``local`` (see the module doc)."""
    if _oidc_section() is not None:
        return "oidc"
    if auth.users_configured():
        return "password"
    return "local"


def _providers(section: Mapping) -> list[str | None]:
    """OIDC providers named in ``[auth.NAME]`` sections; ``[None]`` for the default provider."""
    named = [k for k, v in section.items() if isinstance(v, Mapping)]
    return named or [None]


# ---------------------------------------------------------------------------- the current user
def _session_user() -> User | None:
    value = st.session_state.get(SESSION_USER)
    return value if isinstance(value, User) else None


def current_user() -> User | None:
    """The user of this session with the role in force now, or None when nobody is logged in.

    Raises ``crm_core.auth.AuthError`` when the users file cannot be read (the app then refuses everyone)."""
    how = mode()
    if how == "local":
        return LOCAL_USER
    if how == "oidc":
        info = st.user
        if not info.get("is_logged_in"):
            return None
        email = info.get("email")
        groups = info.get("groups") or info.get("roles") or []
        if isinstance(groups, str):
            groups = [groups]
        users = auth.load_users() if auth.users_configured() else auth.UsersFile(path=auth.users_path())
        name = str(info.get("name") or email or "signed-in user")
        return User(name=name, role=users.oidc_role(email, list(groups)), mode="oidc", email=email)
    user = _session_user()
    if user is None:
        return None
    entry = auth.load_users().users.get(user.name)
    if entry is None:  # removed from the users file since logging in
        st.session_state.pop(SESSION_USER, None)
        return None
    return User(name=user.name, role=entry["role"], mode="password")


def allowed(action: str) -> bool:
    """Whether the current user may carry out ``action`` (for hiding controls; actions still call require)."""
    try:
        user = current_user()
    except auth.AuthError:
        return False
    return auth.role_allows(user.role if user else None, action)


def require(action: str) -> User:
    """Raise ``PermissionDenied`` unless the current user may carry out ``action``; return the user.

    Call it first thing in every function that writes, not only where its button is drawn."""
    try:
        user = current_user()
    except auth.AuthError as exc:
        raise PermissionDenied(f"{exc} Until it is fixed nobody may change anything.") from exc
    try:
        auth.check(user.role if user else None, action, who=user.name if user else None)
    except PermissionDenied:
        log.warning("refused %s to %s", action, f"{user.name} ({user.role})" if user else "nobody logged in")
        raise
    return user


# ---------------------------------------------------------------------------- login and logout
def login(name: str, password: str) -> User | None:
    """Check a name and password against the users file; on success the session is logged in."""
    user = auth.load_users().authenticate(name, password)
    if user is None:
        log.info("failed login for %r", (name or "")[:64])
        time.sleep(FAILED_LOGIN_DELAY_S)
        return None
    st.session_state[SESSION_USER] = user
    log.info("%s logged in (%s)", user.name, user.role)
    return user


def logout() -> None:
    if mode() == "oidc":
        st.logout()
        return
    st.session_state.pop(SESSION_USER, None)


def _login_page() -> None:
    st.title("CRM Lens")
    try:
        how = mode()
        if how == "oidc":
            _oidc_login(_oidc_section() or {})
        else:
            auth.load_users()  # a broken users file is reported before anyone types a password
            _password_login()
    except auth.AuthError as exc:
        log.error("users file: %s", exc)
        st.error(f"{exc} Nobody can log in until it is fixed.", icon=":material/error:")


def _oidc_login(section: Mapping) -> None:
    st.markdown("Log in with your organisation's account to see the dashboard.")
    for provider in _providers(section):
        label = f"Log in with {provider}" if provider else "Log in"
        key = OIDC_LOGIN if provider is None else f"{OIDC_LOGIN}_{provider}"
        if st.button(label, key=key, type="primary", icon=":material/login:"):
            st.login(provider) if provider else st.login()


def _password_login() -> None:
    st.markdown("Log in to see the dashboard. Ask an admin for an account.")
    with st.form(LOGIN_FORM, width=420):
        name = st.text_input("User name", key=LOGIN_NAME, autocomplete="username")
        password = st.text_input("Password", key=LOGIN_PASSWORD, type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in", type="primary", icon=":material/login:")
    if submitted:
        if login(name, password) is not None:
            st.session_state.pop(LOGIN_ERROR, None)
            st.rerun()
        st.session_state[LOGIN_ERROR] = True
    if st.session_state.get(LOGIN_ERROR):
        st.error("Wrong user name or password.", icon=":material/lock:")


def gate() -> User | None:
    """The logged-in user, or None (a broken users file counts as nobody logged in). Renders nothing: with
    None, the app builds its navigation hidden (so a deep link is still known) and shows :func:`login_page`
    instead of the page; after logging in, the page that was asked for opens."""
    try:
        return current_user()
    except auth.AuthError:
        return None


def login_page() -> None:
    """The login form (password mode), the login button(s) (OIDC), or why nobody can log in."""
    _login_page()


def sidebar_panel() -> None:
    """Who is logged in with which role, and Log out; in local mode the notice that nobody logs in."""
    user = current_user()
    with st.sidebar:
        st.divider()
        if user is None:
            return
        if user.mode == "local":
            st.caption(LOCAL_NOTICE)
            return
        st.caption(f"Logged in as **{user.name}** · role: **{user.role}**")
        if st.button("Log out", key=LOGOUT, icon=":material/logout:"):
            logout()
            st.rerun()


# ---------------------------------------------------------------------------- managing users (admins)
def save_user(name: str, role: str, password: str | None) -> None:
    """Add a user or change one's role (and password, when given) in the users file."""
    require("manage_users")
    auth.set_user(name, role, password or None)


def delete_user(name: str) -> None:
    me = require("manage_users")
    if name == me.name:
        raise auth.AuthError("You cannot remove yourself; ask another admin.")
    auth.remove_user(name)


def users_section() -> None:
    """The users file for admins in password mode: who has which role, add or change a user, remove one."""
    if mode() != "password" or not allowed("manage_users"):
        return
    st.subheader("Users")
    users = auth.load_users()
    st.caption(f"Users file: {users.path}. Viewers browse and download; analysts also import and edit; admins "
               "also delete datasets and manage users.")
    st.dataframe([{"User": n, "Role": e["role"]} for n, e in sorted(users.users.items())], hide_index=True)
    with st.form(USERS_FORM, clear_on_submit=True):
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("User name", key=USERS_NAME)
        role = c2.selectbox("Role", auth.ROLES, key=USERS_ROLE)
        password = c3.text_input("Password (empty: keep)", type="password", key=USERS_PASSWORD,
                                 help=f"At least {auth.MIN_PASSWORD} characters; a new user needs one.")
        if st.form_submit_button("Add or change the user", icon=":material/person_add:"):
            try:
                save_user(name, role, password)
            except (auth.AuthError, PermissionDenied) as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                state.flash("success", f"{name.strip()} is {role}.")
                st.rerun()
    others = [n for n in sorted(users.users)]
    if others:
        c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
        who = c1.selectbox("Remove a user", others, key=USERS_REMOVE)
        if c2.button(f"Remove {who}", key=USERS_REMOVE_BUTTON, icon=":material/person_remove:"):
            try:
                delete_user(who)
            except (auth.AuthError, PermissionDenied) as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                st.rerun()
