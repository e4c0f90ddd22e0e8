"""The Gartner page, driven by AppTest on the sample company: the Metrics block live, the eight blocks with their
five described levels and evidence, an assessment saved, reopened and compared with an earlier one."""

from __future__ import annotations

import pytest

from crm_core.frameworks import rubrics
from crm_core.metrics import catalog
from ui import frameworks as fw

from .test_data_page import assert_clean, texts

GARTNER_PAGE = "pages/gartner.py"
GARTNER = rubrics.rubric("gartner")


def gartner_page(at):
    at.switch_page(GARTNER_PAGE).run()
    assert_clean(at)
    assert texts(at.title) == ["Gartner — eight building blocks of CRM"]
    return at


def rate(at, levels: dict[str, tuple[int | None, int | None]]):
    for block, (current, target) in levels.items():
        at.segmented_control(key=fw.answer_key("gartner", block, "current")).set_value(current)
        at.segmented_control(key=fw.answer_key("gartner", block, "target")).set_value(target)
    at.run()
    assert_clean(at)


def save(at) -> int:
    at.button(key=fw.save_key("gartner")).click().run()
    assert_clean(at)
    return at.selectbox(key=fw.open_key("gartner")).value


def test_gartner_page_renders_the_metrics_block_live(app):
    at = gartner_page(app)
    assert texts(at.subheader) == ["The Metrics block, live", "Maturity assessment", "Maturity",
                                   "Evidence from the data", "History"]
    assert [e.label.split(" — ")[0] for e in at.expander] == [b.name for b in GARTNER.sections]
    cards = {m.label: m.value for m in at.metric}
    for mid in ("avg_clv", "revenue_per_customer", "csat", "nps", "repeat_rate", "cost_to_serve_per_customer",
                "net_revenue_retention"):
        label = catalog.metric(mid).label
        assert label in cards and cards[label] not in ("", "–"), (label, cards.get(label))
    for group in ("Value", "Retention", "Satisfaction", "Loyalty", "Cost to serve"):
        assert f"**{group}**" in texts(at.markdown)
    # every block describes its five levels
    shown = " ".join(texts(at.markdown))
    for block in GARTNER.sections:
        assert block.items[0].levels[4][1] in shown
    assert len(at.segmented_control) == 16
    downloads = [b.label for b in at.get("download_button")]
    for what in ("Block scores", "Evidence table", "Answers"):
        assert f"{what} as CSV" in downloads and f"{what} as Excel" in downloads


def test_rate_save_reopen_and_compare(app):
    at = gartner_page(app)
    rate(at, {"vision": (2, 4), "metrics": (3, 5)})
    cards = {m.label: m.value for m in at.metric}
    assert cards["Current maturity"] == "2.5" and cards["Target maturity"] == "4.5"
    assert cards["Blocks rated"] == "2 of 8"
    first = save(at)
    rate(at, {"vision": (3, 4), "metrics": (3, 5), "information": (1, 3)})
    second = save(at)
    assert at.selectbox(key=fw.compare_key("gartner")).value == second
    table = next(df.value for df in at.dataframe if "Moved" in df.value.columns)
    by_block = table.set_index("Block")
    assert by_block.loc["Vision", "Change"] == pytest.approx(0.2)  # level 2 -> 3 = 20 pp of best practice
    assert by_block.loc["Metrics", "Moved"] == "same" and by_block.loc["Information", "Moved"] == "new"
    at.selectbox(key=fw.open_key("gartner")).set_value(first).run()
    assert_clean(at)
    assert at.segmented_control(key=fw.answer_key("gartner", "vision", "current")).value == 2
    assert at.segmented_control(key=fw.answer_key("gartner", "information", "current")).value is None
