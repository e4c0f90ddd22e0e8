"""Highlights of the executive review: 3–6 sentences written from the numbers by rules (``highlights.yaml``).

Pure: figures in, sentences out — no store. Each :class:`Highlight` carries the metric id it is about and the
figures it cites (what, value, where it is shown), so every sentence can be traced to the KPI table row or the
movers row it was written from. Rules are data (the pymc-marketing way, DESIGN §10): thresholds, texts and
weights live in the YAML; this module only evaluates them.

Ranking: each fired rule scores ``weight × (how far past its threshold the figure is)``; the best
``max_highlights`` are kept, and the steadiest headline figures fill up to ``min_highlights``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import polars as pl
import yaml

from crm_core.metrics import catalog

RULES_FILE = Path(__file__).with_name("highlights.yaml")


@dataclass(frozen=True)
class Citation:
    """One figure a sentence cites: what it is, its value (as computed) and where it is shown."""

    what: str
    value: float | int | str | None
    source: str


@dataclass(frozen=True)
class Highlight:
    rule: str
    metric_id: str
    text: str
    cites: tuple[Citation, ...] = field(default_factory=tuple)
    score: float = 0.0


@dataclass(frozen=True)
class Context:
    """How the periods are called and the money unit."""

    period: str
    previous_period: str | None = None
    money_unit: str = "amount"
    comparable: bool = True  # False: the previous period is open or incomplete — no change is claimed


class HighlightRulesError(ValueError):
    """highlights.yaml does not describe its rules completely."""


@cache
def rules() -> dict:
    """The rules file, validated (unknown kinds and metric ids refused)."""
    raw = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    known = catalog.catalog()
    kinds = {"change", "mover", "target", "at_risk", "level", "steady"}
    for rule in raw["rules"]:
        if rule.get("kind") not in kinds:
            raise HighlightRulesError(f"rule {rule.get('id')!r}: unknown kind {rule.get('kind')!r}")
        for mid in rule.get("metrics", ()):
            if mid not in known:
                raise HighlightRulesError(f"rule {rule['id']!r}: no metric {mid!r} in the catalog")
    for unit in raw["thresholds"]:
        if unit not in catalog.UNITS:
            raise HighlightRulesError(f"threshold for unknown unit {unit!r}")
    return raw


def _rule(kind: str) -> dict | None:
    return next((r for r in rules()["rules"] if r["kind"] == kind), None)


# ---------------------------------------------------------------------------------------------------- numbers
def _known(value) -> bool:
    return value is not None and not (isinstance(value, float) and not math.isfinite(value))


def compact(value: float) -> str:
    """15.6M, 2.3k, 950."""
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            return f"{value / div:,.2f}{suffix}" if abs(value) < 10 * div else f"{value / div:,.1f}{suffix}"
    return f"{value:,.0f}"


def format_value(metric_id: str, value, money_unit: str = "amount") -> str:
    """A KPI value as people read it: money compact with its unit, shares as %, scores with one decimal."""
    if not _known(value):
        return "–"
    unit = catalog.metric(metric_id).unit
    if unit == "currency":
        return f"{compact(value)} {money_unit}" if abs(value) >= 1000 else f"{value:,.2f} {money_unit}"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "score":
        return f"{value:.1f}"
    if unit == "days":
        return f"{value:,.0f} days"
    if unit == "ratio":
        return f"{value:.3f}"
    return f"{value:,.0f}"


def change_mode(metric_id: str) -> str:
    """How a metric's change is stated: ``relative`` (%), ``points`` (shares) or ``absolute`` (scores)."""
    return rules()["thresholds"][catalog.metric(metric_id).unit]["mode"] if catalog.metric(metric_id).unit in \
        rules()["thresholds"] else "relative"


def change_size(metric_id: str, current, previous) -> float | None:
    """The change in its mode's units: a fraction for relative, a share difference for points, score points for
    absolute; None when unknown (or a relative change without a base)."""
    if not (_known(current) and _known(previous)):
        return None
    mode = change_mode(metric_id)
    if mode == "relative":
        return None if previous == 0 else (current - previous) / abs(previous)
    return current - previous


def format_change(metric_id: str, current, previous, *, signed: bool = False) -> str:
    """"3.1 points", "12.4%", "4.0 points" (NPS); with ``signed`` a leading + or −."""
    size = change_size(metric_id, current, previous)
    if size is None:
        return "–"
    mode = change_mode(metric_id)
    sign = ("+" if size > 0 else "−" if size < 0 else "±") if signed else ""
    magnitude = abs(size)
    if mode == "relative":
        return f"{sign}{magnitude:.1%}"
    if mode == "points":
        return f"{sign}{magnitude * 100:.1f} points"
    return f"{sign}{magnitude:.1f} points"


def _threshold(metric_id: str) -> float:
    unit = catalog.metric(metric_id).unit
    return float(rules()["thresholds"].get(unit, {"min": 0.05})["min"])


def format_contribution(metric_id: str, contribution: float, money_unit: str) -> str:
    unit = catalog.metric(metric_id).unit
    sign = "+" if contribution > 0 else "−" if contribution < 0 else "±"
    if unit == "share":
        return f"{sign}{abs(contribution) * 100:.1f} points"
    if unit == "currency":
        return f"{sign}{compact(abs(contribution))} {money_unit}"
    return f"{sign}{abs(contribution):,.0f}"


# ---------------------------------------------------------------------------------------------------- rules
def _kpi_source(metric_id: str) -> str:
    return f"KPI table: {catalog.metric(metric_id).label}"


def _mover_clause(metric_id: str, direction: int, movers: pl.DataFrame | None, ctx: Context) -> tuple[str, list]:
    rule = _rule("mover")
    if rule is None or movers is None or movers.is_empty() or metric_id not in rule["metrics"]:
        return "", []
    cand = movers.filter(
        (pl.col("metric_id") == metric_id)
        & pl.col("dimension").is_in(rule["dimensions"])
        & pl.col("share_of_change").is_not_null()
        & (pl.col("contribution") * direction > 0)
    )
    if cand.is_empty():
        return "", []
    # the strongest single group: largest share of the change; a coarser dimension wins ties
    order = {d: i for i, d in enumerate(rule["dimensions"])}
    best = (
        cand.with_columns(_o=pl.col("dimension").replace_strict(order, return_dtype=pl.Int32))
        .sort(["share_of_change", "_o"], descending=[True, False]).row(0, named=True)
    )
    share = float(best["share_of_change"])
    if share < float(rule["min_share"]):
        return "", []
    from crm_core.metrics.movers import DIMENSIONS

    template = rule["text_most"] if share >= float(rule["most_share"]) else rule["text_part"]
    noun = rule["nouns"]["up" if direction > 0 else "down"]
    dimension = DIMENSIONS.get(best["dimension"], best["dimension"])
    clause = template.format(
        noun=noun, group=best["group"], dimension=dimension, share=f"{share:.0%}",
        contribution=format_contribution(metric_id, float(best["contribution"]), ctx.money_unit),
    )
    cite = Citation(
        f"{catalog.metric(metric_id).label}: contribution of {dimension} {best['group']}",
        float(best["contribution"]), f"Movers table: {dimension} {best['group']}",
    )
    return clause, [cite]


def _change_rule(rule: dict, kpis: Mapping[str, Mapping], movers, ctx: Context) -> list[Highlight]:
    out = []
    if not ctx.comparable or not ctx.previous_period:
        return out
    for mid in rule["metrics"]:
        row = kpis.get(mid)
        if row is None:
            continue
        size = change_size(mid, row.get("current"), row.get("previous"))
        if size is None or abs(size) < _threshold(mid) or row["current"] == row["previous"]:
            continue
        direction = 1 if row["current"] > row["previous"] else -1
        m = catalog.metric(mid)
        text = rule["text"].format(
            label=m.label, verb=rule["verbs"]["up" if direction > 0 else "down"],
            change=format_change(mid, row["current"], row["previous"]), previous_period=ctx.previous_period,
            previous=format_value(mid, row["previous"], ctx.money_unit),
            current=format_value(mid, row["current"], ctx.money_unit), period=ctx.period,
        )
        cites = [
            Citation(f"{m.label}, {ctx.period}", row["current"], _kpi_source(mid)),
            Citation(f"{m.label}, {ctx.previous_period}", row["previous"], _kpi_source(mid)),
        ]
        clause, more = _mover_clause(mid, direction, movers, ctx)
        if clause:
            text += "; " + clause
            cites += more
        out.append(Highlight(rule["id"], mid, text + ".", tuple(cites),
                             float(rule["weight"]) * abs(size) / _threshold(mid)))
    return out


def _target_rule(rule: dict, kpis: Mapping[str, Mapping], ctx: Context) -> list[Highlight]:
    from crm_core.metrics.targets import target_status

    out = []
    for mid in rule["metrics"]:
        row = kpis.get(mid)
        if row is None or not _known(row.get("target")) or not _known(row.get("current")):
            continue
        status = target_status(mid, row["current"], row["target"])
        m = catalog.metric(mid)
        size = change_size(mid, row["current"], row["target"])
        gap_size = 0.0 if size is None else abs(size)
        values = {"label": m.label, "target": format_value(mid, row["target"], ctx.money_unit), "period": ctx.period,
                  "current": format_value(mid, row["current"], ctx.money_unit),
                  "gap": format_change(mid, row["current"], row["target"]),
                  "side": "below" if row["current"] < row["target"] else "above"}
        if status == "missed":
            text, score = rule["text_missed"].format(**values), float(rule["weight"]) * (1 + gap_size / _threshold(mid))
        else:
            text, score = rule["text_met"].format(**values), float(rule["met_weight"])
        out.append(Highlight(rule["id"], mid, text + ".", (
            Citation(f"{m.label}, {ctx.period}", row["current"], _kpi_source(mid)),
            Citation(f"{m.label} target", row["target"], "KPI table: target column"),
        ), score))
    return out


def _at_risk_rule(rule: dict, at_risk: Mapping | None, ctx: Context) -> list[Highlight]:
    if not at_risk or int(at_risk.get("count") or 0) < int(rule["min_count"]):
        return []
    count, value = int(at_risk["count"]), float(at_risk.get("value") or 0.0)
    text = rule["text"].format(count=f"{count:,}", value=f"{compact(value)} {ctx.money_unit}")
    share = at_risk.get("share_of_value")
    score = float(rule["weight"]) * (1.0 + (float(share) * 10 if _known(share) else 0.0))
    return [Highlight(rule["id"], rule["metrics"][0], text + ".", (
        Citation("High-value customers at risk", count, "At-risk table"),
        Citation("Their value to date", value, "At-risk table: value to date"),
    ), score)]


def _level_rule(rule: dict, kpis: Mapping[str, Mapping], ctx: Context) -> list[Highlight]:
    out = []
    for mid in rule["metrics"]:
        row = kpis.get(mid)
        if row is None or not _known(row.get("current")) or row["current"] < float(rule["at_least"]):
            continue
        text = rule["text"].format(current=format_value(mid, row["current"], ctx.money_unit), period=ctx.period,
                                   label=catalog.metric(mid).label)
        out.append(Highlight(rule["id"], mid, text + ".", (
            Citation(f"{catalog.metric(mid).label}, {ctx.period}", row["current"], _kpi_source(mid)),
        ), float(rule["weight"]) * row["current"] / float(rule["at_least"])))
    return out


def _steady_rule(rule: dict, kpis: Mapping[str, Mapping], ctx: Context, taken: set[str]) -> list[Highlight]:
    out = []
    for mid in rule["metrics"]:
        row = kpis.get(mid)
        if mid in taken or row is None or not _known(row.get("current")):
            continue
        m = catalog.metric(mid)
        comparable = ctx.comparable and ctx.previous_period and _known(row.get("previous"))
        if comparable:
            text = rule["text"].format(label=m.label, current=format_value(mid, row["current"], ctx.money_unit),
                                       change=format_change(mid, row["current"], row["previous"], signed=True),
                                       previous_period=ctx.previous_period)
            cites = (Citation(f"{m.label}, {ctx.period}", row["current"], _kpi_source(mid)),
                     Citation(f"{m.label}, {ctx.previous_period}", row["previous"], _kpi_source(mid)))
        else:
            text = rule["text_no_previous"].format(label=m.label, period=ctx.period,
                                                   current=format_value(mid, row["current"], ctx.money_unit))
            cites = (Citation(f"{m.label}, {ctx.period}", row["current"], _kpi_source(mid)),)
        out.append(Highlight(rule["id"], mid, text + ".", cites, float(rule["weight"])))
    return out


def highlights(
    kpis: Iterable[Mapping] | pl.DataFrame,
    ctx: Context,
    *,
    movers: pl.DataFrame | None = None,
    at_risk: Mapping | None = None,
) -> list[Highlight]:
    """The review's highlights, most newsworthy first.

    Parameters
    ----------
    kpis
        Rows with ``metric_id``, ``current``, ``previous`` (None when not comparable) and ``target`` (None
        without one) — the review's KPI table.
    ctx
        Period names and money unit.
    movers
        :func:`crm_core.metrics.movers.movers` of the same periods (explains where a change happened).
    at_risk
        ``{"count", "value", "share_of_value"}`` of the high-value customers at risk.
    """
    rows = kpis.to_dicts() if isinstance(kpis, pl.DataFrame) else list(kpis)
    by_id = {r["metric_id"]: r for r in rows}
    spec = rules()
    fired: list[Highlight] = []
    for rule in spec["rules"]:
        kind = rule["kind"]
        if kind == "change":
            fired += _change_rule(rule, by_id, movers, ctx)
        elif kind == "target":
            fired += _target_rule(rule, by_id, ctx)
        elif kind == "at_risk":
            fired += _at_risk_rule(rule, at_risk, ctx)
        elif kind == "level":
            fired += _level_rule(rule, by_id, ctx)
    # one sentence per metric and rule kind: a KPI that changed and missed its target gets both only if room
    fired.sort(key=lambda h: (-h.score, h.rule, h.metric_id))
    chosen: list[Highlight] = []
    seen: set[tuple[str, str]] = set()
    for h in fired:
        if (h.rule, h.metric_id) in seen:
            continue
        seen.add((h.rule, h.metric_id))
        chosen.append(h)
    chosen = chosen[: int(spec["max_highlights"])]
    if len(chosen) < int(spec["min_highlights"]):
        steady = _rule("steady")
        taken = {h.metric_id for h in chosen}
        for h in _steady_rule(steady, by_id, ctx, taken) if steady else []:
            if len(chosen) >= int(spec["min_highlights"]):
                break
            chosen.append(h)
    return chosen


def highlights_frame(items: Iterable[Highlight]) -> pl.DataFrame:
    """Highlights as a table: one row per sentence with the metric and the figures it cites."""
    rows = [
        {
            "Highlight": h.text,
            "Metric": h.metric_id,
            "Rule": h.rule,
            "Figures cited": "; ".join(
                f"{c.what} = {c.value if not isinstance(c.value, float) else round(c.value, 6)} ({c.source})"
                for c in h.cites
            ),
        }
        for h in items
    ]
    return pl.DataFrame(rows, schema={"Highlight": pl.String, "Metric": pl.String, "Rule": pl.String,
                                      "Figures cited": pl.String}, orient="row")
