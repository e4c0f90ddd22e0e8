"""top_rows: the same rows in the same order as sorting every row (the definition it replaces)."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from crm_core.metrics.ranking import top_rows


def full_sort(frame: pl.DataFrame, n: int) -> pl.DataFrame:
    return frame.sort(["value", "customer_id"], descending=[True, False], nulls_last=True).head(max(n, 0))


def test_hand_example_ties_broken_by_customer_id():
    # values 5, 9, 9, 1, 9, 2: the three 9s tie, so the top 2 are c2 and c3 (ids ascending), then c5, then 5
    frame = pl.DataFrame({"customer_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
                          "value": [5.0, 9.0, 9.0, 1.0, 9.0, 2.0]})
    assert top_rows(frame, 2, "value")["customer_id"].to_list() == ["c2", "c3"]
    assert top_rows(frame, 4, "value")["customer_id"].to_list() == ["c2", "c3", "c5", "c1"]


def test_nulls_come_last_and_only_when_needed():
    frame = pl.DataFrame({"customer_id": ["a", "b", "c", "d"], "value": [None, 3.0, None, 1.0]})
    assert top_rows(frame, 1, "value")["customer_id"].to_list() == ["b"]
    assert top_rows(frame, 3, "value")["customer_id"].to_list() == ["b", "d", "a"]


values = st.one_of(st.none(), st.integers(-3, 3).map(float), st.floats(allow_nan=True, allow_infinity=True, width=32))


@settings(max_examples=300, deadline=None)
@given(st.lists(values, max_size=40), st.integers(-1, 45), st.booleans())
def test_equals_the_full_sort(vals, n, integers):
    frame = pl.DataFrame({"customer_id": [f"c{i:02d}" for i in reversed(range(len(vals)))], "value": vals},
                         schema={"customer_id": pl.String, "value": pl.Float64})
    if integers:  # an integer column (counts, days) takes the same path
        frame = frame.with_columns(pl.col("value").fill_nan(None).cast(pl.Int64, strict=False))
    assert_frame_equal(top_rows(frame, n, "value"), full_sort(frame, n))
