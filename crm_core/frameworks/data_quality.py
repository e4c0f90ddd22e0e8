"""Two small data-quality measures of customer records, the evidence the QCI *Information & technology* area and
the Gartner *Information* block cite: data completeness and duplicate rate.

Kept small and separate on purpose: a later issue builds a full data-quality module (``crm_core/quality.py``:
validity, standardisation, …) that can replace this one behind the same two catalog ids.

Customers are the ``customers`` rows of the scope: passing the region / segment / owner filters and created by
the window end (or without a creation date), as IDIC *Identify* counts them (``crm_core.metrics.identify``). The
channel filter narrows purchases, not customer records, so it does not apply. Values are bound, identifiers
quoted.
"""

from __future__ import annotations

from crm_core.metrics.scope import Scope, customer_filter
from crm_core.sql import quote_ident

#: The contact fields whose filling makes a customer record complete (catalog ``data_completeness``).
CONTACT_FIELDS: tuple[str, ...] = ("name", "email", "phone", "company", "country")

_CUSTOMERS = f"""
    SELECT c.*
    FROM customers c
    WHERE c.dataset_id = $dataset
      AND {customer_filter("c")}
      AND ($end_ts::TIMESTAMP IS NULL OR c.created_at IS NULL OR c.created_at < $end_ts::TIMESTAMP)
"""


def _filled(column: str) -> str:
    return f"NULLIF(trim(CAST({quote_ident(column)} AS VARCHAR)), '')"


def data_completeness(store, scope: Scope, fields: tuple[str, ...] = CONTACT_FIELDS) -> dict:
    """Share of the contact ``fields`` filled in the scope's customer records (blank text is empty).

    Returns
    -------
    dict
        ``customers``, ``fields`` (how many), ``filled`` (cells with a value), ``completeness`` = filled ÷
        (customers × fields) in 0 … 1 (None without customers) and ``by_field``: {field: share filled}.
    """
    if not fields:
        raise ValueError("data_completeness needs at least one field")
    counts = ", ".join(f"COUNT({_filled(f)}) AS {quote_ident('n_' + f)}" for f in fields)
    query = f"SELECT COUNT(*) AS customers, {counts} FROM ({_CUSTOMERS}) AS c"
    row = store.query(query, scope.params(query)).row(0, named=True)
    n = int(row["customers"] or 0)
    by_field = {f: (int(row["n_" + f]) / n if n else None) for f in fields}
    filled = sum(int(row["n_" + f]) for f in fields)
    return {
        "customers": n,
        "fields": len(fields),
        "filled": filled,
        "completeness": filled / (n * len(fields)) if n else None,
        "by_field": by_field,
    }


def duplicate_rate(store, scope: Scope) -> dict:
    """Share of the scope's customer records that share a normalized email (``lower(trim(email))``) with
    another record. A record without an email is never a duplicate but counts in the denominator.

    Returns
    -------
    dict
        ``customers``, ``duplicated`` (records whose normalized email is held by two or more records),
        ``emails`` (distinct normalized emails held twice or more) and ``duplicate_rate`` = duplicated ÷
        customers (None without customers).
    """
    query = f"""
    WITH c AS ({_CUSTOMERS}),
    keyed AS (SELECT lower(trim(c.email)) AS k FROM c WHERE NULLIF(trim(c.email), '') IS NOT NULL),
    shared AS (SELECT k, COUNT(*) AS n FROM keyed GROUP BY k HAVING COUNT(*) >= 2)
    SELECT (SELECT COUNT(*) FROM c) AS customers,
           COALESCE((SELECT SUM(n) FROM shared), 0)::BIGINT AS duplicated,
           (SELECT COUNT(*) FROM shared) AS emails
    """
    row = store.query(query, scope.params(query)).row(0, named=True)
    n, dup = int(row["customers"] or 0), int(row["duplicated"] or 0)
    return {"customers": n, "duplicated": dup, "emails": int(row["emails"] or 0),
            "duplicate_rate": dup / n if n else None}
