-- Cost to serve per customer served in a scope read from the stored customer facts (the dataset's default
-- window, with region / segment / owner filters): the same result as cost_to_serve_scope.sql without rescanning
-- the transactions (crm_core.metrics.cost.cost_to_serve). The facts keep what each customer used in the window
-- (contacts, minutes and explicit cost per interaction pool, orders, refunded orders); cost_pricing.sql prices it
-- at the dataset's current rates. Served: a purchase of any status or an interaction in the window.
WITH
cost_counts AS (
    SELECT
        customer_id, interactions::BIGINT AS interactions, interaction_minutes,
        n_call::BIGINT AS n_call, n_email::BIGINT AS n_email, n_meeting::BIGINT AS n_meeting, n_visit::BIGINT AS n_visit, n_chat::BIGINT AS n_chat, n_ticket::BIGINT AS n_ticket, n_other::BIGINT AS n_other,
        minutes_call, minutes_email, minutes_meeting, minutes_visit, minutes_chat, minutes_ticket, minutes_other,
        direct_call, direct_email, direct_meeting, direct_visit, direct_chat, direct_ticket, direct_other,
        orders::BIGINT AS orders, refunded_orders::BIGINT AS returns, discounts, revenue,
        COALESCE(cogs, 0) AS cogs, cogs IS NOT NULL AS has_cogs,
        (orders + refunded_orders + cancelled_orders) > 0 AS has_purchases,
        region, segment, owner, main_channel
    FROM customer_facts
    WHERE dataset_id = $dataset
      AND (orders + refunded_orders + cancelled_orders + interactions) > 0
      AND (len($regions::VARCHAR[]) = 0 OR list_contains($regions::VARCHAR[], region))
      AND (len($segments::VARCHAR[]) = 0 OR list_contains($segments::VARCHAR[], segment))
      AND (len($owners::VARCHAR[]) = 0 OR list_contains($owners::VARCHAR[], owner))
),
-- @include cost_pricing
SELECT
    k.customer_id, k.region, k.segment, k.owner, k.main_channel,
    k.cost_call, k.cost_email, k.cost_meeting, k.cost_visit, k.cost_chat, k.cost_ticket, k.cost_other,
    k.cost_order, k.cost_return,
    k.cost_to_serve::DOUBLE AS cost_to_serve,
    k.discounts, k.revenue, k.cogs, k.has_cogs,
    k.gross_margin::DOUBLE  AS gross_margin,
    k.net_profit::DOUBLE    AS net_profit,
    k.orders, k.returns, k.interactions, k.interaction_minutes,
    k.n_call, k.n_email, k.n_meeting, k.n_visit, k.n_chat, k.n_ticket, k.n_other
FROM customer_profit AS k
ORDER BY k.customer_id
