"""Safe exports (issue #8): OWASP CSV injection neutralized in CSV and Excel, numbers kept as numbers."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_core import cli, safe_export
from crm_core.safe_export import QUOTE, TRIGGERS, neutralize, neutralize_value

DANGEROUS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "=cmd|' /C calc'!A0", '=HYPERLINK("http://x","y")']


@pytest.mark.parametrize("text", DANGEROUS)
def test_a_dangerous_cell_gets_a_leading_quote(text):
    assert neutralize_value(text) == QUOTE + text


@pytest.mark.parametrize("value", ["plain", "", "O'Brien", "'=already", 12, -3.5, None, date(2024, 1, 1), True])
def test_anything_else_is_unchanged(value):
    assert neutralize_value(value) == value


def test_frame_text_and_headers_are_neutralized_numbers_stay_numbers():
    frame = pl.DataFrame({
        "=name": ["=1+1", "Ann", "-5", None],
        "amount": [-12.5, 3.0, 4.0, None],
        "n": [-1, 2, 3, 4],
        "day": [date(2024, 1, i) for i in range(1, 5)],
    }).with_columns(pl.Series("kind", ["@x", "b", "c", "d"]).cast(pl.Categorical))
    out = neutralize(frame)
    assert out.columns == ["'=name", "amount", "n", "day", "kind"]
    assert out["'=name"].to_list() == ["'=1+1", "Ann", "'-5", None]
    assert out["kind"].to_list() == ["'@x", "b", "c", "d"]
    assert out["amount"].dtype == pl.Float64 and out["amount"].to_list() == frame["amount"].to_list()
    assert out["n"].dtype == pl.Int64 and out["day"].dtype == pl.Date


@given(st.lists(st.text(max_size=12), min_size=1, max_size=20))
def test_no_text_cell_of_a_csv_starts_with_a_trigger(values):
    frame = pl.DataFrame({"v": values})
    back = pl.read_csv(io.BytesIO(safe_export.csv_bytes(frame)), infer_schema=False, quote_char='"')
    for original, cell in zip(values, back["v"].to_list()):
        if original.startswith(TRIGGERS):
            assert cell == QUOTE + original
        assert cell is None or not cell.startswith(TRIGGERS)


@given(st.lists(st.text(max_size=12), min_size=1, max_size=10))
def test_neutralizing_twice_changes_nothing_more(values):
    once = neutralize(pl.DataFrame({"v": values}))
    assert neutralize(once).equals(once)


def test_excel_cells_are_text_never_formulas():
    frame = pl.DataFrame({"name": DANGEROUS, "amount": list(range(-4, 4))})
    data = safe_export.xlsx_bytes(frame, sheet="a/b:c[d]")
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet
    back = pl.read_excel(data)
    assert back["name"].to_list() == [QUOTE + t for t in DANGEROUS]
    assert back["amount"].to_list() == list(range(-4, 4))


def test_the_report_workbook_neutralizes_user_text():
    from crm_core.report.xlsx import _text

    assert _text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _text("-12.3%") == "-12.3%"  # a change the report formats itself stays as it is


def test_cli_export_writes_a_neutralized_table(tmp_path, capsys):
    from crm_core.store import Store, TableLoad

    db = tmp_path / "crm.duckdb"
    with Store(db) as store:
        customers = pl.DataFrame({"customer_id": ["C1", "C2"], "name": ["=1+1", "Ann"], "email": ["@x", "a@b.c"]})
        store.load("main", [TableLoad("customers", customers, file_name="c.csv")])
    out_csv, out_xlsx = tmp_path / "c.csv", tmp_path / "c.xlsx"
    assert cli.main(["export", "customers", "--format", "csv", "--out", str(out_csv), "--db", str(db)]) == 0
    assert cli.main(["export", "customers", "--format", "xlsx", "--out", str(out_xlsx), "--db", str(db),
                     "--dataset", "main"]) == 0
    text = out_csv.read_text()
    assert "'=1+1" in text and "'@x" in text and "dataset_id" not in text
    assert pl.read_excel(out_xlsx)["name"].to_list() == ["'=1+1", "Ann"]
    assert cli.main(["export", "nope", "--format", "csv", "--out", str(out_csv), "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: TABLE must be one of")
