"""The rows a scope's region, segment and owner filters pick out of a frame of all customers (crm_core.metrics.picks),
against the customers the filters choose in SQL (``scope.chosen_customers``) and against hand-picked rows."""

from __future__ import annotations

from datetime import datetime

import polars as pl
from polars.testing import assert_frame_equal

from crm_core.metrics import picks
from crm_core.metrics.scope import Scope, chosen_customers
from crm_core.store import Store, TableLoad


def _store(path, customers: pl.DataFrame) -> tuple[Store, int]:
    ids = ["A", "B", "C", "D", "E"]
    tx = pl.DataFrame({"customer_id": ids, "occurred_at": [datetime(2024, 1, 1 + i) for i in range(len(ids))],
                       "amount": [10.0] * len(ids), "status": ["completed"] * len(ids)})
    s = Store(path)
    s.load("t", [TableLoad("transactions", tx, "x.csv"), TableLoad("customers", customers, "c.csv")])
    return s, s.dataset_id("t")


# A, B North Retail (Ann); C South, no segment (Bob); D North Wholesale, no owner; E is not in the customers table.
CUSTOMERS = pl.DataFrame({"customer_id": ["A", "B", "C", "D"], "region": ["North", "North", "South", "North"],
                          "segment": ["Retail", "Retail", None, "Wholesale"], "owner": ["Ann", "Ann", "Bob", None]})
EVERY = pl.DataFrame({"customer_id": ["E", "D", "C", "B", "A"], "value": [5, 4, 3, 2, 1]})  # not in table order


def test_rows_picked_by_hand(tmp_path):
    s, ds = _store(tmp_path / "p.duckdb", CUSTOMERS)
    cases = {
        Scope(ds, regions=("North",)): ["D", "B", "A"],
        Scope(ds, segments=("Retail",)): ["B", "A"],
        Scope(ds, owners=("Bob",)): ["C"],
        Scope(ds, regions=("North", "South"), owners=("Ann", "Bob")): ["C", "B", "A"],  # D has no owner
        Scope(ds, segments=("Retail", "Wholesale"), regions=("South",)): [],
        Scope(ds, regions=("nowhere",)): [],
    }
    for scope, ids in cases.items():
        got = picks.picked_rows(s, scope, EVERY)
        assert got["customer_id"].to_list() == ids, scope
        # the customers the filters choose in SQL, in the frame's order
        assert_frame_equal(got, EVERY.join(chosen_customers(s, scope), on="customer_id", how="semi",
                                           maintain_order="left"))
    s.close()


def test_codes_are_found_once_per_frame_and_again_for_new_data(tmp_path, monkeypatch):
    s, ds = _store(tmp_path / "q.duckdb", CUSTOMERS)
    joins = []
    real = pl.DataFrame.join

    def counted(self, other, *args, **kwargs):
        joins.append(self.columns)
        return real(self, other, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "join", counted)
    north = Scope(ds, regions=("North",))
    assert picks.picked_rows(s, north, EVERY)["customer_id"].to_list() == ["D", "B", "A"]
    first = len(joins)
    assert picks.picked_rows(s, Scope(ds, regions=("South",)), EVERY)["customer_id"].to_list() == ["C"]
    assert len(joins) == first  # the codes of EVERY and the customers' groups are held: no join
    other = EVERY.clone()
    picks.picked_rows(s, north, other)
    assert len(joins) == first + 1  # another frame: its codes are found (one join)
    # new customer data: D moves to West, the groups and the codes are found again
    moved = CUSTOMERS.with_columns(region=pl.Series(["North", "North", "South", "West"]))
    s.load("t", [TableLoad("customers", moved, "c2.csv")], replace=True)
    assert picks.picked_rows(s, north, EVERY)["customer_id"].to_list() == ["B", "A"]
    assert picks.picked_rows(s, Scope(ds, segments=("Wholesale",)), EVERY)["customer_id"].to_list() == ["D"]
    s.close()
