"""Kept page results (crm_core/results.py) and the views that use them (crm_core/views.py).

What is checked: a kept result reads back equal to what was computed (frames with their types, dates,
dict keys that are not text, crm_core dataclasses); nothing but crm_core dataclasses can be built from a
database file; only the dataset's default scope is kept; an import forgets the results in the same
transaction, new cost rates the ones a rate enters (the others are checked to be unchanged by new rates);
a result asked for by two threads at once is computed once; ``warm`` keeps every default view so the next
call is a read.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import polars as pl
import pytest

from crm_core import results, views
from crm_core.metrics import cost, facts
from crm_core.metrics.cost import WhaleCurve
from crm_core.metrics.scope import Scope, attribute_filter, preset_window
from crm_core.store import Store, TableLoad


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "results.duckdb")
    yield s
    s.close()


@pytest.fixture
def small(store):
    ds = store.load_sample(customers=300).dataset_id
    return store, ds


def test_values_read_back_as_they_were_written():
    frame = pl.DataFrame({
        "tier": pl.Series(["A", "B"], dtype=pl.Enum(["A", "B", "C"])),
        "when": [date(2024, 1, 1), None],
        "x": [1.5, float("nan")],
    })
    whale = cost.whale_curve(pl.Series([5.0, -1.0, 2.0]))
    value = {
        "frame": frame, "series": frame["x"], 2: 0.31, (1, "a"): [None, True, "t"],
        "day": date(2025, 3, 1), "at": datetime(2025, 3, 1, 12, 30), "whale": whale, "nan": float("nan"),
    }
    back = results.decode(results.encode(value))
    assert back["frame"].equals(frame) and back["frame"].schema == frame.schema
    assert back["series"].equals(frame["x"])
    assert back[2] == 0.31 and back[(1, "a")] == [None, True, "t"]
    assert (back["day"], back["at"]) == (date(2025, 3, 1), datetime(2025, 3, 1, 12, 30))
    assert isinstance(back["whale"], WhaleCurve) and back["whale"].frame.equals(whale.frame)
    assert back["whale"].peak_share == whale.peak_share and back["nan"] != back["nan"]


def test_only_crm_core_dataclasses_are_built_from_a_payload():
    from dataclasses import dataclass

    @dataclass
    class Outside:
        x: int

    with pytest.raises(results.ResultFormatError):
        results.encode(Outside(1))
    header = b'{"format": 2, "value": {"$dataclass": "subprocess:Popen", "fields": {"args": "true"}}}'
    forged = results.MAGIC + len(header).to_bytes(8, "little") + header
    with pytest.raises(results.ResultFormatError):
        results.decode(forged)
    with pytest.raises(results.ResultFormatError):  # an object that is not data
        results.encode({"f": object()})


def test_unfiltered_scopes_are_kept_and_a_hit_is_a_read(small):
    store, ds = small
    default = facts.default_scope(store, ds)
    calls = []

    def compute():
        calls.append(1)
        return {"n": len(calls)}

    assert results.cached(store, default, "probe", {"a": 1}, compute) == {"n": 1}
    assert results.cached(store, default, "probe", {"a": 1}, compute) == {"n": 1}  # read, not computed
    assert results.cached(store, default, "probe", {"a": 2}, compute) == {"n": 2}  # other parameters
    narrower = default.with_window(default.start, date.fromordinal(default.end.toordinal() - 30))
    assert results.cached(store, narrower, "probe", {"a": 1}, compute) == {"n": 3}  # another window
    assert results.cached(store, narrower, "probe", {"a": 1}, compute) == {"n": 3}
    filtered = Scope(ds, default.start, default.end, regions=("Europe",))
    results.cached(store, filtered, "probe", {"a": 1}, compute)
    results.cached(store, filtered, "probe", {"a": 1}, compute)
    assert len(calls) == 5  # a region filter is computed every time (the app caches it in memory)
    # a channel filter changes every customer's purchases: kept under its own key, apart from the default scope's
    online = Scope(ds, default.start, default.end, channels=("Online",))
    assert results.cached(store, online, "probe", {"a": 1}, compute) == {"n": 6}
    assert results.cached(store, online, "probe", {"a": 1}, compute) == {"n": 6}
    assert results.cached(store, Scope(ds, default.start, default.end, channels=("Store",)), "probe", {"a": 1},
                          compute) == {"n": 7}
    assert results.cached(store, default, "probe", {"a": 1}, compute) == {"n": 1}
    results.cached(store, Scope(ds, default.start, default.end, regions=("Europe",), channels=("Online",)), "probe",
                   {"a": 1}, compute)
    assert len(calls) == 8 and results.kept(store, ds).height == 5


def test_the_oldest_results_beyond_the_limit_are_dropped(small):
    store, ds = small
    default = facts.default_scope(store, ds)
    for i in range(5):
        results.cached(store, default, "probe", {"i": i}, lambda i=i: i)
    results.prune(store, ds, keep=2)
    assert sorted(results.kept(store, ds)["key"].str.extract(r'"i": (\d)').cast(int).to_list()) == [3, 4]
    assert len(_payload_tables(store)) == 2


def test_new_data_or_new_cost_rates_forget_the_results(small):
    store, ds = small
    default = facts.default_scope(store, ds)
    results.cached(store, default, "probe", {}, lambda: 1)
    assert results.kept(store, ds).height == 1
    rates = cost.get_rates(store, ds).select("pool", "unit", "rate").with_columns(rate=pl.col("rate") * 2)
    cost.set_rates(store, ds, rates)
    assert results.kept(store, ds).height == 0
    results.cached(store, default, "probe", {}, lambda: 1)
    extra = pl.DataFrame({"customer_id": ["new-1"], "occurred_at": [datetime(2020, 1, 1)], "amount": [10.0]})
    store.load(store.dataset_name(ds), [TableLoad("transactions", extra, "more.csv")])  # appended
    assert results.kept(store, ds).height == 0
    assert _payload_tables(store) == []  # each payload's own table is dropped with it


def test_the_data_version_is_read_again_after_each_write_only(small, monkeypatch):
    store, ds = small
    reads = []
    real = results._data_version
    monkeypatch.setattr(results, "_data_version", lambda *a: reads.append(a) or real(*a))
    first = results.data_version(store, ds)
    assert results.data_version(store, ds) == first and results.data_version(store, ds, priced=False) != first
    assert len(reads) == 2  # one query per (dataset, priced) until a write
    rates = cost.get_rates(store, ds).select("pool", "unit", "rate").with_columns(rate=pl.col("rate") * 2)
    cost.set_rates(store, ds, rates)
    assert results.data_version(store, ds) != first  # new rates: read again
    extra = pl.DataFrame({"customer_id": ["new-1"], "occurred_at": [datetime(2020, 1, 1)], "amount": [10.0]})
    unpriced = results.data_version(store, ds, priced=False)
    store.load(store.dataset_name(ds), [TableLoad("transactions", extra, "more.csv")])
    assert results.data_version(store, ds, priced=False) != unpriced  # a new import batch
    with pytest.raises(RuntimeError), store.transaction() as cur:  # a write rolled back changes nothing
        cur.execute("DELETE FROM targets WHERE dataset_id = ?", [ds])
        raise RuntimeError("undo")
    count = len(reads)
    assert results.data_version(store, ds, priced=False) != unpriced and len(reads) == count + 1


def test_new_cost_rates_keep_the_results_no_rate_enters(small, monkeypatch):
    store, ds = small
    default = facts.default_scope(store, ds)
    views.compute(store, "cohorts", default, period="month", measure="customers")
    views.compute(store, "cost_view", default, top=views.TOP_CUSTOMERS)
    views.compute(store, "evidence", default, group="cost")
    views.compute(store, "evidence", default, group="retention")
    kept = results.kept(store, ds)  # retention evidence keeps the retention overview it reads, that its rule (and the
    # gap counts per day it comes from), and churn the activity islands it matches periods to
    assert sorted(kept["name"]) == ["activity_islands", "churn_gaps", "churn_rule", "cohorts", "cost_view",
                                    "evidence", "evidence", "retention_overview"]
    rates = cost.get_rates(store, ds).select("pool", "unit", "rate").with_columns(rate=pl.col("rate") * 3)
    cost.set_rates(store, ds, rates)
    kept = results.kept(store, ds)  # the cost view and the cost evidence are priced: dropped
    assert kept["name"].to_list() == ["activity_islands", "churn_gaps", "churn_rule", "cohorts", "evidence",
                                      "retention_overview"]
    assert '"group": "retention"' in kept["key"][4]
    monkeypatch.setitem(views.VIEWS, "cohorts", lambda *a, **k: pytest.fail("recomputed"))
    assert views.compute(store, "cohorts", default, period="month", measure="customers").height > 0


def test_the_views_kept_across_new_rates_do_not_change_with_them(small):
    # views.priced is a claim about code: each view (and evidence group) it calls rate-free computes the same
    # with other rates. One that starts using cost to serve or net profit fails here until it is called priced.
    store, ds = small
    default = facts.default_scope(store, ds)
    requests = {}  # one request per view and evidence group, as the pages make them
    for name, params in views.default_requests(default):
        requests.setdefault((name, params.get("group")), params)
    requests["average_clv", None] = {"calibration_end": default.end}  # not prepared: a previous period's
    requests["review_period", None] = {"churn_days": 30, "with_clv": True}  # asked for by the review
    requests["review_parts", None] = {"kind": "quarter"}  # the same
    free = sorted(r for r in requests if not views.priced(r[0], requests[r]))
    assert {name for name, _ in free} == set(views.RATE_FREE) | {"evidence"}
    assert {group for _, group in free if group} == set(views.RATE_FREE_EVIDENCE)
    priced = [("cost_view", None), ("evidence", "cost"), ("evidence", "headline")]
    assert all(views.priced(name, requests[name, group]) for name, group in priced)

    def computed() -> dict:
        with store.transaction() as cur:
            results.clear(cur, ds)  # nothing kept: each view (and what it reads) computed now
        return {(name, group): views.VIEWS[name](store, default, **requests[name, group])
                for name, group in [*free, *priced]}

    before = computed()
    rates = cost.get_rates(store, ds).select("pool", "unit", "rate").with_columns(rate=pl.col("rate") * 3 + 1)
    cost.set_rates(store, ds, rates)
    after = computed()
    for request in priced:  # the new rates do change what is priced
        with pytest.raises(AssertionError):
            _assert_same(before[request], after[request], str(request))
    for request in free:
        _assert_same(before[request], after[request], str(request))


def _assert_same(a, b, where: str) -> None:
    """Equal values, down into dicts, lists, dataclasses and frames; floats to 1e-9 relative (DuckDB's parallel
    sums add in any order), NaN equal to NaN."""
    import dataclasses
    import math

    from polars.testing import assert_frame_equal, assert_series_equal

    if isinstance(a, pl.DataFrame):
        assert_frame_equal(a, b, rel_tol=1e-9)
    elif isinstance(a, pl.Series):
        assert_series_equal(a, b, rel_tol=1e-9)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif dataclasses.is_dataclass(a):
        _assert_same(dataclasses.asdict(a), dataclasses.asdict(b), where)
    elif isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9), (where, a, b)
    else:
        assert a == b, (where, a, b)


def test_a_result_asked_for_twice_at_once_is_computed_once(small):
    import threading
    import time

    store, ds = small
    default = facts.default_scope(store, ds)
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.5)
        return {"n": len(calls)}

    got = []
    threads = [threading.Thread(target=lambda: got.append(results.cached(store, default, "probe", {}, slow)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and got == [{"n": 1}] * 3


def test_a_result_written_later_is_read_from_memory_until_it_is_kept(small, monkeypatch):
    # cached(..., write_later=True) returns as soon as the value is computed and writes it in a thread: meanwhile
    # get() returns that value and is_kept() says kept (nobody computes it again), the table has no row yet; then
    # the row is there and reads back equal. Store.close() waits for the write. A write that fails is logged and
    # forgotten: the result is computed again.
    import threading

    store, ds = small
    default = facts.default_scope(store, ds)
    release, real_put = threading.Event(), results.put
    monkeypatch.setattr(results, "put", lambda *a, **k: release.wait(30) and real_put(*a, **k))
    value = {"frame": pl.DataFrame({"x": [1, 2]})}
    calls = []

    def compute():
        calls.append(1)
        return value

    assert results.cached(store, default, "probe", {}, compute, write_later=True) is value
    key = results.scope_key(store, default, {})
    assert results.get(store, ds, "probe", key) is value and results.is_kept(store, ds, "probe", key)
    assert results.cached(store, default, "probe", {}, compute, write_later=True) is value and calls == [1]
    assert "probe" not in results.kept(store, ds)["name"].to_list()  # not written yet
    release.set()
    results.finish_writes(store)
    assert "probe" in results.kept(store, ds)["name"].to_list()
    back = results.get(store, ds, "probe", key)
    assert back is not value and back["frame"].equals(value["frame"])

    release.clear()
    results.cached(store, default, "probe2", {}, compute, write_later=True)
    closing = threading.Thread(target=store.close)
    closing.start()
    closing.join(0.5)
    assert closing.is_alive()  # waits for the write
    release.set()
    closing.join(30)
    assert not closing.is_alive()

    again = Store(store.path)
    monkeypatch.setattr(results, "put", lambda *a, **k: 1 / 0)
    assert results.cached(again, default, "probe3", {}, compute, write_later=True) is value
    results.finish_writes(again)
    key3 = results.scope_key(again, default, {})
    assert results.get(again, ds, "probe3", key3) is results.MISSING and not results.is_kept(again, ds, "probe3", key3)
    assert "probe2" in results.kept(again, ds)["name"].to_list()
    again.close()


def test_holdout_view_is_the_fit_s_holdout_without_frames(small):
    from crm_core.metrics import retention_view as rv

    store, ds = small
    default = facts.default_scope(store, ds)
    cal = rv.holdout_calibration_end(default.start, default.end, 3)
    light = views.holdout(store, default, cal)
    full = views.clv_fit(store, default, cal)["holdout"]
    assert light["error"] is None and set(light["holdout"]) == set(full) - {"frame"}
    assert light["holdout"]["predicted_total"] == pytest.approx(full["predicted_total"])
    assert light["holdout"]["by_bin"].equals(full["by_bin"]) and full["customers"] > 0


def test_filtered_views_are_kept_in_memory_until_the_data_change(small, monkeypatch):
    store, ds = small
    default = facts.default_scope(store, ds)
    region = store.table("customers", ds)["region"].drop_nulls().sort()[0]
    scope = Scope(ds, default.start, default.end, regions=(region,))
    calls = []
    monkeypatch.setitem(views.VIEWS, "probe", lambda s, sc, **p: calls.append(p) or {"n": len(calls)})
    assert views.compute(store, "probe", scope, x=1) == {"n": 1}
    assert views.compute(store, "probe", scope, x=1) == {"n": 1} and len(calls) == 1  # read from memory
    assert views.compute(store, "probe", scope, x=2) == {"n": 2}  # other parameters: computed
    assert results.kept(store, ds).filter(pl.col("name") == "probe").height == 0  # never in the store
    rates = cost.get_rates(store, ds).select("pool", "unit", "rate").with_columns(rate=pl.col("rate") * 2)
    cost.set_rates(store, ds, rates)  # new data version: computed again
    assert views.compute(store, "probe", scope, x=1) == {"n": 3}


def _payload_tables(store) -> list[str]:
    return store.query(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'result\\_%' ESCAPE '\\'"
    )["table_name"].to_list()


def test_a_results_table_of_the_first_format_is_replaced(tmp_path):
    # The first format kept payloads in a column of the results table; a file with it opens, and keeps
    # results again in the current format.
    path = tmp_path / "old.duckdb"
    with Store(path) as s:
        s.con.execute("DROP TABLE results")
        s.con.execute("CREATE TABLE results (dataset_id INTEGER, name VARCHAR, key VARCHAR, payload BLOB, "
                      "seconds DOUBLE, created_at TIMESTAMP)")
    with Store(path) as s:
        ds = s.load_sample(customers=100).dataset_id
        default = facts.default_scope(s, ds)
        assert results.cached(s, default, "probe", {}, lambda: {"x": 1}) == {"x": 1}
        assert results.kept(s, ds)["name"].to_list() == ["probe"] and len(_payload_tables(s)) == 1


def test_a_results_table_without_the_priced_column_is_replaced_with_its_payloads(tmp_path):
    # Files kept before results said whether a rate enters them: the table and its payload tables go.
    path = tmp_path / "older.duckdb"
    with Store(path) as s:
        ds = s.load_sample(customers=100).dataset_id
        results.cached(s, facts.default_scope(s, ds), "probe", {}, lambda: {"x": 1})
        s.con.execute("ALTER TABLE results DROP COLUMN priced")
        assert len(_payload_tables(s)) == 1
    with Store(path) as s:
        assert results.kept(s, ds).height == 0 and _payload_tables(s) == []
        assert results.cached(s, facts.default_scope(s, ds), "probe", {}, lambda: {"x": 2}) == {"x": 2}


def test_warm_keeps_every_default_view_and_pages_then_read_them(small, monkeypatch):
    store, ds = small
    held = views.results.Recent(views.RECENT_ALL_CUSTOMERS)
    monkeypatch.setattr(views, "_all_customers", held)
    seconds = views.warm(store, ds)
    assert not held._values  # kept in the store, not held in memory for filters nobody has set
    default = facts.default_scope(store, ds)
    requested = views.default_requests(default)

    def kept_view(scope, name, params) -> bool:
        return results.is_kept(store, ds, name, results.scope_key(store, scope, params, views.priced(name, params)))

    # every requested view is kept; those a view computed on the way (the CLV fit of the segment features) are
    # not computed again, and a second warm computes nothing
    assert all(kept_view(default, name, params) for name, params in requested)
    assert 0 < len(seconds) <= len(requested) and views.warm(store, ds) == {}
    # the slow views (the review of the latest quarter, on the whole history as its page asks) only with slow=True
    review = ("review", {"kind": "quarter"})
    assert views.SLOW_REQUESTS == (review,) and not kept_view(Scope(ds), *review)
    slow = list(views.warm(store, ds, slow=True))
    assert slow[-1] == "review kind=quarter" and kept_view(Scope(ds), *review)
    # the four pages' views of each channel and of the last 12 months (the next tests)
    assert slow[:-1] and all(label.endswith(tuple(f" channel={c}" for c in ("Online", "Partner", "Phone", "Store")))
                             or " window=" in label for label in slow[:-1])
    # every kept view reads back equal to a fresh computation
    fresh = views.portfolio(store, default)
    kept = views.compute(store, "portfolio", default)
    assert kept["summary"] == fresh["summary"] and kept["abc"].equals(fresh["abc"])
    kept_top = views.compute(store, "portfolio_top", default, top=views.TOP_CUSTOMERS)
    assert kept_top.equals(views.portfolio_top(store, default)) and kept_top.height == views.TOP_CUSTOMERS
    # ... and is read, not computed, afterwards
    monkeypatch.setitem(views.VIEWS, "segmentation", lambda *a, **k: pytest.fail("recomputed"))
    assert views.compute(store, "segmentation", default, k="auto")["k"] >= 2
    # every k the Differentiate page offers is prepared: choosing one is a read
    for k in views.SEGMENT_KS:
        assert views.compute(store, "segmentation", default, k=k)["k"] == k


def test_warm_keeps_the_four_pages_views_of_each_channel(small, monkeypatch):
    # A channel filter changes each customer's purchases, so nothing of the default scope serves it: warm(slow=True)
    # keeps the views the pages open with for each channel, and a page's channel filter reads them.
    store, ds = small
    views.warm(store, ds, slow=True)
    default = facts.default_scope(store, ds)
    channels = views.channel_scopes(store, default)
    assert [c.channels for c in channels] == [("Online",), ("Partner",), ("Phone",), ("Store",)]
    assert all((c.start, c.end, c.picks_customers) == (default.start, default.end, False) for c in channels)
    for scope in channels:
        for name, params in views.channel_requests(scope):
            assert results.is_kept(store, ds, name, results.scope_key(store, scope, params, views.priced(name, params)))
    # the other choices of k, the scorecards' evidence and the other holdouts are left to when they are asked for
    names = {(name, params.get("k")) for name, params in views.channel_requests(default)}
    assert ("segmentation", "auto") in names and ("segmentation", 3) not in names and ("evidence", None) not in names
    assert [n for n, _ in views.channel_requests(default)].count("holdout") == 1
    # what is kept for a channel is that channel's figures, equal to computing them now ...
    online = channels[0]
    fresh, whole = views.portfolio(store, online), views.compute(store, "portfolio", default)
    monkeypatch.setitem(views.VIEWS, "portfolio", lambda *a, **k: pytest.fail("recomputed"))
    kept = views.compute(store, "portfolio", online)
    assert kept["summary"] == fresh["summary"] and kept["abc"].equals(fresh["abc"])
    assert 0 < kept["summary"]["revenue"] < whole["summary"]["revenue"]
    # ... and a region with it picks its customers out of the channel's kept views, not the default scope's
    monkeypatch.setattr("crm_core.metrics.clv.fit_clv", lambda *a, **k: pytest.fail("fitted again"))
    region = store.table("customers", ds)["region"].drop_nulls().sort()[0]
    picked = views.compute(store, "clv_scores", Scope(ds, default.start, default.end, regions=(region,),
                                                      channels=online.channels),
                           calibration_end=views.calibration_end(default, (default.start, default.end)))
    whole_fit = views.compute(store, "clv_fit", online, calibration_end=views.calibration_end(default, (
        default.start, default.end)))["frame"]
    chosen = store.table("customers", ds).filter(pl.col("region") == region)["customer_id"]
    assert picked["error"] is None and 0 < picked["frame"].height < whole_fit.height
    assert picked["frame"].equals(whole_fit.filter(pl.col("customer_id").is_in(chosen.implode())).select(
        picked["frame"].columns))
    # what warm keeps with the most channels it prepares leaves the kept results room for other windows (~25 each)
    most = results.kept(store, ds).height + (views.PRESET_CHANNELS_MAX - len(channels)) * len(
        views.channel_requests(online))
    assert most + 6 * 25 <= results.KEEP_PER_DATASET
    # a dataset with more channels than PRESET_CHANNELS_MAX has none prepared (each would cost the pages' fits)
    monkeypatch.setattr(views, "PRESET_CHANNELS_MAX", 3)
    assert views.channel_scopes(store, default) == []


def test_warm_keeps_the_quick_periods_and_the_previous_period_their_cards_compare_with(small, monkeypatch):
    # The sidebar's quick periods are prepared with the slow views: their four pages' views, and the previous period's
    # KPIs the cards compare with, so every choice of the Period is a read.
    store, ds = small
    views.warm(store, ds, slow=True)
    default = facts.default_scope(store, ds)
    assert views.PREPARED_PERIODS == ("Last 12 months", "Last 6 months", "Last 3 months")
    year, half, quarter = views.period_scopes(default)
    after_a_year_before = date(default.end.year - 1, default.end.month, default.end.day) + timedelta(days=1)
    assert (year.start, year.end, year.filtered) == (after_a_year_before, default.end, False)
    assert (half.start, half.end) == preset_window((default.start, default.end), 6)
    assert (quarter.start, quarter.end) == preset_window((default.start, default.end), 3)
    for period in (half, quarter):
        for where, name, params in views.period_requests(store, period, (default.start, default.end)):
            params = params() if callable(params) else params
            key = results.scope_key(store, views.canonical_scope(store, name, where), params, views.priced(name, params))
            assert results.is_kept(store, ds, name, key), (period, name)
    previous = year.previous()
    requests = views.period_requests(store, year, (default.start, default.end))
    assert {(where, name) for where, name, _ in requests if where == previous} == {
        (previous, "identify"), (previous, "buyer_count"), (previous, "portfolio_kpis"), (previous, "cost_view"),
        (previous, "retention_overview"), (previous, "average_clv")}
    churn_days = views.compute(store, "retention_overview", year)["churn_days"]
    for where, name, params in requests:
        params = params() if callable(params) else params
        if where == previous and name == "retention_overview":
            assert params == {"inactivity_days": churn_days}  # the window's rule, as the Retention page asks
        where = views.canonical_scope(store, name, where)
        assert results.is_kept(store, ds, name, results.scope_key(store, where, params, views.priced(name, params)))
    fresh = views.portfolio(store, year)
    monkeypatch.setitem(views.VIEWS, "portfolio", lambda *a, **k: pytest.fail("recomputed"))
    monkeypatch.setitem(views.VIEWS, "portfolio_kpis", lambda *a, **k: pytest.fail("recomputed"))
    kept = views.compute(store, "portfolio", year)
    assert kept["summary"] == fresh["summary"] and kept["abc"].equals(fresh["abc"])
    assert views.compute(store, "portfolio_kpis", previous) == views.portfolio_kpis(store, previous)
    # a dataset of a year has no such year apart from its whole span, only the 6 and 3 months
    assert views.period_scopes(default.with_window(year.start, default.end)) == [half, quarter]


def test_warm_scope_keeps_the_pages_of_a_window_picked_by_hand(small, monkeypatch):
    # Dates picked by hand are prepared by nobody: warm_scope keeps the four pages' views of the window (without its
    # region filter, which picks from them) and the previous period's KPIs, the region-only sums last; the pages
    # then read them.
    store, ds = small
    default = facts.default_scope(store, ds)
    assert views.scope_requests(store, default) == []  # warm keeps the default scope
    assert views.scope_requests(store, Scope(ds, regions=("North",))) == []  # an open window: nothing to pick
    picked = default.with_window(default.end - timedelta(days=219), default.end - timedelta(days=20))
    region = store.table("customers", ds)["region"].drop_nulls().sort()[0]
    requests = views.scope_requests(store, replace(picked, regions=(region,)))
    assert requests and {where for where, _, _ in requests} == {picked, picked.previous()}
    assert {(where, name) for where, name, _ in requests} == {
        (where, name) for where, name, _ in views.period_requests(store, picked, (default.start, default.end))}
    # page by page, the quickest first, each page's previous-period KPIs after its own views, region sums last
    order = [(name, where == picked) for where, name, _ in requests]
    assert order[:7] == [(n, True) for n in ("buyer_count", "portfolio_kpis", "portfolio", "portfolio_rfm",
                                             "portfolio_quadrants", "portfolio_top", "top_scores")]
    assert order[7:10] == [("buyer_count", False), ("portfolio_kpis", False), ("cost_view", True)]
    assert order.index(("cost_view", False)) < order.index(("churn_rule", True))
    assert order.index(("average_clv", False)) < order.index(("segmentation", True))
    assert {name for name, _ in order[-2:]} == {"segment_group_sums", "retention_group_sums"}
    seconds = views.warm_scope(store, replace(picked, regions=(region,)))
    assert seconds and any(" window=" in label for label in seconds)  # the previous period's views are named
    for where, name, params in requests:
        params = params() if callable(params) else params
        where = views.canonical_scope(store, name, where)
        assert results.is_kept(store, ds, name, results.scope_key(store, where, params, views.priced(name, params)))
    assert views.warm_scope(store, picked) == {}  # all kept: nothing computed again
    fresh = views.segmentation(store, picked, k="auto")
    monkeypatch.setitem(views.VIEWS, "segmentation", lambda *a, **k: pytest.fail("recomputed"))
    kept = views.compute(store, "segmentation", picked, k="auto")
    assert kept["k"] == fresh["k"] and kept["profile"].equals(fresh["profile"])
    assert kept["labels"].equals(fresh["labels"])


def test_previous_requests_are_what_each_page_compares_with(small):
    # What the Retention and Cost pages compute beside their own views (ui.data.compute_ahead): the previous
    # period's views of period_requests their KPI cards read, those found from the window's own views last.
    store, ds = small
    default = facts.default_scope(store, ds)
    span = (default.start, default.end)
    picked = default.with_window(default.end - timedelta(days=199), default.end)
    previous = picked.previous()
    retention = views.previous_requests(store, picked, span, "retention")
    assert [(where, name) for where, name, _ in retention] == [(previous, "average_clv"),
                                                               (previous, "retention_overview")]
    assert retention[0][2] == {"calibration_end": previous.end}  # the page's calibration_end(previous, span)
    churn_days = views.compute(store, "retention_overview", picked)["churn_days"]
    assert retention[1][2]() == {"inactivity_days": churn_days}  # the window's own rule
    assert views.previous_requests(store, picked, span, "cost_to_serve") == [
        (previous, "cost_view", {"top": views.TOP_CUSTOMERS})]
    assert [name for _, name, _ in views.previous_requests(store, picked, span, "portfolio")] == [
        "buyer_count", "portfolio_kpis"]
    assert views.previous_requests(store, default, span, "retention") == []  # begins before the data
    assert views.previous_requests(store, Scope(ds), span, "retention") == []  # an open window


def test_segment_features_fit_the_clv_models_alone_when_no_fit_is_kept(small, monkeypatch):
    # A window whose end moved has no kept CLV fit: the features fit the models alone (no holdout, value to date or
    # at-risk list, which only the Retention page draws), the same CLV as the clv_fit view's.
    store, ds = small
    default = facts.default_scope(store, ds)
    moved = default.with_window(default.start + timedelta(days=30), default.end - timedelta(days=45))
    assert not views.is_kept(store, "clv_fit", moved, calibration_end=moved.end)
    real = views.VIEWS["clv_fit"]
    monkeypatch.setitem(views.VIEWS, "clv_fit", lambda *a, **k: pytest.fail("the whole fit computed"))
    alone = views.segment_features(store, moved)
    monkeypatch.setitem(views.VIEWS, "clv_fit", real)
    assert not views.is_kept(store, "clv_fit", moved, calibration_end=moved.end)
    views.compute(store, "clv_fit", moved, calibration_end=moved.end)
    assert views.is_kept(store, "clv_fit", moved, calibration_end=moved.end)
    monkeypatch.setattr(views, "_clv_alone", lambda *a: pytest.fail("fitted again"))
    from_fit = views.segment_features(store, moved)
    assert alone["clv"].drop_nulls().len() > 0 and alone.equals(from_fit)
    views.compute(store, "clv_scores", moved, calibration_end=moved.end)  # kept: read instead of the fit's frame
    asked = []
    real_compute = views.compute
    monkeypatch.setattr(views, "compute", lambda store, name, *a, **k: asked.append(name) or real_compute(
        store, name, *a, **k))
    assert views.segment_features(store, moved).equals(alone) and asked == ["clv_scores"]
    assert not views.is_kept(store, "clv_fit", replace(moved, regions=("North",)), calibration_end=moved.end)


def test_segment_features_take_the_kept_clv_fit(small):
    # The view joins the kept CLV fit instead of fitting again: the same features as fitting in place.
    from crm_core.metrics import differentiate

    store, ds = small
    default = facts.default_scope(store, ds)
    views.compute(store, "clv_fit", default, calibration_end=default.end)
    assert views.is_kept(store, "clv_fit", default, calibration_end=default.end)
    via_view = views.segment_features(store, default)
    assert "clv" in via_view.columns and via_view["clv"].drop_nulls().len() > 0
    assert via_view.equals(differentiate.segment_features(store, default))
    report = views.segmentation(store, default, k=3)
    assert report["k"] == 3 and report["profile"]["customers"].sum() == via_view.height
    # the kept report holds a segment id and CLV tier per customer; the members frame is rebuilt equal
    assert "members" not in report and report["labels"].height == via_view.height
    rebuilt = views.with_members(report, views.member_details(store, default))["members"]
    direct = differentiate.segment_report(store, default, 3)["members"]
    assert rebuilt.columns == direct.columns and rebuilt.equals(direct)
    assert rebuilt["segment"].n_unique() == 3 and rebuilt["clv_tier"].null_count() < rebuilt.height
    # the customer lists the page shows: one segment's rows, or the first rows, picked before anything is copied
    details = views.member_details(store, default)
    for segment in [None, *report["profile"]["segment"].to_list(), "no such segment"]:
        wanted = rebuilt if segment is None else rebuilt.filter(pl.col("segment") == segment)
        for limit in (None, 0, 7, 10_000):
            got = views.members(report, details, segment, limit)
            assert got.equals(wanted if limit is None else wanted.head(limit)), (segment, limit)
        count = report["profile"].filter(pl.col("segment") == segment)["customers"].sum() if segment else None
        assert segment is None or wanted.height == count  # the page counts a list from the profile


def test_views_send_light_results(small):
    # The Portfolio view thins the Pareto curve and samples the quadrant scatter, counting everyone.
    store, ds = small
    p = views.portfolio(store, Scope(ds))
    assert p["curve"].height <= views.CURVE_POINTS + 1
    q = views.portfolio_quadrants(store, Scope(ds))
    assert q["quadrant_count"] == p["customers"] and q["quadrants"].height <= q["quadrant_count"]
    assert p["curve"]["value_share"][-1] == pytest.approx(1.0)


def test_retention_clv_and_headline_evidence_share_the_pages_views(small, monkeypatch):
    # The evidence view takes the retention summary and the CLV fit the Retention page keeps (and the Cost page's
    # cost per customer for the headline group); the values are
    # those the evidence module computes on its own (frameworks/evidence.py), on the default scope, a
    # filtered one and a window without purchases.

    from crm_core.frameworks import evidence as ev

    store, ds = small
    default = facts.default_scope(store, ds)
    region = store.table("customers", ds)["region"].drop_nulls().sort()[0]
    after = default.with_window(default.end + timedelta(days=400), default.end + timedelta(days=500))
    for scope in (default, Scope(ds, default.start, default.end, regions=(region,)), after):
        for group in ("retention", "clv", "headline"):
            _assert_same(views.evidence(store, scope, group), ev.group_values(store, scope, group), group)
    assert ev.group_values(store, default, "clv")["avg_clv"] is not None
    # ... and reads them: kept after the first call, no fit and no retention summary again
    monkeypatch.setattr("crm_core.metrics.clv.fit_clv", lambda *a, **k: pytest.fail("fitted again"))
    monkeypatch.setattr("crm_core.metrics.retention.retention_summary", lambda *a, **k: pytest.fail("again"))
    monkeypatch.setattr("crm_core.metrics.retention.churn", lambda *a, **k: pytest.fail("churn again"))
    monkeypatch.setattr("crm_core.metrics.retention.repeat_purchase_rate", lambda *a, **k: pytest.fail("again"))
    monkeypatch.setattr("crm_core.metrics.cost.cost_to_serve", lambda *a, **k: pytest.fail("costed again"))
    views.compute(store, "evidence", default, group="clv")
    views.compute(store, "evidence", default, group="retention")
    views.compute(store, "evidence", default, group="headline")


def test_the_average_clv_view_is_the_clv_fits_average(small):
    # The previous period's KPI change needs the fit's average alone: the same models without the holdout,
    # the at-risk list and the grids, so the same number; a later window start changes nothing (START_FREE).
    store, ds = small
    default = facts.default_scope(store, ds)
    cal = default.end.replace(day=1)
    full = views.clv_fit(store, default, cal)
    assert full["error"] is None and full["holdout"] is not None  # the full fit checks the months after cal
    lean = views.average_clv(store, default, cal)
    assert lean == {"error": None, "avg_clv": pytest.approx(full["avg_clv"], rel=1e-12)}
    later = default.with_window(default.start.replace(year=default.start.year + 1), cal)
    assert views.compute(store, "average_clv", later, calibration_end=cal)["avg_clv"] == pytest.approx(
        full["avg_clv"], rel=1e-12)
    assert views.canonical_scope(store, "average_clv", later).start == default.start


def test_the_clv_scores_view_is_the_fits_per_customer_columns(small):
    # The drill-down looks one customer up in clv_scores, kept apart from the fit so that a session reads half
    # as much: the fit's own values, kept and read back equal, and a later window start reads the same one.
    store, ds = small
    default = facts.default_scope(store, ds)
    cal = default.end.replace(day=1)
    full = views.compute(store, "clv_fit", default, calibration_end=cal)
    kept = views.compute(store, "clv_scores", default, calibration_end=cal)
    assert kept["error"] is None and kept["frame"].columns == ["customer_id", "p_alive", "expected_purchases", "clv"]
    assert kept["frame"].equals(full["frame"].select(kept["frame"].columns)) and kept["frame"].height > 0
    assert results.is_kept(store, ds, "clv_scores", results.scope_key(store, default, {"calibration_end": cal},
                                                                      False))
    later = default.with_window(default.start.replace(year=default.start.year + 1), cal)
    assert views.compute(store, "clv_scores", later, calibration_end=cal)["frame"].equals(kept["frame"])
    tiny = Scope(ds, default.start, default.start)  # one day of history: the models cannot be fitted
    assert views.clv_scores(store, tiny, default.start)["error"]


def test_top_scores_are_the_top_customers_rows_of_the_scores_of_the_whole_dataset(small, monkeypatch):
    # The drill-down of the Top customers tab shows one top customer's CLV and P(alive), from the models of the
    # whole dataset whatever the filters: top_scores is clv_scores (default scope) at the ids of portfolio_top
    # (the filtered scope), kept for the default scope so that the tab reads 25 rows, not every customer's.
    store, ds = small
    default = facts.default_scope(store, ds)
    cal = default.end.replace(day=1)
    scores = views.compute(store, "clv_scores", default, calibration_end=cal)["frame"]
    region = store.table("customers", ds)["region"].drop_nulls().mode().sort()[0]
    channel = store.table("transactions", ds)["channel"].drop_nulls().mode().sort()[0]
    for where in (default, Scope(ds, default.start, default.end, regions=(region,)),
                  Scope(ds, default.start, default.end, channels=(channel,)), default.with_window(cal, default.end)):
        top = views.portfolio_top(store, where, top=10)
        got = views.compute(store, "top_scores", where, calibration_end=cal, top=10)
        assert got["error"] is None and got["frame"].height > 0
        expected = scores.filter(pl.col("customer_id").is_in(top["customer_id"].implode()))
        assert got["frame"].sort("customer_id").equals(expected.sort("customer_id")), where
        assert set(got["frame"]["customer_id"]) <= set(top["customer_id"])
        assert got["frame"]["clv"].is_not_null().all()
    assert results.is_kept(store, ds, "top_scores", results.scope_key(
        store, default, {"calibration_end": cal, "top": 10}, False))
    with monkeypatch.context() as m:  # read back, not computed again from the scores of every customer
        m.setitem(views.VIEWS, "top_scores", lambda *a, **k: pytest.fail("computed again"))
        assert views.compute(store, "top_scores", default, calibration_end=cal, top=10)["frame"].height > 0
    tiny = Scope(ds, default.start, default.start)  # one day of history: the models cannot be fitted
    assert views.top_scores(store, tiny, default.start)["error"]


def test_a_region_reads_its_clv_value_and_churn_rule_from_the_views_of_all_customers(small, monkeypatch):
    # Region, segment and owner filters pick customers (clv.fit_clv's notes, retention.default_churn_window): the
    # views take their customers' rows of the kept views of all customers, equal to the metrics computed in
    # place on the filtered scope, without fitting, valuing or deriving the rule again.
    from crm_core.metrics import clv, retention
    from crm_core.metrics import retention_view as rv

    store, ds = small
    default = facts.default_scope(store, ds)
    region = store.table("customers", ds)["region"].drop_nulls().mode().sort()[0]
    owner = store.table("customers", ds)["owner"].drop_nulls().mode().sort()[0]
    cal = default.end.replace(day=1)
    for name, params in (("clv_fit", {"calibration_end": cal}), ("clv_scores", {"calibration_end": cal}),
                         ("historical_value", {}), ("churn_rule", {})):
        views.compute(store, name, default, **params)
    for picked in (Scope(ds, default.start, default.end, regions=(region,)),
                   Scope(ds, default.start, default.end, regions=(region,), owners=(owner,))):
        with monkeypatch.context() as m:
            m.setattr(clv, "fit_clv", lambda *a, **k: pytest.fail("fitted again"))
            m.setattr(clv, "historical_clv", lambda *a, **k: pytest.fail("valued again"))
            m.setattr(retention, "_run", lambda *a, **k: pytest.fail("rule derived again"))
            fit = views.compute(store, "clv_fit", picked, calibration_end=cal)
            value = views.compute(store, "historical_value", picked)
            rule = views.compute(store, "churn_rule", picked)
            average = views.compute(store, "average_clv", picked, calibration_end=cal)
        result = clv.fit_clv(store, picked, cal)
        assert 0 < fit["customers"] == result.customers < views.compute(store, "clv_fit", default,
                                                                         calibration_end=cal)["customers"]
        _assert_same(fit["frame"], result.frame, "frame")
        _assert_same(fit["holdout"]["frame"], result.holdout.frame, "holdout")
        for key in ("predicted_total", "actual_total", "mae", "relative_error", "customers", "days", "start", "end"):
            _assert_same(fit["holdout"][key], getattr(result.holdout, key), key)
        assert fit["avg_clv"] == pytest.approx(rv.average_clv(result.frame)) == pytest.approx(average["avg_clv"])
        _assert_same(value, clv.historical_clv(store, picked), "value to date")
        _assert_same(fit["at_risk"], rv.at_risk_customers(result.frame, value), "at risk")
        assert rule == retention.default_churn_window(store, picked) == retention.default_churn_window(store, default)
    nobody = Scope(ds, default.start, default.end, regions=("nowhere",))
    nothing = views.compute(store, "clv_fit", nobody, calibration_end=cal)
    assert "No customer of the filters (region: nowhere)" in nothing["error"]
    assert views.compute(store, "average_clv", nobody, calibration_end=cal) == {"error": nothing["error"]}


def test_a_filter_s_average_clv_adds_up_the_clv_of_its_customers_groups(small, monkeypatch):
    # A region, segment or owner filter's Average CLV card adds up the kept CLV sums of its (region, segment,
    # owner) groups instead of reading the scores of every customer: the same average as the mean of its
    # customers' scores computed by hand, for one region, two, a region and an owner, and a segment; and when
    # there are too many groups to keep, the scores are read as before, the same figure.
    from crm_core.metrics import retention

    store, ds = small
    default = facts.default_scope(store, ds)
    cal = default.end.replace(day=1)
    scores = views.compute(store, "clv_scores", default, calibration_end=cal)["frame"]
    people = store.table("customers", ds).select("customer_id", "region", "segment", "owner")
    sums = views.compute(store, "clv_group_sums", default, calibration_end=cal)["frame"]
    assert sums["customers"].sum() == scores.join(people, on="customer_id", how="semi").height
    with monkeypatch.context() as m:
        m.setattr(retention, "MAX_GROUPS", sums.height - 1)
        assert views.clv_group_sums(store, default, cal) == {"error": None, "frame": None}
    assert results.is_kept(store, ds, "clv_group_sums", results.scope_key(store, default, {"calibration_end": cal},
                                                                          False))
    regions = people["region"].drop_nulls().unique().sort()
    owner = people.filter(pl.col("region") == regions[0])["owner"].drop_nulls().mode().sort()[0]
    segment = people["segment"].drop_nulls().mode().sort()[0]
    for pick in ({"regions": (regions[0],)}, {"regions": tuple(regions[:2])},
                 {"regions": (regions[0],), "owners": (owner,)}, {"segments": (segment,)}):
        scope = Scope(ds, default.start, default.end, **pick)
        chosen = people.filter(attribute_filter(scope))
        by_hand = scores.join(chosen, on="customer_id", how="semi")["clv"].mean()
        assert by_hand is not None
        with monkeypatch.context() as m:  # the sums alone: the scores of all customers are not read
            m.setattr(views, "compute", lambda store, name, *a, real=views.compute, **k: (
                pytest.fail("scores read") if name == "clv_scores" else real(store, name, *a, **k)))
            got = views.average_clv(store, scope, cal)
        assert got == {"error": None, "avg_clv": pytest.approx(by_hand, rel=1e-12)}, pick
        with monkeypatch.context() as m:  # too many groups: no sums, the chosen customers' rows of the scores
            m.setattr(views, "of_all_customers", lambda store, name, scope, real=views.of_all_customers, **params: (
                {"error": None, "frame": None} if name == "clv_group_sums" else real(store, name, scope, **params)))
            assert views.average_clv(store, scope, cal) == {"error": None,
                                                           "avg_clv": pytest.approx(by_hand, rel=1e-12)}, pick


def test_a_region_is_shown_in_the_segments_of_all_customers(small, monkeypatch):
    # Region, segment and owner filters show their customers in the kept segmentation of all customers
    # (views._segments_of_chosen): no k-means fit, each customer's segment as without the filter, and the sizes,
    # profile means, CLV tiers and intensity counted by hand over the region's customers.
    from crm_core.metrics import differentiate
    from crm_core.models import segments

    store, ds = small
    default = facts.default_scope(store, ds)
    region = store.table("customers", ds)["region"].drop_nulls().mode().sort()[0]
    picked = Scope(ds, default.start, default.end, regions=(region,))
    ids = store.table("customers", ds).filter(pl.col("region") == region)["customer_id"].implode()
    features = views.compute(store, "segment_features", default)
    for k in ("auto", 3):
        whole = views.with_members(views.compute(store, "segmentation", default, k=k),
                                   views.compute(store, "member_details", default))
        with monkeypatch.context() as m:
            m.setattr(segments.KMeansSegmenter, "fit", lambda *a, **kw: pytest.fail("segmented again"))
            m.setattr(differentiate, "segment_features", lambda *a, **kw: pytest.fail("features again"))
            report = views.compute(store, "segmentation", picked, k=k)
            details = views.compute(store, "member_details", picked)
        mine = whole["members"].filter(pl.col("customer_id").is_in(ids))
        got = views.members(report, details)
        assert 0 < got.height == mine.height < whole["members"].height
        assert got.select("customer_id", "segment_id", pl.col("segment").cast(pl.String)).sort("customer_id").equals(
            mine.select("customer_id", "segment_id", pl.col("segment").cast(pl.String)).sort("customer_id"))
        assert (report["k"], report["silhouette"], report["silhouette_by_k"]) == (
            whole["k"], whole["silhouette"], whole["silhouette_by_k"])
        assert report["customers"] == details.height and report["skipped"] == details.height - mine.height
        by_hand = (mine.select("customer_id", "segment_id").join(features, on="customer_id")
                   .group_by("segment_id").agg(pl.len().alias("n"), pl.col("monetary").sum().alias("revenue"),
                                               pl.col("frequency").mean().alias("mean_frequency")).sort("segment_id"))
        profile = report["profile"].join(by_hand, on="segment_id", how="inner")
        assert profile.height == by_hand.height and (profile["customers"] == profile["n"]).all()
        assert profile["revenue"].to_list() == pytest.approx(profile["revenue_right"].to_list())
        assert profile["mean_frequency"].to_list() == pytest.approx(profile["mean_frequency_right"].to_list())
        assert report["profile"]["customer_share"].sum() == pytest.approx(1.0)
        assert report["profile"]["action"].equals(whole["profile"]["action"])  # the company's actions
        tiers = mine.group_by("clv_tier").len().sort("clv_tier")
        assert dict(zip(report["tiers"]["tier"].cast(pl.String), report["tiers"]["customers"], strict=True)) == dict(
            zip(tiers["clv_tier"].cast(pl.String), tiers["len"], strict=True))
        assert report["intensity"]["customers"].sum() == mine.height
    # each row of the region's customer list is the customer's own figures, as computed for the region in place
    direct = differentiate.member_details(store, picked, differentiate.segment_features(store, picked))
    _assert_same(details.sort("customer_id"), direct.sort("customer_id"), "member details")


def test_a_filter_picks_the_member_rows_of_its_customers_by_their_kept_groups(small, monkeypatch):
    # A region, segment or owner filter picks its rows of the member details of all customers by their groups
    # (member_groups, kept in their order) instead of testing each id against the filter's customers: the same
    # rows as the ids the customers table gives for the filter, for one region, two, a region and an owner, a
    # segment and a region nobody is in; a customer missing from the customers table is in no group.
    from crm_core.metrics.scope import chosen_customers

    store, ds = small
    default = facts.default_scope(store, ds)
    every = views.compute(store, "member_details", default)
    with store.transaction() as cur:  # the first member without a region: no region filter picks it
        cur.execute("UPDATE customers SET region = NULL WHERE dataset_id = ? AND customer_id = ?",
                    [ds, every["customer_id"][0]])
    groups = views.compute(store, "member_groups", default)
    assert groups["region"][0] is None
    assert groups.columns == ["region", "segment", "owner"] and groups.height == every.height
    people = store.table("customers", ds)
    regions = people["region"].drop_nulls().unique().sort()
    owner = people.filter(pl.col("region") == regions[0])["owner"].drop_nulls().mode().sort()[0]
    segment = people["segment"].drop_nulls().mode().sort()[0]
    for pick in ({"regions": (regions[0],)}, {"regions": tuple(regions[:2])},
                 {"regions": (regions[0],), "owners": (owner,)}, {"segments": (segment,)}, {"regions": ("nowhere",)}):
        scope = Scope(ds, default.start, default.end, **pick)
        with monkeypatch.context() as m:
            m.setattr(views, "chosen_customers", lambda *a, **k: pytest.fail("ids asked for"))
            mask = views.picked_members(store, scope)
            details = views.compute(store, "member_details", scope)
        by_ids = every["customer_id"].is_in(chosen_customers(store, scope)["customer_id"].implode())
        assert mask.dtype == pl.Boolean and mask.null_count() == 0 and mask.equals(by_ids, check_names=False), pick
        assert details.equals(every.filter(by_ids)), pick
        assert (details.height > 0) is (pick != {"regions": ("nowhere",)})
    assert results.is_kept(store, ds, "member_groups", results.scope_key(store, default, {}, False))


def test_a_filters_segment_profile_adds_up_the_sums_of_its_groups(small, monkeypatch):
    # The profile of a filter's customers in the segments of all customers is the profile of their features
    # (segments.segment_profile over their rows), from the kept sums per group without reading any features.
    from polars.testing import assert_frame_equal

    from crm_core.models import segments

    store, ds = small
    default = facts.default_scope(store, ds)
    customers = store.table("customers", ds)
    first = customers.sort("customer_id").row(0, named=True)
    features = views.compute(store, "segment_features", default)
    for k in ("auto", 3):
        views.compute(store, "segment_group_sums", default, k=k)  # as warm() keeps them
        whole = views.with_members(views.compute(store, "segmentation", default, k=k),
                                   views.compute(store, "member_details", default))
        used = list(whole["features"])
        real = views.compute
        with monkeypatch.context() as m:
            m.setattr(views, "compute", lambda st, name, sc, **p: pytest.fail("features read")
                      if name == "segment_features" else real(st, name, sc, **p))
            region, owner = (first["region"],), (first["owner"],)
            for filters in ({"regions": region}, {"segments": (first["segment"], "nobody's")}, {"owners": owner},
                            {"regions": region, "owners": owner}):
                report = views.compute(store, "segmentation", Scope(ds, default.start, default.end, **filters), k=k)
                chosen = customers.filter(*[pl.col(c[:-1]).is_in(v) for c, v in filters.items()])["customer_id"]
                mine = whole["members"].filter(pl.col("customer_id").is_in(chosen.implode()))
                fitted = features.join(mine.select("customer_id", "segment_id"), on="customer_id").select(
                    "segment_id", *[pl.col(c).cast(pl.Float64) for c in dict.fromkeys([*used, "monetary"])]
                ).with_columns(pl.col(c).fill_null(0.0) for c in used if c.startswith("share_"))
                expected = segments.segment_profile(
                    fitted, used, whole["profile"].select("segment_id", "segment", "silhouette", "action"))
                assert 0 < report["customers"] < whole["members"].height
                assert_frame_equal(report["profile"], expected, check_exact=False, rel_tol=1e-9)


def test_a_window_moving_only_its_start_reads_the_default_scopes_clv_views(small, monkeypatch):
    # The CLV models calibrate on the whole filtered history up to their calibration end, value to date and the
    # churn rule's purchase gaps run up to the window end, and the holdout check ignores the window: a later
    # start changes none of them, so
    # they are read from the default scope's kept results (canonical_scope), equal to computing them in place.
    from crm_core.metrics import clv
    from crm_core.metrics import retention_view as rv

    store, ds = small
    default = facts.default_scope(store, ds)
    later = default.with_window(default.start.replace(year=default.start.year + 1), default.end)
    earlier_end = default.with_window(default.start, default.end.replace(day=1))
    cal = rv.holdout_calibration_end(default.start, default.end, 3)
    from crm_core.metrics import retention

    direct = {"fit": views.clv_fit(store, later, default.end), "value": views.historical_value(store, later),
              "holdout": views.holdout(store, earlier_end, cal), "rule": views.churn_rule(store, later)}
    kept = {"fit": views.compute(store, "clv_fit", default, calibration_end=default.end),
            "value": views.compute(store, "historical_value", default),
            "holdout": views.compute(store, "holdout", default, calibration_end=cal),
            "rule": views.compute(store, "churn_rule", default)}
    monkeypatch.setattr(clv, "fit_clv", lambda *a, **k: pytest.fail("CLV models fitted again"))
    monkeypatch.setattr(clv, "historical_clv", lambda *a, **k: pytest.fail("value to date computed again"))
    monkeypatch.setattr(retention, "default_churn_window", lambda *a, **k: pytest.fail("churn rule derived again"))
    got = {"fit": views.compute(store, "clv_fit", later, calibration_end=default.end),
           "value": views.compute(store, "historical_value", later),
           "holdout": views.compute(store, "holdout", earlier_end, calibration_end=cal),  # any window
           "rule": views.compute(store, "churn_rule", later)}
    assert views.compute(store, "retention_overview", later)["churn_days"] == kept["rule"].days
    for key in direct:
        _assert_same(got[key], direct[key], key)
        _assert_same(got[key], kept[key], key)
    # a window ending earlier has its own value to date (purchases after its end do not count)
    monkeypatch.undo()
    mid = views.compute(store, "historical_value", earlier_end)
    assert mid["historical_clv"].sum() < kept["value"]["historical_clv"].sum()
    assert views.canonical_scope(store, "historical_value", earlier_end) == earlier_end
    assert views.canonical_scope(store, "portfolio", later) == later  # other views: the scope itself


def test_recent_keeps_the_last_values_by_use():
    # the in-memory cache behind filtered views, computed facts and filtered activity islands
    recent = results.Recent(2)
    calls = []

    def value(v):
        return lambda: calls.append(v) or v

    assert [recent.get(("a",), value(1)), recent.get(("b",), value(2)), recent.get(("a",), value(9))] == [1, 2, 1]
    assert calls == [1, 2]  # "a" was read, not computed again
    recent.get(("c",), value(3))  # "b" is the least recently used: dropped
    assert recent.get(("a",), value(8)) == 1 and recent.get(("b",), value(4)) == 4
    assert calls == [1, 2, 3, 4]


def test_recent_computes_a_key_once_while_threads_ask_for_it_together():
    # A thread asking for a key another thread is computing waits for that value instead of computing it again;
    # when that computation fails, the waiting thread computes the value itself.
    import threading

    recent = results.Recent(2)
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow():
        calls.append("slow")
        started.set()
        release.wait(5)
        return "first"

    got = []
    first = threading.Thread(target=lambda: got.append(recent.get(("k",), slow)))
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=lambda: got.append(recent.get(("k",), lambda: calls.append("again") or "2nd")))
    second.start()
    second.join(0.2)
    assert second.is_alive()  # waiting for the first thread's value, not computing its own
    release.set()
    first.join(5), second.join(5)
    assert got == ["first", "first"] and calls == ["slow"]

    started.clear(), release.clear()

    def failing():
        started.set()
        release.wait(5)
        raise RuntimeError("no value")

    errors = []

    def ask_failing():
        try:
            recent.get(("f",), failing)
        except RuntimeError as exc:
            errors.append(str(exc))

    first = threading.Thread(target=ask_failing)
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=lambda: got.append(recent.get(("f",), lambda: "computed again")))
    second.start()
    release.set()
    first.join(5), second.join(5)
    assert errors == ["no value"] and got[-1] == "computed again"
    # a compute asking for its own key (this thread, deeper down) computes it rather than wait for itself
    assert recent.get(("r",), lambda: recent.get(("r",), lambda: "inner")) == "inner"


def test_after_new_rates_the_review_prices_its_kept_periods_again(small, monkeypatch):
    # The review's periods keep their KPIs but cost to serve per customer (views "review_period", rate-free), and
    # the review its churn window, CLV, movers and customers at risk ("review_parts", rate-free): after a rate
    # save the review reads them and prices each period again, and equals a review computed from scratch.
    from crm_core.report import periods
    from crm_core.report import review as review_mod

    store, ds = small
    default = facts.default_scope(store, ds)
    first = views.compute(store, "review", default, kind="quarter")
    kept_periods = results.kept(store, ds).filter(pl.col("name") == "review_period").height
    assert kept_periods >= 2  # the reviewed quarter, the one before it and the trend's
    rates = cost.get_rates(store, ds).select("pool", "unit", "rate").with_columns(rate=pl.col("rate") * 3 + 1)
    cost.set_rates(store, ds, rates)
    assert results.kept(store, ds).filter(pl.col("name") == "review_period").height == kept_periods
    assert results.kept(store, ds).filter(pl.col("name") == "review_parts").height == 1
    monkeypatch.setitem(views.VIEWS, "review_period", lambda *a, **k: pytest.fail("period KPIs computed again"))
    monkeypatch.setitem(views.VIEWS, "review_parts", lambda *a, **k: pytest.fail("rate-free parts computed again"))
    again = views.compute(store, "review", default, kind="quarter")
    monkeypatch.undo()
    period = periods.review_period(default, "quarter", (default.start, default.end))
    _assert_same(again, review_mod.build_review(store, period), "review after new rates")
    cost_now = again.kpi("cost_to_serve_per_customer")["current"]
    assert cost_now is not None and cost_now != first.kpi("cost_to_serve_per_customer")["current"]
