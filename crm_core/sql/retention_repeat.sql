-- Repeat-purchase rate (crm_core.metrics.retention.repeat_purchase_rate). Reads `spans` (each customer's
-- first and last completed purchase day up to $as_of, whole filtered history; of the customers first buying on
-- or after $win_start at least, retention._spans). Customers whose first
-- purchase ever falls in [$win_start, $as_of]; repeaters: at least two distinct purchase days on or before
-- $as_of, i.e. a last purchase day after the first (no distinct days to count: one plain aggregation per
-- customer).
WITH
per_customer AS (  -- first and last completed purchase day up to $as_of (crm_core.metrics.retention._spans)
    SELECT customer_id, first_day, last_day FROM spans
)
SELECT
    COUNT(*)::BIGINT                                   AS new_customers,
    COUNT(*) FILTER (WHERE last_day > first_day)::BIGINT AS repeaters
FROM per_customer
WHERE $win_start::DATE IS NULL OR first_day >= $win_start::DATE
