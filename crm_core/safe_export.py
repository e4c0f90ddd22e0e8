"""Safe CSV and Excel exports: spreadsheet formula injection neutralized (OWASP "CSV Injection").

A spreadsheet opening a CSV (or reading a cell typed by a user) runs any cell that begins with ``=``, ``+``,
``-`` or ``@`` as a formula — ``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0`` (DDE) — and a leading tab or carriage
return can hide such a cell from a quick look. Customer names, comments and headers come from CRM exports
anyone could have typed into, so every text cell that begins with one of these characters gets a single
quote in front (``=1+1`` is written as ``'=1+1``): the spreadsheet shows it as text and runs nothing.

Rules (the same for the app's CSV and Excel downloads, the report workbook and ``python -m crm_core export``):

- only text is changed: String, Categorical and Enum columns, and the column names (headers are cells too);
- numbers, dates and booleans stay typed as they are (a negative amount is a number, not text, and keeps its
  minus); a text cell "-12" does get the quote, as OWASP advises, since text is never evaluated as a number;
- the quote is added once: a cell already beginning with ``'`` is left alone, so neutralizing twice changes
  nothing more.
"""

from __future__ import annotations

import io
import re

import polars as pl

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_PATTERN = "^[=+\\-@\t\r]"
_SHEET_JUNK = re.compile(r"[\\/*?:\[\]]")


def neutralize_value(value):
    """A single cell: text starting with a trigger gets a leading quote; anything else is returned unchanged."""
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return QUOTE + value
    return value


def neutralize(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text cell and column name neutralized (see the module doc); other types unchanged.

    Categorical and Enum columns come back as String (their categories may be dangerous too)."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, (pl.Enum, pl.Categorical)):
            col = col.cast(pl.String)
            dtype = pl.String
        if dtype == pl.String:
            col = pl.when(col.str.contains(_PATTERN)).then(pl.lit(QUOTE) + col).otherwise(col)
        exprs.append(col.alias(name))
    out = frame.select(exprs) if exprs else frame
    renames = {c: neutralize_value(c) for c in out.columns if neutralize_value(c) != c}
    return out.rename(renames) if renames else out


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """UTF-8 CSV with a header row, ISO dates, every text cell neutralized."""
    return neutralize(frame).write_csv().encode("utf-8")


def sheet_name(text: str) -> str:
    """A valid worksheet name: no ``\\ / * ? : [ ]``, at most 31 characters, never empty."""
    return _SHEET_JUNK.sub(" ", str(text)).strip()[:31] or "data"


def xlsx_bytes(frame: pl.DataFrame, *, sheet: str = "data") -> bytes:
    """A one-sheet .xlsx workbook of ``frame`` with every text cell neutralized and written as text, never as a
    formula (xlsxwriter would otherwise turn a string beginning with ``=`` into one)."""
    safe = neutralize(frame)
    buffer = io.BytesIO()
    safe.write_excel(buffer, worksheet=sheet_name(sheet), autofit=True)
    return buffer.getvalue()
