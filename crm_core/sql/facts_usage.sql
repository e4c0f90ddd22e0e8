-- What each customer used in the default window, read from the stored customer facts: a fragment defining
-- cost_counts (the CTE cost_pricing.sql prices) over the dataset's stored rows that pass the condition in
-- the facts_rows slot, with the customer attributes the cost views group by. The facts keep contacts, minutes and explicit
-- cost per interaction pool, orders and refunded orders (customer_facts_window.sql).
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
    WHERE dataset_id = $dataset AND {{facts_rows}}
)
