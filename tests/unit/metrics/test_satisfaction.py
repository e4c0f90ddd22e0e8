"""NPS, CSAT, their trend and summary, checked by hand on a tiny store (Reichheld 2003 for NPS,
top-2-box for CSAT), with property tests against the definitions."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_core.metrics import satisfaction as S
from crm_core.metrics.scope import Scope
from crm_core.store import Store, TableLoad

JAN = (date(2024, 1, 1), date(2024, 1, 31))


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


CUSTOMERS = pl.DataFrame(
    [
        # id, segment, region, owner
        ("c1", "A", "North", "Ann"),
        ("c2", "A", "South", "Bob"),
        ("c3", "B", "North", "Ann"),
        ("c4", "B", "South", "Bob"),
        ("c5", "A", "North", "Bob"),
        ("c6", "B", "North", "Ann"),
        ("c7", "A", "South", "Ann"),  # never answers: counts in the response-rate denominator
    ],
    schema={"customer_id": pl.String, "segment": pl.String, "region": pl.String, "owner": pl.String},
    orient="row",
)

# Ten NPS answers in January 2024: scores 3,10 | 9 | 9,6 | 10 | 9,8 | 7,7
#   promoters (9–10): 10, 9, 9, 10, 9      = 5
#   passives  (7–8):  8, 7, 7              = 3
#   detractors (0–6): 3, 6                 = 2
#   NPS = 100 · (5 − 2) / 10 = +30
# Outside January: c2 on 2023-12-20 (nps 0, csat 1) and c6 on 2024-02-15 (nps 0, csat 1).
# c4 also has a CSAT-only answer (nps null) on 01-15.
FEEDBACK = pl.DataFrame(
    [
        ("c2", ts("2023-12-20 10:00"), 0, 1),
        ("c1", ts("2024-01-03 10:00"), 3, 2),
        ("c2", ts("2024-01-05 10:00"), 9, 4),
        ("c3", ts("2024-01-06 10:00"), 9, 4),
        ("c4", ts("2024-01-07 10:00"), 10, None),
        ("c5", ts("2024-01-08 10:00"), 9, 3),
        ("c5", ts("2024-01-09 10:00"), 8, 5),
        ("c6", ts("2024-01-10 10:00"), 7, None),
        ("c6", ts("2024-01-11 10:00"), 7, 4),
        ("c4", ts("2024-01-15 10:00"), None, 5),
        ("c1", ts("2024-01-20 10:00"), 10, 5),
        ("c3", ts("2024-01-25 10:00"), 6, 1),
        ("c6", ts("2024-02-15 10:00"), 0, 1),
    ],
    schema={"customer_id": pl.String, "responded_at": pl.Datetime("us"), "nps": pl.Int64, "csat": pl.Int64},
    orient="row",
)

# Main sales channel per customer (customer_facts.main_channel): c1–c3 Web, c4–c6 Store.
TRANSACTIONS = pl.DataFrame(
    [(f"c{i}", ts("2024-01-02 12:00"), 10.0, "Web" if i <= 3 else "Store") for i in range(1, 7)],
    schema={"customer_id": pl.String, "occurred_at": pl.Datetime("us"), "amount": pl.Float64, "channel": pl.String},
    orient="row",
)



@pytest.fixture
def ds(store) -> int:
    return store.load(
        "t",
        [
            TableLoad("customers", CUSTOMERS, "c.csv"),
            TableLoad("feedback", FEEDBACK, "f.csv"),
            TableLoad("transactions", TRANSACTIONS, "t.csv"),
        ],
    ).dataset_id


def row(frame: pl.DataFrame, **key) -> dict:
    (name, value), = key.items()
    rows = frame.filter(pl.col(name) == value).to_dicts()
    assert len(rows) == 1, (key, frame)
    return rows[0]


# ---------------------------------------------------------------- NPS


def test_nps_hand_example_plus_30(store, ds):
    out = S.nps(store, Scope(ds, *JAN)).to_dicts()
    assert out == [{"responses": 10, "promoters": 5, "passives": 3, "detractors": 2, "nps": pytest.approx(30.0)}]


def test_nps_window_matters(store, ds):
    # Whole history adds c2's 0 (Dec) and c6's 0 (Feb): 12 answers, P 5, D 4 -> 100 · 1/12 = 8.33
    out = S.nps(store, Scope(ds)).row(0, named=True)
    assert (out["responses"], out["promoters"], out["detractors"]) == (12, 5, 4)
    assert out["nps"] == pytest.approx(100 / 12)


def test_nps_per_customer_counts_latest_answer(store, ds):
    # Latest January NPS answer: c1 10 (P), c2 9 (P), c3 6 (D), c4 10 (P; its later answer has no
    # NPS), c5 8 (passive), c6 7 (passive) -> 6 customers, P 3, Pa 2, D 1, NPS = 100 · 2/6 = 33.3
    out = S.nps(store, Scope(ds, *JAN), per="customer").row(0, named=True)
    assert (out["responses"], out["promoters"], out["passives"], out["detractors"]) == (6, 3, 2, 1)
    assert out["nps"] == pytest.approx(100 * 2 / 6)


def test_nps_per_customer_latest_within_window_only(store, ds):
    # Whole history: c6's latest is now the Feb 0 (D) and c2's Dec 0 is older than its Jan 9.
    # c1 P, c2 P, c3 D, c4 P, c5 Pa, c6 D -> P 3, D 2 of 6 = 16.7
    out = S.nps(store, Scope(ds), per="customer").row(0, named=True)
    assert out["nps"] == pytest.approx(100 * 1 / 6)


def test_nps_by_segment(store, ds):
    out = S.nps(store, Scope(ds, *JAN), by="segment")
    assert out["segment"].to_list() == ["A", "B"]
    # A = c1, c2, c5: 3, 10, 9, 9, 8 -> P 3, Pa 1, D 1 of 5 -> 40
    a = row(out, segment="A")
    assert (a["responses"], a["promoters"], a["passives"], a["detractors"]) == (5, 3, 1, 1)
    assert a["nps"] == pytest.approx(40.0)
    # B = c3, c4, c6: 9, 6, 10, 7, 7 -> P 2, Pa 2, D 1 of 5 -> 20
    assert row(out, segment="B")["nps"] == pytest.approx(20.0)


def test_nps_by_channel_uses_main_sales_channel(store, ds):
    out = S.nps(store, Scope(ds, *JAN), by="channel")
    # Web = c1, c2, c3: 3, 10, 9, 9, 6 -> P 3, D 2 of 5 -> 20; Store = c4, c5, c6: 10, 9, 8, 7, 7 -> 40
    assert row(out, channel="Web")["nps"] == pytest.approx(20.0)
    assert row(out, channel="Store")["nps"] == pytest.approx(40.0)


def test_nps_by_owner_and_region(store, ds):
    by_owner = S.nps(store, Scope(ds, *JAN), by="owner")
    # Ann = c1, c3, c6: 3, 10, 9, 6, 7, 7 -> P 2, D 2 -> 0; Bob = c2, c4, c5: 9, 10, 9, 8 -> P 3 of 4 -> 75
    assert row(by_owner, owner="Ann")["nps"] == pytest.approx(0.0)
    assert row(by_owner, owner="Bob")["nps"] == pytest.approx(75.0)
    by_region = S.nps(store, Scope(ds, *JAN), by="region")
    assert by_region["responses"].sum() == 10


def test_region_filter_applies_through_customers(store, ds):
    # North = c1, c3, c5, c6: 3, 10, 9, 6, 9, 8, 7, 7 -> P 3, Pa 3, D 2 of 8 -> 12.5
    out = S.nps(store, Scope(ds, *JAN, regions=("North",))).row(0, named=True)
    assert out["responses"] == 8
    assert out["nps"] == pytest.approx(12.5)


def test_empty_window_gives_none_not_crash(store, ds):
    far = Scope(ds, date(2030, 1, 1), date(2030, 12, 31))
    assert S.nps(store, far).to_dicts() == [
        {"responses": 0, "promoters": 0, "passives": 0, "detractors": 0, "nps": None}
    ]
    assert S.csat(store, far)["csat"].to_list() == [None]
    assert S.nps(store, far, by="segment").is_empty()
    summary = S.satisfaction_summary(store, far)
    assert summary["nps"] is None and summary["csat"] is None
    assert summary["responses"] == 0 and summary["response_rate"] == 0.0
    assert summary["customers"] == 7


def test_dataset_without_feedback(store):
    ds = store.load("nofb", [TableLoad("transactions", TRANSACTIONS, "t.csv")]).dataset_id
    summary = S.satisfaction_summary(store, Scope(ds))
    assert summary["nps"] is None and summary["responses"] == 0 and summary["customers"] == 6
    assert S.satisfaction_trend(store, Scope(ds)).is_empty()


def test_bad_arguments_are_refused(store, ds):
    with pytest.raises(ValueError):
        S.nps(store, Scope(ds), by="colour")
    with pytest.raises(ValueError):
        S.nps(store, Scope(ds), per="household")
    with pytest.raises(ValueError):
        S.satisfaction_trend(store, Scope(ds), period="fortnight")


# ---------------------------------------------------------------- CSAT


def test_csat_top_two_box(store, ds):
    # January CSAT answers: 2, 5 | 4 | 4, 1 | 5 | 3, 5 | 4 -> 9 answers, satisfied (4–5): 6
    # CSAT = 6/9; mean = (2+5+4+4+1+5+3+5+4)/9 = 33/9
    out = S.csat(store, Scope(ds, *JAN)).row(0, named=True)
    assert (out["responses"], out["satisfied"]) == (9, 6)
    assert out["csat"] == pytest.approx(6 / 9)
    assert out["mean_score"] == pytest.approx(33 / 9)


def test_csat_by_segment_and_per_customer(store, ds):
    out = S.csat(store, Scope(ds, *JAN), by="segment")
    # A = c1, c2, c5: 2, 5, 4, 3, 5 -> 3 of 5; B = c3, c4, c6: 4, 1, 5, 4 -> 3 of 4
    assert row(out, segment="A")["csat"] == pytest.approx(3 / 5)
    assert row(out, segment="B")["csat"] == pytest.approx(3 / 4)
    # latest per customer: c1 5, c2 4, c3 1, c4 5, c5 5, c6 4 -> 5 of 6
    per = S.csat(store, Scope(ds, *JAN), per="customer").row(0, named=True)
    assert (per["responses"], per["satisfied"]) == (6, 5)


# ---------------------------------------------------------------- trend


def test_monthly_trend_flags_the_partial_month(store, ds):
    # Window Dec 2023 – Feb 2024; the data end on 2024-02-15, so February is partial.
    out = S.satisfaction_trend(store, Scope(ds, date(2023, 12, 1), date(2024, 2, 29)))
    assert out["period"].to_list() == [date(2023, 12, 1), date(2024, 1, 1), date(2024, 2, 1)]
    assert out["partial"].to_list() == [False, False, True]
    # Dec: one 0 -> −100; Jan: +30 (hand example); Feb: one 0 -> −100
    assert out["nps"].to_list() == pytest.approx([-100.0, 30.0, -100.0])
    assert out["nps_responses"].to_list() == [1, 10, 1]
    # CSAT: Dec one 1 -> 0; Jan 6/9; Feb one 1 -> 0
    assert out["csat"].to_list() == pytest.approx([0.0, 6 / 9, 0.0])


def test_trend_window_starting_mid_month_is_partial(store, ds):
    # From Jan 10: c6 7, c6 7, c1 10, c3 6 -> P 1, Pa 2, D 1 -> 0
    out = S.satisfaction_trend(store, Scope(ds, date(2024, 1, 10), date(2024, 1, 31)))
    assert out.select("period", "nps_responses", "nps", "partial").to_dicts() == [
        {"period": date(2024, 1, 1), "nps_responses": 4, "nps": 0.0, "partial": True}
    ]


def test_trend_lists_months_without_answers(store, ds):
    # Window Nov 2023 – Jan 2024: November has no answer but is listed with 0 responses.
    out = S.satisfaction_trend(store, Scope(ds, date(2023, 11, 1), date(2024, 1, 31)))
    assert out["period"].to_list() == [date(2023, 11, 1), date(2023, 12, 1), date(2024, 1, 1)]
    assert out["nps_responses"].to_list() == [0, 1, 10]
    assert out["nps"][0] is None
    assert not out["partial"].any()


def test_quarterly_trend_open_window(store, ds):
    # Q4 2023: the Dec 0 -> −100 (open start: not partial); Q1 2024: Jan's ten + Feb's 0 ->
    # P 5, D 3 of 11 = 18.2, partial (data end on Feb 15)
    out = S.satisfaction_trend(store, Scope(ds), period="quarter")
    assert out["period"].to_list() == [date(2023, 10, 1), date(2024, 1, 1)]
    assert out["nps"].to_list() == pytest.approx([-100.0, 100 * 2 / 11])
    assert out["partial"].to_list() == [False, True]


# ---------------------------------------------------------------- summary


def test_summary_hand_values(store, ds):
    out = S.satisfaction_summary(store, Scope(ds, *JAN))
    assert out["nps"] == pytest.approx(30.0)
    assert out["csat"] == pytest.approx(6 / 9)
    # rows in January: 10 with NPS + c4's CSAT-only answer = 11; respondents c1–c6 of 7 customers
    assert (out["responses"], out["nps_responses"], out["csat_responses"]) == (11, 10, 9)
    assert (out["respondents"], out["customers"]) == (6, 7)
    assert out["response_rate"] == pytest.approx(6 / 7)


def test_summary_with_segment_filter(store, ds):
    # Segment B = c3, c4, c6 (all answer) of 3 customers; NPS 20 (see by segment)
    out = S.satisfaction_summary(store, Scope(ds, *JAN, segments=("B",)))
    assert out["nps"] == pytest.approx(20.0)
    assert (out["respondents"], out["customers"], out["response_rate"]) == (3, 3, 1.0)


# ---------------------------------------------------------------- properties

_PROPERTY_STORE: list[Store] = []


def _property_store() -> Store:
    if not _PROPERTY_STORE:
        _PROPERTY_STORE.append(Store(":memory:"))
    return _PROPERTY_STORE[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    answers=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 10), st.integers(1, 5), st.integers(0, 59)),
        min_size=1,
        max_size=30,
    )
)
def test_nps_and_csat_match_definition_and_bounds(answers):
    store = _property_store()
    frame = pl.DataFrame(
        [(f"c{c}", datetime(2024, 1, 1, 0, minute), n, s) for c, n, s, minute in answers],
        schema={"customer_id": pl.String, "responded_at": pl.Datetime("us"), "nps": pl.Int64, "csat": pl.Int64},
        orient="row",
    )
    ds = store.load(uuid.uuid4().hex, [TableLoad("feedback", frame, "f.csv")]).dataset_id
    scores = [n for _, n, _, _ in answers]
    expected = 100 * (sum(n >= 9 for n in scores) - sum(n <= 6 for n in scores)) / len(scores)
    got = S.nps(store, Scope(ds)).row(0, named=True)
    assert -100 <= got["nps"] <= 100
    assert got["nps"] == pytest.approx(expected)
    assert got["promoters"] + got["passives"] + got["detractors"] == got["responses"] == len(answers)
    c = S.csat(store, Scope(ds)).row(0, named=True)
    assert 0 <= c["csat"] <= 1
    assert c["csat"] == pytest.approx(sum(s >= 4 for _, _, s, _ in answers) / len(answers))
    per_customer = S.nps(store, Scope(ds), per="customer").row(0, named=True)
    assert -100 <= per_customer["nps"] <= 100
    assert per_customer["responses"] == len({c for c, _, _, _ in answers})


# ---------------------------------------------------------------- sample company



def test_sample_company_runs(sample):
    store, ds = sample
    for scope in (Scope(ds), Scope(ds, date(2025, 1, 1), date(2025, 6, 30), regions=("Europe",))):
        for by in (None, *S.BREAKDOWNS):
            for per in S.PERS:
                out = S.nps(store, scope, by=by, per=per)
                assert out["nps"].drop_nulls().is_between(-100, 100).all()
                c = S.csat(store, scope, by=by, per=per)
                assert c["csat"].drop_nulls().is_between(0, 1).all()
        for period in S.PERIODS:
            trend = S.satisfaction_trend(store, scope, period=period)
            assert trend["period"].is_sorted() and trend["period"].is_unique().all()
        summary = S.satisfaction_summary(store, scope)
        assert 0 <= summary["response_rate"] <= 1
    whole = S.satisfaction_summary(store, Scope(ds))
    assert -100 <= whole["nps"] <= 100 and whole["responses"] > 0
    # every monthly answer lands in exactly one month
    assert S.satisfaction_trend(store, Scope(ds))["nps_responses"].sum() == whole["nps_responses"]
