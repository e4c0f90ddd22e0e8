"""The DuckDB store: datasets, import batches, canonical tables and customer facts (DESIGN.md §6).

One database file holds every dataset side by side. Every import is a single DuckDB transaction:
the batch record, the rows, a replaced table and the rebuilt ``customer_facts`` land together or
not at all, so a failure anywhere leaves the store exactly as it was.

Threading: one ``Store`` (one DuckDB connection) per process; each call works on its own
``con.cursor()``; writes are serialised by a lock.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import polars as pl

from crm_core import results, schema, sql
from crm_core.sql import quote_ident

DEFAULT_DB = Path(__file__).resolve().parents[1] / "data" / "crm.duckdb"
SCHEMA_VERSION = 3  # 2: cost rates; cost_to_serve and net_profit in customer_facts; 3: facts = default scope


DUCKDB_MEMORY = "2GB"  # memory_limit of the DuckDB connection unless CRM_LENS_DUCKDB_MEMORY says otherwise


class StoreError(Exception):
    """A store operation cannot be carried out; the message is fit to show to the user."""


def default_path() -> Path:
    """``CRM_LENS_DB`` if set, else ``data/crm.duckdb`` in the project."""
    env = os.environ.get("CRM_LENS_DB")
    return Path(env) if env else DEFAULT_DB


@dataclass
class TableLoad:
    """One canonical frame to load as one import batch."""

    table: str
    frame: pl.DataFrame  # canonical columns (a subset is fine), typed
    file_name: str
    sha256: str = ""
    system: str = "generic"
    mapping: dict[str, str] = field(default_factory=dict)
    rows_read: int | None = None
    rows_rejected: int = 0
    currency: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LoadResult:
    dataset_id: int
    dataset: str
    batches: tuple[tuple[str, int, int, int], ...]  # (table, batch_id, loaded, rejected)

    def per_table(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for table, _batch, loaded, rejected in self.batches:
            t = out.setdefault(table, {"loaded": 0, "rejected": 0})
            t["loaded"] += loaded
            t["rejected"] += rejected
        return out


_META_DDL = (
    "CREATE SEQUENCE IF NOT EXISTS dataset_seq START 1",
    "CREATE SEQUENCE IF NOT EXISTS batch_seq START 1",
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS datasets (
        dataset_id INTEGER PRIMARY KEY,
        name VARCHAR NOT NULL UNIQUE,
        is_sample BOOLEAN NOT NULL DEFAULT FALSE,
        currency VARCHAR,
        created_at TIMESTAMP NOT NULL,
        settings JSON
    )""",
    """CREATE TABLE IF NOT EXISTS import_batches (
        batch_id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL,
        file_name VARCHAR NOT NULL,
        sha256 VARCHAR,
        system VARCHAR,
        table_name VARCHAR NOT NULL,
        mode VARCHAR NOT NULL,
        mapping JSON,
        rows_read BIGINT,
        rows_loaded BIGINT NOT NULL,
        rows_rejected BIGINT NOT NULL,
        currency VARCHAR,
        notes JSON,
        imported_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS mapping_profiles (
        signature VARCHAR PRIMARY KEY,
        table_name VARCHAR NOT NULL,
        system VARCHAR,
        mapping JSON NOT NULL,
        headers JSON,
        saved_at TIMESTAMP NOT NULL
    )""",
    # A dataset's own activity cost rates (DESIGN §4 "settings per dataset: cost_rates"); a pool/unit
    # without a row here takes its default from cost_rate_defaults (crm_core/metrics/cost_rates.yaml).
    """CREATE TABLE IF NOT EXISTS cost_rates (
        dataset_id INTEGER NOT NULL,
        pool VARCHAR NOT NULL,
        unit VARCHAR NOT NULL,
        rate DOUBLE NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS cost_rate_defaults (
        position INTEGER NOT NULL,
        pool VARCHAR NOT NULL,
        unit VARCHAR NOT NULL,
        rate DOUBLE NOT NULL
    )""",
    # A dataset's KPI targets (DESIGN §4 "settings per dataset: targets"; crm_core/metrics/targets.py).
    """CREATE TABLE IF NOT EXISTS targets (
        dataset_id INTEGER NOT NULL,
        metric_id VARCHAR NOT NULL,
        period VARCHAR NOT NULL,
        value DOUBLE NOT NULL,
        PRIMARY KEY (dataset_id, metric_id, period)
    )""",
    # QCI / Gartner assessments of a dataset (DESIGN §4 "settings per dataset: assessments";
    # crm_core/frameworks/assessments.py).
    """CREATE TABLE IF NOT EXISTS assessments (
        assessment_id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL,
        framework VARCHAR NOT NULL,
        taken_at TIMESTAMP NOT NULL,
        taken_by VARCHAR,
        answers JSON NOT NULL,
        notes JSON
    )""",
    # Page results of the default scope (crm_core/results.py), cleared whenever the facts are rebuilt.
    results.SEQUENCE_DDL,
    results.DDL,
    # Data-quality fixes (crm_core/quality/fixes.py): each applied fix with the rows it touched as they were
    # before and after, so it can be undone exactly.
    """CREATE TABLE IF NOT EXISTS quality_audit (
        fix_id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL,
        kind VARCHAR NOT NULL,
        summary VARCHAR,
        applied_at TIMESTAMP NOT NULL,
        applied_by VARCHAR,
        customer_ids JSON NOT NULL,
        rows_changed BIGINT,
        "before" JSON NOT NULL,
        "after" JSON NOT NULL,
        undone_at TIMESTAMP,
        undone_by VARCHAR
    )""",
)


def _facts_query(cur, dataset_id: int) -> tuple[str, dict]:
    """The stored customer_facts query of a dataset and its parameters: the windowed facts over the
    dataset's default scope (``crm_core.metrics.facts.stored_facts_query``)."""
    from crm_core.metrics import facts  # imported here: crm_core.metrics may import the store

    return facts.stored_facts_query(cur, dataset_id)


def _first(result) -> tuple | None:
    """First row of a result, consuming it whole (DuckDB 2.0 refuses new work on a cursor with an
    unfinished result)."""
    rows = result.fetchall()
    return rows[0] if rows else None


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Store:
    """A CRM Lens database file.

    Parameters
    ----------
    path
        Database file; ``None`` means :func:`default_path`. ``":memory:"`` for a throw-away store.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = str(default_path() if path is None else path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            # DuckDB's own default is 80% of RAM, on top of the frames Python holds: 10M transactions took the
            # engine bench past 4 GB. 2 GB is ample for its hash tables and sorts at that size (they spill
            # beyond it); CRM_LENS_DUCKDB_MEMORY overrides it (DuckDB's syntax, e.g. "8GB").
            self.con = duckdb.connect(self.path, config={"memory_limit": os.environ.get(
                "CRM_LENS_DUCKDB_MEMORY", DUCKDB_MEMORY)})
        except duckdb.Error as exc:  # locked by another process, corrupt, unreadable
            raise StoreError(f"Cannot open the CRM Lens database {self.path}: {exc}") from exc
        self._write_lock = threading.RLock()
        self.token = uuid.uuid4().hex  # names this open store in in-process caches (crm_core.views)
        # Counts the write transactions ended: what was read from the data between two of them is still true
        # (crm_core.results.data_version). Every write goes through transaction(), and DuckDB lets no other
        # process open a database this one has open for writing.
        self.generation = 0
        self._migrate()

    # ------------------------------------------------------------------ plumbing
    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self.con.cursor()

    def close(self) -> None:
        from crm_core import results

        results.finish_writes(self)  # results threads are still writing (results.cached(..., write_later=True))
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def query(self, text: str, params: Sequence | dict | None = None) -> pl.DataFrame:
        """Run a read query on a fresh cursor and return a Polars frame."""
        return self.cursor().sql(text, params=params).pl()

    def scalar(self, text: str, params: Sequence | dict | None = None):
        row = _first(self.cursor().execute(text, params or []))
        return None if row is None else row[0]

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction on its own cursor: commit on success, roll back on any error."""
        with self._write_lock:
            cur = self.cursor()
            cur.begin()
            try:
                yield cur
            except BaseException:
                cur.rollback()
                raise
            else:
                cur.commit()
            finally:
                self.generation += 1  # after the commit: a reader that saw the old count reads again

    def _migrate(self) -> None:
        if self._migrate_tables():
            # DuckDB 2.0: rows inserted into a table dropped and re-created in the same transaction read as
            # empty in this process (count(*) still right) until a checkpoint, from about one row group
            # (~123k rows) on; the file itself is right. tests/unit/test_store.py reproduces it.
            self.con.execute("CHECKPOINT")

    def _migrate_tables(self) -> bool:
        """Create or update the tables; rebuild every dataset's facts when they are stale (True then)."""
        stale = False
        with self.transaction() as cur:
            for ddl in _META_DDL:
                cur.execute(ddl)
            results.migrate(cur)
            for table in schema.TABLES.values():
                cur.execute(schema.create_table_sql(table))
            cur.execute(sql.load("purchases_view"))
            stale = self._sync_default_rates(cur)
            stale = self._ensure_facts_table(cur) or stale
            if stale:  # facts computed with other default rates or another column set
                for (dataset_id,) in cur.execute("SELECT dataset_id FROM datasets").fetchall():
                    self._rebuild_facts(cur, int(dataset_id))
            cur.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )
        return stale

    @staticmethod
    def _sync_default_rates(cur) -> bool:
        """Mirror cost_rates.yaml into cost_rate_defaults; True when the defaults changed."""
        from crm_core.metrics import cost

        rows = [(i, *r) for i, r in enumerate(cost.default_rates().iter_rows())]
        have = cur.execute("SELECT position, pool, unit, rate FROM cost_rate_defaults ORDER BY position").fetchall()
        if [tuple(h) for h in have] == rows:
            return False
        cur.execute("DELETE FROM cost_rate_defaults")
        cur.executemany("INSERT INTO cost_rate_defaults VALUES (?, ?, ?, ?)", rows)
        return bool(have)

    @staticmethod
    def _ensure_facts_table(cur) -> bool:
        """Create customer_facts with the columns of the facts query; recreate it (True) when a file made
        by an older version has other columns."""
        text, params = _facts_query(cur, 0)
        query = f"SELECT * FROM ({text}) WHERE FALSE"
        result = cur.execute(query, params)
        want = [d[0] for d in result.description]
        result.fetchall()  # consume: DuckDB 2.0 refuses new work on a cursor with an unfinished result
        have = [
            r[0]
            for r in cur.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'customer_facts' AND table_schema = current_schema() ORDER BY ordinal_position"
            ).fetchall()
        ]
        if have == want:
            return False
        cur.execute("DROP TABLE IF EXISTS customer_facts")
        cur.execute(f"CREATE TABLE customer_facts AS {query}", params)
        return bool(have)

    # ------------------------------------------------------------------ datasets
    def datasets(self) -> pl.DataFrame:
        """Datasets with their row count per canonical table, oldest first."""
        counts = ", ".join(
            f"(SELECT COUNT(*) FROM {quote_ident(t)} x WHERE x.dataset_id = d.dataset_id)::BIGINT "
            f"AS {quote_ident(t)}"
            for t in schema.TABLE_NAMES
        )
        return self.query(
            f"SELECT d.dataset_id, d.name, d.is_sample, d.currency, d.created_at, {counts} "
            "FROM datasets d ORDER BY d.dataset_id"
        )

    def dataset_id(self, name: str) -> int | None:
        return self.scalar("SELECT dataset_id FROM datasets WHERE name = ?", [name])

    def dataset_name(self, dataset_id: int) -> str | None:
        return self.scalar("SELECT name FROM datasets WHERE dataset_id = ?", [dataset_id])

    def dataset_info(self, dataset_id: int) -> dict | None:
        rows = self.query("SELECT * FROM datasets WHERE dataset_id = ?", [dataset_id]).to_dicts()
        return rows[0] if rows else None

    def table_counts(self, dataset_id: int) -> dict[str, int]:
        row = self.datasets().filter(pl.col("dataset_id") == dataset_id)
        if row.is_empty():
            return {t: 0 for t in schema.TABLE_NAMES}
        return {t: int(row[t][0]) for t in schema.TABLE_NAMES}

    def create_dataset(self, name: str, *, is_sample: bool = False, currency: str | None = None) -> int:
        with self.transaction() as cur:
            return self._create_dataset(cur, name, is_sample=is_sample, currency=currency)

    @staticmethod
    def _create_dataset(cur, name: str, *, is_sample: bool = False, currency: str | None = None) -> int:
        name = (name or "").strip()
        if not name:
            raise StoreError("A dataset needs a name.")
        existing = _first(cur.execute("SELECT dataset_id FROM datasets WHERE name = ?", [name]))
        if existing:
            raise StoreError(f"A dataset named '{name}' exists already.")
        (dataset_id,) = _first(cur.execute("SELECT nextval('dataset_seq')"))
        cur.execute(
            "INSERT INTO datasets (dataset_id, name, is_sample, currency, created_at, settings) "
            "VALUES (?, ?, ?, ?, ?, '{}')",
            [dataset_id, name, is_sample, currency, _now()],
        )
        return int(dataset_id)

    def rename_dataset(self, dataset_id: int, new_name: str) -> None:
        new_name = (new_name or "").strip()
        if not new_name:
            raise StoreError("A dataset needs a name.")
        with self.transaction() as cur:
            clash = _first(cur.execute(
                "SELECT 1 FROM datasets WHERE name = ? AND dataset_id <> ?", [new_name, dataset_id]
            ))
            if clash:
                raise StoreError(f"A dataset named '{new_name}' exists already.")
            cur.execute("UPDATE datasets SET name = ? WHERE dataset_id = ?", [new_name, dataset_id])

    def delete_dataset(self, dataset_id: int) -> None:
        """Delete a dataset with all its rows, batches and facts, in one transaction."""
        with self.transaction() as cur:
            if _first(cur.execute("SELECT 1 FROM datasets WHERE dataset_id = ?", [dataset_id])) is None:
                raise StoreError(f"There is no dataset {dataset_id}.")
            results.clear(cur, dataset_id)
            for table in (*schema.TABLE_NAMES, "customer_facts", "cost_rates", "targets", "assessments",
                          "quality_audit", "import_batches", "datasets"):
                cur.execute(f"DELETE FROM {quote_ident(table)} WHERE dataset_id = ?", [dataset_id])

    def batches(self, dataset_id: int | None = None) -> pl.DataFrame:
        """Import history, newest first."""
        where, params = ("WHERE b.dataset_id = ?", [dataset_id]) if dataset_id is not None else ("", [])
        return self.query(
            "SELECT b.batch_id, d.name AS dataset, b.file_name, b.system, b.table_name, b.mode, "
            "b.rows_read, b.rows_loaded, b.rows_rejected, b.currency, b.sha256, b.imported_at, b.mapping "
            f"FROM import_batches b JOIN datasets d USING (dataset_id) {where} "
            "ORDER BY b.batch_id DESC",
            params,
        )

    def find_batch_by_sha(self, dataset_id: int, sha256: str, table: str) -> dict | None:
        rows = self.query(
            "SELECT batch_id, file_name, imported_at FROM import_batches "
            "WHERE dataset_id = ? AND sha256 = ? AND table_name = ? ORDER BY batch_id DESC LIMIT 1",
            [dataset_id, sha256, table],
        ).to_dicts()
        return rows[0] if rows else None

    def existing_keys(self, dataset_id: int, table: str, keys: pl.Series) -> pl.Series:
        """Those of ``keys`` that already exist in ``table`` for the dataset."""
        key = schema.TABLES[table].key
        if key is None or keys.len() == 0:
            return pl.Series(keys.name, [], dtype=pl.String)
        cur = self.cursor()
        view = f"keys_{uuid.uuid4().hex}"
        cur.register(view, pl.DataFrame({"k": keys.cast(pl.String)}).to_arrow())
        try:
            found = cur.sql(
                f"SELECT DISTINCT k FROM {quote_ident(view)} "
                f"WHERE k IN (SELECT {quote_ident(key)} FROM {quote_ident(table)} WHERE dataset_id = ?)",
                params=[dataset_id],
            ).pl()
        finally:
            cur.unregister(view)
        return found["k"]

    # ------------------------------------------------------------------ loading
    def load(
        self,
        dataset: str,
        loads: Sequence[TableLoad],
        *,
        replace: bool = False,
        create: bool = True,
        is_sample: bool = False,
    ) -> LoadResult:
        """Load canonical frames into a dataset as one transaction.

        Parameters
        ----------
        dataset
            Dataset name; created when missing and ``create`` is true.
        loads
            One :class:`TableLoad` per file/sheet. Several loads of the same table append in order.
        replace
            Replace each loaded table's rows in the dataset instead of appending.

        Raises
        ------
        StoreError
            Nothing was changed (unknown dataset, currency clash, duplicate keys, database error).
        """
        if not loads:
            raise StoreError("Nothing to import.")
        try:
            with self.transaction() as cur:
                row = _first(cur.execute(
                    "SELECT dataset_id, currency FROM datasets WHERE name = ?", [dataset]
                ))
                if row is None:
                    if not create:
                        raise StoreError(f"There is no dataset named '{dataset}'.")
                    dataset_id = self._create_dataset(cur, dataset, is_sample=is_sample)
                    currency = None
                else:
                    dataset_id, currency = int(row[0]), row[1]
                currency = self._check_currency(cur, dataset_id, currency, loads)
                replaced: set[str] = set()
                out = []
                for load in loads:
                    if replace and load.table not in replaced:
                        cur.execute(
                            f"DELETE FROM {quote_ident(load.table)} WHERE dataset_id = ?", [dataset_id]
                        )
                        replaced.add(load.table)
                    batch_id, loaded = self._insert_batch(
                        cur, dataset_id, load, "replace" if replace else "append"
                    )
                    out.append((load.table, batch_id, loaded, load.rows_rejected))
                self._rebuild_facts(cur, dataset_id)
            return LoadResult(dataset_id, dataset, tuple(out))
        except duckdb.Error as exc:
            raise StoreError(f"The import was rolled back; the store is unchanged. Database error: {exc}") from exc

    @staticmethod
    def _check_currency(cur, dataset_id: int, currency: str | None, loads: Sequence[TableLoad]) -> str | None:
        seen = {ld.currency for ld in loads if ld.currency}
        if currency:
            seen.add(currency)
        if len(seen) > 1:
            files = ", ".join(f"{ld.file_name} ({ld.currency})" for ld in loads if ld.currency)
            raise StoreError(
                f"Mixed currencies: the dataset is in {currency or 'no currency yet'} and the files are in "
                f"{files}. Convert them to one currency or import them into separate datasets."
            )
        new = next(iter(seen), None)
        if new and new != currency:
            cur.execute("UPDATE datasets SET currency = ? WHERE dataset_id = ?", [new, dataset_id])
        return new

    @staticmethod
    def _insert_batch(cur, dataset_id: int, load: TableLoad, mode: str) -> tuple[int, int]:
        table = schema.TABLES[load.table]
        unknown = [c for c in load.frame.columns if c not in table.column_names]
        if unknown:
            raise StoreError(f"{load.file_name}: columns {unknown} are not part of the {table.name} table.")
        (batch_id,) = _first(cur.execute("SELECT nextval('batch_seq')"))
        frame = load.frame
        view = f"incoming_{uuid.uuid4().hex}"
        cur.register(view, frame.to_arrow())
        try:
            select = []
            for c in table.columns:
                if c.name in frame.columns:
                    expr = f"CAST({quote_ident(c.name)} AS {c.sql_type})"
                else:
                    expr = f"NULL::{c.sql_type}"
                if c.name == table.key and table.key_generated:
                    # Generated ids for rows without one: unique per batch and row (DESIGN §4).
                    expr = f"COALESCE({expr}, 'B{int(batch_id)}-' || CAST(row_number() OVER () AS VARCHAR))"
                select.append(f"{expr} AS {quote_ident(c.name)}")
            cur.execute(
                f"INSERT INTO {quote_ident(table.name)} "
                f"SELECT ?::INTEGER, ?::INTEGER, {', '.join(select)} FROM {quote_ident(view)}",
                [dataset_id, batch_id],
            )
        finally:
            cur.unregister(view)
        if table.key:
            dup = cur.execute(
                f"SELECT {quote_ident(table.key)}, COUNT(*) FROM {quote_ident(table.name)} "
                f"WHERE dataset_id = ? GROUP BY 1 HAVING COUNT(*) > 1 LIMIT 3",
                [dataset_id],
            ).fetchall()
            if dup:
                ids = ", ".join(repr(d[0]) for d in dup)
                raise StoreError(
                    f"{load.file_name}: {table.key} {ids} would exist twice in the dataset's {table.name}. "
                    "Replace the table instead of appending, or remove the rows already imported."
                )
        cur.execute(
            "INSERT INTO import_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch_id, dataset_id, load.file_name, load.sha256, load.system, load.table, mode,
                json.dumps(load.mapping), load.rows_read if load.rows_read is not None else frame.height,
                frame.height, load.rows_rejected, load.currency, json.dumps(load.notes), _now(),
            ],
        )
        return int(batch_id), frame.height

    @staticmethod
    def _rebuild_facts(cur, dataset_id: int) -> None:
        results.clear(cur, dataset_id)  # results of the old facts must never be read again
        cur.execute("DELETE FROM customer_facts WHERE dataset_id = ?", [dataset_id])
        text, params = _facts_query(cur, dataset_id)
        cur.execute(f"INSERT INTO customer_facts BY NAME {text}", params)

    def rebuild_facts(self, dataset_id: int) -> None:
        with self.transaction() as cur:
            self._rebuild_facts(cur, dataset_id)

    # ------------------------------------------------------------------ saved mappings
    def saved_mapping(self, signature: str) -> dict | None:
        rows = self.query(
            "SELECT table_name, system, mapping FROM mapping_profiles WHERE signature = ?", [signature]
        ).to_dicts()
        if not rows:
            return None
        r = rows[0]
        return {"table": r["table_name"], "system": r["system"], "mapping": json.loads(r["mapping"])}

    def save_mapping(
        self, signature: str, table: str, system: str | None, mapping: dict[str, str], headers: list[str]
    ) -> None:
        with self.transaction() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO mapping_profiles VALUES (?, ?, ?, ?, ?, ?)",
                [signature, table, system, json.dumps(mapping), json.dumps(headers), _now()],
            )

    # ------------------------------------------------------------------ reading
    def table(self, table: str, dataset_id: int, limit: int | None = None) -> pl.DataFrame:
        if table not in (*schema.TABLE_NAMES, "customer_facts", "purchases"):
            raise StoreError(f"Unknown table {table!r}.")
        lim = f" LIMIT {int(limit)}" if limit else ""
        return self.query(f"SELECT * FROM {quote_ident(table)} WHERE dataset_id = ?{lim}", [dataset_id])

    def load_sample(self, customers: int = 3000, seed: int = 7) -> LoadResult:
        """Load the seeded sample company (``crm_core.sample``) as its own dataset."""
        from crm_core import sample

        frames = sample.generate(customers=customers, seed=seed)
        loads = [
            TableLoad(
                name, frame, file_name=f"sample:{name}", system="sample", rows_read=frame.height,
                currency=sample.CURRENCY,
            )
            for name, frame in frames.items()
        ]
        return self.load(sample.SAMPLE_DATASET, loads, is_sample=True)

    def has_sample_only(self) -> bool:
        return bool(self.scalar("SELECT COUNT(*) = 0 FROM datasets WHERE NOT is_sample"))

    def is_empty(self) -> bool:
        return not self.scalar("SELECT COUNT(*) FROM datasets")

    def snapshot(self) -> dict[str, list]:
        """Every row of every table, sorted: for tests that assert the store is unchanged."""
        out = {}
        for t in (
            "datasets", "import_batches", "mapping_profiles", "customer_facts", "cost_rates", *schema.TABLE_NAMES
        ):
            out[t] = sorted(map(repr, self.cursor().execute(f"SELECT * FROM {quote_ident(t)}").fetchall()))
        return out
