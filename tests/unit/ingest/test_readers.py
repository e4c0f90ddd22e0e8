"""crm_core.ingest.readers: CSV/XLSX/Parquet in, raw tables out, IngestError for anything unreadable."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import zipfile
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
import yaml

from crm_core.ingest import readers
from crm_core.ingest.model import IngestError
from crm_core.ingest.readers import read_path, read_upload

FIXTURES = Path(__file__).parents[2] / "fixtures" / "vendors"
EXPECTED = yaml.safe_load((FIXTURES / "EXPECTED.yaml").read_text(encoding="utf-8"))
CSV_FIXTURES = sorted(name for name in EXPECTED if name.endswith(".csv"))


def one(name: str, data: bytes):
    tables = read_upload(name, data)
    assert len(tables) == 1
    return tables[0]


def xlsx_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    """A workbook with one sheet per entry; the first row is the header."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, dt.datetime):
                    ws.write_datetime(r, c, value, date)
                elif value is not None:
                    ws.write(r, c, value)
    wb.close()
    return buf.getvalue()


# ---------------------------------------------------------------------------- fixtures
@pytest.mark.parametrize("name", CSV_FIXTURES)
def test_csv_fixture_encoding_delimiter_and_rows(name):
    table = read_path(FIXTURES / name)[0]
    expected = EXPECTED[name]
    assert (table.encoding, table.delimiter) == (expected["encoding"], expected["delimiter"])
    assert table.frame.height == expected["rows_read"]
    assert table.source == table.file_name == name
    assert table.notes == []
    assert set(table.frame.dtypes) == {pl.String}  # CSV values stay raw text


@pytest.mark.parametrize("name", CSV_FIXTURES)
def test_read_upload_matches_read_path(name):
    from_disk = read_path(FIXTURES / name)[0]
    from_upload = read_upload(name, (FIXTURES / name).read_bytes())[0]
    assert from_upload.frame.equals(from_disk.frame)


def test_utf8_bom_is_stripped_from_first_header():
    table = read_path(FIXTURES / "pipedrive_deals_de.csv")[0]
    assert table.frame.columns[0] == "Deal – ID"
    assert table.frame["Deal – Wert"][0] == "12.400,00"


def test_cp1252_semicolon_file_keeps_accents_and_euro_sign():
    table = read_path(FIXTURES / "generic_eu_sales.csv")[0]
    assert "Crêperie Amélie" in table.frame["Customer"].to_list()
    assert table.frame["Revenue"][0] == "1.234,50 €"
    assert table.frame.columns == ["Invoice no", "Customer", "Invoice date", "Product", "Revenue"]


def test_quoted_line_break_and_doubled_quotes_stay_inside_one_field():
    frame = read_path(FIXTURES / "salesforce_opportunities.csv")[0].frame
    next_step = frame["Next Step"].to_list()
    assert "Legal review of MSA, redlines due 4/12" in next_step[3]
    assert "Then signature by CFO" in next_step[3]
    assert next_step[11] == 'Demo for "Ops" team'
    assert frame["Amount"][0] == "$24,000.00"


def test_quoted_comma_in_shopify_line_item():
    frame = read_path(FIXTURES / "shopify_orders.csv")[0].frame
    assert "Fleece Pullover, Navy / L" in frame["Lineitem name"].to_list()
    assert frame["Created at"][0] == "2024-03-05 10:20:00 -0500"


def test_xlsx_every_sheet_is_a_table_with_types_kept():
    tables = read_path(FIXTURES / "generic_orders.xlsx")
    assert [t.source for t in tables] == ["generic_orders.xlsx › Orders", "generic_orders.xlsx › Customers"]
    assert [t.sheet for t in tables] == ["Orders", "Customers"]
    orders, customers = tables
    assert orders.file_name == "generic_orders.xlsx"
    assert orders.frame.schema["Order Date"] == pl.Date
    assert orders.frame.schema["Total"] == pl.Float64
    assert orders.frame["Order Date"][0] == dt.date(2024, 1, 4)
    sheets = EXPECTED["generic_orders.xlsx"]["sheets"]
    assert orders.frame["Total"].sum() == pytest.approx(sheets["Orders"]["amount_sum"])
    assert customers.frame.height == sheets["Customers"]["rows_read"]


def test_parquet_types_kept():
    table = read_path(FIXTURES / "generic_orders.parquet")[0]
    assert table.frame.schema["Order Date"] == pl.Date
    assert table.frame["Total"].sum() == pytest.approx(EXPECTED["generic_orders.parquet"]["amount_sum"])


# ---------------------------------------------------------------------------- CSV dialects
@pytest.mark.parametrize(
    "text, delimiter, width",
    [
        ("a,b,c\n1,2,3\n", ",", 3),
        ("a;b;c\n1;2,5;3\n", ";", 3),
        ("a\tb\tc\n1\t2\t3\n", "\t", 3),
        ("a|b|c\n1|2|3\n", "|", 3),
        ('"x;y",b,c\n"1;2",2,3\n"3;4",5,6\n', ",", 3),  # semicolons inside quotes do not count
        ('name;amount\n"Smith, John";1,50\n"Doe, Jane";2,00\n', ";", 2),
        ("only\n1\n2\n", ",", 1),
    ],
)
def test_delimiter_is_sniffed(text, delimiter, width):
    table = one("x.csv", text.encode())
    assert (table.delimiter, table.frame.width, table.frame.height) == (delimiter, width, len(text.splitlines()) - 1)


def test_excel_sep_hint_line():
    table = one("x.csv", b"sep=;\na;b\n1,5;2\n")
    assert (table.delimiter, table.frame.columns, table.frame.row(0)) == (";", ["a", "b"], ("1,5", "2"))


def test_utf16_with_bom_tab_delimited():
    table = one("unicode.txt", "Kunde\tUmsatz\nJosé\t12\n".encode("utf-16"))
    assert table.encoding == "utf-16"
    assert table.frame.row(0) == ("José", "12")


def test_unknown_single_byte_encoding_is_detected():
    data = "Zákazník;Tržby\nŤažba s.r.o.;100\nŽilina Ťahy a.s.;250\n".encode("cp1250")
    table = one("cz.csv", data)
    assert table.frame["Zákazník"].to_list() == ["Ťažba s.r.o.", "Žilina Ťahy a.s."]


def test_headers_only_returns_zero_rows():
    table = one("empty_rows.csv", b"Customer,Date,Amount\n")
    assert table.frame.shape == (0, 3)


def test_blank_and_duplicate_headers_are_renamed_with_notes():
    table = one("dups.csv", b" Amount ,,Amount,amount,Date\n1,2,3,4,5\n")
    assert table.frame.columns == ["Amount", "column_2", "Amount (2)", "amount (3)", "Date"]
    assert table.notes == [
        "Column 2 has no header; it is called 'column_2'.",
        "Header 'Amount' appears more than once; column 3 is called 'Amount (2)'.",
        "Header 'amount' appears more than once; column 4 is called 'amount (3)'.",
    ]


def test_trailing_delimiter_column_without_header_or_values_is_dropped():
    table = one("trail.csv", b"a,b,\n1,2,\n3,4,\n")
    assert table.frame.columns == ["a", "b"]
    assert table.notes == []


def test_blank_rows_inside_are_kept_and_trailing_ones_dropped():
    table = one("gaps.csv", b"a,b\n1,2\n,\n3,4\n\n\n")
    assert table.frame["a"].to_list() == ["1", None, "3"]  # row numbers still match the file


def test_whitespace_around_headers_and_bom_removed():
    table = one("ws.csv", "\ufeff  Customer ID \t, Amount\n1,2\n".encode())
    assert table.frame.columns == ["Customer ID", "Amount"]


# ---------------------------------------------------------------------------- workbooks
def test_xlsx_blank_duplicate_headers_and_empty_sheets():
    data = xlsx_bytes(
        {
            "Data": [["Total", None, "Total", "When"], [1, "x", 2.5, dt.datetime(2024, 3, 5)]],
            "Empty": [],
            "Header only": [["a", "b"]],
        }
    )
    tables = read_upload("book.xlsx", data)
    assert [t.sheet for t in tables] == ["Data", "Header only"]
    data_sheet, header_only = tables
    assert data_sheet.frame.columns == ["Total", "column_2", "Total (2)", "When"]
    assert len(data_sheet.notes) == 2
    assert data_sheet.frame.schema["When"] == pl.Date
    assert header_only.frame.height == 0


def test_xlsx_text_far_down_a_numeric_column_is_not_lost():
    rows = [["n"]] + [[i] for i in range(150)] + [["ask Bob"]]
    frame = read_upload("long.xlsx", xlsx_bytes({"S": rows}))[0].frame
    assert frame.height == 151
    assert frame["n"][-1] == "ask Bob"  # the default 100-row sample would drop this row silently


# ---------------------------------------------------------------------------- errors
def _zip(files: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in files.items():
            z.writestr(name, content)
    return buf.getvalue()


def _workbook_without_sheets() -> bytes:
    src = zipfile.ZipFile(io.BytesIO(xlsx_bytes({"S": [["a"], [1]]})))
    files = {n: src.read(n) for n in src.namelist() if "worksheets" not in n}
    files["xl/workbook.xml"] = re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", files["xl/workbook.xml"])
    return _zip(files)


ERROR_CASES = {
    "empty": ("orders.csv", b"", "is empty"),
    "whitespace only": ("orders.csv", b" \r\n\n", "is empty"),
    "delimiters only": ("orders.csv", b",,\n,,\n", "is empty"),
    "bom only": ("orders.csv", b"\xef\xbb\xbf\n", "is empty"),
    "binary junk": ("orders.csv", bytes(range(256)) * 8, "binary data"),
    "bad utf-16": ("orders.txt", b"\xff\xfea\x00b", "not valid UTF-16"),
    "ragged rows": ("orders.csv", b"a,b\n1,2,3\n", "row 2 has 3 fields where the header row has 2"),
    "unclosed quote": ("orders.csv", b'a,b\n1,2\n3,"4\n5,6\n', "the quote opened in row 3 is never closed"),
    "unsupported type": ("orders.json", b'{"a": 1}', "not a supported file type"),
    "zip, not xlsx": ("orders.xlsx", _zip({"orders.csv": "a,b\n1,2\n"}), "zip archive, not an Excel workbook"),
    "plain zip": ("orders.zip", _zip({"orders.csv": "a,b\n1,2\n"}), "unzip it"),
    "damaged zip": ("orders.xlsx", xlsx_bytes({"S": [["a"], [1]]})[:600], "damaged zip"),
    "xlsx without sheets": ("orders.xlsx", _workbook_without_sheets(), "has no sheets"),
    "xlsx with empty sheets only": ("orders.xlsx", xlsx_bytes({"A": [], "B": []}), "no data in any sheet"),
    "encrypted xlsx": ("orders.xlsx", readers.OLE2_MAGIC + b"\x00" * 2048, "password-protected"),
    "html saved as xls": ("report.xls", b"<html><table><tr><td>a</td></tr></table></html>", "web page"),
    "text named xlsx": ("orders.xlsx", b"a,b\n1,2\n", "not a valid Excel workbook"),
    "damaged parquet": ("orders.parquet", b"PAR1" + b"\x00" * 20 + b"PAR1", "could not be read as Parquet"),
    "text named parquet": ("orders.parquet", b"a,b\n1,2\n", "not a valid Parquet file"),
}


@pytest.mark.parametrize("case", ERROR_CASES, ids=list(ERROR_CASES))
def test_unreadable_uploads_raise_ingest_error_naming_the_file(case):
    name, data, fragment = ERROR_CASES[case]
    with pytest.raises(IngestError) as info:
        read_upload(name, data)
    message = str(info.value)
    assert message.startswith(name)
    assert fragment in message


def test_encrypted_xlsx_message_says_what_to_do():
    with pytest.raises(IngestError, match=r"save it as an unencrypted \.xlsx"):
        read_upload("secret.xlsx", readers.OLE2_MAGIC + os.urandom(4096))


def test_too_large_upload_names_size_and_limit():
    with pytest.raises(IngestError, match=r"^big\.csv is 3 MB; the limit is 2 MB"):
        read_upload("big.csv", b"a" * (3 * 1024 * 1024), max_bytes=2 * 1024 * 1024)


def test_too_large_path_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 1000)
    with pytest.raises(IngestError, match=r"^huge\.csv is 4 KB; the limit is 1 KB"):
        read_path(path, max_bytes=1024)


def test_missing_path(tmp_path):
    with pytest.raises(IngestError, match=r"^nowhere\.csv cannot be opened"):
        read_path(tmp_path / "nowhere.csv")


def test_bad_files_written_to_disk_raise_with_file_name(tmp_path):
    for name, data, fragment in ERROR_CASES.values():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(IngestError, match=re.escape(fragment)):
            read_path(path)
