-- Purchase measures per customer for windows longer than four years (1461 days): a fragment of CTEs put into the
-- purchase_totals slot of a WITH clause (crm_core.metrics.scope.purchase_totals_sql; shorter windows take
-- purchase_totals.sql, one aggregation) after a CTE the including query defines:
--   pass_purchases(customer_id, occurred_at, status, amount, cost, discount, in_window)
-- with in_window true for the purchases inside the analysis window (all of them for all-time facts).
-- Defines purchase_blocks (per customer and 1024-day block) and purchase_totals (per customer).
--
-- Distinct purchase days are the costly measure (a COUNT(DISTINCT day) hashes every (customer, day) pair,
-- ~10M groups for 10M purchases). Instead each (customer, 1024-day block) group keeps a 1024-bit bitmap
-- of its days (bitstring_agg, fixed size whatever the data's date range) and the days are the set bits,
-- summed over blocks. Every other measure rides along in the same two-level pass.
-- The channel_counts, channel_sums and channel slots hold the completed purchases in the window per channel
-- (per block, then summed) and the column they need, or nothing (crm_core.metrics.scope.purchase_totals_sql).
purchase_blocks AS (
    SELECT
        customer_id,
        day_number // 1024                                                   AS day_block,
        MIN(occurred_at) FILTER (WHERE completed)                            AS first_purchase,
        MAX(occurred_at) FILTER (WHERE completed)                            AS last_purchase,
        MIN(occurred_at) FILTER (WHERE completed AND in_window)              AS first_purchase_in_window,
        MAX(occurred_at) FILTER (WHERE completed AND in_window)              AS last_purchase_in_window,
        -- bit d of the block set when a completed purchase in the window falls on its day d
        bitstring_agg((day_number % 1024)::INTEGER, 0, 1023)
            FILTER (WHERE completed AND in_window)                           AS days,
        COUNT(*) FILTER (WHERE completed AND in_window)                      AS orders,
        COUNT(*) FILTER (WHERE status = 'refunded' AND in_window)            AS returns,
        COUNT(*) FILTER (WHERE status = 'cancelled' AND in_window)           AS cancelled_orders,
        SUM(amount) FILTER (WHERE completed AND in_window)                   AS revenue,
        SUM(cost) FILTER (WHERE completed AND in_window)                     AS cogs,
        COUNT(cost) FILTER (WHERE completed AND in_window)                   AS orders_with_cost,
        SUM(discount) FILTER (WHERE completed AND in_window)                 AS discounts{{channel_counts}}
    FROM (
        -- days since 0001-01-01: never negative, so // and % split them into block and bit
        SELECT
            customer_id, occurred_at, status, amount, cost, discount, {{channel}}in_window,
            status = 'completed'                                             AS completed,
            date_diff('day', DATE '0001-01-01', occurred_at::DATE)           AS day_number
        FROM pass_purchases
    )
    GROUP BY customer_id, day_block
),
purchase_totals AS (
    -- per customer: first/last purchases of the history and of the window; in the window: distinct
    -- purchase days, completed orders, refunded (returns) and cancelled orders, revenue, cogs (null
    -- without cost data), orders with a cost, discounts (completed purchases unless named otherwise)
    SELECT
        customer_id,
        MIN(first_purchase)                                                  AS first_purchase,
        MAX(last_purchase)                                                   AS last_purchase,
        MIN(first_purchase_in_window)                                        AS first_purchase_in_window,
        MAX(last_purchase_in_window)                                         AS last_purchase_in_window,
        COALESCE(SUM(bit_count(days)), 0)::BIGINT                            AS purchases,
        SUM(orders)::BIGINT                                                  AS orders,
        SUM(returns)::BIGINT                                                 AS returns,
        SUM(cancelled_orders)::BIGINT                                        AS cancelled_orders,
        COALESCE(SUM(revenue), 0)                                            AS revenue,
        SUM(cogs)                                                            AS cogs,
        SUM(orders_with_cost)::BIGINT                                        AS orders_with_cost,
        COALESCE(SUM(discounts), 0)                                          AS discounts{{channel_sums}}
    FROM purchase_blocks
    GROUP BY customer_id
)
