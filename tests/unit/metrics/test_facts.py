"""Windowed customer facts: hand-computed on the three-customer fixture of test_cost, and checked against
independent Polars totals on the sample company."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import polars as pl
from polars.testing import assert_frame_equal
import pytest

from crm_core import results, views
from crm_core.metrics import cost, differentiate, portfolio
from crm_core.metrics import facts as facts_module
from crm_core.metrics.facts import customer_facts
from crm_core.metrics.ranking import top_rows
from crm_core.metrics.scope import Scope
from crm_core.store import Store, TableLoad
from tests.unit.metrics.test_cost import RATES, by_customer, load_fixture



@pytest.fixture
def ds(store) -> int:
    dataset_id = load_fixture(store)
    cost.set_rates(store, dataset_id, RATES)
    return dataset_id


def test_window_cuts_purchases_by_hand(ds, store):
    # Window 2024-02-01 .. 2024-03-05, as_of defaults to the window end 2024-03-05.
    frame = customer_facts(store, Scope(ds, start=date(2024, 2, 1), end=date(2024, 3, 5)))
    assert frame["customer_id"].to_list() == ["a", "b", "c"]
    f = by_customer(frame)
    a, b, c = f["a"], f["b"], f["c"]
    assert a["as_of"] == date(2024, 3, 5)
    # a: in the window only the 02-15 order (50, cost 30) and the 03-01 refund
    assert (a["purchases"], a["orders"], a["revenue"], a["cogs"], a["margin"]) == (1, 1, 50.0, 30.0, 20.0)
    assert a["avg_order_value"] == 50.0 and a["refunded_orders"] == 1
    assert a["first_purchase"] == datetime(2024, 1, 10, 10) and a["last_purchase"] == datetime(2024, 2, 15, 9)
    assert a["first_purchase_in_window"] == a["last_purchase_in_window"] == datetime(2024, 2, 15, 9)
    # recency: 02-15 -> 03-05 = 14 days to Feb 29 (2024 is a leap year) + 5 = 19
    # tenure: 01-10 -> 03-05 = 21 + 29 + 5 = 55
    assert (a["recency_days"], a["tenure_days"]) == (19, 55)
    # interactions in the window: the "EMAIL" (no duration) and the 30-minute ticket
    assert (a["interactions"], a["n_email"], a["n_ticket"], a["tickets"], a["n_call"]) == (2, 1, 1, 1, 0)
    assert a["interaction_minutes"] == 30.0
    # cost: email 0.2 + ticket 3 + 30x0.5 = 18 + 1 order x 4 + 1 return x 12 = 34.2; net 50 - 30 - 34.2
    assert a["cost_to_serve"] == pytest.approx(34.2) and a["net_profit"] == pytest.approx(-14.2)
    assert a["latest_nps"] == 9 and a["latest_csat"] is None  # the 2024-04-01 answer is after the window
    # b: no purchase in the window (03-10 is after it); last purchase ever by the window end 01-20
    assert (b["purchases"], b["orders"], b["revenue"], b["cogs"], b["margin"]) == (0, 0, 0.0, None, None)
    assert b["first_purchase_in_window"] is None and b["last_purchase"] == datetime(2024, 1, 20, 11)
    assert b["recency_days"] == 45  # 01-20 -> 03-05: 11 + 29 + 5
    assert (b["n_other"], b["cost_to_serve"], b["net_profit"]) == (1, pytest.approx(4.5), pytest.approx(-4.5))
    assert (b["latest_csat"], b["region"], b["segment"], b["owner"]) == (5, "US", "Enterprise", "Bob")
    # c: first purchase 02-01 -> recency = tenure = 28 + 5 = 33; chat 0.5 + 4x0.25 = 1.5 + order 4 = 5.5
    assert (c["revenue"], c["recency_days"], c["tenure_days"]) == (10.0, 33, 33)
    assert (c["n_chat"], c["cost_to_serve"], c["main_channel"]) == (1, pytest.approx(5.5), "Web")


def test_all_time_facts_match_the_stored_facts(ds, store):
    # Open window: as_of = the dataset's last purchase day, 2024-03-12 (b's cancelled order)
    f = by_customer(customer_facts(store, Scope(ds)))
    stored = by_customer(store.table("customer_facts", ds))
    assert f["a"]["as_of"] == date(2024, 3, 12)
    for cid in "abc":
        # purchase measures agree (every purchase lies in the purchase span); activity outside it does not
        for col in ("purchases", "orders", "revenue", "cogs", "margin", "first_purchase", "last_purchase"):
            assert f[cid][col] == pytest.approx(stored[cid][col]) if isinstance(f[cid][col], float) else (
                f[cid][col] == stored[cid][col]
            ), (cid, col)
    assert f["b"]["revenue"] == 380.0 and f["b"]["recency_days"] == 2  # 03-10 -> 03-12
    assert f["a"]["latest_nps"] == 3  # the 2024-04-01 answer counts with no window end
    # ... while the stored facts are the default scope (the purchase span, 2024-01-10 .. 2024-03-12),
    # which ends before that answer: a's latest NPS there is the 2024-01-15 answer, 9.
    assert stored["a"]["latest_nps"] == 9 and stored["a"]["latest_csat"] is None
    # b's meeting of 2024-01-05 (60 min) is before the span: 185 minutes open, 125 in the stored facts
    assert (f["b"]["interaction_minutes"], stored["b"]["interaction_minutes"]) == (185.0, 125.0)


def test_the_default_scope_is_read_from_the_stored_facts(ds, store):
    # The stored rows ARE the windowed query's result for the purchase span with no filters: recomputing
    # that scope gives the same frame, and customer_facts() serves that scope (only) from the table.
    default = facts_module.default_scope(store, ds)
    assert (default.start, default.end) == (date(2024, 1, 10), date(2024, 3, 12))
    text = facts_module.customer_facts_sql()
    recomputed = store.query(text, facts_module.bind(default, text, as_of=None))
    assert customer_facts(store, default).equals(recomputed)
    # the table also keeps what each customer used per pool, for repricing (not in the frames)
    with_usage = facts_module.customer_facts_sql(usage=True)
    assert store.table("customer_facts", ds).sort("customer_id").equals(
        store.query(with_usage, facts_module.bind(default, with_usage, as_of=None)))
    assert not set(facts_module.USAGE_COLUMNS) & set(recomputed.columns)
    assert facts_module.reads_stored(store, default)
    assert not facts_module.reads_stored(store, Scope(ds))  # open window: activity after the span counts
    assert not facts_module.reads_stored(store, default.with_window(date(2024, 1, 11), default.end))
    # region / segment / owner filters pick whole customers: read from the table; a channel filter changes
    # each customer's purchases: computed
    assert facts_module.reads_stored(store, Scope(ds, default.start, default.end, regions=("EU",)))
    assert not facts_module.reads_stored(store, Scope(ds, default.start, default.end, channels=("Web",)))
    assert not facts_module.reads_stored(store, default, as_of=date(2024, 3, 20))


def test_as_of_after_the_window_and_as_of_ending_an_open_window(ds, store):
    window = Scope(ds, start=date(2024, 2, 1), end=date(2024, 3, 5))
    later = by_customer(customer_facts(store, window, as_of=date(2024, 3, 15)))
    assert later["a"]["recency_days"] == 29  # 02-15 -> 03-15: 14 + 15
    with pytest.raises(ValueError, match="before the window end"):
        customer_facts(store, window, as_of=date(2024, 3, 1))
    # open window cut at as_of 2024-01-31: only a's 01-10 order and b's 01-20 order; c was created 01-25
    # and bought 02-01 (after): in the customers table and created by then -> a row with nothing.
    cut = by_customer(customer_facts(store, Scope(ds), as_of=date(2024, 1, 31)))
    assert cut["a"]["revenue"] == 100.0 and cut["b"]["revenue"] == 300.0 and cut["c"]["revenue"] == 0.0
    assert cut["c"]["recency_days"] is None and cut["a"]["recency_days"] == 21  # 01-10 -> 01-31


def test_filters_restrict_customers(ds, store):
    assert customer_facts(store, Scope(ds, regions=("EU",)))["customer_id"].to_list() == ["a", "c"]
    assert customer_facts(store, Scope(ds, segments=("Enterprise",)))["customer_id"].to_list() == ["b"]
    web = customer_facts(store, Scope(ds, channels=("Web",)))
    assert web["customer_id"].to_list() == ["a", "c"]
    assert web["revenue"].to_list() == [150.0, 10.0]
    # a channel filter keeps customers who bought through it by the window end, even before the window
    store_feb = by_customer(customer_facts(store, Scope(ds, channels=("Store",), start=date(2024, 2, 1),
                                                             end=date(2024, 2, 29))))
    assert list(store_feb) == ["b"] and store_feb["b"]["revenue"] == 0.0 and store_feb["b"]["n_other"] == 1
    # created after the window end and no activity before it: not yet a customer
    assert customer_facts(store, Scope(ds, end=date(2024, 1, 15)))["customer_id"].to_list() == ["a", "b"]


def test_customer_filters_on_the_default_window_read_the_stored_rows(ds, store):
    # By hand: a (EU), b (US, Enterprise), c (EU); the stored read with a filter must be exactly the windowed
    # query with that filter, customers missing from the customers table left out as the query leaves them.
    default = facts_module.default_scope(store, ds)
    text = facts_module.customer_facts_sql(filtered=True)
    for filters in ({"regions": ("EU",)}, {"segments": ("Enterprise",)}, {"regions": ("EU", "US")},
                    {"regions": ("EU",), "segments": ("Enterprise",)}, {"owners": ("nobody",)}):
        scope = Scope(ds, default.start, default.end, **filters)
        recomputed = store.query(text, facts_module.bind(scope, text, as_of=None))
        assert facts_module.reads_stored(store, scope)
        assert customer_facts(store, scope).equals(recomputed), filters
    assert customer_facts(store, Scope(ds, default.start, default.end, regions=("EU",)))["customer_id"].to_list() \
        == ["a", "c"]


def test_stored_filtered_read_equals_the_query_on_the_sample(sample_store):
    ds = int(sample_store.datasets()["dataset_id"][0])
    default = facts_module.default_scope(sample_store, ds)
    people = sample_store.table("customers", ds)
    first = people.drop_nulls(["region", "segment", "owner"]).sort("customer_id").row(0, named=True)
    region, segment, owner = first["region"], first["segment"], first["owner"]
    text = facts_module.customer_facts_sql(filtered=True)
    for filters in ({"regions": (region,)}, {"segments": (segment,)}, {"owners": (owner,)},
                    {"regions": (region,), "owners": (owner,)}):
        scope = Scope(ds, default.start, default.end, **filters)
        got = customer_facts(sample_store, scope)
        assert 0 < got.height < people.height, filters
        # the stored rows count days with one bitmap per customer, the query without bounds per 1024-day block:
        # the same numbers, sums added in another order
        assert_frame_equal(got, sample_store.query(text, facts_module.bind(scope, text, as_of=None)),
                           check_exact=False, rel_tol=1e-12)


def _full_query(store, scope):
    """The facts of ``scope`` by the whole windowed query over every transaction (not the stored rows)."""
    bits, channels = facts_module.day_bits(store, scope), facts_module.sales_channels(store, scope.dataset_id)
    text = facts_module.customer_facts_sql(filtered=scope.filtered, bits=bits, channels=channels)
    return store.query(text, facts_module.bind(scope, text, as_of=None, **bits, **channels))


def test_a_window_ending_with_the_stored_one_takes_its_history_from_the_stored_rows(ds, store, monkeypatch):
    # A window that ends on the default scope's last day takes the customers, first and last purchases, tenure,
    # recency and latest answers from the stored rows and computes the window's measures from the window on
    # (facts.window_on_stored_sql): the same frame as the whole query, for every start day, with region filters too.
    default = facts_module.default_scope(store, ds)
    window = default.with_window(date(2024, 2, 1), default.end)
    assert facts_module.ends_with_stored(store, window) and facts_module.ends_with_stored(store, replace(
        window, regions=("EU",)))
    # the stored span is 2024-01-10 .. 03-12, 63 days: a window of more than 42 days is computed whole
    assert not facts_module.ends_with_stored(store, window.with_window(date(2024, 1, 30), default.end))
    assert facts_module.ends_with_stored(store, window.with_window(date(2024, 1, 31), default.end))
    assert not facts_module.ends_with_stored(store, replace(window, channels=("Web",)))  # a channel: whole query
    assert not facts_module.ends_with_stored(store, window.with_window(window.start, default.end - timedelta(days=1)))
    assert not facts_module.ends_with_stored(store, window, as_of=date(2024, 3, 20))
    assert not facts_module.ends_with_stored(store, Scope(ds))  # an open end: activity after the span counts
    used = []
    real = facts_module.window_on_stored_sql
    monkeypatch.setattr(facts_module, "window_on_stored_sql", lambda **k: used.append(k) or real(**k))
    f = by_customer(customer_facts(store, window))
    assert len(used) == 1
    # b by hand: the 03-10 order (80) and the 03-12 cancellation in the window; first and last purchase of the
    # history (01-20 is the first), recency 03-10 -> 03-12 = 2; the meeting of 01-05 before the span is not in it
    b = f["b"]
    assert (b["orders"], b["revenue"], b["cancelled_orders"], b["recency_days"]) == (1, 80.0, 1, 2)
    assert b["first_purchase"] == datetime(2024, 1, 20, 11) and b["latest_csat"] == 5
    monkeypatch.setattr(facts_module, "WINDOW_ON_STORED_MAX", 1.0)  # every window of the span on the stored rows
    day = default.start
    while day <= default.end:
        for scope in (default.with_window(day, default.end), Scope(ds, day, default.end, regions=("EU",))):
            assert facts_module.ends_with_stored(store, scope)
            assert_frame_equal(customer_facts(store, scope), _full_query(store, scope), check_exact=False,
                               rel_tol=1e-12)
        day += timedelta(days=1)


def test_windows_ending_with_the_stored_one_equal_the_whole_query_on_the_sample(sample_store):
    ds = int(sample_store.datasets()["dataset_id"][0])
    default = facts_module.default_scope(sample_store, ds)
    region = sample_store.table("customers", ds)["region"].drop_nulls().sort()[0]
    span = (default.end - default.start).days + 1
    for days in (1, 30, 200, 400, span * 2 // 3, span * 2 // 3 + 1, span + 30):
        window = default.with_window(default.end - timedelta(days=days - 1), default.end)
        for scope in (window, replace(window, regions=(region,))):
            assert facts_module.ends_with_stored(sample_store, scope) == (days <= span * 2 // 3), days
            got = customer_facts(sample_store, scope)
            assert_frame_equal(got, _full_query(sample_store, scope), check_exact=False, rel_tol=1e-12)
            assert got["revenue"].sum() > 0 or days == 1


def test_computed_facts_are_remembered_until_the_data_change(tmp_path):
    # Every view asks for the facts of a new window: computed once per data version, then the same frame.
    s = Store(tmp_path / "memo.duckdb")
    ds = s.load_sample(customers=60).dataset_id
    default = facts_module.default_scope(s, ds)
    window = default.with_window(default.start, default.end - timedelta(days=30))
    first = customer_facts(s, window)
    assert customer_facts(s, window) is first  # remembered
    assert customer_facts(s, default) is not customer_facts(s, default)  # stored rows: read each time
    rates = cost.get_rates(s, ds).select("pool", "unit", "rate").with_columns(rate=pl.col("rate") * 3)
    cost.set_rates(s, ds, rates)
    again = customer_facts(s, window)
    assert again is not first and again["cost_to_serve"].sum() > first["cost_to_serve"].sum() > 0
    s.close()


def test_the_default_scope_follows_new_data(tmp_path):
    # The span is remembered per data version: an import that adds later purchases moves its end at once.
    def tx(day: str) -> pl.DataFrame:
        return pl.DataFrame({"customer_id": ["A"], "occurred_at": [datetime.fromisoformat(day)], "amount": [10.0]})

    s = Store(tmp_path / "span.duckdb")
    ds = s.load("t", [TableLoad("transactions", tx("2024-01-05 10:00"), "a.csv")]).dataset_id
    assert facts_module.default_scope(s, ds) == Scope(ds, date(2024, 1, 5), date(2024, 1, 5))
    assert facts_module.default_scope(s, ds) == Scope(ds, date(2024, 1, 5), date(2024, 1, 5))
    s.load("t", [TableLoad("transactions", tx("2024-03-01 09:00"), "b.csv")])
    assert facts_module.default_scope(s, ds) == Scope(ds, date(2024, 1, 5), date(2024, 3, 1))
    s.close()


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("sample") / "sample.duckdb")
    s.load_sample(customers=300)
    yield s
    s.close()


def _independent_revenue(store: Store, dataset_id: int, start: date, end: date, region: str) -> tuple[float, int]:
    """Completed revenue in [start, end] of customers in ``region``, computed in Polars from the raw tables."""
    tx = store.table("transactions", dataset_id)
    region_ids = store.table("customers", dataset_id).filter(pl.col("region") == region)["customer_id"]
    picked = tx.filter(
        (pl.col("status") == "completed")
        & (pl.col("occurred_at").dt.date() >= start)
        & (pl.col("occurred_at").dt.date() <= end)
        & pl.col("customer_id").is_in(region_ids.implode())
    )
    return float(picked["amount"].sum()), picked["customer_id"].n_unique()


def test_sample_facts_one_row_per_customer_and_revenue_adds_up(sample_store):
    ds = int(sample_store.datasets()["dataset_id"][0])
    everything = customer_facts(sample_store, Scope(ds))
    assert everything.height == 300 and everything["customer_id"].n_unique() == 300
    tx = sample_store.table("transactions", ds).filter(pl.col("status") == "completed")
    assert everything["revenue"].sum() == pytest.approx(tx["amount"].sum())
    stored = sample_store.table("customer_facts", ds)
    assert everything["cost_to_serve"].sum() == pytest.approx(stored["cost_to_serve"].sum())
    assert everything["net_profit"].sum() == pytest.approx(cost.cost_to_serve(sample_store, Scope(ds))["net_profit"].sum())

    scope = Scope(ds, start=date(2025, 1, 1), end=date(2025, 6, 30), regions=("Europe",))
    windowed = customer_facts(sample_store, scope)
    revenue, buyers = _independent_revenue(sample_store, ds, scope.start, scope.end, "Europe")
    assert windowed["customer_id"].n_unique() == windowed.height
    assert set(windowed["region"].unique()) == {"Europe"}
    assert windowed["revenue"].sum() == pytest.approx(revenue) and revenue > 0
    assert int((windowed["revenue"] > 0).sum()) == buyers


def test_purchase_days_counted_by_bitmap_and_by_blocks(store):
    # Distinct purchase days: a bitmap of the window's days per customer for windows of at most DAY_BITS_MAX
    # (1461) days (sql/purchase_totals.sql), 1024-day blocks for longer ones (purchase_totals_blocks.sql). Hand
    # count for customer a: 2025-03-18 (twice, one day), 2025-03-19, 2025-03-20 and 2028-01-07 -> 4 distinct days,
    # 5 orders; b: one day with 3 orders -> 1; c: 2010-01-04 and 2028-01-07 -> 2. The data span 6,577 days: the
    # whole span and a 1,462-day window are counted by blocks; two days and a 1,461-day window by the bitmap (the
    # windows' first and last days are its ends).
    from datetime import timedelta

    from crm_core.metrics import scope as scope_module

    first = date(2025, 3, 19)
    days = [first - timedelta(days=1)] * 2 + [first, first + timedelta(days=1), date(2028, 1, 7)]
    tx = pl.DataFrame({
        "customer_id": ["a"] * 5 + ["b"] * 3 + ["c"] * 2,
        "occurred_at": [datetime(d.year, d.month, d.day, 9 + i) for i, d in enumerate(days)]
        + [datetime(2025, 3, 19, h) for h in (8, 12, 17)] + [datetime(2010, 1, 4, 10), datetime(2028, 1, 7, 11)],
        "amount": [1.0] * 10,
    })
    ds = store.load("days", [TableLoad("transactions", tx, "t.csv")]).dataset_id
    whole = Scope(ds)
    assert scope_module.day_bits(store, whole)["bits_span"] == 6577 > scope_module.DAY_BITS_MAX
    windowed = {r["customer_id"]: r for r in customer_facts(store, whole).to_dicts()}
    stored = {r["customer_id"]: r for r in store.table("customer_facts", ds).to_dicts()}
    for facts_by_customer in (windowed, stored):
        assert (facts_by_customer["a"]["purchases"], facts_by_customer["a"]["orders"]) == (4, 5)
        assert (facts_by_customer["b"]["purchases"], facts_by_customer["b"]["orders"]) == (1, 3)
        assert facts_by_customer["c"]["purchases"] == 2
    # windows counted with the bitmap: the two days 03-18 and 03-19 (its bits 0 and 1), and 1,461 days ending on
    # 2028-01-07 (its last bit); 1,462 days are counted by blocks
    two_days = Scope(ds, start=date(2025, 3, 18), end=date(2025, 3, 19))
    assert scope_module.day_bits(store, two_days) == {"bits_from": date(2025, 3, 18), "bits_span": 1}
    assert dict(zip(*customer_facts(store, two_days).select("customer_id", "purchases"))) == {
        "a": 2, "b": 1, "c": 0}
    widest = Scope(ds, start=date(2024, 1, 7), end=date(2028, 1, 7))
    assert scope_module.day_bits(store, widest)["bits_span"] == scope_module.DAY_BITS_MAX
    assert dict(zip(*customer_facts(store, widest).select("customer_id", "purchases"))) == {"a": 4, "b": 1, "c": 1}
    late = Scope(ds, start=date(2025, 3, 19), end=date(2028, 1, 7))  # 03-18 left out
    assert dict(zip(*customer_facts(store, late).select("customer_id", "purchases"))) == {"a": 3, "b": 1, "c": 1}
    blocks = Scope(ds, start=date(2024, 1, 6), end=date(2028, 1, 7))
    assert dict(zip(*customer_facts(store, blocks).select("customer_id", "purchases"))) == {"a": 4, "b": 1, "c": 1}
    # either way the same numbers as the query without bounds (blocks for any window)
    for sc in (whole, two_days, widest, late, blocks):
        text = facts_module.customer_facts_sql(filtered=False)
        assert customer_facts(store, sc).equals(store.query(text, facts_module.bind(sc, text, as_of=None)))


def test_main_channel_ties_are_broken_the_same_way_everywhere(store):
    # a: one Store and one Web purchase (a tie: the last by name, Web); b: two Store, one Web → Store
    tx = pl.DataFrame({
        "customer_id": ["a", "a", "b", "b", "b"],
        "occurred_at": [datetime(2024, 1, d) for d in (1, 2, 3, 4, 5)],
        "amount": [1.0] * 5,
        "channel": ["Store", "Web", "Store", "Web", "Store"],
    })
    ds = store.load("ties", [TableLoad("transactions", tx, "t.csv")]).dataset_id
    expected = {"a": "Web", "b": "Store"}
    stored = store.table("customer_facts", ds)
    windowed = customer_facts(store, Scope(ds))
    served = cost.cost_to_serve(store, Scope(ds))
    for frame in (stored, windowed, served):
        assert dict(zip(frame["customer_id"], frame["main_channel"])) == expected


def test_main_channel_counted_in_the_purchase_pass_equals_the_group_by(store, monkeypatch):
    # By hand: a ties Store/Web (the last by name, Web); b buys Store twice and Web once (Store); c's completed
    # purchases have no channel and its Web order was refunded (no main channel); d buys Web once in 2018 and
    # Phone in 2024, so a window from 2024 leaves Phone. Counted per channel (scope.sales_channels: few channels)
    # or grouped (above CHANNELS_COUNTED_MAX, or no channels bound), with day bitmaps or 1024-day blocks, in the
    # facts and in the scanned cost to serve, the same main channels.
    from crm_core.metrics import scope as scope_module

    tx = pl.DataFrame({
        "customer_id": ["a", "a", "b", "b", "b", "c", "c", "d", "d"],
        "occurred_at": [datetime(2024, 1, d) for d in (1, 2, 3, 4, 5, 6, 7)] + [datetime(2018, 5, 1),
                                                                               datetime(2024, 1, 8)],
        "amount": [1.0] * 9,
        "channel": ["Store", "Web", "Store", "Web", "Store", None, "Web", "Web", "Phone"],
        "status": ["completed"] * 6 + ["refunded", "completed", "completed"],
    })
    ds = store.load("channels", [TableLoad("transactions", tx, "t.csv")]).dataset_id
    assert scope_module.sales_channels(store, ds) == {"channel_0": "Phone", "channel_1": "Store", "channel_2": "Web"}
    whole = Scope(ds)  # 2018-2024: longer than DAY_BITS_MAX, the blocks
    recent = Scope(ds, start=date(2024, 1, 1), end=date(2024, 1, 31))  # the bitmap
    hand = {whole: {"a": "Web", "b": "Store", "c": None, "d": "Web"},  # d: a tie Web/Phone, the last by name
            recent: {"a": "Web", "b": "Store", "c": None, "d": "Phone"}}
    filtered = Scope(ds, channels=("Store", "Web"))  # a channel filter: computed, and d's Phone left out

    def main_channels():
        got = {}
        for sc in (whole, recent, filtered):
            got[sc, "facts"] = dict(zip(*customer_facts(store, sc).select("customer_id", "main_channel")))
            got[sc, "cost"] = dict(zip(*cost.cost_to_serve(store, sc).select("customer_id", "main_channel")))
        return got

    counted = main_channels()
    for sc, expected in hand.items():
        assert counted[sc, "facts"] == expected
        assert counted[sc, "cost"] == expected
    assert counted[filtered, "facts"] == {"a": "Web", "b": "Store", "c": None, "d": "Web"}
    assert "channel_n_0" in facts_module.customer_facts_sql(bits=None, channels={"channel_0": "Web"})
    monkeypatch.setattr(scope_module, "CHANNELS_COUNTED_MAX", 2)
    assert scope_module.sales_channels(store, ds) == {}
    monkeypatch.setattr(facts_module, "_recent", results.Recent(facts_module.RECENT_COMPUTED))  # computed again
    assert main_channels() == counted


def test_stored_facts_come_sorted_by_customer_even_when_the_table_is_not(ds, store):
    # The stored reads leave out ORDER BY (the rows are written in customer order); rows stored in another
    # order (here written in reverse) are read again sorted, with or without a region filter.
    default = facts_module.default_scope(store, ds)
    region = Scope(ds, default.start, default.end, regions=("EU",))
    before = {sc: customer_facts(store, sc) for sc in (default, region)}
    assert [f["customer_id"].to_list() for f in before.values()] == [["a", "b", "c"], ["a", "c"]]
    with store.transaction() as cur:
        cur.execute("CREATE TEMP TABLE kept AS SELECT * FROM customer_facts WHERE dataset_id = ?", [ds])
        cur.execute("DELETE FROM customer_facts WHERE dataset_id = ?", [ds])
        cur.execute("INSERT INTO customer_facts SELECT * FROM kept ORDER BY customer_id DESC")
        cur.execute("DROP TABLE kept")
    assert store.query("SELECT customer_id FROM customer_facts WHERE dataset_id = $d", {"d": ds})[
        "customer_id"].to_list() == ["c", "b", "a"]  # the table's own order
    for sc, frame in before.items():
        assert customer_facts(store, sc).equals(frame)


def test_sample_cost_from_the_stored_facts_equals_the_scan(sample_store):
    # The sample has every interaction kind, minutes and explicit costs: priced from the stored facts (default
    # window, with or without a region) it equals the scan; after new rates, too.
    from polars.testing import assert_frame_equal

    ds = int(sample_store.datasets()["dataset_id"][0])
    default = facts_module.default_scope(sample_store, ds)
    region = sample_store.table("customers", ds)["region"].drop_nulls().sort()[0]
    text = cost.cost_to_serve_sql()
    for scope in (default, Scope(ds, default.start, default.end, regions=(region,))):
        from_facts = cost.cost_to_serve(sample_store, scope)
        assert from_facts.height > 0 and from_facts["cost_to_serve"].sum() > 0
        assert_frame_equal(from_facts, sample_store.query(text, cost.bind(scope, text)), check_exact=False,
                           rel_tol=1e-12)


def test_buyer_values_by_hand(ds, store):
    # 2024-02-01 .. 2024-03-05: a (02-15 order: 50, cost 30; the 03-01 refund is not revenue) and c (10, cost
    # 4) bought; b did not. 03-06 .. 03-12: b's 03-10 order of 80 has no cost (margin unknown), the 03-12 one
    # was cancelled
    window = facts_module.buyer_values(store, Scope(ds, start=date(2024, 2, 1), end=date(2024, 3, 5)))
    assert window.sort("customer_id").rows() == [("a", 50.0, 20.0), ("c", 10.0, 6.0)]
    assert facts_module.buyer_values(store, Scope(ds, start=date(2024, 3, 6), end=date(2024, 3, 12))).rows() == [
        ("b", 80.0, None)]


def test_buyer_values_are_the_buyers_columns_of_the_facts(sample_store):
    # the Portfolio KPIs of a previous period take buyer_values instead of the whole facts: the same customers,
    # revenue and margin for windows, customer filters and a channel filter (and nobody in an empty window)
    ds = int(sample_store.datasets()["dataset_id"][0])
    default = facts_module.default_scope(sample_store, ds)
    people = sample_store.table("customers", ds).drop_nulls(["region"]).sort("customer_id")
    channel = sample_store.table("transactions", ds).drop_nulls("channel").sort("transaction_id")["channel"][0]
    half = default.with_window(default.start + timedelta(days=200), default.end - timedelta(days=90))
    for scope in (default, half, Scope(ds, half.start, half.end, regions=(people["region"][0],)),
                  Scope(ds, half.start, half.end, channels=(channel,)),
                  default.with_window(default.start - timedelta(days=60), default.start - timedelta(days=1))):
        expected = (customer_facts(sample_store, scope).filter(pl.col("purchases") > 0)
                    .select("customer_id", "revenue", "margin").sort("customer_id"))
        got = facts_module.buyer_values(sample_store, scope).sort("customer_id")
        assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-12)
        assert views.portfolio_kpis(sample_store, scope) == pytest.approx(
            portfolio.portfolio_summary(views.buyers(sample_store, scope)), nan_ok=True)


def test_buyer_count_is_the_number_of_buyers_in_the_facts(sample_store):
    # The Retention page asks whether a scope has anyone to show by counting its buyers in DuckDB, not with the
    # portfolio summary: the number of facts rows with a completed purchase (purchases > 0), counted by hand,
    # from the stored rows (default scope, a region, two regions and an owner) and from the transactions (a
    # shorter window, a channel), and 0 for an empty window or a region nobody is in.
    ds = int(sample_store.datasets()["dataset_id"][0])
    default = facts_module.default_scope(sample_store, ds)
    people = sample_store.table("customers", ds)
    regions = people["region"].drop_nulls().unique().sort().to_list()
    owner = people["owner"].drop_nulls().mode().sort()[0]
    channel = sample_store.table("transactions", ds).drop_nulls("channel").sort("transaction_id")["channel"][0]
    half = default.with_window(default.start + timedelta(days=200), default.end - timedelta(days=90))
    whole = Scope(ds, default.start, default.end)
    cases = [(default, True), (replace(whole, regions=(regions[0],)), True),
             (replace(whole, regions=tuple(regions[:2]), owners=(owner,)), True), (half, False),
             (replace(whole, channels=(channel,)), False),
             (default.with_window(default.start - timedelta(days=60), default.start - timedelta(days=1)), False),
             (replace(whole, regions=("nowhere",)), True)]
    for scope, stored in cases:
        assert facts_module.reads_stored(sample_store, scope) is stored, scope
        by_hand = customer_facts(sample_store, scope).filter(pl.col("purchases") > 0).height
        assert facts_module.buyer_count(sample_store, scope) == by_hand, scope
        assert views.compute(sample_store, "buyer_count", scope) == by_hand, scope
    assert facts_module.buyer_count(sample_store, cases[0][0]) > facts_module.buyer_count(sample_store, cases[1][0]) > 0
    assert facts_module.buyer_count(sample_store, cases[-2][0]) == 0 == facts_module.buyer_count(sample_store,
                                                                                                 cases[-1][0])


def test_narrow_facts_are_those_columns_of_the_whole_facts(tmp_path, monkeypatch):
    # customer_facts(narrow=True) computes the asked columns alone (the Differentiate page's nine) when the
    # window's whole facts are not at hand, and cuts them from the whole frame when they are: the same rows,
    # order and values, for a window ending with the stored one, one ending earlier, a channel filter and a
    # region (stored rows); the narrow query is one that names only those columns
    s = Store(tmp_path / "narrow.duckdb")
    ds = s.load_sample(customers=300).dataset_id
    default = facts_module.default_scope(s, ds)
    region = s.table("customers", ds).drop_nulls(["region"]).sort("customer_id")["region"][0]
    channel = s.table("transactions", ds).drop_nulls("channel").sort("transaction_id")["channel"][0]
    columns = differentiate.FACT_COLUMNS
    asked = []
    real = s.query
    monkeypatch.setattr(s, "query", lambda text, params=None: asked.append(text) or real(text, params))
    ending = default.with_window(default.end - timedelta(days=199), default.end)
    earlier = default.with_window(default.end - timedelta(days=259), default.end - timedelta(days=60))
    scopes = (ending, earlier, replace(earlier, channels=(channel,)), Scope(ds, default.start, default.end,
                                                                            regions=(region,)))
    assert facts_module.ends_with_stored(s, ending) and not facts_module.ends_with_stored(s, earlier)
    for scope in scopes:
        asked.clear()
        got = customer_facts(s, scope, columns=columns, narrow=True)
        if scope is not scopes[-1]:  # computed alone: one query, of those columns
            assert len(asked) == 1 and asked[0].startswith('SELECT "customer_id", "as_of", "purchases"'), asked
        assert got.columns == ["customer_id", *columns]
        assert got["customer_id"].is_sorted() and got["revenue"].sum() > 0
        whole = customer_facts(s, scope)
        assert_frame_equal(got, whole.select(got.columns), check_exact=False, rel_tol=1e-12)
        asked.clear()
        again = customer_facts(s, scope, columns=columns[:4], narrow=True)  # columns not asked before
        assert_frame_equal(again, whole.select(got.columns[:5]))
        if scope is not scopes[-1]:
            assert not asked  # the whole frame held: cut from it
    s.close()


def test_the_portfolio_views_read_only_the_columns_they_need_and_give_the_same(sample_store):
    # each Portfolio tab's view reads a few facts columns (a filter change at a million customers reads 3 of 40):
    # the same rows and values as those columns of the whole facts, and the same figures as the portfolio
    # functions give on the whole buyers' facts; stored reads (default, a region) and computed facts (a
    # channel filter, a shorter window)
    ds = int(sample_store.datasets()["dataset_id"][0])
    default = facts_module.default_scope(sample_store, ds)
    region = sample_store.table("customers", ds).drop_nulls(["region"]).sort("customer_id")["region"][0]
    channel = sample_store.table("transactions", ds).drop_nulls("channel").sort("transaction_id")["channel"][0]
    half = default.with_window(default.start + timedelta(days=200), default.end - timedelta(days=90))
    for scope in (default, Scope(ds, default.start, default.end, regions=(region,)),
                  Scope(ds, half.start, half.end, channels=(channel,)), half):
        whole = customer_facts(sample_store, scope)
        for columns in (views.SUMMARY_COLUMNS, views.TOP_COLUMNS, ("customer_id", "revenue")):
            got = customer_facts(sample_store, scope, columns=columns)
            assert got.columns == list(dict.fromkeys(["customer_id", *columns]))
            assert_frame_equal(got, whole.select(got.columns))
        b = views.buyers(sample_store, scope)
        p = views.portfolio(sample_store, scope)
        assert p["customers"] == b.height > 0
        assert p["summary"] == pytest.approx(portfolio.portfolio_summary(b), nan_ok=True)
        assert_frame_equal(p["abc"], portfolio.abc_summary(portfolio.abc_classes(b, "revenue")))
        segmented = portfolio.rfm_segments(portfolio.rfm_scores(b))
        assert_frame_equal(views.portfolio_rfm(sample_store, scope)["rfm"], portfolio.rfm_summary(segmented))
        q = views.portfolio_quadrants(sample_store, scope)
        assert_frame_equal(q["quadrant_summary"], portfolio.quadrant_summary(portfolio.cost_quadrants(b)))
        top = views.portfolio_top(sample_store, scope)
        assert_frame_equal(top, top_rows(b, views.TOP_CUSTOMERS, "revenue").select(top.columns))
        assert top.height == min(views.TOP_CUSTOMERS, b.height) and "name" in top.columns


def test_sample_cost_priced_in_memory_is_the_sql_pricing_to_the_bit(sample_store):
    # cost.price repeats crm_core/sql/cost_pricing.sql term by term: at new rates (odd ones, so no product is
    # exact by chance) the stored facts priced in memory equal the same usage priced by DuckDB, every double the
    # same, and the scan of the transactions to rounding.
    ds = int(sample_store.datasets()["dataset_id"][0])
    default = facts_module.default_scope(sample_store, ds)
    rates = cost.get_rates(sample_store, ds).with_columns(rate=pl.col("default_rate") * 1.37 + 0.113)
    text = ("WITH\n" + cost.render("facts_usage", facts_rows="(orders + refunded_orders + cancelled_orders "
                                   "+ interactions) > 0") + ",\n-- @include cost_pricing\n"
            "SELECT * FROM customer_profit ORDER BY customer_id")
    scan = cost.cost_to_serve_sql(False)
    cost.set_rates(sample_store, ds, rates.select("pool", "unit", "rate"))
    try:
        in_memory = cost.cost_to_serve(sample_store, default)
        by_duckdb = sample_store.query(cost.expand(text), {"dataset": ds}).select(in_memory.columns)
        scanned = sample_store.query(scan, cost.bind(default, scan))
        stored = sample_store.table("customer_facts", ds).select("customer_id", "cost_to_serve", "net_profit")
    finally:  # the module's other tests see the sample at its default rates
        cost.set_rates(sample_store, ds, rates.select("pool", "unit", pl.col("default_rate").alias("rate")))
    # every pool costs something but "other" (the sample has no such kind; test_cost's fixture prices one, a fax)
    assert all(in_memory[c].sum() > 0 for c in cost.POOL_COLUMNS if c != "cost_other")
    assert_frame_equal(in_memory, by_duckdb, check_exact=True)
    # the stored facts repriced by set_rates (reprice_facts.sql, its own pass over them) hold the same doubles
    assert_frame_equal(stored.join(in_memory.select("customer_id"), on="customer_id").sort("customer_id"),
                       in_memory.select(stored.columns), check_exact=True)
    assert_frame_equal(in_memory, scanned, check_exact=False, rel_tol=1e-12)


def test_new_rates_price_the_kept_usage_without_reading_it_again(ds, store, monkeypatch):
    # The usage of a stored-facts scope is read once; after new rates only the rates are read, and the frame is
    # the scan's at the new rates.
    default = facts_module.default_scope(store, ds)
    before = cost.cost_to_serve(store, default)
    reads = []
    real = store.query
    monkeypatch.setattr(store, "query", lambda text, *a, **k: (reads.append(text), real(text, *a, **k))[1])
    rates = cost.get_rates(store, ds).with_columns(rate=pl.col("rate") * 2)
    cost.set_rates(store, ds, rates.select("pool", "unit", "rate"))
    after = cost.cost_to_serve(store, default)
    assert not [t for t in reads if "cost_counts" in t]
    monkeypatch.setattr(store, "query", real)
    scanned = store.query(cost.cost_to_serve_sql(False), cost.bind(default, cost.cost_to_serve_sql(False)))
    assert_frame_equal(after, scanned, check_exact=False, rel_tol=1e-12)
    assert after["cost_to_serve"].sum() > before["cost_to_serve"].sum()
    assert after["revenue"].equals(before["revenue"])
