-- Cohort matrix (crm_core.metrics.retention.cohort_matrix). Reads `scoped`: the scope's completed
-- purchases over the whole filtered history (prepended by the caller). Bound: $as_of (last day
-- analysed), $win_start (first day of the window or NULL), $unit ('month'/'quarter'), $months
-- (months per period). One row per (cohort, age) from age 0 to the period holding $as_of, with
-- zero rows for periods without activity.
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
    SELECT customer_id, first_day, date_trunc($unit, first_day)::DATE AS cohort
    FROM firsts
    WHERE $win_start::DATE IS NULL OR first_day >= $win_start::DATE
),
activity AS (
    SELECT customer_id, date_trunc($unit, day)::DATE AS period, SUM(amount)::DOUBLE AS revenue
    FROM buys GROUP BY ALL
),
sizes AS (
    SELECT m.cohort, COUNT(*)::BIGINT AS cohort_size, MIN(m.first_day) AS first_member_day
    FROM members m GROUP BY m.cohort
),
filled AS (
    SELECT m.cohort, a.period, COUNT(*)::BIGINT AS active, SUM(a.revenue)::DOUBLE AS revenue
    FROM members m JOIN activity a ON a.customer_id = m.customer_id AND a.period >= m.cohort
    GROUP BY ALL
),
grid AS (
    SELECT cohort, cohort_size,
           unnest(generate_series(
               0, date_diff('month', cohort, date_trunc($unit, $as_of::DATE)::DATE) // $months
           )) AS age
    FROM sizes
),
cells AS (
    SELECT g.cohort, date_add(g.cohort, to_months(g.age * $months))::DATE AS period, g.age, g.cohort_size
    FROM grid g
)
SELECT
    c.cohort, c.period, c.age::INTEGER AS age, c.cohort_size,
    COALESCE(f.active, 0)::BIGINT AS active,
    COALESCE(f.revenue, 0)::DOUBLE AS revenue,
    -- the period runs to the day before the next one starts; partial when that is after $as_of
    (date_add(c.period, to_months($months))::DATE - 1) > $as_of::DATE AS partial
FROM cells c
LEFT JOIN filled f ON f.cohort = c.cohort AND f.period = c.period
ORDER BY c.cohort, c.age
