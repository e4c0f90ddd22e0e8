"""Sums over customer groups (crm_core.metrics.retention): under a region, segment or owner filter the cohort counts,
churn counts and revenue retention are summed from all customers' figures by (region, segment, owner) group. They
must equal the same figures computed from the picked customers' own purchases (the path a channel filter and
the hand-computed tests of test_retention.py take)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from crm_core.metrics import retention as ret
from crm_core.metrics.scope import Scope
from crm_core.store import Store, TableLoad


def _figures(store, scope: Scope) -> dict:
    churned, trend = ret.churn_and_trend(store, scope, "month", 56)
    return {
        "cohorts month": ret.cohort_matrix(store, scope, "month", "customers").cells,
        "cohorts quarter": ret.cohort_matrix(store, scope, "quarter", "revenue").cells,
        "churn": pl.DataFrame([churned.__dict__]),
        "trend": trend,
        "quarter trend": ret.churn_trend(store, scope, "quarter", 91),
        "revenue month": ret.revenue_retention(store, scope, "month"),
        "revenue quarter latest": ret.revenue_retention(store, scope, "quarter", latest=True),
    }


def _from_purchases(store, scope: Scope, monkeypatch) -> dict:
    with monkeypatch.context() as m:
        m.setattr(ret, "_sums_groups", lambda sc: False)
        return _figures(store, scope)


def _assert_same(summed: dict, live: dict) -> None:
    for name, frame in live.items():
        try:
            assert_frame_equal(summed[name], frame, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    """A sample company of its own: the group sums are kept in its results table (conftest's ``sample`` is read
    only)."""
    s = Store(tmp_path_factory.mktemp("groups") / "x.duckdb")
    dataset = s.load_sample(customers=400).dataset_id
    yield s, dataset
    s.close()


def test_the_sums_over_groups_equal_the_figures_of_the_picked_customers(company, monkeypatch):
    store, dataset = company
    values = store.query("SELECT region, segment, owner FROM customers WHERE dataset_id = ? ORDER BY ALL LIMIT 1",
                         [dataset]).row(0)
    channel = store.query("SELECT min(channel) AS c FROM purchases WHERE dataset_id = ?", [dataset])["c"][0]
    scopes = [
        Scope(dataset, regions=(values[0],)),
        Scope(dataset, segments=(values[1], "a segment nobody is in")),
        Scope(dataset, owners=(values[2],)),
        Scope(dataset, regions=(values[0],), segments=(values[1],)),
        Scope(dataset, date(2025, 4, 1), date(2026, 3, 31), regions=(values[0],)),  # a window: cohorts picked by it
        Scope(dataset, None, date(2025, 11, 15), owners=(values[2],)),  # partial last month and quarter
        Scope(dataset, regions=(values[0],), channels=(channel,)),  # the groups' figures from that channel's purchases
    ]
    for scope in scopes:
        summed = _figures(store, scope)
        assert summed["cohorts month"].height > 10 and summed["trend"]["active_at_start"].sum() > 0
        _assert_same(summed, _from_purchases(store, scope, monkeypatch))
    nobody = Scope(dataset, regions=("a region nobody is in",))
    _assert_same(_figures(store, nobody), _from_purchases(store, nobody, monkeypatch))
    assert _figures(store, nobody)["cohorts month"].is_empty()


def test_a_region_sums_the_groups_found_once_for_all_customers(company, monkeypatch):
    store, dataset = company
    regions = store.query("SELECT DISTINCT region FROM customers WHERE dataset_id = ? ORDER BY 1", [dataset])["region"]
    runs, islands = [], []
    run, over = ret._run, ret.over_islands

    def counted(st, sc, name, **values):
        runs.append((name, sc.regions, values.get("grouped", False)))
        return run(st, sc, name, **values)

    def matched(st, sc, days, text, params):
        islands.append(sc.regions)
        return over(st, sc, days, text, params)

    monkeypatch.setattr(ret, "_run", counted)
    monkeypatch.setattr(ret, "over_islands", matched)
    window = Scope(dataset, date(2024, 1, 1), date(2026, 6, 30))  # a window no other test asked for
    for region in regions[:3]:
        picked = replace(window, regions=(region,))
        ret.cohort_matrix(store, picked, "month", "customers")
        ret.churn_and_trend(store, picked, "month", 70)
        ret.revenue_retention(store, picked, "quarter", latest=True)
    grouped = [r for r in runs if r[2]]
    assert sorted(r[0] for r in grouped) == ["retention_cohorts", "retention_revenue"]  # once, for all customers
    assert all(r[1] == () for r in grouped) and not [r for r in runs if r[1]]  # nothing read per region
    assert islands == [()]  # the churn counts by group: one range join over all customers' islands


def test_customers_without_the_filtered_attribute_are_never_picked(tmp_path, monkeypatch):
    # A, B North; C South without a segment; D has no row in the customers table (no region, segment, owner).
    rows = [("A", "2024-01-05", 100.0), ("A", "2024-02-10", 50.0), ("B", "2024-01-20", 200.0),
            ("C", "2024-01-25", 30.0), ("C", "2024-03-02", 30.0), ("D", "2024-01-07", 80.0), ("D", "2024-02-07", 10.0)]
    tx = pl.DataFrame({"customer_id": [r[0] for r in rows],
                       "occurred_at": [datetime.fromisoformat(r[1]).replace(hour=12) for r in rows],
                       "amount": [r[2] for r in rows], "status": ["completed"] * len(rows)})
    customers = pl.DataFrame({"customer_id": ["A", "B", "C"], "region": ["North", "North", "South"],
                              "segment": ["Retail", "Retail", None]})
    s = Store(tmp_path / "g.duckdb")
    s.load("t", [TableLoad("transactions", tx, "x.csv"), TableLoad("customers", customers, "c.csv")])
    dataset = s.dataset_id("t")
    # January cohort by hand: North = A, B (2 customers, 300); Retail = A, B; South = C; D is in no filter
    for scope, size, revenue in ((Scope(dataset, regions=("North",)), 2, 300.0),
                                 (Scope(dataset, segments=("Retail",)), 2, 300.0),
                                 (Scope(dataset, regions=("South",)), 1, 30.0),
                                 (Scope(dataset, regions=("North", "South"), segments=("Retail",)), 2, 300.0)):
        cells = ret.cohort_matrix(s, scope, "month", "customers").cells
        first = cells.filter(pl.col("age") == 0).row(0, named=True)
        assert (first["cohort"], first["cohort_size"], first["revenue"]) == (date(2024, 1, 1), size, revenue)
        _assert_same(_figures(s, scope), _from_purchases(s, scope, monkeypatch))
    s.close()


def test_the_prepared_group_sums_serve_the_first_region_of_a_new_process(tmp_path, monkeypatch):
    from crm_core import results, views
    from crm_core.metrics import facts

    s = Store(tmp_path / "w.duckdb")
    dataset = s.load_sample(customers=150).dataset_id
    default = facts.default_scope(s, dataset)
    prepared = views.compute(s, "retention_group_sums", default)  # what warm() runs after an import
    first = s.query("SELECT region, segment, owner FROM customers ORDER BY ALL LIMIT 1").row(0, named=True)
    assert prepared == {"first_group": first, "groups": s.scalar(
        "SELECT COUNT(*) FROM (SELECT DISTINCT region, segment, owner FROM customers)")}
    monkeypatch.setattr(ret, "_recent_groups", results.Recent(ret.RECENT_GROUP_SUMS))  # a new server process
    runs = []
    run, over = ret._run, ret.over_islands
    monkeypatch.setattr(ret, "_run", lambda st, sc, name, **v: runs.append(name) or run(st, sc, name, **v))
    monkeypatch.setattr(ret, "over_islands", lambda st, sc, d, t, p: runs.append("churn") or over(st, sc, d, t, p))
    region = replace(default, regions=("Europe",))
    overview = views.compute(s, "retention_overview", region)
    for period in ("month", "quarter"):
        views.compute(s, "cohorts", region, period=period, measure="customers")
    # survival and the repeat rate read the stored facts (retention_lifetimes, retention_repeat); nothing else runs
    assert sorted(runs) == ["retention_lifetimes", "retention_repeat"]
    assert overview["churn_trend"]["active_at_start"].sum() > 0
    s.close()
