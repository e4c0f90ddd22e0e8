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


CDNOW = ROOT / "tests" / "fixtures" / "cdnow" / "cdnow_transactions.csv"


def test_clv_on_cdnow_prints_the_published_fit(tmp_path):
    db = str(tmp_path / "crm.duckdb")
    assert run("import", str(CDNOW), "--db", db, "--dataset", "cdnow").returncode == 0
    r = run("clv", "--db", db, "--calibration-end", "1997-09-30", "--time-unit", "week", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    # Fader, Hardie & Lee (2005); Hardie's Gamma-Gamma note: within 0.5%
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4}
    for key, value in published.items():
        assert out["bgnbd"][key] == pytest.approx(value, rel=0.005), key
    for key, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert out["gamma_gamma"][key] == pytest.approx(value, rel=0.005), key
    assert out["customers"] == 2357
    assert out["holdout"]["actual_purchases"] == 1882  # distinct customer-days 1997-10-01..1998-06-30


def test_metrics_prints_the_headline_kpis_by_catalog_id(tmp_path):
    from crm_core.metrics.catalog import catalog
    from crm_core.metrics.headline import HEADLINE_IDS

    db = str(tmp_path / "crm.duckdb")
    f = tmp_path / "sales.csv"
    # Hand example: 3 customers in 2024; a buys twice, b once, c once (refunded: no revenue, not a buyer).
    f.write_text(
        "customer_id,occurred_at,amount,status\n"
        "a,2024-01-10,100,completed\na,2024-03-01,50,completed\nb,2024-02-01,30,completed\n"
        "c,2024-02-15,70,refunded\n"
    )
    assert run("import", str(f), "--db", db, "--dataset", "shop").returncode == 0
    r = run("metrics", "--db", db, "--start", "2024-01-01", "--end", "2024-12-31", "--json")
    assert r.returncode == 0, r.stderr
    kpis = json.loads(r.stdout)
    assert tuple(kpis) == HEADLINE_IDS and set(kpis) <= set(catalog())
    assert kpis["customers"] == 2 and kpis["revenue"] == 180.0
    assert kpis["repeat_rate"] == 0.5  # a bought on a second day, b did not
    assert kpis["nps"] is None and kpis["csat"] is None  # no feedback table
    # top 20% of 2 customers = 0.4 customer: interpolated 0.4 × a's 150 of 180
    assert kpis["top20_revenue_share"] == pytest.approx(0.4 * 150 / 180)


def test_metrics_needs_a_dataset_choice_when_there_are_several(tmp_path):
    db = str(tmp_path / "crm.duckdb")
    f = tmp_path / "s.csv"
    f.write_text("customer_id,occurred_at,amount\na,2024-01-10,100\n")
    for name in ("one", "two"):
        assert run("import", str(f), "--db", db, "--dataset", name).returncode == 0
    r = run("metrics", "--db", db, "--json")
    assert r.returncode == 2 and "--dataset" in r.stderr and "one, two" in r.stderr


def test_segments_sizes_sum_to_the_buying_customers(tmp_path):
    db = str(tmp_path / "crm.duckdb")
    out = tmp_path / "sample"
    assert run("sample", "--out", str(out), "--customers", "400", "--seed", "5").returncode == 0
    assert run("import", str(out / "transactions.csv"), str(out / "customers.csv"), "--db", db).returncode == 0
    r = run("segments", "--db", db, "--k", "3", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["k"] == 3 and len(report["profile"]) == 3
    buyers = run("metrics", "--db", db, "--json")
    assert sum(report["segments"].values()) == json.loads(buyers.stdout)["customers"]
    assert len(set(report["segments"])) == 3
    bad = run("segments", "--db", db, "--k", "12")
    assert bad.returncode == 2 and "--k" in bad.stderr
