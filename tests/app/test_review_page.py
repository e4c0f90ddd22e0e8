"""The Executive review page, driven by Streamlit's AppTest on the sample company (3,000 customers) and on a tiny
store: KPIs against the previous quarter, highlights with their citations, movers, targets saved per dataset,
and the reports prepared on request.

AppTest cannot edit ``st.data_editor`` cells, so the target test wraps ``st.data_editor`` to return the table a
user's edit would give, then clicks the page's own Save button (the same path as in the browser).
"""

from __future__ import annotations

import polars as pl
import pytest
import streamlit as st

from crm_core.metrics import targets
from ui import review

from .test_data_page import assert_clean, texts
from .test_portfolio_page import load_tiny, select_dataset

REVIEW_PAGE = "pages/review.py"
KPI_LABELS = ["Revenue", "Active customers", "Retention rate", "Churn rate", "Net Promoter Score",
              "Average predicted CLV", "Cost to serve per customer", "Top-20% revenue share"]


def review_page(at):
    at.switch_page(REVIEW_PAGE).run()
    assert_clean(at)
    assert texts(at.title) == ["Executive review"]
    return at


def test_review_page_shows_kpis_against_the_previous_quarter(app):
    at = review_page(app)
    assert "Payne & Frow · performance assessment" in " ".join(texts(at.markdown))
    cards = {m.label: (m.value, m.delta) for m in at.metric}
    assert list(cards) == KPI_LABELS
    assert all(delta for _, delta in cards.values())
    # the sample's retention fell from Q2 to Q3: an ASCII minus, so Streamlit draws a down arrow
    assert cards["Retention rate"][1] == "-8.9 points" and cards["Churn rate"][1] == "+8.9 points"
    assert cards["Revenue"][0].endswith("USD")
    captions = " ".join(texts(at.caption))
    assert "Reviewing **Q3 2026**" in captions or "Changes against Q2 2026" in captions
    # highlights: 3 to 6 sentences, each with the figures it cites
    cites = [c for c in texts(at.caption) if c.startswith("Cites: ")]
    assert 3 <= len(cites) <= 6
    assert all("KPI table" in c or "table" in c for c in cites)
    assert [s.value for s in at.subheader][:3] == ["Highlights", "Biggest movers", "High-value customers at risk"]
    assert not [b for b in at.button if b.key and b.key.startswith("review_download_")]


def test_period_choice_and_filters(app):
    at = review_page(app)
    at.selectbox(key=review.PERIOD).set_value("window").run()
    assert_clean(at)
    # the sidebar's whole span: no whole period before it, so nothing is compared
    assert "previous period incomplete" in texts(at.caption)
    at.selectbox(key=review.PERIOD).set_value("month").run()
    assert_clean(at)
    assert any("Changes against August 2026" in c for c in texts(at.caption))


@pytest.fixture
def edit_targets(monkeypatch):
    """Make the targets editor return its table with ``{label: target}`` applied, as a user's edit would."""
    edits: dict = {}
    original = st.data_editor

    def editor(frame, *args, **kwargs):
        shown = original(frame, *args, **kwargs)
        if kwargs.get("key") != review.TARGETS_EDITOR or not edits:
            return shown
        return shown.with_columns(
            pl.col("label").replace_strict(edits, default=None, return_dtype=pl.Float64)
            .fill_null(pl.col("target")).alias("target"))

    monkeypatch.setattr(st, "data_editor", editor)
    return edits


def test_targets_are_saved_per_dataset_and_shown(app, store, edit_targets):
    at = review_page(app)
    edit_targets.update({"Retention rate": 0.9, "Revenue": 1000.0})
    at.button(key=review.TARGETS_SAVE).click().run()
    assert_clean(at)
    ds = store.dataset_id(store.datasets()["name"][0])
    assert targets.get_targets(store, ds, "quarter") == {"retention_rate": 0.9, "revenue": 1000.0}
    captions = texts(at.caption)
    assert "Target 90.0% · :red[target missed]" in captions
    assert any(c.startswith("Target 1.00k USD") and "met" in c for c in captions)
    assert any("missed its target of 90.0%" in m for m in texts(at.markdown))


def test_a_bad_target_is_refused_with_a_message(app, store, edit_targets):
    at = review_page(app)
    edit_targets.update({"Retention rate": 85.0})
    at.button(key=review.TARGETS_SAVE).click().run()
    assert_clean(at)
    assert any("between 0 and 1" in e.value for e in at.error)
    assert store.scalar("SELECT COUNT(*) FROM targets") == 0


def test_reports_are_prepared_on_request(app):
    at = review_page(app)
    at.button(key=review.PREPARE).click().run(timeout=240)
    assert_clean(at)
    prepared = at.session_state[review.PREPARED]
    assert set(prepared["files"]) | set(prepared["errors"]) == {"pdf", "html", "pptx", "xlsx"}
    assert prepared["files"]["html"].startswith(b"<!DOCTYPE html>")
    assert prepared["files"]["xlsx"][:2] == b"PK"
    if "pdf" in prepared["files"]:
        assert prepared["files"]["pdf"].startswith(b"%PDF")
    else:  # no Chromium here: the page says so, HTML and Excel still there
        assert any("Chromium" in e.value for e in at.error)


def test_tiny_dataset_without_a_whole_previous_period(app, store):
    load_tiny(store, "tiny")
    at = select_dataset(review_page(app), "tiny")
    assert [m.label for m in at.metric] == KPI_LABELS
    assert any("No movers" in i.value for i in at.info)
