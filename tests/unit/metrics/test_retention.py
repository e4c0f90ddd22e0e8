"""Retention metrics (crm_core.metrics.retention) against hand computations on tiny stores, invariants
(hypothesis) and a run over the sample company.

Every expected number below is worked out by hand in the comments next to it (2024 is a leap year: February has
29 days).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np
import numpy.testing as npt
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from crm_core.metrics import retention as ret
from crm_core.metrics.scope import Scope
from crm_core.store import Store, TableLoad


def _tx(rows):
    """rows: (customer_id, 'YYYY-MM-DD', amount[, status])."""
    return pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "occurred_at": [datetime.fromisoformat(r[1]).replace(hour=12) for r in rows],
            "amount": [float(r[2]) for r in rows],
            "status": [r[3] if len(r) > 3 else "completed" for r in rows],
        },
        schema={"customer_id": pl.String, "occurred_at": pl.Datetime("us"), "amount": pl.Float64,
                "status": pl.String},
    )


# Seven customers, January to April 2024. Refunded and cancelled orders are not activity.
#   A  Jan 5 (100), Feb 10 (50), Mar 3 (100), Apr 30 (20)                      North
#   B  Jan 20 (200), Mar 15 (100)                                              North
#   C  Jan 25 (25 + 25, two orders on one day), Feb 2 refunded (80)            South
#   D  Feb 1 (100), Feb 20 (100), Apr 5 (50)                                   North
#   E  Feb 14 (60), Mar 1 (30)                                                 South
#   F  Jan 3 cancelled (10), Mar 10 (40)  -> first purchase is Mar 10          South
#   G  Apr 10 (70)                                                             South
# Data: first day Jan 3 (F's cancelled order), last day Apr 30 (A).
SIX = [
    ("A", "2024-01-05", 100), ("A", "2024-02-10", 50), ("A", "2024-03-03", 100), ("A", "2024-04-30", 20),
    ("B", "2024-01-20", 200), ("B", "2024-03-15", 100),
    ("C", "2024-01-25", 25), ("C", "2024-01-25", 25), ("C", "2024-02-02", 80, "refunded"),
    ("D", "2024-02-01", 100), ("D", "2024-02-20", 100), ("D", "2024-04-05", 50),
    ("E", "2024-02-14", 60), ("E", "2024-03-01", 30),
    ("F", "2024-01-03", 10, "cancelled"), ("F", "2024-03-10", 40),
    ("G", "2024-04-10", 70),
]
REGIONS = {"A": "North", "B": "North", "D": "North", "C": "South", "E": "South", "F": "South", "G": "South"}


@pytest.fixture(scope="module")
def six(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("ret") / "x.duckdb")
    customers = pl.DataFrame({"customer_id": list(REGIONS), "region": list(REGIONS.values())})
    s.load("t", [TableLoad("transactions", _tx(SIX), "x.csv"), TableLoad("customers", customers, "c.csv")])
    yield s, Scope(dataset_id=s.dataset_id("t"))
    s.close()


def _cells(cohorts, cohort):
    return cohorts.cells.filter(pl.col("cohort") == cohort).sort("age")


# ---------------------------------------------------------------------------------------------- cohorts
def test_monthly_customer_cohorts_by_hand(six):
    s, scope = six
    c = ret.cohort_matrix(s, scope, "month", "customers")
    assert c.as_of == date(2024, 4, 30)
    # Jan cohort {A, B, C} (F's cancelled January order does not make it a January customer), 3 customers:
    #   age 0 Jan: A, B, C = 3/3;  age 1 Feb: A (C's Feb order is refunded) = 1/3;
    #   age 2 Mar: A, B = 2/3;     age 3 Apr: A = 1/3
    jan = _cells(c, date(2024, 1, 1))
    assert jan["cohort_size"].to_list() == [3, 3, 3, 3]
    assert jan["active"].to_list() == [3, 1, 2, 1]
    npt.assert_allclose(jan["value"].to_numpy(), [1, 1 / 3, 2 / 3, 1 / 3])
    # Feb cohort {D, E}: age 0 Feb 2/2; age 1 Mar: E = 1/2; age 2 Apr: D = 1/2
    feb = _cells(c, date(2024, 2, 1))
    npt.assert_allclose(feb["value"].to_numpy(), [1, 0.5, 0.5])
    # Mar cohort {F}: age 0 1/1, age 1 Apr: nobody = 0 (a zero cell, not a missing one)
    mar = _cells(c, date(2024, 3, 1))
    assert mar["active"].to_list() == [1, 0]
    npt.assert_allclose(mar["value"].to_numpy(), [1, 0])
    # Apr cohort {G}
    assert _cells(c, date(2024, 4, 1))["active"].to_list() == [1]
    assert c.cells.height == 4 + 3 + 2 + 1
    # April ends on the data's last day (Apr 30): no period is partial.
    assert not c.cells["partial"].any()
    sizes = c.sizes.sort("cohort")
    assert sizes["customers"].to_list() == [3, 2, 1, 1]
    # The data start on Jan 3, so the January cohort had two days less of acquisition.
    assert sizes["partial_cohort"].to_list() == [True, False, False, False]


def test_monthly_revenue_retained_by_hand(six):
    s, scope = six
    c = ret.cohort_matrix(s, scope, "month", "revenue")
    # Jan cohort revenue: Jan A 100 + B 200 + C 25 + 25 = 350; Feb A 50; Mar A 100 + B 100 = 200; Apr A 20
    #   retained: 350/350 = 1, 50/350 = 1/7, 200/350 = 4/7, 20/350 = 2/35
    jan = _cells(c, date(2024, 1, 1))
    npt.assert_allclose(jan["revenue"].to_numpy(), [350, 50, 200, 20])
    npt.assert_allclose(jan["base"].to_numpy(), [350] * 4)
    npt.assert_allclose(jan["value"].to_numpy(), [1, 1 / 7, 4 / 7, 2 / 35])
    # Feb cohort: Feb D 100 + 100 + E 60 = 260; Mar E 30; Apr D 50 -> 1, 30/260 = 3/26, 50/260 = 5/26
    npt.assert_allclose(_cells(c, date(2024, 2, 1))["value"].to_numpy(), [1, 3 / 26, 5 / 26])
    wide = c.pivot()
    assert wide.columns == ["cohort", "0", "1", "2", "3"]
    assert wide.row(0) == pytest.approx((date(2024, 1, 1), 1, 1 / 7, 4 / 7, 2 / 35))
    assert wide.row(3)[2] is None  # April cohort: ages 1+ not observed yet


def test_quarter_cohorts_and_partial_quarter(six):
    s, scope = six
    c = ret.cohort_matrix(s, scope, "quarter", "customers")
    # Q1 cohort {A, B, C, D, E, F} = 6; Q2 (Apr 1 - Apr 30 of data): A (Apr 30) and D (Apr 5) = 2/6
    q1 = _cells(c, date(2024, 1, 1))
    assert q1["active"].to_list() == [6, 2]
    npt.assert_allclose(q1["value"].to_numpy(), [1, 1 / 3])
    # Q2 runs to Jun 30, past the data's last day (Apr 30): partial, for both cohorts' Q2 cells.
    assert q1["partial"].to_list() == [False, True]
    q2 = _cells(c, date(2024, 4, 1))
    assert q2["active"].to_list() == [1] and q2["partial"].to_list() == [True]
    rev = ret.cohort_matrix(s, scope, "quarter", "revenue")
    # Q1 revenue of the Q1 cohort: A 250 + B 300 + C 50 + D 200 + E 90 + F 40 = 930; Q2: A 20 + D 50 = 70
    npt.assert_allclose(_cells(rev, date(2024, 1, 1))["value"].to_numpy(), [1, 70 / 930])


def test_window_end_makes_the_last_month_partial(six):
    s, scope = six
    c = ret.cohort_matrix(s, scope.with_window(None, date(2024, 4, 15)), "month", "customers")
    assert c.as_of == date(2024, 4, 15)
    # A's Apr 30 purchase is after the as-of day: Jan cohort April = 0/3; D's Apr 5 counts: Feb cohort 1/2.
    # G (first purchase Apr 10) is still an April customer.
    jan, feb = _cells(c, date(2024, 1, 1)), _cells(c, date(2024, 2, 1))
    assert jan["active"].to_list() == [3, 1, 2, 0]
    assert jan["partial"].to_list() == [False, False, False, True]
    assert feb["active"].to_list() == [2, 1, 1] and feb["partial"].to_list() == [False, False, True]
    assert c.cells.filter(pl.col("period") == date(2024, 4, 1))["partial"].all()
    assert not c.cells.filter(pl.col("period") < date(2024, 4, 1))["partial"].any()
    assert c.sizes.filter(pl.col("cohort") == date(2024, 4, 1))["partial_cohort"].to_list() == [True]


def test_window_start_picks_cohorts_by_first_purchase_ever(six):
    s, scope = six
    c = ret.cohort_matrix(s, scope.with_window(date(2024, 2, 1), None), "month", "customers")
    # A, B and C first bought in January: not new in a window from Feb 1, even though A buys in it.
    assert c.sizes.sort("cohort")["cohort"].to_list() == [date(2024, 2, 1), date(2024, 3, 1), date(2024, 4, 1)]
    npt.assert_allclose(_cells(c, date(2024, 2, 1))["value"].to_numpy(), [1, 0.5, 0.5])
    # A window starting Feb 15: D (Feb 1) and E (Feb 14) first bought before it, so nobody is new in
    # February and the cohorts start in March.
    c2 = ret.cohort_matrix(s, scope.with_window(date(2024, 2, 15), None), "month", "customers")
    assert c2.sizes.sort("cohort")["cohort"].to_list() == [date(2024, 3, 1), date(2024, 4, 1)]


def test_region_filter_restricts_cohorts(six):
    s, scope = six
    north = Scope(dataset_id=scope.dataset_id, regions=("North",))
    c = ret.cohort_matrix(s, north, "month", "customers")
    # North = A, B, D. Jan {A, B}: Jan 2/2, Feb A 1/2, Mar A, B 2/2, Apr A 1/2. Feb {D}: 1, 0, 1.
    npt.assert_allclose(_cells(c, date(2024, 1, 1))["value"].to_numpy(), [1, 0.5, 1, 0.5])
    npt.assert_allclose(_cells(c, date(2024, 2, 1))["value"].to_numpy(), [1, 0, 1])
    assert c.sizes["customers"].sum() == 3


def test_bad_arguments(six):
    s, scope = six
    with pytest.raises(ValueError, match="period"):
        ret.cohort_matrix(s, scope, "year")
    with pytest.raises(ValueError, match="measure"):
        ret.cohort_matrix(s, scope, "month", "orders")
    with pytest.raises(ValueError, match="inactivity_days"):
        ret.churn(s, scope, 0)


def test_window_after_the_data_gives_empty_results(six):
    s, scope = six
    later = scope.with_window(date(2025, 1, 1), date(2025, 12, 31))
    assert ret.cohort_matrix(s, later).cells.is_empty()
    assert math.isnan(ret.repeat_purchase_rate(s, later))
    assert math.isnan(ret.churn(s, later, 30).churn_rate)
    assert ret.revenue_retention(s, later).is_empty()
    assert ret.lifetimes(s, later, 30).is_empty()
    assert ret.survival_curve(s, later, 30)[0] is None


# ---------------------------------------------------------------------------------------------- repeat rate
def test_repeat_purchase_rate_by_hand(six):
    s, scope = six
    # Open window: 7 new customers; two or more distinct purchase days: A, B, D, E (C's two orders are on one
    # day and its second day is a refund; F's other order is cancelled; G bought once) -> 4/7
    assert ret.repeat_purchase_rate(s, scope) == pytest.approx(4 / 7)
    # February window: new D (Feb 1) and E (Feb 14); by Feb 29 D has bought again (Feb 20), E not yet
    # (Mar 1 is after the window end) -> 1/2
    assert ret.repeat_purchase_rate(s, scope.with_window(date(2024, 2, 1), date(2024, 2, 29))) == 0.5


# ---------------------------------------------------------------------------------------------- churn
def test_default_churn_window_from_repeat_gaps(six):
    s, scope = six
    rule = ret.default_churn_window(s, scope)
    # Gaps between consecutive distinct completed purchase days:
    #   A: Jan 5 -> Feb 10 = 36, Feb 10 -> Mar 3 = 22, Mar 3 -> Apr 30 = 58
    #   B: Jan 20 -> Mar 15 = 55;  D: Feb 1 -> Feb 20 = 19, Feb 20 -> Apr 5 = 45;  E: Feb 14 -> Mar 1 = 16
    #   sorted: 16 19 22 36 45 55 58 (n = 7); 90th percentile (linear): position 0.9 · 6 = 5.4
    #   -> 55 + 0.4 · (58 − 55) = 56.2 days; rounded up to whole weeks: ceil(56.2 / 7) = 9 weeks = 63 days
    assert rule.gaps == 7
    assert rule.gap_quantile == pytest.approx(56.2)
    assert rule.days == 63
    assert "90th percentile" in rule.how_derived and "63 days" in rule.how_derived


def test_the_churn_rule_is_all_customers_whatever_the_region(six):
    s, scope = six
    north = Scope(dataset_id=scope.dataset_id, regions=("North",))
    # North alone (A, B, D) has 6 of the 7 gaps above: 19 22 36 45 55 58, position 0.9 · 5 = 4.5 -> 56.5 days.
    # The rule is the company's: the 7 gaps of all customers, 56.2 days, whatever the region filter.
    own = ret.gap_quantile(s, ret._run(s, north, "retention_gap_days"), date(2024, 4, 30), 0.9)
    assert own == (6, pytest.approx(56.5))
    rule = ret.default_churn_window(s, north)
    assert (rule.gaps, rule.gap_quantile, rule.days) == (7, pytest.approx(56.2), 63)
    # a channel filter picks purchases, not customers: its gaps are its own (none here: nobody bought by phone)
    assert ret.default_churn_window(s, Scope(dataset_id=scope.dataset_id, channels=("phone",))).gaps == 0


# The quantile straight from the gaps (what default_churn_window computed before the per-day counts): the reference.
GAPS_SQL = """
WITH days AS (
    SELECT DISTINCT customer_id, CAST(occurred_at AS DATE) AS day FROM scoped
    WHERE CAST(occurred_at AS DATE) <= $as_of::DATE
),
gaps AS (SELECT day - lag(day) OVER (PARTITION BY customer_id ORDER BY day) AS gap FROM days)
SELECT COUNT(gap)::BIGINT AS gaps, quantile_cont(gap, $quantile::DOUBLE)::DOUBLE AS q FROM gaps WHERE gap IS NOT NULL"""


def _gaps_directly(store, scope, as_of, quantile):
    from crm_core.metrics.scope import purchases_sql

    text = f"WITH scoped AS ({purchases_sql(windowed=False, statuses=('completed',))}),\nq AS ({GAPS_SQL})\n" \
           "SELECT * FROM q"
    params = {k: v for k, v in {**scope.params(), "as_of": as_of, "quantile": quantile}.items() if f"${k}" in text}
    row = store.query(text, params).row(0)
    return int(row[0]), row[1]


def test_the_churn_rule_of_every_as_of_day_equals_the_gaps_quantile_to_the_bit(store):
    # The kept per-day gap counts give, for any window end, DuckDB's own quantile_cont over the gaps up to that day.
    sample_store = store
    ds = store.load_sample(customers=300).dataset_id
    scope = Scope(ds)
    channel = sample_store.query("SELECT min(channel) AS c FROM purchases")["c"][0]
    counts = {s.channels: ret.churn_gaps(sample_store, s) for s in (scope, Scope(ds, channels=(channel,)))}
    first, last = sample_store.query("SELECT min(occurred_at)::DATE AS a, max(occurred_at)::DATE AS b FROM purchases"
                                     ).row(0)
    day, checked = first, 0
    while day <= last:
        for channels, gaps in counts.items():
            for quantile in (0.9, 0.5, 0.37):
                want = _gaps_directly(sample_store, Scope(ds, channels=channels), day, quantile)
                assert ret.gap_quantile(sample_store, gaps, day, quantile) == want, (day, channels, quantile)
                checked += want[0] > 0
        day += timedelta(days=5)
    assert checked > 300
    rule = ret.default_churn_window(sample_store, scope.with_window(first, last - timedelta(days=90)))
    assert (rule.gaps, rule.gap_quantile) == _gaps_directly(sample_store, scope, last - timedelta(days=90), 0.9)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 400), min_size=1, max_size=60), st.floats(0.01, 0.99))
def test_gap_quantile_is_duckdb_s_quantile_cont(values, quantile):
    # Any multiset of gaps, any quantile: the interpolation between the two order statistics is DuckDB's.
    store = Store(":memory:")
    gaps = pl.DataFrame({"day": [date(2024, 1, 1 + i % 28) for i in range(len(values))], "gap": values,
                         "gaps": [1] * len(values)}).group_by("day", "gap").agg(pl.col("gaps").sum())
    want = store.cursor().execute("SELECT count(*), quantile_cont(x, ?::DOUBLE)::DOUBLE FROM "
                                  "(SELECT unnest(?::BIGINT[]) AS x)", [quantile, values]).fetchone()
    assert ret.gap_quantile(store, gaps, date(2024, 2, 1), quantile) == (want[0], want[1])
    upto = [v for i, v in enumerate(values) if 1 + i % 28 <= 10]
    if upto:
        want = store.cursor().execute("SELECT count(*), quantile_cont(x, ?::DOUBLE)::DOUBLE FROM "
                                      "(SELECT unnest(?::BIGINT[]) AS x)", [quantile, upto]).fetchone()
        assert ret.gap_quantile(store, gaps, date(2024, 1, 10), quantile) == (want[0], want[1])
    assert ret.gap_quantile(store, gaps, date(2023, 12, 31), quantile) == (0, None)


def test_default_churn_window_without_repeat_purchases(tmp_path):
    s = Store(tmp_path / "x.duckdb")
    s.load("t", [TableLoad("transactions", _tx([("A", "2024-01-05", 10), ("B", "2024-02-05", 10)]), "x.csv")])
    rule = ret.default_churn_window(s, Scope(dataset_id=s.dataset_id("t")))
    assert rule.days == 365 and rule.gaps == 0 and "fallback" in rule.how_derived


def test_churn_with_a_given_window_by_hand(six):
    s, scope = six
    april = scope.with_window(date(2024, 4, 1), date(2024, 4, 30))
    # L = 30. Active at Apr 1: bought in [Mar 2, Mar 31]: A (Mar 3), B (Mar 15), F (Mar 10); E's Mar 1 is one
    # day too early. Churned: no purchase in [Apr 1, Apr 30]: B and F (A bought Apr 30) -> 2/3
    r = ret.churn(s, april, 30)
    assert (r.active_at_start, r.churned, r.retained) == (3, 2, 1)
    assert r.churn_rate == pytest.approx(2 / 3)
    assert (r.start, r.end, r.inactivity_days) == (date(2024, 4, 1), date(2024, 4, 30), 30)
    # L = 31: active window [Mar 1, Mar 31] now holds E too; churn window [Mar 31, Apr 30]: B, E, F -> 3/4
    r31 = ret.churn(s, april, 31)
    assert (r31.active_at_start, r31.churned) == (4, 3)
    # Open window start: the L days ending the as-of day. L = 30: period [Apr 1, Apr 30] as above.
    assert ret.churn(s, scope, 30) == r


def test_churn_trend_with_partial_last_month(six):
    s, scope = six
    # L = 30, open window: the first month starting at least 30 days after the data's first day (Jan 3 + 30
    # = Feb 2) is March.
    # March: active at Mar 1 = bought in [Jan 31, Feb 29]: A (Feb 10), D (Feb 1, Feb 20), E (Feb 14) (C's
    #   Feb 2 order is refunded); churned = nothing in [Mar 2, Mar 31]: D, E (E's Mar 1 is before) -> 2/3
    # April (whole, ends on the data's last day): as in test_churn_with_a_given_window_by_hand -> 3, 2
    trend = ret.churn_trend(s, scope, "month", 30)
    assert trend["period_start"].to_list() == [date(2024, 3, 1), date(2024, 4, 1)]
    assert trend["active_at_start"].to_list() == [3, 3]
    assert trend["churned"].to_list() == [2, 2]
    assert trend["partial"].to_list() == [False, False]
    # As of Apr 15, April is partial and measured to Apr 15: base A, B, F; nothing in [Mar 17, Apr 15] for
    # any of them (A's Apr 30 is after the as-of day) -> 3/3
    cut = ret.churn_trend(s, scope.with_window(None, date(2024, 4, 15)), "month", 30)
    last = cut.row(-1, named=True)
    assert (last["period_end"], last["active_at_start"], last["churned"], last["partial"]) == (
        date(2024, 4, 15), 3, 3, True)
    assert cut.row(0, named=True)["churned"] == 2 and not cut.row(0, named=True)["partial"]


def test_churn_and_its_trend_from_one_pass_equal_each_alone(six):
    # The Retention view asks for both in one query. A window starting on the 1st starts its first trend month
    # on the same day: the periods are kept apart (by position), not merged by their start.
    s, scope = six
    for sc in (scope, scope.with_window(date(2024, 3, 1), date(2024, 4, 30)),
               scope.with_window(date(2024, 2, 10), date(2024, 4, 15))):
        both, trend = ret.churn_and_trend(s, sc, "month", 30)
        assert both == ret.churn(s, sc, 30)
        assert trend.equals(ret.churn_trend(s, sc, "month", 30))
    march_april = scope.with_window(date(2024, 3, 1), date(2024, 4, 30))
    both, trend = ret.churn_and_trend(s, march_april, "month", 30)
    # the window [Mar 1, Apr 30]: base = active Mar 1 (A, D, E as in the March trend row); churned = nothing
    # in [Apr 1, Apr 30]: D bought Apr 5, A Apr 30, E nothing -> 1 of 3
    assert (both.active_at_start, both.churned) == (3, 1)
    assert trend["period_start"].to_list() == [date(2024, 3, 1), date(2024, 4, 1)]
    assert trend["active_at_start"].to_list() == [3, 3] and trend["churned"].to_list() == [2, 2]


def test_activity_islands_are_found_once_per_data_filters_and_rule(tmp_path, monkeypatch):
    # Churn matches periods to each customer's activity islands, found over the whole history once per (data,
    # filters, L) and kept: a later window, trend or period reads them.
    s = Store(tmp_path / "i.duckdb")
    customers = pl.DataFrame({"customer_id": list(REGIONS), "region": list(REGIONS.values())})
    s.load("t", [TableLoad("transactions", _tx(SIX), "x.csv"), TableLoad("customers", customers, "c.csv")])
    scope = Scope(dataset_id=s.dataset_id("t"))
    found = []
    run = ret._run

    def counted(store, sc, name, **values):
        if name == "activity_islands_all":
            found.append((name, sc.regions))
        return run(store, sc, name, **values)

    monkeypatch.setattr(ret, "_run", counted)
    # A (L = 30) bought Jan 5, Feb 10, Mar 3, Apr 30: Jan 5 covers Jan 6 - Feb 4; Feb 10 and Mar 3 (21 days
    # apart) cover Feb 11 - Apr 2; Apr 30 covers May 1 - May 30
    islands = ret.activity_islands(s, scope, 30).filter(pl.col("customer_id") == "A").sort("lo")
    assert islands.select("lo", "hi").rows() == [(date(2024, 1, 6), date(2024, 2, 4)),
                                                   (date(2024, 2, 11), date(2024, 4, 2)),
                                                   (date(2024, 5, 1), date(2024, 5, 30))]
    april = scope.with_window(date(2024, 4, 1), date(2024, 4, 30))
    assert (ret.churn(s, april, 30).active_at_start, ret.churn(s, april, 30).churned) == (3, 2)  # by hand above
    ret.churn_and_trend(s, scope.with_window(date(2024, 2, 10), date(2024, 4, 15)), "month", 30)
    ret.churn_trend(s, scope, "quarter", 30)
    assert found == [("activity_islands_all", ())]  # once for every window of the unfiltered scope
    assert ret.activity_islands(s, scope, 30) is ret.activity_islands(s, scope, 30)  # held in memory, not read again
    north = Scope(dataset_id=scope.dataset_id, regions=("North",))
    # North (A, B, D), L = 30, April: active at Apr 1 = A (Mar 3), B (Mar 15); nothing in April for B -> 1 of 2
    assert (ret.churn(s, north.with_window(date(2024, 4, 1), date(2024, 4, 30)), 30).churned,
            ret.churn(s, north.with_window(date(2024, 4, 1), date(2024, 4, 30)), 30).active_at_start) == (1, 2)
    ret.churn(s, north.with_window(date(2024, 3, 1), date(2024, 3, 31)), 30)
    assert found[1:] == []  # a region picks whole customers: North's islands are the kept ones of A, B and D
    assert ret.activity_islands(s, north, 30).sort("customer_id", "lo").equals(
        run(s, north, "activity_islands_all", inactivity=30, islands_until=ret.LAST_DAY).sort("customer_id", "lo"))
    ret.churn(s, april, 31)  # another rule: other islands
    assert len(found) == 2
    # new data (H buys on Mar 20 and Apr 20): the kept islands are not read again
    s.load("t", [TableLoad("transactions", _tx([("H", "2024-03-20", 10), ("H", "2024-04-20", 10)]), "y.csv")])
    # L = 30: active at Apr 1 now also H (Mar 20), who buys again Apr 20 -> 2 churned of 4
    r = ret.churn(s, april, 30)
    assert (r.active_at_start, r.churned) == (4, 2)
    assert len(found) == 3
    s.close()


def test_retention_overview_under_a_given_rule(six):
    # The Retention page measures the previous period under the window's rule: the overview with
    # inactivity_days takes it instead of deriving one (63 days here, test_default_churn_window_from_repeat_gaps)
    from crm_core import views

    s, scope = six
    april = scope.with_window(date(2024, 4, 1), date(2024, 4, 30))
    assert views.retention_overview(s, april)["churn_days"] == 63
    given = views.retention_overview(s, april, inactivity_days=31)
    assert given["churn_days"] == 31 and "31 days" in given["churn_rule"]
    # L = 31, April: 3 churned of 4 (test_churn_with_a_given_window_by_hand)
    assert given["summary"]["churn_rate"] == pytest.approx(3 / 4)
    kept = views.compute(s, "retention_overview", april, inactivity_days=31)  # the same through the kept results
    assert (kept["churn_days"], kept["summary"]["churn_rate"]) == (31, given["summary"]["churn_rate"])


def test_headline_and_review_kpis_under_a_given_churn_window(six):
    # The review measures every period under the reviewed period's window. As of Apr 30 the last purchases are
    # A Apr 30, G Apr 10, D Apr 5, B Mar 15, F Mar 10, E Mar 1, C Jan 25: within 30 days A, G, D (3); within
    # 50 days B too (4). Churn in April: 2 of 3 at L = 30, 3 of 4 at L = 31 (test_churn_with_a_given_window).
    from crm_core.metrics.headline import headline_kpis
    from crm_core.report.review import period_kpis

    s, scope = six
    april = scope.with_window(date(2024, 4, 1), date(2024, 4, 30))
    k30 = headline_kpis(s, april, with_clv=False, churn_days=30)
    assert (k30["active_customers"], k30["churn_rate"]) == (3, pytest.approx(2 / 3))
    k31 = headline_kpis(s, april, with_clv=False, churn_days=31)
    assert (k31["active_customers"], k31["churn_rate"]) == (3, pytest.approx(3 / 4))
    assert headline_kpis(s, april, with_clv=False, churn_days=50)["active_customers"] == 4
    review = period_kpis(s, april, 30, with_clv=False)
    assert review["retention_rate"] == pytest.approx(1 / 3) and review["active_customers"] == 3


# ---------------------------------------------------------------------------------------------- survival
# L = 30, as of Apr 30: judged are customers whose first purchase is on or before Apr 30 − 30 = Mar 31
# (G, first purchase Apr 10, is left out). Churned when the last purchase is on or before Mar 31.
#   A  first Jan 5,  last Apr 30 -> censored at Mar 31 − Jan 5 = 26 + 29 + 31 = 86
#   B  first Jan 20, last Mar 15 -> churned,  Mar 15 − Jan 20 = 11 + 29 + 15 = 55
#   C  first = last Jan 25       -> churned,  0
#   D  first Feb 1,  last Apr 5  -> censored at Mar 31 − Feb 1 = 28 + 31 = 59
#   E  first Feb 14, last Mar 1  -> churned,  15 + 1 = 16
#   F  first = last Mar 10       -> churned,  0
LIFETIMES = {"A": (86, False), "B": (55, True), "C": (0, True), "D": (59, False), "E": (16, True),
             "F": (0, True)}
# Kaplan-Meier: t = 0: n 6, d 2 -> S = 4/6 = 2/3; t = 16: n 4, d 1 -> 2/3 · 3/4 = 1/2;
#               t = 55: n 3, d 1 -> 1/2 · 2/3 = 1/3; then two censorings (59, 86). Median: first S <= 0.5 -> 16.


def test_lifetimes_and_censoring_by_hand(six):
    s, scope = six
    lt = ret.lifetimes(s, scope, 30).sort("customer_id")
    got = {r["customer_id"]: (r["duration_days"], r["observed"]) for r in lt.to_dicts()}
    assert got == LIFETIMES


def test_a_region_reads_first_and_last_purchase_days_from_the_stored_facts(six):
    # At the data's last day every customer's first and last completed purchase days are the stored facts'
    # (retention._spans), and region, segment and owner filters pick whole customers: the hand lifetimes above,
    # and the same lifetimes and repeat rate as a pass over the purchases for any window start and rule, with
    # no filter or a region.
    s, scope = six
    for region in ("North", "South", None):  # South: C's refund and F's cancelled first order are not purchases
        picked = Scope(dataset_id=scope.dataset_id, regions=(region,) if region else ())
        assert ret._spans(picked, ret._extent(s, picked)) is ret.SPANS_FROM_FACTS
        got = {r["customer_id"]: (r["duration_days"], r["observed"]) for r in ret.lifetimes(s, picked, 30).to_dicts()}
        assert got == {c: v for c, v in LIFETIMES.items() if region in (REGIONS[c], None)}
        for start, days in itertools.product((None, date(2024, 1, 20), date(2024, 2, 14), date(2024, 3, 1)),
                                             (7, 30, 63)):
            w = picked.with_window(start, None)
            ext = ret._extent(s, w)
            values = {"as_of": ext.as_of, "win_start": ext.window_start}
            read = ret._run(s, w, "retention_lifetimes", spans=ret.SPANS_FROM_PURCHASES, inactivity=days, **values)
            assert ret.lifetimes(s, w, days).sort("customer_id").equals(read.sort("customer_id"))
            row = ret._run(s, w, "retention_repeat", spans=ret.SPANS_FROM_PURCHASES, **values).row(0, named=True)
            assert ret.repeat_purchase_rate(s, w) == pytest.approx(ret._ratio(row["repeaters"], row["new_customers"]),
                                                                   nan_ok=True)
    north = Scope(dataset_id=scope.dataset_id, regions=("North",))
    # North: A, B and D bought again -> 3/3 (South: E of C, E, F, G -> 1/4)
    assert ret.repeat_purchase_rate(s, north) == 1.0
    assert ret.repeat_purchase_rate(s, Scope(dataset_id=scope.dataset_id, regions=("South",))) == 0.25
    # an open window ending before the data's last day or a channel filter read the purchases
    for other in (north.with_window(None, date(2024, 4, 15)), scope.with_window(None, date(2024, 4, 15)),
                  Scope(scope.dataset_id, regions=("North",), channels=("web",)), replace(scope, channels=("web",))):
        assert ret._spans(other, ret._extent(s, other)) is ret.SPANS_FROM_PURCHASES
    # a window ending earlier reads its own purchases of the customers first buying in it: the same lifetimes and
    # repeat rate as the whole history's days, for every window start and end, no filter and a region
    days_of = sorted({d for _c, d, *_ in SIX})
    for picked, start, end, days in itertools.product((scope, north), days_of, days_of, (7, 30)):
        if start > end:
            continue
        w = picked.with_window(date.fromisoformat(start), date.fromisoformat(end))
        ext = ret._extent(s, w)
        if ext.empty or ext.as_of == ext.data_end:
            continue
        assert ret._spans(w, ext) is ret.SPANS_FROM_WINDOW
        values = {"as_of": ext.as_of, "win_start": ext.window_start}
        read = ret._run(s, w, "retention_lifetimes", spans=ret.SPANS_FROM_PURCHASES, inactivity=days, **values)
        assert ret.lifetimes(s, w, days).sort("customer_id").equals(read.sort("customer_id")), (start, end)
        row = ret._run(s, w, "retention_repeat", spans=ret.SPANS_FROM_PURCHASES, **values).row(0, named=True)
        assert ret._run(s, w, "retention_repeat", spans=ret.SPANS_FROM_WINDOW, **values).row(0, named=True) == row


def test_survival_curve_by_hand(six):
    s, scope = six
    km, median = ret.survival_curve(s, scope, 30)
    npt.assert_allclose(km.predict([0, 10, 16, 54, 55, 100]), [2 / 3, 2 / 3, 1 / 2, 1 / 2, 1 / 3, 1 / 3])
    assert median == 16.0
    assert km.summary == {"customers": 6, "events": 4, "censored": 2, "median": 16.0}


# ---------------------------------------------------------------------------------------------- revenue retention
# Three customers over January and February 2024, plus a new one and a refund:
#   X  Jan 100 -> Feb 150   expansion 50
#   Y  Jan 200 -> Feb 120   contraction 80 (its refunded Feb order of 1000 is not revenue)
#   Z  Jan  50 -> Feb   0   churned 50
#   W  new in Feb (500)     not in the starting base
# February: start 350; NRR = (150 + 120 + 0) / 350 = 27/35 = (350 + 50 − 80 − 50) / 350
#           GRR = (min(150,100) + min(120,200) + 0) / 350 = 220/350 = 22/35 = (350 − 80 − 50) / 350
NRR_ROWS = [
    ("X", "2024-01-01", 100), ("X", "2024-02-10", 150),
    ("Y", "2024-01-15", 200), ("Y", "2024-02-12", 120), ("Y", "2024-02-13", 1000, "refunded"),
    ("Z", "2024-01-20", 50),
    ("W", "2024-02-29", 500),
]


@pytest.fixture
def nrr_store(tmp_path):
    s = Store(tmp_path / "x.duckdb")
    s.load("t", [TableLoad("transactions", _tx(NRR_ROWS), "x.csv")])
    yield s, Scope(dataset_id=s.dataset_id("t"))
    s.close()


def test_nrr_grr_by_hand(nrr_store):
    s, scope = nrr_store
    rr = ret.revenue_retention(s, scope, "month")
    assert rr.height == 1  # January has no previous month
    row = rr.row(0, named=True)
    assert row["period"] == date(2024, 2, 1)
    assert (row["starting_customers"], row["churned_customers"]) == (3, 1)
    assert (row["starting_revenue"], row["expansion"], row["contraction"], row["churned"]) == pytest.approx(
        (350, 50, 80, 50))
    assert row["net_revenue_retention"] == pytest.approx(27 / 35)
    assert row["gross_revenue_retention"] == pytest.approx(22 / 35)
    assert row["partial"] is False  # January starts on the data's first day, February ends on its last


def test_nrr_partial_period_flagged(tmp_path):
    s = Store(tmp_path / "x.duckdb")
    s.load("t", [TableLoad("transactions", _tx([*NRR_ROWS, ("X", "2024-03-10", 10)]), "x.csv")])
    rr = ret.revenue_retention(s, Scope(dataset_id=s.dataset_id("t")), "month")
    # March (data end Mar 10): starting = Feb revenue of X 150, Y 120, W 500 = 770; March: X 10 only
    #   NRR = 10/770; contraction X 140; churned Y + W = 620; partial (runs to Mar 31)
    mar = rr.row(-1, named=True)
    assert mar["period"] == date(2024, 3, 1) and mar["partial"] is True
    assert mar["net_revenue_retention"] == pytest.approx(10 / 770)
    assert (mar["contraction"], mar["churned"]) == pytest.approx((140, 620))
    assert rr.row(0, named=True)["partial"] is False
    # A window from March keeps only March.
    rr_mar = ret.revenue_retention(s, Scope(dataset_id=s.dataset_id("t"), start=date(2024, 3, 1)), "month")
    assert rr_mar["period"].to_list() == [date(2024, 3, 1)]
    # The latest whole period alone (the summary's): February, from January's and February's purchases
    latest = ret.revenue_retention(s, Scope(dataset_id=s.dataset_id("t")), "month", latest=True)
    assert latest.drop("partial").equals(rr.filter(~pl.col("partial")).tail(1).drop("partial"))
    assert latest["period"].to_list() == [date(2024, 2, 1)]
    assert latest["net_revenue_retention"][0] == pytest.approx(27 / 35)
    # ... which a window from March does not hold: then March, partial, as the full table
    assert ret.revenue_retention(s, Scope(dataset_id=s.dataset_id("t"), start=date(2024, 3, 1)), "month",
                                 latest=True).equals(rr_mar)


def test_retention_summary_on_hand_fixture(nrr_store):
    s, scope = nrr_store
    summary = ret.retention_summary(s, scope, period="month")
    assert summary["nrr"] == pytest.approx(27 / 35) and summary["grr"] == pytest.approx(22 / 35)
    assert summary["nrr_period"] == date(2024, 2, 1)
    # Only X and Y bought on two days: repeat rate 2 of 4 new customers
    assert summary["repeat_rate"] == 0.5
    # the churn rule and median lifetime at hand (as the Retention view passes them) give the same summary
    rule = ret.default_churn_window(s, scope)
    _, median = ret.survival_curve(s, scope, rule.days)
    given = ret.retention_summary(s, scope, period="month", rule=rule, median_lifetime_days=median)
    assert given.keys() == summary.keys()
    assert all(given[k] == summary[k] or (given[k] != given[k] and summary[k] != summary[k]) for k in summary)


# ---------------------------------------------------------------------------------------------- invariants
_counter = itertools.count()


@pytest.fixture(scope="module")
def mem_store():
    s = Store(":memory:")
    yield s
    s.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 200), st.floats(1, 500), st.sampled_from(
            ["completed", "completed", "completed", "refunded", "cancelled"])),
        min_size=1, max_size=40,
    )
)
def test_cohort_shares_are_shares(mem_store, rows):
    base = date(2024, 1, 1).toordinal()
    frame = _tx([(f"c{c}", date.fromordinal(base + d).isoformat(), a, st_) for c, d, a, st_ in rows])
    name = f"h{next(_counter)}"
    mem_store.load(name, [TableLoad("transactions", frame, "x.csv")])
    scope = Scope(dataset_id=mem_store.dataset_id(name))
    completed = {f"c{c}" for c, _d, _a, s_ in rows if s_ == "completed"}
    for period in ("month", "quarter"):
        c = ret.cohort_matrix(mem_store, scope, period, "customers")
        v = c.cells["value"]
        assert ((v >= 0) & (v <= 1)).all()
        assert (c.cells.filter(pl.col("age") == 0)["value"] == 1).all()
        assert c.sizes["customers"].sum() == len(completed)  # every buyer in exactly one cohort
        assert (c.cells["active"] <= c.cells["cohort_size"]).all()
    for period in ("month", "quarter"):  # the summary's latest whole period alone is the full table's
        whole = ret.revenue_retention(mem_store, scope, period).filter(~pl.col("partial")).tail(1)
        latest = ret.revenue_retention(mem_store, scope, period, latest=True).filter(~pl.col("partial")).tail(1)
        assert_frame_equal(latest, whole, rel_tol=1e-12)  # sums of the same amounts, maybe in another order
    rr = ret.revenue_retention(mem_store, scope, "month")
    if rr.height:
        assert (rr["gross_revenue_retention"] <= 1 + 1e-12).all()
        assert (rr["gross_revenue_retention"] <= rr["net_revenue_retention"] + 1e-12).all()
    rate = ret.repeat_purchase_rate(mem_store, scope)
    assert (math.isnan(rate) and not completed) or 0 <= rate <= 1


# ---------------------------------------------------------------------------------------------- sample company
@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("sample") / "x.duckdb")
    res = s.load_sample(customers=500)
    yield s, Scope(dataset_id=res.dataset_id)
    s.close()


def test_sample_company_values_are_sensible(sample):
    s, scope = sample
    summary = ret.retention_summary(s, scope)
    assert 0.3 <= summary["repeat_rate"] <= 0.9
    assert 0 < summary["churn_rate"] < 1
    assert 7 <= summary["churn_window_days"] <= 365
    assert np.isfinite(summary["median_lifetime_days"]) and summary["median_lifetime_days"] >= 0
    assert 0.3 <= summary["nrr"] <= 2 and 0 < summary["grr"] <= 1
    c = ret.cohort_matrix(s, scope, "month", "customers")
    assert c.sizes["customers"].sum() == s.scalar(
        "SELECT COUNT(DISTINCT customer_id) FROM purchases WHERE dataset_id = ? AND status = 'completed'",
        [scope.dataset_id])
    # Sep 30 2026 is the sample's last day and a month end: no month is partial, the last quarter neither.
    assert not c.cells["partial"].any()
    trend = ret.churn_trend(s, scope, "quarter")
    assert trend.height > 4 and trend["churn_rate"].drop_nulls().is_between(0, 1).all()
    lt = ret.lifetimes(s, scope)
    km, median = ret.survival_curve(s, scope)
    assert km.n_customers_ == lt.height and km.n_events_ == int(lt["observed"].sum())
    assert median == summary["median_lifetime_days"]


def _cohort_counts_by_polars(s, scope, as_of: date, unit: str) -> pl.DataFrame:
    """Cohort counts (cohort, period, active, revenue) of the sample's transactions computed in Polars, as
    retention_cohorts.sql defines them: cohort = the period of the first completed purchase ever (filtered, up to
    as_of), members first bought on or after the window start, active = members buying in the period."""
    tx = s.table("transactions", scope.dataset_id).filter(
        pl.col("status").fill_null("completed") == "completed").with_columns(day=pl.col("occurred_at").dt.date())
    if scope.channels:
        tx = tx.filter(pl.col("channel").is_in(list(scope.channels)))
    if scope.regions:
        people = s.table("customers", scope.dataset_id).filter(pl.col("region").is_in(list(scope.regions)))
        tx = tx.join(people.select("customer_id"), on="customer_id", how="semi")
    tx = tx.filter(pl.col("day") <= as_of).with_columns(period=pl.col("day").dt.truncate("1mo" if unit == "month"
                                                                                         else "3mo"))
    firsts = tx.group_by("customer_id").agg(first=pl.col("day").min(), cohort=pl.col("period").min())
    if scope.start is not None:
        firsts = firsts.filter(pl.col("first") >= scope.start)
    activity = tx.group_by("customer_id", "period").agg(revenue=pl.col("amount").sum())
    return (activity.join(firsts, on="customer_id").filter(pl.col("period") >= pl.col("cohort"))
            .group_by("cohort", "period").agg(active=pl.len().cast(pl.Int64), revenue=pl.col("revenue").sum())
            .sort("cohort", "period"))


def test_sample_cohort_counts_equal_polars_for_windows_and_filters(sample):
    # The cohorts query takes the first purchase days from the stored facts when the window ends on the last day
    # (retention._spans) and the members' purchases from the window start on: the same counts and revenue as a
    # Polars pass over every transaction, for windows starting mid-month and ending on the last day or earlier,
    # without filters, with a region (summed over the groups of all customers) and with a channel.
    s, scope = sample
    last = s.scalar("SELECT CAST(MAX(occurred_at) AS DATE) FROM purchases WHERE dataset_id = ?", [scope.dataset_id])
    region = s.table("customers", scope.dataset_id)["region"].drop_nulls().sort()[0]
    channel = s.table("transactions", scope.dataset_id)["channel"].drop_nulls().sort()[0]
    for start, end in ((last - timedelta(days=199), last), (last - timedelta(days=259), last - timedelta(days=60)),
                       (None, last)):
        for filters in ({}, {"regions": (region,)}, {"channels": (channel,)}):
            window = replace(scope.with_window(start, end), **filters)
            for unit in ("month", "quarter"):
                got = ret.cohort_matrix(s, window, unit, "customers").cells.filter(pl.col("active") > 0)
                expected = _cohort_counts_by_polars(s, window, end, unit)
                assert got.height >= 3 and expected["active"].sum() > 0
                assert_frame_equal(got.select("cohort", "period", "active", "revenue").sort("cohort", "period"),
                                   expected, check_exact=False, rel_tol=1e-9, check_dtypes=False)
