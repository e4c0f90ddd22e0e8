-- Cost to serve per customer served in a scope read from the stored customer facts (the dataset's default
-- window, with region / segment / owner filters): the same result as cost_to_serve_scope.sql without rescanning
-- the transactions (crm_core.metrics.cost.cost_to_serve). The facts keep what each customer used in the window
-- (contacts, minutes and explicit cost per interaction pool, orders, refunded orders); cost_pricing.sql prices it
-- at the dataset's current rates. Served: a purchase of any status or an interaction in the window.
WITH
-- @include facts_usage
,
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
