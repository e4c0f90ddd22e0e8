"""Read an uploaded export (CSV/TSV/TXT, XLSX/XLSM/XLS, Parquet) into raw tables (DESIGN.md §5).

Nothing is parsed here: CSV values stay text, spreadsheet and Parquet columns keep the types
their reader found. Headers keep their original text (trimmed); blank headers become
``column_<n>`` and repeated ones get `` (2)``, each with a note on the table. Every failure is
an :class:`IngestError` whose message names the file and says what to do.
"""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
from pathlib import Path

import charset_normalizer
import fastexcel
import polars as pl

from crm_core.ingest.model import IngestError, RawTable

MAX_UPLOAD_BYTES = 200 * 1024 * 1024

# Decompression-bomb guard for workbooks (zip containers), checked before any parser sees the file; the
# limits follow Apache POI's ZipSecureFile (minimum inflate ratio 0.01, i.e. at most 100x per member).
MAX_UNZIPPED_BYTES = 2 * 1024 * 1024 * 1024  # all members together, uncompressed
MAX_ZIP_RATIO = 100  # uncompressed / compressed size of one member (members over RATIO_FROM_BYTES)
RATIO_FROM_BYTES = 1024 * 1024
MAX_ZIP_MEMBERS = 10_000
MAX_COLUMNS = 2_000  # a CRM export has tens to a few hundred columns
MAX_HEADER_CHARS = 1_000  # one header cell; longer means row 1 is not a header row

TEXT_EXTENSIONS = (".csv", ".tsv", ".txt")
EXCEL_EXTENSIONS = (".xlsx", ".xlsm", ".xls")
PARQUET_EXTENSIONS = (".parquet", ".pq")
SUPPORTED = "a CSV, TSV, TXT, XLSX, XLS or Parquet file"

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, or an encrypted .xlsx
PARQUET_MAGIC = b"PAR1"
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")

DELIMITERS = (",", ";", "\t", "|")
SNIFF_CHARS = 64 * 1024  # text looked at to choose the delimiter
SNIFF_RECORDS = 20
HEADER_JUNK = " \t\r\n\ufeff\xa0"
SHEET_SEPARATOR = " \u203a "  # "file.xlsx › Sheet"


def read_path(path: str | Path, max_bytes: int = MAX_UPLOAD_BYTES) -> list[RawTable]:
    """Read a file from disk; see :func:`read_upload`."""
    path = Path(path)
    try:
        size = path.stat().st_size
        _check_size(path.name, size, max_bytes)
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path.name} cannot be opened ({exc.strerror}); check the path and try again.") from exc
    return read_upload(path.name, data, max_bytes=max_bytes)


def read_upload(name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> list[RawTable]:
    """Read an uploaded file into one :class:`RawTable` per table (one per sheet for workbooks).

    A table with a header row and no data rows is returned with 0 rows; the caller reports it.

    Raises
    ------
    IngestError
        The file is empty, too large, of an unknown type, binary junk, a zip that is not a
        workbook, an encrypted workbook, or cannot be read.
    """
    _check_size(name, len(data), max_bytes)
    if not data.strip():
        raise IngestError(_empty(name))
    ext = Path(name).suffix.casefold()
    if data.startswith(ZIP_MAGIC):
        return _read_zip(name, data)
    if data.startswith(OLE2_MAGIC):
        return _read_legacy_excel(name, data)
    if data.startswith(PARQUET_MAGIC):
        return [_read_parquet(name, data)]
    if ext in EXCEL_EXTENSIONS:
        raise IngestError(_not_a_workbook(name, data))
    if ext in PARQUET_EXTENSIONS:
        raise IngestError(f"{name} is not a valid Parquet file; export it again.")
    if ext in TEXT_EXTENSIONS:
        return [_read_text(name, data)]
    raise IngestError(f"{name} is not a supported file type; upload {SUPPORTED}.")


def _empty(name: str) -> str:
    return f"{name} is empty; export the data again and upload the file with its rows."


def _check_size(name: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise IngestError(
            f"{name} is {_size(size)}; the limit is {_size(max_bytes)}, so split the export into smaller files."
        )


def _size(n: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.0f} {unit}"
    return f"{n} bytes"


def _not_a_workbook(name: str, data: bytes) -> str:
    if data.lstrip()[:1] == b"<":
        return (
            f"{name} is a web page saved with an Excel file name (some CRMs export reports this way); "
            "export the report as CSV or save it from Excel as .xlsx."
        )
    return f"{name} is not a valid Excel workbook; open it in Excel and save it again as .xlsx."


# ---------------------------------------------------------------------------- headers
def _check_header(source: str, texts: list[str]) -> None:
    """Refuse a header row no CRM export has: too many columns, or a cell too long to be a header."""
    if len(texts) > MAX_COLUMNS:
        raise IngestError(
            f"{source} has {len(texts):,} columns; the limit is {MAX_COLUMNS:,}. Check that the delimiter is right, "
            "or export fewer columns."
        )
    longest = max((len(t) for t in texts), default=0)
    if longest > MAX_HEADER_CHARS:
        raise IngestError(
            f"{source}: row 1 is not a header row (a header cell of {longest:,} characters; the limit is "
            f"{MAX_HEADER_CHARS:,}). Check the delimiter and that the export starts with its column names."
        )


def _name_columns(frame: pl.DataFrame, header: list[object], source: str | None = None) -> tuple[pl.DataFrame, list[str]]:
    """Give a freshly read frame its headers; return it with a note for every header changed.

    Columns with neither a header nor a value (a trailing delimiter) are dropped; other blank
    headers become ``column_<n>`` (n = 1-based position in the file) and repeated headers get
    `` (2)``, `` (3)``…. Blank rows at the end are dropped; blank rows inside are kept so row
    numbers still match the file.
    """
    header = (list(header) + [None] * frame.width)[: frame.width]
    texts = ["" if h is None else str(h).strip(HEADER_JUNK) for h in header]
    _check_header(source or "The file", texts)
    keep = [i for i, t in enumerate(texts) if t or _has_values(frame.to_series(i))]
    names, notes, seen = [], [], set()
    for i in keep:
        name = texts[i]
        if not name:
            name = f"column_{i + 1}"
            notes.append(f"Column {i + 1} has no header; it is called '{name}'.")
        unique, n = name, 1
        while unique.casefold() in seen:
            n += 1
            unique = f"{name} ({n})"
        if unique != name:
            notes.append(f"Header '{name}' appears more than once; column {i + 1} is called '{unique}'.")
        seen.add(unique.casefold())
        names.append(unique)
    named = pl.DataFrame([frame.to_series(i).alias(name) for i, name in zip(keep, names)])
    return _drop_trailing_empty_rows(named), notes


def _has_values(s: pl.Series) -> bool:
    return bool(_filled(s).any())


def _filled(s: pl.Series) -> pl.Series:
    if s.dtype == pl.String:
        return s.str.strip_chars().fill_null("") != ""
    return s.is_not_null()


def _drop_trailing_empty_rows(frame: pl.DataFrame) -> pl.DataFrame:
    if frame.width == 0 or frame.height == 0:
        return frame
    filled = pl.DataFrame([_filled(s) for s in frame.iter_columns()]).select(pl.any_horizontal(pl.all())).to_series()
    rows = filled.arg_true()
    return frame.head(int(rows[-1]) + 1 if rows.len() else 0)


# ---------------------------------------------------------------------------- text (CSV/TSV/TXT)
def _read_text(name: str, data: bytes) -> RawTable:
    decoded, encoding = _decode(name, data)
    text, hinted = _strip_sep_hint(decoded.lstrip("\r\n"))
    if not text.strip():
        raise IngestError(_empty(name))
    delimiter = hinted or _sniff_delimiter(text)
    first_line = text[: text.find("\n") + 1 or len(text)]
    if len(first_line) > MAX_HEADER_CHARS * MAX_COLUMNS:
        raise IngestError(
            f"{name}: row 1 is not a header row ({len(first_line):,} characters); check that the file is a CSV "
            "export that starts with its column names."
        )
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise IngestError(
            f"{name}: row 1 is not a header row ({exc}); check the delimiter and that the export starts with its "
            "column names."
        ) from exc
    _check_header(name, [h.strip(HEADER_JUNK) for h in header])
    # hand polars the original bytes when they already are the UTF-8 text it needs
    unchanged = encoding in ("utf-8", "utf-8-sig") and len(text) == len(decoded)
    payload = data.removeprefix(UTF8_BOM) if unchanged else text.encode("utf-8")
    try:
        frame = pl.read_csv(
            payload,
            separator=delimiter,
            has_header=True,
            new_columns=[str(i) for i in range(len(header))],
            infer_schema=False,
            null_values=[""],  # quoted "" too: Salesforce reports quote every empty field
            quote_char='"',
            raise_if_empty=False,
        )
    except Exception as exc:  # polars raises several types for malformed CSV
        where = _where_rows_break(text, delimiter, len(header))
        raise IngestError(
            f"{name} could not be read as a table ({where or _first_line(exc)}); check that every row has as many "
            "fields as the header row and that quotes are closed."
        ) from exc
    frame, notes = _name_columns(frame, header, name)
    if frame.width == 0:  # nothing but delimiters
        raise IngestError(_empty(name))
    return RawTable(source=name, frame=frame, file_name=name, encoding=encoding, delimiter=delimiter, notes=notes)


def _where_rows_break(text: str, delimiter: str, width: int) -> str | None:
    """Where a CSV polars could not read breaks, as the user counts rows (the header is row 1): the first row with
    more fields than the header's ``width``, or a quote never closed (the last row then runs on from the line it
    opens on to the end of the file). Python's csv reader, in the error path only; None when it finds neither."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    lines = text.count("\n") + (not text.endswith("\n"))
    start = 1  # the line the row being read starts on
    try:
        for row in reader:
            if len(row) > width:
                return f"row {start} has {len(row)} fields where the header row has {width}"
            # the last row, from the line it starts on to the end of the file, with an odd number of quotes
            if reader.line_num >= lines and "\n".join(text.split("\n")[start - 1:]).count('"') % 2:
                return f"the quote opened in row {start} is never closed"
            start = reader.line_num + 1
    except csv.Error as exc:
        return f"row {start}: {exc}"
    return None


def _decode(name: str, data: bytes) -> tuple[str, str]:
    """Text and encoding: UTF-8 (BOM stripped), UTF-16 with BOM, cp1252, else a detected one."""
    if data.startswith(UTF8_BOM):
        return _decode_as(name, data[len(UTF8_BOM) :], "utf-8"), "utf-8-sig"
    if data.startswith(UTF32_BOMS):
        return _no_nul(name, _decode_as(name, data, "utf-32")), "utf-32"
    if data.startswith(UTF16_BOMS):
        return _no_nul(name, _decode_as(name, data, "utf-16")), "utf-16"
    if _looks_binary(data[:8192]):
        raise IngestError(
            f"{name} holds binary data, not text; export the data as CSV, XLSX or Parquet and upload that file."
        )
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise IngestError(f"{name} cannot be decoded as text; save it as a UTF-8 CSV and upload it again.")
    return str(best), best.encoding


def _no_nul(name: str, text: str) -> str:
    if "\x00" in text:
        raise IngestError(
            f"{name} holds NUL characters, so it is binary data or text in the wrong encoding; export the data as "
            "CSV (UTF-8), XLSX or Parquet and upload that file."
        )
    return text


def _decode_as(name: str, data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{name} is not valid {encoding.upper()} text; save it as a UTF-8 CSV and upload it again."
        ) from exc


def _looks_binary(sample: bytes) -> bool:
    """NUL bytes or many control characters: not a text export."""
    if b"\x00" in sample:
        return True
    control = sum(b < 32 and b not in b"\t\n\r\f\v" for b in sample)
    return control > len(sample) * 0.01


def _strip_sep_hint(text: str) -> tuple[str, str | None]:
    """Excel's optional first line ``sep=;`` names the delimiter."""
    first, _, rest = text.partition("\n")
    hint = first.strip()
    if hint.casefold().startswith("sep=") and len(hint) == 5:
        return rest, hint[4]
    return text, None


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first records into the most consistent, widest rows.

    Quote-aware: each candidate is tried with :mod:`csv`, so delimiters inside quoted fields
    (and quoted line breaks) do not count. Ties go to the comma.
    """
    sample = text[:SNIFF_CHARS]
    truncated = len(text) > SNIFF_CHARS

    def score(delimiter: str) -> tuple[float, int]:
        # newline="": a lone CR ends a line as csv expects, instead of raising "new-line character seen
        # in unquoted field" (found by tests/unit/ingest/test_hostile_names.py)
        records = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
        try:
            rows = [r for r in itertools.islice(records, SNIFF_RECORDS + 1) if r]
        except csv.Error:  # not a consistent file with this delimiter
            return 0.0, 0
        if truncated and len(rows) > 1:
            rows = rows[:-1]  # the last record may be cut off
        width = len(rows[0]) if rows else 0
        if width < 2:
            return 0.0, 0
        return sum(len(r) == width for r in rows) / len(rows), width

    return max(DELIMITERS, key=score)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# ---------------------------------------------------------------------------- workbooks
def _read_zip(name: str, data: bytes) -> list[RawTable]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise IngestError(f"{name} is a damaged zip file; export it again.") from exc
    if not members & {"xl/workbook.xml", "xl/workbook.bin"}:
        raise IngestError(
            f"{name} is a zip archive, not an Excel workbook; unzip it and upload the CSV or XLSX file inside."
        )
    _check_unzipped_size(name, archive)
    return _read_workbook(
        name, data, f"{name} could not be read as an Excel workbook ({{detail}}); open it in Excel and save it again."
    )


def _bomb(name: str, why: str) -> IngestError:
    return IngestError(
        f"{name} is refused: {why}, which is what a decompression bomb looks like, not a CRM export. "
        "Open it in Excel and save it again, or export the data as CSV."
    )


def _check_unzipped_size(name: str, archive: zipfile.ZipFile) -> None:
    """Refuse a workbook that would unpack to too much: too many members, a member compressed more than
    ``MAX_ZIP_RATIO`` times, or more than ``MAX_UNZIPPED_BYTES`` in all — first by the sizes the zip
    declares, then by actually inflating each member with a running count (a zip can lie about its sizes;
    the parser would not notice)."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise _bomb(name, f"it holds {len(infos):,} files (a workbook has a few dozen)")
    declared = 0
    for info in infos:
        declared += info.file_size
        if info.file_size > RATIO_FROM_BYTES and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            raise _bomb(
                name, f"its part {info.filename} would unpack {info.file_size // max(info.compress_size, 1):,} "
                f"times larger ({_size(info.file_size)} from {_size(info.compress_size)})"
            )
    if declared > MAX_UNZIPPED_BYTES:
        raise _bomb(name, f"it would unpack to {_size(declared)} (the limit is {_size(MAX_UNZIPPED_BYTES)})")
    total = 0
    try:
        for info in infos:
            read = 0
            with archive.open(info) as member:
                while chunk := member.read(1024 * 1024):
                    read += len(chunk)
                    total += len(chunk)
                    if total > MAX_UNZIPPED_BYTES or read > max(MAX_ZIP_RATIO * max(info.compress_size, 1),
                                                                RATIO_FROM_BYTES):
                        raise _bomb(name, f"its part {info.filename} unpacks to more than it declares")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, NotImplementedError) as exc:
        raise IngestError(f"{name} is a damaged zip file ({_first_line(exc)}); export it again.") from exc
    except RuntimeError as exc:  # an encrypted zip member
        raise IngestError(f"{name} is password-protected; remove the password in Excel and save it again.") from exc


ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")  # the OLE2 stream of a password-protected .xlsx


def _read_legacy_excel(name: str, data: bytes) -> list[RawTable]:
    """An OLE2 file: a legacy .xls (calamine reads it) or a password-protected .xlsx (unreadable)."""
    if ENCRYPTED_STREAM in data[:1024 * 1024] or ENCRYPTED_STREAM in data[-1024 * 1024:]:
        raise IngestError(
            f"{name} is password-protected (encrypted); open it in Excel, remove the password (File › Info › "
            "Protect Workbook) and save it again, or export the data as CSV."
        )
    return _read_workbook(
        name,
        data,
        f"{name} is password-protected (encrypted) or an old-format .xls file that cannot be read; "
        "open it in Excel, remove the password and save it as an unencrypted .xlsx.",
    )


def _read_workbook(name: str, data: bytes, unreadable: str) -> list[RawTable]:
    """Every sheet with data as its own table, with the types fastexcel found.

    ``unreadable`` is the message when the workbook cannot be read; ``{detail}`` in it is
    replaced by the reader's error.

    All rows are used to infer a column's type: with the default sample of 100 rows, a text
    cell further down a numeric column is turned into null and its row silently dropped.
    Columns mixing numbers and text therefore come back as text.
    """
    try:
        reader = fastexcel.read_excel(data)
        sheets = list(reader.sheet_names)
        frames = (
            pl.read_excel(
                data,
                sheet_id=0,
                engine="calamine",
                infer_schema_length=None,
                drop_empty_rows=False,
                drop_empty_cols=False,
                raise_if_empty=False,
            )
            if sheets
            else {}
        )
        headers = {sheet: _raw_header(reader, sheet) for sheet in sheets if frames[sheet].width}
    except Exception as exc:  # fastexcel/calamine/polars raise many types
        raise IngestError(unreadable.replace("{detail}", _first_line(exc))) from exc
    if not sheets:
        raise IngestError(f"{name} has no sheets; open it in Excel, add the data and save it again.")
    if not headers:
        raise IngestError(f"{name} has no data in any sheet; check that you exported the right workbook.")
    return [_sheet_table(name, sheet, frames[sheet], header) for sheet, header in headers.items()]


def _raw_header(reader: fastexcel.ExcelReader, sheet: str) -> list[object]:
    """The first row of a sheet as written (fastexcel renames blank and repeated headers)."""
    first = reader.load_sheet(sheet, header_row=None, n_rows=1, skip_rows=0, dtypes="string").to_polars()
    return list(first.row(0)) if first.height else []


def _sheet_table(name: str, sheet: str, frame: pl.DataFrame, header: list[object]) -> RawTable:
    frame, notes = _name_columns(frame, header, f"{name}{SHEET_SEPARATOR}{sheet}")
    return RawTable(source=f"{name}{SHEET_SEPARATOR}{sheet}", frame=frame, file_name=name, sheet=sheet, notes=notes)


# ---------------------------------------------------------------------------- parquet
def _read_parquet(name: str, data: bytes) -> RawTable:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars raises several types for damaged files
        raise IngestError(f"{name} could not be read as Parquet ({_first_line(exc)}); export it again.") from exc
    if frame.width == 0:
        raise IngestError(_empty(name))
    frame, notes = _name_columns(frame, frame.columns, name)
    return RawTable(source=name, frame=frame, file_name=name, notes=notes)
