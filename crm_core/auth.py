"""Roles, permissions and the local users file (issue #8). No Streamlit here: ``ui/auth.py`` is the glue.

Roles, lowest first: **viewer** (browse every page, download tables and reports), **analyst** (also import,
map columns, apply quality fixes, edit cost rates and targets, save assessments) and **admin** (also delete
datasets and manage users). Which role an action needs is data: :data:`PERMISSIONS`. Every function that
carries out an action calls :func:`check` (through ``ui.auth.require`` in the app), so hiding a button is
never the only guard.

The users file (TOML; ``$CRM_LENS_USERS`` or ``.streamlit/users.toml``)::

    [users.maria]
    role = "analyst"
    password = "scrypt$16384$8$1$<salt, base64>$<key, base64>"

    [oidc]                      # only read when Streamlit's OIDC login is configured ([auth] in secrets.toml)
    default_role = "viewer"     # anyone the identity provider lets in who is not listed below
    [oidc.emails]
    "lead@example.com" = "admin"
    [oidc.groups]               # matched against the ID token's "groups" (or "roles") claim
    "crm-analysts" = "analyst"

Passwords are stored as scrypt keys (RFC 7914; n=2**14, r=8, p=1, 32 bytes) with a random 16-byte salt per
user, compared in constant time (``hmac.compare_digest``); an unknown user costs the same hash as a known one.
Add users with ``python -m crm_core users add NAME --role analyst`` (the password is read from stdin or asked).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROLES: tuple[str, ...] = ("viewer", "analyst", "admin")  # lowest first
_RANK = {r: i for i, r in enumerate(ROLES)}

# action -> (minimum role, what the action is, as the refusal message says it)
PERMISSIONS: dict[str, tuple[str, str]] = {
    "view": ("viewer", "browse the pages"),
    "download": ("viewer", "download tables and reports"),
    "import": ("analyst", "import files"),
    "map_columns": ("analyst", "map the columns of an upload"),
    "load_sample": ("analyst", "load the sample company"),
    "prepare_pages": ("analyst", "prepare the analysis pages of a dataset"),
    "apply_quality_fix": ("analyst", "apply data-quality fixes"),
    "edit_cost_rates": ("analyst", "edit cost rates"),
    "edit_targets": ("analyst", "edit targets"),
    "save_assessment": ("analyst", "save assessments"),
    "delete_dataset": ("admin", "delete datasets"),
    "manage_users": ("admin", "manage users"),
}

USERS_ENV = "CRM_LENS_USERS"
DEFAULT_USERS_FILE = Path(__file__).resolve().parents[1] / ".streamlit" / "users.toml"

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
MIN_PASSWORD = 8

# scrypt cost (RFC 7914 §2 recommends n=2**14 for interactive logins); ~50 ms and 16 MB per check.
SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES, SALT_BYTES = 2**14, 8, 1, 32, 16


class PermissionDenied(Exception):
    """The current user's role may not carry out this action; the message says which role it needs."""


class AuthError(Exception):
    """The users file or a user entry is wrong; the message says what to fix."""


# ---------------------------------------------------------------------------- roles
def role_allows(role: str | None, action: str) -> bool:
    """Whether ``role`` may carry out ``action`` (unknown roles may do nothing)."""
    need = _need(action)
    return role in _RANK and _RANK[role] >= _RANK[need]


def check(role: str | None, action: str, *, who: str | None = None) -> None:
    """Raise :class:`PermissionDenied` unless ``role`` may carry out ``action``.

    Unknown actions raise ``KeyError`` (a typo must never pass as allowed)."""
    if role_allows(role, action):
        return
    need, what = PERMISSIONS[action]
    if role is None:
        raise PermissionDenied(f"Log in to {what}: that needs the {need} role or higher.")
    subject = f"{who} ({role})" if who else f"The {role} role"
    raise PermissionDenied(
        f"{subject} may not {what}: that needs the {need} role or higher. Ask an admin to change your role."
    )


def _need(action: str) -> str:
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}; known: {', '.join(PERMISSIONS)}")
    return PERMISSIONS[action][0]


def actions_for(role: str) -> list[str]:
    """Every action ``role`` may carry out."""
    return [a for a in PERMISSIONS if role_allows(role, a)]


# ---------------------------------------------------------------------------- passwords
def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$key`` (salt and key base64) of a password, with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(key)]
    )


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches a stored hash; constant-time, and as slow for no hash as for a wrong one."""
    try:
        scheme, n, r, p, salt, key = (stored or "").split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        n, r, p = int(n), int(r), int(p)
        salt_b, key_b = base64.b64decode(salt), base64.b64decode(key)
    except ValueError:
        _scrypt(password, b"\0" * SALT_BYTES, SCRYPT_N, SCRYPT_R, SCRYPT_P)  # same cost as a real check
        return False
    candidate = _scrypt(password, salt_b, n, r, p, len(key_b))
    return hmac.compare_digest(candidate, key_b)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int = KEY_BYTES) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=64 * 1024 * 1024)


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


# ---------------------------------------------------------------------------- the users file
@dataclass(frozen=True)
class User:
    """Who is using the app. ``mode``: ``local`` (single-user, no login), ``password`` (users file) or ``oidc``."""

    name: str
    role: str
    mode: str = "password"
    email: str | None = None


@dataclass
class UsersFile:
    """The parsed users file: local users (name -> {role, password}) and the OIDC role mapping."""

    path: Path
    users: dict[str, dict] = field(default_factory=dict)
    oidc_default_role: str = "viewer"
    oidc_emails: dict[str, str] = field(default_factory=dict)
    oidc_groups: dict[str, str] = field(default_factory=dict)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when name and password match, else None (same cost either way)."""
        entry = self.users.get((name or "").strip())
        ok = verify_password(password or "", entry.get("password") if entry else None)
        if not ok or entry is None:
            return None
        return User(name=name.strip(), role=entry["role"], mode="password")

    def oidc_role(self, email: str | None, groups: list[str] | tuple[str, ...] = ()) -> str:
        """The role of someone the identity provider let in: by email, else the highest by group, else default."""
        if email and email.casefold() in self.oidc_emails:
            return self.oidc_emails[email.casefold()]
        roles = [self.oidc_groups[g] for g in groups if g in self.oidc_groups]
        return max(roles, key=_RANK.__getitem__) if roles else self.oidc_default_role


def users_path() -> Path:
    """``$CRM_LENS_USERS`` when set, else ``.streamlit/users.toml`` beside ``app.py``."""
    env = os.environ.get(USERS_ENV)
    return Path(env) if env else DEFAULT_USERS_FILE


def users_configured() -> bool:
    """Whether a users file is in force: ``$CRM_LENS_USERS`` is set (even to a missing file, which then fails
    closed in :func:`load_users`) or ``.streamlit/users.toml`` exists."""
    return bool(os.environ.get(USERS_ENV)) or DEFAULT_USERS_FILE.exists()


def _role(value, where: str) -> str:
    if value not in _RANK:
        raise AuthError(f"{where}: role must be one of {', '.join(ROLES)}, not {value!r}.")
    return value


def load_users(path: str | Path | None = None) -> UsersFile:
    """Read and check the users file. Raises :class:`AuthError` naming the file and the entry to fix."""
    path = Path(path) if path is not None else users_path()
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AuthError(
            f"The users file {path} does not exist; create it with `python -m crm_core users add NAME --role admin` "
            f"or unset {USERS_ENV}."
        ) from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AuthError(f"The users file {path} cannot be read: {exc}") from exc
    users: dict[str, dict] = {}
    for name, entry in (doc.get("users") or {}).items():
        where = f"{path}: [users.{name}]"
        if not isinstance(entry, dict):
            raise AuthError(f"{where} must be a table with role and password.")
        if not NAME_PATTERN.match(name):
            raise AuthError(f"{where}: user names are letters, digits and . _ @ + - (up to 64).")
        users[name] = {"role": _role(entry.get("role"), where), "password": str(entry.get("password") or "")}
    oidc = doc.get("oidc") or {}
    return UsersFile(
        path=path,
        users=users,
        oidc_default_role=_role(oidc.get("default_role", "viewer"), f"{path}: [oidc] default_role"),
        oidc_emails={
            str(k).casefold(): _role(v, f"{path}: [oidc.emails] {k}") for k, v in (oidc.get("emails") or {}).items()
        },
        oidc_groups={str(k): _role(v, f"{path}: [oidc.groups] {k}") for k, v in (oidc.get("groups") or {}).items()},
    )


def _toml_str(text: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes (\" \\ \n \uXXXX …).
    return json.dumps(text, ensure_ascii=False)


def dump_users(users: UsersFile) -> str:
    """The users file as TOML text (the inverse of :func:`load_users`)."""
    lines = ["# CRM Lens users: python -m crm_core users add NAME --role viewer|analyst|admin", ""]
    for name in sorted(users.users):
        entry = users.users[name]
        lines += [f"[users.{_toml_str(name)}]", f"role = {_toml_str(entry['role'])}",
                  f"password = {_toml_str(entry['password'])}", ""]
    lines += ["[oidc]", f"default_role = {_toml_str(users.oidc_default_role)}", ""]
    if users.oidc_emails:
        lines.append("[oidc.emails]")
        lines += [f"{_toml_str(k)} = {_toml_str(v)}" for k, v in sorted(users.oidc_emails.items())]
        lines.append("")
    if users.oidc_groups:
        lines.append("[oidc.groups]")
        lines += [f"{_toml_str(k)} = {_toml_str(v)}" for k, v in sorted(users.oidc_groups.items())]
        lines.append("")
    return "\n".join(lines)


def save_users(users: UsersFile) -> None:
    """Write the users file atomically (a temporary file renamed over it), readable by its owner only."""
    users.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = users.path.with_name(f".{users.path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(dump_users(users))
    os.replace(tmp, users.path)


def _existing_or_new(path: str | Path | None) -> UsersFile:
    path = Path(path) if path is not None else users_path()
    return load_users(path) if path.exists() else UsersFile(path=path)


def set_user(name: str, role: str, password: str | None, *, path: str | Path | None = None) -> UsersFile:
    """Add a user or change one's role and/or password (``password=None`` keeps the old one)."""
    name = (name or "").strip()
    if not NAME_PATTERN.match(name):
        raise AuthError(f"{name!r} is not a valid user name: letters, digits and . _ @ + - (up to 64).")
    _role(role, f"user {name}")
    users = _existing_or_new(path)
    entry = users.users.get(name)
    if password is None and entry is None:
        raise AuthError(f"{name} is a new user and needs a password.")
    if password is not None and len(password) < MIN_PASSWORD:
        raise AuthError(f"The password must have at least {MIN_PASSWORD} characters.")
    users.users[name] = {"role": role, "password": hash_password(password) if password is not None
                         else entry["password"]}
    save_users(users)
    return users


def remove_user(name: str, *, path: str | Path | None = None) -> UsersFile:
    users = _existing_or_new(path)
    if name not in users.users:
        raise AuthError(f"There is no user {name!r} in {users.path}.")
    del users.users[name]
    save_users(users)
    return users
