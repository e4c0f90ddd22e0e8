"""BG/NBD: golden values from Fader, Hardie & Lee (2005) on the CDNOW sample, plus invariants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.testing as npt
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_core.models.bgnbd import (
    BetaGeoModel,
    ConvergenceError,
    _loglik_and_grad,
    _prepare,
    compress_rows,
)

CDNOW = Path(__file__).resolve().parents[2] / "fixtures" / "cdnow"

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", section 5 (CDNOW, 39-week calibration, weeks)
PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PAPER_LL = -9582.4


@pytest.fixture(scope="module")
def cdnow():
    df = pl.read_csv(CDNOW / "cdnow_customers_summary.csv")
    return df["frequency"].to_numpy(), df["recency"].to_numpy(), df["T"].to_numpy()


@pytest.fixture(scope="module")
def fitted(cdnow):
    return BetaGeoModel().fit(*cdnow)


def test_params_out_is_close_to_Hardie_paper(fitted):
    # Source: Fader, Hardie & Lee (2005), section 5: r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL = −9582.4
    for name, published in PAPER.items():
        assert getattr(fitted, f"{name}_") == pytest.approx(published, rel=0.005), name
    assert fitted.log_likelihood_ == pytest.approx(PAPER_LL, rel=0.005)
    assert fitted.converged_ is True
    assert fitted.n_customers_ == 2357
    assert fitted.summary == {
        "r": fitted.r_, "alpha": fitted.alpha_, "a": fitted.a_, "b": fitted.b_,
        "log_likelihood": fitted.log_likelihood_, "customers": 2357,
    }


def test_log_likelihood_at_published_params_matches_paper(cdnow):
    # Source: same paper; the LL at the (rounded) published estimates is −9582.4 to one decimal
    model = BetaGeoModel.from_params(**PAPER)
    assert model.log_likelihood(*cdnow) == pytest.approx(PAPER_LL, abs=0.1)


def test_fit_on_compressed_rows_equals_fit_on_customers(cdnow, fitted):
    x, tx, T = cdnow
    unique, counts = np.unique(np.column_stack([x, tx, T]), axis=0, return_counts=True)
    assert len(unique) < len(x)  # the CDNOW summary has 1,016 distinct (x, t_x, T) rows for 2,357 customers
    compressed = BetaGeoModel().fit(unique[:, 0], unique[:, 1], unique[:, 2], weights=counts)
    for name in ("r_", "alpha_", "a_", "b_", "log_likelihood_"):
        assert getattr(compressed, name) == pytest.approx(getattr(fitted, name), rel=1e-10), name
    assert compressed.n_customers_ == fitted.n_customers_ == 2357
    assert compressed.n_unique_ == fitted.n_unique_ == len(unique)


def test_compress_rows_matches_np_unique_axis0():
    rng = np.random.default_rng(3)
    cols = [rng.integers(0, 4, 500).astype(float), rng.integers(0, 5, 500) / 7, rng.integers(1, 6, 500) / 7]
    w = rng.integers(0, 3, 500).astype(float)
    (ux, ut, uT), uw = compress_rows(cols, w)
    keep = w > 0
    stacked = np.column_stack([c[keep] for c in cols])
    ref, inverse = np.unique(stacked, axis=0, return_inverse=True)
    npt.assert_array_equal(np.column_stack([ux, ut, uT]), ref)
    npt.assert_allclose(uw, np.bincount(inverse.ravel(), weights=w[keep]))


def test_time_unit_changes_only_alpha_and_a_constant_in_the_likelihood(cdnow, fitted):
    # Days instead of weeks: α scales by 7, (r, a, b) unchanged; LL shifts by −Σx·ln 7 (Jacobian of t_x).
    x, tx, T = cdnow
    days = BetaGeoModel().fit(x, tx * 7, T * 7)
    assert days.alpha_ == pytest.approx(fitted.alpha_ * 7, rel=1e-5)
    for name in ("r_", "a_", "b_"):
        assert getattr(days, name) == pytest.approx(getattr(fitted, name), rel=1e-5)
    assert days.log_likelihood_ == pytest.approx(fitted.log_likelihood_ - x.sum() * np.log(7), rel=1e-8)


def test_polars_series_input(cdnow, fitted):
    x, tx, T = (pl.Series(a) for a in cdnow)
    model = BetaGeoModel().fit(x, tx, T)
    assert model.r_ == pytest.approx(fitted.r_, rel=1e-10)
    assert model.probability_alive(x, tx, T).shape == (2357,)


def test_conditional_expected_purchases_paper_example():
    # Source: Fader, Hardie & Lee (2005), p. 279: a customer with x = 2, t_x = 30.43, T = 38.86 (weeks) is expected
    # to make 1.226 purchases in the next 39 weeks, at the published parameters.
    model = BetaGeoModel.from_params(**PAPER)
    out = model.conditional_expected_purchases(39, [2], [30.43], [38.86])
    assert out.shape == (1,)
    assert out[0] == pytest.approx(1.226, abs=5e-4)


def test_expected_purchases_matches_simulation():
    # Independent check of Eq. (9): simulate the BG/NBD story for 400k new customers over t = 39 weeks.
    # Given N(t) ~ Poisson(λt) purchases while alive and K ~ Geometric(p) purchases until drop-out, X(t) = min(N, K).
    rng = np.random.default_rng(2005)
    n, t = 400_000, 39.0
    lam = rng.gamma(PAPER["r"], 1.0 / PAPER["alpha"], n)
    p = rng.beta(PAPER["a"], PAPER["b"], n)
    x = np.minimum(rng.poisson(lam * t), rng.geometric(p))
    model = BetaGeoModel.from_params(**PAPER)
    expected = model.expected_purchases(t)
    assert expected == pytest.approx(x.mean(), rel=0.02)
    npt.assert_array_equal(model.expected_purchases([0.0]), [0.0])


def test_conditional_expectation_of_a_newcomer_is_eq_9():
    # Eq. (10) with x = 0, t_x = 0 and T → 0 reduces to Eq. (9).
    model = BetaGeoModel.from_params(**PAPER)
    t = np.array([1.0, 13.0, 39.0, 78.0])
    npt.assert_allclose(model.conditional_expected_purchases(t, np.zeros(4), np.zeros(4), np.full(4, 1e-9)),
                        model.expected_purchases(t), rtol=1e-6)


def test_far_horizon_uses_euler_transform_consistently():
    # For large x and t the direct ₂F₁ overflows; the Euler-transformed form must agree with an mpmath evaluation.
    mpmath = pytest.importorskip("mpmath")
    r, alpha, a, b = PAPER.values()
    model = BetaGeoModel.from_params(r, alpha, a, b)
    x, T, t = 2000.0, 38.86, 1e5
    z = mpmath.mpf(t) / (alpha + T + t)
    term = (1 - z) ** (r + x) * mpmath.hyp2f1(r + x, b + x, a + b + x - 1, z)
    reference = float((a + b + x - 1) / (a - 1) * (1 - term))  # customer is alive (t_x = T) → denominator 1 + ~0
    reference /= 1 + a / (b + x - 1)
    out = model.conditional_expected_purchases(t, [x], [T], [T])
    assert np.isfinite(out[0])
    assert out[0] == pytest.approx(reference, rel=1e-8)


def test_gradient_matches_finite_differences(cdnow):
    x, tx, T = cdnow
    d = _prepare(x.astype(float), tx, T, np.ones(len(x)))
    point = np.array([0.3, 5.0, 0.8, 2.5])
    analytic = _loglik_and_grad(point, d)[1]
    numeric = _central_difference(point, lambda q: _loglik_and_grad(q, d, with_grad=False)[0])
    npt.assert_allclose(analytic, numeric, rtol=1e-6)


def test_penalizer_shrinks_parameters(cdnow, fitted):
    penalized = BetaGeoModel(penalizer=0.1).fit(*cdnow)
    norm = lambda m: m.r_**2 + m.alpha_**2 + m.a_**2 + m.b_**2  # noqa: E731
    assert norm(penalized) < norm(fitted)
    assert penalized.log_likelihood_ < fitted.log_likelihood_


# ---- P(alive) ----------------------------------------------------------------------------------------------------
def test_probability_alive_paper_customer():
    # Eq. (2) of Fader, Hardie & Lee (2008), hand computation for x = 2, t_x = 30.43, T = 38.86:
    # odds = a/(b+x−1) · ((α+T)/(α+t_x))^(r+x) = 0.793/3.426 · (43.274/34.844)^2.243
    r, alpha, a, b = PAPER.values()
    odds = a / (b + 1) * ((alpha + 38.86) / (alpha + 30.43)) ** (r + 2)
    model = BetaGeoModel.from_params(**PAPER)
    assert model.probability_alive([2], [30.43], [38.86])[0] == pytest.approx(1 / (1 + odds), rel=1e-12)
    assert model.probability_alive([2], [30.43], [38.86])[0] == pytest.approx(0.7266, abs=1e-4)


params = st.tuples(
    st.floats(0.05, 5.0), st.floats(0.05, 50.0), st.floats(0.05, 5.0), st.floats(0.05, 10.0)
)


@settings(max_examples=200, deadline=None)
@given(params=params, x=st.integers(0, 50), T=st.floats(0.1, 100.0), share=st.floats(0.0, 1.0),
       extra=st.floats(0.0, 100.0))
def test_probability_alive_properties(params, x, T, share, extra):
    model = BetaGeoModel.from_params(*params)
    tx = 0.0 if x == 0 else share * T
    p = model.probability_alive([x], [tx], [T])[0]
    assert 0.0 < p <= 1.0
    if x == 0:
        assert p == 1.0
    p_later = model.probability_alive([x], [tx], [T + extra])[0]
    assert p_later <= p  # the longer the silence since t_x, the less likely the customer is alive


# ---- degenerate data and invalid input -------------------------------------------------------------------------
def test_no_repeat_purchases_raises_convergence_error():
    with pytest.raises(ConvergenceError, match="no customer made a repeat purchase") as info:
        BetaGeoModel().fit([0, 0, 0, 0], [0, 0, 0, 0], [10, 20, 30, 40])
    assert "calibration period" in str(info.value)
    assert isinstance(info.value, RuntimeError)


def test_unidentified_parameters_raise_convergence_error_with_advice():
    # Everybody bought again right at the end of the window: no sign of drop-out → the likelihood keeps rising as
    # a or b runs off; the fit must say so instead of returning nonsense.
    x = np.array([1, 2, 3, 1, 2, 3] * 5)
    T = np.full(30, 20.0)
    with pytest.raises(ConvergenceError) as info:
        BetaGeoModel().fit(x, T, T)
    message = str(info.value)
    assert "BG/NBD fit did not converge" in message
    assert "ran off" in message and "penalizer" in message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 6), st.floats(0.0, 1.0), st.floats(0.5, 60.0)), min_size=1, max_size=6
    )
)
def test_tiny_data_converges_or_raises_convergence_error(rows):
    x = np.array([r[0] for r in rows], dtype=float)
    T = np.array([r[2] for r in rows])
    tx = np.where(x > 0, np.array([r[1] for r in rows]) * T, 0.0)
    try:
        model = BetaGeoModel().fit(x, tx, T)
    except ConvergenceError as exc:
        assert "did not converge" in str(exc)
    else:
        assert model.converged_
        values = np.array([model.r_, model.alpha_, model.a_, model.b_, model.log_likelihood_])
        assert np.all(np.isfinite(values)) and np.all(values[:4] > 0)


@pytest.mark.parametrize(
    ("x", "tx", "T", "match"),
    [
        ([1, -1], [1, 0], [2, 2], "whole number"),
        ([1.5, 1], [1, 1], [2, 2], "whole number"),
        ([1, 1], [3, 1], [2, 2], "recency must be <= T"),
        ([1, 1], [1, 1], [0, 2], "T must be > 0"),
        ([1, np.nan], [1, 1], [2, 2], "non-finite"),
        ([1, 1], [1], [2, 2], "same length"),
    ],
)
def test_invalid_input_raises_value_error(x, tx, T, match):
    with pytest.raises(ValueError, match=match):
        BetaGeoModel().fit(x, tx, T)


def test_unfitted_model_says_what_to_do():
    with pytest.raises(RuntimeError, match="not fitted"):
        BetaGeoModel().probability_alive([1], [1], [2])


def _central_difference(point, f, rel_step=1e-5):
    grad = np.empty_like(point)
    for i in range(len(point)):
        h = rel_step * point[i]
        up, down = point.copy(), point.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    return grad
