"""The six CRM models: stages in order, each with what it asks and catalog metrics, and the export that would
feed a stage without data."""

from __future__ import annotations

from crm_core.frameworks import crm_models, evidence, rubrics
from crm_core.metrics import catalog


def test_six_models_in_order_with_their_stages():
    models = crm_models.crm_models()
    assert [m.id for m in models] == ["value_chain", "idic", "qci", "payne_frow", "gartner", "conceptual"]
    stages = {m.id: [s.name for s in m.stages] for m in models}
    assert stages["idic"] == ["Identify", "Differentiate", "Interact", "Customize"]
    assert stages["payne_frow"] == ["Strategy development", "Value creation", "Multichannel integration",
                                    "Information management", "Performance assessment"]
    assert stages["value_chain"][0] == "Customer portfolio analysis" and len(stages["value_chain"]) == 5
    assert stages["qci"] == [s.name for s in rubrics.rubric("qci").sections]
    assert stages["gartner"] == [s.name for s in rubrics.rubric("gartner").sections]


def test_every_stage_asks_one_sentence_and_has_catalog_metrics():
    known = set(catalog.catalog())
    for model in crm_models.crm_models():
        assert model.source and model.summary
        for stage in model.stages:
            assert stage.asks.endswith("?") or stage.asks.endswith(".")
            assert stage.metrics and set(stage.metrics) <= known, (model.id, stage.id)


def test_catalog_stage_tags_show_on_their_stage():
    for model in crm_models.crm_models():
        for stage in model.stages:
            for m in catalog.stage_metrics(model.id, stage.id):
                if evidence.computable(m.id):
                    assert m.id in stage.metrics, (model.id, stage.id, m.id)


def test_stage_status_names_the_missing_export():
    stage = crm_models.crm_model("idic").stages[2]  # Interact: interactions, feedback
    counts = {"transactions": 10, "customers": 5, "interactions": 0, "feedback": 0, "deals": 0}
    status = crm_models.stage_status(stage, dict.fromkeys(stage.metrics), counts)
    assert not status["has_data"] and status["missing"] == ["interactions", "feedback"]
    assert status["message"].startswith("No data for this stage yet: import an activities export")
    assert "survey export" in status["message"]
    full = crm_models.stage_status(stage, dict.fromkeys(stage.metrics, 1.0), counts)
    assert full == {"has_data": True, "missing": [], "message": None}
    scoped = crm_models.stage_status(stage, dict.fromkeys(stage.metrics), {t: 5 for t in crm_models.TABLES})
    assert "widen the analysis window" in scoped["message"]
