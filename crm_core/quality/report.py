"""The quality report of a dataset: every check, its counts and offending rows, and the 0–100 score.

One DuckDB cursor does the work over a temporary, prepared copy of the dataset's customers (trimmed and
normalized contact values, canonical country, phone region, parsed phone); each check is one set query over it
(values bound, identifiers quoted). The report is kept in the store (``crm_core.results``) under the dataset's
data version, its audit state, the phone region and the rules' hash, so a page view reads it back; an import or
a fix clears it in the same transaction (``Store._rebuild_facts``).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl

from crm_core import results, schema
from crm_core.quality import duplicates, phones, rules
from crm_core.sql import quote_ident

log = logging.getLogger(__name__)

#: Offending rows kept per problem kind (the count is always exact).
EXAMPLE_CAP = 100_000
#: A date before this is impossible in a CRM.
EARLIEST = datetime(1900, 1, 1)
#: Dates up to this far past "now" are not called future (time zones, clocks).
FUTURE_GRACE = timedelta(days=1)
FALLBACK_REGION = "US"
RESULT_NAME = "quality_report"

#: (table, date column) pairs checked for future and impossible dates.
DATE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("customers", "created_at"), ("transactions", "occurred_at"), ("interactions", "occurred_at"),
    ("feedback", "responded_at"), ("deals", "created_at"), ("deals", "closed_at"),
)

#: Problem kinds: id -> (label, table, what the count counts, the fix that repairs it or None).
PROBLEMS: dict[str, tuple[str, str, str, str | None]] = {
    "email_invalid": ("Invalid emails", "customers", "customers whose email is not a valid address", None),
    "email_unnormalized": ("Emails not trimmed / lower-case", "customers",
                           "customers whose email has spaces around it or capital letters", "emails"),
    "phone_invalid": ("Phone numbers that do not parse", "customers",
                      "customers whose phone is not a valid number of their country (or the default region)", None),
    "phone_unformatted": ("Phones not in E.164", "customers",
                          "customers with a valid phone not written as +<country><number>", "phones"),
    "country_variant": ("Country spellings", "customers",
                        "customers whose country is a known country spelled another way (USA, U.S., DE…)",
                        "countries"),
    "country_unknown": ("Unrecognised countries", "customers",
                        "customers whose country is not in the country list (crm_core/quality/countries.yaml)", None),
    "region_variant": ("Region spellings", "customers",
                       "customers whose region differs from the usual spelling only by case, spaces or accents",
                       "countries"),
    "duplicate_exact": ("Exact duplicates", "customers",
                        "customers in a cluster that shares a normalized email or phone", "merge"),
    "duplicate_likely": ("Likely duplicates", "customers",
                         "customers in a cluster joined by similar name + company in the same country", "merge"),
    "orphan_transactions": ("Orphan transactions", "transactions",
                            "transactions whose customer is not in the customers table", None),
    "orphan_interactions": ("Orphan interactions", "interactions",
                            "interactions whose customer is not in the customers table", None),
    "future_dates": ("Future dates", "all", "rows dated after today", None),
    "impossible_dates": ("Impossible dates", "all", "rows dated before 1900, or deals closed before created", None),
    "negative_not_refund": ("Negative amounts not marked as refunds", "transactions",
                            "transactions with an amount below 0 whose status is not 'refunded'", None),
}

#: What each fix does, for the pages and the CLI.
FIXES: dict[str, str] = {
    "emails": "Trim and lower-case every email (\" Ann@X.com \" → \"ann@x.com\").",
    "phones": "Rewrite every valid phone number in E.164 (\"020 7946 0958\" in the UK → \"+442079460958\").",
    "countries": "Map country spellings to one name (\"USA\", \"U.S.\" → \"United States\") and region spellings "
                 "to their most common form.",
    "merge": "Merge a duplicate cluster into the record you keep: its empty fields are filled from the others, "
             "their transactions, interactions, feedback and deals move to it, and the others are deleted.",
}

EXAMPLE_SCHEMA = {"table": pl.String, "record_id": pl.String, "customer_id": pl.String, "field": pl.String,
                  "value": pl.String, "suggestion": pl.String}


@dataclass(frozen=True)
class QualityReport:
    """What :func:`build_report` found in one dataset."""

    dataset_id: int
    phone_region: str
    phone_region_inferred: bool
    customers: int
    score: float | None  # 0..100; None without customer records
    components: pl.DataFrame  # component, label, weight, value (0..1 or null), definition
    counts: dict  # problem kind -> count
    problems: pl.DataFrame  # kind, label, table, count, base, share, fix, what
    examples: dict  # problem kind -> frame of offending rows (EXAMPLE_SCHEMA), at most EXAMPLE_CAP rows
    completeness: pl.DataFrame  # table, field, rows, filled, completeness
    clusters: pl.DataFrame  # cluster, customer_id, match, size, reason + the members' contact fields
    stats: dict = field(default_factory=dict)  # blocking and timing figures
    seconds: float = 0.0

    @property
    def contact_completeness(self) -> float | None:
        """Catalog ``data_completeness``: filled contact fields ÷ (customers × 5)."""
        hit = self.components.filter(pl.col("component") == "completeness")
        return hit["value"][0] if hit.height else None

    @property
    def duplicate_rate(self) -> float | None:
        """Catalog ``duplicate_rate``: customers in a duplicate cluster ÷ customers."""
        if not self.customers:
            return None
        return (self.counts.get("duplicate_exact", 0) + self.counts.get("duplicate_likely", 0)) / self.customers

    def cluster_lists(self, match: str | None = None) -> list[list[str]]:
        """Duplicate clusters as lists of customer ids (exact first, then likely; each list sorted)."""
        frame = self.clusters if match is None else self.clusters.filter(pl.col("match") == match)
        if frame.is_empty():
            return []
        grouped = (frame.group_by("cluster", "match").agg(pl.col("customer_id").sort())
                   .sort([pl.col("match") != "exact", "cluster"]))
        return grouped["customer_id"].to_list()

    def to_dict(self) -> dict:
        """The CLI's JSON: score, components, counts, clusters (lists of customer ids)."""
        return {
            "dataset_id": self.dataset_id,
            "customers": self.customers,
            "score": None if self.score is None else round(self.score, 2),
            "components": {r["component"]: r["value"] for r in self.components.to_dicts()},
            "weights": {r["component"]: r["weight"] for r in self.components.to_dicts()},
            "counts": dict(self.counts),
            "phone_region": self.phone_region,
            "clusters": self.cluster_lists(),
            "cluster_match": (["exact"] * len(self.cluster_lists("exact"))
                              + ["likely"] * len(self.cluster_lists("likely"))),
            "data_completeness": self.contact_completeness,
            "duplicate_rate": self.duplicate_rate,
            "seconds": round(self.seconds, 3),
        }


# ---------------------------------------------------------------------------------------------- settings
def _settings(store, dataset_id: int) -> dict:
    raw = store.scalar("SELECT settings FROM datasets WHERE dataset_id = ?", [dataset_id])
    try:
        return json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}


def inferred_region(store, dataset_id: int) -> str:
    """The phone region most of the dataset's customers live in (by their country), else US."""
    cur = store.cursor()
    cur.register("q_country_keys", rules.country_table().to_arrow())
    try:
        row = cur.execute(
            f"SELECT k.iso2 FROM customers c JOIN q_country_keys k ON k.key = {rules.key_sql('c.country')} "
            "WHERE c.dataset_id = ? GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
            [dataset_id],
        ).fetchall()
    finally:
        cur.unregister("q_country_keys")
    region = row[0][0] if row else None
    return region if region in phones.SUPPORTED_REGIONS else FALLBACK_REGION


def phone_region(store, dataset_id: int) -> tuple[str, bool]:
    """``(region, inferred)``: the dataset's default phone region (a saved setting, else inferred)."""
    saved = _settings(store, dataset_id).get("phone_region")
    if saved in phones.SUPPORTED_REGIONS:
        return saved, False
    return inferred_region(store, dataset_id), True


def set_phone_region(store, dataset_id: int, region: str | None) -> None:
    """Save the dataset's default phone region (None: infer it again from the countries)."""
    from crm_core.store import StoreError

    if region is not None:
        region = str(region).strip().upper()
        if region not in phones.SUPPORTED_REGIONS:
            raise StoreError(f"{region!r} is not a phone region: use a two-letter country code such as US or GB.")
    with store.transaction() as cur:
        rows = cur.execute("SELECT settings FROM datasets WHERE dataset_id = ?", [dataset_id]).fetchall()
        if not rows:
            raise StoreError(f"There is no dataset {dataset_id}.")
        try:
            settings = json.loads(rows[0][0]) if rows[0][0] else {}
        except (TypeError, ValueError):
            settings = {}
        if region is None:
            settings.pop("phone_region", None)
        else:
            settings["phone_region"] = region
        cur.execute("UPDATE datasets SET settings = ? WHERE dataset_id = ?", [json.dumps(settings), dataset_id])


# ---------------------------------------------------------------------------------------------- preparing
def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def prepare_customers(cur, dataset_id: int, region: str, *, parse_phones: bool = True) -> str:
    """A temporary table of the dataset's customers with normalized contact values; returns its name.

    Columns: the customer's own columns, ``email_t`` (trimmed, NULL when blank), ``email_n`` (also
    lower-cased), ``phone_t``, ``phone_region`` (the customer's country's, else ``region``), ``country_key``,
    ``country_canon``, ``iso2`` and, with ``parse_phones``, ``e164`` and ``valid``."""
    base = f"q_base_{uuid.uuid4().hex[:12]}"
    table = f"q_cust_{uuid.uuid4().hex[:12]}"
    cur.register("q_country_keys", rules.country_table().to_arrow())
    try:
        cur.execute(f"""
            CREATE TEMP TABLE {base} AS
            SELECT c.customer_id, c.name, c.email, c.phone, c.company, c.country, c.region, c.created_at,
                   {rules.filled_sql('c.email')} AS email_t, lower({rules.filled_sql('c.email')}) AS email_n,
                   {rules.filled_sql('c.phone')} AS phone_t,
                   nullif({rules.key_sql('c.country')}, '') AS country_key,
                   k.country AS country_canon, k.iso2,
                   coalesce(k.iso2, ?) AS phone_region
            FROM customers c LEFT JOIN q_country_keys k ON k.key = {rules.key_sql('c.country')}
            WHERE c.dataset_id = ?
        """, [region, dataset_id])
    finally:
        cur.unregister("q_country_keys")
    if not parse_phones:
        cur.execute(f"ALTER TABLE {base} RENAME TO {table}")
        return table
    # A value with a leading + does not depend on the region: parse it once.
    pairs = cur.sql(f"""
        SELECT DISTINCT phone_t AS raw, CASE WHEN phone_t LIKE '+%' THEN NULL ELSE phone_region END AS region
        FROM {base} WHERE phone_t IS NOT NULL
    """).pl()
    parsed = phones.parse(pairs)
    view = f"q_phones_{uuid.uuid4().hex[:12]}"
    cur.register(view, parsed.to_arrow())
    try:
        cur.execute(f"""
            CREATE TEMP TABLE {table} AS
            SELECT b.*, p.e164, coalesce(p.valid, FALSE) AS valid
            FROM {base} b LEFT JOIN {view} p
              ON p.raw = b.phone_t
             AND p.region IS NOT DISTINCT FROM (CASE WHEN b.phone_t LIKE '+%' THEN NULL ELSE b.phone_region END)
        """)
    finally:
        cur.unregister(view)
        cur.execute(f"DROP TABLE IF EXISTS {base}")
    return table


def _email_ok(expr: str) -> str:
    pattern = rules.EMAIL_PATTERN.replace("'", "''")
    return f"regexp_full_match({expr}, '{pattern}')"


# ---------------------------------------------------------------------------------------------- the checks
def _examples(cur, query: str, params: list) -> tuple[int, pl.DataFrame]:
    """(count, first EXAMPLE_CAP rows) of an examples query (columns of EXAMPLE_SCHEMA)."""
    count = cur.execute(f"SELECT count(*) FROM ({query})", params).fetchall()[0][0]
    frame = cur.sql(f"SELECT * FROM ({query}) LIMIT {EXAMPLE_CAP}", params=params).pl()
    frame = frame.select(pl.col(c).cast(t) for c, t in EXAMPLE_SCHEMA.items())
    return int(count), frame


def _customer_example(table: str, fld: str, where: str, suggestion: str = "NULL") -> str:
    return (f"SELECT 'customers' AS \"table\", customer_id AS record_id, customer_id, '{fld}' AS field, "
            f"CAST({quote_ident(fld)} AS VARCHAR) AS value, CAST({suggestion} AS VARCHAR) AS suggestion "
            f"FROM {table} WHERE {where} ORDER BY customer_id")


def region_variants_sql(table: str) -> str:
    """customer_id, region (as written), dominant (the most common spelling of its key) for every customer whose
    region differs from its key's dominant spelling."""
    return f"""
        WITH r AS (SELECT customer_id, region, {rules.key_sql('region')} AS rk FROM {table}
                   WHERE {rules.filled_sql('region')} IS NOT NULL),
        spellings AS (SELECT rk, region, count(*) AS n FROM r GROUP BY ALL),
        dominant AS (SELECT rk, arg_max(region, n * 1e6 - length(region)) AS dominant FROM spellings GROUP BY rk)
        SELECT r.customer_id, r.region, d.dominant FROM r JOIN dominant d USING (rk) WHERE r.region <> d.dominant
    """


def _customer_checks(cur, table: str) -> tuple[dict, dict, dict]:
    """counts, examples and component inputs of the customer checks."""
    counts, examples = {}, {}
    email_ok = _email_ok("email_t")
    checks = {
        "email_invalid": _customer_example(table, "email", f"email_t IS NOT NULL AND NOT {email_ok}"),
        "email_unnormalized": _customer_example(
            table, "email", "email_t IS NOT NULL AND email <> email_n", "email_n"),
        "phone_invalid": _customer_example(table, "phone", "phone_t IS NOT NULL AND NOT valid"),
        "phone_unformatted": _customer_example(table, "phone", "valid AND phone <> e164", "e164"),
        "country_variant": _customer_example(
            table, "country", "country_canon IS NOT NULL AND country <> country_canon", "country_canon"),
        "country_unknown": _customer_example(table, "country", "country_key IS NOT NULL AND country_canon IS NULL"),
    }
    for kind, query in checks.items():
        counts[kind], examples[kind] = _examples(cur, query, [])
    region_query = (
        "SELECT 'customers' AS \"table\", customer_id AS record_id, customer_id, 'region' AS field, "
        f"region AS value, dominant AS suggestion FROM ({region_variants_sql(table)}) ORDER BY customer_id"
    )
    counts["region_variant"], examples["region_variant"] = _examples(cur, region_query, [])
    filled = ", ".join(f"count({rules.filled_sql(f)}) AS {quote_ident(f)}" for f in rules.CONTACT_FIELDS)
    row = cur.execute(f"""
        SELECT count(*) AS n, {filled},
               count(email_t) FILTER (WHERE {email_ok}) AS emails_valid,
               count(*) FILTER (WHERE valid) AS phones_valid,
               count(*) FILTER (WHERE valid AND phone = e164) AS phones_standard,
               count(*) FILTER (WHERE email_t IS NOT NULL AND email = email_n) AS emails_standard,
               count(country_canon) AS countries_known,
               count(*) FILTER (WHERE country = country_canon) AS countries_standard,
               count({rules.filled_sql('region')}) AS regions
        FROM {table}
    """).fetchall()[0]
    names = ["n", *rules.CONTACT_FIELDS, "emails_valid", "phones_valid", "phones_standard", "emails_standard",
             "countries_known", "countries_standard", "regions"]
    inputs = {k: int(v or 0) for k, v in zip(names, row)}
    return counts, examples, inputs


def _orphans(cur, dataset_id: int, has_customers: bool) -> tuple[dict, dict, dict]:
    counts, examples, bases = {}, {}, {}
    for t in ("transactions", "interactions"):
        key = schema.TABLES[t].key
        bases[t] = int(cur.execute(f"SELECT count(*) FROM {quote_ident(t)} WHERE dataset_id = ?",
                                   [dataset_id]).fetchall()[0][0])
        if not has_customers:  # nothing to be an orphan of: not checked
            counts[f"orphan_{t}"], examples[f"orphan_{t}"] = 0, pl.DataFrame(schema=EXAMPLE_SCHEMA)
            continue
        query = (
            f"SELECT '{t}' AS \"table\", x.{quote_ident(key)} AS record_id, x.customer_id, 'customer_id' AS field, "
            "x.customer_id AS value, NULL AS suggestion "
            f"FROM {quote_ident(t)} x WHERE x.dataset_id = $ds AND NOT EXISTS ("
            "SELECT 1 FROM customers c WHERE c.dataset_id = $ds AND c.customer_id = x.customer_id) "
            f"ORDER BY x.customer_id, x.{quote_ident(key)}"
        )
        counts[f"orphan_{t}"], examples[f"orphan_{t}"] = _examples(cur, query, {"ds": dataset_id})
    return counts, examples, bases


def _dates_and_amounts(cur, dataset_id: int) -> tuple[dict, dict, dict]:
    now = _now() + FUTURE_GRACE
    future, impossible, dated = [], [], 0
    for t, col in DATE_COLUMNS:
        key = schema.TABLES[t].key
        rid = f"x.{quote_ident(key)}" if key else "x.customer_id || ' @ ' || CAST(x.responded_at AS VARCHAR)"
        c = f"x.{quote_ident(col)}"
        select = (f"SELECT '{t}' AS \"table\", CAST({rid} AS VARCHAR) AS record_id, x.customer_id, '{col}' AS field, "
                  f"CAST({c} AS VARCHAR) AS value, NULL AS suggestion FROM {quote_ident(t)} x "
                  "WHERE x.dataset_id = $ds AND ")
        future.append(select + f"{c} > $now::TIMESTAMP")
        bad = f"{c} < $earliest::TIMESTAMP"
        if t == "deals" and col == "closed_at":
            bad += " OR x.closed_at < x.created_at"
        impossible.append(select + f"({bad})")
        dated += int(cur.execute(f"SELECT count({quote_ident(col)}) FROM {quote_ident(t)} WHERE dataset_id = ?",
                                 [dataset_id]).fetchall()[0][0])
    counts, examples = {}, {}
    counts["future_dates"], examples["future_dates"] = _examples(
        cur, " UNION ALL ".join(future) + " ORDER BY 1, 2", {"ds": dataset_id, "now": now})
    counts["impossible_dates"], examples["impossible_dates"] = _examples(
        cur, " UNION ALL ".join(impossible) + " ORDER BY 1, 2", {"ds": dataset_id, "earliest": EARLIEST})
    query = (
        "SELECT 'transactions' AS \"table\", transaction_id AS record_id, customer_id, 'amount' AS field, "
        "CAST(amount AS VARCHAR) || coalesce(' (' || status || ')', '') AS value, NULL AS suggestion "
        "FROM transactions WHERE dataset_id = $ds AND amount < 0 AND coalesce(lower(status), '') <> 'refunded' "
        "ORDER BY transaction_id"
    )
    counts["negative_not_refund"], examples["negative_not_refund"] = _examples(cur, query, {"ds": dataset_id})
    return counts, examples, {"dated": dated}


def completeness(cur, dataset_id: int) -> pl.DataFrame:
    """Share of filled values per field of every canonical table that has rows (blank text counts as empty)."""
    rows = []
    for t in schema.TABLE_NAMES:
        cols = schema.TABLES[t].column_names
        filled = ", ".join(f"count({rules.filled_sql(quote_ident(c))})" for c in cols)
        row = cur.execute(f"SELECT count(*), {filled} FROM {quote_ident(t)} WHERE dataset_id = ?",
                          [dataset_id]).fetchall()[0]
        n = int(row[0])
        if not n:
            continue
        rows += [{"table": t, "field": c, "rows": n, "filled": int(v), "completeness": int(v) / n}
                 for c, v in zip(cols, row[1:])]
    return pl.DataFrame(rows, schema={"table": pl.String, "field": pl.String, "rows": pl.Int64,
                                      "filled": pl.Int64, "completeness": pl.Float64}, orient="row")


def _share(good: int, base: int) -> float | None:
    return good / base if base else None


def score_components(inputs: dict) -> tuple[pl.DataFrame, float | None]:
    """The components (0..1, None where they do not apply) and the weighted score in 0..100 (None without
    customer records)."""
    n = inputs["n"]
    standard_base = inputs["email"] + inputs["phones_valid"] + inputs["countries_known"] + inputs["regions"]
    standard_good = (inputs["emails_standard"] + inputs["phones_standard"] + inputs["countries_standard"]
                     + inputs["regions"] - inputs["region_variants"])
    values = {
        "completeness": _share(sum(inputs[f] for f in rules.CONTACT_FIELDS), n * len(rules.CONTACT_FIELDS)),
        "uniqueness": None if not n else 1 - inputs["redundant"] / n,
        "email_validity": _share(inputs["emails_valid"], inputs["email"]),
        "phone_validity": _share(inputs["phones_valid"], inputs["phone"]),
        "standardization": _share(standard_good, standard_base),
        "integrity": (None if not n else _share(inputs["linked_base"] - inputs["orphans"], inputs["linked_base"])),
        "plausibility": _share(inputs["plausible_base"] - inputs["implausible"], inputs["plausible_base"]),
    }
    comps = rules.components()
    frame = pl.DataFrame(
        [{"component": c.id, "label": c.label, "weight": c.weight, "value": values.get(c.id),
          "definition": c.definition} for c in comps],
        schema={"component": pl.String, "label": pl.String, "weight": pl.Float64, "value": pl.Float64,
                "definition": pl.String}, orient="row",
    )
    if not n:
        return frame, None
    used = [(c.weight, values[c.id]) for c in comps if values.get(c.id) is not None and c.weight > 0]
    total = sum(w for w, _ in used)
    score = None if not total else 100.0 * sum(w * v for w, v in used) / total
    return frame, score


def build_report(store, dataset_id: int, region: str | None = None) -> QualityReport:
    """Run every check on a dataset (nothing is written). ``region``: the default phone region (None: the
    dataset's setting, else inferred from its customers' countries)."""
    start = time.perf_counter()
    if region is None:
        region, inferred = phone_region(store, dataset_id)
    else:
        inferred = False
    cur = store.cursor()
    stats: dict = {}
    t0 = time.perf_counter()
    table = prepare_customers(cur, dataset_id, region)
    stats["prepare_seconds"] = round(time.perf_counter() - t0, 3)
    try:
        counts, examples, inputs = _customer_checks(cur, table)
        n = inputs["n"]
        t0 = time.perf_counter()
        edges = duplicates.exact_edges(cur, table)
        likely, blocking = duplicates.likely_edges(cur, table)
        stats |= blocking
        clusters = duplicates.clusters(pl.concat([edges, likely]) if likely.height else edges)
        stats["duplicates_seconds"] = round(time.perf_counter() - t0, 3)
        if clusters.height:
            members = cur.sql(
                f"SELECT customer_id, name, email, phone, company, country, created_at FROM {table}").pl()
            clusters = clusters.join(members, on="customer_id", how="left")
            bought = cur.sql(
                "SELECT customer_id, count(*)::BIGINT AS transactions, sum(amount)::DOUBLE AS revenue "
                "FROM transactions WHERE dataset_id = ? GROUP BY 1", params=[dataset_id]).pl()
            clusters = (clusters.join(bought, on="customer_id", how="left")
                        .with_columns(pl.col("transactions").fill_null(0)).sort(["cluster", "customer_id"]))
    finally:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    for match in ("exact", "likely"):
        sub = clusters.filter(pl.col("match") == match)
        counts[f"duplicate_{match}"] = sub.height
        examples[f"duplicate_{match}"] = sub.select(
            table=pl.lit("customers"), record_id=pl.col("customer_id"), customer_id="customer_id",
            field=pl.lit("cluster"), value=pl.format("cluster {} ({} records)", "cluster", "size"),
            suggestion=pl.col("reason"),
        ).select(pl.col(c).cast(t) for c, t in EXAMPLE_SCHEMA.items())
    o_counts, o_examples, bases = _orphans(cur, dataset_id, n > 0)
    d_counts, d_examples, dated = _dates_and_amounts(cur, dataset_id)
    counts |= o_counts | d_counts
    examples |= o_examples | d_examples
    tx = bases["transactions"]
    inputs |= {
        "redundant": clusters.height - clusters["cluster"].n_unique() if clusters.height else 0,
        "region_variants": counts["region_variant"],
        "linked_base": bases["transactions"] + bases["interactions"],
        "orphans": counts["orphan_transactions"] + counts["orphan_interactions"],
        "plausible_base": dated["dated"] + tx,
        "implausible": counts["future_dates"] + counts["impossible_dates"] + counts["negative_not_refund"],
    }
    comp_frame, score = score_components(inputs)
    base_of = {"customers": n, "transactions": tx, "interactions": bases["interactions"],
               "all": dated["dated"]}
    problems = pl.DataFrame(
        [{"kind": k, "label": label, "table": t, "count": counts.get(k, 0), "base": base_of[t],
          "share": (counts.get(k, 0) / base_of[t]) if base_of[t] else None, "fix": fix, "what": what}
         for k, (label, t, what, fix) in PROBLEMS.items()],
        schema={"kind": pl.String, "label": pl.String, "table": pl.String, "count": pl.Int64, "base": pl.Int64,
                "share": pl.Float64, "fix": pl.String, "what": pl.String}, orient="row",
    )
    stats["clusters"] = int(clusters["cluster"].n_unique()) if clusters.height else 0
    return QualityReport(
        dataset_id=dataset_id, phone_region=region, phone_region_inferred=inferred, customers=n, score=score,
        components=comp_frame, counts={k: int(counts.get(k, 0)) for k in PROBLEMS}, problems=problems,
        examples=examples, completeness=completeness(cur, dataset_id), clusters=clusters, stats=stats,
        seconds=time.perf_counter() - start,
    )


# ---------------------------------------------------------------------------------------------- kept reports
def _version(store, dataset_id: int, region: str) -> str:
    audit = store.cursor().execute(
        "SELECT count(*), max(fix_id), count(undone_at) FROM quality_audit WHERE dataset_id = ?", [dataset_id]
    ).fetchall()[0]
    # no cost rate enters the report: new rates keep it (priced=False here and in kept_report's put)
    return results.key_of({"data": results.data_version(store, dataset_id, priced=False), "audit": list(audit),
                           "region": region, "rules": rules.rules_version()})


def kept_report(store, dataset_id: int) -> QualityReport:
    """The dataset's report, read back from the store when it was computed for the same data, fixes, phone region
    and rules; computed and kept otherwise."""
    region, _ = phone_region(store, dataset_id)
    key = _version(store, dataset_id, region)
    hit = results.get(store, dataset_id, RESULT_NAME, key)
    if isinstance(hit, QualityReport):
        return hit
    value = build_report(store, dataset_id)
    try:
        results.put(store, dataset_id, RESULT_NAME, key, value, value.seconds, priced=False)
    except Exception as exc:  # noqa: BLE001 - keeping is an optimisation; the report is still right
        log.warning("could not keep the quality report of dataset %s: %s", dataset_id, exc)
    return value
