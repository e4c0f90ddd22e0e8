-- New cost rates applied to a dataset's stored customer facts (crm_core.metrics.cost.set_rates): cost to serve
-- and net profit priced again from what each customer used (cost_pricing.sql), without recomputing the facts
-- from the transactions. Every row: a customer who used nothing costs 0.
UPDATE customer_facts AS f
SET cost_to_serve = p.cost_to_serve, net_profit = p.net_profit
FROM (
    WITH
    cost_counts AS (
        SELECT
            customer_id, interactions::BIGINT AS interactions, interaction_minutes,
            n_call::BIGINT AS n_call, n_email::BIGINT AS n_email, n_meeting::BIGINT AS n_meeting, n_visit::BIGINT AS n_visit, n_chat::BIGINT AS n_chat, n_ticket::BIGINT AS n_ticket, n_other::BIGINT AS n_other,
            minutes_call, minutes_email, minutes_meeting, minutes_visit, minutes_chat, minutes_ticket, minutes_other,
            direct_call, direct_email, direct_meeting, direct_visit, direct_chat, direct_ticket, direct_other,
            orders::BIGINT AS orders, refunded_orders::BIGINT AS returns, discounts, revenue,
            COALESCE(cogs, 0) AS cogs, cogs IS NOT NULL AS has_cogs, TRUE AS has_purchases
        FROM customer_facts
        WHERE dataset_id = $dataset
    ),
    -- @include cost_pricing
    SELECT customer_id, cost_to_serve::DOUBLE AS cost_to_serve, net_profit::DOUBLE AS net_profit FROM customer_profit
) AS p
WHERE f.dataset_id = $dataset AND f.customer_id = p.customer_id
