-- Cohort counts (crm_core.metrics.retention.cohort_matrix, which adds the periods without activity).
-- Reads `scoped`: the scope's completed purchases over the whole filtered history, and `spans`: each
-- customer's first and last completed purchase day up to $as_of (both prepended by the caller,
-- crm_core.metrics.retention._run). Bound: $as_of (last day analysed), $win_start (first day of the window or
-- NULL), $unit ('month'/'quarter'). One row per (cohort, period) with activity: the cohort's customers who
-- bought in the period and their revenue. Every member bought in the period of their cohort (their first
-- purchase), so the age-0 row's `active` is the cohort's size. With {{groups}} filled (retention._grouping)
-- the rows are also per customer group (region, segment, owner), for filters that pick whole customers to sum.
WITH
members AS (  -- the window decides which cohorts are shown: first purchase ever (whole filtered history) inside it
    SELECT {{groups}}customer_id, date_trunc($unit, first_day)::DATE AS cohort
    FROM spans {{group_join}}
    WHERE $win_start::DATE IS NULL OR first_day >= $win_start::DATE
),
activity AS (  -- a member buys on or after its first day, so on or after the window start: those purchases alone
    SELECT customer_id, date_trunc($unit, CAST(occurred_at AS DATE))::DATE AS period, SUM(amount)::DOUBLE AS revenue
    FROM scoped
    WHERE occurred_at < ($as_of::DATE + 1)::TIMESTAMP  -- on or before $as_of (a timestamp test: no cast per row)
      AND ($win_start::DATE IS NULL OR occurred_at >= $win_start::DATE::TIMESTAMP)
    GROUP BY ALL
)
SELECT {{groups}}m.cohort, a.period, COUNT(*)::BIGINT AS active, SUM(a.revenue)::DOUBLE AS revenue
FROM members m JOIN activity a ON a.customer_id = m.customer_id AND a.period >= m.cohort
GROUP BY ALL
