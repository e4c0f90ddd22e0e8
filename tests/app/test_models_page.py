"""The CRM models page, driven by AppTest: every model and every stage renders on the sample company with live
KPI cards; on a transactions-only dataset a stage without data says which export would feed it."""

from __future__ import annotations

import pytest

from crm_core.frameworks import crm_models
from crm_core.metrics import catalog
from ui import frameworks as fw

from .test_data_page import assert_clean, texts
from .test_portfolio_page import load_tiny, select_dataset

MODELS_PAGE = "pages/models.py"


def models_page(at):
    at.switch_page(MODELS_PAGE).run()
    assert_clean(at)
    assert texts(at.title) == ["CRM models"]
    return at


def test_every_model_and_stage_renders_on_the_sample_company(app):
    at = models_page(app)
    models = crm_models.crm_models()
    assert at.radio(key=fw.MODEL_PICK).options == [m.name for m in models]
    for model in models:
        at.radio(key=fw.MODEL_PICK).set_value(model.id).run()
        assert_clean(at)
        expected = [f"{i}. {s.name}" for i, s in enumerate(model.stages, 1)]
        assert texts(at.subheader) == [*expected, "All stages in one table"], model.id
        shown = " ".join(texts(at.markdown))
        for stage in model.stages:
            assert stage.asks in shown
        cards = {m.label: m.value for m in at.metric}
        wanted = {catalog.metric(mid).label for s in model.stages for mid in s.metrics}
        assert wanted <= set(cards), (model.id, wanted - set(cards))
        valued = [label for label in wanted if cards[label] != "–"]
        assert len(valued) >= len(wanted) - 2, (model.id, cards)  # churn needs a window after the data start
        assert not any("No data for this stage" in i.value for i in at.info), model.id
        table = next(df.value for df in at.dataframe if "Catalog id" in df.value.columns)
        assert len(table) == sum(len(s.metrics) for s in model.stages)
        assert any(p.label.startswith("Explore on the") for p in at.get("page_link")) or model.id == "conceptual"


@pytest.mark.parametrize("model_id, stage, export", [
    ("idic", "3. Interact", "an activities export"),
    ("payne_frow", "4. Information management", "a customers export"),
    ("value_chain", "3. Network development", "a deals export"),
])
def test_a_stage_without_data_names_the_export_that_would_feed_it(app, store, model_id, stage, export):
    load_tiny(store, "tiny")
    at = select_dataset(models_page(app), "tiny")
    at = models_page(at)
    at.radio(key=fw.MODEL_PICK).set_value(model_id).run()
    assert_clean(at)
    messages = [i.value for i in at.info if i.value.startswith("No data for this stage yet")]
    assert any(export in m and "on the Data page" in m for m in messages), messages
    assert stage in texts(at.subheader)
