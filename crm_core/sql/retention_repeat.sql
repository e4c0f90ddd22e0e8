-- Repeat-purchase rate (crm_core.metrics.retention.repeat_purchase_rate). Reads `scoped` (completed
-- purchases, whole filtered history). Customers whose first purchase ever falls in
-- [$win_start, $as_of]; repeaters: at least two distinct purchase days on or before $as_of.
WITH
days AS (
    SELECT DISTINCT customer_id, CAST(occurred_at AS DATE) AS day
    FROM scoped
    WHERE CAST(occurred_at AS DATE) <= $as_of::DATE
),
per_customer AS (
    SELECT customer_id, MIN(day) AS first_day, COUNT(*) AS purchase_days
    FROM days GROUP BY customer_id
)
SELECT
    COUNT(*)::BIGINT                              AS new_customers,
    COUNT(*) FILTER (WHERE purchase_days >= 2)::BIGINT AS repeaters
FROM per_customer
WHERE $win_start::DATE IS NULL OR first_day >= $win_start::DATE
