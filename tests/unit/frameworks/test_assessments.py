"""Assessments in the store: saved (who, when, answers, notes), listed newest first, reopened, compared with the
previous one, and deleted with their dataset."""

from __future__ import annotations

from datetime import datetime

import pytest

from crm_core.frameworks import assessments, rubrics, scoring
from crm_core.store import StoreError

from .conftest import tiny

QCI = rubrics.rubric("qci")


def answers(reality: int, **extra) -> scoring.Answers:
    doc = {"answers": {"ap1": {"intention": 4, "reality": reality}, "pr1": {"reality": 2}, **extra},
           "notes": {"analysis_planning": "segments agreed"}}
    return scoring.parse_answers(QCI, doc)


def test_save_list_reopen_and_compare(store):
    ds = tiny(store)
    first = assessments.save_assessment(store, ds, answers(1), taken_by="Ann", taken_at=datetime(2025, 1, 10, 9))
    second = assessments.save_assessment(store, ds, answers(3), taken_by=" Bo ", taken_at=datetime(2025, 4, 10, 9))
    gartner = assessments.save_assessment(
        store, ds, scoring.parse_answers(rubrics.rubric("gartner"), {"vision": {"current": 2}}))
    listed = assessments.assessments(store, ds, "qci")
    assert [a.assessment_id for a in listed] == [second, first]
    assert [a.assessment_id for a in assessments.assessments(store, ds, "gartner")] == [gartner]
    reopened = assessments.load_assessment(store, first)
    assert reopened.taken_by == "Ann" and reopened.taken_at == datetime(2025, 1, 10, 9)
    assert reopened.answers.value("ap1", "reality") == 1 and reopened.answers.value("ap2", "reality") is None
    assert reopened.answers.notes == {"analysis_planning": "segments agreed"}
    assert listed[0].taken_by == "Bo" and listed[0].label == f"#{second} — 2025-04-10 09:00 by Bo"
    later = assessments.load_assessment(store, second)
    assert assessments.previous_assessment(store, later).assessment_id == first
    assert assessments.previous_assessment(store, reopened) is None
    cmp = {r["section_id"]: r for r in assessments.compare_assessments(later, reopened).to_dicts()}
    # analysis & planning reality 1/4 -> 3/4: +50 pp; proposition unchanged
    assert cmp["analysis_planning"]["change"] == pytest.approx(0.5)
    assert cmp["proposition"]["direction"] == "same"
    hist = assessments.history_frame(listed)
    assert hist["score"].to_list() == pytest.approx([5 / 8, 3 / 8]) and hist["answered"].to_list() == [2, 2]


def test_same_instant_orders_by_id(store):
    ds = tiny(store)
    when = datetime(2025, 1, 1)
    a = assessments.save_assessment(store, ds, answers(1), taken_at=when)
    b = assessments.save_assessment(store, ds, answers(2), taken_at=when)
    assert assessments.previous_assessment(store, assessments.load_assessment(store, b)).assessment_id == a


def test_refusals(store):
    ds = tiny(store)
    with pytest.raises(StoreError, match="Nothing is scored"):
        assessments.save_assessment(store, ds, scoring.empty_answers(QCI))
    with pytest.raises(StoreError, match="no dataset"):
        assessments.save_assessment(store, 999, answers(1))
    with pytest.raises(StoreError, match="no assessment 42"):
        assessments.load_assessment(store, 42)


def test_deleting_the_dataset_deletes_its_assessments(store):
    ds = tiny(store)
    other = tiny(store, "other")
    assessments.save_assessment(store, ds, answers(1))
    kept = assessments.save_assessment(store, other, answers(2))
    store.delete_dataset(ds)
    assert store.scalar("SELECT COUNT(*) FROM assessments") == 1
    assert assessments.load_assessment(store, kept).dataset_id == other


def test_read_answers_file_names_the_problem(tmp_path):
    good = tmp_path / "a.json"
    good.write_text('{"framework": "qci", "answers": {"ap1": {"reality": 2}}}', encoding="utf-8")
    assert assessments.read_answers_file(good, "qci").value("ap1", "reality") == 2
    bad = tmp_path / "b.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(scoring.AnswersError, match="not valid JSON"):
        assessments.read_answers_file(bad, "qci")
    with pytest.raises(scoring.AnswersError, match="no such file"):
        assessments.read_answers_file(tmp_path / "missing.json", "qci")
