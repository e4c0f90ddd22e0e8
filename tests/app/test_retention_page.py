"""The Retention & CLV page, driven by Streamlit's AppTest on the sample company and on a tiny store.

Each test has its own database file and empty caches (conftest.py).
"""

from __future__ import annotations

from datetime import date

from ui import state

from .test_data_page import assert_clean, texts
from .test_portfolio_page import load_tiny, select_dataset

RETENTION_PAGE = "pages/retention.py"
KPI_LABELS = ["Repeat purchase rate", "Churn rate", "Median lifetime", "Net revenue retention", "Average CLV"]


def retention_page(at):
    at.switch_page(RETENTION_PAGE).run()
    assert_clean(at)
    assert texts(at.title) == ["Retention & CLV"]
    return at


def open_tab(at, label: str):
    """The page's tab ``label`` opened (only the open tab is drawn)."""
    at.session_state[state.RETENTION_TAB] = label
    at.run()
    assert_clean(at)
    return at


def kpis(at) -> dict[str, tuple[str, str]]:
    out = {}
    for m in at.metric:
        label = "Average CLV" if m.label.startswith("Average CLV (") else m.label
        if label in KPI_LABELS:
            out[label] = (m.value, m.delta)
    return out


def test_retention_page_renders_on_the_sample_company(app):
    at = retention_page(app)
    assert "QCI · customer management: retention" in " ".join(texts(at.markdown))
    shown = kpis(at)
    assert list(shown) == KPI_LABELS
    assert all(value not in ("", "–") for label, (value, _) in shown.items() if label != "Churn rate"), shown
    # the default window starts on the data's first day: nobody was active before it, churn has no base
    assert shown["Churn rate"][0] == "–" and any("no one to lapse" in c.value for c in at.caption)
    assert sum("previous period incomplete" == c.value for c in at.caption) == len(KPI_LABELS)
    assert any("days without a purchase — derived from" in c.value for c in at.caption)
    assert [t.label for t in at.tabs] == ["Cohorts", "Churn & survival", "Lifetime value", "Holdout check"]
    charts = 0
    for tab, subheaders in (
        ("Cohorts", ["Cohorts"]),
        ("Churn & survival", ["Churn per month", "Survival"]),
        ("Lifetime value", ["Customer lifetime value", "Valuable customers at risk"]),
        ("Holdout check", ["Holdout check of the models"]),
    ):
        open_tab(at, tab)
        assert texts(at.subheader) == subheaders, tab  # only the open tab is drawn
        assert list(kpis(at)) == KPI_LABELS  # the KPI cards stay above the tabs
        labels = [b.label for b in at.get("download_button")]
        assert labels and sum(label.endswith("as CSV") for label in labels) == sum(
            label.endswith("as Excel") for label in labels), labels
        charts += len(at.get("plotly_chart"))
    assert any("relative error" in m.value for m in at.markdown)
    assert at.selectbox(key=state.RETENTION_HOLDOUT).value == 6
    assert charts == 6


def test_cohort_radios_switch_to_revenue_and_quarter(app):
    at = retention_page(app)
    at.radio(key=state.RETENTION_MEASURE).set_value("revenue").run()
    assert_clean(at)
    at.radio(key=state.RETENTION_PERIOD).set_value("quarter").run()
    assert_clean(at)
    assert "Cohorts" in texts(at.subheader)
    assert any("partial" in c.value for c in at.caption)


def test_a_region_filter_changes_a_kpi(app):
    at = retention_page(app)
    before = kpis(at)
    at.multiselect(key=state.FILTER_REGIONS).set_value(["Europe"]).run()
    assert_clean(at)
    after = kpis(at)
    assert list(after) == KPI_LABELS
    assert after != before


def test_a_whole_previous_period_gives_deltas(app, store):
    at = retention_page(app)
    at.date_input(key=state.FILTER_WINDOW).set_value((date(2025, 1, 1), date(2025, 6, 30))).run()
    assert_clean(at)
    shown = kpis(at)
    assert shown["Repeat purchase rate"][1].endswith("pp")
    # churn of the previous half-year under the window's own rule, not one derived from the data up to its end:
    # the change is then one of behaviour (the engine's churn, hand-tested in tests/unit/metrics)
    from crm_core import views
    from crm_core.metrics import retention
    from crm_core.metrics.scope import Scope

    ds = int(store.datasets().filter(is_sample=True)["dataset_id"][0])
    window = Scope(ds, start=date(2025, 1, 1), end=date(2025, 6, 30))
    rule = views.compute(store, "churn_rule", window).days
    now, before = retention.churn(store, window, rule), retention.churn(store, window.previous(), rule)
    assert shown["Churn rate"][1] == f"{(now.churn_rate - before.churn_rate) * 100:+.1f} pp"
    assert any("previous period's churn is measured under the same rule" in c.value for c in at.caption)


def test_the_previous_period_is_computed_beside_the_page(app, monkeypatch):
    # A new window's previous period (its average CLV fit, its retention under the window's rule) is computed in a
    # thread while the page draws the rest (ui.data.compute_ahead), then read for the cards' changes.
    import threading

    from crm_core import views

    where = []
    for name in ("average_clv", "retention_overview"):
        real = views.VIEWS[name]
        monkeypatch.setitem(views.VIEWS, name, lambda store, scope, *a, _n=name, _r=real, **k: where.append(
            (_n, scope.end, threading.current_thread().name)) or _r(store, scope, *a, **k))
    at = retention_page(app)
    where.clear()
    at.date_input(key=state.FILTER_WINDOW).set_value((date(2025, 1, 1), date(2025, 6, 30))).run()
    assert_clean(at)
    before = date(2024, 12, 31)  # the end of the previous period of equal length, 2024-07-04 to 2024-12-31
    assert [(n, t.startswith("crm-lens-previous-period")) for n, e, t in where if e == before] == [
        ("average_clv", True), ("retention_overview", True)], where
    # the window's own, the page's: its CLV fit is not kept (its end is not the data's), so the average alone
    assert sorted((n, t) for n, e, t in where if e != before) == [("average_clv", "ScriptRunner.scriptThread"),
                                                                   ("retention_overview", "ScriptRunner.scriptThread")]
    assert all(change for _, change in kpis(at).values())  # every card compared


def test_a_window_without_a_kept_fit_shows_the_average_alone_until_the_tab_is_opened(app, store, monkeypatch):
    # A window whose end moved has no kept CLV fit: its Average CLV card takes the models alone (views.average_clv,
    # no holdout, value to date or at-risk list); the Lifetime value tab fits the whole when opened. The same
    # average either way.
    from crm_core import views
    from crm_core.metrics.scope import Scope
    from ui import data

    monkeypatch.setattr(data, "BACKGROUND_DELAY_S", 3600.0)  # the background would keep the fit meanwhile
    fits = []
    real = views.VIEWS["clv_fit"]
    monkeypatch.setitem(views.VIEWS, "clv_fit", lambda *a, **k: fits.append(k) or real(*a, **k))
    at = retention_page(app)
    fits.clear()
    window = (date(2025, 1, 1), date(2025, 6, 30))
    at.date_input(key=state.FILTER_WINDOW).set_value(window).run()
    assert_clean(at)
    card = kpis(at)["Average CLV"][0]
    assert card != "–" and fits == []
    open_tab(at, "Lifetime value")
    assert fits == [{"calibration_end": window[1]}]
    ds = int(store.datasets().filter(is_sample=True)["dataset_id"][0])
    scope = Scope(ds, start=window[0], end=window[1])
    whole = views.compute(store, "clv_fit", scope, calibration_end=window[1])["avg_clv"]
    assert views.compute(store, "average_clv", scope, calibration_end=window[1])["avg_clv"] == whole


def test_an_empty_window_says_so(app, store):
    load_tiny(store, "Tiny")
    at = select_dataset(retention_page(app), "Tiny")
    at.date_input(key=state.FILTER_WINDOW).set_value((date(2024, 1, 25), date(2024, 2, 20))).run()
    assert_clean(at)
    assert any("No purchases in the analysis window" in i.value for i in at.info)
    assert not kpis(at)


def test_tiny_data_explain_clv_and_holdout(app, store):
    load_tiny(store, "Tiny")
    at = select_dataset(retention_page(app), "Tiny")
    assert list(kpis(at)) == KPI_LABELS
    for tab in ("Lifetime value", "Holdout check"):  # each tab says why instead of failing
        open_tab(at, tab)
        messages = [w.value for w in at.warning] + [i.value for i in at.info]
        assert any("CLV cannot be fitted" in m or "too short" in m for m in messages), (tab, messages)


def test_cohort_and_holdout_choices_outlive_a_visit_to_another_tab(app):
    # Streamlit forgets a widget's value when a run does not draw it, and a closed tab is not drawn
    at = retention_page(app)
    at.radio(key=state.RETENTION_PERIOD).set_value("quarter").run()
    open_tab(at, "Holdout check")
    at.selectbox(key=state.RETENTION_HOLDOUT).set_value(3).run()
    assert_clean(at)
    open_tab(at, "Cohorts")
    assert at.radio(key=state.RETENTION_PERIOD).value == "quarter"
    open_tab(at, "Holdout check")
    assert at.selectbox(key=state.RETENTION_HOLDOUT).value == 3


def test_a_region_s_kpi_cards_take_the_average_clv_not_the_whole_fit(app, store, monkeypatch):
    # At 1M customers a region's CLV fit read the fit of all customers (46 MB) and every customer's value to date
    # (35 MB, for the at-risk list): its Average CLV card adds up its groups' kept CLV sums instead; the
    # fit is built when the Lifetime value tab, which draws it, is opened. The default scope's kept fit is read as
    # the page opens. The views warm() keeps for the page, first.
    from crm_core import results, views
    from crm_core.metrics import facts

    default = facts.default_scope(store, store.datasets()["dataset_id"][0])
    for name in ("clv_fit", "clv_scores", "clv_group_sums"):
        views.compute(store, name, default, calibration_end=default.end)
    read = []
    real_get, real_fit, real_kpis = results.get, views.VIEWS["clv_fit"], views.VIEWS["portfolio_kpis"]
    monkeypatch.setattr(results, "get", lambda store, ds, name, key: read.append(name) or real_get(store, ds, name,
                                                                                                      key))
    monkeypatch.setitem(views.VIEWS, "clv_fit", lambda *a, **k: read.append("clv_fit view") or real_fit(*a, **k))
    monkeypatch.setitem(views.VIEWS, "portfolio_kpis", lambda *a, **k: read.append("summary") or real_kpis(*a, **k))
    monkeypatch.setattr(views, "compute", lambda store, name, *a, real=views.compute, **k: read.append(f"{name} asked")
                        or real(store, name, *a, **k))
    at = retention_page(app)
    whole = kpis(at)["Average CLV"][0]
    assert not {"clv_fit view", "historical_value"} & set(read), read  # kept: read, not fitted
    read.clear()
    at.multiselect(key=state.FILTER_REGIONS).set_value(["Europe"]).run()
    assert_clean(at)
    assert kpis(at)["Average CLV"][0] != whole
    # nor the CLV scores of all customers (its groups' kept sums), nor the portfolio summary (a count of buyers)
    assert not {"clv_fit", "clv_fit view", "historical_value", "clv_scores asked", "summary"} & set(read), read
    open_tab(at, "Lifetime value")
    assert "clv_fit view" in read, read  # the region's fit: its customers' rows of the fit of all customers
