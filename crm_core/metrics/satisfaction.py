"""Satisfaction: Net Promoter Score, CSAT, their trend and a summary (QCI *customer management
activity*; Gartner *Metrics: satisfaction, loyalty*).

Definitions
-----------
NPS
    Net Promoter Score = % promoters − % detractors, on the 0–10 "how likely are you to recommend
    us" question: promoters answer 9–10, passives 7–8, detractors 0–6. Range −100 … +100.
    Source: Reichheld, F. F. (2003), "The One Number You Need to Grow", *Harvard Business Review*
    81(12), 46–54.
CSAT
    Customer satisfaction score = share of answers of 4 or 5 ("satisfied" or "very satisfied") on
    the 1–5 satisfaction question — the *top-2-box* share, the common reporting form of CSAT (the
    mean of an ordinal 1–5 scale is reported beside it, not instead of it). Range 0 … 1.
    Source: common practice, e.g. Hayes, B. E. (2008), *Measuring Customer Satisfaction and
    Loyalty*, 3rd ed., ASQ Quality Press (top-box scores); the ACSI (Fornell et al. 1996, *Journal
    of Marketing* 60(4)) is the index tradition this practice grew from.

Counting
--------
``per="answer"`` (default) counts every answer given in the analysis window, so a customer who
answered three times weighs three times. ``per="customer"`` counts each customer once, with their
latest answer in the window (ties at the same instant: the higher score); this is the relational
NPS view, where frequent answerers do not dominate.

Scope
-----
Answers are the ``feedback`` rows of the scope (:func:`~crm_core.metrics.scope.activity_sql`):
the window applies to ``responded_at`` and the region / segment / owner filters to the answering
customer. Feedback carries no sales channel, so the global channel filter does not apply to it.
Breakdowns read the customer's attributes from ``customer_facts``: ``segment``, ``region`` and
``owner`` from the customers table, ``channel`` = the customer's main sales channel (the channel
of most of their completed purchases over the whole history). A customer without the attribute
falls in the null group.

Every function is one DuckDB query with bound values; no Python loop runs over customers.
"""

from __future__ import annotations

import polars as pl

from crm_core.metrics.scope import Scope, activity_sql, customers_sql

BREAKDOWNS: dict[str, str] = {  # by -> customer_facts column
    "segment": "segment",
    "region": "region",
    "owner": "owner",
    "channel": "main_channel",
}
PERS = ("answer", "customer")
# period -> (date_trunc unit, interval of one period)
PERIODS: dict[str, tuple[str, str]] = {
    "week": ("week", "INTERVAL 7 DAY"),
    "month": ("month", "INTERVAL 1 MONTH"),
    "quarter": ("quarter", "INTERVAL 3 MONTH"),
    "year": ("year", "INTERVAL 1 YEAR"),
}

# Aggregates over a relation with an integer ``score`` column (one row per counted answer).
# Reichheld (2003): promoters 9–10, passives 7–8, detractors 0–6; NPS = 100·(P − D)/N.
NPS_COLUMNS = """
    COUNT(*)                                  AS responses,
    COUNT(*) FILTER (WHERE score >= 9)        AS promoters,
    COUNT(*) FILTER (WHERE score BETWEEN 7 AND 8) AS passives,
    COUNT(*) FILTER (WHERE score <= 6)        AS detractors,
    CASE WHEN COUNT(*) > 0 THEN
        100.0 * (COUNT(*) FILTER (WHERE score >= 9) - COUNT(*) FILTER (WHERE score <= 6)) / COUNT(*)
    END::DOUBLE                               AS nps
"""
# Top-2-box CSAT: satisfied = 4 or 5 on the 1–5 scale.
CSAT_COLUMNS = """
    COUNT(*)                                  AS responses,
    COUNT(*) FILTER (WHERE score >= 4)        AS satisfied,
    CASE WHEN COUNT(*) > 0 THEN (COUNT(*) FILTER (WHERE score >= 4))::DOUBLE / COUNT(*) END AS csat,
    AVG(score)::DOUBLE                        AS mean_score
"""


def _check(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, not {value!r}")


def scored_sql(column: str, per: str, period_unit: str | None = None) -> str:
    """Counted answers of the scope: ``customer_id``, ``responded_at``, ``score`` (and ``period``).

    Parameters
    ----------
    column
        ``nps`` or ``csat``; answers where it is null are left out.
    per
        ``"answer"``: every answer in the window; ``"customer"``: each customer's latest answer in
        the window (within each period when ``period_unit`` is given).
    period_unit
        ``date_trunc`` unit; adds ``period`` (start of the answer's period, TIMESTAMP).
    """
    _check("column", column, ("nps", "csat"))
    _check("per", per, PERS)
    period = f", date_trunc('{period_unit}', a.responded_at) AS period" if period_unit else ""
    base = (
        f"SELECT a.customer_id, a.responded_at, a.{column} AS score{period} "
        f"FROM ({activity_sql('feedback', 'responded_at')}) a WHERE a.{column} IS NOT NULL"
    )
    if per == "answer":
        return base
    keys = "customer_id, period" if period_unit else "customer_id"
    # latest answer; ties at the same instant -> the higher score (deterministic)
    return (
        f"SELECT {keys}, max(responded_at) AS responded_at, "
        f"arg_max(score, row(responded_at, score)) AS score FROM ({base}) b GROUP BY {keys}"
    )


def _breakdown(store, scope: Scope, column: str, columns_sql: str, by: str | None, per: str) -> pl.DataFrame:
    scored = scored_sql(column, per)
    if by is None:
        sql = f"SELECT {columns_sql} FROM ({scored}) s"
    else:
        _check("by", by, BREAKDOWNS)
        sql = (
            f'SELECT f.{BREAKDOWNS[by]} AS "{by}", {columns_sql} FROM ({scored}) s '
            "LEFT JOIN customer_facts f ON f.dataset_id = $dataset AND f.customer_id = s.customer_id "
            f'GROUP BY 1 ORDER BY "{by}" NULLS LAST'
        )
    return store.query(sql, scope.params(sql))


def nps(store, scope: Scope, by: str | None = None, per: str = "answer") -> pl.DataFrame:
    """Net Promoter Score of the scope (Reichheld 2003), overall or per customer attribute.

    Parameters
    ----------
    store
        A :class:`~crm_core.store.Store`.
    scope
        Dataset, window (on ``responded_at``) and filters.
    by
        None for one row, or ``"segment"``, ``"region"``, ``"channel"`` (main sales channel) or
        ``"owner"`` for one row per value (null group last).
    per
        ``"answer"`` counts every answer; ``"customer"`` each customer's latest answer.

    Returns
    -------
    pl.DataFrame
        [by,] responses, promoters, passives, detractors, nps (−100 … 100; null with no
        responses). Without ``by`` there is always exactly one row (responses 0 on empty data).
    """
    return _breakdown(store, scope, "nps", NPS_COLUMNS, by, per)


def csat(store, scope: Scope, by: str | None = None, per: str = "answer") -> pl.DataFrame:
    """CSAT (top-2-box share of 4–5 answers on the 1–5 scale) of the scope.

    Parameters
    ----------
    store, scope, by, per
        As in :func:`nps`.

    Returns
    -------
    pl.DataFrame
        [by,] responses, satisfied, csat (0 … 1; null with no responses), mean_score (1 … 5).
    """
    return _breakdown(store, scope, "csat", CSAT_COLUMNS, by, per)


def satisfaction_trend(store, scope: Scope, period: str = "month", per: str = "answer") -> pl.DataFrame:
    """NPS and CSAT per calendar period, with partial periods flagged (DESIGN §8).

    Every period from the one holding the window start (or the first answer of the scope when the
    window is open) to the one holding the window end is listed, including periods without
    answers (responses 0, scores null). The observation horizon is the window end, capped at the
    day after the dataset's last feedback answer.

    Parameters
    ----------
    period
        ``"week"`` (ISO, Monday), ``"month"``, ``"quarter"`` or ``"year"``.
    per
        As in :func:`nps`; with ``"customer"`` each customer counts once per period.

    Returns
    -------
    pl.DataFrame
        period (first day, Date), nps_responses, promoters, passives, detractors, nps,
        csat_responses, satisfied, csat, partial — true when the period is not wholly inside the
        window and the observed history (window starting after the period start, or the horizon
        before the period end); a partial period must not be compared as if whole.
    """
    _check("period", period, PERIODS)
    unit, step = PERIODS[period]
    nps_rows = scored_sql("nps", per, unit)
    csat_rows = scored_sql("csat", per, unit)
    sql = f"""
    WITH n AS ({nps_rows}),
    c AS ({csat_rows}),
    bounds AS (
        SELECT
            date_trunc('{unit}', COALESCE(
                $start_ts::TIMESTAMP,
                least((SELECT min(responded_at) FROM n), (SELECT min(responded_at) FROM c))
            )) AS first_period,
            least(
                $end_ts::TIMESTAMP,
                (SELECT max(responded_at)::DATE + INTERVAL 1 DAY FROM feedback WHERE dataset_id = $dataset)
            ) AS horizon
    ),
    periods AS (SELECT unnest(range(first_period, horizon, {step})) AS period FROM bounds),
    n_agg AS (SELECT period, {NPS_COLUMNS} FROM n GROUP BY period),
    c_agg AS (SELECT period, {CSAT_COLUMNS} FROM c GROUP BY period)
    SELECT
        p.period::DATE                              AS period,
        COALESCE(n_agg.responses, 0)::BIGINT        AS nps_responses,
        COALESCE(n_agg.promoters, 0)::BIGINT        AS promoters,
        COALESCE(n_agg.passives, 0)::BIGINT         AS passives,
        COALESCE(n_agg.detractors, 0)::BIGINT       AS detractors,
        n_agg.nps                                   AS nps,
        COALESCE(c_agg.responses, 0)::BIGINT        AS csat_responses,
        COALESCE(c_agg.satisfied, 0)::BIGINT        AS satisfied,
        c_agg.csat                                  AS csat,
        (($start_ts::TIMESTAMP IS NOT NULL AND p.period < $start_ts::TIMESTAMP)
            OR p.period + {step} > b.horizon)       AS partial
    FROM periods p
    CROSS JOIN bounds b
    LEFT JOIN n_agg USING (period)
    LEFT JOIN c_agg USING (period)
    ORDER BY p.period
    """
    return store.query(sql, scope.params(sql))


def satisfaction_summary(store, scope: Scope, per: str = "answer") -> dict:
    """Headline satisfaction of the scope.

    Returns
    -------
    dict
        ``nps`` (−100 … 100), ``csat`` (0 … 1), ``responses`` (feedback rows in the window),
        ``nps_responses``, ``csat_responses`` (counted per ``per``), ``respondents`` (customers
        with an answer in the window), ``customers`` (customers of the scope: every customer of
        the dataset passing the region / segment / owner filters, ``customer_facts``) and
        ``response_rate`` = respondents ÷ customers. Scores are None without answers; the rate is
        None without customers.
    """
    sql = f"""
    WITH fb AS ({activity_sql('feedback', 'responded_at')}),
    n AS (SELECT {NPS_COLUMNS} FROM ({scored_sql('nps', per)}) s),
    c AS (SELECT {CSAT_COLUMNS} FROM ({scored_sql('csat', per)}) s),
    r AS (SELECT COUNT(*) AS responses, COUNT(DISTINCT customer_id) AS respondents FROM fb),
    k AS (SELECT COUNT(*) AS customers FROM ({customers_sql()}) f)
    SELECT n.nps, c.csat, r.responses, n.responses AS nps_responses, c.responses AS csat_responses,
           r.respondents, k.customers,
           CASE WHEN k.customers > 0 THEN r.respondents::DOUBLE / k.customers END AS response_rate
    FROM n, c, r, k
    """
    return store.query(sql, scope.params(sql)).to_dicts()[0]
