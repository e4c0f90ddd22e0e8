-- Repeat-purchase rate (crm_core.metrics.retention.repeat_purchase_rate). Reads `scoped` (completed
-- purchases, whole filtered history). Customers whose first purchase ever falls in
-- [$win_start, $as_of]; repeaters: at least two distinct purchase days on or before $as_of, i.e. a last
-- purchase day after the first (no distinct days to count: one plain aggregation per customer).
WITH
per_customer AS (
    SELECT customer_id,
           MIN(CAST(occurred_at AS DATE)) AS first_day,
           MAX(CAST(occurred_at AS DATE)) AS last_day
    FROM scoped
    WHERE CAST(occurred_at AS DATE) <= $as_of::DATE
    GROUP BY customer_id
)
SELECT
    COUNT(*)::BIGINT                                   AS new_customers,
    COUNT(*) FILTER (WHERE last_day > first_day)::BIGINT AS repeaters
FROM per_customer
WHERE $win_start::DATE IS NULL OR first_day >= $win_start::DATE
