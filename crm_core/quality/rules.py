"""The data-quality rules as data: country spellings (``countries.yaml``) and score weights (``weights.yaml``),
plus the SQL expressions that normalise a value the same way in every check and fix."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl
import yaml

_DIR = Path(__file__).parent

#: Syntax of an email (no DNS lookup): local@domain.tld with a letters-only top-level domain. Checked on the
#: trimmed value, case-insensitively; dots may not lead, trail or repeat in the local part.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,24}$"
)

#: Email domains anyone can sign up to: a shared domain there says nothing about two records being one customer.
FREEMAIL_PATTERN = (
    r"(gmail|googlemail|yahoo|ymail|rocketmail|outlook|hotmail|live|msn|icloud|me|mac|aol|proton|protonmail|pm|gmx|"
    r"web|mail|email|yandex|qq|163|126|sina|naver|daum|orange|free|laposte|sfr|wanadoo|t-online|freenet|libero|"
    r"virgilio|tiscali|btinternet|sky|zoho|fastmail|hey|tutanota|seznam|wp|o2|interia|rediffmail|uol|bol|terra)"
    r"\.[a-z.]+"
)

#: The customer contact fields whose filling makes a record complete (catalog ``data_completeness``).
CONTACT_FIELDS: tuple[str, ...] = ("name", "email", "phone", "company", "country")

#: Words dropped from company names before they are compared (legal forms, "the", "and").
COMPANY_STOPWORDS: tuple[str, ...] = (
    "inc", "incorporated", "llc", "ltd", "limited", "plc", "corp", "corporation", "co", "company", "gmbh", "ag",
    "kg", "sas", "sa", "sarl", "bv", "nv", "sl", "srl", "spa", "ab", "as", "oy", "pty", "kk", "pte", "pvt",
    "ltda", "de", "cv", "the", "and", "group",
)


class RulesError(ValueError):
    """A rules file is inconsistent (e.g. two countries share a spelling)."""


def key(text: str | None) -> str:
    """The matching key of a spelling: lower case, accents removed, only letters and digits kept."""
    if text is None:
        return ""
    folded = unicodedata.normalize("NFKD", str(text))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", "", folded)


def key_sql(expr: str) -> str:
    """SQL twin of :func:`key` (DuckDB ``strip_accents``)."""
    return f"regexp_replace(lower(strip_accents(trim(CAST({expr} AS VARCHAR)))), '[^a-z0-9]+', '', 'g')"


def filled_sql(expr: str) -> str:
    """SQL: the value as text, NULL when empty or blank."""
    return f"NULLIF(trim(CAST({expr} AS VARCHAR)), '')"


@dataclass(frozen=True)
class Component:
    id: str
    label: str
    weight: float
    definition: str


@cache
def _countries_raw() -> dict:
    return yaml.safe_load((_DIR / "countries.yaml").read_text(encoding="utf-8"))["countries"]


@cache
def country_table() -> pl.DataFrame:
    """Every known spelling key of a country: ``key``, ``country`` (canonical name), ``iso2``.

    Raises
    ------
    RulesError
        Two countries share a key (a spelling would be ambiguous).
    """
    rows: dict[str, tuple[str, str]] = {}
    for name, spec in _countries_raw().items():
        iso2 = str(spec["iso2"]).upper()
        for spelling in (name, iso2, spec.get("iso3"), *(spec.get("variants") or [])):
            if spelling is None:
                continue
            k = key(spelling)
            if not k:
                continue
            if k in rows and rows[k][0] != name:
                raise RulesError(f"countries.yaml: {spelling!r} is a spelling of both {rows[k][0]} and {name}")
            rows[k] = (name, iso2)
    return pl.DataFrame(
        {"key": list(rows), "country": [v[0] for v in rows.values()], "iso2": [v[1] for v in rows.values()]},
        schema={"key": pl.String, "country": pl.String, "iso2": pl.String},
    )


def canonical_country(text: str | None) -> str | None:
    """The canonical name of a country spelling, or None when unknown."""
    hit = country_table().filter(pl.col("key") == key(text))
    return hit["country"][0] if hit.height else None


@cache
def components() -> tuple[Component, ...]:
    raw = yaml.safe_load((_DIR / "weights.yaml").read_text(encoding="utf-8"))["components"]
    out = []
    for cid, spec in raw.items():
        weight = float(spec["weight"])
        if weight < 0:
            raise RulesError(f"weights.yaml: {cid} has a negative weight")
        out.append(Component(cid, spec["label"], weight, " ".join(str(spec["definition"]).split())))
    if not any(c.weight for c in out):
        raise RulesError("weights.yaml: every weight is 0")
    return tuple(out)


@cache
def rules_version() -> str:
    """A short hash of the rules files: a kept report computed under other rules is not read."""
    digest = hashlib.sha256()
    for name in ("countries.yaml", "weights.yaml"):
        digest.update((_DIR / name).read_bytes())
    digest.update(EMAIL_PATTERN.encode())
    return digest.hexdigest()[:12]
