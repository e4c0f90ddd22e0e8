"""Hostile names (issue #8): column, sheet, file and dataset names from uploads never reach SQL unquoted or a file
path unsanitized. Hypothesis feeds names with quotes, semicolons, SQL, path parts, control characters and
unicode through the whole pipeline (read, prepare, import) for CSV and XLSX, and checks that the import still
lands exactly, the names are stored verbatim (bound, not spliced) and no table of the store was touched."""

from __future__ import annotations

import io
import json
import re

import polars as pl
import xlsxwriter
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crm_core.ingest import pipeline
from crm_core.ingest.model import IngestError
from crm_core.store import Store
from ui.widgets import safe_file_name

NASTY = [
    '"', "'", '";', "';--", '"); DROP TABLE customers; --', "' OR 1=1 --", "x\" FROM datasets; --", "`id`",
    "[name]", "../../etc/passwd", "..\\..\\boot.ini", "/dev/null", "C:\\con", "a\nb", "\u202e", "名前", "%s", "{0}",
    "$1", "?", "\\", "=HYPERLINK(\"x\")", "NUL", ".", "..",
]
name_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
            max_size=20),
)
REQUIRED = ["Customer ID", "Order Date", "Revenue"]
ROWS = [["C1", "2024-01-05", "10.5"], ["C2", "2024-02-06", "20"], ["C1", "2024-03-07", "5"]]


def _csv(headers: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    import csv

    csv.writer(buf).writerows([headers, *rows])
    return buf.getvalue().encode()


def _xlsx(sheet: str, headers: list[str], rows: list[list[str]]) -> bytes:
    buf = io.BytesIO()
    with xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False}) as wb:
        ws = wb.add_worksheet(sheet)
        for i, row in enumerate([headers, *rows]):
            for j, v in enumerate(row):
                ws.write_string(i, j, v)
    return buf.getvalue()


def _sheet_name(text: str) -> str:
    clean = re.sub(r"[\[\]:*?/\\]", "_", text).strip("'")[:31]
    return clean or "Sheet"


def _check_store_intact(store: Store, tables_before: set[str]) -> None:
    tables = {r[0] for r in store.cursor().execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert tables_before <= tables  # nothing was dropped


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(extra=st.lists(name_text, min_size=1, max_size=4), file_stem=name_text, dataset=name_text,
       kind=st.sampled_from(["csv", "xlsx"]), sheet=name_text)
# found in CI: a lone CR in a header cell made the delimiter sniffer raise csv.Error (a traceback)
@example(extra=["0\r"], file_stem='"', dataset='"', kind="csv", sheet='"')
@example(extra=["`id`"], file_stem='"', dataset='"', kind="csv", sheet='"')
@example(extra=["AMOUNT"], file_stem='"', dataset='"', kind="csv", sheet='"')
def test_hostile_names_go_through_prepare_and_import_intact(tmp_path_factory, extra, file_stem, dataset, kind, sheet):
    headers = REQUIRED + [h for h in extra if h.strip() and h.strip().casefold() not in {r.casefold() for r in REQUIRED}]
    # values unique per row: an extra header may map onto a key column (e.g. `id` -> transaction_id)
    rows = [r + [f"v{i}-{n}" for i in range(len(headers) - 3)] for n, r in enumerate(ROWS)]
    file_name = f"{file_stem}.{kind}"
    payload = _csv(headers, rows) if kind == "csv" else _xlsx(_sheet_name(sheet), headers, rows)
    dataset = dataset.strip() or "ds"
    with Store(tmp_path_factory.mktemp("hostile") / "crm.duckdb") as store:
        before = {r[0] for r in store.cursor().execute("SELECT table_name FROM information_schema.tables").fetchall()}
        try:
            prepared = pipeline.prepare_upload(file_name, payload, store=store, dataset=dataset)
        except IngestError as exc:  # e.g. a header that is only junk characters: refused with a message
            assert file_name in str(exc)
            _check_store_intact(store, before)
            return
        usable = [p for p in prepared if not p.fatal]
        assert usable, [str(p) for prep in prepared for p in prep.problems]
        try:
            result = pipeline.import_prepared(store, dataset, usable, accept_partial=True)
        except pipeline.ImportRefused as exc:
            # an extra header mapped onto a canonical column (e.g. AMOUNT) whose values cannot be parsed:
            # refused with a message, nothing stored
            assert "No row can be imported" in str(exc)
            _check_store_intact(store, before)
            return
        assert result.per_table()["transactions"]["loaded"] == 3
        # stored verbatim: names were bound as values, not spliced into SQL
        assert store.dataset_id(dataset) == result.dataset_id
        batch = store.batches(result.dataset_id).to_dicts()[0]
        assert batch["file_name"].startswith(file_name)
        mapping = json.loads(batch["mapping"])
        assert set(mapping.values()) <= set(usable[0].raw.frame.columns)
        assert store.table("transactions", result.dataset_id).height == 3
        _check_store_intact(store, before)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_download_file_names_are_always_safe(text):
    name = safe_file_name(text)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*|data", name) or re.fullmatch(r"[A-Za-z0-9._-]+", name)
    assert not name.startswith(".") and "/" not in name and "\\" not in name and name not in ("", ".", "..")


def test_quote_ident_round_trips_any_name():
    from crm_core.sql import quote_ident

    with Store(":memory:") as store:
        cur = store.cursor()
        for name in NASTY:
            cur.execute(f"CREATE TABLE {quote_ident(name)} ({quote_ident(name)} INTEGER)")
            cur.execute(f"INSERT INTO {quote_ident(name)} VALUES (1)")
            assert cur.execute(f"SELECT {quote_ident(name)} FROM {quote_ident(name)}").fetchall() == [(1,)]
            cur.execute(f"DROP TABLE {quote_ident(name)}")
        assert store.scalar("SELECT COUNT(*) FROM datasets") == 0


def test_hostile_headers_survive_as_raw_columns():
    headers = REQUIRED + ['"; DROP TABLE customers; --', "../x"]
    prepared = pipeline.prepare_upload("x.csv", _csv(headers, [r + ["a", "b"] for r in ROWS]))
    assert list(prepared[0].raw.frame.columns) == headers
    assert isinstance(prepared[0].frame, pl.DataFrame) and prepared[0].rows_ok == 3
