"""CRM Lens — the picture frame (DESIGN §3, §10): page config, the store, the sidebar (dataset picker and
global filters), the sample-data banner, then the page of the walk the user is on.

Run: ``streamlit run app.py`` (database: ``$CRM_LENS_DB`` or ``data/crm.duckdb``).
"""

from __future__ import annotations

import logging
import os

import streamlit as st
from streamlit.errors import FragmentHandledException

from crm_core.store import StoreError
from crm_core.views import PREPARED_PERIODS
from ui import auth, data, state, widgets

log = logging.getLogger("crm_lens.app")

# The walk (DESIGN §1), in order: one line per page — (section, script, title, icon).
PAGES: list[tuple[str, str, str, str]] = [
    ("Identify — know your data", "pages/data.py", "Data", ":material/database:"),
    ("Value chain — customer portfolio analysis", "pages/portfolio.py", "Portfolio", ":material/pie_chart:"),
    ("IDIC — differentiate and customize", "pages/differentiate.py", "Differentiate", ":material/groups:"),
    ("QCI — retention and lifetime value", "pages/retention.py", "Retention & CLV", ":material/autorenew:"),
    ("Value chain — value proposition", "pages/cost_to_serve.py", "Cost to serve", ":material/payments:"),
    ("Scorecards — assess the CRM models", "pages/qci.py", "QCI", ":material/radar:"),
    ("Scorecards — assess the CRM models", "pages/gartner.py", "Gartner", ":material/stacked_bar_chart:"),
    ("Scorecards — assess the CRM models", "pages/models.py", "CRM models", ":material/account_tree:"),
    ("Payne & Frow — performance assessment", "pages/review.py", "Executive review", ":material/summarize:"),
]

SAMPLE_BANNER = (
    "You are looking at sample data (a synthetic company). Import your own exports on the Data page."
)


def setup_logging() -> None:
    """Log lines of the app and the engine to stderr once (tracebacks go here, never the screen)."""
    level = os.environ.get("CRM_LENS_LOG_LEVEL", "INFO").upper()
    for name in ("crm_lens", "crm_core"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
            logger.propagate = False
        logger.setLevel(level)


def navigation(position: str = "sidebar"):
    sections: dict[str, list] = {}
    for section, script, title, icon in PAGES:
        sections.setdefault(section, []).append(st.Page(script, title=title, icon=icon))
    return st.navigation(sections, position=position)


def open_store():
    """The store, loading the sample company on first start; None (with a message) if it cannot open."""
    try:
        store = data.get_store()
    except StoreError as exc:
        log.error("cannot open the store: %s", exc, exc_info=exc)
        st.error(
            f"{exc}\n\nClose any other program using this file (another CRM Lens, a DuckDB shell), or "
            "start CRM Lens with `CRM_LENS_DB` set to another database file."
        )
        return None
    if data.first_start_pending(store):
        if data.dataset_names():
            data.ensure_first_start(store)  # not empty: only remembers that the check was done
        else:
            with st.spinner("First start: loading the sample company so every page has data to show…"):
                data.ensure_first_start(store)
    return store


def sidebar() -> dict | None:
    """Dataset picker and global filters; returns the selected dataset's row."""
    names = data.dataset_names()
    with st.sidebar:
        st.markdown("### CRM Lens")
        if not names:
            st.caption("No dataset yet. Import your exports on the Data page.")
            state.select_pending_dataset([], None)
            return None
        info = {r["name"]: r for r in data.datasets().to_dicts()}
        state.select_pending_dataset(names, data.default_dataset())
        st.selectbox(
            "Dataset",
            names,
            key=state.DATASET,
            format_func=lambda n: f"{n} (sample)" if info[n]["is_sample"] else n,
            help="Every page shows the dataset chosen here. Import more on the Data page.",
        )
        row = info[st.session_state[state.DATASET]]
        filters_panel(row)
    return row


def prepared_note() -> str:
    """What the Period's help says of the quick choices ``prepare`` keeps (``crm_core.views.PREPARED_PERIODS``)."""
    prepared = [state.DEFAULT_PERIOD, *PREPARED_PERIODS]
    if set(state.PERIODS) - {state.CUSTOM_PERIOD} <= set(prepared):
        return "Each quick choice is prepared ahead, so it opens at once."
    return f"{', '.join(prepared[:-1])} and {prepared[-1]} are prepared ahead, so they open at once."


def filters_panel(row: dict) -> None:
    options = data.filter_options(row["dataset_id"])
    span = options["span"]
    state.init_filters(row["dataset_id"], span, options)
    st.markdown("#### Filters")
    if span:
        st.selectbox(  # init_filters sets the window of a quick choice before the widgets are drawn
            "Period",
            state.PERIODS,
            key=state.FILTER_PERIOD,
            help="A quick choice of analysis window, up to the data's last purchase day; or pick the dates below. "
                 + prepared_note(),
        )
        st.date_input(  # its value is the session's, which init_filters always sets (a value= too logs a warning)
            "Analysis window",
            min_value=span[0],
            max_value=span[1],
            key=state.FILTER_WINDOW,
            on_change=state.window_picked,
            args=(span,),
            help="Purchases from the first to the last day, inclusive. Defaults to the dataset's full span. Dates "
                 "picked here are computed for the page you are on; the other analysis pages follow in the "
                 "background while you read it.",
        )
    else:
        st.caption("No purchases yet: the analysis window appears once transactions or won deals are imported.")
    for key, label, what in (
        (state.FILTER_REGIONS, "Region", "customers' region"),
        (state.FILTER_SEGMENTS, "Segment", "customers' segment"),
        (state.FILTER_CHANNELS, "Channel", "the sales channel of each purchase"),
        (state.FILTER_OWNERS, "Owner", "customers' account owner"),
    ):
        st.multiselect(
            label,
            options[key],
            key=key,
            placeholder="All" if options[key] else "Not in this dataset",
            disabled=not options[key],
            help=f"Narrow every page to {what}. Empty means all.",
        )
    st.button("Reset filters", key=state.RESET_FILTERS, on_click=state.reset_filters, icon=":material/restart_alt:")


def main() -> None:
    st.set_page_config(page_title="CRM Lens", layout="wide", page_icon=":material/insights:")
    setup_logging()
    user = auth.gate()  # roles (issue #8): nobody logged in sees the login page only
    pg = navigation("sidebar" if user else "hidden")
    if user is None:
        auth.login_page()
        return
    row = None
    try:
        if open_store() is None:
            return
        row = sidebar()
        auth.sidebar_panel()
        if row is not None and row["is_sample"]:
            st.info(SAMPLE_BANNER, icon=":material/science:")
    except FragmentHandledException:
        raise
    except Exception as exc:  # noqa: BLE001 - Streamlit's rerun/stop are BaseExceptions and pass through
        widgets.show_error(exc, "sidebar")
    try:
        pg.run()
    except FragmentHandledException:
        raise
    except Exception as exc:  # noqa: BLE001
        widgets.show_error(exc, pg.title)
    data.start_queued_preparations()  # after the page is drawn: background work must not slow it
    data.import_engine_in_background()
    if row is not None:
        try:  # the next pages of a window picked by hand, kept while the user reads this one
            data.prepare_scope_in_background(state.current_scope(row["dataset_id"]))
        except Exception as exc:  # noqa: BLE001 - only an optimisation: each page computes what it needs
            log.warning("could not start keeping the scope's views: %s", exc)


main()
