"""The app's one store and the cached reads pages make through it (DESIGN §3, §6).

``get_store`` is an ``st.cache_resource``: one DuckDB connection per database file for the whole
server process (DuckDB allows one read-write connection per file and process); every read runs on its
own cursor. Reads are ``st.cache_data`` functions with the store passed as ``_store`` (not hashed) and
the database path as a hashed argument, so two database files never share a cache entry. After an
import, a delete or a sample reload, :func:`clear_caches` drops every cached read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date

import polars as pl
import streamlit as st

from crm_core import schema, views
from crm_core.metrics import scope
from crm_core.store import Store, default_path

from ui import auth, state

log = logging.getLogger("crm_lens.ui")

PREVIEW_ROWS = 1000

_first_start_lock = threading.Lock()
_first_start_done: set[str] = set()


# ---------------------------------------------------------------------------- the store
def _release_store(store: Store) -> None:
    stop_background(store.path)  # a preparation thread must not be left querying a closed connection
    store.close()


@st.cache_resource(show_spinner=False, on_release=_release_store)
def _open_store(path: str) -> Store:
    log.info("opening the CRM Lens database %s", path)
    return Store(path)


def get_store() -> Store:
    """The store of ``CRM_LENS_DB`` (default ``data/crm.duckdb``), opened once per process."""
    return _open_store(str(default_path()))


def first_start_pending(store: Store) -> bool:
    """Whether this process has not yet checked the store for its first start."""
    return store.path not in _first_start_done


def ensure_first_start(store: Store) -> bool:
    """Load the sample company when this process first sees the store empty (DESIGN §6).

    Only once per process and database: a user who deletes every dataset gets an empty store,
    not the sample again. Returns whether the sample was loaded now."""
    with _first_start_lock:
        if store.path in _first_start_done:
            return False
        if not store.is_empty():
            _first_start_done.add(store.path)
            return False
        log.info("empty store %s: loading the sample company", store.path)
        store.load_sample()  # raises on failure: the next run tries again
        _first_start_done.add(store.path)
    clear_caches()
    return True


def clear_caches() -> None:
    """Forget every cached read (after any write to the store), and stop the background preparations, whose
    views are of the data before the write; the store itself stays open."""
    clear_priced_caches()
    _datasets.clear()
    _filter_options.clear()


def clear_priced_caches() -> None:
    """What new cost rates need: every cached read forgotten and the background preparations stopped, except the
    datasets with their row counts and the sidebar's filter options, which no rate enters (reading them again
    took ~0.2 s of each rate save at a million customers)."""
    with _background_lock:
        for running in _background.values():
            for _, stop in running:
                stop.set()
    st.cache_data.clear()
    _view.clear()


# ---------------------------------------------------------------------------- cached reads
# The datasets and the filter options are shared resources (read-only, like the views below) so that a rate save
# can keep them while it clears st.cache_data (clear_priced_caches); any other write clears them too.
@st.cache_resource(show_spinner=False)
def _datasets(_store: Store, db: str) -> pl.DataFrame:
    return _store.datasets()


def datasets() -> pl.DataFrame:
    """Datasets with row counts per canonical table (``Store.datasets``)."""
    store = get_store()
    return _datasets(store, store.path)


def dataset_names() -> list[str]:
    return datasets()["name"].to_list()


def dataset_row(name: str | None) -> dict | None:
    """The ``datasets()`` row of ``name`` as a dict, or None."""
    if name is None:
        return None
    rows = datasets().filter(pl.col("name") == name).to_dicts()
    return rows[0] if rows else None


def default_dataset() -> str | None:
    """The dataset to show when the user has not chosen one: the newest."""
    names = dataset_names()
    return names[-1] if names else None


def selected() -> dict | None:
    """The ``datasets()`` row of the dataset picked in the sidebar."""
    return dataset_row(state.selected_dataset())


# Filter options (crm_core.metrics.scope.filter_options) under the sidebar's session keys.
_OPTION_KEYS: dict[str, str] = {
    "regions": state.FILTER_REGIONS,
    "segments": state.FILTER_SEGMENTS,
    "channels": state.FILTER_CHANNELS,
    "owners": state.FILTER_OWNERS,
}


@st.cache_resource(show_spinner=False)
def _filter_options(_store: Store, db: str, dataset_id: int) -> dict:
    options = scope.filter_options(_store, dataset_id)
    return {_OPTION_KEYS.get(k, k): v for k, v in options.items()}


def filter_options(dataset_id: int) -> dict:
    """{filter key: sorted distinct values} and ``"span"``: (first, last) purchase date or None."""
    store = get_store()
    return _filter_options(store, store.path, dataset_id)


def purchase_span(dataset_id: int) -> tuple[date, date] | None:
    return filter_options(dataset_id)["span"]


@st.cache_data(show_spinner=False)
def _batches(_store: Store, db: str, dataset_id: int) -> pl.DataFrame:
    return _store.batches(dataset_id)


def batches(dataset_id: int) -> pl.DataFrame:
    """Import history of a dataset, newest first (``Store.batches``)."""
    store = get_store()
    return _batches(store, store.path, dataset_id)


@st.cache_data(show_spinner=False)
def _table_preview(_store: Store, db: str, dataset_id: int, table: str, limit: int) -> pl.DataFrame:
    return _store.table(table, dataset_id, limit=limit).drop("dataset_id", "batch_id", strict=False)


def table_preview(dataset_id: int, table: str, limit: int = PREVIEW_ROWS) -> pl.DataFrame:
    """The first ``limit`` rows of a canonical table of the dataset, without the store's id columns."""
    if table not in schema.TABLES:
        raise KeyError(table)
    store = get_store()
    return _table_preview(store, store.path, dataset_id, table, limit)


# ---------------------------------------------------------------------------- upload preparations
def _prep_cache() -> dict:
    return st.session_state.setdefault(state.PREPARED, {})


def prepare_file(
    file_key: str, name: str, payload: bytes, *, target: str | None, dayfirst: bool | None, used: set
) -> list:
    """``pipeline.prepare_upload`` of one uploaded file, kept in the session so reruns do not read and
    parse the file again. The key holds everything the result depends on: the upload, its content,
    the target dataset (existing ids, files seen before) and the date order.

    Raises ``IngestError`` when the file cannot be read at all (also on a cache hit)."""
    from crm_core.ingest import pipeline
    from crm_core.ingest.model import IngestError

    digest = hashlib.sha256(payload).hexdigest()
    key = ("file", file_key, digest, target, dayfirst)
    used.add(key)
    cache = _prep_cache()
    if key not in cache:
        try:
            cache[key] = pipeline.prepare_upload(name, payload, store=get_store(), dataset=target, dayfirst=dayfirst)
        except IngestError as exc:
            log.info("upload %s refused: %s", name, exc)
            cache[key] = exc
    value = cache[key]
    if isinstance(value, Exception):
        raise value
    return value


def prepare_again(
    file_key: str, prep, *, target: str | None, dayfirst: bool | None, table: str | None, mapping: dict | None, used: set
):
    """One table of an upload prepared again with the user's table kind and/or column mapping
    (``pipeline.prepare_raw`` on the table already read), kept in the session like ``prepare_file``."""
    from crm_core.ingest import pipeline

    key = (
        "table", file_key, prep.sha256, prep.source, target, dayfirst, table,
        json.dumps(mapping, sort_keys=True) if mapping is not None else None,
    )
    used.add(key)
    cache = _prep_cache()
    if key not in cache:
        cache[key] = pipeline.prepare_raw(
            prep.raw, sha256=prep.sha256, store=get_store(), dataset=target, table=table,
            user_mapping=mapping, dayfirst=dayfirst,
        )
    return cache[key]


def prune_preparations(used: set) -> None:
    """Forget preparations this run did not use (files removed, options changed)."""
    cache = _prep_cache()
    for key in [k for k in cache if k not in used]:
        del cache[key]


def forget_preparations() -> None:
    """After a write: ids and files seen before have changed, so every preparation is stale."""
    st.session_state.pop(state.PREPARED, None)


# ---------------------------------------------------------------------------- the pages' views (issue #4)
# Each view is computed by ``crm_core.views`` (kept in the store for the dataset's default scope, see
# ``crm_core/results.py``) and cached here as a shared resource: a rerun gets the same object back without
# copying it (``st.cache_data`` would unpickle tens of MB per rerun at a million customers). Pages only read
# these objects (Polars frames are immutable).
TOP_CUSTOMERS = views.TOP_CUSTOMERS
# views (of every name and scope together) a server keeps here; one dropped is read back from the store, and those
# of all customers that filters pick rows from are also held by crm_core.views (PICKED_FROM)
VIEW_CACHE_ENTRIES = 12


@st.cache_resource(show_spinner=False, max_entries=VIEW_CACHE_ENTRIES)
def _view(_store: Store, db: str, name: str, scope_: scope.Scope, params: tuple) -> object:
    with _foreground():
        return views.compute(_store, name, scope_, **dict(params))


# A page's view is computed (or read) while a user waits; the background work of this process (prepare_in_background,
# prepare_scope_in_background) starts no view meanwhile, nor until the pages have been quiet for FOREGROUND_QUIET_S
# (the views of one script run follow each other within milliseconds): on two cores a background fit beside the page's
# own work made a page opened right after a new window twice as slow (Retention 14 s instead of 7 s at 10M).
FOREGROUND_QUIET_S = 1.0
_pages_busy = threading.Condition()
_pages_running = 0
_pages_quiet_since = 0.0


@contextmanager
def _foreground():
    global _pages_running, _pages_quiet_since
    with _pages_busy:
        _pages_running += 1
    try:
        yield
    finally:
        with _pages_busy:
            _pages_running -= 1
            _pages_quiet_since = time.monotonic()
            _pages_busy.notify_all()


def wait_for_quiet_pages(stop: threading.Event) -> None:
    """Return once no page of this process has computed a view for :data:`FOREGROUND_QUIET_S`, or ``stop`` is set."""
    with _pages_busy:
        while not stop.is_set():
            quiet = time.monotonic() - _pages_quiet_since
            if not _pages_running and quiet >= FOREGROUND_QUIET_S:
                return
            _pages_busy.wait(0.2 if _pages_running else FOREGROUND_QUIET_S - quiet)


def is_kept(name: str, scope_: scope.Scope, **params) -> bool:
    """``crm_core.views.is_kept``: whether a view is kept in the store (a look at the results table, a millisecond),
    for a page that takes something lighter while it is not."""
    return views.is_kept(get_store(), name, scope_, **params)


def view(name: str, scope_: scope.Scope, **params):
    """``crm_core.views.compute(store, name, scope, **params)``, cached per (database, view, scope, params)."""
    store = get_store()
    return _view(store, store.path, name, scope_, tuple(sorted(params.items())))


def buyer_count(scope_: scope.Scope) -> int:
    """How many customers bought in the scope's window (``crm_core.facts.buyer_count``)."""
    return view("buyer_count", scope_)


def portfolio_kpis(scope_: scope.Scope) -> dict:
    """``portfolio.portfolio_summary`` of the scope's buyers (the headline KPIs)."""
    return view("portfolio_kpis", scope_)


def portfolio(scope_: scope.Scope) -> dict:
    """``crm_core.views.portfolio``: the Portfolio page's KPI cards and Concentration tab for a scope."""
    return view("portfolio", scope_)


def portfolio_rfm(scope_: scope.Scope) -> dict:
    """``crm_core.views.portfolio_rfm``: the Portfolio page's RFM segments."""
    return view("portfolio_rfm", scope_)


def portfolio_quadrants(scope_: scope.Scope) -> dict:
    """``crm_core.views.portfolio_quadrants``: the Portfolio page's value × cost-to-serve quadrants."""
    return view("portfolio_quadrants", scope_)


def portfolio_top(scope_: scope.Scope, top: int = TOP_CUSTOMERS) -> pl.DataFrame:
    """``crm_core.views.portfolio_top``: the Portfolio page's top customers by revenue."""
    return view("portfolio_top", scope_, top=top)


@st.cache_data(show_spinner=False)
def _customer_history(_store: Store, db: str, dataset_id: int, customer_id: str):
    from crm_core.metrics import customer

    return customer.customer_history(_store, dataset_id, customer_id)


def customer_history(dataset_id: int, customer_id: str):
    """``crm_core.metrics.customer.customer_history`` (purchases, interactions, feedback, facts)."""
    store = get_store()
    return _customer_history(store, store.path, dataset_id, customer_id)


def top_scores(scope_: scope.Scope, calibration_end: date, top: int = TOP_CUSTOMERS) -> tuple[pl.DataFrame | None,
                                                                                           str | None]:
    """CLV (12 months, BG/NBD + Gamma-Gamma), P(alive) and expected purchases of the scope's top customers
    (``crm_core.views.top_scores``), fitted on the whole dataset up to ``calibration_end`` (the Retention page's
    fit of the default scope); ``(None, why)`` when the models cannot be fitted."""
    fit = view("top_scores", scope_, calibration_end=calibration_end, top=top)
    if fit["error"]:
        return None, fit["error"]
    return fit["frame"], None


# ---------------------------------------------------------------------------- differentiate (IDIC)
def identify_summary(scope_: scope.Scope) -> dict:
    """``crm_core.metrics.identify.identify_summary`` of the scope (identified, contactable customers)."""
    return view("identify", scope_)


def segmentation(scope_: scope.Scope, k: int | str = "auto") -> dict:
    """K-means segments of the scope's buyers (``crm_core.metrics.differentiate.segment_report``) per (scope, k):
    profile, silhouette by k, CLV tiers (None without a CLV fit), interaction intensity per segment, and
    ``labels`` from which ``views.members`` gives the customer lists with :func:`member_details`.
    ``{"customers": 0}`` when nobody bought in the window; ``{"customers": n, "error": why}`` when the customers
    cannot be segmented."""
    return view("segmentation", scope_, k=k)


def member_details(scope_: scope.Scope) -> pl.DataFrame:
    """``crm_core.views.member_details``: the contact data and figures of each customer of the scope's
    segmentations, a row per row of their ``labels`` (whatever k). Read when a customer list is shown, not with
    the segments: a region's took 0.07-0.13 s of its first filter on the Differentiate page at 1M customers."""
    return view("member_details", scope_)


# ---------------------------------------------------------------------------- retention & CLV (QCI)
def average_clv(scope_: scope.Scope, calibration_end: date) -> dict:
    """``crm_core.views.average_clv``: the average predicted CLV alone (a previous period's KPI change)."""
    return view("average_clv", scope_, calibration_end=calibration_end)


def retention_overview(scope_: scope.Scope, inactivity_days: int | None = None) -> dict:
    """Retention headline, the churn rule (derived from the data, or ``inactivity_days``), the Kaplan-Meier frame
    with its median and the monthly churn trend."""
    return view("retention_overview", scope_, **({} if inactivity_days is None else {"inactivity_days": inactivity_days}))


def cohort_cells(scope_: scope.Scope, period: str = "month", measure: str = "customers") -> pl.DataFrame:
    """``retention.cohort_matrix(...).cells`` of a scope (cohort × age long frame with ``partial``)."""
    return view("cohorts", scope_, period=period, measure=measure)


def clv_fit(scope_: scope.Scope, calibration_end: date) -> dict:
    """``crm_core.views.clv_fit``: ``{"error": why}`` or the per-customer frame and the holdout."""
    return view("clv_fit", scope_, calibration_end=calibration_end)


def holdout(scope_: scope.Scope, calibration_end: date) -> dict:
    """``crm_core.views.holdout``: ``{"error": why}`` or the holdout check of a fit up to ``calibration_end``."""
    return view("holdout", scope_, calibration_end=calibration_end)


def historical_value(scope_: scope.Scope) -> pl.DataFrame:
    """``clv.historical_clv`` of a scope (value to date per customer)."""
    return view("historical_value", scope_)


# ---------------------------------------------------------------------------- cost to serve (value proposition)
@st.cache_data(show_spinner=False)
def _cost_rates(_store: Store, db: str, dataset_id: int) -> pl.DataFrame:
    from crm_core.metrics import cost

    return cost.get_rates(_store, dataset_id)


def cost_rates(dataset_id: int) -> pl.DataFrame:
    """``cost.get_rates``: pool, unit, rate (saved or default) and default_rate of a dataset."""
    store = get_store()
    return _cost_rates(store, store.path, dataset_id)


def save_cost_rates(dataset_id: int, rates: pl.DataFrame) -> None:
    """``cost.set_rates`` (validates, saves and reprices the stored facts in one transaction), then forget every
    cached read so every figure recomputes, and prepare the pages' default views again in the background
    (:func:`prepare_in_background`). Raises ``CostRatesError`` / ``StoreError`` with nothing saved."""
    from crm_core.metrics import cost

    auth.require("edit_cost_rates")
    store = get_store()
    cost.set_rates(store, dataset_id, rates)
    clear_priced_caches()
    with _background_lock:
        _queued.add((store.path, dataset_id))  # started once the page has been drawn again


class _Superseded(Exception):
    """A newer background preparation of the same dataset took over."""


# seconds a background preparation waits before it starts: the script has finished, but the browser is still
# drawing the page on the same cores (a rate save measured 2.6 s without the wait, 4.0 s with the work at once)
BACKGROUND_DELAY_S = 3.0
_background_lock = threading.Lock()
_queued: set[tuple[str, int]] = set()  # (database path, dataset) to prepare after the current script run
# per (database path, dataset): the preparation threads not known to be done, the newest last
_background: dict[tuple[str, int], list[tuple[threading.Thread, threading.Event]]] = {}


# What the views compute with when a page asks for more than its kept results (a filter, a new window, another k):
# a page that opens on kept results imports none of it, so the first filter of a server process also paid these
# imports, scikit-learn and scipy above all (~3 s of a core; the first region on Differentiate at 10M took 3.7 s
# where the next took 1.7-1.8 s).
ENGINE_MODULES = ("crm_core.metrics.clv", "crm_core.metrics.retention", "crm_core.metrics.differentiate",
                  "crm_core.metrics.cost", "sklearn.cluster", "sklearn.preprocessing")
_engine_imported = threading.Event()


def import_engine_in_background() -> None:
    """Import :data:`ENGINE_MODULES` in a thread, once per process; app.py calls it once the page is drawn, so
    the import does not slow the first page and is done before the user's first change, as a rule."""
    with _background_lock:
        if _engine_imported.is_set():
            return
        _engine_imported.set()

    def run() -> None:
        import importlib

        for name in ENGINE_MODULES:
            try:
                importlib.import_module(name)
            except Exception as exc:  # noqa: BLE001 - only an optimisation: the view imports it when it runs
                log.warning("could not import %s ahead: %s", name, exc)

    threading.Thread(target=run, name="crm-lens-imports", daemon=True).start()


def start_queued_preparations() -> None:
    """Start the background preparations queued by this process's writes (:func:`save_cost_rates`) of the
    open store; app.py calls it at the end of every script run, once the page is drawn."""
    store = get_store()
    with _background_lock:
        mine = {key for key in _queued if key[0] == store.path}
        _queued.difference_update(mine)
    for _, dataset_id in sorted(mine):
        prepare_in_background(store, dataset_id)


def prepare_in_background(store: Store, dataset_id: int) -> threading.Thread:
    """Compute and keep a dataset's default views (``crm_core.views.warm``) in a thread of this process.

    After new cost rates, the priced views (segments, scorecard evidence, portfolio, cost) are computed again
    while the user reads the Cost page, instead of when each page is next opened (tens of seconds at 10M
    transactions); after an import, the slow views (``views.SLOW_REQUESTS``: the executive review, a minute at
    10M) follow the default ones computed during the import. A page asking for a view the thread is computing
    waits for it and reads it (``crm_core.results.cached``). A newer call for the same dataset stops the older
    thread before its next view."""
    key = (store.path, dataset_id)
    stop = threading.Event()

    check = _progress_check(stop)

    def run() -> None:
        if stop.wait(BACKGROUND_DELAY_S):  # superseded or stopped before it began
            return
        try:
            seconds = views.warm(store, dataset_id, check, slow=True)
            log.info("prepared %d views of dataset %s in the background (%.1f s)", len(seconds), dataset_id,
                     sum(seconds.values()))
        except _Superseded:
            log.info("background preparation of dataset %s stopped: superseded", dataset_id)
        except Exception as exc:  # noqa: BLE001 - a page computes what is missing when it is opened
            log.warning("background preparation of dataset %s failed: %s", dataset_id, exc, exc_info=exc)

    return _start_superseding(key, stop, run, f"crm-lens-prepare-{dataset_id}")


# (database, data version, scope without region, segment and owner filters) of the scopes whose views this process
# has set out to keep (prepare_scope_in_background), so a page's reruns do not start them again
_scopes_started: set[tuple[str, str, scope.Scope]] = set()
SCOPES_REMEMBERED = 64


def prepare_scope_in_background(scope_: scope.Scope) -> threading.Thread | None:
    """Keep what the four pages show of ``scope_`` (``crm_core.views.warm_scope``) in a thread of this process, when
    it is a scope ``prepare`` does not keep (dates picked by hand, several channels): app.py calls it once a page is
    drawn, so the pages opened next read their views instead of computing them (3-13 s a page at 10M transactions)
    when the user has read the first one for a while; a page asking for a view the thread is computing waits for it.

    The thread starts after :data:`BACKGROUND_DELAY_S`, once the dataset's own preparation (after an import or a rate
    save) is done; a newer scope stops it at its next view (and a write to the store, as it does the dataset's own
    preparation). A scope is started once per data version and process, again only when it was stopped before the
    end. Returns the thread, or None when there is nothing to start."""
    from crm_core import results

    store = get_store()
    whole = scope_.all_customers()
    if whole.start is None or whole.end is None:
        return None
    marker = (store.path, results.data_version(store, whole.dataset_id), whole)
    with _background_lock:
        if marker in _scopes_started:
            return None
        if len(_scopes_started) >= SCOPES_REMEMBERED:
            _scopes_started.clear()
        _scopes_started.add(marker)
        main = [t for t, _ in _background.get((store.path, whole.dataset_id), []) if t.is_alive()]
    if not views.scope_requests(store, whole):
        return None  # the default scope: the dataset's preparation keeps it
    key = (store.path, whole.dataset_id, "scope")
    stop = threading.Event()

    check = _progress_check(stop)

    def run() -> None:
        try:
            if stop.wait(BACKGROUND_DELAY_S):
                raise _Superseded
            for thread in main:  # the dataset's own views first: a page of the default scope needs them
                while thread.is_alive():
                    if stop.wait(0.5):
                        raise _Superseded
            seconds = views.warm_scope(store, whole, check)
            log.info("kept %d views of %s in the background (%.1f s)", len(seconds), whole.describe(),
                     sum(seconds.values()))
        except _Superseded:  # another scope picked, the data changed or the store closed
            with _background_lock:
                _scopes_started.discard(marker)  # started again when a page shows it next
            log.info("background views of %s stopped before the end", whole.describe())
        except Exception as exc:  # noqa: BLE001 - only an optimisation: a page computes what it needs
            log.warning("could not keep the views of %s: %s", whole.describe(), exc, exc_info=exc)

    return _start_superseding(key, stop, run, f"crm-lens-scope-{whole.dataset_id}")


def _progress_check(stop: threading.Event) -> Callable[[int, int, str], None]:
    """The ``progress`` of a background ``views.warm``: before each view, wait for quiet pages
    (:func:`wait_for_quiet_pages`), then stop there when ``stop`` is set."""
    def check(done: int, total: int, name: str) -> None:
        wait_for_quiet_pages(stop)
        if stop.is_set():
            raise _Superseded
    return check


def _start_superseding(key: tuple, stop: threading.Event, run: Callable[[], None], name: str) -> threading.Thread:
    """Start ``run`` in a thread listed under ``key`` in the background work, after telling the threads of ``key``
    still running to stop (``stop`` is the new thread's)."""
    thread = threading.Thread(target=run, name=name, daemon=True)
    with _background_lock:
        older = [(t, e) for t, e in _background.get(key, []) if t.is_alive()]
        for _, superseded in older:
            superseded.set()
        _background[key] = [*older, (thread, stop)]
        thread.start()
    return thread


def stop_background(path: str | None = None) -> None:
    """Stop the background preparations of the store at ``path`` (every store's when None) at their next
    view, and wait for them (before a store is closed)."""
    with _background_lock:
        keys = [key for key in _background if path is None or key[0] == path]
        running = [pair for key in keys for pair in _background.pop(key)]
    for _, stop in running:
        stop.set()
    for thread, _ in running:
        thread.join()


def cost_view(scope_: scope.Scope, top: int = TOP_CUSTOMERS) -> dict:
    """``crm_core.views.cost_view``: everything the Cost to serve page draws for a scope."""
    return view("cost_view", scope_, top=top)


def keep_cost_usage(scope_: scope.Scope) -> threading.Thread:
    """Read what each customer of ``scope_`` used into memory (``crm_core.metrics.cost.served_usage``, once per data
    version) in a thread of this process, when its cost is priced from the stored facts: the Cost page calls it
    after drawing, so a rate save prices the kept usage (~0.05 s at a million customers) instead of reading it
    (~0.5 s), and the page does not wait for the read; and its sums per segment and per channel
    (``cost.usage_by``), which the save prices for the page's tables by group. Only an optimisation: a failure is
    logged, and a save before the read is done reads the usage itself."""
    from crm_core.metrics import cost, facts

    def work(store: Store) -> None:
        if facts.reads_stored(store, scope_):
            cost.served_usage(store, scope_)
            for by in ("segment", "channel"):  # the page's tables by group, priced from their sums (cost.usage_by)
                cost.usage_by(store, scope_, by)
    return _keep_in_background("cost usage", scope_.dataset_id, work)


def keep_member_details(scope_: scope.Scope) -> threading.Thread:
    """Read the member details of all the customers of ``scope_``'s window and their groups
    (``crm_core.views.member_details`` and ``member_groups`` of ``scope_.all_customers()``, held in memory by
    ``views.compute``) in a thread, after the Differentiate page is drawn: its customer lists and a region, segment
    or owner filter pick their rows from them, and at a million customers the read is ~0.6 s, which the page then
    does not wait for, as it opens or when a filter is set. Only an optimisation: a failure is logged, and whoever
    needs the rows reads them."""
    def work(store: Store) -> None:
        for name in ("member_details", "member_groups"):
            views.compute(store, name, scope_.all_customers())
    return _keep_in_background("member details", scope_.dataset_id, work)


def compute_ahead(scope_: scope.Scope, span: tuple[date, date], page: str) -> Callable[[], None]:
    """Start computing and keeping the previous period's views that ``page`` compares ``scope_`` with
    (``crm_core.views.previous_requests``) in a thread of this process, beside the page's own views; returns what
    waits for it (``widgets.previous_period_later`` calls it before reading them). On two cores the models'
    Python and NumPy work then overlaps DuckDB's: at 10M transactions a new 200-day window's Retention page took
    5.6-8.4 s against 6.6-9.8 s, paired runs (``bench/window.py --pages retention``). Not for the Cost page: its
    previous period's costing beside its own is DuckDB's work on the same two cores, 3.7 s against 3.1 s.
    Counted as a page's work: the background preparations wait for it.
    Views kept already are not read. Only an optimisation: a failure is logged, and the page computes what is
    missing itself."""
    store = get_store()
    requests = views.previous_requests(store, scope_, span, page)
    if not requests:
        return lambda: None

    def work(store: Store) -> None:
        with _foreground():
            views.keep(store, scope_.dataset_id, requests)
    return _keep_in_background("previous period", scope_.dataset_id, work).join


def _keep_in_background(what: str, dataset_id: int, work: Callable[[Store], object]) -> threading.Thread:
    """``work(store)`` in a thread of this process, listed with the background preparations so that closing the
    store waits for it (``stop_background``); an error is logged, not raised."""
    store = get_store()

    def run() -> None:
        try:
            work(store)
        except Exception as exc:  # noqa: BLE001 - only an optimisation: who needs it computes it
            log.warning("could not keep the %s of dataset %s: %s", what, dataset_id, exc)

    thread = threading.Thread(target=run, name=f"crm-lens-{what.replace(' ', '-')}-{dataset_id}", daemon=True)
    key = (store.path, dataset_id)
    with _background_lock:
        _background[key] = [(t, e) for t, e in _background.get(key, []) if t.is_alive()] + [(thread, threading.Event())]
        thread.start()
    return thread


def prepare_pages(dataset_id: int, progress=None) -> dict[str, float]:
    """Compute and keep the default-scope views of a dataset (``crm_core.views.warm``), after an import; the
    slow ones (the executive review) follow in the background once the page is drawn."""
    auth.require("prepare_pages")
    store = get_store()
    seconds = views.warm(store, dataset_id, progress)
    with _background_lock:
        _queued.add((store.path, dataset_id))
    return seconds
