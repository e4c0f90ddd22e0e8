"""Every ``st.session_state`` key of the app, the global filters and the dataset selection (DESIGN §3, §8).

Widgets are created with these keys, tests find widgets by them, and no other module spells a key
as a string literal. Keys starting with ``_`` hold app state, not widget values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import streamlit as st

from crm_core.metrics.scope import WINDOW_PRESETS, Scope, preset_window

# ---------------------------------------------------------------------------- sidebar (app.py)
DATASET = "dataset"  # selectbox: the selected dataset's name
FILTER_PERIOD = "filter_period"  # selectbox: a quick choice of window (scope.WINDOW_PRESETS) or CUSTOM_PERIOD
FILTER_WINDOW = "filter_window"  # date_input: (start, end) of the analysis window
FILTER_REGIONS = "filter_regions"  # multiselects: empty means "all"
FILTER_SEGMENTS = "filter_segments"
FILTER_CHANNELS = "filter_channels"
FILTER_OWNERS = "filter_owners"
RESET_FILTERS = "reset_filters"  # button

# ---------------------------------------------------------------------------- Data page
UPLOAD = "upload"  # file_uploader
UPLOAD_TYPES = ["csv", "txt", "tsv", "xlsx", "xlsm", "parquet"]  # what the uploader accepts
IMPORT_TARGET = "import_target"  # radio: "selected" or "new"
NEW_DATASET = "new_dataset"  # text_input: name of a new dataset
IMPORT_MODE = "import_mode"  # radio: "append" or "replace"
DATE_ORDER = "date_order"  # selectbox: DATE_ORDERS
PARTIAL_CHOICE = "partial_choice"  # radio: "good" or "nothing"
IMPORT_BUTTON = "import_button"
DELETE_TARGET = "delete_target"  # selectbox: dataset name to delete
DELETE_CONFIRM = "delete_confirm"  # checkbox
DELETE_BUTTON = "delete_button"
LOAD_SAMPLE_BUTTON = "load_sample_button"
PREVIEW_TABLE = "preview_table"  # selectbox: canonical table to preview

# Tabs of the analysis pages (ui.widgets.page_tabs: only the open tab is computed and drawn)
PORTFOLIO_TAB = "portfolio_tab"
DIFFERENTIATE_TAB = "differentiate_tab"
RETENTION_TAB = "retention_tab"
COST_TAB = "cost_tab"

# Portfolio page
PORTFOLIO_CUSTOMER = "portfolio_customer"  # selectbox: the top customer to drill into

# Differentiate page
DIFFERENTIATE_K = "differentiate_k"  # selectbox: "auto" or a number of segments 2..8
DIFFERENTIATE_SILHOUETTES = "differentiate_silhouettes"  # expander: the silhouette by k, drawn when open
DIFFERENTIATE_SEGMENT = "differentiate_segment"  # selectbox: the segment whose customer list is shown

# Retention & CLV page
RETENTION_MEASURE = "retention_measure"  # radio: cohort heatmap of "customers" or "revenue"
RETENTION_PERIOD = "retention_period"  # radio: cohorts by "month" or "quarter"
RETENTION_HOLDOUT = "retention_holdout_months"  # selectbox: holdout length in months (3, 6, 9)

# Cost to serve page
COST_RATES_EDITOR = "cost_rates_editor"  # data_editor: the dataset's cost rates (rate column editable)
COST_RATES_SAVE = "cost_rates_save"  # button: save the edited cost rates (rebuilds the stored facts)
COST_RATES_RESET = "cost_rates_reset"  # button: put every cost rate back to its default
COST_RATES_ERROR = "cost_rates_error"  # why the last save was refused (set by the buttons' callback, shown once)


def table_kind_key(file_key: str) -> str:
    """Selectbox: the table kind chosen for one table of an upload."""
    return f"table_kind__{file_key}"


def mapping_editor_key(file_key: str, table: str) -> str:
    """data_editor: the column mapping of one table of an upload (per table kind, so changing the
    kind starts from that kind's detected mapping)."""
    return f"mapping__{file_key}__{table}"


def include_key(file_key: str) -> str:
    """Checkbox: import this table of the upload."""
    return f"include__{file_key}"


# ---------------------------------------------------------------------------- app state
FILTERS_FOR = "_filters_for"  # dataset id the filter widgets were initialised for
PENDING_DATASET = "_pending_dataset"  # dataset name to select on the next run (set after an import)
PREPARED = "_prepared"  # {preparation key: list[PreparedTable] | error message}
MAPPINGS = "_mappings"  # {file key: {"table": str, "mapping": {canonical: header}}}
IMPORTED_FILES = "_imported_files"  # upload file ids already imported (not offered again)
RESET_IMPORT_FORM = "_reset_import_form"  # after an import: target back to "selected", name cleared
FLASH = "_flash"  # [(kind, message)] shown once on the next run: kind in success/info/warning/error

DATE_ORDERS: dict[str, bool | None] = {  # label -> pipeline ``dayfirst``
    "Automatic": None,
    "Day/month (EU)": True,
    "Month/day (US)": False,
}

MULTISELECT_FILTERS: tuple[str, ...] = (FILTER_REGIONS, FILTER_SEGMENTS, FILTER_CHANNELS, FILTER_OWNERS)
CUSTOM_PERIOD = "Custom dates"  # the period choice of a window picked with the dates
PERIODS: tuple[str, ...] = (*WINDOW_PRESETS, CUSTOM_PERIOD)  # the period selectbox's options
DEFAULT_PERIOD = next(iter(WINDOW_PRESETS))  # the whole purchase span


# ---------------------------------------------------------------------------- filters
def current_scope(dataset_id: int) -> Scope:
    """The sidebar's global filters as the engine's :class:`~crm_core.metrics.scope.Scope`
    (empty multiselects mean "all"; the window is inclusive dates, open while none is chosen)."""
    state = st.session_state
    start, end = window_bounds(state.get(FILTER_WINDOW))
    return Scope(
        dataset_id=dataset_id,
        start=start,
        end=end,
        regions=tuple(state.get(FILTER_REGIONS) or ()),
        segments=tuple(state.get(FILTER_SEGMENTS) or ()),
        channels=tuple(state.get(FILTER_CHANNELS) or ()),
        owners=tuple(state.get(FILTER_OWNERS) or ()),
    )


def window_bounds(value) -> tuple[date | None, date | None]:
    """(start, end) from a date_input range value, which holds one date while the user is picking."""
    if isinstance(value, date):
        return value, value
    if isinstance(value, Sequence) and not isinstance(value, str):
        values = [v for v in value if isinstance(v, date)]
        if len(values) >= 2:
            return values[0], values[1]
        if len(values) == 1:
            return values[0], values[0]
    return None, None


def init_filters(
    dataset_id: int | None,
    span: tuple[date, date] | None,
    options: dict[str, Sequence[str]],
) -> None:
    """Give the filter widgets their defaults for the dataset (full purchase span, nothing narrowed)
    when the dataset changed or the filters were reset; otherwise keep the user's choice but drop
    values the dataset no longer has, so a widget never holds a value outside its options. A quick
    period choice sets the window (over the current span); custom dates are kept inside the span.

    Must run before the filter widgets are created in this run."""
    state = st.session_state
    if state.get(FILTERS_FOR) != dataset_id:
        state[FILTERS_FOR] = dataset_id
        state[FILTER_PERIOD] = DEFAULT_PERIOD
        state[FILTER_WINDOW] = span if span else ()
        for key in MULTISELECT_FILTERS:
            state[key] = []
        return
    if state.get(FILTER_PERIOD) not in PERIODS:
        state[FILTER_PERIOD] = DEFAULT_PERIOD if window_bounds(state.get(FILTER_WINDOW)) == tuple(span or ()) else (
            CUSTOM_PERIOD)
    if span and state[FILTER_PERIOD] in WINDOW_PRESETS:  # a quick choice follows the data (an import moves its end)
        state[FILTER_WINDOW] = preset_window(span, WINDOW_PRESETS[state[FILTER_PERIOD]])
    elif span:
        start, end = window_bounds(state.get(FILTER_WINDOW))
        if start is None or end is None:
            state[FILTER_WINDOW] = span
        else:
            lo, hi = span
            start, end = min(max(start, lo), hi), min(max(end, lo), hi)
            state[FILTER_WINDOW] = (start, max(start, end))
    for key in MULTISELECT_FILTERS:
        allowed = set(options.get(key, ()))
        state[key] = [v for v in state.get(key) or [] if v in allowed]


def window_picked(span: tuple[date, date] | None) -> None:
    """The window date_input's callback: the period choice becomes the quick choice these dates are, if any, else
    :data:`CUSTOM_PERIOD` (so the next run keeps the dates instead of the previous quick choice's)."""
    state = st.session_state
    window = window_bounds(state.get(FILTER_WINDOW))
    matches = [label for label, months in WINDOW_PRESETS.items() if span and preset_window(span, months) == window]
    state[FILTER_PERIOD] = matches[0] if matches else CUSTOM_PERIOD


def reset_filters() -> None:
    """Button callback: back to the dataset's full span and no narrowing (next run re-initialises)."""
    st.session_state.pop(FILTERS_FOR, None)


# ---------------------------------------------------------------------------- dataset selection
def select_pending_dataset(names: Iterable[str], default: str | None) -> str | None:
    """Put the dataset to show into the picker's state before the picker is created: the one an
    import or reload asked for, else the user's previous choice, else ``default``."""
    names = list(names)
    state = st.session_state
    pending = state.pop(PENDING_DATASET, None)
    if pending in names:
        state[DATASET] = pending
    elif state.get(DATASET) not in names:
        if default is None:
            state.pop(DATASET, None)
        else:
            state[DATASET] = default
    return state.get(DATASET)


def request_dataset(name: str) -> None:
    """Select ``name`` in the sidebar on the next run (the picker exists already in this run)."""
    st.session_state[PENDING_DATASET] = name


def reset_import_form_if_asked() -> None:
    """After an import the new dataset is the selected one: point the form at it again (runs before
    the form's widgets exist in this run)."""
    if st.session_state.pop(RESET_IMPORT_FORM, False):
        st.session_state[IMPORT_TARGET] = "selected"
        st.session_state[NEW_DATASET] = ""
        st.session_state.pop(PARTIAL_CHOICE, None)


def selected_dataset() -> str | None:
    return st.session_state.get(DATASET)


# ---------------------------------------------------------------------------- one-shot messages
def flash(kind: str, message: str) -> None:
    """Show ``message`` once, on the next run (after an st.rerun or a callback)."""
    st.session_state.setdefault(FLASH, []).append((kind, message))


def pop_flashes() -> list[tuple[str, str]]:
    return st.session_state.pop(FLASH, None) or []
