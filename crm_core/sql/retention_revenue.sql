-- Revenue retention per period (crm_core.metrics.retention.revenue_retention). Reads `scoped`
-- (completed purchases, whole filtered history). Bound: $as_of, $unit, $months, $first_period
-- (first period to report, or NULL), $from_day (purchases before it left out, or NULL: the latest period
-- alone needs the one before it and itself). For every period P the starting customers are those with
-- revenue > 0 in the period before P; their revenue in P against that starting revenue gives
-- expansion, contraction and churned revenue. With {{groups}} filled (retention._grouping) one row per
-- period and customer group (region, segment, owner), for filters that pick whole customers to sum.
WITH
per_period AS (
    SELECT customer_id, date_trunc($unit, CAST(occurred_at AS DATE))::DATE AS period,
           SUM(amount)::DOUBLE AS revenue
    FROM scoped
    WHERE occurred_at < ($as_of::DATE + 1)::TIMESTAMP  -- on or before $as_of (a timestamp test: no cast per row)
      AND ($from_day::DATE IS NULL OR occurred_at >= $from_day::DATE::TIMESTAMP)
    GROUP BY ALL
),
paired AS (
    SELECT prev.customer_id, date_add(prev.period, to_months($months))::DATE AS period,
           prev.revenue                   AS last_revenue,
           GREATEST(COALESCE(cur.revenue, 0), 0) AS this_revenue  -- a net-negative period counts as 0
    FROM per_period prev
    LEFT JOIN per_period cur
      ON cur.customer_id = prev.customer_id
     AND cur.period = date_add(prev.period, to_months($months))::DATE
    WHERE prev.revenue > 0
      AND date_add(prev.period, to_months($months))::DATE <= $as_of::DATE
)
SELECT
    {{groups}}period,
    COUNT(*)::BIGINT                                                          AS starting_customers,
    SUM(last_revenue)::DOUBLE                                                 AS starting_revenue,
    SUM(GREATEST(this_revenue - last_revenue, 0))::DOUBLE                     AS expansion,
    SUM(CASE WHEN this_revenue > 0 THEN GREATEST(last_revenue - this_revenue, 0) ELSE 0 END)::DOUBLE
                                                                              AS contraction,
    SUM(CASE WHEN this_revenue > 0 THEN 0 ELSE last_revenue END)::DOUBLE      AS churned,
    COUNT(*) FILTER (WHERE this_revenue <= 0)::BIGINT                         AS churned_customers,
    SUM(this_revenue)::DOUBLE                                                 AS ending_revenue,
    SUM(LEAST(this_revenue, last_revenue))::DOUBLE                            AS retained_revenue
FROM paired {{group_join}}
WHERE $first_period::DATE IS NULL OR period >= $first_period::DATE
GROUP BY ALL
ORDER BY period
