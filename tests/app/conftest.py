"""AppTest fixtures: every test gets its own database file and empty Streamlit caches.

Multipage mode: a ``pages/`` folder beside ``app.py`` makes Streamlit 1.67 start a server process in
its old folder-based multipage mode until a run calls ``st.navigation`` (or a page calls
``ui.frame.require_app_frame``); the process then stays in ``st.navigation`` mode. AppTest resets that
switch before *every* run, which a server never does, so ``_navigation_mode`` keeps AppTest in the
mode a running server is in. Tests marked ``fresh_server`` see AppTest's reset, as the first request
to a new server does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 30


def _clear_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()  # closes the stores (on_release), so each test's file is released


@pytest.fixture(autouse=True)
def _navigation_mode(request, monkeypatch):
    if request.node.get_closest_marker("fresh_server"):
        return
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False  # what st.navigation in app.py sets for good

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def db_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "crm.duckdb"
    monkeypatch.setenv("CRM_LENS_DB", str(path))
    _clear_caches()
    yield path
    _clear_caches()


@pytest.fixture
def app(db_path) -> AppTest:
    """The app, run once (the entrypoint must run before ``switch_page``)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    return at


@pytest.fixture
def store(app):
    """The app's own store object (DuckDB allows one read-write connection per file and process)."""
    from ui import data

    return data.get_store()
