"""The metric catalog (``catalog.yaml``): every metric's label, definition, formula, unit, better
direction and the CRM model stages it serves. Pages show the definition on hover; the CLI keys its
JSON by the ids; the CRM models page maps stages to ids."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

UNITS = frozenset({"count", "currency", "share", "score", "days", "ratio", "purchases"})
BETTER = frozenset({"up", "down", "neutral"})


@dataclass(frozen=True)
class Metric:
    id: str
    label: str
    definition: str
    formula: str
    unit: str
    better: str
    stages: tuple[str, ...]

    @property
    def help(self) -> str:
        """Hover text for a KPI card: the definition and the formula."""
        return f"{self.definition}\n\nFormula: {self.formula}"


class CatalogError(ValueError):
    """catalog.yaml does not describe its metrics completely."""


@cache
def _raw() -> dict:
    return yaml.safe_load((Path(__file__).with_name("catalog.yaml")).read_text(encoding="utf-8"))


@cache
def models() -> dict[str, str]:
    """Model id -> name."""
    return dict(_raw()["models"])


@cache
def catalog() -> dict[str, Metric]:
    """Every metric by id, validated."""
    out = {}
    known_models = set(models())
    for mid, spec in _raw()["metrics"].items():
        missing = {"label", "definition", "formula", "unit", "better", "stages"} - set(spec)
        if missing:
            raise CatalogError(f"metric {mid}: missing {sorted(missing)}")
        if spec["unit"] not in UNITS or spec["better"] not in BETTER:
            raise CatalogError(f"metric {mid}: unit {spec['unit']!r} or better {spec['better']!r} unknown")
        for stage in spec["stages"]:
            model = stage.split(":", 1)[0]
            if model not in known_models or ":" not in stage:
                raise CatalogError(f"metric {mid}: stage {stage!r} names no known model")
        out[mid] = Metric(mid, spec["label"], spec["definition"], spec["formula"], spec["unit"], spec["better"],
                          tuple(spec["stages"]))
    return out


def metric(metric_id: str) -> Metric:
    try:
        return catalog()[metric_id]
    except KeyError:
        raise KeyError(f"no metric {metric_id!r} in the catalog") from None


def stage_metrics(model: str, stage: str) -> list[Metric]:
    """Metrics serving one stage of one model, in catalog order."""
    key = f"{model}: {stage}"
    return [m for m in catalog().values() if key in m.stages]
