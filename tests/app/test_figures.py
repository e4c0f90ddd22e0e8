"""ui.figures: a figure is built once per content of what it is drawn from, and again when that changes."""

from __future__ import annotations

import functools
from datetime import date

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest

from ui import figures, state


@pytest.fixture(autouse=True)
def _empty_memo():
    figures.clear()
    yield
    figures.clear()


def counting(calls: list):
    def line(frame: pl.DataFrame, *, title: str = "") -> go.Figure:
        calls.append(title)
        return go.Figure(go.Scatter(x=frame["x"].to_list(), y=frame["y"].to_list()), layout={"title": str(title)})
    # a module-level builder's name: the memo keys on it (a closure's "<locals>" name is never kept)
    line.__qualname__ = "line"
    return line


FRAME = pl.DataFrame({"x": [1, 2, 3], "y": [10.0, 20.0, 30.0]})


def test_equal_contents_give_the_same_figure_without_building_it_again():
    calls: list = []
    build = counting(calls)
    first = figures.figure(build, FRAME, title="a")
    again = figures.figure(build, FRAME.clone(), title="a")  # another frame object, the same contents
    assert again is first
    assert calls == ["a"]


@pytest.mark.parametrize("changed", [
    FRAME.with_columns(pl.col("y").replace(20.0, 20.5)),  # one value
    FRAME.reverse(),  # the same rows in another order (a line follows the order)
    FRAME.rename({"y": "z"}).rename({"z": "y"}).with_columns(pl.col("y").cast(pl.Float32)),  # another dtype
    FRAME.head(2),
])
def test_any_change_in_the_contents_builds_a_new_figure(changed):
    calls: list = []
    build = counting(calls)
    first = figures.figure(build, FRAME)
    other = figures.figure(build, changed)
    assert other is not first
    assert len(calls) == 2
    assert list(other.data[0].y) == changed["y"].to_list()


def test_keyword_arguments_are_part_of_the_key():
    calls: list = []
    build = counting(calls)
    assert figures.figure(build, FRAME, title="a") is not figures.figure(build, FRAME, title="b")
    assert calls == ["a", "b"]


def test_a_nan_argument_finds_its_figure_again():
    # a NaN read or computed again each run is a new object, which Python hashes apart from the last one
    calls: list = []
    build = counting(calls)
    first = figures.figure(build, FRAME, title=float("nan"))
    assert figures.figure(build, FRAME, title=float("nan")) is first
    assert figures.figure(build, FRAME, title=np.float64("nan")) is first
    assert len(calls) == 1
    assert figures.figure(build, FRAME, title=1.0) is not first


def test_fingerprint_of_nested_values():
    value = {"k": [1, 2.5, "x", None, date(2026, 1, 1), np.int64(3)], "s": pl.Series("s", [1, 2])}
    assert figures.fingerprint(value) == figures.fingerprint(
        {"k": [1, 2.5, "x", None, date(2026, 1, 1), 3], "s": pl.Series("s", [1, 2])})
    assert figures.fingerprint(value) != figures.fingerprint(
        {"k": [1, 2.5, "x", None, date(2026, 1, 2), 3], "s": pl.Series("s", [1, 2])})
    assert figures.fingerprint(pl.Series("s", [1, 2])) != figures.fingerprint(pl.Series("t", [1, 2]))
    assert figures.fingerprint(pl.DataFrame()) == figures.fingerprint(pl.DataFrame())


def test_values_without_a_content_key_and_closures_are_built_every_time():
    calls: list = []
    build = counting(calls)

    class Rubric:  # an object: its identity says nothing of its contents
        pass

    with pytest.raises(figures.Unkeyed):
        figures.fingerprint(Rubric())
    figures.figure(build, FRAME, title=Rubric())
    figures.figure(build, FRAME, title=Rubric())
    assert len(calls) == 2

    def closure(frame):
        calls.append("closure")
        return go.Figure()
    figures.figure(closure, FRAME)
    figures.figure(closure, FRAME)
    assert calls[-2:] == ["closure", "closure"]


def test_the_memo_keeps_the_last_figures_only(monkeypatch):
    monkeypatch.setattr(figures, "FIGURES", 3)
    calls: list = []
    build = counting(calls)
    for title in "abcd":
        figures.figure(build, FRAME, title=title)
    figures.figure(build, FRAME, title="d")  # kept
    figures.figure(build, FRAME, title="a")  # the oldest: dropped
    assert calls == ["a", "b", "c", "d", "a"]


def test_a_rerun_of_a_page_builds_none_of_its_figures_again(monkeypatch, app):
    from crm_core import charts

    built: list = []
    for name in ("pareto_figure", "rfm_treemap", "quadrant_figure"):
        original = getattr(charts, name)

        @functools.wraps(original)
        def wrapper(*args, _original=original, **kwargs):
            built.append(_original.__name__)
            return _original(*args, **kwargs)
        monkeypatch.setattr(charts, name, wrapper)
    tabs = ("Concentration", "RFM segments", "Value × cost to serve")  # a figure each
    at = app.switch_page("pages/portfolio.py").run()
    for tab in tabs[1:]:
        at.session_state[state.PORTFOLIO_TAB] = tab
        at.run()
        assert not at.exception
    assert sorted(built) == ["pareto_figure", "quadrant_figure", "rfm_treemap"]
    for tab in tabs:  # each tab visited again
        at.session_state[state.PORTFOLIO_TAB] = tab
        at.run()
        assert not at.exception
        assert len(at.get("plotly_chart")) == 1
    at.run()
    assert len(built) == 3  # the reruns found all three
