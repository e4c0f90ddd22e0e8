"""Tests of the seeded synthetic CRM company (crm_core.sample).

Structural tests (schema, keys, references, time bounds, value ranges) run on 500 customers.
Shape tests run on the defaults, i.e. exactly what a new user sees, and check the *design
targets* chosen for realism; they are not properties of real CRM data in general.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_core.sample import SAMPLE_DATASET, generate, write_exports
from crm_core.schema import DEAL_STATUSES, TABLES, TRANSACTION_STATUSES

DTYPES = {"id": pl.String, "text": pl.String, "status": pl.String, "timestamp": pl.Datetime("us"),
          "money": pl.Float64, "number": pl.Float64, "integer": pl.Int32}
EVENT_TIME = {"transactions": "occurred_at", "interactions": "occurred_at", "feedback": "responded_at",
              "deals": "created_at"}
END = dt.date(2026, 9, 30)


@pytest.fixture(scope="module")
def small() -> dict[str, pl.DataFrame]:
    return generate(customers=500, seed=11)


@pytest.fixture(scope="module")
def default() -> dict[str, pl.DataFrame]:
    return generate()


def test_dataset_name_is_a_labelled_sample():
    assert SAMPLE_DATASET.startswith("Sample company (")


def test_same_seed_same_tables_other_seed_other_tables(small):
    again = generate(customers=500, seed=11)
    other = generate(customers=500, seed=12)
    for name, frame in small.items():
        assert frame.equals(again[name]), name
    assert not small["transactions"].equals(other["transactions"])
    assert not small["customers"].equals(other["customers"])


def test_columns_and_dtypes_are_exactly_canonical(small):
    assert set(small) == {"customers", "transactions", "interactions", "feedback", "deals"}
    for name, frame in small.items():
        table = TABLES[name]
        assert frame.columns == table.column_names, name
        assert frame.dtypes == [DTYPES[c.kind] for c in table.columns], name


def test_keys_are_unique_and_present(small):
    for name, key in [("customers", "customer_id"), ("transactions", "transaction_id"),
                      ("interactions", "interaction_id"), ("deals", "deal_id")]:
        assert TABLES[name].key == key
        column = small[name][key]
        assert column.null_count() == 0, name
        assert column.n_unique() == len(column), name


def test_every_event_belongs_to_a_known_customer(small):
    known = set(small["customers"]["customer_id"])
    for name in EVENT_TIME:
        assert set(small[name]["customer_id"]) <= known, name


def _events_outside_lifetime(tables: dict[str, pl.DataFrame], end: dt.date) -> dict[str, int]:
    created = tables["customers"].select("customer_id", "created_at")
    bad = {}
    for name, column in EVENT_TIME.items():
        frame = tables[name].join(created, on="customer_id")
        times = [column] + (["closed_at"] if name == "deals" else [])
        bad[name] = frame.filter(
            pl.any_horizontal(
                [(pl.col(t) < pl.col("created_at")) | (pl.col(t).dt.date() > end) for t in times]
            )
        ).height
    bad["customers"] = tables["customers"].filter(pl.col("created_at").dt.date() > end).height
    return bad


def test_no_event_before_the_customer_or_after_the_end(small):
    assert _events_outside_lifetime(small, END) == dict.fromkeys([*EVENT_TIME, "customers"], 0)
    first_day = small["customers"]["created_at"].min().date()
    assert dt.date(2023, 9, 30) <= first_day <= dt.date(2023, 12, 31)  # three years ending at END


def test_every_timestamp_is_in_business_hours(small):
    for name, frame in small.items():
        for column, dtype in frame.schema.items():
            if dtype == pl.Datetime("us"):
                hours = frame[column].drop_nulls().dt.hour()
                assert hours.is_between(8, 17).all(), (name, column)


def test_first_purchase_is_the_acquisition(small):
    first = small["transactions"].group_by("customer_id").agg(pl.col("occurred_at").min())
    joined = small["customers"].join(first, on="customer_id", how="left")
    assert joined["occurred_at"].null_count() == 0
    assert (joined["occurred_at"] == joined["created_at"]).all()


def test_ids_follow_time(small):
    for name, column in [("customers", "created_at"), ("transactions", "occurred_at"),
                         ("interactions", "occurred_at"), ("deals", "created_at")]:
        assert small[name][column].is_sorted(), name


def test_scores_and_statuses_are_in_range(small):
    feedback = small["feedback"]
    assert feedback["nps"].drop_nulls().is_between(0, 10).all()
    assert feedback["csat"].drop_nulls().is_between(1, 5).all()
    assert feedback.filter(pl.col("nps").is_null() & pl.col("csat").is_null()).height == 0
    assert set(small["transactions"]["status"]) == set(TRANSACTION_STATUSES)
    assert set(small["deals"]["status"]) <= set(DEAL_STATUSES)


def test_deals_are_consistent(small):
    deals = small["deals"]
    assert (deals["status"] == "open").eq(deals["closed_at"].is_null()).all()
    closed = deals.filter(pl.col("closed_at").is_not_null())
    assert (closed["closed_at"] >= closed["created_at"]).all()
    stage = {"won": "Closed Won", "lost": "Closed Lost"}
    assert (closed["stage"] == closed["status"].replace_strict(stage)).all()
    accounts = small["customers"].filter(pl.col("segment").is_in(["Enterprise", "Mid-market"]))
    assert set(deals["customer_id"]) <= set(accounts["customer_id"])


def test_money_is_plausible(small):
    tx = small["transactions"]
    assert (tx["amount"] > 0).all() and (tx["discount"] >= 0).all() and (tx["quantity"] >= 1).all()
    cogs = tx["cost"] / tx["amount"]
    assert cogs.min() >= 0.54 and cogs.max() <= 0.71  # COGS ~55-70 % of net revenue
    assert (tx["amount"].round(2) == tx["amount"]).all()


def test_interaction_durations_follow_kind(small):
    median = dict(small["interactions"].group_by("kind").agg(pl.col("duration_minutes").median()).iter_rows())
    assert median["email"] < median["chat"] < median["call"] < median["ticket"] < median["meeting"] < median["visit"]
    owners = small["interactions"].join(small["customers"], on="customer_id").select("owner", "owner_right")
    assert (owners["owner"] == owners["owner_right"]).all()


def test_near_duplicates_are_documented_pairs(default):
    customers = default["customers"]
    same_email = customers.filter(
        pl.col("email").is_not_null() & pl.col("email").str.to_lowercase().is_duplicated()
    )
    pairs = same_email.group_by(pl.col("email").str.to_lowercase()).agg(
        pl.col("name").n_unique(),
        pl.col("phone").str.replace_all(r"\D", "").n_unique().alias("phones"),
        (pl.col("email") == pl.col("email").str.to_uppercase()).sum().alias("upper"),
        pl.len(),
    )
    assert pairs.height == max(2, customers.height // 1000)
    assert (pairs["len"] == 2).all() and (pairs["name"] == 1).all() and (pairs["phones"] == 1).all()
    assert (pairs["upper"] >= 1).all()


# --- shape: design targets for realism, on the default sample -----------------------------------


def test_default_size(default):
    assert default["customers"].height == 3000
    assert 70_000 <= default["transactions"].height <= 120_000


def test_share_of_repeat_buyers_is_realistic(default):
    """Design target: 30-80 % of customers make a second completed purchase (many one-time buyers)."""
    purchases = default["transactions"].filter(pl.col("status") == "completed").group_by("customer_id").len()
    repeat = purchases.filter(pl.col("len") >= 2).height / default["customers"].height
    assert 0.30 <= repeat <= 0.80


def test_revenue_is_concentrated_but_not_extreme(default):
    """Design target: the top 20 % of customers bring 45-90 % of revenue (a Pareto-like portfolio)."""
    revenue = (
        default["transactions"].filter(pl.col("status") == "completed")
        .group_by("customer_id").agg(pl.col("amount").sum())["amount"].sort(descending=True)
    )
    n = default["customers"].height
    share = revenue.head(n // 5).sum() / revenue.sum()
    assert 0.45 <= share <= 0.90


def test_rates_match_their_design(default):
    """Design targets: ~3 % refunds, ~1.5 % cancellations, 25-35 % deal win rate, ~30 % survey takers."""
    status = default["transactions"]["status"].value_counts(normalize=True)
    share = dict(status.iter_rows())
    assert 0.02 <= share["refunded"] <= 0.04
    assert 0.01 <= share["cancelled"] <= 0.02
    closed = default["deals"].filter(pl.col("status") != "open")
    assert 0.25 <= (closed["status"] == "won").mean() <= 0.35
    respondents = default["feedback"]["customer_id"].n_unique() / default["customers"].height
    assert 0.25 <= respondents <= 0.35
    assert default["feedback"]["customer_id"].is_duplicated().any()  # some answer several times


def test_unhappy_customers_open_more_tickets(default):
    """Design target: detractors (NPS 0-6) open more tickets per customer than promoters (9-10)."""
    nps = default["feedback"].group_by("customer_id").agg(pl.col("nps").mean()).drop_nulls()
    tickets = default["interactions"].filter(pl.col("kind") == "ticket").group_by("customer_id").len()
    joined = nps.join(tickets, on="customer_id", how="left").fill_null(0)
    detractors = joined.filter(pl.col("nps") <= 6)["len"].mean()
    promoters = joined.filter(pl.col("nps") >= 9)["len"].mean()
    assert detractors > promoters


# --- exports -------------------------------------------------------------------------------------


def test_write_exports_round_trip(tmp_path):
    paths = write_exports(tmp_path, customers=500, seed=11)
    assert [p.name for p in paths] == [f"{n}.csv" for n in TABLES]
    tables = generate(customers=500, seed=11)
    for path in paths:
        back = pl.read_csv(path, infer_schema_length=None)
        name = path.stem
        assert back.columns == TABLES[name].column_names
        assert back.height == tables[name].height
    transactions = pl.read_csv(tmp_path / "transactions.csv", try_parse_dates=True)
    assert transactions["occurred_at"].dtype == pl.Datetime("us")
    assert transactions["amount"].sum() == pytest.approx(tables["transactions"]["amount"].sum())
    first = (tmp_path / "transactions.csv").read_text().splitlines()[1].split(",")
    assert len(first[2]) == len("2023-10-01 13:06:18") and first[3].count(".") == 1


# --- invariants for any size, seed and window ----------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(
    customers=st.integers(1, 80),
    seed=st.integers(0, 2**32 - 1),
    years=st.integers(1, 4),
    end=st.dates(dt.date(2015, 1, 1), dt.date(2035, 12, 31)),
)
def test_invariants_hold_for_any_parameters(customers, seed, years, end):
    tables = generate(customers=customers, seed=seed, end=end, years=years)
    assert tables["customers"].height == customers
    assert _events_outside_lifetime(tables, end) == dict.fromkeys([*EVENT_TIME, "customers"], 0)
    start = end - dt.timedelta(days=round(365.25 * years) - 1)
    assert tables["customers"]["created_at"].min().date() >= start
    for name, frame in tables.items():
        assert frame.columns == TABLES[name].column_names
        if TABLES[name].key:
            assert frame[TABLES[name].key].is_unique().all()
