"""Scoring of QCI and Gartner assessments: pure functions, no store, no Streamlit.

Answers
    ``{item id: {dimension: value or None}}`` with the rubric's dimensions (QCI: intention, reality on 0–4;
    Gartner: current, target on 1–5) and ``notes`` per section. None (or a missing entry) is "not answered".
    The answers file the pages export and the CLI reads (:func:`answers_document` / :func:`parse_answers`)::

        {"format": "crm-lens-assessment", "version": 1, "framework": "qci", "taken_at": "...",
         "taken_by": "...", "answers": {"ap1": {"intention": 3, "reality": 2}, ...},
         "notes": {"analysis_planning": "..."}}

Scores (QCI: "percentage of best practice")
    For a section and a dimension: points ÷ (scale max × items answered), in 0 … 1, over the answered items
    only, so an unanswered practice neither helps nor hurts; None when nothing is answered. The overall score
    pools every answered item of every section the same way (each practice weighs the same, so an area with ten
    practices weighs more than one with five — as a total of points over a maximum does). ``mean`` is the mean
    scale point (Gartner: the mean maturity level). ``gap`` = the other dimension − the headline one (QCI:
    intention − reality, what is meant but not done; Gartner: target − current). Gartner's "% of best practice"
    is level ÷ 5.

Comparison
    :func:`compare` lines two scorecards up by section: before, now and change of the headline score, in shares
    (0.05 = 5 percentage points), and the direction (up / down / same; new or dropped when one side has no score).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from crm_core.frameworks.rubrics import Rubric

FORMAT = "crm-lens-assessment"
VERSION = 1


class AnswersError(ValueError):
    """An answers document does not fit its rubric; the message names the entry and the problem."""


@dataclass(frozen=True)
class Answers:
    """An assessment's answers and notes, checked against its rubric (:func:`parse_answers`)."""

    framework: str
    values: dict[str, dict[str, int | None]]
    notes: dict[str, str] = field(default_factory=dict)
    taken_by: str | None = None
    taken_at: datetime | None = None

    def value(self, item_id: str, dimension: str) -> int | None:
        return self.values.get(item_id, {}).get(dimension)


def empty_answers(rubric: Rubric) -> Answers:
    return Answers(rubric.framework, {i.id: {d: None for d in rubric.dimension_ids} for i in rubric.items}, {})


def _value(rubric: Rubric, item: str, dim: str, raw) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise AnswersError(f"{rubric.item_word} {item}: {dim} must be a whole number, not {raw!r}")
    try:
        number = float(raw)
    except ValueError:
        raise AnswersError(f"{rubric.item_word} {item}: {dim} must be a whole number, not {raw!r}") from None
    if not number.is_integer() or not rubric.scale_min <= number <= rubric.scale_max:
        raise AnswersError(
            f"{rubric.item_word} {item}: {dim} must be a whole number from {rubric.scale_min} to "
            f"{rubric.scale_max}, not {raw!r}"
        )
    return int(number)


def parse_answers(rubric: Rubric, document) -> Answers:
    """Check an answers document (the parsed JSON) against ``rubric`` and return its :class:`Answers`.

    Accepts the full document (with ``answers``) or a bare ``{item id: {dimension: value}}`` mapping. Raises
    :class:`AnswersError` for anything else: another framework, an unknown practice / block / dimension or
    section in the notes, a value that is not a whole number on the scale."""
    if not isinstance(document, dict):
        raise AnswersError(f"the answers must be a JSON object, not {type(document).__name__}")
    framework = document.get("framework")
    if framework is not None and framework != rubric.framework:
        raise AnswersError(f"the file holds a {framework!r} assessment, not {rubric.framework!r}")
    raw = document["answers"] if "answers" in document else {
        k: v for k, v in document.items() if k not in ("framework", "notes", "taken_by", "taken_at", "format",
                                                       "version", "dataset")
    }
    if not isinstance(raw, dict):
        raise AnswersError("'answers' must be an object of practice id -> {dimension: score}")
    known = {i.id for i in rubric.items}
    dims = rubric.dimension_ids
    values = empty_answers(rubric).values
    for item, entry in raw.items():
        if item not in known:
            raise AnswersError(f"unknown {rubric.item_word} {item!r} (known: {', '.join(sorted(known))})")
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise AnswersError(f"{rubric.item_word} {item}: expected {{{', '.join(dims)}}}, not {entry!r}")
        for dim, v in entry.items():
            if dim not in dims:
                raise AnswersError(f"{rubric.item_word} {item}: unknown dimension {dim!r} (use {', '.join(dims)})")
            values[item][dim] = _value(rubric, item, dim, v)
    notes_raw = document.get("notes") or {}
    if not isinstance(notes_raw, dict):
        raise AnswersError("'notes' must be an object of section id -> text")
    sections = {s.id for s in rubric.sections}
    notes = {}
    for sid, text in notes_raw.items():
        if sid not in sections:
            raise AnswersError(f"notes: unknown {rubric.section_word} {sid!r}")
        if text is not None and not isinstance(text, str):
            raise AnswersError(f"notes: the note of {sid} must be text")
        if text and text.strip():
            notes[sid] = text.strip()
    taken_at = document.get("taken_at")
    if isinstance(taken_at, str):
        try:
            taken_at = datetime.fromisoformat(taken_at)
        except ValueError:
            raise AnswersError(f"taken_at must be an ISO date-time, not {taken_at!r}") from None
    elif taken_at is not None and not isinstance(taken_at, datetime):
        raise AnswersError(f"taken_at must be an ISO date-time, not {taken_at!r}")
    taken_by = document.get("taken_by")
    return Answers(rubric.framework, values, notes, str(taken_by).strip() or None if taken_by else None, taken_at)


def answers_document(answers: Answers, *, dataset: str | None = None) -> dict:
    """The JSON-ready document of ``answers`` (the format :func:`parse_answers` and the CLI read)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "framework": answers.framework,
        "dataset": dataset,
        "taken_at": answers.taken_at.isoformat(timespec="seconds") if answers.taken_at else None,
        "taken_by": answers.taken_by,
        "answers": answers.values,
        "notes": answers.notes,
    }


# ---------------------------------------------------------------------------- scores
@dataclass(frozen=True)
class Scorecard:
    """Scores of one set of answers.

    ``sections``: one row per section in rubric order — section_id, section, items, then per dimension
    ``<dim>_answered``, ``<dim>_mean`` and ``<dim>_pct`` (share of best practice), ``score`` (= the headline
    dimension's pct) and ``gap`` (other − headline pct). ``overall``: the same figures over every item."""

    framework: str
    headline: str
    other: str
    sections: pl.DataFrame
    overall: dict

    @property
    def score(self) -> float | None:
        return self.overall["score"]

    def to_dict(self) -> dict:
        """JSON-ready: framework, overall and one entry per section (the CLI's output)."""
        key = "areas" if self.framework == "qci" else "blocks"
        return {
            "framework": self.framework,
            "overall": _round(self.overall),
            key: [_round(r) for r in self.sections.to_dicts()],
        }


def _round(row: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}


def _figures(values: list[int], scale_max: int) -> tuple[int, float | None, float | None]:
    n = len(values)
    if not n:
        return 0, None, None
    total = sum(values)
    return n, total / n, total / (scale_max * n)


def score(rubric: Rubric, answers: Answers) -> Scorecard:
    """Area (block) scores and the overall score of ``answers`` (see the module docstring for the formulas)."""
    if answers.framework != rubric.framework:
        raise AnswersError(f"answers of {answers.framework!r} cannot be scored with the {rubric.framework!r} rubric")
    dims = rubric.dimension_ids
    rows, pooled = [], {d: [] for d in dims}
    for s in rubric.sections:
        row: dict = {"section_id": s.id, "section": s.name, "items": len(s.items)}
        for d in dims:
            vals = [v for i in s.items if (v := answers.value(i.id, d)) is not None]
            pooled[d] += vals
            row[f"{d}_answered"], row[f"{d}_mean"], row[f"{d}_pct"] = _figures(vals, rubric.scale_max)
        rows.append(row)
    schema = {"section_id": pl.String, "section": pl.String, "items": pl.Int64}
    for d in dims:
        schema |= {f"{d}_answered": pl.Int64, f"{d}_mean": pl.Float64, f"{d}_pct": pl.Float64}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    head, other = rubric.headline, rubric.other
    frame = frame.with_columns(
        pl.col(f"{head}_pct").alias("score"),
        (pl.col(f"{other}_pct") - pl.col(f"{head}_pct")).alias("gap"),
    )
    overall: dict = {"items": len(rubric.items)}
    for d in dims:
        overall[f"{d}_answered"], overall[f"{d}_mean"], overall[f"{d}_pct"] = _figures(pooled[d], rubric.scale_max)
    overall["score"] = overall[f"{head}_pct"]
    a, b = overall[f"{other}_pct"], overall[f"{head}_pct"]
    overall["gap"] = None if a is None or b is None else a - b
    return Scorecard(rubric.framework, head, other, frame, overall)


def compare(now: Scorecard, before: Scorecard, *, tolerance: float = 1e-9) -> pl.DataFrame:
    """Headline score per section (and overall, last) of two scorecards of one framework: section_id, section,
    before, now, change (now − before, a share: 0.05 = 5 pp) and direction (up / down / same / new / dropped)."""
    if now.framework != before.framework:
        raise AnswersError(f"cannot compare a {now.framework} assessment with a {before.framework} one")
    prev = dict(zip(before.sections["section_id"], before.sections["score"]))
    rows = [(r["section_id"], r["section"], prev.get(r["section_id"]), r["score"]) for r in now.sections.to_dicts()]
    rows.append(("overall", "Overall", before.score, now.score))

    def direction(b, n) -> str:
        if b is None and n is None:
            return "not scored"
        if b is None:
            return "new"
        if n is None:
            return "dropped"
        d = n - b
        return "same" if math.isclose(d, 0.0, abs_tol=tolerance) else ("up" if d > 0 else "down")

    return pl.DataFrame(
        [
            {"section_id": sid, "section": name, "before": b, "now": n,
             "change": None if b is None or n is None else n - b, "direction": direction(b, n)}
            for sid, name, b, n in rows
        ],
        schema={"section_id": pl.String, "section": pl.String, "before": pl.Float64, "now": pl.Float64,
                "change": pl.Float64, "direction": pl.String},
    )


def answers_frame(rubric: Rubric, answers: Answers) -> pl.DataFrame:
    """One row per practice (block): section, item id, statement, the value of each dimension and the section's
    note — the CSV export of an assessment."""
    rows = []
    for s in rubric.sections:
        for i in s.items:
            row = {rubric.section_word: s.name, "id": i.id, "statement": i.statement}
            for d in rubric.dimension_ids:
                row[d] = answers.value(i.id, d)
            row["note"] = answers.notes.get(s.id, "")
            rows.append(row)
    schema = {rubric.section_word: pl.String, "id": pl.String, "statement": pl.String}
    schema |= {d: pl.Int64 for d in rubric.dimension_ids} | {"note": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")
