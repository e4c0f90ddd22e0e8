"""Saved and user-edited column mappings (DESIGN.md §5).

A mapping the user confirmed is saved under the signature of the file's header set, so the
next export from the same system and report maps itself. The store persists the mappings;
this module computes the signature, applies a saved mapping and checks any mapping.
"""

from __future__ import annotations

import hashlib

from crm_core import schema
from crm_core.ingest.vendors import Detection, make_detection, normalize_header


def header_signature(headers: list[str]) -> str:
    """SHA-1 of the sorted normalized headers: the same for any order, case or spacing."""
    keys = sorted(normalize_header(h) for h in headers)
    return hashlib.sha1("\n".join(keys).encode("utf-8")).hexdigest()


def apply_saved(detection: Detection, saved: dict | None) -> Detection:
    """The detection with a saved mapping (``{"table", "system", "mapping"}``) in its place.

    Saved headers are matched to this file's headers by their normalized key, since a file
    with the same signature may spell a header with other case or spacing. Entries whose
    header or column no longer exists are dropped, and a saved mapping for a table that no
    longer exists is ignored. Confidence is 1: the user chose it.
    """
    table = (saved or {}).get("table") or detection.table
    if not saved or table not in schema.TABLES:
        return detection
    headers = [*detection.mapping.values(), *detection.unmapped]
    by_key = {normalize_header(h): h for h in headers}
    columns = set(schema.TABLES[table].column_names)
    mapping = {
        column: by_key[normalize_header(header)]
        for column, header in (saved.get("mapping") or {}).items()
        if column in columns and header and normalize_header(header) in by_key
    }
    system = saved.get("system") or detection.system
    return make_detection(table, system, mapping, headers, confidence=1.0)


def validate_mapping(table: str, mapping: dict[str, str], headers: list[str]) -> list[str]:
    """Everything wrong with a mapping, one sentence each; empty when it can be used.

    Checks: unknown canonical columns, headers not in the file, one header used for two
    columns, and required columns left unmapped (a table's ``one_of`` rule is the caller's).
    Columns mapped to an empty value count as unmapped.
    """
    spec = schema.TABLES[table]
    present = set(headers)
    used = {c: h for c, h in mapping.items() if h}
    messages = [
        f"'{c}' is not a column of the {spec.label.lower()} table." for c in used if c not in spec.column_names
    ]
    messages += [f"'{h}' is not a column of this file (mapped to {c})." for c, h in used.items() if h not in present]
    by_header: dict[str, list[str]] = {}
    for column, header in used.items():
        by_header.setdefault(header, []).append(column)
    messages += [
        f"'{h}' is mapped to more than one column ({', '.join(cols)})."
        for h, cols in by_header.items()
        if len(cols) > 1
    ]
    messages += [
        f"Required column {spec.column(c).label} ({c}) is not mapped." for c in spec.required if c not in used
    ]
    return messages
