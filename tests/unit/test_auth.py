"""Roles, permissions and the users file (crm_core.auth, issue #8)."""

from __future__ import annotations

import io
import os
import stat

import pytest

from crm_core import auth, cli
from crm_core.auth import PERMISSIONS, ROLES, AuthError, PermissionDenied


def test_roles_are_ordered_and_every_action_has_a_known_role():
    assert ROLES == ("viewer", "analyst", "admin")
    assert {need for need, _ in PERMISSIONS.values()} <= set(ROLES)


@pytest.mark.parametrize(("role", "allowed"), [
    ("viewer", {"view", "download"}),
    ("analyst", {"view", "download", "import", "map_columns", "load_sample", "prepare_pages", "apply_quality_fix",
                 "edit_cost_rates", "edit_targets", "save_assessment"}),
    ("admin", set(PERMISSIONS)),
])
def test_what_each_role_may_do(role, allowed):
    assert set(auth.actions_for(role)) == allowed
    for action in set(PERMISSIONS) - allowed:
        with pytest.raises(PermissionDenied, match="needs the (analyst|admin) role"):
            auth.check(role, action)


def test_nobody_and_unknown_roles_may_do_nothing():
    with pytest.raises(PermissionDenied, match="Log in"):
        auth.check(None, "view")
    with pytest.raises(PermissionDenied):
        auth.check("superuser", "view")


def test_an_unknown_action_is_an_error_not_a_pass():
    with pytest.raises(KeyError):
        auth.check("admin", "delete_everything")


def test_password_hashes_are_salted_and_verified():
    a, b = auth.hash_password("correct horse"), auth.hash_password("correct horse")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert auth.verify_password("correct horse", a)
    assert not auth.verify_password("correct hors", a)
    assert not auth.verify_password("correct horse", "plain-text")
    assert not auth.verify_password("x", None)


def test_users_file_round_trip_and_permissions(tmp_path):
    path = tmp_path / "users.toml"
    auth.set_user("ann", "viewer", "ann-password", path=path)
    auth.set_user("bob@example.com", "admin", "bob-password", path=path)
    auth.set_user("ann", "analyst", None, path=path)  # role only, password kept
    users = auth.load_users(path)
    assert {n: e["role"] for n, e in users.users.items()} == {"ann": "analyst", "bob@example.com": "admin"}
    assert users.authenticate("ann", "ann-password").role == "analyst"
    assert users.authenticate("ann", "wrong-password") is None
    assert users.authenticate("nobody", "ann-password") is None
    assert "ann-password" not in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    auth.remove_user("ann", path=path)
    assert "ann" not in auth.load_users(path).users


@pytest.mark.parametrize(("name", "role", "password", "match"), [
    ("ann", "root", "long-enough", "role must be one of"),
    ("a b", "viewer", "long-enough", "not a valid user name"),
    ('x"]\n[users.evil', "admin", "long-enough", "not a valid user name"),
    ("ann", "viewer", "short", "at least 8"),
    ("ann", "viewer", None, "needs a password"),
])
def test_bad_user_entries_are_refused(tmp_path, name, role, password, match):
    with pytest.raises(AuthError, match=match):
        auth.set_user(name, role, password, path=tmp_path / "users.toml")


def test_a_broken_users_file_is_refused_with_its_path(tmp_path):
    path = tmp_path / "users.toml"
    path.write_text('[users.ann]\nrole = "owner"\npassword = "x"\n')
    with pytest.raises(AuthError, match="role must be one of"):
        auth.load_users(path)
    path.write_text("[users\n")
    with pytest.raises(AuthError, match="cannot be read"):
        auth.load_users(path)
    with pytest.raises(AuthError, match="does not exist"):
        auth.load_users(tmp_path / "missing.toml")


def test_oidc_roles_by_email_then_group_then_default(tmp_path):
    users = auth.UsersFile(path=tmp_path / "u.toml", oidc_emails={"lead@x.com": "admin"},
                           oidc_groups={"crm-analysts": "analyst", "crm-admins": "admin"})
    auth.save_users(users)
    users = auth.load_users(users.path)
    assert users.oidc_role("Lead@X.com") == "admin"
    assert users.oidc_role("a@x.com", ["crm-analysts"]) == "analyst"
    assert users.oidc_role("a@x.com", ["crm-analysts", "crm-admins"]) == "admin"
    assert users.oidc_role("a@x.com", ["other"]) == "viewer"


def test_users_configured_by_env(tmp_path, monkeypatch):
    monkeypatch.setenv(auth.USERS_ENV, str(tmp_path / "u.toml"))
    assert auth.users_configured()
    assert auth.users_path() == tmp_path / "u.toml"


def test_cli_users_add_list_remove(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-password\n"))
    assert cli.main(["users", "add", "ann", "--role", "analyst", "--file", str(path)]) == 0
    assert auth.load_users(path).authenticate("ann", "a-good-password").role == "analyst"
    assert cli.main(["users", "list", "--file", str(path)]) == 0
    assert "ann: analyst" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["users", "add", "bob", "--role", "viewer", "--file", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: The password must have at least 8 characters."]
    assert cli.main(["users", "remove", "ann", "--file", str(path)]) == 0
    assert cli.main(["users", "remove", "ann", "--file", str(path)]) == 2
