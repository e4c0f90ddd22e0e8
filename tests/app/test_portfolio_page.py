"""The Portfolio page (issue #4), driven by Streamlit's AppTest on the sample company and on tiny stores.

Each test has its own database file and empty caches (conftest.py).
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from crm_core import charts
from crm_core.metrics.scope import preset_window
from crm_core.store import TableLoad
from ui import data, state

from .test_data_page import assert_clean, texts

PORTFOLIO_PAGE = "pages/portfolio.py"
CUSTOMER_PICK = state.PORTFOLIO_CUSTOMER
KPI_LABELS = ["Customers", "Revenue", "Top-20% share", "Gini (revenue)", "Class A customers"]


def portfolio_page(at):
    at.switch_page(PORTFOLIO_PAGE).run()
    assert_clean(at)
    assert texts(at.title) == ["Portfolio"]
    return at


def open_tab(at, label: str):
    """The page's tab ``label`` opened, as a click on it does (the tabs rerun the page: only the open one is
    drawn)."""
    at.session_state[state.PORTFOLIO_TAB] = label
    at.run()
    assert_clean(at)
    return at


def kpis(at) -> dict[str, tuple[str, str]]:
    """{label: (value, delta)} of the five KPI cards ("Revenue (USD)" as "Revenue"; see ``revenue_unit``)."""
    out = {}
    for m in at.metric:
        label = "Revenue" if m.label.startswith("Revenue (") else m.label
        if label in KPI_LABELS:
            out[label] = (m.value, m.delta)
    return out


def revenue_unit(at) -> str:
    return next(m.label for m in at.metric if m.label.startswith("Revenue ("))[len("Revenue ("):-1]


def load_tiny(store, name: str) -> None:
    """Three customers buying in January and March 2024 (nothing in February)."""
    frame = pl.DataFrame(
        {
            "transaction_id": ["T1", "T2", "T3", "T4", "T5"],
            "customer_id": ["C1", "C2", "C1", "C3", "C2"],
            "occurred_at": [datetime(2024, 1, 5), datetime(2024, 1, 9), datetime(2024, 1, 20),
                            datetime(2024, 3, 2), datetime(2024, 3, 15)],
            "amount": [120.0, 80.5, 45.0, 300.0, 99.99],
        }
    )
    store.load(name, [TableLoad("transactions", frame, file_name="tiny.csv", rows_read=frame.height, currency="EUR")])
    data.clear_caches()


def select_dataset(at, name: str):
    at.selectbox(key=state.DATASET).set_value(name).run()
    assert_clean(at)
    return at


def test_portfolio_page_renders_on_the_sample_company(app):
    at = portfolio_page(app)
    assert "CRM value chain · customer portfolio analysis" in " ".join(texts(at.markdown))
    shown = kpis(at)
    assert list(shown) == KPI_LABELS
    assert shown["Customers"][0] not in ("", "0", "–")
    assert revenue_unit(at) == "USD"  # the sample company's currency
    # the default window is the data's whole span: the period before it is not a whole one
    assert not any(delta for _, delta in shown.values())
    assert sum("previous period incomplete" == c.value for c in at.caption) == len(KPI_LABELS)
    assert [t.label for t in at.tabs] == ["Concentration", "RFM segments", "Value × cost to serve", "Top customers"]
    # the first tab is open, and only its sections are drawn
    assert texts(at.subheader) == ["Concentration", "ABC classes"]
    abc = next(df.value for df in at.dataframe if "Class" in df.value.columns)
    assert list(abc["Class"]) == ["A", "B", "C"]
    assert abs(abc["% of customers"].sum() - 1) < 1e-9
    # every tab draws its sections, and every table has a CSV and an Excel download
    for tab, subheaders, tables in (
        ("Concentration", ["Concentration", "ABC classes"], ["ABC table"]),
        ("RFM segments", ["RFM segments"], ["RFM table"]),
        ("Value × cost to serve", ["Value × cost to serve"], ["Quadrant table"]),
        ("Top customers", ["Top customers"], ["Top customers"]),
    ):
        open_tab(at, tab)
        assert texts(at.subheader) == subheaders, tab
        labels = [b.label for b in at.get("download_button")]
        for what in tables:
            assert f"{what} as CSV" in labels and f"{what} as Excel" in labels, labels
        assert list(kpis(at)) == KPI_LABELS  # the KPI cards stay above the tabs


def test_a_sidebar_filter_changes_the_kpis(app):
    at = portfolio_page(app)
    before = kpis(at)["Customers"][0]
    at.multiselect(key=state.FILTER_REGIONS).set_value(["Europe"]).run()
    assert_clean(at)
    after = kpis(at)["Customers"][0]
    assert after != before
    assert int(after.replace(",", "")) < int(before.replace(",", ""))


def test_a_whole_previous_period_gives_deltas(app):
    at = portfolio_page(app)
    at.date_input(key=state.FILTER_WINDOW).set_value((date(2025, 1, 1), date(2025, 6, 30))).run()
    assert_clean(at)
    shown = kpis(at)
    assert shown["Customers"][1].endswith("%") and shown["Customers"][1][0] in "+-"
    assert shown["Top-20% share"][1].endswith("pp")
    assert shown["Gini (revenue)"][1][0] in "+-"
    assert not any("previous period incomplete" == c.value for c in at.caption)


def test_dates_picked_by_hand_have_the_other_pages_kept_in_the_background(app, monkeypatch):
    # Nobody prepares a window picked by hand: once the page is drawn a thread keeps what the other pages show of it
    # (views.warm_scope), so opening them reads their views. (That a region keeps them too, without its filter:
    # test_results.py's warm_scope test.)
    import pytest

    from crm_core import results, views
    from crm_core.metrics import facts

    monkeypatch.setattr(data, "BACKGROUND_DELAY_S", 0.0)
    at = portfolio_page(app)
    store = data.get_store()
    dataset_id = store.dataset_id(at.session_state[state.DATASET])
    assert not data._background.get((store.path, dataset_id, "scope"))  # the default scope: prepared already
    picked = (date(2025, 1, 1), date(2025, 6, 30))
    at.date_input(key=state.FILTER_WINDOW).set_value(picked).run()
    assert_clean(at)
    threads = [t for t, _ in data._background.get((store.path, dataset_id, "scope"), [])]
    assert len(threads) == 1 and threads[0].name.startswith("crm-lens-scope")
    at.run()  # a rerun of the same scope starts nothing more
    assert [t for t, _ in data._background[(store.path, dataset_id, "scope")]] == threads
    threads[0].join(timeout=120)
    assert not threads[0].is_alive()
    scope_ = facts.default_scope(store, dataset_id).with_window(*picked)
    for where, name, params in views.scope_requests(store, scope_):
        params = params() if callable(params) else params
        where = views.canonical_scope(store, name, where)
        key = results.scope_key(store, where, params, views.priced(name, params))
        assert results.is_kept(store, dataset_id, name, key), (name, params)
    for name in ("segmentation", "segment_features", "retention_overview", "cost_view", "cohorts"):
        monkeypatch.setitem(views.VIEWS, name, lambda *a, _n=name, **k: pytest.fail(f"{_n} computed again"))
    for page, title in (("differentiate", "Differentiate"), ("retention", "Retention & CLV"),
                        ("cost_to_serve", "Cost to serve")):
        at.switch_page(f"pages/{page}.py").run()
        assert_clean(at)
        assert texts(at.title) == [title]


def test_another_window_stops_the_background_work_of_the_one_before(app, monkeypatch):
    # A newer window supersedes the older one's thread; going back to the older one starts it again.
    monkeypatch.setattr(data, "BACKGROUND_DELAY_S", 60.0)  # the threads wait: what they do is the test above's
    at = portfolio_page(app)
    store = data.get_store()
    key = (store.path, store.dataset_id(at.session_state[state.DATASET]), "scope")
    first, second = (date(2025, 1, 1), date(2025, 6, 30)), (date(2025, 2, 1), date(2025, 6, 30))
    at.date_input(key=state.FILTER_WINDOW).set_value(first).run()
    [(a, _)] = data._background[key]
    at.date_input(key=state.FILTER_WINDOW).set_value(second).run()
    a.join(timeout=10)
    assert not a.is_alive()  # stopped in its wait
    [(b, _)] = [(t, e) for t, e in data._background[key] if t.is_alive()]
    at.date_input(key=state.FILTER_WINDOW).set_value(first).run()
    b.join(timeout=10)
    running = [t for t, _ in data._background[key] if t.is_alive()]
    assert not b.is_alive() and len(running) == 1 and running[0] is not a  # the first window started again
    assert_clean(at)


def test_background_work_waits_while_a_page_computes_a_view(monkeypatch):
    # The background threads start no view while a page computes one, nor until the pages have been quiet a while.
    import threading
    import time

    monkeypatch.setattr(data, "FOREGROUND_QUIET_S", 0.3)
    stop, done = threading.Event(), threading.Event()
    waiter = threading.Thread(target=lambda: (data.wait_for_quiet_pages(stop), done.set()))
    with data._foreground():
        waiter.start()
        assert not done.wait(0.5)  # a page is computing
    left = time.monotonic()
    assert done.wait(5) and time.monotonic() - left >= 0.25  # then quiet for FOREGROUND_QUIET_S
    with data._foreground():
        stop.set()
        data.wait_for_quiet_pages(stop)  # a stopped thread does not wait


def test_a_quick_period_sets_the_window_and_follows_the_dates_picked(app):
    at = portfolio_page(app)
    period, window = at.selectbox(key=state.FILTER_PERIOD), at.date_input(key=state.FILTER_WINDOW)
    first, last = window.value
    assert period.value == "Whole history" and period.options == [*state.PERIODS]
    assert period.help.endswith("Each quick choice is prepared ahead, so it opens at once.")  # views.PREPARED_PERIODS
    before = kpis(at)["Customers"]
    assert before[1] == ""  # the whole history has no previous period to compare with
    period.set_value("Last 12 months").run()
    assert_clean(at)
    # by hand: the 12 calendar months up to the last purchase day, and the cards compare them with the year before
    year = (date(last.year - 1, last.month, last.day) + timedelta(days=1), last)
    assert at.date_input(key=state.FILTER_WINDOW).value == year
    shown = kpis(at)["Customers"]
    assert int(shown[0].replace(",", "")) < int(before[0].replace(",", "")) and shown[1][0] in "+-"
    # dates picked by hand make the period custom, and the next run keeps them
    at.date_input(key=state.FILTER_WINDOW).set_value((date(2025, 1, 1), date(2025, 6, 30))).run()
    assert at.selectbox(key=state.FILTER_PERIOD).value == state.CUSTOM_PERIOD
    at.run()
    assert at.date_input(key=state.FILTER_WINDOW).value == (date(2025, 1, 1), date(2025, 6, 30))
    # dates that are a quick period's show it; Reset filters goes back to the whole history
    at.date_input(key=state.FILTER_WINDOW).set_value(year).run()
    assert at.selectbox(key=state.FILTER_PERIOD).value == "Last 12 months"
    at.selectbox(key=state.FILTER_PERIOD).set_value("Last 3 months").run()
    assert at.date_input(key=state.FILTER_WINDOW).value == preset_window((first, last), 3)
    at.button(key=state.RESET_FILTERS).click().run()
    assert_clean(at)
    assert at.selectbox(key=state.FILTER_PERIOD).value == "Whole history"
    assert at.date_input(key=state.FILTER_WINDOW).value == (first, last) and kpis(at)["Customers"] == before


def test_a_quick_period_follows_the_data_and_custom_dates_stay(app, store):
    load_tiny(store, "Tiny")  # purchases from 2024-01-05 to 2024-03-15
    at = select_dataset(portfolio_page(app), "Tiny")
    at.selectbox(key=state.FILTER_PERIOD).set_value("Last 3 months").run()
    assert at.date_input(key=state.FILTER_WINDOW).value == (date(2024, 1, 5), date(2024, 3, 15))  # all of it
    later = pl.DataFrame({"transaction_id": ["T6"], "customer_id": ["C3"], "occurred_at": [datetime(2024, 5, 20)],
                          "amount": [50.0]})
    store.load("Tiny", [TableLoad("transactions", later, file_name="may.csv", rows_read=1, currency="EUR")])
    data.clear_caches()
    at.run()
    assert_clean(at)
    # by hand: the three months up to 2024-05-20 start on 2024-02-21
    assert at.date_input(key=state.FILTER_WINDOW).value == (date(2024, 2, 21), date(2024, 5, 20))
    assert at.selectbox(key=state.FILTER_PERIOD).value == "Last 3 months"
    at.date_input(key=state.FILTER_WINDOW).set_value((date(2024, 1, 10), date(2024, 3, 1))).run()
    at.run()
    assert at.date_input(key=state.FILTER_WINDOW).value == (date(2024, 1, 10), date(2024, 3, 1))
    assert at.selectbox(key=state.FILTER_PERIOD).value == state.CUSTOM_PERIOD


def test_an_empty_window_says_so(app, store):
    load_tiny(store, "Tiny")
    at = select_dataset(portfolio_page(app), "Tiny")
    assert revenue_unit(at) == "EUR"
    at.date_input(key=state.FILTER_WINDOW).set_value((date(2024, 1, 25), date(2024, 2, 20))).run()
    assert_clean(at)
    assert any("No purchases in the analysis window" in i.value for i in at.info)
    assert not kpis(at)


def test_no_interactions_names_the_export_and_clv_says_why(app, store):
    load_tiny(store, "Tiny")
    at = open_tab(select_dataset(portfolio_page(app), "Tiny"), "Value × cost to serve")
    assert any("interactions export" in i.value for i in at.info)
    open_tab(at, "Top customers")
    assert at.selectbox(key=CUSTOMER_PICK).options  # the drill-down still works
    # three customers cannot carry the CLV models, and the page says why instead of failing
    warnings = [w.value for w in at.warning]
    assert any("CLV and P(alive) cannot be shown" in w for w in warnings) or any(
        m.label == "CLV, next 12 months" and m.value != "–" for m in at.metric
    ), warnings


def test_the_drill_down_shows_a_customers_history(app, store):
    at = open_tab(portfolio_page(app), "Top customers")
    pick = at.selectbox(key=CUSTOMER_PICK)
    customer_id = pick.options[1].split(" · ")[0]  # options are shown as "id · name"
    pick.set_value(customer_id).run()
    assert_clean(at)
    assert at.selectbox(key=CUSTOMER_PICK).value == customer_id
    assert any(customer_id in m.value for m in at.markdown if m.value.startswith("#####"))
    purchases = next(df.value for df in at.dataframe if "purchase_id" in df.value.columns)
    expected = store.scalar(
        "SELECT COUNT(*) FROM purchases WHERE dataset_id = (SELECT MIN(dataset_id) FROM datasets) AND customer_id = ?",
        [customer_id],
    )
    assert len(purchases) == expected > 0
    labels = {m.label: m.value for m in at.metric}
    assert labels["P(alive)"].endswith("%")
    assert labels["CLV, next 12 months"].endswith("USD")
    assert any(t.label.startswith("Interactions (") for t in at.tabs)


def test_a_picked_customer_outlives_a_visit_to_another_tab(app):
    # Streamlit forgets a widget's value when a run does not draw it, and a closed tab is not drawn
    at = open_tab(portfolio_page(app), "Top customers")
    pick = at.selectbox(key=CUSTOMER_PICK)
    customer_id = pick.options[2].split(" · ")[0]
    pick.set_value(customer_id).run()
    open_tab(at, "RFM segments")
    assert CUSTOMER_PICK not in [box.key for box in at.selectbox]  # the box is not drawn
    open_tab(at, "Top customers")
    assert at.selectbox(key=CUSTOMER_PICK).value == customer_id
    assert any(customer_id in m.value for m in at.markdown if m.value.startswith("#####"))


def test_the_quadrant_scatter_draws_a_sample_and_says_so(app):
    at = open_tab(portfolio_page(app), "Value × cost to serve")
    customers = kpis(at)["Customers"][0]  # the sample company's buyers: more than the chart draws
    assert int(customers.replace(",", "")) > charts.MAX_POINTS
    assert any(f"random sample of {charts.MAX_POINTS:,} of the {customers} customers" in c.value for c in at.caption)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert sum(points(trace["x"]) for trace in spec["data"]) == charts.MAX_POINTS


def points(values) -> int:
    """How many values a trace's x holds in the spec sent to the browser: a JSON list, or a typed array
    (Plotly's ``{"dtype": "f8", "bdata": base64}``, for numbers)."""
    if isinstance(values, dict):
        return len(base64.b64decode(values["bdata"])) // np.dtype(values["dtype"]).itemsize
    return len(values)
