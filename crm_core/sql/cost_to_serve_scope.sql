-- Cost to serve per customer served in a scope (crm_core.metrics.cost.cost_to_serve): purchases of any
-- status and interactions inside the window, customer and channel filters applied by the scope's
-- subqueries in the purchases and interactions slots. Purchase measures: purchase_totals.sql; costing:
-- cost_to_serve.sql.
WITH
pass_purchases AS NOT MATERIALIZED (
    -- the scope's purchases; NOT MATERIALIZED: when channel_mode groups them too, its two consumers each
    -- rescan the columns they need, cheaper than buffering every purchase row once
    SELECT sp.customer_id, sp.occurred_at, sp.status, sp.amount, sp.cost, sp.discount, sp.channel,
        TRUE AS in_window
    FROM ({{purchases}}) AS sp
),
{{purchase_totals}}
,
cost_orders AS (
    SELECT customer_id, orders, returns, revenue, cogs, orders_with_cost, discounts FROM purchase_totals
),
cost_interactions AS (
    SELECT si.customer_id, si.kind, si.duration_minutes, si.cost, TRUE AS in_window
    FROM ({{interactions}}) AS si
),
-- @include cost_to_serve
,
channel_mode AS (
    -- most frequent sales channel of the completed purchases; on a tie the last by name, as in the
    -- customer facts (MODE would break ties arbitrarily, run to run): scope.channel_mode_sql
    {{channel_mode}}
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
-- with a channel filter, only customers with a purchase through those channels in the window
WHERE len($channels::VARCHAR[]) = 0 OR k.has_purchases
ORDER BY k.customer_id
