"""Scoring against hand-computed examples (scores = points ÷ (scale max × practices answered))."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from crm_core.frameworks import rubrics, scoring
from crm_core.frameworks.scoring import AnswersError

QCI = rubrics.rubric("qci")
GARTNER = rubrics.rubric("gartner")


def qci_example() -> scoring.Answers:
    # Analysis & planning: ap1 I4 R2, ap2 I3 (no R), ap3 R1 (no I); Proposition: pr1 I4 R4; the rest unanswered.
    return scoring.parse_answers(QCI, {"framework": "qci", "answers": {
        "ap1": {"intention": 4, "reality": 2}, "ap2": {"intention": 3, "reality": None}, "ap3": {"reality": 1},
        "pr1": {"intention": 4, "reality": 4},
    }, "notes": {"proposition": "  Written for SMB only.  "}, "taken_by": "Ann"})


def test_qci_area_and_overall_scores_by_hand():
    card = scoring.score(QCI, qci_example())
    rows = {r["section_id"]: r for r in card.sections.to_dicts()}
    ap = rows["analysis_planning"]
    # intention (4 + 3) / (4 × 2) = 0.875; reality (2 + 1) / (4 × 2) = 0.375; gap 0.5
    assert ap["intention_pct"] == pytest.approx(0.875) and ap["reality_pct"] == pytest.approx(0.375)
    assert ap["score"] == pytest.approx(0.375) and ap["gap"] == pytest.approx(0.5)
    assert (ap["intention_answered"], ap["reality_answered"], ap["items"]) == (2, 2, 6)
    assert ap["reality_mean"] == pytest.approx(1.5)
    assert rows["proposition"]["score"] == pytest.approx(1.0)
    assert rows["measurement"]["score"] is None and rows["measurement"]["reality_answered"] == 0
    # overall reality (2 + 1 + 4) / (4 × 3) = 7/12; intention (4 + 3 + 4) / (4 × 3) = 11/12
    assert card.score == pytest.approx(7 / 12)
    assert card.overall["intention_pct"] == pytest.approx(11 / 12)
    assert card.overall["gap"] == pytest.approx(4 / 12)
    assert card.overall["items"] == 52


def test_gartner_levels_by_hand():
    answers = scoring.parse_answers(GARTNER, {"answers": {
        "vision": {"current": 2, "target": 4}, "strategy": {"current": 3}, "metrics": {"target": 5},
    }})
    card = scoring.score(GARTNER, answers)
    rows = {r["section_id"]: r for r in card.sections.to_dicts()}
    assert rows["vision"]["current_mean"] == 2 and rows["vision"]["score"] == pytest.approx(0.4)  # 2 / 5
    assert rows["vision"]["gap"] == pytest.approx(0.4)  # (4 − 2) / 5
    assert rows["metrics"]["score"] is None and rows["metrics"]["target_pct"] == pytest.approx(1.0)
    # current: levels 2 and 3 -> mean 2.5, (2 + 3) / (5 × 2) = 0.5; target: 4 and 5 -> mean 4.5, 0.9
    assert card.overall["current_mean"] == pytest.approx(2.5) and card.score == pytest.approx(0.5)
    assert card.overall["target_mean"] == pytest.approx(4.5) and card.overall["target_pct"] == pytest.approx(0.9)
    assert card.overall["gap"] == pytest.approx(0.4)
    assert list(card.to_dict()) == ["framework", "overall", "blocks"]


def test_empty_answers_score_nothing():
    card = scoring.score(QCI, scoring.empty_answers(QCI))
    assert card.score is None and card.overall["gap"] is None
    assert card.sections["score"].null_count() == 8


def test_notes_and_assessor_are_kept_trimmed():
    a = qci_example()
    assert a.notes == {"proposition": "Written for SMB only."} and a.taken_by == "Ann"


@pytest.mark.parametrize("document, message", [
    ([1, 2], "JSON object"),
    ({"framework": "gartner", "answers": {}}, "'gartner' assessment, not 'qci'"),
    ({"answers": {"zz9": {"reality": 1}}}, "unknown practice 'zz9'"),
    ({"answers": {"ap1": {"effect": 1}}}, "unknown dimension 'effect'"),
    ({"answers": {"ap1": {"reality": 5}}}, "from 0 to 4, not 5"),
    ({"answers": {"ap1": {"reality": 2.5}}}, "whole number"),
    ({"answers": {"ap1": {"reality": True}}}, "whole number"),
    ({"answers": {"ap1": {"reality": "two"}}}, "whole number"),
    ({"answers": {"ap1": 3}}, "expected"),
    ({"answers": []}, "'answers' must be an object"),
    ({"answers": {}, "notes": {"nowhere": "x"}}, "unknown area 'nowhere'"),
    ({"answers": {}, "taken_at": "yesterday"}, "ISO date-time"),
])
def test_bad_answers_are_refused_with_the_entry_named(document, message):
    with pytest.raises(AnswersError, match=message):
        scoring.parse_answers(QCI, document)


def test_numbers_as_text_and_bare_mappings_are_accepted():
    a = scoring.parse_answers(QCI, {"ap1": {"reality": "3", "intention": 4.0}})
    assert a.value("ap1", "reality") == 3 and a.value("ap1", "intention") == 4


def test_the_exported_document_reads_back_the_same():
    a = qci_example()
    a = scoring.Answers(a.framework, a.values, a.notes, a.taken_by, datetime(2025, 3, 1, 9, 30))
    doc = json.loads(json.dumps(scoring.answers_document(a, dataset="main")))
    assert doc["format"] == "crm-lens-assessment" and doc["framework"] == "qci" and doc["dataset"] == "main"
    back = scoring.parse_answers(QCI, doc)
    assert back == a


def test_compare_says_which_areas_moved_and_by_how_much():
    before = scoring.score(QCI, qci_example())
    now_answers = qci_example()
    values = {k: dict(v) for k, v in now_answers.values.items()}
    values["ap1"]["reality"] = 4  # analysis & planning reality (4 + 1) / 8 = 0.625: +0.25
    values["me1"]["reality"] = 2  # measurement newly scored: 0.5
    now = scoring.score(QCI, scoring.Answers("qci", values, {}))
    cmp = {r["section_id"]: r for r in scoring.compare(now, before).to_dicts()}
    assert cmp["analysis_planning"]["change"] == pytest.approx(0.25) and cmp["analysis_planning"]["direction"] == "up"
    assert cmp["proposition"]["direction"] == "same" and cmp["proposition"]["change"] == pytest.approx(0.0)
    assert cmp["measurement"]["direction"] == "new" and cmp["measurement"]["change"] is None
    assert cmp["people_organisation"]["direction"] == "not scored"
    # overall reality before 7/12, now (4 + 1 + 4 + 2) / 16 = 11/16
    assert cmp["overall"]["change"] == pytest.approx(11 / 16 - 7 / 12)
    down = {r["section_id"]: r for r in scoring.compare(before, now).to_dicts()}
    assert down["analysis_planning"]["direction"] == "down" and down["measurement"]["direction"] == "dropped"


def test_compare_refuses_two_frameworks():
    with pytest.raises(AnswersError, match="cannot compare"):
        scoring.compare(scoring.score(QCI, qci_example()), scoring.score(GARTNER, scoring.empty_answers(GARTNER)))


def test_answers_frame_has_one_row_per_practice():
    frame = scoring.answers_frame(QCI, qci_example())
    assert frame.height == 52 and frame.columns == ["area", "id", "statement", "intention", "reality", "note"]
    row = frame.filter(frame["id"] == "pr1").to_dicts()[0]
    assert (row["intention"], row["reality"], row["note"]) == (4, 4, "Written for SMB only.")
    assert scoring.answers_frame(GARTNER, scoring.empty_answers(GARTNER)).columns == [
        "block", "id", "statement", "current", "target", "note"]
