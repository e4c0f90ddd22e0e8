"""Review periods: the latest whole month, quarter or year of the data, or the analysis window as chosen.

DESIGN §8: periods are compared whole and of equal kind — a quarter with the quarter before it (Q3 against
Q2), a month with the month before, a year with the year before; any other window with the window of equal
length just before it (:meth:`Scope.previous`). A previous period that starts before the data's first
purchase is *incomplete* and never compared as if whole.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from crm_core.metrics.scope import Scope

KINDS: dict[str, str] = {
    "quarter": "Latest whole quarter",
    "month": "Latest whole month",
    "year": "Latest whole year",
    "window": "Analysis window (sidebar)",
}
_MONTHS = {"month": 1, "quarter": 3, "year": 12}
DAY = timedelta(days=1)


@dataclass(frozen=True)
class ReviewPeriod:
    """The scope reviewed, the one it is compared with and how both are called in sentences."""

    kind: str
    scope: Scope
    previous: Scope | None
    label: str  # "Q3 2026", "September 2026", "2026", "2026-07-01 to 2026-09-30"
    previous_label: str | None
    previous_complete: bool  # False: the previous period starts before the data (not compared)

    @property
    def comparable(self) -> bool:
        return self.previous is not None and self.previous_complete


def _add_months(d: date, n: int) -> date:
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, 1)


def period_label(kind: str, start: date, end: date) -> str:
    if kind == "quarter":
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    if kind == "month":
        return f"{start:%B %Y}"
    if kind == "year":
        return f"{start.year}"
    return f"{start:%Y-%m-%d} to {end:%Y-%m-%d}"


def latest_whole(kind: str, last_day: date) -> tuple[date, date]:
    """The latest calendar month / quarter / year that ends on or before ``last_day`` (the data's last
    purchase day): a period still running is partial and not reviewed."""
    months = _MONTHS[kind]
    first_month = ((last_day.month - 1) // months) * months + 1 if months < 12 else 1
    start = date(last_day.year, first_month, 1)
    end = _add_months(start, months) - DAY
    if end > last_day:  # the period holding last_day is not over: take the one before
        start = _add_months(start, -months)
        end = _add_months(start, months) - DAY
    return start, end


def review_period(scope: Scope, kind: str, span: tuple[date, date] | None) -> ReviewPeriod:
    """The period to review for ``kind`` (``quarter``, ``month``, ``year`` or ``window``), keeping the scope's
    filters. ``span`` is the data's (first, last) purchase day; ``window`` reviews the scope's own window
    (open ends are closed with the span)."""
    if kind not in KINDS:
        raise ValueError(f"review period must be one of {', '.join(KINDS)}, not {kind!r}")
    if span is None:
        return ReviewPeriod(kind, scope, None, scope.describe(), None, False)
    first, last = span
    if kind == "window":
        start, end = scope.start or first, scope.end or last
        current = replace(scope, start=start, end=end)
        previous = current.previous()
        return ReviewPeriod(kind, current, previous, period_label(kind, start, end),
                            None if previous is None else period_label(kind, previous.start, previous.end),
                            previous is not None and previous.start >= first)
    start, end = latest_whole(kind, last)
    if end < first:  # the data does not cover one whole period: review what there is
        start, end = first, last
        current = replace(scope, start=start, end=end)
        return ReviewPeriod(kind, current, None, period_label("window", start, end), None, False)
    months = _MONTHS[kind]
    p_start = _add_months(start, -months)
    p_end = start - DAY
    current = replace(scope, start=start, end=end)
    previous = replace(scope, start=p_start, end=p_end)
    return ReviewPeriod(kind, current, previous, period_label(kind, start, end), period_label(kind, p_start, p_end),
                        p_start >= first)


def trailing_periods(period: ReviewPeriod, n: int) -> list[tuple[date, date, str]]:
    """The ``n`` periods ending with the reviewed one, oldest first, as (start, end, label); for a custom
    window, consecutive windows of its length."""
    start, end = period.scope.start, period.scope.end
    if start is None or end is None:
        return []
    out = []
    for i in range(n - 1, -1, -1):
        if period.kind in _MONTHS:
            months = _MONTHS[period.kind]
            s = _add_months(start, -months * i)
            e = _add_months(s, months) - DAY
        else:
            length = end - start + DAY
            s = start - length * i
            e = s + length - DAY
        out.append((s, e, period_label(period.kind, s, e)))
    return out
