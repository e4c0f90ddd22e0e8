"""``python -m crm_core quality --json``: score, components, counts per problem, clusters as lists of ids."""

from __future__ import annotations

import json

from crm_core.cli import main
from crm_core.store import Store

from .conftest import known, load


def test_quality_json(tmp_path, capsys):
    db = tmp_path / "cli.duckdb"
    with Store(db) as store:
        load(store, known(), name="known")
    assert main(["quality", "--db", str(db), "--dataset", "known", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 0 <= out["score"] <= 100
    assert {"completeness", "uniqueness", "email_validity", "phone_validity"} <= set(out["components"])
    assert out["counts"]["duplicate_exact"] >= 2 and out["counts"]["country_variant"] >= 1
    assert ["K001", "K002"] in out["clusters"] and all(isinstance(c, list) for c in out["clusters"])


def test_quality_text_and_unknown_dataset(tmp_path, capsys):
    db = tmp_path / "cli.duckdb"
    with Store(db) as store:
        load(store, known(), name="known")
    assert main(["quality", "--db", str(db)]) == 0
    assert "Quality score:" in capsys.readouterr().out
    assert main(["quality", "--db", str(db), "--dataset", "nope", "--json"]) == 2
    assert "no dataset named 'nope'" in capsys.readouterr().err
