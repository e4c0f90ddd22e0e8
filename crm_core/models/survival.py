"""Kaplan-Meier estimate of the customer survival (retention) curve, with Greenwood confidence bands.

A customer's duration is the time from acquisition to churn (``observed = 1``) or to the end of observation while
still active (``observed = 0``, right-censored). At each distinct duration t_j with n_j customers at risk
(duration >= t_j) and d_j churn events:

    S(t) = Π_{t_j <= t} (1 − d_j / n_j)                                  Kaplan & Meier (1958), eq. (2)
    Var[S(t)] = S(t)² · Σ_{t_j <= t} d_j / (n_j (n_j − d_j))             Greenwood (1926)

Ties: events at t_j happen before censorings at t_j, so customers censored at t_j are still at risk at t_j (the
usual convention of Kaplan & Meier, lifelines, R's survival and scipy.stats.ecdf).

Confidence band ("exponential Greenwood", log(−log) transform, as lifelines and scipy's ``method="log-log"``): with
    σ²(t) = Σ d_j / (n_j (n_j − d_j)) / (ln S(t))²         (delta-method variance of ln(−ln S(t)))
the 95% band is
    lower = exp(−exp(ln(−ln S) + z σ)) = S^{exp(+zσ)},     upper = exp(−exp(ln(−ln S) − z σ)) = S^{exp(−zσ)}
with z = Φ⁻¹(0.975). Both bounds lie in [0, 1] by construction. Where S = 1 (no event yet) the band is [1, 1]; where
S = 0 the transform is undefined and both bounds are NaN (as in R's survival package).

The median lifetime is the first time at which S(t) <= 0.5 (lifelines' convention); inf if S never gets there.

References
----------
[1] Kaplan, E. L. & Meier, P. (1958). Nonparametric Estimation from Incomplete Observations. JASA 53(282), 457-481.
[2] Greenwood, M. (1926). The Natural Duration of Cancer. Reports on Public Health and Medical Subjects 33.
[3] Sawyer, S. (2003). The Greenwood and Exponential Greenwood Confidence Intervals in Survival Analysis.
    https://www.math.wustl.edu/~sawyer/handouts/greenwood.pdf
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import ArrayLike
from scipy import special

__all__ = ["KaplanMeier"]


class KaplanMeier:
    """Kaplan-Meier survival curve (scikit-learn style: ``fit(...) -> self``, fitted attributes end in ``_``).

    Parameters
    ----------
    confidence_level : float, default 0.95
        Coverage of the pointwise log(−log) Greenwood band.

    Attributes (after ``fit``), one entry per time on ``timeline_``
    --------------------------------------------------------------
    timeline_ : 0 followed by the distinct durations (0 is added when no duration is 0)
    survival_ : S(t) just after t (right-continuous step function)
    variance_ : Greenwood variance of S(t) (0 where S(t) = 0)
    lower_, upper_ : confidence band (see the module docstring)
    at_risk_, events_, censored_ : n_j, d_j and censorings at each time (weighted counts)
    median_ : first time with S(t) <= 0.5, or inf
    n_customers_, n_events_ : totals (sum of weights)
    """

    def __init__(self, confidence_level: float = 0.95):
        if not 0 < confidence_level < 1:
            raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level!r}")
        self.confidence_level = float(confidence_level)

    def fit(self, durations: ArrayLike, observed: ArrayLike, weights: ArrayLike | None = None) -> KaplanMeier:
        """durations >= 0; observed = 1 (churned) / 0 (right-censored, still active); weights = customers per row."""
        t = _as_1d(durations, "durations")
        e = _as_1d(observed, "observed")
        if t.shape != e.shape:
            raise ValueError(f"durations and observed must have the same length, got {t.shape[0]} and {e.shape[0]}")
        if np.any(~np.isfinite(t) | (t < 0)):
            raise ValueError(f"durations must be finite and >= 0 ({int((~np.isfinite(t) | (t < 0)).sum())} rows "
                             "are not)")
        if np.any((e != 0) & (e != 1)):
            raise ValueError("observed must be 1 (churned) or 0 (censored / still active)")
        if weights is None:
            w = np.ones_like(t)
        else:
            w = _as_1d(weights, "weights")
            if w.shape != t.shape:
                raise ValueError(f"weights has {w.shape[0]} rows but durations has {t.shape[0]}")
            if np.any(~np.isfinite(w) | (w < 0)):
                raise ValueError("weights must be finite and >= 0")
        keep = w > 0
        t, e, w = t[keep], e[keep], w[keep]
        if t.shape[0] == 0:
            raise ValueError("no customers to fit (empty input or all weights 0)")

        times, inv = np.unique(t, return_inverse=True)
        removed = np.bincount(inv, weights=w, minlength=len(times))
        events = np.bincount(inv, weights=w * e, minlength=len(times))
        if times[0] > 0:  # start the curve at S(0) = 1
            times = np.concatenate([[0.0], times])
            removed = np.concatenate([[0.0], removed])
            events = np.concatenate([[0.0], events])
        total = float(w.sum())
        # n_j = customers with duration >= t_j = total − removed strictly before t_j
        at_risk = total - np.concatenate([[0.0], np.cumsum(removed)[:-1]])
        at_risk = np.maximum(at_risk, removed)  # guard against float round-off in the cumulative sum
        censored = removed - events

        # Kaplan & Meier (1958): S(t) = Π (1 − d_j/n_j)
        survival = np.cumprod(1.0 - events / at_risk)
        survival = np.clip(survival, 0.0, 1.0)
        # Greenwood (1926): Σ d_j / (n_j (n_j − d_j)); infinite once everybody at risk has churned (S = 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(events > 0, events / (at_risk * (at_risk - events)), 0.0)
        greenwood = np.cumsum(terms)
        with np.errstate(invalid="ignore"):
            variance = np.where(survival > 0, survival**2 * greenwood, 0.0)

        # log(−log) band (Sawyer 2003, exponential Greenwood)
        z = special.ndtri(0.5 + self.confidence_level / 2.0)
        lower = np.full_like(survival, np.nan)
        upper = np.full_like(survival, np.nan)
        one = survival >= 1.0
        lower[one] = upper[one] = 1.0
        mid = (survival > 0.0) & ~one
        log_s = np.log(survival[mid])
        sigma = np.sqrt(greenwood[mid]) / np.abs(log_s)
        lnl = np.log(-log_s)
        lower[mid] = np.exp(-np.exp(lnl + z * sigma))
        upper[mid] = np.exp(-np.exp(lnl - z * sigma))

        whole = bool(np.all(w == np.round(w)))
        self._count_dtype = pl.Int64 if whole else pl.Float64
        self.timeline_ = times
        self.survival_ = survival
        self.variance_ = variance
        self.lower_ = lower
        self.upper_ = upper
        self.at_risk_ = at_risk
        self.events_ = events
        self.censored_ = censored
        below = np.flatnonzero(survival <= 0.5)
        self.median_ = float(times[below[0]]) if below.size else float("inf")
        self.n_customers_ = int(round(total)) if whole else total
        n_events = float(events.sum())
        self.n_events_ = int(round(n_events)) if whole else n_events
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "survival_"):
            raise RuntimeError("KaplanMeier is not fitted: call fit(durations, observed) first")

    def predict(self, times: ArrayLike) -> np.ndarray:
        """S(t) at arbitrary times (step function, right-continuous; 1 before the first event time)."""
        self._check_fitted()
        t = np.asarray(times.to_numpy() if hasattr(times, "to_numpy") else times, dtype=np.float64)
        idx = np.searchsorted(self.timeline_, t, side="right") - 1
        return np.where(idx >= 0, self.survival_[np.maximum(idx, 0)], 1.0)

    @property
    def summary(self) -> dict[str, float | int]:
        """{"customers", "events", "censored", "median"}."""
        self._check_fitted()
        return {"customers": self.n_customers_, "events": self.n_events_,
                "censored": self.n_customers_ - self.n_events_, "median": self.median_}

    def to_frame(self) -> pl.DataFrame:
        """One row per timeline point: time, at_risk, events, censored, survival, lower, upper."""
        self._check_fitted()
        counts = self._count_dtype

        def count(a):
            return np.round(a).astype(np.int64) if counts == pl.Int64 else a

        return pl.DataFrame(
            {
                "time": self.timeline_,
                "at_risk": count(self.at_risk_),
                "events": count(self.events_),
                "censored": count(self.censored_),
                "survival": self.survival_,
                "lower": self.lower_,
                "upper": self.upper_,
            },
            schema={"time": pl.Float64, "at_risk": counts, "events": counts, "censored": counts,
                    "survival": pl.Float64, "lower": pl.Float64, "upper": pl.Float64},
        )

    def __repr__(self) -> str:
        if not hasattr(self, "survival_"):
            return "KaplanMeier()"
        return f"KaplanMeier(customers={self.n_customers_}, events={self.n_events_}, median={self.median_})"


def _as_1d(values, name: str) -> np.ndarray:
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr
