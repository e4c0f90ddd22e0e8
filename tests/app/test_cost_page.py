"""The Cost to serve page, driven by Streamlit's AppTest on the sample company and on a tiny store.

AppTest cannot edit ``st.data_editor`` cells, so the edit tests give the Save button's callback the cell edits a
user's edit would leave in the editor's state, then click the page's own Save button (the same save path as in
the browser).
Each test has its own database file and empty caches (conftest.py).
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from ui import data, state, widgets

from .test_data_page import assert_clean, texts
from .test_portfolio_page import load_tiny, select_dataset

COST_PAGE = "pages/cost_to_serve.py"
KPI_LABELS = ["Cost per customer", "Cost / revenue", "Net profit", "Unprofitable", "Whale peak"]


def cost_page(at):
    at.switch_page(COST_PAGE).run()
    assert_clean(at)
    assert texts(at.title) == ["Cost to serve"]
    return at


def kpis(at) -> dict[str, tuple[str, str]]:
    """{label without its unit: (value, delta)} of the KPI cards."""
    out = {}
    for m in at.metric:
        label = m.label.split(" (")[0]
        if label in KPI_LABELS:
            out[label] = (m.value, m.delta)
    return out


@pytest.fixture
def edit_rates(monkeypatch):
    """Make the rate editor's state hold ``{(pool, unit): rate}`` as the cell edits a user's typing leaves
    there (``{"edited_rows": {row: {"rate": value}}}``); the Save button's callback applies them with
    ``widgets.apply_edits`` as in the browser (tests/e2e/test_cost_journey.py edits a real cell)."""
    edits: dict = {}
    original = widgets.edited

    def edited(frame, key):
        if key != state.COST_RATES_EDITOR or not edits:
            return original(frame, key)
        rows = {i: {"rate": edits[(pool, unit)]}
                for i, (pool, unit) in enumerate(frame.select("pool", "unit").iter_rows()) if (pool, unit) in edits}
        assert len(rows) == len(edits), f"no such rate in the editor: {edits}"
        return widgets.apply_edits(frame, rows)

    monkeypatch.setattr(widgets, "edited", edited)
    return edits


def test_cost_page_renders_on_the_sample_company(app):
    at = cost_page(app)
    assert "CRM value chain · value proposition" in " ".join(texts(at.markdown))
    shown = kpis(at)
    assert list(shown) == KPI_LABELS
    assert shown["Cost per customer"][0] not in ("", "0.00 USD", "–")
    assert shown["Unprofitable"][0].endswith("%")
    assert sum("previous period incomplete" == c.value for c in at.caption) == len(KPI_LABELS)
    assert [t.label for t in at.tabs] == ["Cost pools", "Segments & channels", "Profitability",
                                          "Most costly customers"]
    rates = at.data_editor[0].value
    assert {"pool", "unit", "rate", "default_rate"} <= set(rates.columns)
    labels = []
    for tab, subheaders in (
        ("Cost pools", ["Cost by activity pool"]),
        ("Segments & channels", ["Cost by segment", "Cost by channel"]),
        ("Profitability", ["Customer profitability"]),
        ("Most costly customers", ["Most costly customers"]),
    ):
        at.session_state[state.COST_TAB] = tab
        at.run()
        assert_clean(at)
        # the rate editor and the KPI cards stay above the tabs; only the open tab is drawn
        assert texts(at.subheader) == ["Cost rates", *subheaders], tab
        assert list(kpis(at)) == KPI_LABELS
        labels += [b.label for b in at.get("download_button")]
    for what in ("Pool table", "Segment table", "Channel table", "Whale curve data", "Most costly customers"):
        assert f"{what} as CSV" in labels and f"{what} as Excel" in labels, labels
    top = next(df.value for df in at.dataframe if "Customer" in df.value.columns)
    assert {"Region", "Segment", "Interactions"} <= set(top.columns)
    assert not any("No interactions" in i.value for i in at.info)  # the sample has interactions


def test_a_whole_previous_period_gives_deltas(app):
    at = cost_page(app)
    at.date_input(key=state.FILTER_WINDOW).set_value((date(2025, 1, 1), date(2025, 6, 30))).run()
    assert_clean(at)
    shown = kpis(at)
    assert shown["Cost per customer"][1][0] in "+-"
    assert shown["Unprofitable"][1].endswith("pp")
    # the cards are drawn first without changes and again with them at the end of the page: once, finished
    assert len(shown) == len(KPI_LABELS) and len(at.metric) == len(KPI_LABELS)
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Changes against 2024-07-04 to 2024-12-31") for c in captions), captions
    assert not any("Computing the changes" in c for c in captions)


def test_saving_an_edited_rate_changes_the_cost_to_serve(app, store, edit_rates):
    at = cost_page(app)
    before = kpis(at)["Cost per customer"][0]
    dataset_id = store.dataset_id(at.session_state[state.DATASET])
    edit_rates[("order", "per_order")] = 500.0
    at.button(key=state.COST_RATES_SAVE).click().run()
    assert_clean(at)
    assert [t.value for t in at.toast] == ["Cost rates saved."]
    after = kpis(at)["Cost per customer"][0]
    assert after.endswith(" USD")
    assert float(after.removesuffix(" USD").replace(",", "")) > float(before.removesuffix(" USD").replace(",", ""))
    saved = data.cost_rates(dataset_id).filter(pl.col("pool") == "order")["rate"][0]
    assert saved == 500.0
    edit_rates.clear()
    at.button(key=state.COST_RATES_RESET).click().run()
    assert_clean(at)
    assert [t.value for t in at.toast] == ["Cost rates reset to the defaults."]
    assert kpis(at)["Cost per customer"][0] == before


def test_the_page_keeps_the_usage_a_rate_save_prices(app, store, edit_rates, monkeypatch):
    # After drawing, the page reads what each customer used into memory (in a thread), with its sums per segment
    # and channel; the save then prices that usage and those sums without reading or grouping them again, and
    # shows the same figures as a page computed from scratch.
    from crm_core.metrics import cost

    at = cost_page(app)
    dataset_id = store.dataset_id(at.session_state[state.DATASET])
    for thread, _ in data._background.get((store.path, dataset_id), []):
        thread.join(timeout=60)
    reads = []
    original = store.query
    monkeypatch.setattr(store, "query", lambda text, *a, **k: (reads.append(text), original(text, *a, **k))[1])
    groupings = []
    named_groups = cost._named_groups
    monkeypatch.setattr(cost, "_named_groups", lambda frame, by, sums: (groupings.append(by),
                                                                         named_groups(frame, by, sums))[1])
    edit_rates[("order", "per_order")] = 123.0
    at.button(key=state.COST_RATES_SAVE).click().run()
    assert_clean(at)
    assert not [t for t in reads if "cost_counts" in t], "the save read the usage again"
    assert not groupings, "the save grouped the customers again"
    saved = kpis(at)
    monkeypatch.setattr(store, "query", original)
    monkeypatch.setattr(cost, "_usage", type(cost._usage)(cost.RECENT_USAGE))  # forgotten: computed from scratch
    monkeypatch.setattr(cost, "_group_usage", type(cost._group_usage)(cost.RECENT_GROUP_USAGE))
    data.clear_priced_caches()
    at.run()
    assert kpis(at) == saved


def test_a_negative_rate_shows_the_error_and_changes_nothing(app, store, edit_rates):
    at = cost_page(app)
    before = kpis(at)["Cost per customer"][0]
    dataset_id = store.dataset_id(at.session_state[state.DATASET])
    rates_before = data.cost_rates(dataset_id)
    edit_rates[("call", "per_contact")] = -3.0
    at.button(key=state.COST_RATES_SAVE).click().run()
    assert not at.exception
    assert any("negative" in e.value for e in at.error), [e.value for e in at.error]
    assert kpis(at)["Cost per customer"][0] == before
    data.clear_caches()
    assert data.cost_rates(dataset_id).equals(rates_before)


def test_an_empty_window_says_so_and_no_interactions_names_the_export(app, store):
    load_tiny(store, "Tiny")
    at = select_dataset(cost_page(app), "Tiny")
    infos = [i.value for i in at.info]
    assert any("activities export" in i and "tickets" in i for i in infos), infos
    assert kpis(at)  # orders are still costed
    at.date_input(key=state.FILTER_WINDOW).set_value((date(2024, 1, 25), date(2024, 2, 20))).run()
    assert_clean(at)
    assert any("No customers served in the analysis window" in i.value for i in at.info)
    assert not kpis(at)


def test_after_a_save_the_priced_views_are_prepared_again_in_the_background(app, store, edit_rates, monkeypatch):
    from crm_core import results, views
    from crm_core.metrics import facts

    at = cost_page(app)
    dataset_id = store.dataset_id(at.session_state[state.DATASET])
    edit_rates[("call", "per_contact")] = 9.0
    at.button(key=state.COST_RATES_SAVE).click().run()
    assert_clean(at)
    threads = [t for t, _ in data._background.get((store.path, dataset_id), [])]
    assert [t for t in threads if t.name.startswith("crm-lens-prepare")], "no background preparation started"
    for thread in threads:
        thread.join(timeout=120)
    kept = set(results.kept(store, dataset_id)["name"])
    requested = {name for name, _ in views.default_requests(facts.default_scope(store, dataset_id))}
    assert requested <= kept, requested - kept  # segments, evidence, portfolio: priced at the new rates
    # and the Differentiate page reads them: its segmentation is not computed again
    monkeypatch.setitem(views.VIEWS, "segmentation", lambda *a, **k: pytest.fail("segmentation recomputed"))
    at.switch_page("pages/differentiate.py").run()
    assert_clean(at)
    assert "Differentiate" in " ".join(texts(at.subheader)), texts(at.subheader)


def test_a_rate_save_keeps_the_datasets_and_filter_options_but_reprices_the_views(app, store, edit_rates,
                                                                                  monkeypatch):
    from crm_core import views
    from crm_core.metrics import scope

    at = cost_page(app)
    before = kpis(at)["Cost per customer"][0]
    # no rate enters the datasets' row counts or the sidebar's options: reading them again would be wasted
    monkeypatch.setattr(scope, "filter_options", lambda *a, **k: pytest.fail("filter options read again"))
    monkeypatch.setattr(type(store), "datasets", lambda *a, **k: pytest.fail("datasets read again"))
    computed = []
    original = views.compute
    monkeypatch.setattr(views, "compute",
                        lambda st_, name, *a, **k: computed.append(name) or original(st_, name, *a, **k))
    edit_rates[("order", "per_order")] = 400.0
    at.button(key=state.COST_RATES_SAVE).click().run()
    assert_clean(at)
    assert "cost_view" in computed  # the page's figures are computed again, at the new rates
    assert kpis(at)["Cost per customer"][0] != before
