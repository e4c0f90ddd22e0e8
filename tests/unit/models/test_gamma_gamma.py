"""Gamma-Gamma: golden values from Hardie's note on the CDNOW calibration period, CLV definition checks."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import numpy.testing as npt
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_core.models.bgnbd import TIME_UNIT_DAYS, BetaGeoModel, ConvergenceError
from crm_core.models.gamma_gamma import GammaGammaModel, _loglik_and_grad

CDNOW = Path(__file__).resolve().parents[2] / "fixtures" / "cdnow"

# Hardie, "The Gamma-Gamma Model of Monetary Value" (2013), CDNOW calibration period: p = 6.25, q = 3.74, γ = 15.44
PAPER = {"p": 6.25, "q": 3.74, "v": 15.44}
BGNBD_PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # Fader, Hardie & Lee (2005)


@pytest.fixture(scope="module")
def calibration() -> pl.DataFrame:
    """Per-customer (x, t_x, T, z̄) built from the raw CDNOW transactions exactly as tests/fixtures/cdnow/README.txt
    describes: keep date <= 1997-09-30, sum same-customer same-day rows into one transaction, x = purchase days − 1,
    z̄ = mean of the day-level amounts excluding the first day (null when x = 0)."""
    raw = np.loadtxt(CDNOW / "CDNOW_sample.txt")  # master_id, sample_id, yyyymmdd, cds, dollars
    tx = pl.DataFrame({"customer": raw[:, 1].astype(np.int64), "date": raw[:, 2].astype(np.int64).astype(str),
                       "amount": raw[:, 4]})
    tx = tx.with_columns(pl.col("date").str.to_date("%Y%m%d"))
    end = date(1997, 9, 30)
    days = (tx.filter(pl.col("date") <= end)
            .group_by("customer", "date").agg(pl.col("amount").sum())
            .sort("customer", "date"))
    return (
        days.group_by("customer")
        .agg(
            x=pl.len() - 1,
            first=pl.col("date").first(),
            last=pl.col("date").last(),
            zbar=pl.col("amount").slice(1).mean(),
        )
        .with_columns(
            t_x=((pl.col("last") - pl.col("first")).dt.total_days() / 7).round(2),
            T=((pl.lit(end) - pl.col("first")).dt.total_days() / 7).round(2),
        )
        .sort("customer")
    )


@pytest.fixture(scope="module")
def fitted(calibration):
    return GammaGammaModel().fit(calibration["x"], calibration["zbar"])


def test_calibration_summary_matches_the_shipped_summary(calibration):
    # The README's recipe reproduces cdnow_customers_summary.csv for all 2,357 customers.
    summary = pl.read_csv(CDNOW / "cdnow_customers_summary.csv")
    assert calibration.height == summary.height == 2357
    npt.assert_array_equal(calibration["x"].to_numpy(), summary["frequency"].to_numpy())
    npt.assert_allclose(calibration["t_x"].to_numpy(), summary["recency"].to_numpy(), atol=1e-9)
    npt.assert_allclose(calibration["T"].to_numpy(), summary["T"].to_numpy(), atol=1e-9)


def test_params_out_is_close_to_Hardie_paper(fitted):
    # Source: Hardie (2013), "The Gamma-Gamma Model of Monetary Value": p = 6.25, q = 3.74, γ = 15.44
    for name, published in PAPER.items():
        assert getattr(fitted, f"{name}_") == pytest.approx(published, rel=0.005), name
    assert fitted.converged_ is True


def test_customers_used_and_excluded(fitted):
    # Source: the note fits the 946 CDNOW customers with at least one repeat purchase in the calibration period.
    assert fitted.n_customers_ == 946
    assert fitted.excluded_ == 2357 - 946
    assert fitted.summary == {"p": fitted.p_, "q": fitted.q_, "v": fitted.v_,
                              "log_likelihood": fitted.log_likelihood_, "customers": 946, "excluded": 1411}


def test_non_positive_spend_is_excluded_and_counted_not_a_crash(calibration, fitted):
    x = np.concatenate([calibration["x"].to_numpy(), [3, 2, 1, 4]])
    zbar = np.concatenate([calibration["zbar"].to_numpy(), [0.0, -5.0, np.nan, np.inf]])
    model = GammaGammaModel().fit(x, zbar)
    assert model.n_customers_ == 946
    assert model.excluded_ == fitted.excluded_ + 4
    for name in ("p_", "q_", "v_", "log_likelihood_"):
        assert getattr(model, name) == pytest.approx(getattr(fitted, name), rel=1e-12)


def test_weights_equal_repeated_rows(calibration, fitted):
    x = calibration["x"].to_numpy()
    zbar = calibration["zbar"].to_numpy()
    doubled = GammaGammaModel().fit(np.concatenate([x, x]), np.concatenate([zbar, zbar]))
    weighted = GammaGammaModel().fit(x, zbar, weights=np.full(len(x), 2))
    assert weighted.n_customers_ == doubled.n_customers_ == 2 * 946
    assert weighted.excluded_ == 2 * 1411
    for name in ("p_", "q_", "v_"):
        assert getattr(weighted, name) == pytest.approx(getattr(doubled, name), rel=1e-10)
        assert getattr(weighted, name) == pytest.approx(getattr(fitted, name), rel=1e-6)


def test_currency_changes_only_v(calibration, fitted):
    # γ is a scale parameter: spend in cents → γ × 100, p and q unchanged.
    cents = GammaGammaModel().fit(calibration["x"], calibration["zbar"] * 100)
    assert cents.v_ == pytest.approx(fitted.v_ * 100, rel=1e-6)
    assert cents.p_ == pytest.approx(fitted.p_, rel=1e-6)
    assert cents.q_ == pytest.approx(fitted.q_, rel=1e-6)


def test_gradient_matches_finite_differences(calibration):
    use = calibration.filter(pl.col("x") > 0)
    x = use["x"].to_numpy().astype(float)
    m = use["zbar"].to_numpy()
    ux, inv = np.unique(x, return_inverse=True)
    wx = np.bincount(inv).astype(float)
    w = np.ones_like(x)
    args = (ux, wx, x * m, np.log(m), w, w * x)
    point = np.array([6.0, 3.5, 15.0])
    analytic = _loglik_and_grad(point, *args)[1]
    numeric = _central_difference(point, lambda q: _loglik_and_grad(q, *args, with_grad=False)[0])
    npt.assert_allclose(analytic, numeric, rtol=1e-6)


# ---- conditional expected spend --------------------------------------------------------------------------------
def test_conditional_expected_average_profit_eq_5():
    # Hand computation, Eq. (5) of Hardie (2013) at the published parameters, x = 2, z̄ = 30:
    # p(γ + x z̄)/(px + q − 1) = 6.25 · (15.44 + 60) / (12.5 + 2.74) = 471.5 / 15.24 = 30.93832...
    model = GammaGammaModel.from_params(**PAPER)
    out = model.conditional_expected_average_profit([2, 0, 3, 1], [30.0, np.nan, 0.0, -4.0])
    assert out[0] == pytest.approx(471.5 / 15.24, rel=1e-12)
    # population mean pγ/(q−1) = 6.25 · 15.44 / 2.74 = 35.2189...; used for x = 0 and unusable spend
    population = 6.25 * 15.44 / 2.74
    assert model.population_mean_spend == pytest.approx(population, rel=1e-12)
    npt.assert_allclose(out[1:], population, rtol=1e-12)


@settings(max_examples=100, deadline=None)
@given(x=st.integers(1, 100), zbar=st.floats(0.01, 1e5))
def test_conditional_spend_lies_between_population_mean_and_own_mean(x, zbar):
    # Eq. (5) is a weighted average of pγ/(q−1) and z̄ (Hardie 2013, section 3).
    model = GammaGammaModel.from_params(**PAPER)
    out = model.conditional_expected_average_profit([x], [zbar])[0]
    lo, hi = sorted([model.population_mean_spend, zbar])
    assert lo * (1 - 1e-12) <= out <= hi * (1 + 1e-12)


# ---- CLV -------------------------------------------------------------------------------------------------------
def _clv_inputs():
    return np.array([0, 2, 5, 1]), np.array([0.0, 30.43, 20.0, 38.0]), np.full(4, 38.86), np.array(
        [np.nan, 30.0, 55.0, 12.5])


def test_clv_equals_the_documented_sum():
    # CLV = Σ_{k=1..12} E[Z|z̄,x] · (E[Y(k·s)] − E[Y((k−1)·s)]) / (1+d)^k with s = 30.4375/7 weeks, d = 1% a month
    bg = BetaGeoModel.from_params(**BGNBD_PAPER)
    gg = GammaGammaModel.from_params(**PAPER)
    x, tx, T, m = _clv_inputs()
    s = 30.4375 / 7
    spend = gg.conditional_expected_average_profit(x, m)
    expected = np.zeros(4)
    for k in range(1, 13):
        step = (bg.conditional_expected_purchases(k * s, x, tx, T)
                - bg.conditional_expected_purchases((k - 1) * s, x, tx, T))
        expected += spend * step / 1.01**k
    clv = gg.customer_lifetime_value(bg, x, tx, T, m, horizon=12, time_unit_days=TIME_UNIT_DAYS["week"],
                                     discount_rate=0.01)
    npt.assert_allclose(clv, expected, rtol=1e-12)
    assert np.all(clv > 0)


def test_clv_without_discount_is_spend_times_expected_purchases():
    bg = BetaGeoModel.from_params(**BGNBD_PAPER)
    gg = GammaGammaModel.from_params(**PAPER)
    x, tx, T, m = _clv_inputs()
    clv = gg.customer_lifetime_value(bg, x, tx, T, m, horizon=6, time_unit_days=7.0, discount_rate=0.0,
                                     step_days=30.4375)
    total = bg.conditional_expected_purchases(6 * 30.4375 / 7, x, tx, T)
    npt.assert_allclose(clv, gg.conditional_expected_average_profit(x, m) * total, rtol=1e-10)
    npt.assert_array_equal(gg.customer_lifetime_value(bg, x, tx, T, m, horizon=0), np.zeros(4))


def test_clv_returns_the_expected_purchases_over_the_horizon():
    # return_expected: the sum's last cumulative term, E[Y(12 months) | x, t_x, T] of FHL (2005) eq. (10).
    bg = BetaGeoModel.from_params(**BGNBD_PAPER)
    gg = GammaGammaModel.from_params(**PAPER)
    x, tx, T, m = _clv_inputs()
    clv, expected = gg.customer_lifetime_value(bg, x, tx, T, m, horizon=12, time_unit_days=7.0, return_expected=True)
    npt.assert_array_equal(clv, gg.customer_lifetime_value(bg, x, tx, T, m, horizon=12, time_unit_days=7.0))
    npt.assert_allclose(expected, bg.conditional_expected_purchases(12 * 30.4375 / 7, x, tx, T), rtol=1e-12)
    _, none = gg.customer_lifetime_value(bg, x, tx, T, m, horizon=0, return_expected=True)
    npt.assert_array_equal(none, np.zeros(4))


def test_clv_in_two_threads_is_the_one_thread_result(monkeypatch):
    # Above _THREADED_ROWS distinct histories the steps run in two threads, each on half the rows: every value
    # comes from its own row, so the doubles are those of one pass.
    from crm_core.models import gamma_gamma

    rng = np.random.default_rng(7)
    n = 3_001
    x = rng.integers(0, 15, n).astype(float)
    T = rng.uniform(1, 80, n)
    tx = np.where(x > 0, T * rng.uniform(0, 1, n), 0.0)
    m = rng.gamma(3, 20, n)
    bg = BetaGeoModel.from_params(**BGNBD_PAPER)
    gg = GammaGammaModel.from_params(**PAPER)
    monkeypatch.setattr(gamma_gamma, "_THREADED_ROWS", 10**9)
    one = gg.customer_lifetime_value(bg, x, tx, T, m, horizon=12, time_unit_days=7.0, return_expected=True)
    monkeypatch.setattr(gamma_gamma, "_THREADED_ROWS", 100)
    monkeypatch.setattr(gamma_gamma.os, "cpu_count", lambda: 2)
    two = gg.customer_lifetime_value(bg, x, tx, T, m, horizon=12, time_unit_days=7.0, return_expected=True)
    npt.assert_array_equal(two[0], one[0])
    npt.assert_array_equal(two[1], one[1])
    assert np.all(one[0] > 0)


def test_clv_does_not_depend_on_the_model_time_unit():
    # The same BG/NBD expressed in days (α × 7, ages × 7, time_unit_days = 1) must give the same CLV.
    weeks = BetaGeoModel.from_params(**BGNBD_PAPER)
    days = BetaGeoModel.from_params(BGNBD_PAPER["r"], BGNBD_PAPER["alpha"] * 7, BGNBD_PAPER["a"], BGNBD_PAPER["b"])
    gg = GammaGammaModel.from_params(**PAPER)
    x, tx, T, m = _clv_inputs()
    in_weeks = gg.customer_lifetime_value(weeks, x, tx, T, m, horizon=24, time_unit_days=7.0, discount_rate=0.01)
    in_days = gg.customer_lifetime_value(days, x, tx * 7, T * 7, m, horizon=24, time_unit_days=1.0,
                                         discount_rate=0.01)
    npt.assert_allclose(in_days, in_weeks, rtol=1e-9)


def test_clv_grows_with_horizon_and_falls_with_discount():
    bg = BetaGeoModel.from_params(**BGNBD_PAPER)
    gg = GammaGammaModel.from_params(**PAPER)
    x, tx, T, m = _clv_inputs()
    by_horizon = [gg.customer_lifetime_value(bg, x, tx, T, m, horizon=h) for h in (1, 6, 12, 36)]
    assert all(np.all(b > a) for a, b in zip(by_horizon, by_horizon[1:]))
    assert np.all(gg.customer_lifetime_value(bg, x, tx, T, m, discount_rate=0.05) < by_horizon[2])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"horizon": -1}, "horizon"), ({"horizon": 2.5}, "horizon"), ({"time_unit_days": 0}, "time_unit_days"),
     ({"discount_rate": -1.0}, "discount_rate")],
)
def test_clv_rejects_bad_arguments(kwargs, match):
    bg = BetaGeoModel.from_params(**BGNBD_PAPER)
    gg = GammaGammaModel.from_params(**PAPER)
    with pytest.raises(ValueError, match=match):
        gg.customer_lifetime_value(bg, [1], [1.0], [2.0], [10.0], **kwargs)


# ---- degenerate data -------------------------------------------------------------------------------------------
def test_no_usable_customer_raises_convergence_error():
    with pytest.raises(ConvergenceError, match="no customer has a repeat purchase") as info:
        GammaGammaModel().fit([0, 0, 3], [np.nan, 10.0, -2.0])
    assert "calibration period" in str(info.value)


def test_spend_without_variation_raises_convergence_error():
    # Every customer always spends exactly 20: no within-customer variation, p runs off to infinity.
    with pytest.raises(ConvergenceError, match="ran off"):
        GammaGammaModel().fit([1, 2, 3, 4, 5, 6], [20.0] * 6)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 8), st.floats(-10.0, 500.0)), min_size=1, max_size=8))
def test_tiny_data_converges_or_raises_convergence_error(rows):
    x = [r[0] for r in rows]
    m = [r[1] for r in rows]
    try:
        model = GammaGammaModel().fit(x, m)
    except ConvergenceError as exc:
        assert "did not converge" in str(exc)
    else:
        values = np.array([model.p_, model.q_, model.v_, model.log_likelihood_])
        assert model.converged_ and np.all(np.isfinite(values)) and np.all(values[:3] > 0)
        assert model.n_customers_ + model.excluded_ == len(rows)


def test_invalid_frequency_raises_value_error():
    with pytest.raises(ValueError, match="whole number"):
        GammaGammaModel().fit([1, -2], [10.0, 12.0])


def _central_difference(point, f, rel_step=1e-5):
    grad = np.empty_like(point)
    for i in range(len(point)):
        h = rel_step * point[i]
        up, down = point.copy(), point.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    return grad
