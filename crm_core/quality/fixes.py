"""Fixes the user reviews and applies, each one transaction recorded in ``quality_audit`` and undoable exactly.

Every fix works on a set of customers: it records, for every canonical table, the rows of those customers
before and after it changed them (JSON written by DuckDB, which round-trips every value exactly). Undo checks
that no later fix touched the same customers and that the rows are still as the fix left them, then deletes
them and inserts the rows as they were, in one transaction that also rebuilds the customer facts.

* ``emails``: trim and lower-case emails;
* ``phones``: rewrite valid phone numbers in E.164;
* ``countries``: country spellings to their canonical name (``countries.yaml``), region spellings to their most
  common form;
* ``merge``: duplicate clusters into the record the user keeps (its empty fields filled from the others in
  order, ``created_at`` the earliest), the others' transactions, interactions, feedback and deals re-pointed to
  it, the others deleted.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from crm_core import schema
from crm_core.quality import phones, rules
from crm_core.quality.report import phone_region, prepare_customers, region_variants_sql
from crm_core.sql import quote_ident
from crm_core.store import Store, StoreError

FIELD_FIXES = ("emails", "phones", "countries")
KINDS = (*FIELD_FIXES, "merge")
LABELS = {"emails": "Emails trimmed and lower-cased", "phones": "Phones in E.164",
          "countries": "Country and region spellings", "merge": "Duplicates merged"}
PREVIEW_SCHEMA = {"customer_id": pl.String, "field": pl.String, "before": pl.String, "after": pl.String}
#: Text columns of a customer a merge fills on the kept record when it is empty there.
MERGE_FILL = tuple(c.name for c in schema.TABLES["customers"].columns if c.kind == "text")


@dataclass(frozen=True)
class FixResult:
    fix_id: int
    kind: str
    customers: int  # customers whose rows the fix touched
    rows_changed: int
    summary: str


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ---------------------------------------------------------------------------------------------- previews
def field_preview(store, dataset_id: int, kind: str) -> pl.DataFrame:
    """The changes a field fix would make: one row per customer and field (customer_id, field, before, after)."""
    if kind not in FIELD_FIXES:
        raise StoreError(f"Unknown fix {kind!r}: choose one of {', '.join(FIELD_FIXES)}.")
    cur = store.cursor()
    region, _ = phone_region(store, dataset_id)
    table = prepare_customers(cur, dataset_id, region, parse_phones=False)
    try:
        if kind == "emails":
            query = (f"SELECT customer_id, 'email' AS field, email AS before, email_n AS after FROM {table} "
                     "WHERE email IS NOT NULL AND email IS DISTINCT FROM email_n")
            # an all-blank email becomes empty (NULL)
        elif kind == "countries":
            query = (f"SELECT customer_id, 'country' AS field, country AS before, country_canon AS after FROM {table} "
                     "WHERE country_canon IS NOT NULL AND country <> country_canon "
                     "UNION ALL SELECT customer_id, 'region', region, dominant "
                     f"FROM ({region_variants_sql(table)})")
        else:
            return _phone_preview(cur, table)
        return _typed(cur.sql(f"SELECT * FROM ({query}) ORDER BY customer_id, field").pl())
    finally:
        cur.execute(f"DROP TABLE IF EXISTS {table}")


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(pl.col(c).cast(t) for c, t in PREVIEW_SCHEMA.items())


def _phone_preview(cur, table: str) -> pl.DataFrame:
    # Only values not already written as +digits can change: parse those distinct values.
    pairs = cur.sql(f"""
        SELECT DISTINCT phone_t AS raw, CASE WHEN phone_t LIKE '+%' THEN NULL ELSE phone_region END AS region
        FROM {table} WHERE phone_t IS NOT NULL AND NOT regexp_full_match(phone, '\\+[0-9]+')
    """).pl()
    parsed = phones.parse(pairs).filter(pl.col("valid"))
    view = f"q_fix_phones_{uuid.uuid4().hex[:12]}"
    cur.register(view, parsed.to_arrow())
    try:
        return _typed(cur.sql(f"""
            SELECT b.customer_id, 'phone' AS field, b.phone AS before, p.e164 AS after
            FROM {table} b JOIN {view} p
              ON p.raw = b.phone_t
             AND p.region IS NOT DISTINCT FROM (CASE WHEN b.phone_t LIKE '+%' THEN NULL ELSE b.phone_region END)
            WHERE b.phone <> p.e164
            ORDER BY b.customer_id
        """).pl())
    finally:
        cur.unregister(view)


def _merge_plan(merges) -> pl.DataFrame:
    """customer_id, survivor, ord (0 = the kept record, then the others in the order given) of every merge."""
    rows, seen = [], set()
    for survivor, members in merges:
        survivor = str(survivor)
        others = [str(m) for m in members if str(m) != survivor]
        if not others:
            raise StoreError(f"Nothing to merge into {survivor}: choose at least one other record of its cluster.")
        for i, cid in enumerate([survivor, *others]):
            if cid in seen:
                raise StoreError(f"Customer {cid} is in two merges: merge each customer once.")
            seen.add(cid)
            rows.append((cid, survivor, i))
    if not rows:
        raise StoreError("Nothing to merge: choose a cluster and the record to keep.")
    return pl.DataFrame(rows, schema={"customer_id": pl.String, "survivor": pl.String, "ord": pl.Int64},
                        orient="row")


def _merged_sql(plan: str) -> str:
    """The kept records as a merge leaves them: empty text fields filled from the others in order, the earliest
    created_at. Columns: every customers column."""
    cols = []
    for c in schema.TABLES["customers"].columns:
        q = quote_ident(c.name)
        if c.name == "customer_id":
            cols.append(f"p.survivor AS {q}")
        elif c.name in MERGE_FILL:
            cols.append(f"arg_min(c.{q}, p.ord) FILTER (WHERE {rules.filled_sql('c.' + q)} IS NOT NULL) AS {q}")
        elif c.name == "created_at":
            cols.append(f"min(c.{q}) AS {q}")
        else:
            cols.append(f"arg_min(c.{q}, p.ord) AS {q}")
    return (f"SELECT {', '.join(cols)} FROM customers c JOIN {plan} p ON p.customer_id = c.customer_id "
            "WHERE c.dataset_id = $ds GROUP BY p.survivor")


def merge_preview(store, dataset_id: int, merges) -> dict:
    """What merging would do: ``before`` (the member records), ``after`` (the kept records as merged) and
    ``repointed`` ({table: rows that would move to the kept record})."""
    plan = _merge_plan(merges)
    cur = store.cursor()
    view = f"q_plan_{uuid.uuid4().hex[:12]}"
    cur.register(view, plan.to_arrow())
    try:
        _check_members(cur, dataset_id, view, plan)
        cols = ", ".join(f"c.{quote_ident(c)}" for c in schema.TABLES["customers"].column_names)
        before = cur.sql(f"SELECT p.survivor AS kept, {cols} FROM customers c JOIN {view} p USING (customer_id) "
                         "WHERE c.dataset_id = $ds ORDER BY p.survivor, p.ord", params={"ds": dataset_id}).pl()
        after = cur.sql(f"SELECT * FROM ({_merged_sql(view)}) ORDER BY customer_id", params={"ds": dataset_id}).pl()
        repointed = {}
        for t in schema.TABLE_NAMES:
            if t == "customers":
                continue
            repointed[t] = int(cur.execute(
                f"SELECT count(*) FROM {quote_ident(t)} x JOIN {view} p USING (customer_id) "
                "WHERE x.dataset_id = ? AND p.ord > 0", [dataset_id]).fetchall()[0][0])
    finally:
        cur.unregister(view)
    return {"before": before, "after": after, "repointed": repointed}


def _check_members(cur, dataset_id: int, view: str, plan: pl.DataFrame) -> None:
    found = cur.execute(f"SELECT count(DISTINCT c.customer_id) FROM customers c JOIN {view} p USING (customer_id) "
                        "WHERE c.dataset_id = ?", [dataset_id]).fetchall()[0][0]
    if found != plan.height:
        missing = cur.execute(
            f"SELECT p.customer_id FROM {view} p WHERE p.customer_id NOT IN "
            "(SELECT customer_id FROM customers WHERE dataset_id = ?) ORDER BY 1 LIMIT 3", [dataset_id]).fetchall()
        ids = ", ".join(r[0] for r in missing)
        raise StoreError(f"Customer {ids} is not in the dataset any more (merged or re-imported?): nothing was "
                         "merged. Refresh the quality report and choose again.")


# ---------------------------------------------------------------------------------------------- capture
def _struct(table: str) -> str:
    cols = {"dataset_id": "INTEGER", "batch_id": "INTEGER"}
    cols |= {c.name: c.sql_type for c in schema.TABLES[table].columns}
    return json.dumps([cols])


def _capture(cur, dataset_id: int, ids_view: str, tables: tuple[str, ...]) -> tuple[str, int]:
    """JSON text {table: [rows]} of the rows of ``tables`` of the customers in ``ids_view``, and the row count."""
    parts, total = [], 0
    for t in tables:
        text, n = cur.execute(
            f"SELECT coalesce(json_group_array(to_json(x)), '[]')::VARCHAR, count(*) FROM "
            f"(SELECT * FROM {quote_ident(t)} WHERE dataset_id = ? AND customer_id IN "
            f"(SELECT customer_id FROM {ids_view}) ORDER BY ALL) x",
            [dataset_id],
        ).fetchall()[0]
        parts.append(f"{json.dumps(t)}: {text}")
        total += int(n)
    return "{" + ", ".join(parts) + "}", total


def _rows_sql(table: str, column: str) -> str:
    """SQL: the rows of ``table`` kept in the audit row's ``column`` (before/after) of fix ``$fix``."""
    return (f"SELECT unnest(from_json(json_extract(a.{quote_ident(column)}, '$.{table}'), '{_struct(table)}'), "
            f"recursive := true) FROM quality_audit a WHERE a.fix_id = $fix")


def _apply(store: Store, dataset_id: int, kind: str, ids: pl.Series, mutate, summary: str,
           applied_by: str | None, tables: tuple[str, ...]) -> FixResult:
    """Record before, ``mutate(cur)``, record after, audit, rebuild facts — one transaction."""
    if ids.len() == 0:
        raise StoreError("Nothing to fix: the data has no such problem any more.")
    view = f"q_ids_{uuid.uuid4().hex[:12]}"
    ids_frame = pl.DataFrame({"customer_id": ids.cast(pl.String).unique().sort()})
    with store.transaction() as cur:
        cur.register(view, ids_frame.to_arrow())
        try:
            before, _ = _capture(cur, dataset_id, view, tables)
            changed = mutate(cur)
            after, _ = _capture(cur, dataset_id, view, tables)
        finally:
            cur.unregister(view)
        if before == after:
            raise StoreError("Nothing to fix: the data has no such problem any more.")
        fix_id = int(cur.execute("SELECT coalesce(max(fix_id), 0) + 1 FROM quality_audit").fetchall()[0][0])
        cur.execute(
            "INSERT INTO quality_audit (fix_id, dataset_id, kind, summary, applied_at, applied_by, customer_ids, "
            "rows_changed, \"before\", \"after\") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [fix_id, dataset_id, kind, summary, _now(), applied_by, json.dumps(ids_frame["customer_id"].to_list()),
             int(changed), before, after],
        )
        Store._rebuild_facts(cur, dataset_id)
    return FixResult(fix_id, kind, ids_frame.height, int(changed), summary)


def apply_field_fix(store: Store, dataset_id: int, kind: str, applied_by: str | None = None) -> FixResult:
    """Apply the ``emails``, ``phones`` or ``countries`` fix to every customer that needs it."""
    preview = field_preview(store, dataset_id, kind)
    if preview.is_empty():
        raise StoreError("Nothing to fix: the data has no such problem any more.")

    def mutate(cur) -> int:
        view = f"q_changes_{uuid.uuid4().hex[:12]}"
        cur.register(view, preview.to_arrow())
        changed = 0
        try:
            for fld in preview["field"].unique().sort().to_list():
                q = quote_ident(fld)
                # only rows still as previewed change (a value edited meanwhile is left alone)
                changed += int(cur.execute(
                    f"UPDATE customers AS c SET {q} = p.after FROM {view} p "
                    f"WHERE c.dataset_id = ? AND c.customer_id = p.customer_id AND p.field = ? "
                    f"AND c.{q} IS NOT DISTINCT FROM p.before",
                    [dataset_id, fld],
                ).fetchall()[0][0])
        finally:
            cur.unregister(view)
        return changed

    fields = ", ".join(f"{n:,} {f}" + ("s" if n != 1 else "")
                       for f, n in preview.group_by("field").len().sort("field").iter_rows())
    summary = f"{LABELS[kind]}: {fields} changed"
    # a field fix changes customers rows only: only those are recorded
    return _apply(store, dataset_id, kind, preview["customer_id"], mutate, summary, applied_by, ("customers",))


def merge(store: Store, dataset_id: int, merges, applied_by: str | None = None) -> FixResult:
    """Merge duplicate clusters: ``merges`` is a list of (kept customer id, member ids) pairs."""
    plan = _merge_plan(merges)

    def mutate(cur) -> int:
        view = f"q_plan_{uuid.uuid4().hex[:12]}"
        cur.register(view, plan.to_arrow())
        try:
            _check_members(cur, dataset_id, view, plan)
            merged = f"q_merged_{uuid.uuid4().hex[:12]}"
            cur.execute(f"CREATE TEMP TABLE {merged} AS {_merged_sql(view)}", {"ds": dataset_id})
            sets = ", ".join(f"{quote_ident(c)} = m.{quote_ident(c)}"
                             for c in schema.TABLES["customers"].column_names if c != "customer_id")
            changed = int(cur.execute(
                f"UPDATE customers AS c SET {sets} FROM {merged} m "
                "WHERE c.dataset_id = ? AND c.customer_id = m.customer_id", [dataset_id]).fetchall()[0][0])
            cur.execute(f"DROP TABLE {merged}")
            for t in schema.TABLE_NAMES:
                if t == "customers":
                    continue
                changed += int(cur.execute(
                    f"UPDATE {quote_ident(t)} AS x SET customer_id = p.survivor FROM {view} p "
                    "WHERE x.dataset_id = ? AND x.customer_id = p.customer_id AND p.ord > 0",
                    [dataset_id]).fetchall()[0][0])
            changed += int(cur.execute(
                f"DELETE FROM customers WHERE dataset_id = ? AND customer_id IN "
                f"(SELECT customer_id FROM {view} WHERE ord > 0)", [dataset_id]).fetchall()[0][0])
        finally:
            cur.unregister(view)
        return changed

    groups = plan["survivor"].n_unique()
    removed = plan.filter(pl.col("ord") > 0).height
    kept = plan.filter(pl.col("ord") == 0)["customer_id"].to_list()
    into = f"into {kept[0]}" if len(kept) == 1 else f"into {groups:,} kept records"
    summary = f"{LABELS['merge']}: {removed + groups:,} records merged {into} ({removed:,} removed)"
    return _apply(store, dataset_id, "merge", plan["customer_id"], mutate, summary, applied_by, schema.TABLE_NAMES)


# ---------------------------------------------------------------------------------------------- audit and undo
def audit_log(store, dataset_id: int) -> pl.DataFrame:
    """The dataset's fixes, newest first: fix_id, kind, summary, applied_at, applied_by, customers, rows_changed,
    undone_at, undone_by."""
    return store.query(
        "SELECT fix_id, kind, summary, applied_at, applied_by, json_array_length(customer_ids)::BIGINT AS customers, "
        "rows_changed, undone_at, undone_by FROM quality_audit WHERE dataset_id = ? ORDER BY fix_id DESC",
        [dataset_id],
    )


def _recorded_tables(cur, fix_id: int) -> tuple[str, ...]:
    """The canonical tables whose rows a fix recorded (customers only for a field fix; all for a merge)."""
    rows = cur.execute("SELECT json_keys(\"before\") FROM quality_audit WHERE fix_id = ?", [fix_id]).fetchall()
    keys = set(rows[0][0]) if rows else set()
    return tuple(t for t in schema.TABLE_NAMES if t in keys)


def fix_rows(store, fix_id: int) -> dict[str, dict[str, pl.DataFrame]]:
    """The rows a fix recorded: {"before"|"after": {table: frame}} (tables without rows left out)."""
    out: dict[str, dict[str, pl.DataFrame]] = {"before": {}, "after": {}}
    tables = _recorded_tables(store.cursor(), fix_id)
    for side, frames in out.items():
        for t in tables:
            frame = store.query(_rows_sql(t, side), {"fix": fix_id})
            if frame.height:
                frames[t] = frame
    return out


def undo(store: Store, fix_id: int, undone_by: str | None = None) -> str:
    """Undo a fix exactly (one transaction with the facts rebuilt); returns a sentence saying what was undone.

    Raises
    ------
    StoreError
        The fix does not exist or is undone already; a later fix that is still applied touched the same
        customers (undo that one first); or the rows changed since (an import or edit). Nothing is changed.
    """
    with store.transaction() as cur:
        row = cur.execute("SELECT dataset_id, summary, customer_ids, undone_at FROM quality_audit "
                          "WHERE fix_id = ?", [fix_id]).fetchall()
        if not row:
            raise StoreError(f"There is no fix #{fix_id}.")
        dataset_id, summary, ids_json, undone_at = row[0]
        tables = _recorded_tables(cur, fix_id)
        if undone_at is not None:
            raise StoreError(f"Fix #{fix_id} was undone already ({undone_at:%Y-%m-%d %H:%M}).")
        ids = set(json.loads(ids_json))
        for later_id, later_kind, later_ids in cur.execute(
            "SELECT fix_id, kind, customer_ids FROM quality_audit WHERE dataset_id = ? AND fix_id > ? "
            "AND undone_at IS NULL ORDER BY fix_id DESC", [dataset_id, fix_id]
        ).fetchall():
            shared = ids & set(json.loads(later_ids))
            if shared:
                example = ", ".join(sorted(shared)[:3])
                raise StoreError(
                    f"Cannot undo fix #{fix_id}: the later fix #{later_id} ({LABELS.get(later_kind, later_kind)}) "
                    f"changed the same customers ({len(shared):,}, e.g. {example}). Undo fix #{later_id} first. "
                    "Nothing was changed.")
        view = f"q_ids_{uuid.uuid4().hex[:12]}"
        cur.register(view, pl.DataFrame({"customer_id": sorted(ids)}, schema={"customer_id": pl.String}).to_arrow())
        try:
            for t in tables:
                current = (f"SELECT * FROM {quote_ident(t)} WHERE dataset_id = $ds AND customer_id IN "
                           f"(SELECT customer_id FROM {view})")
                cols = ", ".join(quote_ident(c) for c in ("dataset_id", "batch_id", *schema.TABLES[t].column_names))
                after = f"SELECT {cols} FROM ({_rows_sql(t, 'after')})"
                diff = cur.execute(
                    f"SELECT (SELECT count(*) FROM (({current}) EXCEPT ALL ({after}))) + "
                    f"(SELECT count(*) FROM (({after}) EXCEPT ALL ({current})))",
                    {"ds": dataset_id, "fix": fix_id}).fetchall()[0][0]
                if diff:
                    raise StoreError(
                        f"Cannot undo fix #{fix_id}: {diff:,} {t} row(s) of its customers changed after it (an "
                        "import, or a fix since undone out of order). Undoing would lose those changes; nothing "
                        "was changed.")
            for t in tables:
                cols = ", ".join(quote_ident(c) for c in ("dataset_id", "batch_id", *schema.TABLES[t].column_names))
                cur.execute(f"DELETE FROM {quote_ident(t)} WHERE dataset_id = ? AND customer_id IN "
                            f"(SELECT customer_id FROM {view})", [dataset_id])
                cur.execute(f"INSERT INTO {quote_ident(t)} ({cols}) SELECT {cols} FROM ({_rows_sql(t, 'before')})",
                            {"fix": fix_id})
        finally:
            cur.unregister(view)
        cur.execute("UPDATE quality_audit SET undone_at = ?, undone_by = ? WHERE fix_id = ?",
                    [_now(), undone_by, fix_id])
        Store._rebuild_facts(cur, dataset_id)
    return f"Undid fix #{fix_id}: {summary}."
