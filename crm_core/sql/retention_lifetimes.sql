-- Customer lifetimes for survival analysis (crm_core.metrics.retention.lifetimes). Reads `spans` (each
-- customer's first and last completed purchase day up to $as_of, whole filtered history; of the customers first
-- buying on or after $win_start at least, retention._spans).
-- Bound: $as_of, $win_start, $inactivity (L days).
--
-- Lifetime = days from the first to the last purchase day. Churned (observed) when the last
-- purchase is at least L days before the day after $as_of (no purchase in the L days ending
-- $as_of): duration = last - first. Otherwise right-censored: the lifetime is known to exceed
-- $as_of - L - first (administrative censoring, independent of the customer's behaviour).
-- Customers acquired fewer than L days before $as_of cannot be judged yet and are left out.
WITH
per_customer AS (  -- first and last completed purchase day up to $as_of (crm_core.metrics.retention._spans)
    SELECT customer_id, first_day, last_day FROM spans
),
judged AS (
    SELECT customer_id, first_day, last_day,
           last_day <= $as_of::DATE - $inactivity::INTEGER AS observed
    FROM per_customer
    WHERE ($win_start::DATE IS NULL OR first_day >= $win_start::DATE)
      AND first_day <= $as_of::DATE - $inactivity::INTEGER
)
SELECT customer_id,
       (CASE WHEN observed THEN last_day - first_day
             ELSE ($as_of::DATE - $inactivity::INTEGER) - first_day END)::INTEGER AS duration_days,
       observed
FROM judged
