"""KPI targets per dataset (DESIGN §4 "settings per dataset: targets (metric_id, period, value)").

A target is a value a headline KPI should reach over a review period. ``period`` names the kind of
period the target applies to — ``month``, ``quarter``, ``year`` or ``window`` (any other analysis
window) — because a revenue target for a quarter is not one for a month; shares and scores usually
carry the same target in every kind. Targets live in the store table ``targets`` (dataset_id,
metric_id, period, value); :func:`set_targets` replaces one period kind's targets in one transaction.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl

from crm_core.metrics import catalog

if TYPE_CHECKING:  # pragma: no cover
    from crm_core.store import Store

#: Period kinds a target can be set for (the review page's period choices).
PERIODS: tuple[str, ...] = ("month", "quarter", "year", "window")

#: The KPIs of the executive review, in the order the page and the reports show them (catalog ids).
REVIEW_METRICS: tuple[str, ...] = (
    "revenue", "active_customers", "retention_rate", "churn_rate", "nps", "avg_clv",
    "cost_to_serve_per_customer", "top20_revenue_share",
)

_SCHEMA = {"metric_id": pl.String, "label": pl.String, "unit": pl.String, "better": pl.String, "target": pl.Float64}


class TargetError(ValueError):
    """Targets that cannot be saved; the message names the metric and why, fit to show to the user."""


def _check_period(period: str) -> str:
    if period not in PERIODS:
        raise TargetError(f"Targets are set per {', '.join(PERIODS)}, not {period!r}.")
    return period


def get_targets(store: Store, dataset_id: int, period: str) -> dict[str, float]:
    """{metric_id: target} of a dataset for one period kind (metrics without a target are absent)."""
    _check_period(period)
    frame = store.query(
        "SELECT metric_id, value FROM targets WHERE dataset_id = ? AND period = ? ORDER BY metric_id",
        [dataset_id, period],
    )
    return dict(zip(frame["metric_id"].to_list(), frame["value"].to_list()))


def targets_frame(store: Store, dataset_id: int, period: str, metrics: tuple[str, ...] = REVIEW_METRICS) -> pl.DataFrame:
    """One row per review metric: metric_id, label, unit, better and target (null when none is set) —
    what the targets editor shows."""
    have = get_targets(store, dataset_id, period)
    rows = []
    for mid in metrics:
        m = catalog.metric(mid)
        rows.append({"metric_id": mid, "label": m.label, "unit": m.unit, "better": m.better, "target": have.get(mid)})
    return pl.DataFrame(rows, schema=_SCHEMA, orient="row")


def validate_targets(targets: dict[str, float | None]) -> dict[str, float]:
    """The targets to store: known metrics only, numbers only (None/blank = no target), shares in 0..1.

    Raises :class:`TargetError` naming the first bad entry."""
    out: dict[str, float] = {}
    for mid, value in targets.items():
        try:
            m = catalog.metric(mid)
        except KeyError:
            raise TargetError(f"There is no metric {mid!r} to set a target for.") from None
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TargetError(f"{m.label}: the target must be a number, not {value!r}.") from None
        if math.isnan(number):
            continue
        if math.isinf(number):
            raise TargetError(f"{m.label}: the target must be a finite number.")
        if m.unit == "share" and not 0 <= number <= 1:
            raise TargetError(f"{m.label}: a share's target is between 0 and 1 (e.g. 0.85 for 85%), not {number:g}.")
        if m.unit == "score" and not -100 <= number <= 100:
            raise TargetError(f"{m.label}: the target is a score from -100 to 100, not {number:g}.")
        if m.unit in {"count", "currency"} and mid != "net_profit" and number < 0:
            raise TargetError(f"{m.label}: the target must be 0 or more, not {number:g}.")
        out[mid] = number
    return out


def set_targets(store: Store, dataset_id: int, period: str, targets: dict[str, float | None]) -> dict[str, float]:
    """Replace the dataset's targets for ``period`` by ``targets`` ({metric_id: value or None}) in one
    transaction; returns what was stored. Nothing is stored when any entry is refused."""
    _check_period(period)
    clean = validate_targets(targets)
    if store.dataset_name(dataset_id) is None:
        raise TargetError(f"There is no dataset {dataset_id}.")
    with store.transaction() as cur:
        cur.execute("DELETE FROM targets WHERE dataset_id = ? AND period = ?", [dataset_id, period])
        if clean:
            cur.executemany(
                "INSERT OR REPLACE INTO targets (dataset_id, metric_id, period, value) VALUES (?, ?, ?, ?)",
                [(dataset_id, mid, period, value) for mid, value in clean.items()],
            )
    return clean


def target_status(metric_id: str, value: float | None, target: float | None) -> str | None:
    """``"met"`` or ``"missed"`` by the metric's better direction (``better: neutral`` metrics: met when
    within 2% of the target, else missed); None when either number is unknown."""
    if value is None or target is None:
        return None
    better = catalog.metric(metric_id).better
    if better == "up":
        return "met" if value >= target else "missed"
    if better == "down":
        return "met" if value <= target else "missed"
    tolerance = 0.02 * abs(target) if target else 0.0
    return "met" if abs(value - target) <= tolerance else "missed"
