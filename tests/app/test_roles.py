"""Roles in the app (issue #8): the login form, hidden controls AND the checks inside the write actions.

Each role test logs in through the real form (``ui.auth``) against a users file of its own
(``CRM_LENS_USERS``); the action tests call the functions that carry out the writes inside a script run
(AppTest.from_function) after logging in with ``ui.auth.login``, and compare store snapshots.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from crm_core import auth as core_auth
from ui import auth, state

from .conftest import APP, TIMEOUT
from .test_data_page import DATA_PAGE, ORDERS, assert_clean, import_into_new, upload

PASSWORDS = {"vera": "viewer-pass-1", "ana": "analyst-pass-1", "adam": "admin-pass-1"}
ROLES = {"vera": "viewer", "ana": "analyst", "adam": "admin"}


@pytest.fixture
def users_file(tmp_path, monkeypatch):
    path = tmp_path / "users.toml"
    for name, password in PASSWORDS.items():
        core_auth.set_user(name, ROLES[name], password, path=path)
    monkeypatch.setenv(core_auth.USERS_ENV, str(path))
    return path


def login_app(name: str, password: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert [t.value for t in at.title] == ["CRM Lens"]  # the login page, nothing else
    at.text_input(key=auth.LOGIN_NAME).input(name)
    at.text_input(key=auth.LOGIN_PASSWORD).input(password if password is not None else PASSWORDS[name])
    at.button[0].click().run()  # the form's submit button
    return at


def sidebar_text(at) -> str:
    return " ".join(str(c.value) for c in at.sidebar.caption) + " " + " ".join(str(m.value) for m in at.sidebar.markdown)


# ---------------------------------------------------------------------------- modes and login
def test_local_mode_is_admin_and_says_so(app):
    assert_clean(app)
    assert "Single-user local mode" in sidebar_text(app)
    assert auth.mode() == "local"
    app.switch_page(DATA_PAGE).run()
    assert app.file_uploader(key=state.UPLOAD) is not None


def test_login_form_refuses_a_wrong_password(db_path, users_file):
    at = login_app("adam", "not-the-password")
    assert_clean(at)
    assert any("Wrong user name or password" in e.value for e in at.error)
    assert [t.value for t in at.title] == ["CRM Lens"]
    assert not at.selectbox  # no dataset picker: nothing of the dashboard is shown
    assert auth.SESSION_USER not in at.session_state


def test_unknown_user_is_refused_like_a_wrong_password(db_path, users_file):
    at = login_app("mallory", "whatever-pass")
    assert any("Wrong user name or password" in e.value for e in at.error)


def test_a_missing_users_file_fails_closed(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv(core_auth.USERS_ENV, str(tmp_path / "nope.toml"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert any("does not exist" in e.value for e in at.error)
    assert not at.selectbox


def test_viewer_sees_pages_without_write_controls(db_path, users_file):
    at = login_app("vera")
    assert_clean(at)
    assert "Logged in as **vera** · role: **viewer**" in sidebar_text(at)
    at.switch_page(DATA_PAGE).run()
    assert_clean(at)
    assert not [u for u in at.get("file_uploader") if u.key == state.UPLOAD]
    assert not [b for b in at.button if b.key in (state.DELETE_BUTTON, state.IMPORT_BUTTON, state.LOAD_SAMPLE_BUTTON)]
    assert any("an analyst or admin imports" in c.value for c in at.caption)
    # the tables can still be downloaded
    assert [d for d in at.get("download_button")]
    at.switch_page("pages/cost_to_serve.py").run()
    assert_clean(at)
    assert not [b for b in at.button if b.key in (state.COST_RATES_SAVE, state.COST_RATES_RESET)]
    at.switch_page("pages/review.py").run()
    assert_clean(at)
    assert not [b for b in at.button if b.key == "review_targets_save"]
    at.switch_page("pages/qci.py").run()
    assert_clean(at)
    assert not [b for b in at.button if b.key == "qci__save"]


def test_analyst_imports_but_cannot_delete(db_path, users_file):
    at = login_app("ana")
    assert_clean(at)
    at.switch_page(DATA_PAGE).run()
    assert not [b for b in at.button if b.key == state.DELETE_BUTTON]
    upload(at, "orders.csv", ORDERS)
    import_into_new(at, "Orders 2024")
    at.button(key=state.IMPORT_BUTTON).click().run()
    assert_clean(at)
    from ui import data

    assert "Orders 2024" in data.get_store().datasets()["name"].to_list()


def test_admin_deletes_a_dataset(db_path, users_file):
    at = login_app("adam")
    at.switch_page(DATA_PAGE).run()
    assert_clean(at)
    at.checkbox(key=state.DELETE_CONFIRM).check().run()
    at.button(key=state.DELETE_BUTTON).click().run()
    assert_clean(at)
    from ui import data

    assert data.get_store().datasets().is_empty()


def test_logout_returns_to_the_login_page(db_path, users_file):
    at = login_app("ana")
    at.button(key=auth.LOGOUT).click().run()
    assert [t.value for t in at.title] == ["CRM Lens"]
    assert auth.SESSION_USER not in at.session_state


# ---------------------------------------------------------------------------- the checks inside the actions
def _actions_script():
    """Log in as st.session_state["who"], then try every write action; record done/denied per action."""
    import importlib.util
    from pathlib import Path

    import streamlit as st

    from crm_core.auth import PermissionDenied
    from crm_core.ingest import pipeline
    from crm_core.frameworks import rubrics
    from crm_core.frameworks.scoring import Answers
    from ui import auth, data, frameworks, quality, review

    name, password, actions = st.session_state["who"]
    store = data.get_store()
    if store.is_empty():
        store.load_sample()
    ds = store.datasets().to_dicts()[0]
    # The Data page's functions, as a module (loading it runs the page: before logging in it shows no widgets
    # whose state the delete callback resets).
    page_path = Path(data.__file__).resolve().parents[1] / "pages" / "data.py"
    spec = importlib.util.spec_from_file_location("data_page_under_test", page_path)
    page = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(page)
    assert auth.login(name, password) is not None
    before = store.snapshot()

    def rates():
        data.save_cost_rates(ds["dataset_id"], data.cost_rates(ds["dataset_id"]).select("pool", "unit", "rate"))

    def do_import():
        preps = pipeline.prepare_upload("orders.csv", b"Customer ID,Order Date,Revenue\nZ1,2024-01-05,10\n",
                                        store=store, dataset="Roles test")
        page.run_import("Roles test", preps, set(), replace=False, accept_partial=True, nothing=False)

    def assessment():
        rubric = rubrics.rubric("qci")
        first = rubric.items[0]
        values = {first.id: {d: 3 for d in rubric.dimension_ids}}
        frameworks.save_assessment(ds["dataset_id"], Answers("qci", values))

    tries = {
        "save_cost_rates": rates,
        "prepare_pages": lambda: data.prepare_pages(ds["dataset_id"]),
        "save_targets": lambda: review.save_targets(ds["dataset_id"], "quarter", {"revenue": 1000.0}),
        "save_assessment": assessment,
        "load_sample": page.load_sample,
        "delete_dataset": lambda: page.delete_dataset(ds["name"]),
        "import": do_import,
        "apply_quality_fix": lambda: quality.apply_field_fix(ds["dataset_id"], "phones"),
        "manage_users": lambda: auth.save_user("newbie", "viewer", "new-user-pass"),
    }
    results = {}
    for action in actions:
        try:
            tries[action]()
        except PermissionDenied as exc:
            results[action] = "denied: " + str(exc)
        except BaseException as exc:  # st.rerun after a successful import or sample load
            if type(exc).__name__ in ("RerunException", "StopException"):
                results[action] = "done"
            else:
                results[action] = f"error: {type(exc).__name__}: {exc}"
        else:
            results[action] = "done"
    st.session_state["results"] = results
    st.session_state["unchanged"] = store.snapshot() == before


def run_actions(name: str, actions: list[str]) -> tuple[dict, bool]:
    at = AppTest.from_function(_actions_script, default_timeout=TIMEOUT)
    at.session_state["who"] = (name, PASSWORDS[name], actions)
    at.run()
    return at.session_state["results"], at.session_state["unchanged"]


VIEWER_DENIED = ["save_cost_rates", "prepare_pages", "save_targets", "save_assessment", "load_sample",
                 "delete_dataset", "import", "apply_quality_fix", "manage_users"]


def test_viewer_calling_write_actions_is_denied_and_the_store_is_unchanged(db_path, users_file):
    results, unchanged = run_actions("vera", VIEWER_DENIED)
    assert all(r.startswith("denied") for r in results.values()), results
    assert "vera (viewer) may not delete datasets" in results["delete_dataset"]
    assert unchanged


def test_analyst_may_not_delete_or_manage_users(db_path, users_file):
    results, unchanged = run_actions("ana", ["delete_dataset", "manage_users"])
    assert all(r.startswith("denied") for r in results.values()), results
    assert "needs the admin role" in results["delete_dataset"]
    assert unchanged
    assert "newbie" not in core_auth.load_users(users_file).users


def test_analyst_may_import_and_edit(db_path, users_file):
    results, _ = run_actions("ana", ["import", "save_cost_rates", "save_targets", "save_assessment",
                                     "apply_quality_fix"])
    assert results == dict.fromkeys(results, "done"), results


def test_admin_may_delete_and_manage_users(db_path, users_file):
    results, unchanged = run_actions("adam", ["manage_users", "delete_dataset"])
    assert results == {"manage_users": "done", "delete_dataset": "done"}, results
    assert not unchanged
    assert core_auth.load_users(users_file).users["newbie"]["role"] == "viewer"


def test_a_role_changed_in_the_file_takes_effect_at_once(db_path, users_file):
    at = login_app("ana")
    at.switch_page(DATA_PAGE).run()
    assert at.file_uploader(key=state.UPLOAD) is not None
    core_auth.set_user("ana", "viewer", None, path=users_file)
    at.run()
    assert not [u for u in at.get("file_uploader") if u.key == state.UPLOAD]


# ---------------------------------------------------------------------------- OIDC
OIDC_SECRETS = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                         "client_id": "id", "client_secret": "secret",
                         "server_metadata_url": "https://idp.invalid/.well-known/openid-configuration"}}


def test_oidc_shows_a_login_button_until_logged_in(db_path, users_file):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets = OIDC_SECRETS
    at.user = {"is_logged_in": False}
    at.run()
    assert at.button(key=auth.OIDC_LOGIN).label == "Log in"
    assert not at.selectbox


@pytest.mark.parametrize(("email", "role"), [("lead@example.com", "admin"), ("someone@example.com", "viewer")])
def test_oidc_role_comes_from_the_users_file_mapping(db_path, users_file, email, role):
    users = core_auth.load_users(users_file)
    users.oidc_emails["lead@example.com"] = "admin"
    core_auth.save_users(users)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets = OIDC_SECRETS
    at.user = {"is_logged_in": True, "email": email, "name": email.split("@")[0]}
    at.run()
    assert_clean(at)
    assert f"role: **{role}**" in sidebar_text(at)
    at.switch_page(DATA_PAGE).run()
    has_delete = bool([b for b in at.button if b.key == state.DELETE_BUTTON])
    assert has_delete == (role == "admin")
