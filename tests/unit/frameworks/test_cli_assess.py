"""``python -m crm_core assess``: scores the answers file the pages export; a bad file exits 2 with one line on
stderr naming the file and the problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crm_core.frameworks import rubrics, scoring

ROOT = Path(__file__).resolve().parents[3]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crm_core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)


def test_assess_prints_area_and_overall_scores(tmp_path):
    answers = scoring.parse_answers(rubrics.rubric("qci"), {"answers": {
        "ap1": {"intention": 4, "reality": 2}, "ap2": {"intention": 3}, "ap3": {"reality": 1},
        "pr1": {"intention": 4, "reality": 4}}})
    f = tmp_path / "qci_answers.json"
    f.write_text(json.dumps(scoring.answers_document(answers, dataset="main")), encoding="utf-8")
    r = run("assess", "--framework", "qci", "--answers", str(f), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["framework"] == "qci" and len(out["areas"]) == 8
    areas = {a["section_id"]: a for a in out["areas"]}
    assert areas["analysis_planning"]["score"] == pytest.approx(0.375)  # (2 + 1) / (4 × 2)
    assert areas["analysis_planning"]["intention_pct"] == pytest.approx(0.875)  # (4 + 3) / (4 × 2)
    assert out["overall"]["score"] == pytest.approx(round(7 / 12, 4))
    text = run("assess", "--framework", "qci", "--answers", str(f))
    assert text.returncode == 0 and "Analysis & planning: 37.5% (intention 87.5%)" in text.stdout
    assert "Overall: 58.3%" in text.stdout


def test_assess_gartner(tmp_path):
    f = tmp_path / "g.json"
    f.write_text(json.dumps({"framework": "gartner", "answers": {"vision": {"current": 2, "target": 4},
                                                                  "strategy": {"current": 3}}}))
    out = json.loads(run("assess", "--framework", "gartner", "--answers", str(f), "--json").stdout)
    assert out["overall"]["current_mean"] == pytest.approx(2.5) and len(out["blocks"]) == 8


@pytest.mark.parametrize("content, needle", [
    ("{oops", "not valid JSON"),
    ('{"framework": "qci", "answers": {"ap1": {"reality": 9}}}', "from 0 to 4, not 9"),
    ('{"framework": "gartner", "answers": {}}', "'gartner' assessment, not 'qci'"),
    ('{"answers": {"nope": {"reality": 1}}}', "unknown practice 'nope'"),
])
def test_a_bad_answers_file_exits_2_with_one_line(tmp_path, content, needle):
    f = tmp_path / "bad.json"
    f.write_text(content, encoding="utf-8")
    r = run("assess", "--framework", "qci", "--answers", str(f), "--json")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {f}:") and needle in lines[0]
    assert r.stdout == "" and "Traceback" not in r.stderr


def test_a_missing_answers_file_exits_2(tmp_path):
    r = run("assess", "--framework", "qci", "--answers", str(tmp_path / "none.json"))
    assert r.returncode == 2 and "none.json: no such file" in r.stderr
