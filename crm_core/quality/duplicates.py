"""Duplicate customers: exact (same normalized email or phone) and likely (similar name + company in the same
country), grouped into clusters.

Blocking, pair generation and the exact keys are DuckDB SQL over a prepared customers table; only the candidate
pairs of a block reach Python, where rapidfuzz scores them in bulk (``process.cpdist``: C++, all cores) and SciPy
joins pairs into clusters (connected components). No Python loop runs over customers.

Blocking: a customer is compared only with customers of the same block, so a million customers cost a few
hundred thousand comparisons instead of 5·10¹¹. The blocks follow the evidence a likely pair needs besides its
name (see below), so no pair that could match is left out by design (names and companies lower-cased, accents
removed, legal forms dropped):

* ``company``: country + company + the initial of the last name (finds name variants at one company);
* ``name``: country + last name + first initial + the company's first letter (finds company typos);
* ``mailbox``: a company email domain (not gmail.com & co.) + the initial of the last name;
* ``phone``: the last seven phone digits + the initial of the last name;

a block larger than :data:`MAX_BLOCK` is split by the whole last name (or the first three letters of the first
name), and a block still too large is left out (counted in ``blocks_skipped``).

A pair in a block is a *likely* duplicate when the names match (token-sort similarity >= :data:`NAME_MIN`, or
the same last name with one first name the initial of the other) and something independent of the name agrees:
both companies similar (edit-distance similarity >= :data:`COMPANY_MIN` % once legal forms are dropped:
"Maple Fjord Sports" and "Blue Fjord Sports" are two companies), or, without two companies to
compare, the same company email domain (not a free-mail one such as gmail.com) with similar local parts (>= :data:`EMAIL_LOCAL_MIN`) or the same last seven phone
digits. A similar local part alone is no evidence (it is mostly the name again), and two records with different
companies are never matched by name alone (same name, different employer: a different person as often as not).
"""

from __future__ import annotations

import uuid

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from crm_core.quality.rules import COMPANY_STOPWORDS, FREEMAIL_PATTERN

NAME_MIN = 90
COMPANY_MIN = 90
EMAIL_LOCAL_MIN = 85
MAX_BLOCK = 100
#: An email or phone held by more records than this is a shared inbox or switchboard, not one customer.
MAX_EXACT_GROUP = 25

CLUSTER_SCHEMA = {"cluster": pl.Int64, "customer_id": pl.String, "match": pl.String, "size": pl.Int64,
                  "reason": pl.String}


def _norm_sql(expr: str) -> str:
    """Lower case, accents removed, every run of non-letters one space, trimmed."""
    return (f"trim(regexp_replace(lower(strip_accents(coalesce(CAST({expr} AS VARCHAR), ''))), "
            "'[^a-z0-9]+', ' ', 'g'))")


def _company_sql(expr: str) -> str:
    words = "|".join(COMPANY_STOPWORDS)
    return f"trim(regexp_replace(regexp_replace({_norm_sql(expr)}, '\\b({words})\\b', ' ', 'g'), ' +', ' ', 'g'))"


def exact_edges(cur, table: str) -> pl.DataFrame:
    """Pairs (a, b, kind) linking customers that share a normalized email or phone; ``table`` is the prepared
    customers table (``customer_id``, ``email_n``, ``phone_t``, ``e164``, ``valid``)."""
    return cur.sql(f"""
        WITH keys AS (
            SELECT customer_id, 'email' AS kind, email_n AS k FROM {table} WHERE email_n IS NOT NULL
            UNION ALL
            SELECT customer_id, 'phone' AS kind,
                   regexp_replace(CASE WHEN valid THEN e164 ELSE phone_t END, '[^0-9]', '', 'g') AS k
            FROM {table}
            WHERE phone_t IS NOT NULL AND length(regexp_replace(phone_t, '[^0-9]', '', 'g')) >= 7
        ),
        grouped AS (
            SELECT customer_id, kind, k, min(customer_id) OVER (PARTITION BY kind, k) AS first_id,
                   count(*) OVER (PARTITION BY kind, k) AS n
            FROM keys
        )
        SELECT first_id AS a, customer_id AS b, kind
        FROM grouped WHERE n BETWEEN 2 AND {int(MAX_EXACT_GROUP)} AND customer_id <> first_id
    """).pl()


def likely_edges(cur, table: str) -> tuple[pl.DataFrame, dict]:
    """Likely duplicate pairs (a, b, kind='likely', name_score, company_score) within blocks, and blocking stats."""
    names = f"q_names_{uuid.uuid4().hex[:12]}"
    cur.execute(f"""
        CREATE OR REPLACE TEMP TABLE {names} AS
        SELECT customer_id, nm, tokens[1] AS first, tokens[-1] AS last, len(tokens) AS n_tokens, company_n, ckey,
               regexp_replace(tokens[-1], '[aeiouy]+', '', 'g') AS skeleton,
               nullif(split_part(email_n, '@', 1), '') AS local, CASE WHEN NOT regexp_full_match(split_part(email_n, '@', 2), '{FREEMAIL_PATTERN}')
                    THEN nullif(split_part(email_n, '@', 2), '') END AS domain,
               CASE WHEN length(digits) >= 7 THEN right(digits, 7) END AS tail
        FROM (
            SELECT customer_id, nm, string_split(nm, ' ') AS tokens, {_company_sql('company')} AS company_n,
                   coalesce(iso2, country_key, '') AS ckey, email_n,
                   regexp_replace(coalesce(phone_t, ''), '[^0-9]', '', 'g') AS digits
            FROM (SELECT *, {_norm_sql('name')} AS nm FROM {table})
        )
        WHERE nm <> ''
    """)
    try:
        cur.execute(f"""
            CREATE OR REPLACE TEMP TABLE {names}_blocks AS
            WITH raw AS (
                SELECT customer_id, 'c|' || ckey || '|' || company_n || '|' || left(last, 1) AS coarse,
                       'C|' || ckey || '|' || company_n || '|' || last AS fine
                FROM {names} WHERE company_n <> ''
                UNION ALL
                SELECT customer_id, 'n|' || ckey || '|' || last || '|' || left(first, 1) || '|' || left(company_n, 1),
                       'N|' || ckey || '|' || last || '|' || left(first, 3) || '|' || left(company_n, 3)
                FROM {names} WHERE company_n <> '' AND n_tokens >= 2
                UNION ALL
                SELECT customer_id, 'm|' || domain || '|' || left(last, 1), 'M|' || domain || '|' || last
                FROM {names} WHERE domain IS NOT NULL
                UNION ALL
                SELECT customer_id, 't|' || tail || '|' || left(last, 1), 'T|' || tail || '|' || last
                FROM {names} WHERE tail IS NOT NULL
            ),
            sized AS (SELECT *, count(*) OVER (PARTITION BY coarse) AS n_coarse,
                             count(*) OVER (PARTITION BY fine) AS n_fine FROM raw)
            SELECT customer_id, CASE WHEN n_coarse <= {MAX_BLOCK} THEN coarse ELSE fine END AS b,
                   n_coarse > {MAX_BLOCK} AND n_fine > {MAX_BLOCK} AS skipped
            FROM sized
        """)
        skipped = cur.execute(f"SELECT count(DISTINCT b) FROM {names}_blocks WHERE skipped").fetchall()[0][0]
        pairs = cur.sql(f"""
            WITH bl AS (
                SELECT customer_id, b FROM {names}_blocks
                WHERE NOT skipped AND b IN (SELECT b FROM {names}_blocks GROUP BY b HAVING count(*) >= 2)
            ),
            p AS (
                SELECT DISTINCT x.customer_id AS a, y.customer_id AS b
                FROM bl x JOIN bl y ON x.b = y.b AND x.customer_id < y.customer_id
            )
            SELECT p.a, p.b, l.nm AS nm_a, r.nm AS nm_b, l.company_n AS co_a, r.company_n AS co_b,
                   l.local AS local_a, r.local AS local_b, l.domain AS domain_a, r.domain AS domain_b,
                   (l.tail IS NOT NULL AND l.tail = r.tail) AS same_tail,
                   (l.last = r.last AND l.n_tokens >= 2 AND r.n_tokens >= 2 AND (
                        l.first = r.first
                        OR (length(l.first) = 1 AND left(r.first, 1) = l.first)
                        OR (length(r.first) = 1 AND left(l.first, 1) = r.first))) AS initial_match
            FROM p JOIN {names} l ON l.customer_id = p.a JOIN {names} r ON r.customer_id = p.b
        """).pl()
    finally:
        cur.execute(f"DROP TABLE IF EXISTS {names}")
        cur.execute(f"DROP TABLE IF EXISTS {names}_blocks")
    stats = {"candidate_pairs": pairs.height, "blocks_skipped": int(skipped or 0)}
    empty = pl.DataFrame(schema={"a": pl.String, "b": pl.String, "kind": pl.String})
    if pairs.is_empty():
        return empty, stats
    name_score = process.cpdist(pairs["nm_a"].to_list(), pairs["nm_b"].to_list(), scorer=fuzz.token_sort_ratio,
                                workers=-1, dtype=np.float32)
    co_a, co_b = pairs["co_a"].fill_null("").to_list(), pairs["co_b"].fill_null("").to_list()
    company_score = 100 * process.cpdist(co_a, co_b, scorer=Levenshtein.normalized_similarity, workers=-1,
                                         dtype=np.float32)
    local_score = process.cpdist(pairs["local_a"].fill_null("").to_list(), pairs["local_b"].fill_null("").to_list(),
                                 scorer=fuzz.ratio, workers=-1, dtype=np.float32)
    scored = pairs.with_columns(
        name_score=pl.Series(name_score), company_score=pl.Series(company_score), local_score=pl.Series(local_score),
    )
    both_co = (pl.col("co_a") != "") & (pl.col("co_b") != "")
    # the local part is mostly the name again: it counts only with the same domain
    same_mailbox = (pl.col("domain_a") == pl.col("domain_b")) & (pl.col("local_score") >= EMAIL_LOCAL_MIN)
    name_ok = (pl.col("name_score") >= NAME_MIN) | pl.col("initial_match")
    likely = scored.filter(
        name_ok & pl.when(both_co).then(pl.col("company_score") >= COMPANY_MIN)
        .otherwise(same_mailbox.fill_null(False) | pl.col("same_tail"))
    )
    stats["likely_pairs"] = likely.height
    return likely.select("a", "b", kind=pl.lit("likely")), stats


_REASONS = {"email": "same email", "phone": "same phone", "likely": "similar name, company and country"}
_ORDER = {"email": 0, "phone": 1, "likely": 2}


def clusters(edges: pl.DataFrame) -> pl.DataFrame:
    """Clusters of customers joined by ``edges`` (a, b, kind): cluster number (largest first), customer_id,
    match (``exact`` when the email/phone pairs alone join the whole cluster, else ``likely``), size, reason."""
    if edges.is_empty():
        return pl.DataFrame(schema=CLUSTER_SCHEMA)
    ids = pl.concat([edges["a"], edges["b"]]).unique().sort()
    index = pl.DataFrame({"id": ids, "i": np.arange(ids.len(), dtype=np.int64)})
    e = (edges.join(index, left_on="a", right_on="id").rename({"i": "ia"})
         .join(index, left_on="b", right_on="id").rename({"i": "ib"}))
    n = ids.len()

    def components(frame: pl.DataFrame) -> np.ndarray:
        graph = coo_matrix((np.ones(frame.height, dtype=np.int8), (frame["ia"].to_numpy(), frame["ib"].to_numpy())),
                           shape=(n, n))
        return connected_components(graph, directed=False)[1]

    label_all = components(e)
    label_exact = components(e.filter(pl.col("kind") != "likely"))
    members = pl.DataFrame({"customer_id": ids, "label": label_all, "exact_label": label_exact})
    reasons = (
        e.with_columns(label=pl.Series(label_all[e["ia"].to_numpy()]))
        .group_by("label").agg(pl.col("kind").unique().sort_by(pl.col("kind").unique().replace_strict(_ORDER)))
        .with_columns(reason=pl.col("kind").list.eval(pl.element().replace_strict(_REASONS)).list.join(", "))
        .select("label", "reason")
    )
    per = (
        members.group_by("label")
        .agg(size=pl.len(), exact=pl.col("exact_label").n_unique() == 1, first=pl.col("customer_id").min())
        .sort(["size", "first"], descending=[True, False])
        .with_columns(cluster=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
    )
    return (
        members.join(per, on="label").join(reasons, on="label")
        .select("cluster", "customer_id",
                match=pl.when("exact").then(pl.lit("exact")).otherwise(pl.lit("likely")),
                size=pl.col("size").cast(pl.Int64), reason="reason")
        .sort(["cluster", "customer_id"])
    )
