-- Cohort counts (crm_core.metrics.retention.cohort_matrix, which adds the periods without activity).
-- Reads `scoped`: the scope's completed purchases over the whole filtered history (prepended by the
-- caller). Bound: $as_of (last day analysed), $win_start (first day of the window or NULL), $unit
-- ('month'/'quarter'). One row per (cohort, period) with activity: the cohort's customers who bought in the
-- period and their revenue. Every member bought in the period of their cohort (their first purchase), so
-- the age-0 row's `active` is the cohort's size. With {{groups}} filled (retention._grouping) the rows are
-- also per customer group (region, segment, owner), for filters that pick whole customers to sum.
WITH
buys AS (
    SELECT customer_id, CAST(occurred_at AS DATE) AS day, amount
    FROM scoped
    WHERE CAST(occurred_at AS DATE) <= $as_of::DATE
),
firsts AS (   -- first purchase ever (whole filtered history), not only the window's
    SELECT customer_id, MIN(day) AS first_day
    FROM buys GROUP BY customer_id
),
members AS (  -- the window decides which cohorts are shown: first purchase inside it
    SELECT {{groups}}customer_id, date_trunc($unit, first_day)::DATE AS cohort
    FROM firsts {{group_join}}
    WHERE $win_start::DATE IS NULL OR first_day >= $win_start::DATE
),
activity AS (
    SELECT customer_id, date_trunc($unit, day)::DATE AS period, SUM(amount)::DOUBLE AS revenue
    FROM buys GROUP BY ALL
)
SELECT {{groups}}m.cohort, a.period, COUNT(*)::BIGINT AS active, SUM(a.revenue)::DOUBLE AS revenue
FROM members m JOIN activity a ON a.customer_id = m.customer_id AND a.period >= m.cohort
GROUP BY ALL
