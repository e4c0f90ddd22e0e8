"""The Data page's "Data quality" section (issue #7), driven by AppTest on the sample company (which has
re-registered customers with upper-case emails and digits-only phones, and phones in many formats)."""

from __future__ import annotations

import polars as pl

from crm_core import quality
from ui import quality as ui_quality

from .test_data_page import assert_clean, data_page, texts


def sample_id(store) -> int:
    return int(store.datasets()["dataset_id"][0])


def test_section_shows_score_components_problems_and_clusters(app, store):
    at = data_page(app)
    assert "Data quality" in texts(at.subheader)
    labels = [m.label for m in at.metric]
    assert "Quality score" in labels and any(label.startswith("Completeness") for label in labels)
    score = next(m for m in at.metric if m.label == "Quality score")
    report = quality.kept_report(store, sample_id(store))
    assert score.value == f"{report.score:.0f} / 100"
    problems = next(df.value for df in at.dataframe if "Problem" in df.value.columns)
    assert "Exact duplicates" in set(problems["Problem"]) and "Phones not in E.164" in set(problems["Problem"])
    assert at.selectbox(key=ui_quality.CLUSTER).options  # clusters to review
    assert at.selectbox(key=ui_quality.REGION).value == report.phone_region


def test_email_fix_preview_confirm_apply_then_undo_restores_the_rows(app, store):
    at = data_page(app)
    before = store.snapshot()
    at.toggle(key=ui_quality.preview_key("emails")).set_value(True).run()
    assert_clean(at)
    preview = next(df.value for df in at.dataframe if {"Before", "After"} <= set(df.value.columns))
    assert (preview["After"] == preview["Before"].str.strip().str.lower()).all()
    assert at.button(key=ui_quality.apply_key("emails")).disabled  # not before the confirmation
    at.checkbox(key=ui_quality.confirm_key("emails")).check().run()
    at.button(key=ui_quality.apply_key("emails")).click().run()
    assert_clean(at)
    assert any("Fix #1 applied" in s.value for s in at.success)
    log = quality.audit_log(store, sample_id(store))
    assert log.height == 1 and log["kind"][0] == "emails"
    assert store.snapshot() != before
    at.button(key=ui_quality.UNDO_BUTTON).click().run()
    assert_clean(at)
    assert any("Undid fix #1" in s.value for s in at.success)
    assert store.snapshot() == before


def test_merge_a_cluster_then_a_refused_undo_shows_an_error(app, store):
    at = data_page(app)
    ds = sample_id(store)
    customers = store.table_counts(ds)["customers"]
    # the email fix touches the re-registered customers' upper-case emails; the merge then touches them too
    at.toggle(key=ui_quality.preview_key("emails")).set_value(True).run()
    at.checkbox(key=ui_quality.confirm_key("emails")).check().run()
    at.button(key=ui_quality.apply_key("emails")).click().run()
    assert_clean(at)
    at.checkbox(key=ui_quality.MERGE_CONFIRM).check().run()
    at.button(key=ui_quality.MERGE_BUTTON).click().run()
    assert_clean(at)
    assert store.table_counts(ds)["customers"] == customers - 1
    log = quality.audit_log(store, ds)
    assert log["kind"].to_list() == ["merge", "emails"]
    snapshot = store.snapshot()
    at.selectbox(key=ui_quality.UNDO_TARGET).set_value(int(log.filter(pl.col("kind") == "emails")["fix_id"][0]))
    at.run()
    at.button(key=ui_quality.UNDO_BUTTON).click().run()
    assert_clean(at)
    assert any("Cannot undo fix #1" in e.value and "Undo fix #2 first" in e.value for e in at.error)
    assert store.snapshot() == snapshot


def test_changing_the_phone_region_saves_it(app, store):
    at = data_page(app)
    at.selectbox(key=ui_quality.REGION).set_value("GB").run()
    assert_clean(at)
    assert quality.phone_region(store, sample_id(store)) == ("GB", False)
    assert at.selectbox(key=ui_quality.REGION).value == "GB"


def test_problem_rows_and_their_downloads(app, store):
    at = data_page(app)
    at.selectbox(key=ui_quality.PROBLEM).set_value("phone_unformatted").run()
    assert_clean(at)
    rows = next(df.value for df in at.dataframe if "Suggestion" in df.value.columns)
    assert rows["Suggestion"].str.startswith("+").all()
    keys = {b.key for b in at.get("download_button")}
    assert {"quality_download_phone_unformatted_csv", "quality_download_phone_unformatted_xlsx"} <= keys
