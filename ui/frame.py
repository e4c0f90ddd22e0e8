"""Keep every page inside ``app.py``'s frame.

A ``pages/`` folder beside ``app.py`` makes Streamlit 1.67 start each server process in its old
folder-based multipage mode, in which a deep link (``/data``) as the very first request runs the
page script alone — no store, no sidebar, no sample banner. ``st.navigation`` in ``app.py`` ends
that mode for the process; a page that finds itself run in it ends it too and reruns, so that
``app.py`` runs and shows the page that was asked for.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def require_app_frame() -> None:
    """Call first in every page script."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
