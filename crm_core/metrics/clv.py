"""Customer lifetime value: BG/NBD + Gamma-Gamma on a calibration period, checked on a holdout (issue #3, item 4).

The per-customer summary (frequency x, recency t_x, age T, mean repeat spend z̄ and the holdout counts) is built in
DuckDB SQL (``crm_core/sql/clv_summary.sql``) over the scope's completed purchases; the models
(``crm_core.models.bgnbd``, ``crm_core.models.gamma_gamma``) are fitted on it in numpy. Nothing loops over customers
in Python.

Conventions follow lifetimes' ``summary_data_from_transaction_data`` / ``calibration_and_holdout_data`` [3] and the
CDNOW analyses of Fader, Hardie & Lee [1] and Hardie [2]:

- purchases on one day are one purchase (amounts summed); x counts the distinct purchase days after the first one, on
  or before the calibration end; t_x and T are measured in days from the first purchase day and divided by the time
  unit (day 1, week 7, month 30.4375 days — ``TIME_UNIT_DAYS``);
- the mean spend z̄ leaves out the first purchase day (section 1 of [2]); it is 0 when x = 0;
- the holdout runs from the day after the calibration end to the observation end (default: the last purchase day of
  the data); predicted holdout purchases are E[Y(t) | x, t_x, T], Eq. (10) of [1], with t the holdout length.

References
----------
[1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An Alternative to the
    Pareto/NBD Model. Marketing Science 24(2), 275-284.
[2] Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value. http://brucehardie.com/notes/025/
[3] Davidson-Pilon, C. lifetimes (MIT): ``lifetimes/utils.py`` (summary_data_from_transaction_data,
    calibration_and_holdout_data, _customer_lifetime_value).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

import numpy as np
import polars as pl

from crm_core import sql
from crm_core.metrics.scope import Scope, chosen_customers, day_bits, distinct_days_sql, purchases_sql
from crm_core.models.bgnbd import TIME_UNIT_DAYS, BetaGeoModel, ConvergenceError
from crm_core.models.gamma_gamma import GammaGammaModel

__all__ = [
    "ClvError",
    "ClvResult",
    "HoldoutResult",
    "SUMMARY_COLUMNS",
    "clv_report",
    "fit_clv",
    "fit_clv_from_summary",
    "historical_clv",
    "rfm_summary",
]

#: Columns of :func:`rfm_summary`, in order.
SUMMARY_COLUMNS = (
    "customer_id", "frequency", "recency", "T", "monetary_value", "holdout_purchases", "holdout_value",
)

# A customer first seen on the calibration end has T = 0. Its BG/NBD likelihood term is (α/(α+0))^r = 1 (log 0), so
# leaving it out of the fit changes nothing; predictions for it use T = _MIN_AGE (the limit T → 0 is continuous).
_MIN_AGE = 1e-9


class ClvError(Exception):
    """The CLV models cannot be fitted on this data; the message says why and what to try."""


@dataclass(frozen=True, eq=False)
class HoldoutResult:
    """Predicted vs actual repeat purchases in the holdout period (calibration end + 1 day .. observation end).

    Attributes
    ----------
    frame
        One row per calibration customer: customer_id, actual_purchases (distinct purchase days in the holdout),
        predicted_purchases (E[Y(t) | x, t_x, T], Eq. (10) of FHL 2005), actual_value (holdout revenue).
    predicted_total, actual_total
        Sums over customers.
    mae
        Mean absolute error per customer, mean |predicted − actual|.
    relative_error
        (predicted_total − actual_total) / actual_total (NaN when nobody bought in the holdout).
    customers
        Calibration customers the holdout is scored on.
    days
        Holdout length in days.
    start, end
        First and last day of the holdout.
    """

    frame: pl.DataFrame
    predicted_total: float
    actual_total: int
    mae: float
    relative_error: float
    customers: int
    days: int
    start: date
    end: date


@dataclass(frozen=True, eq=False)
class ClvResult:
    """Fitted CLV models and their per-customer predictions.

    Attributes
    ----------
    bgnbd, gamma_gamma
        The fitted models (``alpha_`` in ``time_unit``; ``v_`` in the dataset's money unit).
    bgnbd_summary, gamma_gamma_summary
        Their ``summary`` dicts.
    customers
        Customers in the calibration (first purchase on or before ``calibration_end``).
    excluded_spend
        Customers with repeat purchases left out of the Gamma-Gamma fit because their mean repeat spend is zero or
        negative (they get the population mean spend in predictions).
    frame
        One row per calibration customer: customer_id, frequency, recency, T, monetary_value, p_alive,
        expected_purchases (over the horizon), expected_avg_spend (E[Z | z̄, x]), clv (discounted, horizon).
    holdout
        Holdout check, or None when no day of data follows ``calibration_end``.
    """

    bgnbd: BetaGeoModel
    gamma_gamma: GammaGammaModel
    bgnbd_summary: dict
    gamma_gamma_summary: dict
    customers: int
    excluded_spend: int
    frame: pl.DataFrame
    holdout: HoldoutResult | None
    calibration_end: date
    observation_end: date
    time_unit: str
    horizon: int
    horizon_unit: str
    discount_rate: float


# ---------------------------------------------------------------------------------------------------------------
# summaries (SQL)
# ---------------------------------------------------------------------------------------------------------------
def _unit_days(unit: str, what: str = "time_unit") -> float:
    try:
        return TIME_UNIT_DAYS[unit]
    except KeyError:
        raise ClvError(f"{what} must be one of {', '.join(TIME_UNIT_DAYS)}, not {unit!r}.") from None


def _as_date(value: date | datetime | str, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ClvError(f"{what} must be a date (YYYY-MM-DD), not {value!r}.") from None


def _scoped_sql(name: str, scope: Scope) -> str:
    """A named query with the scope's completed purchases (whole filtered history) in place of ``({purchases})``;
    for a scope without filters, without their SQL (a semi join DuckDB plans even for empty lists: the calibration
    summary of 10M purchases took 1.08-1.31 s without it, 1.24-1.39 s with it)."""
    return sql.load(name).replace("({purchases})",
                                  "(" + purchases_sql(windowed=False, filtered=scope.filtered) + ")")


def last_purchase_day(store, scope: Scope) -> date | None:
    """Last day with a completed purchase in the scope's whole filtered history (None when there is none)."""
    text = f"SELECT MAX(CAST(p.occurred_at AS DATE)) FROM ({purchases_sql(windowed=False)}) AS p"
    return store.query(text, scope.params(text)).item()


def rfm_summary(
    store,
    scope: Scope,
    calibration_end: date,
    time_unit: str = "week",
    observation_end: date | None = None,
) -> pl.DataFrame:
    """Calibration and holdout summary per customer, in SQL.

    Parameters
    ----------
    store
        A :class:`crm_core.store.Store`.
    scope
        Dataset and filters; the analysis window is ignored (models calibrate on the whole filtered history).
    calibration_end
        Last day of the calibration period (inclusive).
    time_unit
        ``"day"``, ``"week"`` or ``"month"`` (30.4375 days), the unit of ``recency`` and ``T``.
    observation_end
        Last day of the holdout (inclusive); default the last purchase day of the data.

    Returns
    -------
    pl.DataFrame
        ``SUMMARY_COLUMNS``: customer_id, frequency (x, repeat purchase days), recency (t_x), T, monetary_value
        (mean of the repeat days' amounts, first day excluded; 0 when x = 0), holdout_purchases (purchase days after
        the calibration end), holdout_value; one row per customer whose first purchase is on or before
        ``calibration_end``, ordered by customer_id. Same definitions as lifetimes'
        ``summary_data_from_transaction_data`` with ``freq="D"`` [3], times divided by the unit.
    """
    unit_days = _unit_days(time_unit)
    cal = _as_date(calibration_end, "calibration_end")
    if observation_end is None:
        obs = last_purchase_day(store, scope) or cal
    else:
        obs = _as_date(observation_end, "observation_end")
    obs = max(obs, cal)
    text = _scoped_sql("clv_summary", scope)
    params = {**scope.params(text), "calibration_end": cal, "observation_end": obs, "unit_days": unit_days}
    return store.query(text, params)


def historical_clv(store, scope: Scope) -> pl.DataFrame:
    """Value to date per customer: margin (revenue − cost) where purchases carry a cost, else revenue.

    Completed purchases of the scope's whole filtered history up to the end of the analysis window (open window: all
    of it). Columns: customer_id, first_purchase, last_purchase, purchases (distinct days), revenue, cost, margin
    (null when no purchase has a cost), historical_clv (margin, or revenue when there is no cost), basis
    (``"margin"`` / ``"revenue"``); highest value first.
    """
    bits = day_bits(store, Scope(scope.dataset_id, end=scope.end))  # the history up to the window end
    text = _scoped_sql("clv_historical", scope).replace("{purchase_days}", distinct_days_sql(bits, "p.occurred_at"))
    return store.query(text, scope.params(text) | {k: v for k, v in bits.items() if f"${k}" in text})


# ---------------------------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------------------------
def fit_clv_from_summary(
    summary: pl.DataFrame,
    *,
    calibration_end: date,
    observation_end: date | None = None,
    time_unit: str = "week",
    horizon: int = 12,
    horizon_unit: str = "month",
    discount_rate: float = 0.01,
    penalizer: float = 0.0,
) -> ClvResult:
    """Fit BG/NBD and Gamma-Gamma on an :func:`rfm_summary` frame and score every customer.

    ``observation_end`` (the summary's holdout end) switches on the holdout check when it is after
    ``calibration_end``. See :func:`fit_clv` for the parameters.
    """
    unit_days = _unit_days(time_unit)
    step_days = _unit_days(horizon_unit, "horizon_unit")
    if not isinstance(horizon, (int, np.integer)) or isinstance(horizon, bool) or horizon < 0:
        raise ClvError(f"horizon must be a whole number of {horizon_unit}s >= 0, not {horizon!r}.")
    if not np.isfinite(discount_rate) or discount_rate <= -1:
        raise ClvError(f"discount_rate must be a rate per {horizon_unit} above -1 (e.g. 0.01), not {discount_rate!r}.")
    if not np.isfinite(penalizer) or penalizer < 0:
        raise ClvError(f"penalizer must be a number >= 0, not {penalizer!r}.")
    cal = _as_date(calibration_end, "calibration_end")
    obs = cal if observation_end is None else max(_as_date(observation_end, "observation_end"), cal)
    n = summary.height
    if n == 0:
        raise ClvError(
            f"No customer made a completed purchase on or before the calibration end {cal:%Y-%m-%d}. "
            "Choose a later calibration end, or check the dataset and filters."
        )

    x = summary["frequency"].cast(pl.Float64).to_numpy()
    tx = summary["recency"].to_numpy()
    T = summary["T"].to_numpy()
    m = summary["monetary_value"].to_numpy()
    repeaters = int((x > 0).sum())
    aged = T > 0
    context = (
        f"{n:,} customer(s) calibrated to {cal:%Y-%m-%d}, {repeaters:,} with a repeat purchase, time unit "
        f"{time_unit}"
    )
    if not aged.any():
        raise ClvError(
            f"The CLV model cannot be fitted: every customer's first purchase is on the calibration end "
            f"({context}). Choose a later calibration end."
        )
    try:
        bg = BetaGeoModel(penalizer=penalizer).fit(x[aged], tx[aged], T[aged])
    except (ConvergenceError, ValueError) as exc:
        raise ClvError(
            f"The purchase model (BG/NBD) could not be fitted on {context}: {exc} "
            "A calibration end that leaves more history before it usually helps."
        ) from exc
    try:
        gg = GammaGammaModel(penalizer=penalizer).fit(x, m)
    except (ConvergenceError, ValueError) as exc:
        raise ClvError(
            f"The spend model (Gamma-Gamma) could not be fitted on {context}: {exc}"
        ) from exc
    excluded_spend = int(((x > 0) & ~(m > 0)).sum())

    T_pred = np.maximum(T, _MIN_AGE)
    p_alive = bg.probability_alive(x, tx, T_pred)
    spend = gg.conditional_expected_average_profit(x, m)
    clv, expected = gg.customer_lifetime_value(  # expected purchases over the horizon: the sum's last step
        bg, x, tx, T_pred, m, horizon=int(horizon), time_unit_days=unit_days, discount_rate=discount_rate,
        step_days=step_days, return_expected=True,
    )
    frame = summary.select("customer_id", "frequency", "recency", "T", "monetary_value").with_columns(
        p_alive=pl.Series(p_alive, dtype=pl.Float64),
        expected_purchases=pl.Series(expected, dtype=pl.Float64),
        expected_avg_spend=pl.Series(spend, dtype=pl.Float64),
        clv=pl.Series(clv, dtype=pl.Float64),
    )

    holdout = None
    days = (obs - cal).days
    if days > 0:
        predicted = bg.conditional_expected_purchases(days / unit_days, x, tx, T_pred)
        holdout = holdout_of(
            summary.select(
                "customer_id",
                pl.col("holdout_purchases").alias("actual_purchases"),
                pl.Series("predicted_purchases", predicted, dtype=pl.Float64),
                pl.col("holdout_value").alias("actual_value"),
            ),
            days, date.fromordinal(cal.toordinal() + 1), obs,
        )
    return ClvResult(
        bgnbd=bg,
        gamma_gamma=gg,
        bgnbd_summary=bg.summary,
        gamma_gamma_summary=gg.summary,
        customers=n,
        excluded_spend=excluded_spend,
        frame=frame,
        holdout=holdout,
        calibration_end=cal,
        observation_end=obs,
        time_unit=time_unit,
        horizon=int(horizon),
        horizon_unit=horizon_unit,
        discount_rate=float(discount_rate),
    )


def holdout_of(frame: pl.DataFrame, days: int, start: date, end: date) -> HoldoutResult:
    """The :class:`HoldoutResult` of a holdout frame (customer_id, actual_purchases, predicted_purchases,
    actual_value): its totals and errors over the frame's customers."""
    predicted = frame["predicted_purchases"].to_numpy()
    actual = frame["actual_purchases"].to_numpy()
    actual_total = int(actual.sum())
    predicted_total = float(predicted.sum())
    return HoldoutResult(
        frame=frame,
        predicted_total=predicted_total,
        actual_total=actual_total,
        mae=float(np.mean(np.abs(predicted - actual))) if frame.height else float("nan"),
        relative_error=(predicted_total - actual_total) / actual_total if actual_total else float("nan"),
        customers=frame.height,
        days=days,
        start=start,
        end=end,
    )


def no_chosen_customer(scope: Scope, calibration_end: date) -> str:
    """Why a scope's region, segment and owner filters leave no customer to score."""
    filters = Scope(scope.dataset_id, regions=scope.regions, segments=scope.segments, owners=scope.owners)
    return (f"No customer of the filters ({filters.describe()}) made a completed purchase on or before the "
            f"calibration end {calibration_end:%Y-%m-%d}. Choose a later calibration end, or other filters.")


def of_customers(result: ClvResult, chosen: pl.DataFrame) -> ClvResult:
    """``result`` (models fitted on all customers) scored on the ``chosen`` customers (a customer_id column) alone:
    the same models and the same per-customer predictions, the counts and the holdout's totals and errors over
    the chosen customers."""
    frame = result.frame.join(chosen, on="customer_id", how="semi", maintain_order="left")
    h = result.holdout
    holdout = None if h is None else holdout_of(
        h.frame.join(chosen, on="customer_id", how="semi", maintain_order="left"), h.days, h.start, h.end)
    excluded = frame.filter((pl.col("frequency") > 0) & ~(pl.col("monetary_value") > 0)).height
    return replace(result, customers=frame.height, excluded_spend=excluded, frame=frame, holdout=holdout)


def fit_clv(
    store,
    scope: Scope,
    calibration_end: date,
    time_unit: str = "week",
    horizon: int = 12,
    horizon_unit: str = "month",
    discount_rate: float = 0.01,
    penalizer: float = 0.0,
    observation_end: date | None = None,
) -> ClvResult:
    """Predictive CLV: BG/NBD (purchases, P(alive)) and Gamma-Gamma (spend) fitted on the calibration period.

    Parameters
    ----------
    store, scope
        Where the purchases come from (whole filtered history; the analysis window is ignored).
    calibration_end
        Last day of the calibration period; later purchases form the holdout.
    time_unit
        Model time unit: ``"day"``, ``"week"`` or ``"month"``; ``alpha`` is expressed in it.
    horizon, horizon_unit
        CLV horizon: ``horizon`` steps of ``horizon_unit`` (default 12 months).
    discount_rate
        Discount rate per ``horizon_unit`` step (default 1 % a month); step k is discounted by (1 + d)^k.
    penalizer
        L2 penalty of both fits (lifetimes' ``penalizer_coef``); 0 gives the plain maximum-likelihood estimate.
    observation_end
        End of the holdout; default the last purchase day of the data.

    Returns
    -------
    ClvResult

    Raises
    ------
    ClvError
        No customer in the calibration, or a model has no usable maximum-likelihood estimate on these data; the
        message says what to try.

    Notes
    -----
    Region, segment and owner filters pick customers out of the models fitted on all customers (the scope's
    channel filter kept): a customer's CLV and P(alive) do not change with those filters, which choose whose
    predictions are shown, as one calibrated model is scored on any group of its customers [1]. A channel
    filter changes the purchases, so the models are fitted on that channel's purchases.
    """
    if scope.picks_customers:
        whole = fit_clv(store, scope.all_customers(), calibration_end, time_unit, horizon, horizon_unit,
                        discount_rate, penalizer, observation_end)
        result = of_customers(whole, chosen_customers(store, scope))
        if not result.customers:
            raise ClvError(no_chosen_customer(scope, whole.calibration_end))
        return result
    cal = _as_date(calibration_end, "calibration_end")
    obs = last_purchase_day(store, scope) if observation_end is None else _as_date(observation_end, "observation_end")
    obs = cal if obs is None else max(obs, cal)
    summary = rfm_summary(store, scope, cal, time_unit=time_unit, observation_end=obs)
    return fit_clv_from_summary(
        summary, calibration_end=cal, observation_end=obs, time_unit=time_unit, horizon=horizon,
        horizon_unit=horizon_unit, discount_rate=discount_rate, penalizer=penalizer,
    )


def _num(value, digits: int) -> float | None:
    """A JSON-safe rounded float (None for NaN / infinity / None)."""
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if np.isfinite(value) else None


def clv_report(
    store,
    dataset_id: int,
    calibration_end: date | str,
    time_unit: str = "week",
    horizon: int = 12,
    discount_rate: float = 0.01,
    horizon_unit: str = "month",
) -> dict:
    """The JSON report of ``python -m crm_core clv``: fitted parameters, CLV distribution, holdout check.

    Returns
    -------
    dict
        ``{"time_unit", "customers", "bgnbd": {"r", "alpha", "a", "b", "log_likelihood"},
        "gamma_gamma": {"p", "q", "v"}, "clv": {"mean", "median", "total", "horizon", "horizon_unit",
        "discount_rate"}}`` plus ``"holdout": {"predicted_purchases", "actual_purchases", "mae", "relative_error",
        "customers", "days"}`` when data follow the calibration end.

    Raises
    ------
    ClvError
        Unknown dataset, bad arguments, or a model cannot be fitted.
    """
    if store.dataset_name(dataset_id) is None:
        raise ClvError(f"There is no dataset {dataset_id}.")
    result = fit_clv(
        store, Scope(dataset_id), calibration_end, time_unit=time_unit, horizon=horizon, horizon_unit=horizon_unit,
        discount_rate=discount_rate,
    )
    bg, gg, clv = result.bgnbd, result.gamma_gamma, result.frame["clv"]
    report: dict = {
        "time_unit": result.time_unit,
        "customers": result.customers,
        "bgnbd": {
            "r": _num(bg.r_, 6), "alpha": _num(bg.alpha_, 6), "a": _num(bg.a_, 6), "b": _num(bg.b_, 6),
            "log_likelihood": _num(bg.log_likelihood_, 3),
        },
        "gamma_gamma": {"p": _num(gg.p_, 6), "q": _num(gg.q_, 6), "v": _num(gg.v_, 6)},
        "clv": {
            "mean": _num(clv.mean(), 2), "median": _num(clv.median(), 2), "total": _num(clv.sum(), 2),
            "horizon": result.horizon, "horizon_unit": result.horizon_unit, "discount_rate": result.discount_rate,
        },
    }
    h = result.holdout
    if h is not None:
        report["holdout"] = {
            "predicted_purchases": _num(h.predicted_total, 3), "actual_purchases": h.actual_total,
            "mae": _num(h.mae, 4), "relative_error": _num(h.relative_error, 4), "customers": h.customers,
            "days": h.days,
        }
    return report
