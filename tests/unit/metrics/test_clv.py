"""CLV: the CDNOW golden test through the normal import path (issue #3 acceptance), plus invariants.

Sources of the golden values
----------------------------
- BG/NBD on the CDNOW 1/10 sample, 39-week calibration ending 1997-09-30, weeks: r = 0.243, α = 4.414, a = 0.793,
  b = 2.426, LL = −9582.4 (Fader, Hardie & Lee 2005, "Counting your customers the easy way", section 5).
- Gamma-Gamma on the 946 customers with a repeat purchase: p = 6.25, q = 3.74, γ = 15.44 (Hardie, "The Gamma-Gamma
  model of monetary value", brucehardie.com/notes/025).
- The per-customer summary tests/fixtures/cdnow/cdnow_customers_summary.csv (lifetimes 0.11.3 dataset) and the
  holdout count of 1,882 distinct customer-days (tests/fixtures/cdnow/README.txt, verified on the raw file).
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from crm_core.ingest import pipeline
from crm_core.metrics import clv as clv_module
from crm_core.metrics.clv import (
    SUMMARY_COLUMNS,
    ClvError,
    clv_report,
    fit_clv,
    historical_clv,
    rfm_summary,
)
from crm_core.metrics.scope import Scope
from crm_core.models.bgnbd import BetaGeoModel
from crm_core.store import Store, TableLoad

CDNOW = Path(__file__).resolve().parents[2] / "fixtures" / "cdnow"
CALIBRATION_END = date(1997, 9, 30)

PAPER_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PAPER_LL = -9582.4
NOTE_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


def _raw_cdnow() -> pl.DataFrame:
    """CDNOW_sample.txt as published: master_id, sample_id, YYYYMMDD, cds, dollars (whitespace-separated)."""
    rows = [line.split() for line in (CDNOW / "CDNOW_sample.txt").read_text().splitlines() if line.strip()]
    return pl.DataFrame(
        {
            "customer_id": [r[1].lstrip("0") for r in rows],
            "date": [date(int(r[2][:4]), int(r[2][4:6]), int(r[2][6:])) for r in rows],
            "cds": [int(r[3]) for r in rows],
            "amount": [float(r[4]) for r in rows],
        }
    )


def _tx(rows) -> pl.DataFrame:
    """Transactions frame from (customer, 'YYYY-MM-DD[ HH:MM]', amount[, status]) tuples."""
    return pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "occurred_at": [datetime.fromisoformat(r[1]) for r in rows],
            "amount": [float(r[2]) for r in rows],
            "status": [r[3] if len(r) > 3 else "completed" for r in rows],
        }
    )


def _store_with(tmp_path, frame: pl.DataFrame, name: str = "t") -> tuple[Store, Scope]:
    store = Store(tmp_path / f"{name}.duckdb")
    result = store.load(name, [TableLoad("transactions", frame, file_name=f"{name}.csv")])
    return store, Scope(result.dataset_id)


def _cdnow_frame() -> pl.DataFrame:
    raw = _raw_cdnow()
    return raw.select(
        "customer_id", pl.col("date").cast(pl.Datetime("us")).alias("occurred_at"), "amount", status=pl.lit("completed")
    )


# ----------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def prepared():
    return pipeline.prepare_path(CDNOW / "cdnow_transactions.csv")


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory, prepared):
    store = Store(tmp_path_factory.mktemp("clv") / "crm.duckdb")
    result = pipeline.import_prepared(store, "cdnow", prepared)
    yield store, Scope(result.dataset_id)
    store.close()


@pytest.fixture(scope="module")
def summary(cdnow):
    store, scope = cdnow
    return rfm_summary(store, scope, CALIBRATION_END, time_unit="week")


@pytest.fixture(scope="module")
def fitted(cdnow):
    store, scope = cdnow
    return fit_clv(store, scope, CALIBRATION_END, time_unit="week")


# ----------------------------------------------------------------------------------------------------- fixture file
def test_transaction_csv_is_the_published_sample_converted():
    # Source: CDNOW_sample.txt (README: 6,919 rows, 2,357 customers, 1997-01-01..1998-06-30)
    csv = pl.read_csv(CDNOW / "cdnow_transactions.csv", schema_overrides={"customer_id": pl.String})
    assert csv.columns == ["customer_id", "date", "cds", "amount"]
    raw = _raw_cdnow()
    assert csv.height == raw.height == 6919
    assert csv["customer_id"].n_unique() == 2357
    assert csv["date"].str.to_date().to_list() == raw["date"].to_list()
    assert csv["customer_id"].to_list() == raw["customer_id"].to_list()
    assert csv["cds"].to_list() == raw["cds"].to_list()
    assert csv["amount"].to_list() == raw["amount"].to_list()


def test_cdnow_is_detected_as_transactions_and_mapped_without_help(prepared):
    (table,) = prepared
    assert table.table == "transactions"
    assert table.detection.mapping == {"customer_id": "customer_id", "occurred_at": "date", "amount": "amount"}
    assert not table.fatal and not table.errors
    assert table.rows_ok == 6919 and table.rows_rejected == 0


def test_import_lands_every_row(cdnow):
    store, scope = cdnow
    row = store.query(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT customer_id) AS customers, SUM(amount) AS revenue, "
        "MIN(occurred_at)::DATE AS first, MAX(occurred_at)::DATE AS last FROM purchases WHERE dataset_id = ?",
        [scope.dataset_id],
    ).row(0, named=True)
    assert row["n"] == 6919 and row["customers"] == 2357
    assert row["revenue"] == pytest.approx(float(_raw_cdnow()["amount"].sum()))
    assert (row["first"], row["last"]) == (date(1997, 1, 1), date(1998, 6, 30))


# ----------------------------------------------------------------------------------------------------- summary
def test_rfm_summary_equals_published_summary(summary):
    # Source: tests/fixtures/cdnow/cdnow_customers_summary.csv (lifetimes), rounded to 2 decimals
    assert summary.columns == list(SUMMARY_COLUMNS)
    assert summary.height == 2357
    ref = pl.read_csv(CDNOW / "cdnow_customers_summary.csv").with_columns(pl.col("ID").cast(pl.String))
    both = summary.join(ref, left_on="customer_id", right_on="ID", how="inner", suffix="_ref")
    assert both.height == 2357
    assert (both["frequency"] == both["frequency_ref"]).all()
    assert (both["recency"] - both["recency_ref"]).abs().max() <= 0.01
    assert (both["T"] - both["T_ref"]).abs().max() <= 0.01


def test_rfm_summary_first_customer_by_hand(summary):
    # Customer 1: 1997-01-01 $29.33, 1997-01-18 $29.73, 1997-08-02 $14.96 (calibration), 1997-12-12 $26.48 (holdout)
    row = summary.filter(pl.col("customer_id") == "1").row(0, named=True)
    assert row["frequency"] == 2
    assert row["recency"] == pytest.approx(213 / 7)
    assert row["T"] == pytest.approx(272 / 7)
    assert row["monetary_value"] == pytest.approx((29.73 + 14.96) / 2)  # first day left out (Hardie's note)
    assert row["holdout_purchases"] == 1 and row["holdout_value"] == pytest.approx(26.48)


def test_rfm_summary_monetary_value_matches_a_python_reference(summary):
    # Independent check of z̄ = mean of the day-level amounts after the first day (first day excluded), x = 0 → 0.
    raw = _raw_cdnow().filter(pl.col("date") <= CALIBRATION_END)
    days = raw.group_by("customer_id", "date").agg(pl.col("amount").sum()).sort("customer_id", "date")
    ref = days.group_by("customer_id").agg(
        pl.col("amount").slice(1).mean().fill_null(0.0).alias("ref")
    )
    both = summary.join(ref, on="customer_id")
    assert both.height == 2357
    np.testing.assert_allclose(both["monetary_value"].to_numpy(), both["ref"].to_numpy(), rtol=1e-12, atol=1e-9)


def test_rfm_summary_ignores_the_analysis_window(cdnow, summary):
    store, scope = cdnow
    narrowed = rfm_summary(store, scope.with_window(date(1998, 1, 1), date(1998, 2, 1)), CALIBRATION_END)
    exact = ["customer_id", "frequency", "recency", "T", "holdout_purchases"]
    assert narrowed.select(exact).equals(summary.select(exact))
    # sums of doubles may differ in the last bit between runs (DuckDB aggregates in parallel)
    for col in ("monetary_value", "holdout_value"):
        np.testing.assert_allclose(narrowed[col].to_numpy(), summary[col].to_numpy(), rtol=1e-12, atol=1e-9)


# ----------------------------------------------------------------------------------------------------- golden fits
def test_bgnbd_params_out_is_close_to_Hardie_paper(fitted):
    # Source: Fader, Hardie & Lee (2005), section 5: r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL = −9582.4
    for name, published in PAPER_BGNBD.items():
        assert fitted.bgnbd_summary[name] == pytest.approx(published, rel=0.005), name
    assert fitted.bgnbd_summary["log_likelihood"] == pytest.approx(PAPER_LL, rel=0.005)
    assert fitted.customers == 2357


def test_gamma_gamma_params_out_is_close_to_Hardie_note(fitted):
    # Source: Hardie, "The Gamma-Gamma model of monetary value" (notes/025): p = 6.25, q = 3.74, γ = 15.44,
    # fitted on the 946 customers with a repeat purchase
    for name, published in NOTE_GG.items():
        assert fitted.gamma_gamma_summary[name] == pytest.approx(published, rel=0.005), name
    assert fitted.gamma_gamma.n_customers_ == 946
    assert fitted.excluded_spend == 0


def test_per_customer_frame(fitted):
    f = fitted.frame
    assert f.columns == ["customer_id", "frequency", "recency", "T", "monetary_value", "p_alive",
                         "expected_purchases", "expected_avg_spend", "clv"]
    assert f.height == 2357
    assert f.null_count().sum_horizontal().item() == 0
    assert f["p_alive"].is_between(0.0, 1.0).all()
    assert (f["expected_purchases"] >= 0).all() and (f["clv"] >= 0).all()
    # x = 0 customers are alive for sure in the BG/NBD and get the population mean spend pγ/(q−1)
    zero = f.filter(pl.col("frequency") == 0)
    assert (zero["p_alive"] == 1.0).all()
    assert zero["expected_avg_spend"].to_numpy() == pytest.approx(fitted.gamma_gamma.population_mean_spend)


def test_holdout_counts_and_forecast(fitted):
    # Source: README.txt — holdout 1997-10-01..1998-06-30 holds 1,882 distinct customer-days
    h = fitted.holdout
    assert h is not None
    assert (h.start, h.end, h.days) == (date(1997, 10, 1), date(1998, 6, 30), 273)
    assert h.actual_total == 1882
    assert h.customers == 2357
    assert h.frame["actual_purchases"].sum() == 1882
    assert h.frame["predicted_purchases"].sum() == pytest.approx(h.predicted_total)
    # The forecast is the model's, not an artefact of the summary: Eq. (10) of FHL (2005) at the *published*
    # parameters, on the published summary, over 39 weeks, gives the same total (1,653.9).
    ref = pl.read_csv(CDNOW / "cdnow_customers_summary.csv")
    paper = BetaGeoModel.from_params(**PAPER_BGNBD).conditional_expected_purchases(
        39.0, ref["frequency"], ref["recency"], ref["T"]
    ).sum()
    assert h.predicted_total == pytest.approx(paper, rel=0.005)
    assert h.predicted_total == pytest.approx(1653.4, abs=1.0)
    # BG/NBD under-forecasts this holdout by 12.1 % (1,653 predicted vs 1,882 customer-days): within 15 %.
    assert h.relative_error == pytest.approx((h.predicted_total - 1882) / 1882)
    assert abs(h.relative_error) < 0.15
    assert h.mae == pytest.approx(
        float(np.mean(np.abs(h.frame["predicted_purchases"].to_numpy() - h.frame["actual_purchases"].to_numpy())))
    )


def test_clv_report_is_the_cli_json(cdnow, fitted):
    store, scope = cdnow
    report = clv_report(store, scope.dataset_id, CALIBRATION_END, "week", 12, 0.01)
    assert set(report) == {"bgnbd", "gamma_gamma", "customers", "holdout", "clv", "time_unit"}
    assert set(report["bgnbd"]) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(report["gamma_gamma"]) == {"p", "q", "v"}
    assert set(report["holdout"]) == {"predicted_purchases", "actual_purchases", "mae", "relative_error", "customers",
                                      "days"}
    assert set(report["clv"]) == {"mean", "median", "total", "horizon", "horizon_unit", "discount_rate"}
    assert json.loads(json.dumps(report)) == report  # plain JSON types only
    assert report["customers"] == 2357 and report["time_unit"] == "week"
    assert report["bgnbd"]["r"] == pytest.approx(0.243, rel=0.005)
    assert report["holdout"]["actual_purchases"] == 1882 and report["holdout"]["days"] == 273
    assert report["clv"]["total"] == pytest.approx(fitted.frame["clv"].sum(), abs=0.01)
    clv = report["clv"]
    assert (clv["horizon"], clv["horizon_unit"], clv["discount_rate"]) == (12, "month", 0.01)
    # ISO text works too (the CLI passes the argument through)
    assert clv_report(store, scope.dataset_id, "1997-09-30")["bgnbd"] == report["bgnbd"]


def test_no_holdout_when_nothing_follows_the_calibration_end(cdnow):
    store, scope = cdnow
    result = fit_clv(store, scope, date(1998, 6, 30))
    assert result.holdout is None
    assert "holdout" not in clv_report(store, scope.dataset_id, date(1998, 6, 30))


# ----------------------------------------------------------------------------------------------------- invariants
def test_time_unit_changes_scale_not_the_model(cdnow, fitted):
    # Same data in days / months: the BG/NBD is the same model with α in the new unit (α scales with the unit,
    # r, a, b do not), so CLV in money and the holdout forecast do not change.
    store, scope = cdnow
    week = fitted.bgnbd
    for unit, days in (("day", 1.0), ("month", 30.4375)):
        other = fit_clv(store, scope, CALIBRATION_END, time_unit=unit)
        for name in ("r", "a", "b"):
            assert getattr(other.bgnbd, f"{name}_") == pytest.approx(getattr(week, f"{name}_"), rel=1e-4), (unit, name)
        assert other.bgnbd.alpha_ == pytest.approx(week.alpha_ * 7.0 / days, rel=1e-4), unit
        # each repeat purchase contributes a density in time (λ e^(−λt)), which picks up the Jacobian of the unit
        # change: LL(unit) = LL(week) − Σx · ln(7 / days)
        shift = float(fitted.frame["frequency"].sum()) * math.log(7.0 / days)
        assert other.bgnbd.log_likelihood_ == pytest.approx(week.log_likelihood_ - shift, abs=0.05), unit
        np.testing.assert_allclose(other.frame["clv"].to_numpy(), fitted.frame["clv"].to_numpy(), rtol=1e-3)
        assert other.holdout.predicted_total == pytest.approx(fitted.holdout.predicted_total, rel=1e-4)
        assert other.gamma_gamma_summary == fitted.gamma_gamma_summary


def test_same_day_purchases_are_one_purchase(tmp_path):
    frame = _tx([
        ("a", "2024-01-01 09:00", 10), ("a", "2024-01-01 17:30", 5), ("a", "2024-01-08", 20),
        ("a", "2024-01-08 12:00", 4), ("a", "2024-02-01", 30), ("b", "2024-01-10", 7), ("c", "2024-03-01", 9),
        ("a", "2024-01-20", 99, "refunded"), ("b", "2024-01-03", 50, "cancelled"),
    ])
    store, scope = _store_with(tmp_path, frame)
    s = rfm_summary(store, scope, date(2024, 1, 31), time_unit="day")
    assert s["customer_id"].to_list() == ["a", "b"]  # c first bought after the calibration end
    a = s.row(0, named=True)
    assert (a["frequency"], a["recency"], a["T"]) == (1, 7.0, 30.0)
    assert a["monetary_value"] == pytest.approx(24.0)  # 20 + 4 on 2024-01-08; the 2024-01-01 day left out
    assert (a["holdout_purchases"], a["holdout_value"]) == (1, 30.0)
    b = s.row(1, named=True)
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0.0, 21.0, 0.0)
    # observation_end caps the holdout; refunded purchases never count
    assert rfm_summary(store, scope, date(2024, 1, 31), "day", observation_end=date(2024, 1, 31))[
        "holdout_purchases"].sum() == 0


def test_the_calibration_summary_follows_a_channel_filter_and_leaves_its_sql_out_without(tmp_path):
    # Without filters the purchases' filter SQL is left out (planned even for empty lists); with a channel filter
    # only that channel's purchases count: fewer repeat purchases, never more customers.
    store = Store(tmp_path / "sample.duckdb")
    ds = store.load_sample(customers=200).dataset_id
    cal = date(2026, 3, 31)
    every = rfm_summary(store, Scope(ds), cal)
    online = rfm_summary(store, Scope(ds, channels=("Online",)), cal)
    assert "list_contains" not in clv_module._scoped_sql("clv_summary", Scope(ds))
    assert "list_contains" in clv_module._scoped_sql("clv_summary", Scope(ds, channels=("Online",)))
    assert 0 < online.height < every.height and online["frequency"].sum() < every["frequency"].sum()
    assert set(online["customer_id"]) <= set(every["customer_id"])
    store.close()


def test_zero_or_negative_repeat_spend_is_excluded_not_a_crash(tmp_path):
    extra = _tx([
        ("zero", "1997-01-05", 12.0), ("zero", "1997-03-01", 0.0),
        ("neg", "1997-01-06", 15.0), ("neg", "1997-02-01", -8.0),
    ])
    frame = pl.concat([_cdnow_frame(), extra])
    store, scope = _store_with(tmp_path, frame)
    result = fit_clv(store, scope, CALIBRATION_END)
    assert result.excluded_spend == 2
    assert result.gamma_gamma.n_customers_ == 946
    rows = result.frame.filter(pl.col("customer_id").is_in(["zero", "neg"]))
    assert rows.height == 2
    assert rows["expected_avg_spend"].to_numpy() == pytest.approx(result.gamma_gamma.population_mean_spend)
    assert rows["clv"].is_finite().all()


def test_tiny_dataset_raises_a_clear_clv_error(tmp_path):
    frame = _tx([("a", "2024-01-01", 10), ("b", "2024-01-05", 20), ("c", "2024-02-01", 30)])
    store, scope = _store_with(tmp_path, frame)
    with pytest.raises(ClvError, match=r"(?s)BG/NBD.*no customer made a repeat purchase.*Try"):
        fit_clv(store, scope, date(2024, 3, 1))


def test_calibration_end_before_any_purchase_raises_clv_error(cdnow):
    store, scope = cdnow
    with pytest.raises(ClvError, match="later calibration end"):
        fit_clv(store, scope, date(1996, 12, 31))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"time_unit": "year"}, "time_unit must be one of"),
        ({"horizon_unit": "fortnight"}, "horizon_unit must be one of"),
        ({"horizon": -1}, "horizon"),
        ({"discount_rate": -1.5}, "discount_rate"),
        ({"calibration_end": "30/09/1997"}, "YYYY-MM-DD"),
    ],
)
def test_bad_arguments_raise_clv_error(cdnow, kwargs, pattern):
    store, scope = cdnow
    args = {"calibration_end": CALIBRATION_END, **kwargs}
    with pytest.raises(ClvError, match=pattern):
        fit_clv(store, scope, **args)


def test_unknown_dataset_in_report(cdnow):
    store, _ = cdnow
    with pytest.raises(ClvError, match="no dataset"):
        clv_report(store, 999, CALIBRATION_END)


def test_first_purchase_on_the_calibration_end_is_kept(tmp_path):
    # T = 0 adds nothing to the BG/NBD likelihood ((α/(α+0))^r = 1); the customer is still scored.
    frame = pl.concat([_cdnow_frame(), _tx([("late", "1997-09-30", 25.0)])])
    store, scope = _store_with(tmp_path, frame)
    result = fit_clv(store, scope, CALIBRATION_END)
    assert result.customers == 2358
    late = result.frame.filter(pl.col("customer_id") == "late").row(0, named=True)
    assert late["T"] == 0.0 and late["p_alive"] == 1.0
    assert late["expected_purchases"] == pytest.approx(
        float(result.bgnbd.expected_purchases(12 * 30.4375 / 7)), rel=1e-6
    )
    assert result.bgnbd.n_customers_ == 2357


def test_historical_clv_revenue_and_margin(cdnow, tmp_path):
    store, scope = cdnow
    hist = historical_clv(store, scope)
    assert hist.height == 2357
    assert hist["historical_clv"].sum() == pytest.approx(float(_raw_cdnow()["amount"].sum()))
    assert (hist["basis"] == "revenue").all() and hist["margin"].null_count() == 2357
    assert hist["historical_clv"].is_sorted(descending=True)
    # with costs: margin = revenue − cost; a window end caps "to date"
    frame = _tx([("a", "2024-01-01", 100), ("a", "2024-02-01", 50), ("b", "2024-01-15", 80)]).with_columns(
        cost=pl.Series([60.0, None, 30.0])
    )
    s2, sc2 = _store_with(tmp_path, frame, "m")
    h2 = {r["customer_id"]: r for r in historical_clv(s2, sc2).to_dicts()}
    assert h2["a"]["revenue"] == 150 and h2["a"]["margin"] == 90 and h2["a"]["basis"] == "margin"
    assert h2["b"]["historical_clv"] == 50
    capped = historical_clv(s2, sc2.with_window(None, date(2024, 1, 20)))
    assert dict(zip(capped["customer_id"], capped["historical_clv"])) == {"a": 40.0, "b": 50.0}
    s2.close()
    # distinct purchase days (a bitmap of the history's days): CDNOW's, equal to COUNT(DISTINCT day) in Polars
    raw = _raw_cdnow().rename({"date": "day"})
    by_hand = raw.group_by("customer_id").agg(pl.col("day").n_unique().alias("days"))
    got = hist.select("customer_id", "purchases").join(by_hand, on="customer_id")
    assert got.height == 2357 and (got["purchases"] == got["days"]).all() and got["purchases"].max() > 1


def test_a_region_is_scored_by_the_models_of_all_customers(tmp_path):
    # Region, segment and owner filters pick customers out of the fit of all customers (fit_clv's notes): the
    # same parameters and per-customer rows, and the holdout summed by hand over the region's rows of it.
    from datetime import timedelta

    from crm_core.metrics import clv as clv_mod

    store = Store(tmp_path / "sample.duckdb")
    ds = store.load_sample(customers=300).dataset_id
    last = clv_mod.last_purchase_day(store, Scope(ds))
    cal = last - timedelta(days=120)
    whole = fit_clv(store, Scope(ds), cal)
    customers = store.table("customers", ds)
    region = customers["region"].drop_nulls().mode().sort()[0]  # the largest region
    ids = customers.filter(pl.col("region") == region)["customer_id"]
    picked = fit_clv(store, Scope(ds, regions=(region,)), cal)
    rows = whole.frame.filter(pl.col("customer_id").is_in(ids.implode()))
    assert 0 < picked.customers == rows.height < whole.customers
    assert picked.frame.equals(rows)
    assert picked.bgnbd_summary == whole.bgnbd_summary and picked.gamma_gamma_summary == whole.gamma_gamma_summary
    held = whole.holdout.frame.filter(pl.col("customer_id").is_in(ids.implode()))
    predicted, actual = held["predicted_purchases"].to_numpy(), held["actual_purchases"].to_numpy()
    h = picked.holdout
    assert (h.customers, h.actual_total, h.days, h.end) == (rows.height, int(actual.sum()), 120, last)
    assert h.predicted_total == pytest.approx(predicted.sum(), rel=1e-12)
    assert h.mae == pytest.approx(np.abs(predicted - actual).mean(), rel=1e-12)
    assert h.relative_error == pytest.approx((predicted.sum() - actual.sum()) / actual.sum(), rel=1e-12)
    # a fit of the region's purchases alone would have other parameters: the filter did not refit
    own = clv_mod.fit_clv_from_summary(rfm_summary(store, Scope(ds, regions=(region,)), cal), calibration_end=cal)
    assert own.bgnbd_summary != whole.bgnbd_summary
    # a channel filter picks purchases, so the models are fitted on that channel's purchases
    channel = store.table("transactions", ds)["channel"].drop_nulls().mode().sort()[0]  # the most used one
    assert fit_clv(store, Scope(ds, channels=(channel,)), cal).bgnbd_summary != whole.bgnbd_summary
    with pytest.raises(ClvError, match=r"No customer of the filters \(region: nowhere\)"):
        fit_clv(store, Scope(ds, regions=("nowhere",)), cal)
    store.close()
