"""The six CRM models the dashboard walks (``models.yaml``): each model's stages in order, what each stage asks,
the catalog metrics that speak to it, the page that serves it, and which export would feed a stage without data.

A stage's metrics are the ones ``models.yaml`` lists, then every catalog metric tagged ``"<model>: <stage id>"`` in
``catalog.yaml`` that :mod:`crm_core.frameworks.evidence` can compute, so the catalog and the page never disagree.
The QCI and Gartner models take their stages from their rubrics (``stages_from``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from crm_core.frameworks import evidence, rubrics
from crm_core.metrics import catalog

HERE = Path(__file__).resolve().parent
TABLES = ("transactions", "customers", "interactions", "feedback", "deals")


class ModelsError(ValueError):
    """models.yaml is incomplete or inconsistent."""


@dataclass(frozen=True)
class Stage:
    id: str  # lower-case stage name, as catalog.yaml's "<model>: <stage>" tags spell it
    name: str
    asks: str
    metrics: tuple[str, ...]
    page: str | None = None


@dataclass(frozen=True)
class CrmModel:
    id: str
    name: str
    source: str
    summary: str
    stages: tuple[Stage, ...]


@cache
def _raw() -> dict:
    return yaml.safe_load((HERE / "models.yaml").read_text(encoding="utf-8"))


def _with_catalog(model: str, stage: str, listed) -> tuple[str, ...]:
    ids = list(dict.fromkeys(listed or ()))
    known = catalog.catalog()
    for mid in ids:
        if mid not in known:
            raise ModelsError(f"models.yaml: {model} / {stage}: metric {mid!r} is not in the catalog")
    for m in catalog.stage_metrics(model, stage):
        if m.id not in ids and evidence.computable(m.id):
            ids.append(m.id)
    return tuple(ids)


def _rubric_stages(model: str, framework: str) -> tuple[Stage, ...]:
    page = f"pages/{framework}.py"
    return tuple(
        Stage(s.name.lower(), s.name, s.asks, _with_catalog(model, s.name.lower(), s.evidence), page)
        for s in rubrics.rubric(framework).sections
    )


@cache
def crm_models() -> tuple[CrmModel, ...]:
    """The six models in walk order, validated."""
    out = []
    names = catalog.models()
    for spec in _raw()["models"]:
        mid = spec["id"]
        if mid not in names:
            raise ModelsError(f"models.yaml: model {mid!r} is not among the catalog's models")
        if "stages_from" in spec:
            stages = _rubric_stages(mid, spec["stages_from"])
        else:
            stages = tuple(
                Stage(str(s["id"]), str(s["name"]), str(s["asks"]), _with_catalog(mid, s["id"], s.get("metrics")),
                      s.get("page"))
                for s in spec["stages"]
            )
        for s in stages:
            if not s.metrics:
                raise ModelsError(f"models.yaml: {mid} / {s.id} has no metric")
        out.append(CrmModel(mid, str(spec["name"]), " ".join(str(spec["source"]).split()), str(spec["summary"]),
                            stages))
    return tuple(out)


def crm_model(model_id: str) -> CrmModel:
    for m in crm_models():
        if m.id == model_id:
            return m
    raise KeyError(f"no CRM model {model_id!r}; choose one of {', '.join(m.id for m in crm_models())}")


def metric_table(metric_id: str) -> str:
    """The canonical table that feeds a metric (transactions unless models.yaml says otherwise)."""
    return _raw().get("metric_tables", {}).get(metric_id, "transactions")


def export_for(table: str) -> str:
    """The export that fills a canonical table, in words."""
    return " ".join(str(_raw()["exports"][table]).split())


def missing_exports(metric_ids, table_counts: dict[str, int]) -> list[str]:
    """The tables (in :data:`TABLES` order) that feed ``metric_ids`` and hold no rows in the dataset."""
    needed = {metric_table(m) for m in metric_ids}
    return [t for t in TABLES if t in needed and not int(table_counts.get(t) or 0)]


def stage_status(stage: Stage, values: dict, table_counts: dict[str, int]) -> dict:
    """What the page says about a stage: ``has_data`` (any metric has a value), ``missing`` (tables without
    rows that feed its metrics) and ``message`` (None when every metric has a value)."""
    known = [m for m in stage.metrics if values.get(m) is not None]
    missing = missing_exports([m for m in stage.metrics if values.get(m) is None], table_counts)
    if len(known) == len(stage.metrics):
        message = None
    elif missing:
        feeds = "; ".join(export_for(t) for t in missing)
        what = "No data for this stage yet" if not known else "Some of this stage's figures need more data"
        message = f"{what}: import {feeds} on the Data page."
    else:
        message = ("No data for this stage in the current scope: widen the analysis window or clear filters in "
                   "the sidebar." if not known else None)
    return {"has_data": bool(known), "missing": missing, "message": message}
