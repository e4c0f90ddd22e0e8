"""Data quality (issue #7): find unstandardized customer data, show what it does to the numbers, fix it with the
user's consent.

* :mod:`crm_core.quality.report` — the quality report of a dataset: completeness per field and table; invalid
  emails (syntax only, no DNS lookups); phone numbers that do not parse (``phonenumbers``, Google's
  libphonenumber rules, in the customer's country or the dataset's default phone region); inconsistent country
  and region spellings; duplicate customers, exact and likely; orphan transactions and interactions; future or
  impossible dates; negative amounts not marked as refunds — and the 0–100 quality score with its components.
* :mod:`crm_core.quality.fixes` — fixes the user reviews (preview before/after) and applies: phones to E.164,
  emails trimmed and lower-cased, country spellings mapped, duplicate clusters merged into the record the user
  keeps. Each fix is one transaction recorded in ``quality_audit`` with the rows before and after; undo restores
  the exact prior rows and is refused when a later fix touched the same customers.
* Rules are data: ``countries.yaml`` (country spellings and ISO codes), ``weights.yaml`` (score components).

Why rapidfuzz and not splink for the likely duplicates
------------------------------------------------------
splink (probabilistic Fellegi–Sunter linkage on DuckDB) would be the tool for linking two large sources with
unknown error rates, but here it costs more than it gives: it learns m/u probabilities by expectation
maximisation, which needs a training step per dataset, labelled-ish tuning and several minutes at a million
records; it brings a large dependency tree (sqlglot, altair, jinja2, igraph…) for one feature; and its DuckDB
backend relies on extension functions (e.g. ``jaro_winkler`` through its own UDF registration and Arrow
round-trips) that must work offline with our pinned DuckDB 2.0. Our duplicates come from one CRM and differ in
predictable ways (accents, initials, phone format, email case), which deterministic rules catch: exact keys in
SQL, and within blocks (SQL) a rapidfuzz token-sort score on names and companies — C++ string metrics run over
all candidate pairs at once (``process.cpdist``), a few million pairs per second on two cores, with one small
wheel and no training. The rules are explainable on the page ("similar name, company and country"), and the
labelled fixture (tests/fixtures/quality) holds precision and recall at or above 0.9.
"""

from __future__ import annotations

from crm_core.quality.fixes import (
    FIELD_FIXES,
    FixResult,
    apply_field_fix,
    audit_log,
    field_preview,
    fix_rows,
    merge,
    merge_preview,
    undo,
)
from crm_core.quality.report import (
    FIXES,
    PROBLEMS,
    QualityReport,
    build_report,
    inferred_region,
    kept_report,
    phone_region,
    set_phone_region,
)
from crm_core.quality.rules import components, country_table

__all__ = [
    "FIELD_FIXES", "FIXES", "PROBLEMS", "FixResult", "QualityReport", "apply_field_fix", "audit_log",
    "build_report", "components", "country_table", "field_preview", "fix_rows", "inferred_region", "kept_report",
    "merge",
    "merge_preview", "phone_region", "report", "set_phone_region", "undo",
]
