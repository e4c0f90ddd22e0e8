"""Assessments kept in the store (the ``assessments`` table of ``crm_core.store``): save, list, reopen and compare
QCI and Gartner assessments of a dataset (who, when, answers, notes).

An assessment is never changed once saved: reopening one and saving again makes a new assessment, so the history
shows how the scores moved. "Previous" means the assessment of the same dataset and framework taken just before
(by ``taken_at``, then by id). Values are bound, never formatted into SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from crm_core.frameworks import rubrics, scoring
from crm_core.frameworks.scoring import Answers
from crm_core.store import StoreError


@dataclass(frozen=True)
class Assessment:
    assessment_id: int
    dataset_id: int
    framework: str
    taken_at: datetime
    taken_by: str | None
    answers: Answers

    @property
    def label(self) -> str:
        """One line naming the assessment: number, date and assessor."""
        who = f" by {self.taken_by}" if self.taken_by else ""
        return f"#{self.assessment_id} — {self.taken_at:%Y-%m-%d %H:%M}{who}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def save_assessment(store, dataset_id: int, answers: Answers, *, taken_by: str | None = None,
                    taken_at: datetime | None = None) -> int:
    """Store ``answers`` as a new assessment of the dataset and return its id. ``taken_by`` / ``taken_at`` default
    to the answers' own, then to nobody / now (UTC). Raises StoreError when the dataset does not exist or
    nothing is answered."""
    rubric = rubrics.rubric(answers.framework)
    if not any(v is not None for item in answers.values.values() for v in item.values()):
        raise StoreError(f"Nothing is scored yet: score at least one {rubric.item_word} before saving.")
    who = (taken_by if taken_by is not None else answers.taken_by) or None
    who = who.strip() or None if who else None
    when = taken_at or answers.taken_at or _now()
    with store.transaction() as cur:
        exists = cur.execute("SELECT 1 FROM datasets WHERE dataset_id = ?", [dataset_id]).fetchall()
        if not exists:
            raise StoreError(f"There is no dataset {dataset_id}.")
        (next_id,) = cur.execute("SELECT COALESCE(MAX(assessment_id), 0) + 1 FROM assessments").fetchall()[0]
        cur.execute(
            "INSERT INTO assessments (assessment_id, dataset_id, framework, taken_at, taken_by, answers, notes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [int(next_id), dataset_id, answers.framework, when, who, json.dumps(answers.values),
             json.dumps(answers.notes)],
        )
    return int(next_id)


def _assessment(row: dict) -> Assessment:
    rubric = rubrics.rubric(row["framework"])
    document = {"answers": json.loads(row["answers"]), "notes": json.loads(row["notes"] or "{}")}
    answers = scoring.parse_answers(rubric, document)
    answers = Answers(answers.framework, answers.values, answers.notes, row["taken_by"], row["taken_at"])
    return Assessment(int(row["assessment_id"]), int(row["dataset_id"]), row["framework"], row["taken_at"],
                      row["taken_by"], answers)


_COLUMNS = "assessment_id, dataset_id, framework, taken_at, taken_by, CAST(answers AS VARCHAR) AS answers, " \
           "CAST(notes AS VARCHAR) AS notes"


def load_assessment(store, assessment_id: int) -> Assessment:
    """A stored assessment; StoreError when there is none with that id."""
    rows = store.query(f"SELECT {_COLUMNS} FROM assessments WHERE assessment_id = ?", [assessment_id]).to_dicts()
    if not rows:
        raise StoreError(f"There is no assessment {assessment_id}.")
    return _assessment(rows[0])


def assessments(store, dataset_id: int, framework: str) -> list[Assessment]:
    """The dataset's assessments of ``framework``, newest first."""
    rows = store.query(
        f"SELECT {_COLUMNS} FROM assessments WHERE dataset_id = ? AND framework = ? "
        "ORDER BY taken_at DESC, assessment_id DESC",
        [dataset_id, framework],
    ).to_dicts()
    return [_assessment(r) for r in rows]


def previous_assessment(store, assessment: Assessment) -> Assessment | None:
    """The assessment of the same dataset and framework taken just before ``assessment`` (None for the first)."""
    rows = store.query(
        f"SELECT {_COLUMNS} FROM assessments WHERE dataset_id = ? AND framework = ? "
        "AND (taken_at < ? OR (taken_at = ? AND assessment_id < ?)) "
        "ORDER BY taken_at DESC, assessment_id DESC LIMIT 1",
        [assessment.dataset_id, assessment.framework, assessment.taken_at, assessment.taken_at,
         assessment.assessment_id],
    ).to_dicts()
    return _assessment(rows[0]) if rows else None


def history_frame(items: list[Assessment]) -> pl.DataFrame:
    """One row per assessment (as given): id, taken_at, taken_by, the headline and other score (shares), the
    answered and total items."""
    if not items:
        return pl.DataFrame(schema={"assessment_id": pl.Int64, "taken_at": pl.Datetime, "taken_by": pl.String,
                                    "score": pl.Float64, "other": pl.Float64, "answered": pl.Int64,
                                    "items": pl.Int64})
    rubric = rubrics.rubric(items[0].framework)
    rows = []
    for a in items:
        card = scoring.score(rubric, a.answers)
        rows.append({
            "assessment_id": a.assessment_id, "taken_at": a.taken_at, "taken_by": a.taken_by,
            "score": card.score, "other": card.overall[f"{rubric.other}_pct"],
            "answered": card.overall[f"{rubric.headline}_answered"], "items": card.overall["items"],
        })
    return pl.DataFrame(rows, schema={"assessment_id": pl.Int64, "taken_at": pl.Datetime, "taken_by": pl.String,
                                      "score": pl.Float64, "other": pl.Float64, "answered": pl.Int64,
                                      "items": pl.Int64}, orient="row")


def compare_assessments(now: Assessment, before: Assessment) -> pl.DataFrame:
    """``scoring.compare`` of two stored assessments of one framework."""
    rubric = rubrics.rubric(now.framework)
    return scoring.compare(scoring.score(rubric, now.answers), scoring.score(rubric, before.answers))


def read_answers_file(path, framework: str) -> Answers:
    """The answers of an answers file (the JSON the QCI and Gartner pages export) for ``framework``.

    Raises ``scoring.AnswersError`` with the problem (the caller names the file): missing or unreadable file,
    not JSON, or answers that do not fit the rubric."""
    from pathlib import Path

    rubric = rubrics.rubric(framework)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise scoring.AnswersError("no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise scoring.AnswersError(f"cannot be read ({exc.__class__.__name__}: {exc})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise scoring.AnswersError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return scoring.parse_answers(rubric, document)
