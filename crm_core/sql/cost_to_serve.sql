-- Activity-based cost to serve per customer from the raw activity: a fragment of CTEs included
-- (`-- @include cost_to_serve`) into a WITH clause after two CTEs the including query defines:
--   cost_orders(customer_id, orders, returns, revenue, cogs, orders_with_cost, discounts)
--       one row per customer with purchases to cost: completed orders, refunded orders (returns), revenue,
--       cogs (null without cost data), orders with a cost, discounts (purchase_totals.sql computes them)
--   cost_interactions(customer_id, kind, duration_minutes, cost, in_window)
--       interaction rows; only those in_window are costed (the others give their customer a zero row)
-- and the parameter $dataset, whose rates apply. It counts what each customer used (cost_counts) and prices
-- it with cost_pricing.sql, which the stored facts are priced with too (reprice_facts.sql; cost.price repeats
-- it in memory).
cost_touch_pool AS (
    -- each interaction in its pool: its kind (trimmed, lower case) when a known kind, else other. The pool is
    -- numbered (1 call, 2 email, 3 meeting, 4 visit, 5 chat, 6 ticket, 7 other): the 21 filters below compare
    -- a small integer instead of a string, ~0.2 s less over 2M interactions
    SELECT customer_id, in_window, duration_minutes, cost,
        CASE lower(trim(kind))
            WHEN 'call' THEN 1 WHEN 'email' THEN 2 WHEN 'meeting' THEN 3 WHEN 'visit' THEN 4
            WHEN 'chat' THEN 5 WHEN 'ticket' THEN 6 ELSE 7
        END::UTINYINT AS pool
    FROM cost_interactions
),
cost_touch_wide AS (
    -- one pass per customer: contacts, minutes and explicit cost of each pool in the window
    SELECT
        customer_id,
        COUNT(*) FILTER (WHERE in_window)                                         AS interactions,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window), 0)               AS interaction_minutes,
        COUNT(*) FILTER (WHERE in_window AND pool = 1)                            AS n_call,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window AND pool = 1), 0)  AS minutes_call,
        COALESCE(SUM(cost) FILTER (WHERE in_window AND pool = 1), 0)              AS direct_call,
        COUNT(*) FILTER (WHERE in_window AND pool = 2)                            AS n_email,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window AND pool = 2), 0)  AS minutes_email,
        COALESCE(SUM(cost) FILTER (WHERE in_window AND pool = 2), 0)              AS direct_email,
        COUNT(*) FILTER (WHERE in_window AND pool = 3)                            AS n_meeting,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window AND pool = 3), 0)  AS minutes_meeting,
        COALESCE(SUM(cost) FILTER (WHERE in_window AND pool = 3), 0)              AS direct_meeting,
        COUNT(*) FILTER (WHERE in_window AND pool = 4)                            AS n_visit,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window AND pool = 4), 0)  AS minutes_visit,
        COALESCE(SUM(cost) FILTER (WHERE in_window AND pool = 4), 0)              AS direct_visit,
        COUNT(*) FILTER (WHERE in_window AND pool = 5)                            AS n_chat,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window AND pool = 5), 0)  AS minutes_chat,
        COALESCE(SUM(cost) FILTER (WHERE in_window AND pool = 5), 0)              AS direct_chat,
        COUNT(*) FILTER (WHERE in_window AND pool = 6)                            AS n_ticket,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window AND pool = 6), 0)  AS minutes_ticket,
        COALESCE(SUM(cost) FILTER (WHERE in_window AND pool = 6), 0)              AS direct_ticket,
        COUNT(*) FILTER (WHERE in_window AND pool = 7)                            AS n_other,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window AND pool = 7), 0)  AS minutes_other,
        COALESCE(SUM(cost) FILTER (WHERE in_window AND pool = 7), 0)              AS direct_other
    FROM cost_touch_pool
    GROUP BY customer_id
),
cost_counts AS (
    -- what each customer used in the window: contacts, minutes and explicit cost per pool, orders, returns
    SELECT
        customer_id,
        COALESCE(t.interactions, 0)::BIGINT AS interactions,
        COALESCE(t.interaction_minutes, 0)::DOUBLE AS interaction_minutes,
        COALESCE(t.n_call, 0)::BIGINT AS n_call,
        COALESCE(t.n_email, 0)::BIGINT AS n_email,
        COALESCE(t.n_meeting, 0)::BIGINT AS n_meeting,
        COALESCE(t.n_visit, 0)::BIGINT AS n_visit,
        COALESCE(t.n_chat, 0)::BIGINT AS n_chat,
        COALESCE(t.n_ticket, 0)::BIGINT AS n_ticket,
        COALESCE(t.n_other, 0)::BIGINT AS n_other,
        COALESCE(t.minutes_call, 0)::DOUBLE AS minutes_call,
        COALESCE(t.minutes_email, 0)::DOUBLE AS minutes_email,
        COALESCE(t.minutes_meeting, 0)::DOUBLE AS minutes_meeting,
        COALESCE(t.minutes_visit, 0)::DOUBLE AS minutes_visit,
        COALESCE(t.minutes_chat, 0)::DOUBLE AS minutes_chat,
        COALESCE(t.minutes_ticket, 0)::DOUBLE AS minutes_ticket,
        COALESCE(t.minutes_other, 0)::DOUBLE AS minutes_other,
        COALESCE(t.direct_call, 0)::DOUBLE AS direct_call,
        COALESCE(t.direct_email, 0)::DOUBLE AS direct_email,
        COALESCE(t.direct_meeting, 0)::DOUBLE AS direct_meeting,
        COALESCE(t.direct_visit, 0)::DOUBLE AS direct_visit,
        COALESCE(t.direct_chat, 0)::DOUBLE AS direct_chat,
        COALESCE(t.direct_ticket, 0)::DOUBLE AS direct_ticket,
        COALESCE(t.direct_other, 0)::DOUBLE AS direct_other,
        COALESCE(o.orders, 0)::BIGINT AS orders,
        COALESCE(o.returns, 0)::BIGINT AS returns,
        COALESCE(o.discounts, 0)::DOUBLE AS discounts,
        COALESCE(o.revenue, 0)::DOUBLE AS revenue,
        COALESCE(o.cogs, 0)::DOUBLE AS cogs,
        (COALESCE(o.orders_with_cost, 0) > 0) AS has_cogs,
        (o.customer_id IS NOT NULL) AS has_purchases
    FROM cost_touch_wide AS t
    FULL OUTER JOIN cost_orders AS o USING (customer_id)
),
-- @include cost_pricing
