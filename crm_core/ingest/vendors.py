"""Which canonical table an export holds, which system wrote it, and how its headers map.

Everything a human would tune — synonyms, fingerprints, weights, derivation rules — lives in
``synonyms.yaml`` beside this module; this module only applies it (DESIGN.md §5).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import polars as pl
import yaml

from crm_core import schema

RULES: dict = yaml.safe_load(Path(__file__).with_name("synonyms.yaml").read_text(encoding="utf-8"))

SYSTEMS: tuple[str, ...] = (*RULES["vendors"], "generic")

SOURCE_ROW = "__source_row"  # 0-based index of an order's first line-item row
LINE_ITEMS = "__line_items"  # how many line-item rows an order had


@dataclass
class Detection:
    """What :func:`detect` found out about one table of an upload."""

    table: str  # canonical table name, e.g. "deals"
    system: str  # one of SYSTEMS
    mapping: dict[str, str]  # canonical column -> source header (only mapped ones)
    confidence: float  # 0..1, how sure the table guess is
    unmapped: list[str]  # source headers not in ``mapping``
    missing_required: list[str]  # required canonical columns with no source
    currency_column: str | None  # source header holding a per-row currency code
    line_items: bool = False  # True for Shopify orders: rows must be grouped per order
    derived: dict[str, str] = field(default_factory=dict)  # canonical column -> derivation rule


# ---------------------------------------------------------------------------- normalization
_PREFIX = re.compile(r"^\s*(?:" + "|".join(map(re.escape, RULES["prefixes"])) + r")\s*[-\u2013\u2014]\s*")
_NOT_WORD = re.compile(r"[\W_]+")


def _fold(text: str) -> str:
    """Case-folded, accents stripped, ``*`` removed."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return plain.casefold().replace("*", "")


def normalize_header(header: str, strip_prefix: bool = False) -> str:
    """The key a header is matched by: letters and digits only, case and accents folded.

    ``"Close Date"``, ``"close_date"``, ``"CloseDate"`` and ``"CLOSEDATE"`` all give
    ``"closedate"``; ``"Währung *"`` gives ``"wahrung"``. With ``strip_prefix`` a Pipedrive
    entity prefix is dropped first: ``"Deal – Wert"`` gives ``"wert"``.
    """
    folded = _fold(header)
    if strip_prefix:
        folded = _PREFIX.sub("", folded)
    return _NOT_WORD.sub("", folded)


def has_vendor_prefix(header: str) -> bool:
    """True for Pipedrive-style headers such as ``"Deal - Value"`` or ``"Person – Name"``."""
    return bool(_PREFIX.match(_fold(header)))


@dataclass(frozen=True)
class _Header:
    text: str
    full: str  # normalized key
    bare: str  # normalized key without a vendor prefix


@dataclass(frozen=True)
class _Synonym:
    key: str
    starts_with: bool  # written with a trailing "..."

    def hit(self, key: str) -> bool:
        return key.startswith(self.key) if self.starts_with else key == self.key


def _headers(headers: list[str]) -> list[_Header]:
    return [_Header(h, normalize_header(h), normalize_header(h, strip_prefix=True)) for h in headers]


@cache
def _synonym(text: str) -> _Synonym:
    stripped = str(text).strip()
    for dots in ("...", "\u2026"):
        if stripped.endswith(dots):
            return _Synonym(normalize_header(stripped[: -len(dots)]), True)
    return _Synonym(normalize_header(stripped), False)


def _synonyms(entries: list, keys: frozenset[str] = frozenset()) -> list[_Synonym]:
    """Synonyms from YAML entries: text, or ``{header, unless}`` skipped when ``keys`` (the
    file's normalized headers) hold any ``unless`` header."""
    texts = [
        e if isinstance(e, str) else e["header"]
        for e in entries
        if isinstance(e, str) or not any(_synonym(u).key in keys for u in e.get("unless", []))
    ]
    return [_synonym(t) for t in texts]


# ---------------------------------------------------------------------------- systems
def _fingerprint_hits(fingerprint: dict, headers: list[_Header]) -> int:
    if fingerprint.get("prefixed"):
        return sum(has_vendor_prefix(h.text) for h in headers)
    keys = {s.key for s in _synonyms(fingerprint.get("headers", []))}
    return sum(h.full in keys for h in headers)


def _detect_system(headers: list[_Header]) -> str:
    hits = {name: _fingerprint_hits(v["fingerprint"], headers) for name, v in RULES["vendors"].items()}
    best = max(hits, key=hits.__getitem__)  # ties: first vendor in synonyms.yaml
    return best if hits[best] >= RULES["min_fingerprint_hits"] else "generic"


def _vendor_table(system: str, table: str) -> dict:
    return RULES["vendors"].get(system, {}).get("tables", {}).get(table, {})


# ---------------------------------------------------------------------------- column mapping
def _candidates(table: str, system: str, column: str, keys: frozenset[str]) -> list[_Synonym]:
    """Synonyms for one column, best first: canonical name, vendor synonyms, generic synonyms."""
    vendor = _vendor_table(system, table).get("columns", {}).get(column, [])
    generic = RULES["tables"][table]["columns"].get(column, [])
    return _synonyms([column, *vendor, *generic], keys)


def _matches(synonyms: list[_Synonym], headers: list[_Header]):
    """(rank, prefix_stripped, header_index) of every header a synonym list matches."""
    for rank, syn in enumerate(synonyms):
        for i, h in enumerate(headers):
            if syn.hit(h.full):
                yield rank, 0, i
            elif syn.hit(h.bare):
                yield rank, 1, i


def _map_columns(table: str, system: str, headers: list[_Header]) -> dict[str, str]:
    """Assign headers to canonical columns: required columns first, best synonym first."""
    spec = schema.TABLES[table]
    first = [c for c in spec.column_names if c in spec.required or c in spec.one_of]
    phases = (first, [c for c in spec.column_names if c not in first])
    keys = frozenset(k for h in headers for k in (h.full, h.bare))
    mapping: dict[str, str] = {}
    used: set[int] = set()
    for columns in phases:
        found = sorted(
            (rank, stripped, i, order, column)
            for order, column in enumerate(columns)
            for rank, stripped, i in _matches(_candidates(table, system, column, keys), headers)
        )
        for _, _, i, _, column in found:
            if column not in mapping and i not in used:
                mapping[column] = headers[i].text
                used.add(i)
    return {c: mapping[c] for c in spec.column_names if c in mapping}


# ---------------------------------------------------------------------------- table scoring
@dataclass(frozen=True)
class _Score:
    points: float  # weighted mapped columns plus hints
    coverage: float  # share of requirements met (required columns, one of `one_of`)
    mapping: dict[str, str]


def _score(table: str, system: str, headers: list[_Header]) -> _Score:
    rules = RULES["tables"][table]
    mapping = _map_columns(table, system, headers)
    weights = rules.get("weights", {})
    hints = _synonyms(rules.get("hints", []))
    points = sum(weights.get(c, 1) for c in mapping)
    points += sum(any(s.hit(h.full) or s.hit(h.bare) for s in hints) for h in headers)
    spec = schema.TABLES[table]
    needs = [c in mapping for c in spec.required]
    if spec.one_of:
        needs.append(any(c in mapping for c in spec.one_of))
    return _Score(points, sum(needs) / len(needs), mapping)


def _scores(headers: list[_Header], system: str) -> dict[str, _Score]:
    return {t: _score(t, system, headers) for t in schema.TABLE_NAMES}


def _confidence(table: str, scores: dict[str, _Score]) -> float:
    """Requirement coverage × the table's share of points against its strongest rival."""
    own = scores[table].points
    rival = max(s.points for t, s in scores.items() if t != table)
    return 0.0 if own == 0 else round(scores[table].coverage * own / (own + rival), 3)


def _ranked(scores: dict[str, _Score]) -> list[tuple[str, float]]:
    order = RULES["table_order"]
    ranked = [(t, _confidence(t, scores)) for t in scores]
    return sorted(ranked, key=lambda tc: (-tc[1], -scores[tc[0]].points, order.index(tc[0])))


def candidate_tables(headers: list[str]) -> list[tuple[str, float]]:
    """Every canonical table with its confidence (0..1) for these headers, best first."""
    parsed = _headers(headers)
    return _ranked(_scores(parsed, _detect_system(parsed)))


# ---------------------------------------------------------------------------- detection
def _derived(table: str, system: str, mapping: dict[str, str], headers: list[_Header]) -> dict[str, str]:
    keys = {h.full for h in headers}
    derived = {}
    for column, rules in RULES.get("derived", {}).get(table, {}).items():
        if column in mapping:
            continue
        for rule in rules:
            if (
                all(s.key in keys for s in _synonyms(rule.get("headers", [])))
                and all(c in mapping for c in rule.get("columns", []))
                and system in rule.get("systems", [system])
            ):
                derived[column] = rule["rule"]
                break
    return derived


def _currency_column(mapping: dict[str, str], headers: list[_Header]) -> str | None:
    used = set(mapping.values())
    free = [h for h in headers if h.text not in used]
    for syn in _synonyms(RULES["currency"]):
        for h in free:
            if syn.hit(h.full) or syn.hit(h.bare):
                return h.text
    return None


def make_detection(
    table: str, system: str, mapping: dict[str, str], headers: list[str], confidence: float
) -> Detection:
    """A :class:`Detection` for a given table, system and mapping; the rest is worked out.

    Used by :func:`detect` and when a saved or user-edited mapping replaces the guess.
    """
    if table not in schema.TABLES:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(schema.TABLE_NAMES)}")
    parsed = _headers(headers)
    used = set(mapping.values())
    return Detection(
        table=table,
        system=system,
        mapping=dict(mapping),
        confidence=confidence,
        unmapped=[h for h in headers if h not in used],
        missing_required=[c for c in schema.TABLES[table].required if c not in mapping],
        currency_column=_currency_column(mapping, parsed),
        line_items=bool(_vendor_table(system, table).get("line_items")),
        derived=_derived(table, system, mapping, parsed),
    )


def detect(headers: list[str], table: str | None = None) -> Detection:
    """Detect the table (unless ``table`` forces it), the system and the column mapping.

    Examples
    --------
    >>> d = detect(["Opportunity ID", "Account Name", "Stage", "Close Date", "Amount"])
    >>> d.table, d.system, d.mapping["customer_id"], d.derived
    ('deals', 'generic', 'Account Name', {'status': 'from_stage'})
    """
    parsed = _headers(headers)
    system = _detect_system(parsed)
    scores = _scores(parsed, system)
    chosen = table or _ranked(scores)[0][0]
    if chosen not in scores:
        raise ValueError(f"unknown table {chosen!r}; expected one of {', '.join(schema.TABLE_NAMES)}")
    return make_detection(chosen, system, scores[chosen].mapping, headers, _confidence(chosen, scores))


# ---------------------------------------------------------------------------- line items
def _sum_as_text(column: str) -> pl.Expr:
    """Sum of a column's numeric values as text ("3", "2.5"); null when none is numeric."""
    values = pl.col(column).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    total = pl.when(values.is_not_null().any()).then(values.sum())
    whole = total.round(0) == total
    return pl.when(whole).then(total.cast(pl.Int64).cast(pl.String)).otherwise(total.cast(pl.String)).alias(column)


def _join_as_text(column: str) -> pl.Expr:
    """Distinct non-empty values joined with "; " in order of appearance; null when none."""
    values = pl.col(column).cast(pl.String).str.strip_chars()
    joined = values.filter(values.is_not_null() & (values != "")).unique(maintain_order=True).str.join("; ")
    return pl.when(joined != "").then(joined).alias(column)


def group_line_items(frame: pl.DataFrame, detection: Detection) -> pl.DataFrame:
    """One row per order from an export with one row per line item (Shopify).

    Orders are keyed by the ``transaction_id`` column and kept in order of first appearance.
    Order-level columns come from each order's first row (Shopify fills them only there), the
    ``quantity`` column is summed and the ``product`` column joined with ``"; "``. Values stay
    raw text. ``__source_row`` is the 0-based index of the order's first row and
    ``__line_items`` its number of rows. Rows without an order id stay rows of their own.
    """
    indexed = frame.with_row_index(SOURCE_ROW).with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))
    key = detection.mapping.get("transaction_id")
    if key is None:
        return indexed.with_columns(pl.lit(1, dtype=pl.UInt32).alias(LINE_ITEMS))
    quantity = detection.mapping.get("quantity")
    product = detection.mapping.get("product")
    special = {c for c in (quantity, product) if c is not None}
    order_key = pl.coalesce(
        pl.col(key).cast(pl.String), pl.lit("\0row ") + pl.col(SOURCE_ROW).cast(pl.String)
    ).alias("__order")
    aggs = [pl.col(c).first() for c in frame.columns if c not in special]
    aggs += [_sum_as_text(quantity)] if quantity else []
    aggs += [_join_as_text(product)] if product else []
    grouped = indexed.group_by(order_key, maintain_order=True).agg(
        pl.col(SOURCE_ROW).first(), pl.len().alias(LINE_ITEMS), *aggs
    )
    return grouped.select(*frame.columns, SOURCE_ROW, LINE_ITEMS)
