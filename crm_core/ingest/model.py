"""Shared value types of the import pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


class IngestError(Exception):
    """A file (or sheet) cannot be imported at all. The message is shown to the user as is:
    it names the file and says what is wrong and what to do."""


@dataclass(frozen=True)
class Problem:
    """One problem found in an upload. ``row`` is the 1-based data row as a spreadsheet user
    counts it (header = row 1, so the first data row is 2); None when the problem is the
    whole column or file."""

    file: str
    message: str
    column: str | None = None
    row: int | None = None
    value: str | None = None
    severity: str = "error"  # "error" rejects the row(s); "warning" informs only

    def __str__(self) -> str:
        where = [self.file]
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.value is not None:
            where.append(f"value {self.value!r}")
        return f"{', '.join(where)}: {self.message}"


@dataclass
class RawTable:
    """A table as read from a file, before mapping: original headers, raw values.

    CSV columns are all strings; XLSX and Parquet keep the types the reader found
    (numbers, dates), which the parsers accept as well."""

    source: str  # file name, or "file.xlsx › Sheet" for a sheet
    frame: pl.DataFrame
    file_name: str = ""
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)
