"""Canonical columns an export does not hold as such, derived from the columns it has.

``vendors.detect`` names the rule in ``Detection.derived`` ({canonical column: rule}); ``apply`` runs
it on the raw frame and the columns already parsed. Each rule is small and vendor-specific:

- ``shopify``: order status from "Financial Status", "Cancelled at" and "Refunded Amount"; a
  partially refunded order stays completed with its amount net of the refund.
- ``from_stage``: deal status from a stage name ("Closed Won" → won, "Closed Lost" → lost, else open).
- ``salesforce_iswon``: deal status from Salesforce's IsWon / IsClosed flags.
"""

from __future__ import annotations

import re

import polars as pl

from crm_core.ingest import parse


def _norm(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.casefold())


def _find(frame: pl.DataFrame, *names: str) -> pl.Series | None:
    """The raw column whose header matches one of ``names`` (case and punctuation ignored)."""
    wanted = {_norm(n) for n in names}
    for header in frame.columns:
        if _norm(header) in wanted:
            return frame[header]
    return None


def _shopify(frame: pl.DataFrame, columns: dict[str, pl.Series]) -> str | None:
    financial = _find(frame, "Financial Status")
    cancelled_at = _find(frame, "Cancelled at")
    refunded = _find(frame, "Refunded Amount")
    n = frame.height
    status = (
        parse.parse_transaction_status(financial).values
        if financial is not None
        else pl.Series([None] * n, dtype=pl.String)
    )
    status = status.fill_null("completed")
    if refunded is not None and "amount" in columns:
        refund = parse.parse_money(refunded).values.fill_null(0.0)
        amount = columns["amount"]
        full = (refund > 0) & (refund >= amount.fill_null(0.0) - 0.005)
        partial = (refund > 0) & ~full
        # The refunded amount decides: all of it refunded → refunded; part of it → a completed sale
        # (Shopify's "partially_refunded" financial status included).
        status = pl.select(
            pl.when(full).then(pl.lit("refunded")).when(partial).then(pl.lit("completed")).otherwise(status)
        ).to_series()
        # A partial refund leaves a sale whose net revenue is the total less the refund.
        columns["amount"] = pl.select(
            pl.when(partial).then(amount - refund).otherwise(amount)
        ).to_series().alias("amount")
    if cancelled_at is not None:
        is_cancelled = parse.clean_text(cancelled_at).is_not_null()
        status = pl.select(pl.when(is_cancelled).then(pl.lit("cancelled")).otherwise(status)).to_series()
    columns["status"] = status.alias("status")
    return "status: from Shopify's Financial Status, Cancelled at and Refunded Amount (partial refunds netted)."


def _from_stage(frame: pl.DataFrame, columns: dict[str, pl.Series]) -> str | None:
    stage = columns.get("stage")
    if stage is None:
        raw = _find(frame, "Stage", "Deal Stage", "StageName", "Deal - Stage")
        if raw is None:
            return None
        stage = parse.clean_text(raw)
    columns["status"] = parse.deal_status_from_stage(stage).values.alias("status")
    return "status: from the deal stage (closed won → won, closed lost → lost, other stages → open)."


def _salesforce_iswon(frame: pl.DataFrame, columns: dict[str, pl.Series]) -> str | None:
    is_won = _find(frame, "IsWon", "Won")
    is_closed = _find(frame, "IsClosed", "Closed")
    if is_won is None:
        return None
    won = parse.parse_bool(is_won).values.fill_null(False)
    closed = parse.parse_bool(is_closed).values.fill_null(False) if is_closed is not None else won
    columns["status"] = pl.select(
        pl.when(won).then(pl.lit("won")).when(closed).then(pl.lit("lost")).otherwise(pl.lit("open"))
    ).to_series().alias("status")
    return "status: from Salesforce IsWon / IsClosed."


# Headers (normalised, vendor prefix stripped) holding the date a deal was lost, used where the
# mapped close date is empty for lost deals (Pipedrive exports "Won time" and "Lost time" apart).
_LOST_TIME_HEADERS = ("losttime", "zeitpunktverloren", "dealclosedon", "closedon", "fechadeperdida", "dateperdu")


def fill_gaps(table: str, frame: pl.DataFrame, columns: dict[str, pl.Series], dayfirst: bool | None) -> str | None:
    """Fill canonical values a second column holds for some rows; returns a note when it did."""
    if table != "deals" or "closed_at" not in columns or "status" not in columns:
        return None
    from crm_core.ingest.vendors import normalize_header

    header = next(
        (h for h in frame.columns if normalize_header(h, strip_prefix=True) in _LOST_TIME_HEADERS), None
    )
    if header is None:
        return None
    lost_at = parse.parse_dates(frame[header], dayfirst=dayfirst).values
    gap = columns["closed_at"].is_null() & (columns["status"] == "lost")
    if not gap.any():
        return None
    columns["closed_at"] = pl.select(
        pl.when(gap).then(lost_at).otherwise(columns["closed_at"])
    ).to_series().alias("closed_at")
    return f"closed_at: lost deals take their close date from '{header}'."


def apply(rule: str, canonical: str, frame: pl.DataFrame, columns: dict[str, pl.Series]) -> str | None:
    """Run derivation ``rule`` for ``canonical``; updates ``columns`` in place; returns a note."""
    if rule == "shopify":
        return _shopify(frame, columns)
    if rule == "from_stage":
        return _from_stage(frame, columns)
    if rule == "salesforce_iswon":
        return _salesforce_iswon(frame, columns)
    raise ValueError(f"unknown derivation rule {rule!r} for {canonical}")
