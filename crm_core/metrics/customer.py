"""One customer's history, for the drill-down of the portfolio page (issue #4): purchases, interactions,
feedback and the stored customer facts, read with bound values (DESIGN.md §2, §7).

Purchases come from the ``purchases`` view (so won deals stand in for transactions, as everywhere), every
status included, oldest first. Nothing here is windowed: the drill-down shows the customer's whole story.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:  # pragma: no cover
    from crm_core.store import Store

__all__ = ["FEEDBACK_COLUMNS", "INTERACTION_COLUMNS", "PURCHASE_COLUMNS", "CustomerHistory", "customer_history"]

PURCHASE_COLUMNS = (
    "purchase_id", "occurred_at", "amount", "cost", "quantity", "discount", "product", "category", "channel",
    "status",
)
INTERACTION_COLUMNS = ("interaction_id", "occurred_at", "kind", "channel", "owner", "duration_minutes", "cost", "outcome")
FEEDBACK_COLUMNS = ("responded_at", "nps", "csat", "comment")

_PURCHASES = (
    "SELECT " + ", ".join(f'p."{c}"' for c in PURCHASE_COLUMNS) + " FROM purchases p "
    "WHERE p.dataset_id = $dataset AND p.customer_id = $customer ORDER BY p.occurred_at, p.purchase_id"
)
_INTERACTIONS = (
    "SELECT " + ", ".join(f'i."{c}"' for c in INTERACTION_COLUMNS) + " FROM interactions i "
    "WHERE i.dataset_id = $dataset AND i.customer_id = $customer ORDER BY i.occurred_at, i.interaction_id"
)
_FEEDBACK = (
    "SELECT " + ", ".join(f'f."{c}"' for c in FEEDBACK_COLUMNS) + " FROM feedback f "
    "WHERE f.dataset_id = $dataset AND f.customer_id = $customer ORDER BY f.responded_at"
)
_FACTS = "SELECT * FROM customer_facts WHERE dataset_id = $dataset AND customer_id = $customer"
_PROFILE = "SELECT * FROM customers WHERE dataset_id = $dataset AND customer_id = $customer"


@dataclass(frozen=True, eq=False)
class CustomerHistory:
    """Everything the store knows about one customer.

    Attributes
    ----------
    customer_id
    profile
        The customers-table row as a dict (name, region, segment, owner, …), or None when the customer is
        only known from purchases.
    facts
        The stored ``customer_facts`` row (all time, no filters) as a dict, or None.
    purchases
        One row per purchase, every status, oldest first: ``PURCHASE_COLUMNS``.
    interactions
        One row per interaction, oldest first: ``INTERACTION_COLUMNS``.
    feedback
        One row per survey answer, oldest first: ``FEEDBACK_COLUMNS``.
    """

    customer_id: str
    profile: dict | None
    facts: dict | None
    purchases: pl.DataFrame
    interactions: pl.DataFrame
    feedback: pl.DataFrame

    @property
    def known(self) -> bool:
        return self.profile is not None or self.facts is not None or not self.purchases.is_empty()


def _row(frame: pl.DataFrame) -> dict | None:
    rows = frame.drop("dataset_id", "batch_id", strict=False).to_dicts()
    return rows[0] if rows else None


def customer_history(store: Store, dataset_id: int, customer_id: str) -> CustomerHistory:
    """The history of ``customer_id`` in ``dataset_id`` (empty frames for an unknown customer)."""
    params = {"dataset": int(dataset_id), "customer": str(customer_id)}
    return CustomerHistory(
        customer_id=str(customer_id),
        profile=_row(store.query(_PROFILE, params)),
        facts=_row(store.query(_FACTS, params)),
        purchases=store.query(_PURCHASES, params),
        interactions=store.query(_INTERACTIONS, params),
        feedback=store.query(_FEEDBACK, params),
    )
