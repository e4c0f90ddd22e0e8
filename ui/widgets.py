"""Small Streamlit helpers shared by the pages: KPI cards with their definition, problem tables,
CSV downloads, and errors shown the way DESIGN §8 asks (what happened and what to do; the traceback
goes to the log, never the screen)."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Mapping

import polars as pl
import streamlit as st

from crm_core import safe_export
from crm_core.auth import PermissionDenied
from crm_core.ingest.model import IngestError, Problem
from crm_core.store import StoreError

from ui import state

log = logging.getLogger("crm_lens.ui")

# The first words of the message shown for an unexpected error: tests assert it never appears.
UNEXPECTED_ERROR = "Something went wrong"


def metric_card(label: str, value, definition: str, *, delta=None, delta_color: str = "normal") -> None:
    """A KPI with its definition on hover (DESIGN §8: every KPI has its definition)."""
    st.metric(label, value, delta=delta, delta_color=delta_color, help=definition, border=True)


# What a KPI card says instead of a change when the previous period is not a whole one (DESIGN §8).
PREVIOUS_INCOMPLETE = "previous period incomplete"


def kpi_card(
    label: str,
    value,
    definition: str,
    *,
    delta: str | None = None,
    delta_color: str = "normal",
    previous_incomplete: bool = False,
) -> None:
    """A KPI card: the value, its definition on hover and the change against the previous period.

    ``delta`` is a ready text (see :func:`delta_text`); with ``previous_incomplete`` the card says
    "previous period incomplete" in grey instead of a change (a partial period is never compared as if
    whole); with neither, no delta (e.g. an open window)."""
    with st.container(border=True):
        if delta is not None and not previous_incomplete:
            st.metric(label, value, delta=delta, delta_color=delta_color, help=definition,
                      delta_description="vs previous period")
        else:
            st.metric(label, value, help=definition)
        if previous_incomplete:
            st.caption(PREVIOUS_INCOMPLETE)


def delta_text(current: float | None, previous: float | None, *, mode: str = "relative") -> str | None:
    """The change of a KPI as text: ``"relative"`` (``+12.3%``) for counts and money, ``"points"``
    (``+1.2 pp``) for shares, ``"absolute"`` (``+0.02``) for coefficients such as the Gini; None when
    either value is unknown or a relative change has no base."""
    if current is None or previous is None:
        return None
    if mode == "points":
        return f"{(current - previous) * 100:+.1f} pp"
    if mode == "absolute":
        return f"{current - previous:+.2f}"
    if mode != "relative":
        raise ValueError(f"unknown delta mode {mode!r}")
    if previous == 0:
        return None
    return f"{(current - previous) / abs(previous):+.1%}"


def download_table(frame: pl.DataFrame | Callable[[], pl.DataFrame], file_name: str, *, key: str,
                   what: str = "table") -> None:
    """CSV and Excel downloads of a table side by side (Excel via xlsxwriter, Polars ``write_excel``).

    Both files are written when the button is clicked (Streamlit's deferred download), not on every
    rerun: an Excel file of a million customers takes tens of seconds to write. ``frame`` may be a function
    giving the table, called then too."""
    name = safe_file_name(file_name.removesuffix(".csv").removesuffix(".xlsx"))
    with st.container(horizontal=True, gap="small"):
        download_frame(frame, f"{what[:1].upper() + what[1:]} as CSV", name, key=f"{key}_csv")
        st.download_button(
            f"{what[:1].upper() + what[1:]} as Excel",
            data=lambda: excel_bytes(frame() if callable(frame) else frame, sheet=what),
            file_name=name + ".xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"{key}_xlsx",
            on_click="ignore",
            icon=":material/table_view:",
        )


def excel_bytes(frame: pl.DataFrame, *, sheet: str = "data") -> bytes:
    """A one-sheet .xlsx workbook of ``frame`` (Enum/categorical columns written as text), formula injection
    neutralized (``crm_core.safe_export``: text starting with = + - @ tab or CR gets a leading quote)."""
    return safe_export.xlsx_bytes(frame, sheet=sheet)


def count_columns(names: Iterable[str]) -> dict:
    """column_config for row counts: whole numbers with thousands separators."""
    return {name: st.column_config.NumberColumn(name, format="localized") for name in names}


def problems_frame(problems: Iterable[Problem]) -> pl.DataFrame:
    """Problems as a table: file, column, row, value, message."""
    rows = [
        {
            "File": p.file,
            "Column": p.column or "",
            "Row": p.row,
            "Value": "" if p.value is None else p.value,
            "Problem": p.message,
        }
        for p in problems
    ]
    return pl.DataFrame(
        rows,
        schema={"File": pl.String, "Column": pl.String, "Row": pl.Int64, "Value": pl.String, "Problem": pl.String},
        orient="row",
    )


def problems_table(problems: Iterable[Problem], *, key: str | None = None) -> None:
    """The problems of an upload, one row each; row numbers count the header as row 1."""
    frame = problems_frame(problems)
    if frame.is_empty():
        return
    st.dataframe(
        frame,
        width="stretch",
        hide_index=True,
        key=key,
        column_config={
            "Row": st.column_config.NumberColumn(
                "Row", help="Row in the file as a spreadsheet counts it: the header is row 1.", format="%d"
            ),
            "Problem": st.column_config.TextColumn("Problem", width="large"),
        },
    )


def safe_file_name(text: str) -> str:
    """A download file name from any text (dataset names come from users): ASCII letters, digits, ``.``, ``_``
    and ``-`` only, no leading or trailing dots (no ``..``, no hidden file), never empty."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._-") or "data"


def download_frame(frame: pl.DataFrame | Callable[[], pl.DataFrame], label: str, file_name: str, *, key: str) -> None:
    """A CSV download of a Polars frame (UTF-8, header row, ISO dates, text cells starting with = + - @ tab or CR
    neutralized by a leading quote), written on click; no rerun. ``frame`` may be a function giving it."""
    st.download_button(
        label,
        data=lambda: safe_export.csv_bytes(frame() if callable(frame) else frame),  # formula injection neutralized (crm_core.safe_export)
        file_name=safe_file_name(file_name.removesuffix(".csv")) + ".csv",
        mime="text/csv",
        key=key,
        on_click="ignore",
        icon=":material/download:",
    )


def apply_edits(frame: pl.DataFrame, edited_rows: dict) -> pl.DataFrame:
    """``frame`` with the cell edits of an ``st.data_editor`` applied: ``edited_rows`` maps a row position to
    ``{column: new value}`` (a cleared cell is None), as the editor keeps them in its session state. Each
    edited column keeps its type; a value that does not fit it raises ``ValueError``."""
    if not edited_rows:
        return frame
    columns = {}
    for name in {c for changes in edited_rows.values() for c in changes}:
        values = frame.get_column(name).to_list()
        for row, changes in edited_rows.items():
            if name in changes:
                values[int(row)] = changes[name]
        columns[name] = pl.Series(name, values, dtype=frame.schema[name], strict=False)
        if columns[name].null_count() > sum(v is None for v in values):
            raise ValueError(f"an edited value of column {name!r} is not a {frame.schema[name]}")
    return frame.with_columns(*columns.values())


def edited(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """The table the user sees in the ``st.data_editor`` of ``key`` showing ``frame``: its edits applied
    (for a button's callback, which runs before the editor is drawn again)."""
    editor = st.session_state.get(key) or {}
    return apply_edits(frame, editor.get("edited_rows") or {})


def show_flashes() -> None:
    """Messages left by the previous run (an import, a delete) for this one."""
    for kind, message in state.pop_flashes():
        getattr(st, kind, st.info)(message)


def user_message(exc: BaseException) -> str:
    """What the user reads for an exception: the message of errors written for users, otherwise
    what happened in general terms and what to do next."""
    if isinstance(exc, (StoreError, IngestError, PermissionDenied)):
        return str(exc)
    return (
        f"{UNEXPECTED_ERROR} while showing this page ({type(exc).__name__}). Nothing in your data was "
        "changed. Reload the page or choose another dataset; if it happens again, the server log has "
        "the details to report."
    )


def show_error(exc: BaseException, where: str = "page") -> None:
    """Log the traceback and show the user a message without it."""
    log.error("error on the %s: %s", where, exc, exc_info=exc)
    st.error(user_message(exc), icon=":material/error:")


def section(where: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Make a page section an ``st.fragment``: its own widgets rerun that section alone, not the sidebar and the
    rest of the page (which do not depend on them). A fragment's own reruns do not pass through app.py's error
    handling, so the section shows an unexpected error itself, the same way (``where`` names it in the log)."""

    def decorate(draw: Callable[..., None]) -> Callable[..., None]:
        @st.fragment
        @functools.wraps(draw)
        def isolated(*args, **kwargs) -> None:
            try:
                draw(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - Streamlit's rerun/stop are BaseExceptions and pass through
                show_error(exc, where)

        return isolated

    return decorate


def page_tabs(sections: Mapping[str, Callable[[], None]], key: str, *, keep: Iterable[str] = ()) -> None:
    """A page's sections as tabs, ``{label: draw}``, of which only the open one runs: ``draw()`` of the open tab
    is called inside it (``st.tabs`` with ``on_change="rerun"``: a tab opened reruns the page, or the fragment
    the tabs are in).

    Why: the browser, not the server, was most of a filter change at a million customers. Every chart whose
    figure changed is mounted afresh (Streamlit's element id follows the figure), and a page drew four to six.
    With one tab drawn, ``bench/pages.py`` at 1M customers / 10M transactions on a 2-core laptop: Portfolio's
    region filter 4.0 → 1.3 s set and 1.9 → 0.5 s cleared, its first render 6.2 → 2.9 s, Differentiate's number
    of segments 1.9 → 0.8 s. ``keep``: keys of widgets inside tabs whose values must outlive a visit to another
    tab (Streamlit forgets the value of a widget a run did not draw, unless the run sets it).
    """
    for name in keep:
        if name in st.session_state:
            st.session_state[name] = st.session_state[name]
    for tab, draw in zip(st.tabs(list(sections), key=key, on_change="rerun"), sections.values(), strict=True):
        if tab.open:
            with tab:
                draw()


# ---------------------------------------------------------------------------- page tables and numbers
def scope_caption(scope, currency: str | None) -> None:
    """The line under a page's title: the scope its figures cover and the money's currency, or that the exports
    named none (their amounts are then shown as they are, "amount" in axis titles)."""
    money = f"Money in {currency.strip()}" if currency and currency.strip() else (
        "Money as in the exports, which name no currency")
    st.caption(f"Scope: {scope.describe()}. {money}.")


def pct(value: float | None) -> str:
    """A share as a percentage with one decimal; a dash when unknown (None or NaN)."""
    return "–" if value is None or value != value else f"{value:.1%}"


def compact(value: float | None) -> str:
    """A large number in a few characters: 15.6M, 2.3k."""
    if value is None:
        return "–"
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            return f"{value / div:,.1f}{suffix}"
    return f"{value:,.0f}"


MAX_TABLE_ROWS = 1000  # rows a table shows on the page; its downloads hold every row


def show_table(frame: pl.DataFrame, file_name: str, key: str, *, what: str, column_config: dict | None = None,
               total: int | None = None, whole: Callable[[], pl.DataFrame] | None = None) -> None:
    """A table (short ones without a scrollbar) with its CSV and Excel downloads below.

    A long table shows its first ``MAX_TABLE_ROWS`` rows and says so: a million customers would be
    ~100 MB sent to the browser on every rerun; the downloads (written on click) hold all of them. ``frame`` may
    hold only those first rows of a longer table: ``total`` is then its row count and ``whole()`` gives all of
    it, built only when a download is clicked."""
    shown = frame.head(MAX_TABLE_ROWS)
    total = frame.height if total is None else total
    height = 35 * (shown.height + 1) + 3 if shown.height <= 12 else "auto"
    st.dataframe(shown, width="stretch", height=height, hide_index=True, column_config=column_config or {})
    if total > shown.height:
        st.caption(f"Showing the first {shown.height:,} of {total:,} rows; the downloads below hold all of them.")
    download_table(frame if whole is None else whole, file_name, key=key, what=what)


def share_columns(*names: str) -> dict:
    """Column config showing shares (0..1) as percentages."""
    return {n: st.column_config.NumberColumn(n, format="percent") for n in names}


def money_columns(unit: str, *names: str) -> dict:
    """Column config for amounts of money in ``unit``, with thousands separators."""
    return {n: st.column_config.NumberColumn(n, format="%,.0f", help=f"In {unit}") for n in names}


def kpi_row(cards: list[tuple], previous, incomplete: bool, span, *, pending: bool = False) -> None:
    """KPI cards side by side, then one caption saying what the changes compare with: nothing (open
    window), nothing because the previous period of equal length starts before the data (``span[0]``,
    the first purchase date), or that whole previous period. ``cards``: (label, value, help, change,
    delta colour) each. ``pending``: the changes are still being computed (:func:`previous_period_later`)."""
    for col, (label, value, help_text, change, color) in zip(st.columns(len(cards)), cards):
        with col:
            kpi_card(label, value, help_text, delta=change, delta_color=color, previous_incomplete=incomplete)
    if previous is None:
        st.caption("No change shown: the analysis window is open; pick dates in the sidebar to compare periods.")
    elif incomplete:
        st.caption(
            f"The previous period of equal length ({previous.start:%Y-%m-%d} to {previous.end:%Y-%m-%d}) starts "
            f"before the data's first purchase ({span[0]:%Y-%m-%d}), so it is not compared. Shorten the window "
            "to compare with a whole previous period."
        )
    elif pending:
        st.caption(f"Computing the changes against {previous.start:%Y-%m-%d} to {previous.end:%Y-%m-%d} (same "
                   "length, same filters): they appear here once the rest of the page is drawn.")
    else:
        st.caption(f"Changes against {previous.start:%Y-%m-%d} to {previous.end:%Y-%m-%d} (same length, same filters).")


def previous_period(scope, span) -> tuple[object | None, bool]:
    """(the previous period of equal length or None for an open window, whether it starts before the data's
    first purchase ``span[0]`` and so is not compared)."""
    previous = scope.previous()
    return previous, previous is not None and previous.start < span[0]


def previous_period_later(draw, scope, span, figures, wait: Callable[[], object] | None = None):
    """KPI cards whose changes take long to compute: ``draw(before, pending)`` draws them now without changes
    (``before`` None, ``pending`` True when a whole previous period will be compared), in a placeholder; the
    returned function, called at the end of the page, computes ``figures(previous)`` and draws them again with
    their changes. A new window at a million customers costs its previous period as much again (retention
    models, costing), and the rest of the page need not wait for it.

    ``wait``: what waits for the previous period's views a thread computes beside the page (``ui.data.compute_ahead``),
    called before ``figures``."""
    previous, incomplete = previous_period(scope, span)
    compare = previous is not None and not incomplete
    slot = st.empty()
    with slot.container():
        draw(None, compare)

    def finish() -> None:
        if not compare:
            return
        with st.spinner(f"Comparing with {previous.start:%Y-%m-%d} to {previous.end:%Y-%m-%d}…"):
            if wait is not None:
                wait()
            before = figures(previous)
        with slot.container():
            draw(before, False)
    return finish
