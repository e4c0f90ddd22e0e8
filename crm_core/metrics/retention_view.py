"""Small summaries the Retention & CLV page draws from engine results (no store, no Streamlit).

* :func:`average_clv` — the catalog's ``avg_clv`` over a CLV frame.
* :func:`p_alive_grid` — mean P(alive) over recency × frequency bins of a CLV frame.
* :func:`at_risk_customers` — valuable customers (top predicted or historical value) who are probably lapsing.
* :func:`holdout_by_frequency` — predicted vs actual holdout purchases per calibration-frequency bin.
* :func:`holdout_calibration_end` — the calibration end of an N-month holdout check (None when too short).
"""

from __future__ import annotations

import calendar
from datetime import date

import polars as pl

#: Frequency bins (repeat purchase days in the calibration): (label, lower inclusive, upper exclusive).
FREQUENCY_BINS: tuple[tuple[str, int, int | None], ...] = (
    ("0", 0, 1), ("1", 1, 2), ("2", 2, 3), ("3–5", 3, 6), ("6–10", 6, 11), ("11+", 11, None),
)
#: Recency bins in weeks since the last purchase (T − recency): (label, lower inclusive, upper exclusive).
RECENCY_BINS: tuple[tuple[str, float, float | None], ...] = (
    ("0–4", 0, 4), ("4–13", 4, 13), ("13–26", 13, 26), ("26–52", 26, 52), ("52–104", 52, 104), ("104+", 104, None),
)


def _bin(column: pl.Expr, bins) -> pl.Expr:
    expr = None
    for label, lo, hi in bins:
        cond = column >= lo if hi is None else (column >= lo) & (column < hi)
        expr = pl.when(cond).then(pl.lit(label)) if expr is None else expr.when(cond).then(pl.lit(label))
    return expr.otherwise(None)


def average_clv(frame: pl.DataFrame) -> float | None:
    """Mean predicted CLV over the customers of a ``ClvResult.frame`` (None when empty)."""
    if frame.is_empty():
        return None
    return float(frame["clv"].mean())


def p_alive_grid(frame: pl.DataFrame) -> pl.DataFrame:
    """Mean P(alive) per (recency bin, frequency bin) of a ``ClvResult.frame`` (model time unit: weeks).

    Recency bin: weeks since the customer's last purchase at the calibration end (T − recency). Columns:
    recency_bin, frequency_bin, customers, mean_p_alive; bins in their natural order (only those with customers).
    """
    schema = {"recency_bin": pl.String, "frequency_bin": pl.String, "customers": pl.Int64, "mean_p_alive": pl.Float64}
    if frame.is_empty():
        return pl.DataFrame(schema=schema)
    r_order = {label: i for i, (label, *_) in enumerate(RECENCY_BINS)}
    f_order = {label: i for i, (label, *_) in enumerate(FREQUENCY_BINS)}
    out = (
        frame.with_columns(
            recency_bin=_bin(pl.col("T") - pl.col("recency"), RECENCY_BINS),
            frequency_bin=_bin(pl.col("frequency"), FREQUENCY_BINS),
        )
        .group_by("recency_bin", "frequency_bin")
        .agg(customers=pl.len().cast(pl.Int64), mean_p_alive=pl.col("p_alive").mean())
        .drop_nulls(["recency_bin", "frequency_bin"])
    )
    return (
        out.with_columns(
            _r=pl.col("recency_bin").replace_strict(r_order, return_dtype=pl.Int32),
            _f=pl.col("frequency_bin").replace_strict(f_order, return_dtype=pl.Int32),
        )
        .sort("_r", "_f")
        .drop("_r", "_f")
        .select(list(schema))
        .cast(schema)
    )


def at_risk_customers(
    frame: pl.DataFrame, historical: pl.DataFrame, *, p_alive_below: float = 0.5, value_quantile: float = 0.8,
    top: int = 50,
) -> pl.DataFrame:
    """Valuable customers who are probably lapsing: P(alive) below ``p_alive_below`` and predicted CLV *or*
    historical value in the top ``1 − value_quantile`` of customers; the most valuable (historical) first.

    ``frame``: ``ClvResult.frame``; ``historical``: ``clv.historical_clv`` (customer_id, last_purchase,
    historical_clv). Columns: customer_id, last_purchase, frequency, historical_value, clv, p_alive.
    """
    joined = frame.join(
        historical.select("customer_id", "last_purchase", pl.col("historical_clv").alias("historical_value")),
        on="customer_id", how="left",
    )
    cols = ["customer_id", "last_purchase", "frequency", "historical_value", "clv", "p_alive"]
    if joined.is_empty():
        return joined.select(cols)
    clv_cut = joined["clv"].quantile(value_quantile)
    hist_cut = joined["historical_value"].quantile(value_quantile)
    valuable = pl.col("clv") >= clv_cut
    if hist_cut is not None:
        valuable = valuable | (pl.col("historical_value").fill_null(float("-inf")) >= hist_cut)
    return (
        joined.filter(valuable & (pl.col("p_alive") < p_alive_below))
        .sort(["historical_value", "clv", "customer_id"], descending=[True, True, False], nulls_last=True)
        .head(top)
        .select(cols)
    )


def holdout_by_frequency(holdout: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """Predicted vs actual holdout purchases per calibration-frequency bin.

    ``holdout``: ``HoldoutResult.frame`` (customer_id, actual_purchases, predicted_purchases); ``frame``:
    ``ClvResult.frame`` (customer_id, frequency). Columns: frequency_bin, customers, predicted_mean, actual_mean,
    predicted_total, actual_total, in bin order.
    """
    order = {label: i for i, (label, *_) in enumerate(FREQUENCY_BINS)}
    schema = {"frequency_bin": pl.String, "customers": pl.Int64, "predicted_mean": pl.Float64,
              "actual_mean": pl.Float64, "predicted_total": pl.Float64, "actual_total": pl.Float64}
    if holdout.is_empty():
        return pl.DataFrame(schema=schema)
    return (
        holdout.join(frame.select("customer_id", "frequency"), on="customer_id", how="inner")
        .with_columns(frequency_bin=_bin(pl.col("frequency"), FREQUENCY_BINS))
        .group_by("frequency_bin")
        .agg(
            customers=pl.len().cast(pl.Int64),
            predicted_mean=pl.col("predicted_purchases").mean(),
            actual_mean=pl.col("actual_purchases").cast(pl.Float64).mean(),
            predicted_total=pl.col("predicted_purchases").sum(),
            actual_total=pl.col("actual_purchases").cast(pl.Float64).sum(),
        )
        .with_columns(_o=pl.col("frequency_bin").replace_strict(order, return_dtype=pl.Int32))
        .sort("_o")
        .drop("_o")
        .select(list(schema))
        .cast(schema)
    )


#: A holdout check needs at least this many days of calibration before the calibration end.
MIN_CALIBRATION_DAYS = 90


def holdout_calibration_end(first_day: date, last_day: date, months: int) -> date | None:
    """The calibration end of a holdout check of ``months`` months ending on ``last_day`` (the same day of the
    month ``months`` earlier, clipped to the month's length), or None when the data are too short: fewer than
    :data:`MIN_CALIBRATION_DAYS` days from ``first_day`` to that calibration end."""
    total = last_day.year * 12 + last_day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    day = min(last_day.day, calendar.monthrange(year, month)[1])
    end = date(year, month, day)
    return end if (end - first_day).days >= MIN_CALIBRATION_DAYS else None
