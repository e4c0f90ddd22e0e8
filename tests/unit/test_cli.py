"""``python -m crm_core`` as a user runs it: real subprocesses, exit codes, stdout JSON, stderr lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crm_core.store import Store

ROOT = Path(__file__).resolve().parents[2]
VENDORS = ROOT / "tests" / "fixtures" / "vendors"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crm_core", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_import_vendor_files_and_list_datasets(tmp_path):
    db = str(tmp_path / "crm.duckdb")
    r = run("import", str(VENDORS / "shopify_orders.csv"), str(VENDORS / "hubspot_contacts.csv"),
            "--db", db, "--dataset", "Shop", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out == {
        "dataset": "Shop",
        "tables": {"transactions": {"loaded": 12, "rejected": 0}, "customers": {"loaded": 10, "rejected": 0}},
    }
    r = run("datasets", "--db", db, "--json")
    assert r.returncode == 0
    [ds] = json.loads(r.stdout)
    assert ds["dataset"] == "Shop" and ds["tables"]["transactions"] == 12 and ds["currency"] == "USD"


def test_partial_file_loads_good_rows_and_reports_the_rest(tmp_path):
    db = str(tmp_path / "crm.duckdb")
    f = tmp_path / "sales.csv"
    f.write_text("customer_id,occurred_at,amount\nC1,2024-01-01,5\nC2,someday,6\n")
    r = run("import", str(f), "--db", db, "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["tables"] == {"transactions": {"loaded": 1, "rejected": 1}}
    assert "sales.csv, column 'occurred_at', row 3, value 'someday'" in r.stderr


@pytest.mark.parametrize(
    ("name", "content", "extra", "needle"),
    [
        ("empty.csv", "", [], "empty"),
        ("headers.csv", "customer_id,occurred_at,amount\n", [], "no data rows"),
        ("strict.csv", "customer_id,occurred_at,amount\nC1,2024-01-01,5\nC2,someday,6\n", ["--strict"], "row 3"),
        ("notes.csv", "memo,remark\nhello,world\n", ["--table", "transactions"], "notes.csv"),
    ],
)
def test_nothing_importable_exits_2_with_one_line_and_store_unchanged(tmp_path, name, content, extra, needle):
    db = tmp_path / "crm.duckdb"
    seed = tmp_path / "seed.csv"
    seed.write_text("customer_id,occurred_at,amount\nC0,2024-01-01,1\n")
    assert run("import", str(seed), "--db", str(db)).returncode == 0
    with Store(db) as s:
        before = s.snapshot()
    f = tmp_path / name
    f.write_text(content)
    r = run("import", str(f), "--db", str(db), *extra)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    with Store(db) as s:
        assert s.snapshot() == before


def test_missing_file_and_bad_table_kind_exit_2(tmp_path):
    r = run("import", str(tmp_path / "nope.csv"), "--db", str(tmp_path / "x.duckdb"))
    assert r.returncode == 2 and "nope.csv" in r.stderr and "Traceback" not in r.stderr
    f = tmp_path / "a.csv"
    f.write_text("a\n1\n")
    r = run("import", str(f), "--db", str(tmp_path / "x.duckdb"), "--table", "orders")
    assert r.returncode == 2 and "--table" in r.stderr


def test_replace(tmp_path):
    db = str(tmp_path / "crm.duckdb")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("customer_id,occurred_at,amount\nC1,2024-01-01,5\nC2,2024-01-02,6\n")
    b.write_text("customer_id,occurred_at,amount\nC3,2024-02-01,7\n")
    assert run("import", str(a), "--db", db).returncode == 0
    assert run("import", str(b), "--db", db, "--replace").returncode == 0
    r = run("datasets", "--db", db, "--json")
    assert json.loads(r.stdout)[0]["tables"]["transactions"] == 1


def test_sample_writes_exports_that_import_back(tmp_path):
    out = tmp_path / "sample"
    r = run("sample", "--out", str(out), "--customers", "300", "--seed", "3")
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == ["customers.csv", "deals.csv", "feedback.csv", "interactions.csv", "transactions.csv"]
    db = str(tmp_path / "crm.duckdb")
    r = run("import", *[str(out / f) for f in files], "--db", db, "--dataset", "S", "--json")
    assert r.returncode == 0, r.stderr
    tables = json.loads(r.stdout)["tables"]
    assert set(tables) == {"customers", "deals", "feedback", "interactions", "transactions"}
    assert all(t["rejected"] == 0 for t in tables.values())
    assert tables["customers"]["loaded"] == 300
