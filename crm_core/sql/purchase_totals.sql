-- Purchase measures per customer in ONE aggregation pass, for windows of at most 1461 days (four years): a fragment put
-- into the purchase_totals slot of a WITH clause (crm_core.metrics.scope.purchase_totals_sql; longer
-- windows take purchase_totals_blocks.sql) after a CTE the including query defines:
--   pass_purchases(customer_id, occurred_at, status, amount, cost, discount, in_window)
-- with in_window true for the purchases inside the analysis window (all of them for all-time facts).
-- Defines purchase_totals (per customer).
--
-- Distinct purchase days are the costly measure: a COUNT(DISTINCT day) hashes every (customer, day) pair,
-- ~10M of them for 10M purchases. Here a bitmap of the window's days per customer (bitstring_agg over the
-- bound bits_from / bits_span, set bits counted; at most 183 bytes per customer)
-- holds them, so one aggregation carries every measure: 0.3-0.5 s less at 10M purchases. The
-- purchase_days slot holds that expression, or 0 where the days are not wanted (cost to serve); the
-- channel_counts slot the completed purchases in the window per channel, or nothing (scope.purchase_totals_sql).
purchase_totals AS (
    -- per customer: first/last purchases of the history and of the window; in the window: distinct
    -- purchase days, completed orders, refunded (returns) and cancelled orders, revenue, cogs (null
    -- without cost data), orders with a cost, discounts (completed purchases unless named otherwise)
    SELECT
        customer_id,
        MIN(occurred_at) FILTER (WHERE completed)                            AS first_purchase,
        MAX(occurred_at) FILTER (WHERE completed)                            AS last_purchase,
        MIN(occurred_at) FILTER (WHERE completed AND in_window)              AS first_purchase_in_window,
        MAX(occurred_at) FILTER (WHERE completed AND in_window)              AS last_purchase_in_window,
        COALESCE({{purchase_days}}, 0)::BIGINT                               AS purchases,
        COUNT(*) FILTER (WHERE completed AND in_window)                      AS orders,
        COUNT(*) FILTER (WHERE status = 'refunded' AND in_window)            AS returns,
        COUNT(*) FILTER (WHERE status = 'cancelled' AND in_window)           AS cancelled_orders,
        COALESCE(SUM(amount) FILTER (WHERE completed AND in_window), 0)      AS revenue,
        SUM(cost) FILTER (WHERE completed AND in_window)                     AS cogs,
        COUNT(cost) FILTER (WHERE completed AND in_window)                   AS orders_with_cost,
        COALESCE(SUM(discount) FILTER (WHERE completed AND in_window), 0)    AS discounts{{channel_counts}}
    FROM (SELECT *, status = 'completed' AS completed FROM pass_purchases)
    GROUP BY customer_id
)
