"""The bad-input corpus (tests/fixtures/bad, issue #8): every malformed file is refused with a message that
names the problem, the store is left as it was, and the CLI exits 2 with one line on stderr, no traceback.
(The Data page half is tests/app/test_bad_uploads.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from crm_core import cli
from crm_core.ingest import pipeline
from crm_core.ingest.model import IngestError
from crm_core.store import Store, TableLoad

ROOT = Path(__file__).resolve().parents[3]
BAD = ROOT / "tests" / "fixtures" / "bad"
EXPECTED: dict[str, str] = json.loads((BAD / "expected.json").read_text())


def test_the_corpus_has_at_least_30_files_and_the_script_makes_the_same_set():
    sys.path.insert(0, str(BAD))
    try:
        import make_bad
    finally:
        sys.path.remove(str(BAD))
    assert len(EXPECTED) >= 30
    assert set(make_bad.corpus()) == set(EXPECTED)
    on_disk = {p.name for p in BAD.iterdir() if p.name not in ("make_bad.py", "expected.json", "__pycache__")}
    assert on_disk == set(EXPECTED)


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """A store with an earlier dataset (customers and transactions) that must survive every refusal."""
    path = tmp_path_factory.mktemp("bad") / "crm.duckdb"
    with Store(path) as store:
        store.load("earlier", [
            TableLoad("customers", pl.DataFrame({"customer_id": ["A1", "A2"], "name": ["Ann", "Al"]}), "c.csv"),
            TableLoad("transactions", pl.DataFrame({
                "customer_id": ["A1", "A2"], "occurred_at": [datetime(2024, 1, 1), datetime(2024, 2, 1)],
                "amount": [10.0, 20.0]}), "t.csv"),
        ])
    return path


@pytest.fixture
def db(template_db, tmp_path) -> Path:
    path = tmp_path / "crm.duckdb"
    path.write_bytes(template_db.read_bytes())
    return path


def snapshot(path: Path) -> dict:
    with Store(path) as store:
        return store.snapshot()


def refusal(name: str, store: Store) -> str:
    """The message the pipeline gives for a corpus file; fails if the file could be imported as it is."""
    try:
        prepared = pipeline.prepare_path(BAD / name, store=store, dataset="earlier")
    except IngestError as exc:
        return str(exc)
    problems = [str(p) for prep in prepared for p in prep.fatal + prep.errors]
    assert problems, f"{name} was prepared without a problem"
    with pytest.raises(pipeline.ImportRefused):
        pipeline.import_prepared(store, "earlier", prepared, accept_partial=False)
    return " | ".join(problems)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_pipeline_refuses_with_a_message_naming_the_problem(name, db):
    before = snapshot(db)
    with Store(db) as store:
        message = refusal(name, store)
    assert EXPECTED[name].casefold() in message.casefold(), message
    assert name in message  # the message names the file
    assert snapshot(db) == before


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_cli_exits_2_with_one_line_and_leaves_the_store_unchanged(name, db, capsys):
    before = snapshot(db)
    code = cli.main(["import", str(BAD / name), "--db", str(db), "--dataset", "earlier", "--strict", "--no-prepare"])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in captured.err and captured.out == ""
    assert snapshot(db) == before


@pytest.mark.parametrize("name", ["nul_bytes.csv", "zip_bomb.xlsx", "password_protected.xlsx", "mixed_types.csv"])
def test_cli_in_a_real_process_prints_one_line_and_no_traceback(name, db):
    before = snapshot(db)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "crm_core", "import", str(BAD / name), "--db", str(db), "--strict", "--no-prepare"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    assert EXPECTED[name].casefold() in lines[0].casefold()
    assert snapshot(db) == before


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path):
    from crm_core.ingest import readers

    path = tmp_path / "big.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 2048)
    with pytest.raises(IngestError, match=r"big.xlsx is 2 KB; the limit is 1 KB"):
        readers.read_path(path, max_bytes=1024)
