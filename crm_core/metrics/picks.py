"""The rows of the customers a scope's region, segment and owner filters pick, out of a frame of all customers.

Those filters pick whole customers, so views of them take their rows from the kept views of all customers (the
CLV fit, value to date, segment members; ``crm_core.views.of_all_customers``). A semi join of a million rows on
the chosen customer ids (``scope.chosen_customers``) took 0.1-0.13 s per frame at 1M customers, and a region set
picks from two to four frames. Here each customer's group, its (region, segment, owner), is a small integer: the
codes of a frame's rows are found once (one join, then held with the frame) and a filter keeps the rows whose code
is among its groups', a few milliseconds.
"""

from __future__ import annotations

import threading
import weakref

import polars as pl

from crm_core import results
from crm_core.metrics.scope import Scope

GROUP_COLUMNS = ("region", "segment", "owner")
_groups = results.Recent(4)  # each dataset's customers by group: (customer_id, group), (group, region, ...)
_codes: dict[int, tuple[weakref.ref, pl.DataFrame, pl.Series]] = {}  # id(frame): (frame, its customers, codes)
_lock = threading.Lock()


def group_filter(scope: Scope) -> pl.Expr:
    """The scope's region, segment and owner filters on rows with region, segment and owner columns: a row
    without a value of a filtered attribute is never picked (as by ``scope.ATTRIBUTE_FILTER``)."""
    chosen = pl.lit(True)
    for column, values in zip(GROUP_COLUMNS, (scope.regions, scope.segments, scope.owners)):
        if values:
            chosen = chosen & pl.col(column).is_in(list(values))
    return chosen


def _customer_groups(store, dataset_id: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(customer_id, group) for every customer of the customers table, and the groups: group, region, segment,
    owner. Held per data version."""
    key = (getattr(store, "token", id(store)), dataset_id, results.data_version(store, dataset_id, priced=False))

    def read() -> tuple[pl.DataFrame, pl.DataFrame]:
        customers = store.query(
            f"SELECT customer_id, {', '.join(GROUP_COLUMNS)} FROM customers WHERE dataset_id = ?", [dataset_id])
        groups = customers.select(GROUP_COLUMNS).unique().sort(GROUP_COLUMNS, nulls_last=True).with_row_index("group")
        coded = customers.join(groups, on=list(GROUP_COLUMNS), how="left", nulls_equal=True).select("customer_id",
                                                                                                     "group")
        return coded, groups

    return _groups.get(key, read)


def _frame_codes(store, dataset_id: int, frame: pl.DataFrame) -> pl.Series:
    """The group of each row of ``frame`` (null for a customer not in the customers table), held as long as the
    frame lives (the views' caches decide that)."""
    coded, _ = _customer_groups(store, dataset_id)
    with _lock:
        held = _codes.get(id(frame))
    if held is not None and held[0]() is frame and held[1] is coded:
        return held[2]
    codes = frame.select("customer_id").join(coded, on="customer_id", how="left", maintain_order="left")["group"]

    def gone(ref, key=id(frame)) -> None:
        with _lock:
            if _codes.get(key, (None,))[0] is ref:
                del _codes[key]

    with _lock:
        _codes[id(frame)] = (weakref.ref(frame, gone), coded, codes)
    return codes


def picked(store, scope: Scope, frame: pl.DataFrame) -> pl.Series:
    """For each row of ``frame`` (a frame of all customers with customer_id, of the scope's dataset), whether
    the scope's region, segment and owner filters pick its customer. A customer not in the customers table, or
    without a value of a filtered attribute, is never picked (as by ``scope.ATTRIBUTE_FILTER``)."""
    _, groups = _customer_groups(store, scope.dataset_id)
    codes = _frame_codes(store, scope.dataset_id, frame)
    return codes.is_in(groups.filter(group_filter(scope))["group"].implode()).fill_null(False)


def picked_rows(store, scope: Scope, frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``frame`` whose customer the scope's filters pick (:func:`picked`), in the frame's order."""
    return frame.filter(picked(store, scope, frame))
