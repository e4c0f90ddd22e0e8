"""Review periods: the latest whole month, quarter or year, compared with the one before."""

from __future__ import annotations

from datetime import date

import pytest

from crm_core.metrics.scope import Scope
from crm_core.report import periods


@pytest.mark.parametrize(("kind", "last", "start", "end"), [
    ("quarter", date(2026, 9, 30), date(2026, 7, 1), date(2026, 9, 30)),
    ("quarter", date(2026, 9, 29), date(2026, 4, 1), date(2026, 6, 30)),  # Q3 not over: Q2
    ("month", date(2024, 2, 29), date(2024, 2, 1), date(2024, 2, 29)),
    ("month", date(2024, 3, 15), date(2024, 2, 1), date(2024, 2, 29)),
    ("year", date(2025, 12, 31), date(2025, 1, 1), date(2025, 12, 31)),
    ("year", date(2026, 6, 30), date(2025, 1, 1), date(2025, 12, 31)),
])
def test_latest_whole_period(kind, last, start, end):
    assert periods.latest_whole(kind, last) == (start, end)


def test_quarter_against_the_quarter_before():
    p = periods.review_period(Scope(1, regions=("Europe",)), "quarter", (date(2023, 10, 1), date(2026, 9, 30)))
    assert (p.label, p.previous_label, p.comparable) == ("Q3 2026", "Q2 2026", True)
    assert (p.previous.start, p.previous.end) == (date(2026, 4, 1), date(2026, 6, 30))
    assert p.scope.regions == ("Europe",) and p.previous.regions == ("Europe",)


def test_a_previous_period_before_the_data_is_not_compared():
    p = periods.review_period(Scope(1), "window", (date(2023, 10, 1), date(2026, 9, 30)))
    assert p.scope.start == date(2023, 10, 1) and not p.comparable
    q = periods.review_period(Scope(1), "quarter", (date(2026, 5, 1), date(2026, 9, 30)))
    assert q.label == "Q3 2026" and not q.comparable


def test_trailing_periods_end_with_the_reviewed_one():
    p = periods.review_period(Scope(1), "quarter", (date(2023, 10, 1), date(2026, 9, 30)))
    trail = periods.trailing_periods(p, 3)
    assert [t[2] for t in trail] == ["Q1 2026", "Q2 2026", "Q3 2026"]
    assert trail[0][:2] == (date(2026, 1, 1), date(2026, 3, 31))


def test_unknown_kind():
    with pytest.raises(ValueError, match="review period"):
        periods.review_period(Scope(1), "week", None)
