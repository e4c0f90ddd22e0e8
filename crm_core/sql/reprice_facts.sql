-- New cost rates applied to a dataset's stored customer facts (crm_core.metrics.cost.set_rates): cost to serve
-- and net profit priced again from what each customer used (cost_pricing.sql), without recomputing the facts
-- from the transactions. Every row: a customer who used nothing costs 0.
UPDATE customer_facts AS f
SET cost_to_serve = p.cost_to_serve, net_profit = p.net_profit
FROM (
    WITH
    -- @include facts_usage
    ,
    -- @include cost_pricing
    SELECT customer_id, cost_to_serve::DOUBLE AS cost_to_serve, net_profit::DOUBLE AS net_profit FROM customer_profit
) AS p
WHERE f.dataset_id = $dataset AND f.customer_id = p.customer_id
