"""The assessment rubrics as data: ``qci.yaml`` (eight areas, practices scored for intention and reality, 0–4)
and ``gartner.yaml`` (eight building blocks, maturity levels 1–5, current and target).

Both load into one shape, :class:`Rubric`: sections (QCI areas, Gartner blocks), each with the items that are
scored (QCI practices; a Gartner block is its own single item, described by its five levels) and the catalog
metric ids that are evidence for it. Loading validates the files completely, so a broken rubric fails at once
with the file and the entry named, never half-way through a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from crm_core.metrics import catalog

HERE = Path(__file__).resolve().parent
FRAMEWORKS: tuple[str, ...] = ("qci", "gartner")


class RubricError(ValueError):
    """A rubric file is incomplete or inconsistent."""


@dataclass(frozen=True)
class Item:
    """One scored statement: a QCI practice, or a Gartner block (``levels``: level -> description)."""

    id: str
    statement: str
    levels: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class LiveGroup:
    """A named group of live KPIs (the Gartner Metrics block: value, retention, satisfaction, …)."""

    name: str
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class Section:
    """A QCI area or a Gartner building block."""

    id: str
    name: str
    asks: str
    evidence: tuple[str, ...]
    items: tuple[Item, ...]
    live: tuple[LiveGroup, ...] = ()


@dataclass(frozen=True)
class Reference:
    """An external reference score (share of best practice), e.g. the QCI database average."""

    id: str
    label: str
    value: float


@dataclass(frozen=True)
class Rubric:
    framework: str
    name: str
    scale_min: int
    scale_max: int
    dimensions: tuple[tuple[str, str], ...]  # (id, description), the headline dimension among them
    levels: tuple[tuple[int, str], ...]  # scale point -> label
    headline: str
    sections: tuple[Section, ...]
    references: tuple[Reference, ...] = ()
    reference_source: str = ""

    @property
    def section_word(self) -> str:
        """What a section is called: "area" (QCI) or "block" (Gartner)."""
        return "area" if self.framework == "qci" else "block"

    @property
    def item_word(self) -> str:
        return "practice" if self.framework == "qci" else "block"

    @property
    def dimension_ids(self) -> tuple[str, ...]:
        return tuple(d for d, _ in self.dimensions)

    @property
    def other(self) -> str:
        """The dimension shown beside the headline: intention (QCI) or target (Gartner)."""
        return next(d for d in self.dimension_ids if d != self.headline)

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(i for s in self.sections for i in s.items)

    def section(self, section_id: str) -> Section:
        for s in self.sections:
            if s.id == section_id:
                return s
        raise KeyError(f"{self.framework} has no {self.section_word} {section_id!r}")

    def section_of(self, item_id: str) -> Section:
        for s in self.sections:
            if any(i.id == item_id for i in s.items):
                return s
        raise KeyError(f"{self.framework} has no {self.item_word} {item_id!r}")

    def evidence_ids(self) -> tuple[str, ...]:
        """Every metric id any section cites, first mention first."""
        out: dict[str, None] = {}
        for s in self.sections:
            out.update(dict.fromkeys(s.evidence))
            for g in s.live:
                out.update(dict.fromkeys(g.metrics))
        return tuple(out)

    def level_label(self, value: int | None) -> str:
        return dict(self.levels).get(value, "") if value is not None else ""


def _need(spec: dict, keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if k not in spec or spec[k] in (None, "", [])]
    if missing:
        raise RubricError(f"{where}: missing {', '.join(missing)}")


def _metric_ids(ids, where: str) -> tuple[str, ...]:
    known = catalog.catalog()
    for mid in ids or ():
        if mid not in known:
            raise RubricError(f"{where}: metric {mid!r} is not in crm_core/metrics/catalog.yaml")
    return tuple(ids or ())


def parse_rubric(raw: dict, file: str = "rubric") -> Rubric:
    """A :class:`Rubric` from the parsed YAML of ``file``; :class:`RubricError` names what is wrong."""
    _need(raw, ("framework", "name", "scale", "headline"), file)
    scale = raw["scale"]
    _need(scale, ("min", "max", "dimensions", "levels"), f"{file}: scale")
    lo, hi = int(scale["min"]), int(scale["max"])
    levels = tuple((int(k), str(v)) for k, v in scale["levels"].items())
    if [k for k, _ in levels] != list(range(lo, hi + 1)):
        raise RubricError(f"{file}: scale levels must be {lo}..{hi} in order")
    dims = tuple((str(k), str(v)) for k, v in scale["dimensions"].items())
    if len(dims) != 2 or raw["headline"] not in dict(dims):
        raise RubricError(f"{file}: two scale dimensions are needed and the headline must be one of them")
    framework = raw["framework"]
    key = "areas" if "areas" in raw else "blocks"
    sections, seen = [], set()
    for spec in raw.get(key) or ():
        where = f"{file}: {key[:-1]} {spec.get('id', '?')}"
        _need(spec, ("id", "name", "asks", "evidence"), where)
        if key == "areas":
            _need(spec, ("practices",), where)
            items = []
            for p in spec["practices"]:
                _need(p, ("id", "statement"), f"{where}: practice {p.get('id', '?')}")
                items.append(Item(str(p["id"]), str(p["statement"])))
            if not 5 <= len(items) <= 10:
                raise RubricError(f"{where}: {len(items)} practices; an area has 5 to 10")
        else:
            _need(spec, ("levels",), where)
            block_levels = tuple((int(k), str(v)) for k, v in spec["levels"].items())
            if [k for k, _ in block_levels] != list(range(lo, hi + 1)):
                raise RubricError(f"{where}: levels must be {lo}..{hi} in order")
            items = [Item(str(spec["id"]), str(spec["asks"]), block_levels)]
        for item in items:
            if item.id in seen:
                raise RubricError(f"{where}: id {item.id!r} is used twice")
            seen.add(item.id)
        live = tuple(
            LiveGroup(str(g["name"]), _metric_ids(g["metrics"], f"{where}: live {g['name']}"))
            for g in spec.get("live") or ()
        )
        sections.append(Section(str(spec["id"]), str(spec["name"]), str(spec["asks"]),
                                _metric_ids(spec["evidence"], where), tuple(items), live))
    if len(sections) != 8:
        raise RubricError(f"{file}: {len(sections)} {key}; the framework has eight")
    refs = raw.get("references") or {}
    references = tuple(Reference(str(r["id"]), str(r["label"]), float(r["value"])) for r in refs.get("lines") or ())
    return Rubric(framework, str(raw["name"]), lo, hi, dims, levels, str(raw["headline"]), tuple(sections),
                  references, " ".join(str(refs.get("source", "")).split()))


@cache
def rubric(framework: str) -> Rubric:
    """The rubric of ``"qci"`` or ``"gartner"``, loaded once and validated."""
    if framework not in FRAMEWORKS:
        raise KeyError(f"unknown framework {framework!r}; choose one of {', '.join(FRAMEWORKS)}")
    path = HERE / f"{framework}.yaml"
    return parse_rubric(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)
