-- Cost to serve per customer served in a scope (crm_core.metrics.cost.cost_to_serve): purchases of any
-- status and interactions inside the window, customer and channel filters applied by the scope's
-- subqueries in the purchases and interactions slots. Costing: cost_to_serve.sql.
WITH
cost_purchases AS ({{purchases}}),
cost_interactions AS ({{interactions}}),
-- @include cost_to_serve
,
channel_mode AS (
    SELECT customer_id, MODE(channel) AS main_channel
    FROM cost_purchases
    WHERE status = 'completed' AND channel IS NOT NULL
    GROUP BY customer_id
)
SELECT
    k.customer_id, c.region, c.segment, c.owner, m.main_channel,
    k.cost_call, k.cost_email, k.cost_meeting, k.cost_visit, k.cost_chat, k.cost_ticket, k.cost_other,
    k.cost_order, k.cost_return,
    k.cost_to_serve::DOUBLE AS cost_to_serve,
    k.discounts, k.revenue, k.cogs, k.has_cogs,
    k.gross_margin::DOUBLE  AS gross_margin,
    k.net_profit::DOUBLE    AS net_profit,
    k.orders, k.returns, k.interactions, k.interaction_minutes,
    k.n_call, k.n_email, k.n_meeting, k.n_visit, k.n_chat, k.n_ticket, k.n_other
FROM customer_profit AS k
LEFT JOIN (SELECT * FROM customers WHERE dataset_id = $dataset) AS c USING (customer_id)
LEFT JOIN channel_mode AS m USING (customer_id)
WHERE len($channels::VARCHAR[]) = 0 OR k.customer_id IN (SELECT customer_id FROM cost_purchases)
ORDER BY k.customer_id
