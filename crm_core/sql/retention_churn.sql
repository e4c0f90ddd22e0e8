-- Churn under an inactivity rule, for several periods at once (crm_core.metrics.retention.churn and
-- churn_trend). Reads kept_islands(customer_id, lo, hi): the scope's activity islands under L
-- (activity_islands_all.sql, kept by crm_core.metrics.retention.activity_islands). Bound: $starts and
-- $ends (DATE[] of equal length: first and last day of each period).
--
-- A customer is *active on day X* when they bought in the L days before X: some purchase day d
-- with X - L <= d <= X - 1. For period [S, E]: the base is the customers active on S (bought in
-- the L days before the period); churned are those of the base not active on E + 1 (no purchase in
-- the L days ending E).
--
-- Each purchase day d makes the customer active on days d + 1 … d + L. Consecutive purchase days
-- closer than L + 1 days give overlapping or touching ranges, so each customer's active days are a
-- few disjoint islands [first d + 1, last d + L] (gaps and islands). A point is then matched to at
-- most one island of a customer — one range join, no customer × period product.
--
-- One row per period_no with an active customer (the caller adds the others as zeros); with {{groups}}
-- filled (retention._grouping) per period and customer group (region, segment, owner), for filters that
-- pick whole customers to sum.
WITH
islands AS (
    SELECT {{groups}}customer_id, lo, hi FROM kept_islands {{group_join}}
),
periods AS (
    -- period_no: the position in $starts (periods may share a start: a window and a month of its trend)
    SELECT unnest($starts::DATE[]) AS period_start, unnest($ends::DATE[]) AS period_end,
           unnest(range(len($starts::DATE[]))) AS period_no
),
base AS (
    SELECT {{groups}}p.period_no, i.customer_id
    FROM periods p JOIN islands i ON p.period_start BETWEEN i.lo AND i.hi
),
still AS (
    SELECT p.period_no, i.customer_id
    FROM periods p JOIN islands i ON p.period_end + 1 BETWEEN i.lo AND i.hi
),
counts AS (
    SELECT {{groups}}b.period_no,
           COUNT(*)::BIGINT                                 AS active_at_start,
           COUNT(*) FILTER (WHERE s.customer_id IS NULL)::BIGINT AS churned
    FROM base b
    LEFT JOIN still s ON s.period_no = b.period_no AND s.customer_id = b.customer_id
    GROUP BY ALL
)
SELECT * FROM counts
