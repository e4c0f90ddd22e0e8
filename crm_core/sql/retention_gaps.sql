-- Gaps in days between consecutive distinct purchase days of the same customer
-- (crm_core.metrics.retention.default_churn_window). Reads `scoped` (completed purchases, whole
-- filtered history) up to $as_of. quantile_cont interpolates linearly between order statistics
-- (Hyndman & Fan 1996, definition 7).
WITH
days AS (
    SELECT DISTINCT customer_id, CAST(occurred_at AS DATE) AS day
    FROM scoped
    WHERE CAST(occurred_at AS DATE) <= $as_of::DATE
),
gaps AS (
    SELECT day - lag(day) OVER (PARTITION BY customer_id ORDER BY day) AS gap
    FROM days
)
SELECT
    COUNT(gap)::BIGINT                          AS gaps,
    quantile_cont(gap, $quantile::DOUBLE)::DOUBLE AS gap_quantile,
    median(gap)::DOUBLE                         AS gap_median
FROM gaps
WHERE gap IS NOT NULL
