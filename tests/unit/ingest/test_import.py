"""Whole imports, file → store: vendor exports with zero manual mapping, and every kind of bad input.

Expected figures come from tests/fixtures/vendors/EXPECTED.yaml, added up by hand from the files.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from crm_core.ingest import pipeline
from crm_core.ingest.model import IngestError
from crm_core.store import Store

VENDORS = Path(__file__).resolve().parents[2] / "fixtures" / "vendors"
EXPECTED = yaml.safe_load((VENDORS / "EXPECTED.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "crm.duckdb")
    yield s
    s.close()


def _cases():
    for name, exp in EXPECTED.items():
        if "sheets" in exp:
            for sheet, sub in exp["sheets"].items():
                yield pytest.param(name, sheet, sub, id=f"{name}:{sheet}")
        else:
            yield pytest.param(name, None, exp, id=name)


@pytest.mark.parametrize(("file", "sheet", "exp"), list(_cases()))
def test_vendor_export_imports_with_no_manual_mapping(store, file, sheet, exp):
    prepared = pipeline.prepare_path(VENDORS / file, store=store, dataset="co")
    if sheet is not None:
        prepared = [p for p in prepared if p.raw.sheet == sheet]
    assert len(prepared) == 1
    prep = prepared[0]
    assert (prep.table, prep.detection.system) == (exp["table"], exp["system"])
    assert prep.problems == [], [str(p) for p in prep.problems]
    result = pipeline.import_prepared(store, "co", prepared)
    ds = result.dataset_id
    assert result.per_table() == {exp["table"]: {"loaded": exp["rows"], "rejected": 0}}

    rows = store.table(exp["table"], ds)
    assert rows.height == exp["rows"]
    assert rows["customer_id"].n_unique() == exp["customers"]
    if exp["table"] == "transactions":
        # Shopify: amounts net of partial refunds; others: the file's amounts as they are.
        total = exp.get("net_amount_sum", exp["amount_sum"])
        assert rows["amount"].sum() == pytest.approx(total, abs=0.005)
    if exp["table"] == "deals":
        assert rows["amount"].sum() == pytest.approx(exp["amount_sum"], abs=0.005)
        by_status = dict(rows.group_by("status").len().iter_rows())
        assert by_status == {k: exp[k] for k in ("won", "lost", "open") if exp[k]}
        # won deals are the sales of their account when the dataset has no transactions
        purchases = store.table("purchases", ds)
        assert purchases.height == exp["won"]
        assert purchases["amount"].sum() == pytest.approx(exp["won_amount"], abs=0.005)
    if "statuses" in exp:
        assert dict(rows.group_by("status").len().iter_rows()) == exp["statuses"]
    if "currency" in exp:
        assert store.dataset_info(ds)["currency"] == exp["currency"]
    batch = store.batches(ds).to_dicts()[0]
    assert batch["rows_read"] == exp["rows_read"] and batch["rows_loaded"] == exp["rows"]
    assert batch["system"] == exp["system"] and len(batch["sha256"]) == 64


def test_a_workbook_imports_all_its_sheets_in_one_transaction(store):
    prepared = pipeline.prepare_path(VENDORS / "generic_orders.xlsx")
    result = pipeline.import_prepared(store, "co", prepared)
    assert result.per_table() == {
        "transactions": {"loaded": 16, "rejected": 0},
        "customers": {"loaded": 6, "rejected": 0},
    }
    facts = store.table("customer_facts", result.dataset_id)
    assert facts.height == 6 and facts["revenue"].sum() == pytest.approx(1985.0)
    assert facts["country"].null_count() == 0  # the Customers sheet joined onto the purchases


# ---------------------------------------------------------------------------- bad input
def _prepare(store, name: str, content: bytes | str, **kw):
    data = content.encode("utf-8") if isinstance(content, str) else content
    return pipeline.prepare_upload(name, data, store=store, dataset="co", **kw)


def _seed(store):
    """Existing data that no bad import may harm."""
    good = "customer_id,occurred_at,amount\nC1,2024-01-05,10.00\nC2,2024-01-06,20.00\n"
    pipeline.import_prepared(store, "co", _prepare(store, "seed.csv", good))
    return store.snapshot()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty"),
        ("junk.csv", bytes(range(256)) * 40, "junk.csv"),
        ("huge.csv", b"customer_id,occurred_at,amount\n" + b"C1,2024-01-01,1\n" * 200, "limit"),
    ],
)
def test_unreadable_files_are_refused_with_the_file_named(store, name, content, message):
    before = _seed(store)
    with pytest.raises(IngestError) as err:
        _prepare(store, name, content, max_bytes=1000)
    assert name in str(err.value) and message in str(err.value)
    assert store.snapshot() == before


def test_headers_only(store):
    before = _seed(store)
    (prep,) = _prepare(store, "headers.csv", "customer_id,occurred_at,amount\n")
    assert prep.fatal and "no data rows" in prep.fatal[0].message and prep.fatal[0].file == "headers.csv"
    with pytest.raises(pipeline.ImportRefused, match="headers.csv"):
        pipeline.import_prepared(store, "co", [prep], accept_partial=True)
    assert store.snapshot() == before


def test_missing_required_column(store):
    before = _seed(store)
    (prep,) = _prepare(store, "no_amount.csv", "customer_id,occurred_at,product\nC1,2024-01-01,Hat\n", table="transactions")
    assert prep.fatal
    text = str(prep.fatal[0])
    assert "no_amount.csv" in text and "amount" in text.lower()
    with pytest.raises(pipeline.ImportRefused):
        pipeline.import_prepared(store, "co", [prep], accept_partial=True)
    assert store.snapshot() == before


def test_unparseable_dates_and_amounts_name_file_column_row_and_value(store):
    before = _seed(store)
    content = (
        "customer_id,occurred_at,amount\n"
        "C3,2024-02-01,15.00\n"
        "C4,yesterday,16.00\n"  # row 3: bad date
        "C5,2024-02-03,lots\n"  # row 4: bad amount
        "C6,2024-02-04,17.50\n"
    )
    (prep,) = _prepare(store, "sales.csv", content)
    errors = {(p.column, p.row, p.value) for p in prep.errors}
    assert ("occurred_at", 3, "yesterday") in errors
    assert ("amount", 4, "lots") in errors
    assert all(p.file == "sales.csv" for p in prep.errors)
    assert (prep.rows_ok, prep.rows_rejected) == (2, 2)
    # the user's choice: nothing …
    with pytest.raises(pipeline.ImportRefused, match="good rows"):
        pipeline.import_prepared(store, "co", [prep])
    assert store.snapshot() == before
    # … or the good rows
    result = pipeline.import_prepared(store, "co", [prep], accept_partial=True)
    assert result.per_table() == {"transactions": {"loaded": 2, "rejected": 2}}
    assert sorted(store.table("transactions", result.dataset_id)["customer_id"].to_list()) == ["C1", "C2", "C3", "C6"]


def test_duplicate_ids_in_the_file_and_in_the_dataset(store):
    pipeline.import_prepared(store, "co", _prepare(store, "c.csv", "customer_id,name\nA,Ann\nB,Bob\n"))
    before = store.snapshot()
    (prep,) = _prepare(store, "c2.csv", "customer_id,name\nC,Cy\nC,Cy again\nA,Ann again\n")
    msgs = {(p.row, p.value): p.message for p in prep.errors}
    assert "row 2" in msgs[(3, "C")]  # second C points at the first
    assert "already in the dataset" in msgs[(4, "A")]
    with pytest.raises(pipeline.ImportRefused):
        pipeline.import_prepared(store, "co", [prep])
    assert store.snapshot() == before
    pipeline.import_prepared(store, "co", [prep], accept_partial=True)
    assert store.table_counts(store.dataset_id("co"))["customers"] == 3


def test_mixed_currencies_in_a_currency_column(store):
    before = _seed(store)
    content = (
        "Deal - ID,Deal - Title,Deal - Organization,Deal - Value,Deal - Currency,Deal - Status,Deal - Won time\n"
        "1,A,Acme,100,EUR,won,2024-01-01 10:00:00\n"
        "2,B,Beta,200,EUR,won,2024-01-02 10:00:00\n"
        "3,C,Core,300,USD,won,2024-01-03 10:00:00\n"
    )
    (prep,) = _prepare(store, "deals.csv", content)
    assert prep.currency == "EUR"
    [err] = prep.errors
    assert (err.file, err.column, err.row, err.value) == ("deals.csv", "Deal - Currency", 4, "USD")
    assert "currenc" in err.message
    with pytest.raises(pipeline.ImportRefused):
        pipeline.import_prepared(store, "co", [prep])
    assert store.snapshot() == before


def test_mixed_currency_symbols_in_one_column_are_refused(store):
    before = _seed(store)
    (prep,) = _prepare(store, "s.csv", "customer_id,occurred_at,amount\nC1,2024-01-01,$10.00\nC2,2024-01-02,€12.00\n")
    assert prep.fatal and "currencies" in prep.fatal[0].message
    with pytest.raises(pipeline.ImportRefused):
        pipeline.import_prepared(store, "co", [prep], accept_partial=True)
    assert store.snapshot() == before


def test_a_file_in_another_currency_than_the_dataset_is_refused(store):
    pipeline.import_prepared(store, "eu", _prepare(store, "a.csv", "customer_id,occurred_at,amount\nC1,2024-01-01,€10.00\n"))
    before = store.snapshot()
    prepared = pipeline.prepare_upload("b.csv", b"customer_id,occurred_at,amount\nC2,2024-01-01,$10.00\n")
    with pytest.raises(pipeline.ImportRefused, match="Mixed currencies"):
        pipeline.import_prepared(store, "eu", prepared)
    assert store.snapshot() == before


def test_ambiguous_date_column_is_flagged_and_can_be_decided(store):
    content = "customer_id,occurred_at,amount\nC1,01/02/2024,1\nC2,03/04/2024,2\n"
    (prep,) = _prepare(store, "amb.csv", content)
    [warning] = prep.warnings
    assert warning.column == "occurred_at" and "cannot be told" in warning.message
    (eu,) = _prepare(store, "amb.csv", content, dayfirst=True)
    assert eu.frame["occurred_at"].dt.month().to_list() == [2, 4]
    assert not eu.warnings


def test_hand_mapped_file_is_offered_the_same_mapping_again(store):
    content = "Kundennr,Datum,Betrag\nK1,2024-01-01,10\nK2,2024-01-02,20\n"
    (auto,) = _prepare(store, "de.csv", content, table="transactions")
    assert auto.fatal  # nothing maps these headers by itself
    mapping = {"customer_id": "Kundennr", "occurred_at": "Datum", "amount": "Betrag"}
    prepared = pipeline.prepare_upload(
        "de.csv", content.encode(), store=store, dataset="co", table="transactions", mappings={"de.csv": mapping}
    )
    pipeline.import_prepared(store, "co", prepared)
    (again,) = _prepare(store, "de_march.csv", content.replace("K1", "K3").replace("K2", "K4"))
    assert again.mapping_from_user and again.detection.mapping == mapping and not again.problems


def test_reimporting_the_same_file_warns_and_rejects_the_known_ids(store):
    content = "Order ID,Customer ID,Order Date,Total\nO1,C1,2024-01-01,5\nO2,C2,2024-01-02,6\n"
    pipeline.import_prepared(store, "co", _prepare(store, "o.csv", content))
    (again,) = _prepare(store, "o.csv", content)
    assert any("imported into" in w.message for w in again.warnings)
    assert again.rows_ok == 0


def test_replace_swaps_the_table_for_the_new_file(store):
    _seed(store)
    prepared = _prepare(store, "new.csv", "customer_id,occurred_at,amount\nC9,2024-03-01,99\n")
    pipeline.import_prepared(store, "co", prepared, replace=True)
    rows = store.table("transactions", store.dataset_id("co"))
    assert rows["customer_id"].to_list() == ["C9"]
    assert [b["mode"] for b in store.batches(store.dataset_id("co")).to_dicts()] == ["replace", "append"]


def test_every_row_bad_imports_nothing(store):
    before = _seed(store)
    (prep,) = _prepare(store, "bad.csv", "customer_id,occurred_at,amount\nC1,never,x\n")
    with pytest.raises(pipeline.ImportRefused, match="No row"):
        pipeline.import_prepared(store, "co", [prep], accept_partial=True)
    assert store.snapshot() == before


def test_problem_lists_are_capped_but_counted(store):
    rows = "".join(f"C{i},bad-date,{i}\n" for i in range(100))
    (prep,) = _prepare(store, "many.csv", "customer_id,occurred_at,amount\n" + rows)
    assert prep.rows_rejected == 100
    assert len(prep.errors) == pipeline.MAX_LISTED + 1
    assert "80 more rows" in prep.errors[-1].message


def test_good_frame_keeps_order_and_types(store):
    (prep,) = _prepare(store, "s.csv", "customer_id,occurred_at,amount\nC1,2024-01-01,1\nC2,x,2\nC3,2024-01-03,3\n")
    good = prep.good_frame
    assert good["customer_id"].to_list() == ["C1", "C3"]
    assert good.schema["occurred_at"] == pl.Datetime("us") and good.schema["amount"] == pl.Float64
