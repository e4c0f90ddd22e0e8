-- Gaps in days between consecutive distinct purchase days of the same customer, counted per (later day, gap)
-- (crm_core.metrics.retention.churn_gaps). Reads `scoped` (completed purchases, whole filtered history). The
-- gaps of the history up to any as-of day are those whose later day is on or before it: cutting the history at a
-- day removes only later days, so every pair of consecutive days before it stays consecutive. One pass then
-- serves the churn rule of every window end (default_churn_window).
WITH
days AS (
    SELECT DISTINCT customer_id, CAST(occurred_at AS DATE) AS day
    FROM scoped
),
gaps AS (
    SELECT day, day - lag(day) OVER (PARTITION BY customer_id ORDER BY day) AS gap
    FROM days
)
SELECT day, gap, COUNT(*)::BIGINT AS gaps
FROM gaps
WHERE gap IS NOT NULL
GROUP BY day, gap
ORDER BY day, gap
