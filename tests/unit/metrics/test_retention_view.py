"""crm_core.metrics.retention_view: the page's small summaries of CLV results."""

from __future__ import annotations

from datetime import date

import polars as pl

from crm_core.metrics import retention_view as rv

FRAME = pl.DataFrame({
    "customer_id": ["A", "B", "C", "D", "E"],
    "frequency": [0, 1, 4, 12, 2],
    "recency": [0.0, 10.0, 50.0, 100.0, 5.0],
    "T": [2.0, 60.0, 52.0, 101.0, 80.0],
    "p_alive": [1.0, 0.2, 0.9, 0.95, 0.1],
    "clv": [10.0, 50.0, 200.0, 900.0, 400.0],
})


def test_average_clv():
    assert rv.average_clv(FRAME) == 312.0
    assert rv.average_clv(FRAME.head(0)) is None


def test_p_alive_grid_bins_recency_and_frequency():
    grid = rv.p_alive_grid(FRAME)
    assert grid["customers"].sum() == 5
    row = grid.filter(pl.col("frequency_bin") == "1").row(0, named=True)
    assert row["recency_bin"] == "26–52" and row["mean_p_alive"] == 0.2
    assert grid.filter(pl.col("frequency_bin") == "11+")["recency_bin"].to_list() == ["0–4"]
    assert rv.p_alive_grid(FRAME.head(0)).is_empty()


def test_at_risk_customers_are_valuable_and_lapsing():
    hist = pl.DataFrame({"customer_id": ["A", "B", "C", "D", "E"],
                         "last_purchase": [date(2024, 1, 1)] * 5,
                         "historical_clv": [5.0, 1000.0, 20.0, 30.0, 40.0]})
    risk = rv.at_risk_customers(FRAME, hist)
    # B: top historical value, P(alive) 0.2; E: top predicted CLV, P(alive) 0.1; D is valuable but alive
    assert risk["customer_id"].to_list() == ["B", "E"]
    assert rv.at_risk_customers(FRAME, hist, p_alive_below=0.15)["customer_id"].to_list() == ["E"]


def test_holdout_by_frequency():
    holdout = pl.DataFrame({"customer_id": ["A", "B", "C", "E"], "actual_purchases": [0, 2, 1, 3],
                            "predicted_purchases": [0.5, 1.0, 1.5, 2.0]})
    out = rv.holdout_by_frequency(holdout, FRAME)
    assert out["frequency_bin"].to_list() == ["0", "1", "2", "3–5"]
    assert out["predicted_total"].sum() == 5.0 and out["actual_total"].sum() == 6.0
    assert rv.holdout_by_frequency(holdout.head(0), FRAME).is_empty()


def test_holdout_calibration_end():
    assert rv.holdout_calibration_end(date(2023, 1, 1), date(2025, 8, 31), 6) == date(2025, 2, 28)
    assert rv.holdout_calibration_end(date(2023, 1, 1), date(2025, 3, 15), 3) == date(2024, 12, 15)
    assert rv.holdout_calibration_end(date(2024, 1, 1), date(2024, 6, 30), 6) is None  # too short
