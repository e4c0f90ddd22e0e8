"""Streamlit glue of the Executive review page (issue #6): cached engine calls, the targets editor and the
report downloads with their progress. The page (``pages/review.py``) stays thin.

Speed: the review headline is cached per (database, scope, period kind); the report sections, chart images and
files are computed only when the user asks for them (the "Prepare" button), then cached per (database, scope,
period kind) too, so a second request — or another format — costs nothing. Every cache is dropped with the
others (``ui.data.clear_caches``) after a write to the store.
"""

from __future__ import annotations

import logging

import polars as pl
import streamlit as st

from crm_core.metrics import targets as targets_mod
from crm_core.metrics.scope import Scope
from crm_core.report import ReportError, export, periods, sections
from crm_core.report import review as review_mod
from crm_core.store import Store, StoreError
from ui import auth, data, state, widgets

log = logging.getLogger("crm_lens.ui")

# Session keys of the page (widgets are found by these in tests).
PERIOD = "review_period"  # selectbox: periods.KINDS
TARGETS_EDITOR = "review_targets_editor"  # data_editor: the targets of the period kind
TARGETS_SAVE = "review_targets_save"  # button
PREPARE = "review_prepare"  # button: compute the report files
PREPARED = "_review_prepared"  # {"key": (db, scope, kind), "files": {fmt: bytes}, "errors": {fmt: message}}
DOWNLOAD = "review_download_{fmt}"  # download buttons, one per format

LABELS = {"pdf": "PDF", "html": "HTML (interactive, offline)", "pptx": "PowerPoint", "xlsx": "Excel (all tables)"}
ICONS = {"pdf": ":material/picture_as_pdf:", "html": ":material/html:", "pptx": ":material/slideshow:",
         "xlsx": ":material/table_view:"}


# ---------------------------------------------------------------------------- cached engine calls
def review_period(scope: Scope, kind: str) -> periods.ReviewPeriod:
    return periods.review_period(scope, kind, data.purchase_span(scope.dataset_id))


def _review(_store: Store, db: str, scope: Scope, kind: str) -> review_mod.Review:
    # a page view (crm_core.views.review): kept in the store for unfiltered scopes, cached in memory
    return data.view("review", scope, kind=kind)


def _span(store: Store, dataset_id: int):
    from crm_core.metrics.scope import filter_options

    return filter_options(store, dataset_id)["span"]


def review(scope: Scope, kind: str) -> review_mod.Review:
    """The review headline (KPIs vs previous period and targets, trends, movers, at-risk, highlights)."""
    store = data.get_store()
    return _review(store, store.path, scope, kind)


@st.cache_data(show_spinner=False)
def _targets(_store: Store, db: str, dataset_id: int, kind: str) -> pl.DataFrame:
    return targets_mod.targets_frame(_store, dataset_id, kind)


def targets_frame(dataset_id: int, kind: str) -> pl.DataFrame:
    store = data.get_store()
    return _targets(store, store.path, dataset_id, kind)


def save_targets(dataset_id: int, kind: str, values: dict[str, float | None]) -> dict[str, float]:
    """Validate and store the targets of a period kind, then forget every cached read."""
    auth.require("edit_targets")
    saved = targets_mod.set_targets(data.get_store(), dataset_id, kind, values)
    data.clear_caches()
    return saved


@st.cache_data(show_spinner=False, max_entries=4)
def _content(_store: Store, db: str, scope: Scope, kind: str) -> sections.Report:
    rv = _review(_store, db, scope, kind)
    return sections.build_report(_store, rv.period, review=rv)


@st.cache_data(show_spinner=False, max_entries=4)
def _images(_store: Store, db: str, scope: Scope, kind: str) -> dict[str, bytes]:
    return export.chart_images(_content(_store, db, scope, kind))


@st.cache_data(show_spinner=False, max_entries=8)
def _file(_store: Store, db: str, scope: Scope, kind: str, fmt: str) -> bytes:
    report = _content(_store, db, scope, kind)
    images = _images(_store, db, scope, kind) if export.FORMATS[fmt][2] else None
    return export.write(report, fmt, images=images)


# ---------------------------------------------------------------------------- widgets
def targets_editor(ds: dict, kind: str) -> None:
    """The targets of the dataset for this period kind, editable and saved per dataset."""
    frame = targets_frame(ds["dataset_id"], kind)
    st.caption(
        f"Targets for a {'window' if kind == 'window' else kind} of this dataset. Shares as fractions (0.85 = 85%), "
        "NPS in points, money in the dataset's currency. Leave a cell empty for no target."
    )
    edited = st.data_editor(
        frame.select("label", "unit", "better", "target"),
        key=TARGETS_EDITOR,
        hide_index=True,
        width="stretch",
        num_rows="fixed",
        disabled=["label", "unit", "better"] if auth.allowed("edit_targets") else True,
        column_config={
            "label": st.column_config.TextColumn("KPI"),
            "unit": st.column_config.TextColumn("Unit", help="count, currency, share (0..1) or score"),
            "better": st.column_config.TextColumn("Better", help="up: higher is better; down: lower is better"),
            "target": st.column_config.NumberColumn("Target", help="Empty: no target"),
        },
    )
    if not auth.allowed("edit_targets"):
        st.caption("Your role can read the targets; an analyst or admin can change them.")
        return
    if not st.button("Save targets", key=TARGETS_SAVE, type="primary", icon=":material/save:"):
        return
    new = edited if isinstance(edited, pl.DataFrame) else pl.from_pandas(edited)
    by_label = dict(zip(frame["label"].to_list(), frame["metric_id"].to_list()))
    values = {by_label[r["label"]]: r["target"] for r in new.to_dicts()}
    try:
        saved = save_targets(ds["dataset_id"], kind, values)
    except (targets_mod.TargetError, StoreError) as exc:
        log.info("targets not saved for dataset %s: %s", ds["dataset_id"], exc)
        st.error(f"{exc} Nothing was saved; correct the target and save again.", icon=":material/error:")
        return
    state.flash("success", f"Targets saved ({len(saved)} set).")
    st.session_state.pop(TARGETS_EDITOR, None)
    st.rerun()


def _prepare(scope: Scope, kind: str) -> dict:
    """Compute every report file with progress shown; PDF and PowerPoint errors (no browser) kept per format."""
    store = data.get_store()
    db = store.path
    files: dict[str, bytes] = {}
    errors: dict[str, str] = {}
    with st.status("Preparing the reports…", expanded=True) as status:
        bar = st.progress(0.0, text="Computing the sections of the walk…")
        _content(store, db, scope, kind)
        bar.progress(0.35, text="Writing the HTML report and the Excel workbook…")
        for fmt in ("html", "xlsx"):
            files[fmt] = _file(store, db, scope, kind, fmt)
        bar.progress(0.45, text="Rendering the chart images (headless Chromium)…")
        try:
            _images(store, db, scope, kind)
            bar.progress(0.85, text="Writing the PDF and the PowerPoint…")
            for fmt in ("pdf", "pptx"):
                files[fmt] = _file(store, db, scope, kind, fmt)
        except ReportError as exc:
            log.warning("no PDF/PowerPoint report: %s", exc)
            for fmt in ("pdf", "pptx"):
                errors[fmt] = str(exc)
        bar.progress(1.0, text="Done")
        if errors:
            status.update(label="HTML and Excel ready; PDF and PowerPoint could not be made", state="error",
                          expanded=True)
        else:
            status.update(label="Reports ready to download", state="complete", expanded=False)
    return {"files": files, "errors": errors}


def reports_panel(ds: dict, scope: Scope, kind: str, label: str) -> None:
    """The "Prepare" button, its progress and one download per format."""
    store = data.get_store()
    key = (store.path, scope, kind)
    prepared = st.session_state.get(PREPARED)
    if prepared is not None and prepared.get("key") != key:
        prepared = None
    st.caption(
        "One file to hand round: a PDF (title page with the dataset, period and filters; a section per page of the "
        "walk with its charts and tables; page numbers), a self-contained HTML report with interactive charts that "
        "opens offline, a PowerPoint with one slide per section, and an Excel workbook of every table."
    )
    if st.button("Prepare the reports", key=PREPARE, type="primary", icon=":material/description:"):
        try:
            prepared = {"key": key, **_prepare(scope, kind)}
        except (ReportError, StoreError) as exc:
            log.info("reports not prepared: %s", exc)
            st.error(f"{exc}", icon=":material/error:")
            return
        st.session_state[PREPARED] = prepared
    if prepared is None:
        return
    base = widgets.safe_file_name(f"{ds['name']}_review_{label}")
    with st.container(horizontal=True, gap="small"):
        for fmt in ("pdf", "html", "pptx", "xlsx"):
            if fmt in prepared["files"]:
                ext, mime, _ = export.FORMATS[fmt]
                st.download_button(
                    f"Download {LABELS[fmt]}", data=prepared["files"][fmt], file_name=base + ext, mime=mime,
                    key=DOWNLOAD.format(fmt=fmt), on_click="ignore", icon=ICONS[fmt],
                )
    shown = set()
    for fmt, message in prepared["errors"].items():
        if message not in shown:
            shown.add(message)
            names = " and ".join(LABELS[f] for f, m in prepared["errors"].items() if m == message)
            st.error(f"No {names} report: {message}", icon=":material/error:")
