-- The islands of days on which each customer is *active* (bought in the L = $inactivity days before):
-- a fragment of CTEs included (`-- @include activity_islands`) into a WITH clause that defines
--   scoped(customer_id, occurred_at, ...)   the purchases to consider
-- and binds $inactivity (L) and $islands_until (DATE: purchase days after it are left out).
-- Defines days, marked, numbered and islands(customer_id, lo, hi): the customer is active on every day
-- lo … hi. Each purchase day d makes the customer active on days d + 1 … d + L; purchase days closer than
-- L + 1 days give overlapping or touching ranges, so each customer's active days are a few disjoint islands
-- [first d + 1, last d + L] (gaps and islands). Used by activity_islands_all.sql (kept, for
-- retention_churn.sql) and the retention movers.
days AS (
    SELECT DISTINCT customer_id, CAST(occurred_at AS DATE) AS day
    FROM scoped
    WHERE CAST(occurred_at AS DATE) <= $islands_until::DATE
),
marked AS (
    SELECT customer_id, day,
           CASE WHEN day - lag(day) OVER (PARTITION BY customer_id ORDER BY day) <= $inactivity::INTEGER
                THEN 0 ELSE 1 END AS new_island
    FROM days
),
numbered AS (
    SELECT customer_id, day,
           SUM(new_island) OVER (PARTITION BY customer_id ORDER BY day ROWS UNBOUNDED PRECEDING) AS island
    FROM marked
),
islands AS (
    SELECT customer_id, MIN(day) + 1 AS lo, MAX(day) + $inactivity::INTEGER AS hi
    FROM numbered GROUP BY customer_id, island
)
