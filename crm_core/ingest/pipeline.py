"""From an uploaded file to canonical rows: read → detect → map → parse → validate (DESIGN.md §5).

``prepare_*`` never writes anything: it returns one :class:`PreparedTable` per table found (a CSV
holds one, an XLSX one per sheet) with the detected table, system and mapping, the typed canonical
frame, and every problem found, each naming file, column, row and value. ``import_prepared`` then
loads what the user chose — the good rows or nothing — in one store transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from crm_core import schema
from crm_core.ingest import mapping as mapping_mod
from crm_core.ingest import derive, parse, readers, vendors
from crm_core.ingest.model import IngestError, Problem, RawTable
from crm_core.ingest.vendors import Detection
from crm_core.store import LoadResult, Store, StoreError, TableLoad

# How many problems of one kind in one column are listed one by one before they are summarised.
MAX_LISTED = 20


class ImportRefused(Exception):
    """Nothing was imported; the message says why and what to do."""


@dataclass
class PreparedTable:
    """One table of an upload, mapped and parsed, ready to import (or not)."""

    raw: RawTable
    sha256: str
    detection: Detection
    frame: pl.DataFrame  # canonical typed columns, one row per record
    source_rows: list[int]  # spreadsheet row number (header = 1) of each record
    rows_read: int  # data rows in the file (line items for Shopify)
    rejected: set[int] = field(default_factory=set)  # record indices that cannot be used
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    currency: str | None = None
    mapping_from_user: bool = False
    money_currencies: set[str] = field(default_factory=set)  # currencies seen in money cells

    @property
    def source(self) -> str:
        return self.raw.source

    @property
    def file_name(self) -> str:
        return self.raw.file_name or self.raw.source

    @property
    def table(self) -> str:
        return self.detection.table

    @property
    def fatal(self) -> list[Problem]:
        """Problems that stop the whole table (no row is importable)."""
        return [p for p in self.problems if p.severity == "fatal"]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def rows_ok(self) -> int:
        return 0 if self.fatal else self.frame.height - len(self.rejected)

    @property
    def rows_rejected(self) -> int:
        return self.frame.height if self.fatal else len(self.rejected)

    @property
    def good_frame(self) -> pl.DataFrame:
        if not self.rejected:
            return self.frame
        keep = pl.Series([i not in self.rejected for i in range(self.frame.height)])
        return self.frame.filter(keep)

    def to_load(self) -> TableLoad:
        return TableLoad(
            table=self.table,
            frame=self.good_frame,
            file_name=self.source,
            sha256=self.sha256,
            system=self.detection.system,
            mapping=dict(self.detection.mapping),
            rows_read=self.rows_read,
            rows_rejected=self.rows_rejected,
            currency=self.currency,
            notes=list(self.notes),
        )


# ---------------------------------------------------------------------------- entry points
def prepare_upload(
    name: str,
    data: bytes,
    *,
    store: Store | None = None,
    dataset: str | None = None,
    table: str | None = None,
    mappings: dict[str, dict[str, str]] | None = None,
    dayfirst: bool | None = None,
    max_bytes: int = readers.MAX_UPLOAD_BYTES,
) -> list[PreparedTable]:
    """Read an uploaded file and prepare each table in it.

    Parameters
    ----------
    mappings
        User-confirmed mappings by source (``raw.source``) → {canonical column: header}.
    store, dataset
        When given, saved mappings are offered again, ids already in the dataset are flagged and a
        file imported before is noticed.

    Raises
    ------
    IngestError
        The file cannot be read at all (empty, binary junk, too large, encrypted…).
    """
    raws = readers.read_upload(name, data, max_bytes=max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    return [
        prepare_raw(
            raw,
            sha256=digest,
            store=store,
            dataset=dataset,
            table=table,
            user_mapping=(mappings or {}).get(raw.source),
            dayfirst=dayfirst,
        )
        for raw in raws
    ]


def prepare_path(path: str | Path, **kwargs) -> list[PreparedTable]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path.name}: cannot be read ({exc.strerror}).") from exc
    return prepare_upload(path.name, data, **kwargs)


def prepare_raw(
    raw: RawTable,
    *,
    sha256: str = "",
    store: Store | None = None,
    dataset: str | None = None,
    table: str | None = None,
    user_mapping: dict[str, str] | None = None,
    dayfirst: bool | None = None,
) -> PreparedTable:
    """Detect, map, parse and validate one raw table."""
    headers = list(raw.frame.columns)
    detection = vendors.detect(headers, table=table)
    from_user = False
    signature = mapping_mod.header_signature(headers)
    if store is not None and user_mapping is None:
        saved = store.saved_mapping(signature)
        if saved and (table is None or saved["table"] == table):
            detection = mapping_mod.apply_saved(detection, saved)
            from_user = True
    if user_mapping is not None:
        detection = _with_mapping(detection, user_mapping, headers)
        from_user = True

    prep = PreparedTable(
        raw=raw,
        sha256=sha256,
        detection=detection,
        frame=pl.DataFrame(),
        source_rows=[],
        rows_read=raw.frame.height,
        notes=list(raw.notes),
        mapping_from_user=from_user,
    )
    file = raw.source
    if raw.frame.height == 0:
        prep.problems.append(Problem(file, "has a header row but no data rows; nothing to import.", severity="fatal"))
        return prep
    for message in mapping_mod.validate_mapping(detection.table, detection.mapping, headers):
        prep.problems.append(Problem(file, message + " Map the columns by hand below.", severity="fatal"))
    one_of = schema.TABLES[detection.table].one_of
    if one_of and not any(c in detection.mapping for c in one_of):
        labels = " or ".join(schema.TABLES[detection.table].column(c).label for c in one_of)
        prep.problems.append(Problem(file, f"needs a column for {labels}; none was found.", severity="fatal"))
    if prep.fatal:
        return prep

    frame = raw.frame
    if detection.line_items:
        frame = vendors.group_line_items(frame, detection)
        prep.notes.append(f"{raw.frame.height} line items grouped into {frame.height} orders.")
        source_rows = [int(i) + 2 for i in frame["__source_row"].to_list()]
    else:
        source_rows = list(range(2, frame.height + 2))
    prep.source_rows = source_rows
    _build_canonical(prep, frame, dayfirst)
    _check_currency(prep, frame)
    _check_keys(prep, store, dataset)
    if store is not None and dataset is not None and sha256:
        _check_seen_before(prep, store, dataset)
    return prep


def import_prepared(
    store: Store,
    dataset: str,
    prepared: Sequence[PreparedTable],
    *,
    replace: bool = False,
    accept_partial: bool = False,
    is_sample: bool = False,
) -> LoadResult:
    """Load prepared tables into ``dataset`` in one transaction: all of it or nothing.

    Raises
    ------
    ImportRefused
        A table has fatal problems, rows would be rejected and ``accept_partial`` is false, or the
        store refused the load; the store is unchanged.
    """
    if not prepared:
        raise ImportRefused("Nothing to import: choose at least one file or sheet.")
    for p in prepared:
        if p.fatal:
            raise ImportRefused(f"{p.source} cannot be imported: {p.fatal[0].message}")
    partial = [p for p in prepared if p.rows_rejected]
    if partial and not accept_partial:
        total = sum(p.rows_rejected for p in partial)
        raise ImportRefused(
            f"{total} row(s) in {', '.join(p.source for p in partial)} have problems. "
            "Fix the file, or choose to import only the good rows."
        )
    loads = [p.to_load() for p in prepared if p.rows_ok]
    if not loads:
        raise ImportRefused("No row can be imported: every row has a problem.")
    try:
        result = store.load(dataset, loads, replace=replace, is_sample=is_sample)
    except StoreError as exc:
        raise ImportRefused(str(exc)) from exc
    for p in prepared:
        if p.mapping_from_user:
            store.save_mapping(
                mapping_mod.header_signature(list(p.raw.frame.columns)),
                p.table,
                p.detection.system,
                p.detection.mapping,
                list(p.raw.frame.columns),
            )
    return result


def problem_summary(prepared: Sequence[PreparedTable]) -> list[str]:
    """Every problem as one line of text, fatal first."""
    order = {"fatal": 0, "error": 1, "warning": 2}
    lines = []
    for p in prepared:
        for pr in sorted(p.problems, key=lambda x: order.get(x.severity, 3)):
            lines.append(f"{pr.severity}: {pr}")
    return lines


# ---------------------------------------------------------------------------- steps
def _with_mapping(detection: Detection, user_mapping: dict[str, str], headers: list[str]) -> Detection:
    """The detection with the user's mapping (and the table it implies) in place of the guess."""
    mapping = {k: v for k, v in user_mapping.items() if v}
    table = schema.TABLES[detection.table]
    missing = [c for c in table.required if c not in mapping]
    used = set(mapping.values())
    return replace(
        detection,
        mapping=mapping,
        missing_required=missing,
        unmapped=[h for h in headers if h not in used],
        derived={k: v for k, v in detection.derived.items() if k not in mapping},
    )


def _error_rows(prep: PreparedTable, column_label: str, rows: Sequence[int], values: pl.Series, message: str) -> None:
    """Reject ``rows`` (record indices) and report them, listing the first few one by one."""
    rows = list(rows)
    prep.rejected.update(rows)
    file = prep.source
    for i in rows[:MAX_LISTED]:
        v = values[i]
        prep.problems.append(
            Problem(file, message, column=column_label, row=prep.source_rows[i], value=None if v is None else str(v))
        )
    if len(rows) > MAX_LISTED:
        prep.problems.append(
            Problem(file, f"{message} — and {len(rows) - MAX_LISTED} more rows like these.", column=column_label)
        )


def _parse_column(col: schema.Column, table: str, s: pl.Series, dayfirst: bool | None) -> parse.ParseResult:
    if col.kind in ("id", "text"):
        return parse.ParseResult(parse.clean_text(s), [])
    if col.kind == "timestamp":
        return parse.parse_dates(s, dayfirst=dayfirst)
    if col.kind == "money":
        return parse.parse_money(s)
    if col.kind == "number":
        return parse.parse_number(s)
    if col.kind == "integer":
        return parse.parse_integer(s, bounds=col.bounds)
    if col.kind == "status":
        return parse.parse_deal_status(s) if table == "deals" else parse.parse_transaction_status(s)
    raise ValueError(f"unknown column kind {col.kind}")


_KIND_MESSAGE = {
    "timestamp": "is not a date this column's format can read",
    "money": "is not an amount of money",
    "number": "is not a number",
    "integer": "is not a whole number in the allowed range",
    "status": "is not a known status",
}


def _build_canonical(prep: PreparedTable, frame: pl.DataFrame, dayfirst: bool | None) -> None:
    table = schema.TABLES[prep.table]
    columns: dict[str, pl.Series] = {}
    for canonical, header in prep.detection.mapping.items():
        col = table.column(canonical)
        raw = frame[header]
        result = _parse_column(col, table.name, raw, dayfirst)
        columns[canonical] = result.values.alias(canonical)
        if result.note:
            prep.notes.append(f"{header}: {result.note}")
        if result.ambiguous:
            prep.problems.append(
                Problem(
                    prep.source,
                    f"{result.note or 'the date format is ambiguous'}. Check the dates, or choose the day/month "
                    "order for this file.",
                    column=header,
                    severity="warning",
                )
            )
        if result.bad_rows:
            what = _KIND_MESSAGE.get(col.kind, "cannot be read")
            _error_rows(prep, header, result.bad_rows, raw.cast(pl.String, strict=False), what)
        if col.kind == "money" and result.currencies:
            prep.notes.append(f"{header}: currency {', '.join(sorted(result.currencies))}")
            prep.money_currencies.update(result.currencies)
    _derive(prep, frame, columns)
    note = derive.fill_gaps(table.name, frame, columns, dayfirst)
    if note:
        prep.notes.append(note)
    out = pl.DataFrame([columns[c] for c in table.column_names if c in columns])
    for name in table.required:
        if name not in out.columns:
            continue
        empty = out[name].is_null()
        if empty.any():
            header = prep.detection.mapping.get(name, name)
            rows = [i for i in empty.arg_true().to_list() if i not in prep.rejected]
            if rows:
                _error_rows(prep, header, rows, frame[header].cast(pl.String, strict=False) if header in frame.columns else out[name], "is empty but required")
    prep.frame = out


def _derive(prep: PreparedTable, frame: pl.DataFrame, columns: dict[str, pl.Series]) -> None:
    """Canonical columns the export does not hold directly (Detection.derived)."""
    for canonical, how in prep.detection.derived.items():
        note = derive.apply(how, canonical, frame, columns)
        if note:
            prep.notes.append(note)


def _check_currency(prep: PreparedTable, frame: pl.DataFrame) -> None:
    """One currency per file: rows in another currency are rejected, never summed together."""
    header = prep.detection.currency_column
    symbols = prep.money_currencies
    if header and header in frame.columns:
        codes = parse.clean_text(frame[header]).str.to_uppercase()
        counts = codes.drop_nulls().value_counts(sort=True)
        if counts.height == 0:
            prep.currency = next(iter(symbols), None) if len(symbols) == 1 else None
            return
        main = counts[counts.columns[0]][0]
        prep.currency = main
        other = (codes.is_not_null() & (codes != main)).arg_true().to_list()
        if other:
            _error_rows(
                prep, header, other, codes,
                f"is a different currency from the file's main currency {main}; amounts in two currencies "
                "cannot be added up — convert them or import them into another dataset",
            )
    elif len(symbols) > 1:
        prep.problems.append(
            Problem(
                prep.source,
                f"amounts are in several currencies ({', '.join(sorted(symbols))}); amounts in two currencies "
                "cannot be added up — convert them to one currency first.",
                severity="fatal",
            )
        )
    elif symbols:
        prep.currency = next(iter(symbols))


def _check_keys(prep: PreparedTable, store: Store | None, dataset: str | None) -> None:
    table = schema.TABLES[prep.table]
    key = table.key
    if key is None or key not in prep.frame.columns:
        return
    keys = prep.frame[key]
    header = prep.detection.mapping.get(key, key)
    first_seen = (
        pl.DataFrame({"k": keys, "i": pl.int_range(0, keys.len(), eager=True)})
        .filter(pl.col("k").is_not_null())
        .with_columns(first=pl.col("i").min().over("k"))
        .filter(pl.col("i") != pl.col("first"))
    )
    if first_seen.height:
        dup_rows = first_seen["i"].to_list()
        firsts = dict(zip(first_seen["i"].to_list(), first_seen["first"].to_list()))
        prep.rejected.update(dup_rows)
        for i in dup_rows[:MAX_LISTED]:
            prep.problems.append(
                Problem(
                    prep.source,
                    f"duplicate {key}: the same id is already on row {prep.source_rows[firsts[i]]}",
                    column=header,
                    row=prep.source_rows[i],
                    value=str(keys[i]),
                )
            )
        if len(dup_rows) > MAX_LISTED:
            prep.problems.append(
                Problem(prep.source, f"duplicate {key} — and {len(dup_rows) - MAX_LISTED} more rows like these.", column=header)
            )
    if store is not None and dataset is not None:
        dataset_id = store.dataset_id(dataset)
        if dataset_id is None:
            return
        existing = set(store.existing_keys(dataset_id, prep.table, keys.drop_nulls()).to_list())
        if existing:
            rows = [i for i, k in enumerate(keys.to_list()) if k in existing and i not in prep.rejected]
            _error_rows(
                prep, header, rows, keys,
                f"this {key} is already in the dataset '{dataset}'; replace the table to import it again",
            )


def _check_seen_before(prep: PreparedTable, store: Store, dataset: str) -> None:
    dataset_id = store.dataset_id(dataset)
    if dataset_id is None:
        return
    seen = store.find_batch_by_sha(dataset_id, prep.sha256, prep.table)
    if seen:
        prep.problems.append(
            Problem(
                prep.source,
                f"this exact file was imported into '{dataset}' on {seen['imported_at']:%Y-%m-%d %H:%M} "
                f"(batch {seen['batch_id']}, {seen['file_name']}).",
                severity="warning",
            )
        )

