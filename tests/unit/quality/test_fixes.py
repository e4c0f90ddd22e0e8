"""Fixes: each one transaction with the facts rebuilt, recorded in quality_audit, undone exactly (the store's
snapshot equals the one before), refused when a later fix touched the same customers or the rows changed."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from crm_core import quality
from crm_core.store import StoreError, TableLoad

from .conftest import known, load


def facts(store, ds) -> dict:
    return dict(store.query("SELECT customer_id, revenue FROM customer_facts WHERE dataset_id = ?", [ds]).rows())


@pytest.mark.parametrize("kind, field, before, after", [
    ("emails", "email", "JOSE.NUNEZ@ACMETOOLS.ES", "jose.nunez@acmetools.es"),
    ("phones", "phone", "911234567", "+34911234567"),
    ("countries", "country", "España", "Spain"),
])
def test_field_fix_preview_apply_and_exact_undo(store, kind, field, before, after):
    ds = load(store, known())
    snapshot = store.snapshot()
    preview = quality.field_preview(store, ds, kind)
    row = preview.filter(pl.col("customer_id") == "K002", pl.col("field") == field).row(0, named=True)
    assert (row["before"], row["after"]) == (before, after)
    assert store.snapshot() == snapshot  # a preview writes nothing
    result = quality.apply_field_fix(store, ds, kind, applied_by="tester")
    assert result.rows_changed == preview.height
    assert store.scalar(f"SELECT {field} FROM customers WHERE customer_id = 'K002'") == after
    log = quality.audit_log(store, ds).row(0, named=True)
    assert (log["fix_id"], log["kind"], log["applied_by"], log["undone_at"]) == (result.fix_id, kind, "tester", None)
    recorded = quality.fix_rows(store, result.fix_id)
    assert set(recorded["before"]) == {"customers"}  # a field fix records only the customers it changed
    assert recorded["before"]["customers"].height == preview["customer_id"].n_unique()
    quality.undo(store, result.fix_id, undone_by="tester")
    assert store.snapshot() == snapshot
    assert quality.audit_log(store, ds)["undone_at"][0] is not None
    with pytest.raises(StoreError, match="undone already"):
        quality.undo(store, result.fix_id)


def test_countries_fix_maps_regions_to_their_usual_spelling(store):
    ds = load(store, known())
    preview = quality.field_preview(store, ds, "countries")
    assert preview.filter(pl.col("field") == "region").rows() == [("K010", "region", "europe", "Europe")]
    quality.apply_field_fix(store, ds, "countries")
    assert not quality.build_report(store, ds).counts["country_variant"]


def test_merge_repoints_every_table_fills_the_kept_record_and_undoes_exactly(store):
    customers = known()
    tx = pl.DataFrame({
        "transaction_id": ["T1", "T2", "T3"], "customer_id": ["K009", "K010", "K011"],
        "occurred_at": [datetime(2024, 1, 1), datetime(2024, 2, 1), datetime(2024, 3, 1)],
        "amount": [100.0, 50.0, 25.0], "status": ["completed"] * 3,
    })
    interactions = pl.DataFrame({"interaction_id": ["I1"], "customer_id": ["K010"],
                                 "occurred_at": [datetime(2024, 2, 2)], "kind": ["call"]})
    feedback = pl.DataFrame({"customer_id": ["K011", "K011"], "responded_at": [datetime(2024, 3, 3)] * 2,
                             "nps": [9, 9]})
    ds = load(store, customers, transactions=tx, interactions=interactions, feedback=feedback)
    snapshot = store.snapshot()
    preview = quality.merge_preview(store, ds, [("K010", ["K009", "K010", "K011"])])
    assert preview["repointed"] == {"transactions": 2, "interactions": 0, "feedback": 2, "deals": 0}
    kept = preview["after"].row(0, named=True)
    assert kept["customer_id"] == "K010" and kept["name"] == "Z. Muller"  # the kept record's own values first
    assert kept["created_at"] == datetime(2021, 7, 7)  # the earliest of the cluster
    result = quality.merge(store, ds, [("K010", ["K009", "K010", "K011"])], applied_by="tester")
    assert store.scalar("SELECT count(*) FROM customers WHERE customer_id IN ('K009', 'K011')") == 0
    assert store.scalar("SELECT count(DISTINCT customer_id) FROM transactions WHERE transaction_id IN "
                        "('T1', 'T2', 'T3')") == 1
    assert store.scalar("SELECT count(*) FROM feedback WHERE customer_id = 'K010'") == 2  # identical rows kept
    assert facts(store, ds)["K010"] == pytest.approx(175.0)  # the facts were rebuilt in the same transaction
    assert "K009" not in facts(store, ds)
    quality.undo(store, result.fix_id)
    assert store.snapshot() == snapshot


def test_undo_is_refused_while_a_later_fix_on_the_same_customers_stands(store):
    ds = load(store, known())
    snapshot = store.snapshot()
    emails = quality.apply_field_fix(store, ds, "emails")
    merged = quality.merge(store, ds, [("K001", ["K001", "K002"])])
    with pytest.raises(StoreError, match=f"later fix #{merged.fix_id}.*Undo fix #{merged.fix_id} first"):
        quality.undo(store, emails.fix_id)
    quality.undo(store, merged.fix_id)
    quality.undo(store, emails.fix_id)
    assert store.snapshot() == snapshot


def test_undo_is_refused_when_an_import_changed_the_rows(store):
    ds = load(store, known())
    fix = quality.apply_field_fix(store, ds, "emails")
    extra = pl.DataFrame({"transaction_id": ["X1"], "customer_id": ["K002"], "occurred_at": [datetime(2024, 5, 1)],
                          "amount": [1.0]})
    store.load("q", [TableLoad("transactions", extra, "more.csv")])
    # the emails fix recorded customers only: the new transaction does not block it
    quality.undo(store, fix.fix_id)
    fix = quality.apply_field_fix(store, ds, "emails")
    with store.transaction() as cur:  # an edit outside the fixes (as a re-import would do)
        cur.execute("UPDATE customers SET email = 'changed@x.com' WHERE customer_id = 'K002'")
    before = store.snapshot()
    with pytest.raises(StoreError, match="changed after it"):
        quality.undo(store, fix.fix_id)
    assert store.snapshot() == before


def test_failed_fixes_change_nothing(store):
    ds = load(store, known())
    snapshot = store.snapshot()
    with pytest.raises(StoreError, match="not in the dataset"):
        quality.merge(store, ds, [("K001", ["K001", "NOPE"])])
    with pytest.raises(StoreError, match="two merges"):
        quality.merge(store, ds, [("K001", ["K001", "K002"]), ("K003", ["K003", "K002"])])
    with pytest.raises(StoreError, match="Nothing to merge"):
        quality.merge(store, ds, [("K001", ["K001"])])
    with pytest.raises(StoreError, match="Unknown fix"):
        quality.field_preview(store, ds, "names")
    quality.apply_field_fix(store, ds, "emails")
    with pytest.raises(StoreError, match="Nothing to fix"):
        quality.apply_field_fix(store, ds, "emails")
    with pytest.raises(StoreError, match="no fix #99"):
        quality.undo(store, 99)
    assert store.snapshot()["customers"] != snapshot["customers"]  # only the one applied fix changed data
    assert quality.audit_log(store, ds).height == 1


def test_deleting_a_dataset_deletes_its_audit_log(store):
    ds = load(store, known())
    quality.apply_field_fix(store, ds, "emails")
    store.delete_dataset(ds)
    assert store.scalar("SELECT count(*) FROM quality_audit") == 0
