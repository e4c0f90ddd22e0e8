"""The Differentiate page (IDIC), driven by Streamlit's AppTest on the sample company and on a tiny store.

Each test has its own database file and empty caches (conftest.py).
"""

from __future__ import annotations

from datetime import date

import pytest

from crm_core.sample import SAMPLE_DATASET
from ui import state

from .test_data_page import assert_clean, texts
from .test_portfolio_page import load_tiny, select_dataset

DIFFERENTIATE_PAGE = "pages/differentiate.py"


def differentiate_page(at):
    at.switch_page(DIFFERENTIATE_PAGE).run()
    assert_clean(at)
    assert texts(at.title) == ["Differentiate"]
    return at


def open_tab(at, label: str):
    """The page's tab ``label`` opened (only the open tab is drawn)."""
    at.session_state[state.DIFFERENTIATE_TAB] = label
    at.run()
    assert_clean(at)
    return at


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def profile(at):
    return next(df.value for df in at.dataframe if "Silhouette" in df.value.columns)


def test_differentiate_page_renders_on_the_sample_company(app):
    at = differentiate_page(app)
    assert "IDIC · Identify, Differentiate, Interact, Customize" in " ".join(texts(at.markdown))
    assert [t.label for t in at.tabs] == ["Differentiate", "CLV tiers", "Interact", "Customize"]
    assert texts(at.subheader) == ["Identify", "Differentiate"]  # Identify's cards, then the open tab
    assert metric(at, "Identified") not in ("", "0")
    assert metric(at, "Contactable").endswith("%")
    segments = list(profile(at)["Segment"])
    assert len(segments) >= 2 and all(segments)
    assert len(at.get("plotly_chart")) == 2  # sizes, profiles; the silhouettes only once their expander is open
    labels = [b.label for b in at.get("download_button")]
    assert "Silhouette data as CSV" not in labels
    at.session_state[state.DIFFERENTIATE_SILHOUETTES] = True  # the expander opened (it reruns the tabs)
    at.run()
    assert_clean(at)
    assert len(at.get("plotly_chart")) == 3
    labels += [b.label for b in at.get("download_button")]
    open_tab(at, "CLV tiers")
    assert texts(at.subheader) == ["Identify", "CLV tiers"]
    assert at.session_state[state.DIFFERENTIATE_SILHOUETTES]  # still open when the Differentiate tab is back
    assert len(at.get("plotly_chart")) == 1
    tiers = next(df.value for df in at.dataframe if "CLV tier" in df.value.columns)
    assert list(tiers["CLV tier"]) == ["Top 20%", "Middle 60%", "Bottom 20%"]
    labels += [b.label for b in at.get("download_button")]
    open_tab(at, "Interact")
    assert texts(at.subheader) == ["Identify", "Interact"]
    assert len(at.get("plotly_chart")) == 2  # channel mix, intensity
    labels += [b.label for b in at.get("download_button")]
    # segment names appear in the actions table and the customer-list picker
    open_tab(at, "Customize")
    assert texts(at.subheader) == ["Identify", "Customize"]
    actions = next(df.value for df in at.dataframe if "Suggested action" in df.value.columns)
    assert list(actions["Segment"]) == segments and all(actions["Suggested action"])
    assert at.selectbox(key=state.DIFFERENTIATE_SEGMENT).options[1:] == segments
    labels += [b.label for b in at.get("download_button")]
    for what in ("Segment profiles", "Silhouette data", "CLV tiers", "Interaction table", "Segment actions",
                 "Customer list"):
        assert f"{what} as CSV" in labels and f"{what} as Excel" in labels, labels


def test_choosing_three_segments_gives_three(app):
    at = differentiate_page(app)
    at.selectbox(key=state.DIFFERENTIATE_K).set_value(3).run()
    assert_clean(at)
    assert profile(at).shape[0] == 3
    assert metric(at, "Segments") == "3"
    # a segment's customer list holds only that segment's customers
    open_tab(at, "Customize")
    assert len(at.dataframe[0].value) == 3  # the actions table follows the three segments
    pick = at.selectbox(key=state.DIFFERENTIATE_SEGMENT)
    name = pick.options[1]
    pick.set_value(name).run()
    assert_clean(at)
    members = next(df.value for df in at.dataframe if "email" in df.value.columns)
    assert set(members["segment"]) == {name}


def test_a_region_filter_changes_the_identified_customers(app):
    at = differentiate_page(app)
    before = int(metric(at, "Identified").replace(",", ""))
    at.multiselect(key=state.FILTER_REGIONS).set_value(["Europe"]).run()
    assert_clean(at)
    after = int(metric(at, "Identified").replace(",", ""))
    assert 0 < after < before


def test_the_identify_cards_compare_with_the_previous_period(app, store):
    at = differentiate_page(app)
    # the whole history: the period before it is not in the data, so the cards say so instead of a change
    assert all(not m.delta for m in at.metric if m.label == "Identified")
    at.date_input(key=state.FILTER_WINDOW).set_value((date(2025, 7, 1), date(2025, 12, 31))).run()
    assert_clean(at)
    cards = {m.label: (m.value, m.delta) for m in at.metric}
    # by SQL on the sample company's rows: customers known by each window's end, and who bought in each window
    ds = store.query("SELECT dataset_id FROM datasets WHERE name = ?", [SAMPLE_DATASET])["dataset_id"][0]

    def known(end: date) -> int:
        return int(store.scalar("SELECT count(*) FROM customers WHERE dataset_id = ? AND (created_at IS NULL OR "
                                "created_at < ?)", [ds, end]))

    def bought(start: date, end: date) -> int:
        return int(store.scalar("SELECT count(DISTINCT customer_id) FROM purchases WHERE dataset_id = ? AND "
                                "status = 'completed' AND occurred_at >= ? AND occurred_at < ?", [ds, start, end]))

    # the previous period has the same 184 days: 2024-12-29 to 2025-06-30
    now, before = known(date(2026, 1, 1)), known(date(2025, 7, 1))
    assert cards["Identified"] == (f"{now:,}", f"{(now - before) / before:+.1%}")
    now, before = bought(date(2025, 7, 1), date(2026, 1, 1)), bought(date(2024, 12, 29), date(2025, 7, 1))
    assert cards["Bought in window"] == (f"{now:,}", f"{(now - before) / before:+.1%}")
    assert all(cards[label][1].endswith(" pp") for label in ("Contactable", "With email", "With phone"))
    assert any("Changes against 2024-12-29 to 2025-06-30" in c.value for c in at.caption)


def test_an_empty_window_says_so(app, store):
    load_tiny(store, "Tiny")
    at = select_dataset(differentiate_page(app), "Tiny")
    at.date_input(key=state.FILTER_WINDOW).set_value((date(2024, 1, 25), date(2024, 2, 20))).run()
    assert_clean(at)
    assert any("No purchases in the analysis window" in i.value for i in at.info)
    assert not any("Silhouette" in df.value.columns for df in at.dataframe)


def test_too_few_customers_say_so_without_failing(app, store):
    load_tiny(store, "Tiny")
    at = select_dataset(differentiate_page(app), "Tiny")
    # 2-10 March 2024: only C3 bought, and one customer cannot be segmented
    at.date_input(key=state.FILTER_WINDOW).set_value((date(2024, 3, 1), date(2024, 3, 10))).run()
    assert_clean(at)
    assert any("Too few customers to segment" in w.value for w in at.warning)


def test_the_member_details_are_read_in_the_background_for_the_lists_and_filters(app, monkeypatch):
    # The customer lists' member details (names, contacts and figures of every customer: ~0.6 s at 1M customers)
    # are not read as the page opens but in a thread once it is drawn, with their groups, which a region filter
    # then picks its rows by (views.picked_members), not by testing each customer id; the Customize tab shows the
    # region's customers from them.
    from crm_core import results, views
    from crm_core.metrics import facts
    from ui import data

    at = differentiate_page(app)  # the sample company loaded and its views kept
    listed, kept = [], []
    real_details, real_keep = data.member_details, data.keep_member_details
    monkeypatch.setattr(data, "member_details", lambda sc: listed.append(sc) or real_details(sc))
    monkeypatch.setattr(data, "keep_member_details", lambda sc: kept.append(real_keep(sc)))
    monkeypatch.setattr(views, "chosen_customers", lambda *a, **k: pytest.fail("customer ids asked for"))
    data.clear_caches()
    at.run()
    assert_clean(at)
    assert not listed and len(kept) == 1  # the segments drawn without the details, which a thread reads
    kept[0].join(30)
    store = data.get_store()
    default = facts.default_scope(store, int(store.datasets()["dataset_id"][0]))
    with monkeypatch.context() as m:  # held in memory by the thread: not read from the store again
        m.setattr(results, "get", lambda *a, **k: pytest.fail("read again"))
        assert views.compute(store, "member_details", default).height == views.compute(
            store, "member_groups", default).height > 0
    at.multiselect(key=state.FILTER_REGIONS).set_value(["Europe"]).run()
    assert_clean(at)
    assert not listed
    open_tab(at, "Customize")
    assert listed and listed[-1].regions == ("Europe",)
    caption = next(c for c in texts(at.caption) if c.endswith("customers."))
    table = next(df.value for df in at.dataframe if "email" in df.value.columns)
    assert int(caption.split()[0].replace(",", "")) >= len(table) > 0
