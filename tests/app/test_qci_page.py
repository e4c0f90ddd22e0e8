"""The QCI page, driven by AppTest on the sample company: renders with evidence beside every area; an assessment
is filled, saved, reopened and compared with an earlier one; exports carry the same answers the CLI reads."""

from __future__ import annotations

import pytest

from crm_core.frameworks import rubrics
from ui import frameworks as fw

from .test_data_page import assert_clean, texts
from .test_portfolio_page import load_tiny, select_dataset

QCI_PAGE = "pages/qci.py"
QCI = rubrics.rubric("qci")


def qci_page(at):
    at.switch_page(QCI_PAGE).run()
    assert_clean(at)
    assert texts(at.title) == ["QCI — Quality Competitive Index"]
    return at


def score_practices(at, scores: dict[str, tuple[int | None, int | None]]):
    for item, (intention, reality) in scores.items():
        at.segmented_control(key=fw.answer_key("qci", item, "intention")).set_value(intention)
        at.segmented_control(key=fw.answer_key("qci", item, "reality")).set_value(reality)
    at.run()
    assert_clean(at)
    return at


def save(at, who: str) -> int:
    at.text_input(key=fw.taken_by_key("qci")).set_value(who)
    at.button(key=fw.save_key("qci")).click().run()
    assert_clean(at)
    assert any("saved" in s.value for s in at.success), texts(at.success)
    return at.selectbox(key=fw.open_key("qci")).value


def test_qci_page_renders_on_the_sample_company(app):
    at = qci_page(app)
    assert "QCI · all eight areas" in " ".join(texts(at.markdown))
    assert texts(at.subheader) == ["Assessment", "Scores", "Evidence from the data", "History"]
    labels = [e.label for e in at.expander]
    assert [lbl.split(" — ")[0] for lbl in labels] == [s.name for s in QCI.sections]
    assert len(at.segmented_control) == 2 * len(QCI.items)
    shown = " ".join(texts(at.markdown))
    for label in ("Data completeness", "Duplicate rate", "Net Promoter Score", "Tickets per customer",
                  "New customers", "Cost to serve per unit of revenue"):
        assert label in shown, label
    evidence = next(df.value for df in at.dataframe if "Catalog id" in df.value.columns)
    it = evidence[evidence["Area"] == "Information & technology"]
    assert {"data_completeness", "duplicate_rate"} <= set(it["Catalog id"])
    assert it["Value (number)"].notna().all()
    assert "External reference" in " ".join(c.value for c in at.caption) or "external references" in " ".join(
        c.value for c in at.caption)
    downloads = [b.label for b in at.get("download_button")]
    for what in ("Answers", "Area scores", "Evidence table"):
        assert f"{what} as CSV" in downloads and f"{what} as Excel" in downloads, downloads
    assert "Answers as JSON" in downloads
    assert any("No assessment saved yet" in i.value for i in at.info)


def test_fill_save_reopen_and_compare_with_an_earlier_assessment(app):
    at = qci_page(app)
    score_practices(at, {"ap1": (4, 1), "ap2": (3, 1), "pr1": (2, 2)})
    cards = {m.label: m.value for m in at.metric}
    assert cards["Reality score"] == "33.3%"  # (1 + 1 + 2) / (4 × 3)
    assert cards["Intention score"] == "75.0%"  # (4 + 3 + 2) / (4 × 3)
    assert at.expander[0].label.startswith("Analysis & planning — reality 25.0%, intention 87.5%")
    at.text_area(key=fw.note_key("qci", "analysis_planning")).set_value("Segments by value agreed in Q1.")
    first = save(at, "Ann")
    assert isinstance(first, int)

    score_practices(at, {"ap1": (4, 3), "ap2": (3, 3), "pr1": (2, 1)})
    second = save(at, "Bo")
    assert second != first
    history = next(df.value for df in at.dataframe if "Assessed by" in df.value.columns)
    assert list(history["Assessment"]) == [second, first] and list(history["Assessed by"]) == ["Bo", "Ann"]

    # compare the newest with the one before it: analysis & planning 25% -> 75% (+50 pp), proposition 50% -> 25%
    assert at.selectbox(key=fw.compare_key("qci")).value == second
    moved = next(m.value for m in at.markdown if m.value.startswith("**Moved since"))
    assert "Analysis & planning +50 pp" in moved and "Proposition -25 pp" in moved
    table = next(df.value for df in at.dataframe if "Moved" in df.value.columns)
    row = table[table["Area"] == "Analysis & planning"].iloc[0]
    assert row["Change"] == pytest.approx(0.5) and row["Moved"] == "up"
    assert any(c.proto.spec and "Change per area" in c.proto.spec for c in at.get("plotly_chart"))

    # reopen the first: the form holds its answers, note and assessor again
    at.selectbox(key=fw.open_key("qci")).set_value(first).run()
    assert_clean(at)
    assert at.segmented_control(key=fw.answer_key("qci", "ap1", "reality")).value == 1
    assert at.segmented_control(key=fw.answer_key("qci", "pr1", "intention")).value == 2
    assert at.segmented_control(key=fw.answer_key("qci", "cx1", "reality")).value is None
    assert at.text_area(key=fw.note_key("qci", "analysis_planning")).value == "Segments by value agreed in Q1."
    assert at.text_input(key=fw.taken_by_key("qci")).value == "Ann"
    # the first has nobody before it
    at.selectbox(key=fw.compare_key("qci")).set_value(first).run()
    assert any("first assessment" in i.value for i in at.info)

    # the form's answers export as the JSON document the CLI scores
    button = next(b for b in at.get("download_button") if b.label == "Answers as JSON")
    assert "python -m crm_core assess --framework qci" in button.proto.help

    # a new assessment starts empty
    at.button(key=fw.clear_key("qci")).click().run()
    assert at.selectbox(key=fw.open_key("qci")).value == fw.NEW
    assert at.segmented_control(key=fw.answer_key("qci", "ap1", "reality")).value is None


def test_saving_nothing_is_refused(app):
    at = qci_page(app)
    at.button(key=fw.save_key("qci")).click().run()
    assert_clean(at)
    assert any("Nothing is scored yet" in e.value for e in at.error)


def test_a_transactions_only_dataset_says_which_export_feeds_the_evidence(app, store):
    load_tiny(store, "tiny")
    at = select_dataset(qci_page(app), "tiny")
    at = qci_page(at)
    captions = " ".join(c.value for c in at.caption)
    assert "Needs feedback: import them on the Data page." in captions
    assert "Needs customers: import them on the Data page." in captions
