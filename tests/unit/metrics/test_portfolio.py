"""Customer portfolio analysis (crm_core.metrics.portfolio).

Sources of the expected numbers:
- hand computations on tiny fixtures, the arithmetic written in comments next to each value;
- the Gini coefficient also against an independent formula, the mean absolute difference
  G = Σ_i Σ_j |x_i - x_j| / (2 n² μ), computed with NumPy (Dorfman 1979 shows the two are equal);
- RFM quintiles also against ``pandas.qcut`` on ``rank(method="first")``, the common RFM recipe;
- the RFM segment map against the grid printed in ``rfm_segments.yaml`` (Putler's eleven segments on
  the widely used R x F map, see the sources there);
- value x cost quadrants against Shapiro, Rangan, Moriarty & Ross (1987) quadrant definitions.
"""

from __future__ import annotations

import copy
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_core.metrics import portfolio as P

IDS = [f"c{i:02d}" for i in range(1, 11)]

# 10 customers. revenue sums to 1000 so shares read as per-mille.
REVENUE = [500.0, 200.0, 100.0, 60.0, 50.0, 40.0, 20.0, 15.0, 10.0, 5.0]
# margin with two loss-making customers (c06, c10); sums to 300
MARGIN = [200.0, 60.0, 40.0, 20.0, 15.0, -10.0, 8.0, 5.0, 2.0, -40.0]
PURCHASES = [12, 8, 6, 5, 3, 3, 2, 1, 1, 1]
RECENCY = [200, 10, 120, 45, 45, 60, 90, 20, 365, 5]


@pytest.fixture
def customers() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": IDS,
            "revenue": REVENUE,
            "margin": MARGIN,
            "purchases": PURCHASES,
            "recency_days": RECENCY,
        }
    )


# ------------------------------------------------------------------------------------------------
# Pareto curve
# ------------------------------------------------------------------------------------------------
def test_pareto_curve_hand_computed(customers):
    c = P.pareto(customers, "revenue")
    # ranked: 500, 200, 100, 60, 50, 40, 20, 15, 10, 5 (already descending)
    # cumulative: 500, 700, 800, 860, 910, 950, 970, 985, 995, 1000 ; / 1000:
    expected_value_share = [0.50, 0.70, 0.80, 0.86, 0.91, 0.95, 0.97, 0.985, 0.995, 1.0]
    # customer share = rank / 10
    expected_customer_share = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert c.curve["customer_id"].to_list() == IDS
    np.testing.assert_allclose(c.curve["value_share"].to_numpy(), expected_value_share, rtol=0, atol=1e-12)
    np.testing.assert_allclose(c.curve["customer_share"].to_numpy(), expected_customer_share, atol=1e-12)
    assert c.n == 10 and c.total == 1000.0 and c.missing == 0 and c.negatives == 0 and c.defined
    # 80/20 point: the first rank whose cumulative share reaches 0.80 is rank 3 (800/1000) -> 3/10
    assert c.pareto_point == pytest.approx(0.3)
    # top 10 % = top 1 customer = 500/1000 ; top 20 % = top 2 = (500 + 200)/1000
    assert c.top_share(0.1) == pytest.approx(0.5)
    assert c.top_share(0.2) == pytest.approx(0.7)
    # q = 0.25 -> 2.5 customers: halfway between rank 2 (0.70) and rank 3 (0.80) = 0.75
    assert c.top_share(0.25) == pytest.approx(0.75)
    # q = 0.05 -> half of the first customer: 0.5 * 0.50 = 0.25
    assert c.top_share(0.05) == pytest.approx(0.25)
    assert c.top_share(0.0) == 0.0 and c.top_share(1.0) == 1.0
    # customers making 90 %: first cumulative share >= 0.9 is 0.91 at rank 5 -> 0.5
    assert c.customers_for(0.9) == pytest.approx(0.5)


def test_pareto_margin_whale_curve(customers):
    c = P.pareto(customers, "margin")
    # ranked: 200 (c01), 60 (c02), 40 (c03), 20 (c04), 15 (c05), 8 (c07), 5 (c08), 2 (c09), -10 (c06), -40 (c10)
    # cumulative: 200, 260, 300, 320, 335, 343, 348, 350, 340, 300 ; total 300
    assert c.curve["customer_id"].to_list() == ["c01", "c02", "c03", "c04", "c05", "c07", "c08", "c09", "c06", "c10"]
    expected = np.array([200, 260, 300, 320, 335, 343, 348, 350, 340, 300]) / 300
    np.testing.assert_allclose(c.curve["value_share"].to_numpy(), expected, atol=1e-12)
    # whale curve: peaks at 350/300 = 116.7 % of margin, ends at exactly 1.0
    assert c.curve["value_share"].max() == pytest.approx(350 / 300)
    assert c.curve["value_share"][-1] == 1.0
    assert c.negatives == 2 and c.defined
    assert c.top_share(0.1) == pytest.approx(200 / 300)  # 0.6667
    assert c.top_share(0.2) == pytest.approx(260 / 300)  # 0.8667
    assert c.pareto_point == pytest.approx(0.2)  # 260/300 = 0.867 >= 0.8 at rank 2


def test_pareto_non_positive_total_is_undefined_not_a_crash():
    # margin total = 10 - 30 = -20 < 0: shares of a negative total mean nothing
    c = P.pareto(pl.Series([10.0, -30.0]))
    assert not c.defined and c.total == -20.0
    assert c.top_share(0.2) is None and c.pareto_point is None and c.customers_for(0.5) is None
    assert c.curve["value_share"].null_count() == 2
    # all zero, and empty
    assert not P.pareto(pl.Series([0.0, 0.0])).defined
    empty = P.pareto(pl.Series([], dtype=pl.Float64))
    assert empty.n == 0 and empty.top_share(0.2) is None


def test_pareto_leaves_out_missing_values_and_counts_them():
    frame = pl.DataFrame({"customer_id": ["a", "b", "c"], "margin": [30.0, None, 10.0]})
    c = P.pareto(frame, "margin")
    assert c.n == 2 and c.missing == 1
    assert c.top_share(0.5) == pytest.approx(0.75)  # top 1 of 2 = 30 / 40


def test_pareto_ties_keep_input_order():
    frame = pl.DataFrame({"customer_id": ["z", "a", "m"], "revenue": [5.0, 5.0, 10.0]})
    c = P.pareto(frame, "revenue")
    assert c.curve["customer_id"].to_list() == ["m", "z", "a"]
    # cumulative 10, 15, 20 of 20
    assert c.curve["value_share"].to_list() == [0.5, 0.75, 1.0]


def test_pareto_rejects_duplicate_customers():
    with pytest.raises(ValueError, match="duplicate"):
        P.pareto(pl.DataFrame({"customer_id": ["a", "a"], "revenue": [1.0, 2.0]}), "revenue")
    with pytest.raises(ValueError, match="missing"):
        P.pareto(pl.DataFrame({"customer_id": ["a"]}), "revenue")
    # sorted ids (as customer facts come) are checked by neighbours, others by hashing: the same answers
    for ids, repeated in ((["a", "b", "b", "c"], True), (["b", "c", "b"], True), ([None, None, "a"], True),
                          (["a", None, None], True), ([None, "a", "b"], False), (["c", "a", "b"], False)):
        frame = pl.DataFrame({"customer_id": ids, "revenue": [1.0] * len(ids)})
        assert P._has_duplicates(frame["customer_id"]) is repeated
        if repeated:
            with pytest.raises(ValueError, match="duplicate"):
                P.portfolio_summary(frame)
        else:
            assert P.portfolio_summary(frame)["customers"] == len(ids)


# ------------------------------------------------------------------------------------------------
# Gini
# ------------------------------------------------------------------------------------------------
def gini_mean_abs_difference(x) -> float:
    """Independent reference: G = Σ_i Σ_j |x_i - x_j| / (2 n² μ) (all pairs, NumPy broadcasting)."""
    x = np.asarray(x, dtype=float)
    n = x.size
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * n * n * x.mean()))


def test_gini_hand_computed(customers):
    # ascending x: 5, 10, 15, 20, 40, 50, 60, 100, 200, 500 ; n = 10, Σx = 1000
    # weights 2i - n - 1 = -9, -7, -5, -3, -1, 1, 3, 5, 7, 9
    # Σ = -45 - 70 - 75 - 60 - 40 + 50 + 180 + 500 + 1400 + 4500 = 6340
    # G = 6340 / (10 * 1000) = 0.634
    assert P.gini(customers, "revenue") == pytest.approx(0.634, abs=1e-12)
    assert gini_mean_abs_difference(REVENUE) == pytest.approx(0.634, abs=1e-12)


def test_gini_bounds_hand_computed():
    assert P.gini([7.0, 7.0, 7.0]) == 0.0  # perfect equality
    # one of four has it all: weights -3, -1, 1, 3 on 0, 0, 0, 10 -> 30 / (4 * 10) = 0.75 = (n-1)/n
    assert P.gini([0.0, 0.0, 0.0, 10.0]) == pytest.approx(0.75)
    # two customers 1 and 3: weights -1, 1 -> 2 / (2 * 4) = 0.25 ; MAD: (|1-3| * 2) / (2 * 4 * 2) = 0.25
    assert P.gini(pl.Series([3.0, 1.0])) == pytest.approx(0.25)
    assert P.gini([]) is None and P.gini([0.0, 0.0]) is None
    assert P.gini(pl.Series([1.0, None, 3.0])) == pytest.approx(0.25)  # nulls left out
    with pytest.raises(ValueError, match="non-negative"):
        P.gini([5.0, -1.0])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=60))
def test_gini_matches_mean_abs_difference_and_lies_in_0_1(xs):
    g = P.gini(xs)
    if sum(xs) == 0:
        assert g is None
        return
    assert 0.0 <= g < 1.0
    assert g <= (len(xs) - 1) / len(xs) + 1e-12
    assert g == pytest.approx(gini_mean_abs_difference(xs), abs=1e-9)


# ------------------------------------------------------------------------------------------------
# ABC
# ------------------------------------------------------------------------------------------------
def test_abc_hand_computed(customers):
    abc = P.abc_classes(customers, "revenue")
    # share of revenue of the customers ranked above each one (S_before) and the class:
    # c01 0.000 A | c02 0.500 A | c03 0.700 A (crosses 80 %: 0.70 -> 0.80, stays A)
    # c04 0.800 B (not < 0.80) | c05 0.860 B | c06 0.910 B (crosses 95 %: 0.91 -> 0.95)
    # c07 0.950 C (not < 0.95) | c08 0.970 C | c09 0.985 C | c10 0.995 C
    assert dict(zip(abc["customer_id"], abc["abc"], strict=True)) == {
        "c01": "A", "c02": "A", "c03": "A",
        "c04": "B", "c05": "B", "c06": "B",
        "c07": "C", "c08": "C", "c09": "C", "c10": "C",
    }
    s = P.abc_summary(abc)
    assert s["abc"].cast(pl.String).to_list() == ["A", "B", "C"]
    assert s["customers"].to_list() == [3, 3, 4]
    np.testing.assert_allclose(s["customer_share"].to_numpy(), [0.3, 0.3, 0.4])
    # value: A 500+200+100 = 800, B 60+50+40 = 150, C 20+15+10+5 = 50 ; of 1000
    assert s["value"].to_list() == [800.0, 150.0, 50.0]
    np.testing.assert_allclose(s["value_share"].to_numpy(), [0.80, 0.15, 0.05])


def test_abc_thresholds_are_parameters(customers):
    # a = 0.5, b = 0.9: c01 S_before 0 -> A ; c02 0.5 (not < 0.5) -> B ; c03 0.7, c04 0.8, c05 0.86 -> B ;
    # c06 0.91 -> C and the rest C
    abc = P.abc_classes(customers, "revenue", a=0.5, b=0.9)
    assert abc["abc"].cast(pl.String).to_list() == ["A", "B", "B", "B", "B", "C", "C", "C", "C", "C"]
    with pytest.raises(ValueError):
        P.abc_classes(customers, "revenue", a=0.9, b=0.8)


def test_abc_on_margin_with_losses(customers):
    abc = P.abc_classes(customers, "margin")
    # S_before of 300: c01 0 A | c02 200/300 = 0.667 A | c03 260/300 = 0.867 B | c04 300/300 = 1.0 C ;
    # after the whale hump every S_before is above 0.95 -> C (including the loss makers c06, c10)
    classes = dict(zip(abc["customer_id"], abc["abc"].cast(pl.String), strict=True))
    assert [k for k, v in classes.items() if v == "A"] == ["c01", "c02"]
    assert [k for k, v in classes.items() if v == "B"] == ["c03"]
    assert classes["c06"] == "C" and classes["c10"] == "C"


def test_abc_ties_share_a_class():
    # values 60, 10, 10, 10, 10 (total 100). Ranked one by one, S_before would be 0, .6, .7, .8, .9,
    # putting the last two tens in B; the tie group of tens starts at S_before = 0.6 < 0.8, so all are A.
    frame = pl.DataFrame({"customer_id": list("abcde"), "revenue": [60.0, 10.0, 10.0, 10.0, 10.0]})
    assert P.abc_classes(frame, "revenue")["abc"].cast(pl.String).to_list() == ["A"] * 5
    # zero-value customers are C
    frame = pl.DataFrame({"customer_id": list("abc"), "revenue": [10.0, 0.0, 0.0]})
    assert P.abc_classes(frame, "revenue")["abc"].cast(pl.String).to_list() == ["A", "C", "C"]


def test_abc_undefined_total_gives_null_classes():
    frame = pl.DataFrame({"customer_id": ["a", "b"], "margin": [-5.0, 2.0]})
    abc = P.abc_classes(frame, "margin")
    assert abc["abc"].null_count() == 2
    s = P.abc_summary(abc)
    assert s["customers"].to_list() == [0, 0, 0] and s["value_share"].null_count() == 3


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=80))
def test_abc_partitions_customers(values):
    frame = pl.DataFrame({"customer_id": list(range(len(values))), "revenue": [float(v) for v in values]})
    abc = P.abc_classes(frame, "revenue")
    if sum(values) == 0:
        assert abc["abc"].null_count() == len(values)
        return
    # every customer exactly once, with exactly one class
    assert sorted(abc["customer_id"].to_list()) == list(range(len(values)))
    assert abc["abc"].null_count() == 0
    s = P.abc_summary(abc)
    assert s["customers"].sum() == len(values)
    assert s["value"].sum() == pytest.approx(sum(values))
    # equal values, equal class
    assert abc.group_by("value").agg(pl.col("abc").n_unique())["abc"].max() == 1
    # classes follow the ranking: A before B before C
    codes = abc["abc"].to_physical().to_list()
    assert codes == sorted(codes)
    # A makes at least 80 % of value (the crossing customer is in A) and B+A at least 95 %
    assert s["value_share"][0] >= 0.8 - 1e-12
    assert s["value_share"][0] + s["value_share"][1] >= 0.95 - 1e-12


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=80, unique=True))
def test_abc_a_share_is_the_pareto_point_without_ties(values):
    frame = pl.DataFrame({"customer_id": list(range(len(values))), "revenue": [float(v) for v in values]})
    abc = P.abc_classes(frame, "revenue")
    a_share = (abc["abc"] == "A").sum() / len(values)
    assert a_share == pytest.approx(P.pareto(frame, "revenue").pareto_point)


# ------------------------------------------------------------------------------------------------
# Pareto properties
# ------------------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e9, allow_nan=False), min_size=1, max_size=80), st.floats(0, 1))
def test_pareto_shares_in_unit_interval_non_decreasing_ending_at_one(xs, q):
    c = P.pareto(pl.Series(xs))
    if sum(xs) == 0:
        assert not c.defined
        return
    share = c.curve["value_share"].to_numpy()
    assert np.all(share >= 0) and np.all(share <= 1.0 + 1e-12)
    assert np.all(np.diff(share) >= -1e-12)
    assert share[-1] == 1.0 and c.curve["customer_share"][-1] == 1.0
    t = c.top_share(q)
    assert 0.0 <= t <= 1.0 + 1e-12
    # concentration: the top q of customers hold at least q of the value
    assert t >= q - 1e-9
    assert c.top_share(min(1.0, q + 0.1)) >= t - 1e-12


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60))
def test_pareto_with_negatives_never_crashes_and_ends_at_one_when_defined(xs):
    c = P.pareto(pl.Series(xs))
    if c.defined:
        assert c.curve["value_share"][-1] == 1.0
        assert c.top_share(0.2) is not None
    else:
        assert c.top_share(0.2) is None and c.pareto_point is None


# ------------------------------------------------------------------------------------------------
# RFM
# ------------------------------------------------------------------------------------------------
# hand scores (n = 10 buyers; score = 1 + floor(5 * (rank_min - 1) / 10) = 1 + floor((rank_min - 1) / 2)):
# R: recency ranked oldest first: 365 (c09) r1 -> 1 ; 200 (c01) r2 -> 1 ; 120 (c03) r3 -> 2 ; 90 (c07) r4 -> 2 ;
#    60 (c06) r5 -> 3 ; 45 (c04, c05 tied) min rank 6 -> 3 both ; 20 (c08) r8 -> 4 ; 10 (c02) r9 -> 5 ; 5 (c10) r10 -> 5
# F: purchases ascending: 1 (c08, c09, c10 tied) rank 1 -> 1 ; 2 (c07) r4 -> 2 ; 3 (c05, c06) r5 -> 3 ;
#    5 (c04) r7 -> 4 ; 6 (c03) r8 -> 4 ; 8 (c02) r9 -> 5 ; 12 (c01) r10 -> 5
# M: revenue ascending 5 (c10) r1 -> 1 ; 10 (c09) -> 1 ; 15 (c08) -> 2 ; 20 (c07) -> 2 ; 40 (c06) -> 3 ;
#    50 (c05) -> 3 ; 60 (c04) -> 4 ; 100 (c03) -> 4 ; 200 (c02) -> 5 ; 500 (c01) -> 5
EXPECTED_RFM = {  # customer: (R, F, M, FM = floor((F + M + 1) / 2), segment from the yaml grid)
    "c01": (1, 5, 5, 5, "Can't lose them"),
    "c02": (5, 5, 5, 5, "Champions"),
    "c03": (2, 4, 4, 4, "At risk"),
    "c04": (3, 4, 4, 4, "Loyal customers"),
    "c05": (3, 3, 3, 3, "Need attention"),
    "c06": (3, 3, 3, 3, "Need attention"),
    "c07": (2, 2, 2, 2, "Hibernating"),
    "c08": (4, 1, 2, 2, "Potential loyalists"),  # FM = (1 + 2)/2 = 1.5 rounded half up = 2
    "c09": (1, 1, 1, 1, "Lost"),
    "c10": (5, 1, 1, 1, "New customers"),
}


@pytest.fixture
def with_non_buyer(customers):
    # c11 bought nothing in the window: no recency, zero revenue -> left out of RFM and counted
    extra = pl.DataFrame(
        {"customer_id": ["c11"], "revenue": [0.0], "margin": [None], "purchases": [0], "recency_days": [None]},
        schema=customers.schema,
    )
    return pl.concat([customers, extra])


def test_rfm_scores_hand_computed(with_non_buyer):
    scored = P.rfm_scores(with_non_buyer)
    assert scored.height == 10
    assert P.rfm_excluded(with_non_buyer) == 1
    got = {row["customer_id"]: (row["r"], row["f"], row["m"]) for row in scored.iter_rows(named=True)}
    assert got == {k: v[:3] for k, v in EXPECTED_RFM.items()}


def test_rfm_segments_hand_placed(with_non_buyer):
    seg = P.rfm_segments(P.rfm_scores(with_non_buyer))
    got = {row["customer_id"]: (row["fm"], row["segment"]) for row in seg.iter_rows(named=True)}
    assert got == {k: (v[3], v[4]) for k, v in EXPECTED_RFM.items()}
    # the other rounding rule of the yaml: floor(1.5) = 1 puts c08 (R4, FM1) in Promising
    rules = copy.deepcopy(P.RFM_RULES)
    rules["fm_rounding"] = "floor"
    floor = P.rfm_segments(P.rfm_scores(with_non_buyer), rules)
    assert floor.filter(pl.col("customer_id") == "c08")["segment"].item() == "Promising"


def test_rfm_summary_hand_computed(with_non_buyer):
    s = P.rfm_summary(P.rfm_segments(P.rfm_scores(with_non_buyer)))
    assert s["segment"].cast(pl.String).to_list() == [x["name"] for x in P.RFM_RULES["segments"]]
    assert s["customers"].sum() == 10
    by = {r["segment"]: r for r in s.iter_rows(named=True)}
    # Need attention = c05 + c06: 2 customers of 10, revenue 50 + 40 = 90 of 1000
    assert by["Need attention"]["customers"] == 2
    assert by["Need attention"]["customer_share"] == pytest.approx(0.2)
    assert by["Need attention"]["revenue"] == 90.0
    assert by["Need attention"]["revenue_share"] == pytest.approx(0.09)
    # Can't lose them = c01 alone: 500 of 1000 revenue
    assert by["Can't lose them"]["revenue_share"] == pytest.approx(0.5)
    # empty segments are listed with zeros
    assert by["About to sleep"]["customers"] == 0 and by["About to sleep"]["revenue"] == 0.0


# the map printed in rfm_segments.yaml: rows R = 5..1, columns FM = 1..5
YAML_GRID = {
    5: ["New customers", "Potential loyalists", "Potential loyalists", "Champions", "Champions"],
    4: ["Promising", "Potential loyalists", "Potential loyalists", "Loyal customers", "Loyal customers"],
    3: ["About to sleep", "About to sleep", "Need attention", "Loyal customers", "Loyal customers"],
    2: ["Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"],
    1: ["Lost", "Lost", "At risk", "At risk", "Can't lose them"],
}


def test_every_r_fm_cell_is_in_exactly_one_segment_of_the_rules_file():
    segments = P.RFM_RULES["segments"]
    assert len(segments) == 11
    for r in range(1, 6):
        for fm in range(1, 6):
            hits = [s["name"] for s in segments if s["r"][0] <= r <= s["r"][1] and s["fm"][0] <= fm <= s["fm"][1]]
            assert hits == [YAML_GRID[r][fm - 1]], (r, fm, hits)


def test_rfm_segments_lookup_on_all_25_combinations():
    # F = M = FM gives FM exactly, so every (R, FM) cell is reached once
    cells = pl.DataFrame(
        {"r": [r for r in range(1, 6) for _ in range(5)], "f": list(range(1, 6)) * 5, "m": list(range(1, 6)) * 5},
        schema={"r": pl.Int8, "f": pl.Int8, "m": pl.Int8},
    )
    seg = P.rfm_segments(cells)
    for row in seg.iter_rows(named=True):
        assert row["segment"] == YAML_GRID[row["r"]][row["fm"] - 1]


def test_rfm_grid_rejects_overlaps_and_gaps():
    overlapping = copy.deepcopy(P.RFM_RULES)
    overlapping["segments"][0]["r"] = [4, 5]  # Champions now also claims R4 FM4-5 (Loyal customers)
    with pytest.raises(ValueError, match="exactly once"):
        P.rfm_grid(overlapping)
    gap = copy.deepcopy(P.RFM_RULES)
    gap["segments"] = [s for s in gap["segments"] if s["name"] != "Lost"]
    with pytest.raises(ValueError, match="exactly once"):
        P.rfm_grid(gap)
    with pytest.raises(ValueError, match="1..5"):
        P.rfm_segments(pl.DataFrame({"r": [7], "f": [1], "m": [1]}))


def test_rfm_quintiles_match_pandas_qcut_on_first_ranks(customers):
    pd = pytest.importorskip("pandas")
    # revenue has no ties and n = 10 = 2 per quintile: our "min"-rank score equals the usual recipe
    m_pandas = pd.qcut(pd.Series(REVENUE).rank(method="first"), 5, labels=False) + 1
    assert P.rfm_scores(customers)["m"].to_list() == m_pandas.tolist()


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 16).flatmap(
        lambda k: st.lists(st.integers(0, 10**6), min_size=5 * k, max_size=5 * k, unique=True)
    )
)
def test_rfm_quintiles_match_pandas_qcut_without_ties(values):
    pd = pytest.importorskip("pandas")
    n = len(values)
    frame = pl.DataFrame(
        {"customer_id": list(range(n)), "revenue": [float(v) for v in values], "purchases": [1] * n,
         "recency_days": values}
    )
    scored = P.rfm_scores(frame)
    expected = (pd.qcut(pd.Series(values).rank(method="first"), 5, labels=False) + 1).tolist()
    assert scored["m"].to_list() == expected
    # recency: fewer days = higher score, i.e. the mirror image
    assert scored["r"].to_list() == [6 - e for e in expected]
    assert scored.group_by("m").len()["len"].to_list() == [n // 5] * 5


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=120))
def test_rfm_histogram_ranks_match_polars_min_ranks(days):
    # integer columns with a small range are ranked through a cumulative histogram; the same values as
    # floats go through Polars' rank("min"): both must give the same scores, ties included
    n = len(days)
    ints = pl.DataFrame({"customer_id": list(range(n)), "recency_days": days, "purchases": days,
                         "revenue": [1.0] * n}).with_columns(pl.col("purchases") + 1)
    floats = ints.with_columns(pl.col("recency_days", "purchases").cast(pl.Float64))
    a, b = P.rfm_scores(ints), P.rfm_scores(floats)
    assert a["r"].to_list() == b["r"].to_list() and a["f"].to_list() == b["f"].to_list()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 400), st.integers(0, 30), st.floats(0, 1e5, allow_nan=False)),
        min_size=1, max_size=80,
    )
)
def test_every_buyer_gets_exactly_one_rfm_segment(rows):
    frame = pl.DataFrame(
        {
            "customer_id": list(range(len(rows))),
            "recency_days": [r[0] for r in rows],
            "purchases": [r[1] for r in rows],
            "revenue": [r[2] for r in rows],
        }
    )
    scored = P.rfm_scores(frame)
    buyers = sum(1 for r in rows if r[1] > 0)
    assert scored.height == buyers and P.rfm_excluded(frame) == len(rows) - buyers
    if buyers == 0:
        return
    for col in ("r", "f", "m"):
        assert scored[col].min() >= 1 and scored[col].max() <= 5
    seg = P.rfm_segments(scored)
    assert seg.height == buyers and seg["segment"].null_count() == 0
    assert P.rfm_summary(seg)["customers"].sum() == buyers
    # same recency, same R score (ties are scored alike)
    assert seg.group_by("recency_days").agg(pl.col("r").n_unique())["r"].max() == 1


# ------------------------------------------------------------------------------------------------
# value x cost-to-serve quadrants (Shapiro et al. 1987)
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def eight() -> pl.DataFrame:
    margin = [300.0, 80.0, 20.0, 10.0, 60.0, 5.0, 30.0, 90.0]
    cost = [50.0, 10.0, 5.0, 40.0, 30.0, 2.0, 35.0, 8.0]
    return pl.DataFrame(
        {
            "customer_id": [f"q{i}" for i in range(1, 9)],
            "revenue": [m * 3 for m in margin],
            "margin": margin,
            "cost_to_serve": cost,
            # net profit = margin - cost: 250, 70, 15, -30, 30, 3, -5, 82 (total 415)
            "net_profit": [m - c for m, c in zip(margin, cost, strict=True)],
        }
    )


def test_quadrants_median_split_hand_computed(eight):
    q = P.cost_quadrants(eight)
    # median margin: sorted 5, 10, 20, 30 | 60, 80, 90, 300 -> (30 + 60)/2 = 45 ; high value: q1, q2, q5, q8
    # median cost:   sorted 2, 5, 8, 10 | 30, 35, 40, 50   -> (10 + 30)/2 = 20 ; high cost:  q1, q4, q5, q7
    assert q["value_basis"].unique().to_list() == ["margin"]
    got = dict(zip(q["customer_id"], q["quadrant"].cast(pl.String), strict=True))
    assert got == {
        "q1": "Carriage trade", "q5": "Carriage trade",  # high value, high cost
        "q2": "Passive", "q8": "Passive",  # high value, low cost
        "q4": "Aggressive", "q7": "Aggressive",  # low value, high cost
        "q3": "Bargain basement", "q6": "Bargain basement",  # low value, low cost
    }
    s = P.quadrant_summary(q)
    assert s["quadrant"].cast(pl.String).to_list() == ["Carriage trade", "Passive", "Aggressive", "Bargain basement"]
    assert s["customers"].to_list() == [2, 2, 2, 2]
    # profit: carriage 250 + 30 = 280 ; passive 70 + 82 = 152 ; aggressive -30 - 5 = -35 ; bargain 15 + 3 = 18
    assert s["profit"].to_list() == [280.0, 152.0, -35.0, 18.0]
    np.testing.assert_allclose(s["profit_share"].to_numpy(), np.array([280, 152, -35, 18]) / 415)
    np.testing.assert_allclose(s["customer_share"].to_numpy(), [0.25] * 4)


def test_quadrants_mean_split_hand_computed(eight):
    q = P.cost_quadrants(eight, split="mean")
    # mean margin = 595 / 8 = 74.375 -> high value: q1 (300), q2 (80), q8 (90); q5 (60) drops to low value
    # mean cost   = 180 / 8 = 22.5   -> high cost:  q1, q4, q5, q7 (as with the median)
    got = dict(zip(q["customer_id"], q["quadrant"].cast(pl.String), strict=True))
    assert got["q5"] == "Aggressive" and got["q1"] == "Carriage trade"
    s = P.quadrant_summary(q)
    assert s["customers"].to_list() == [1, 2, 3, 2]
    # aggressive: q4 -30, q5 +30, q7 -5 = -5
    assert s["profit"].to_list() == [250.0, 152.0, -5.0, 18.0]


def test_quadrant_value_axis_revenue_and_margin_fallback(eight):
    # explicit revenue axis: revenue = 3 x margin, so the same split
    q = P.cost_quadrants(eight, value="revenue")
    assert q["value_basis"][0] == "revenue"
    assert q["value_axis"].to_list() == [m * 3 for m in eight["margin"]]
    # a customer with sales but unknown margin: margin is not comparable, so revenue for everyone
    partial = eight.with_columns(
        margin=pl.when(pl.col("customer_id") == "q3").then(None).otherwise(pl.col("margin"))
    )
    q = P.cost_quadrants(partial)
    assert q["value_basis"][0] == "revenue" and q["value_axis"][2] == 60.0
    # a customer with no sales has no margin: counts as margin 0, margin still used
    no_sales = pl.concat(
        [eight, pl.DataFrame({"customer_id": ["q9"], "revenue": [0.0], "margin": [None], "cost_to_serve": [1.0],
                              "net_profit": [-1.0]}, schema=eight.schema)]
    )
    q = P.cost_quadrants(no_sales)
    assert q["value_basis"][0] == "margin" and q["value_axis"][-1] == 0.0
    assert q["quadrant"][-1] == "Bargain basement"  # value 0, cost 1 < median cost 10
    # no margin column at all
    assert P.cost_quadrants(eight.drop("margin"))["value_basis"][0] == "revenue"


def test_quadrant_definitions_follow_shapiro_1987():
    # Shapiro et al. (1987), exhibit "The customer classification matrix": net price (y) against cost to serve (x)
    sides = {name: (d["value"], d["cost"]) for name, d in P.QUADRANTS.items()}
    assert sides == {
        "Carriage trade": ("high", "high"),
        "Passive": ("high", "low"),
        "Aggressive": ("low", "high"),
        "Bargain basement": ("low", "low"),
    }


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-1e4, 1e5, allow_nan=False), st.floats(0, 1e4, allow_nan=False)),
        min_size=1, max_size=60,
    ),
    st.sampled_from(["median", "mean"]),
)
def test_quadrant_counts_sum_to_customers(rows, split):
    frame = pl.DataFrame(
        {
            "customer_id": list(range(len(rows))),
            "revenue": [abs(r[0]) for r in rows],
            "margin": [r[0] for r in rows],
            "cost_to_serve": [r[1] for r in rows],
            "net_profit": [r[0] - r[1] for r in rows],
        }
    )
    q = P.cost_quadrants(frame, split=split)
    assert q["quadrant"].null_count() == 0
    s = P.quadrant_summary(q)
    assert s["customers"].sum() == len(rows)
    assert s["profit"].sum() == pytest.approx(sum(r[0] - r[1] for r in rows), abs=1e-6)
    # a quadrant is high on an axis exactly when above the split
    assert (q["high_value"] == q["quadrant"].cast(pl.String).is_in(["Carriage trade", "Passive"])).all()


# ------------------------------------------------------------------------------------------------
# headline figures
# ------------------------------------------------------------------------------------------------
def test_portfolio_summary_hand_computed(customers):
    s = P.portfolio_summary(customers)
    assert s["customers"] == 10 and s["revenue"] == 1000.0
    assert s["top10_share_revenue"] == pytest.approx(0.5)  # 500 / 1000
    assert s["top20_share_revenue"] == pytest.approx(0.7)  # (500 + 200) / 1000
    assert s["top10_share_margin"] == pytest.approx(200 / 300)
    assert s["top20_share_margin"] == pytest.approx(260 / 300)
    assert s["gini_revenue"] == pytest.approx(0.634)
    assert s["abc_a_share"] == pytest.approx(0.3)  # c01, c02, c03
    assert s["pareto_point_revenue"] == pytest.approx(0.3)
    assert s["margin_defined"] and s["margin_customers"] == 10
    # no margin column: margin figures are None, not a crash
    s = P.portfolio_summary(customers.drop("margin"))
    assert s["top20_share_margin"] is None and not s["margin_defined"]


# ------------------------------------------------------------------------------------------------
# integration: the sample company from the store
# ------------------------------------------------------------------------------------------------
def test_whole_portfolio_on_the_sample_store(tmp_path):
    from crm_core.store import Store

    s = Store(tmp_path / "x.duckdb")
    try:
        ds = s.load_sample(customers=400).dataset_id
        facts = s.table("customer_facts", ds)
    finally:
        s.close()
    as_of = facts["last_purchase"].max()
    frame = facts.with_columns(
        recency_days=(pl.lit(as_of) - pl.col("last_purchase")).dt.total_days(),
        # stand-in cost to serve for this check (the cost module owns the real one): 10 per
        # interaction plus 1 per interaction minute
        cost_to_serve=pl.col("interactions") * 10.0 + pl.col("interaction_minutes"),
    ).with_columns(net_profit=pl.coalesce("margin", "revenue") - pl.col("cost_to_serve"))
    summary = P.portfolio_summary(frame)
    assert summary["customers"] == facts.height
    assert 0.4 <= summary["top20_share_revenue"] <= 0.95
    assert 0.0 < summary["gini_revenue"] < 1.0
    abc = P.abc_summary(P.abc_classes(frame, "revenue"))
    assert abc["customers"].sum() == facts.height
    scored = P.rfm_scores(frame)
    assert scored.height + P.rfm_excluded(frame) == facts.height
    assert scored.height > 0 and scored["recency_days"].min() == 0
    seg = P.rfm_summary(P.rfm_segments(scored))
    assert seg["customers"].sum() == scored.height
    assert seg["revenue"].sum() == pytest.approx(frame["revenue"].sum())  # non-buyers have no revenue
    quad = P.quadrant_summary(P.cost_quadrants(frame))
    assert quad["customers"].sum() == facts.height
    assert quad["profit"].sum() == pytest.approx(frame["net_profit"].sum())


def test_a_revenue_curve_given_gives_the_same_summary_and_classes():
    # The Portfolio view sorts the revenue once and hands the curve to the summary and the ABC classes.
    frame = pl.DataFrame({"customer_id": list("abcdefg"), "revenue": [50.0, 5.0, 30.0, None, 5.0, 0.0, 10.0],
                          "margin": [20.0, 1.0, None, None, 2.0, 0.0, -3.0]})
    curve = P.pareto(frame, "revenue")
    assert P.portfolio_summary(frame, revenue_curve=curve) == P.portfolio_summary(frame)
    assert P.abc_classes(frame, "revenue", curve=curve).equals(P.abc_classes(frame, "revenue"))
    with pytest.raises(ValueError, match="revenue_curve"):
        P.portfolio_summary(frame, revenue_curve=P.pareto(frame, "revenue", target=0.9))
    with pytest.raises(ValueError, match="curve"):
        P.abc_classes(frame.head(3), "revenue", curve=curve)
