"""Kaplan-Meier: a hand-computed example with ties and censoring, Greenwood by hand, scipy.stats.ecdf as a second
implementation, and invariants (hypothesis)."""

from __future__ import annotations

import warnings

import numpy as np
import numpy.testing as npt
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from crm_core.models.survival import KaplanMeier

DURATIONS = np.array([1, 2, 2, 3, 4, 4, 5, 6, 7, 8], dtype=float)
OBSERVED = np.array([1, 1, 0, 1, 1, 0, 0, 1, 0, 1])

# Hand computation (events at t happen before censorings at t, so those censored at t are still at risk at t):
#
#   t   at risk n   events d   censored   S(t) = S(t−) · (1 − d/n)
#   0      10          0          0       1
#   1      10          1          0       1 · 9/10          = 0.9
#   2       9          1          1       0.9 · 8/9         = 0.8
#   3       7          1          0       0.8 · 6/7         = 0.685714...  (= 24/35)
#   4       6          1          1       24/35 · 5/6       = 0.571428...  (= 4/7)
#   5       4          0          1       4/7
#   6       3          1          0       4/7 · 2/3         = 0.380952...  (= 8/21)
#   7       2          0          1       8/21
#   8       1          1          0       0
#
# Median: first t with S(t) <= 0.5 → 6.
HAND = {
    "time": [0, 1, 2, 3, 4, 5, 6, 7, 8],
    "at_risk": [10, 10, 9, 7, 6, 4, 3, 2, 1],
    "events": [0, 1, 1, 1, 1, 0, 1, 0, 1],
    "censored": [0, 0, 1, 0, 1, 1, 0, 1, 0],
    "survival": [1, 0.9, 0.8, 24 / 35, 4 / 7, 4 / 7, 8 / 21, 8 / 21, 0],
}


@pytest.fixture(scope="module")
def km():
    return KaplanMeier().fit(DURATIONS, OBSERVED)


def test_hand_computed_example_with_ties_and_censoring(km):
    frame = km.to_frame()
    assert frame.columns == ["time", "at_risk", "events", "censored", "survival", "lower", "upper"]
    assert frame.schema["at_risk"] == pl.Int64
    npt.assert_array_equal(frame["time"].to_numpy(), HAND["time"])
    npt.assert_array_equal(frame["at_risk"].to_numpy(), HAND["at_risk"])
    npt.assert_array_equal(frame["events"].to_numpy(), HAND["events"])
    npt.assert_array_equal(frame["censored"].to_numpy(), HAND["censored"])
    npt.assert_allclose(frame["survival"].to_numpy(), HAND["survival"], rtol=1e-12, atol=1e-15)
    assert km.median_ == 6.0
    assert km.summary == {"customers": 10, "events": 6, "censored": 4, "median": 6.0}


def test_greenwood_variance_by_hand_at_t4(km):
    # Greenwood (1926): Var S(4) = S(4)² · Σ_{t_j <= 4} d_j / (n_j (n_j − d_j))
    #   Σ = 1/(10·9) + 1/(9·8) + 1/(7·6) + 1/(6·5) = (28 + 35 + 60 + 84) / 2520 = 207/2520
    #   S(4)² = (4/7)² = 16/49  →  Var = 16/49 · 207/2520 = 0.0268221...
    i = HAND["time"].index(4)
    assert km.variance_[i] == pytest.approx(16 / 49 * 207 / 2520, rel=1e-12)
    # log(−log) band at t = 4: σ = sqrt(207/2520) / |ln(4/7)|, z = 1.959964
    sigma = np.sqrt(207 / 2520) / abs(np.log(4 / 7))
    z = 1.959963984540054
    assert km.lower_[i] == pytest.approx((4 / 7) ** np.exp(z * sigma), rel=1e-12)
    assert km.upper_[i] == pytest.approx((4 / 7) ** np.exp(-z * sigma), rel=1e-12)
    assert km.lower_[i] == pytest.approx(0.217193, abs=1e-6)
    assert km.upper_[i] == pytest.approx(0.814572, abs=1e-6)


def test_band_edges(km):
    # S = 1 → band [1, 1]; S = 0 (everyone at risk churned) → log(−log) undefined → NaN, as in R's survival.
    assert km.lower_[0] == km.upper_[0] == 1.0
    assert np.isnan(km.lower_[-1]) and np.isnan(km.upper_[-1])


def _scipy_sf(durations, observed):
    data = stats.CensoredData(uncensored=durations[observed == 1], right=durations[observed == 0])
    result = stats.ecdf(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN bounds where S = 0 or S = 1
        band = result.sf.confidence_interval(0.95, method="log-log")
    return result.sf, band


@pytest.mark.parametrize("seed", [None, 0, 1, 2])
def test_matches_scipy_ecdf_on_censored_data(seed):
    # Another well-known implementation on the same data: scipy.stats.ecdf (Kaplan-Meier for CensoredData) with its
    # "exponential Greenwood" log-log band.
    if seed is None:
        durations, observed = DURATIONS, OBSERVED
    else:
        rng = np.random.default_rng(seed)
        durations = rng.integers(1, 40, 300).astype(float)  # many ties
        observed = (rng.random(300) < 0.6).astype(int)
    km = KaplanMeier().fit(durations, observed)
    sf, band = _scipy_sf(durations, observed)
    npt.assert_allclose(km.predict(sf.quantiles), sf.probabilities, rtol=1e-12, atol=1e-15)
    idx = np.searchsorted(km.timeline_, sf.quantiles)
    inside = (sf.probabilities > 0) & (sf.probabilities < 1)
    npt.assert_allclose(km.lower_[idx][inside], band.low.probabilities[inside], rtol=1e-10)
    npt.assert_allclose(km.upper_[idx][inside], band.high.probabilities[inside], rtol=1e-10)


def test_median_is_inf_when_survival_stays_above_half():
    km = KaplanMeier().fit([1, 2, 3, 4, 5], [1, 0, 0, 0, 0])
    assert km.median_ == float("inf")
    assert km.survival_[-1] == pytest.approx(0.8)


def test_weights_equal_repeated_rows(km):
    durations, counts = np.array([1, 2, 2, 3, 4, 4, 5, 6, 7, 8.0]), np.array([2, 1, 3, 1, 1, 2, 1, 1, 1, 1])
    repeated = KaplanMeier().fit(np.repeat(durations, counts), np.repeat(OBSERVED, counts))
    weighted = KaplanMeier().fit(durations, OBSERVED, weights=counts)
    npt.assert_allclose(weighted.survival_, repeated.survival_, rtol=1e-12)
    npt.assert_allclose(weighted.variance_, repeated.variance_, rtol=1e-12)
    assert weighted.to_frame().equals(repeated.to_frame())


def test_predict_is_a_right_continuous_step_function(km):
    npt.assert_allclose(km.predict([0.0, 0.5, 1.0, 1.99, 2.0, 100.0]), [1, 1, 0.9, 0.9, 0.8, 0.0])


def test_polars_input_and_invalid_input():
    km = KaplanMeier().fit(pl.Series(DURATIONS), pl.Series(OBSERVED))
    assert km.median_ == 6.0
    with pytest.raises(ValueError, match="observed"):
        KaplanMeier().fit([1, 2], [1, 2])
    with pytest.raises(ValueError, match="durations"):
        KaplanMeier().fit([-1, 2], [1, 0])
    with pytest.raises(RuntimeError, match="not fitted"):
        KaplanMeier().to_frame()


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 30), st.booleans(), st.integers(1, 5)), min_size=1, max_size=60)
)
def test_survival_is_monotone_and_in_unit_interval(rows):
    durations = np.array([r[0] for r in rows], dtype=float)
    observed = np.array([int(r[1]) for r in rows])
    weights = np.array([r[2] for r in rows], dtype=float)
    km = KaplanMeier().fit(durations, observed, weights=weights)
    s = km.survival_
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(np.diff(s) <= 1e-15)
    assert np.all(np.diff(km.at_risk_) <= 0)
    assert km.events_.sum() + km.censored_.sum() == pytest.approx(weights.sum())
    ok = ~np.isnan(km.lower_)
    assert np.all(km.lower_[ok] <= s[ok] + 1e-12) and np.all(s[ok] <= km.upper_[ok] + 1e-12)
    assert np.all((km.lower_[ok] >= 0) & (km.upper_[ok] <= 1))
    below = s <= 0.5
    assert km.median_ == (km.timeline_[below][0] if below.any() else float("inf"))
