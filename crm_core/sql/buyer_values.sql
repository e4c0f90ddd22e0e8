-- Revenue and margin per buyer of a scope: the customers with a completed purchase in the window and its
-- filters, as crm_core.views.buyers keeps them (purchases > 0), with the customer facts' definitions
-- (customer_facts_window.sql, purchase_totals.sql): revenue is the completed purchases' amounts in the window;
-- margin is revenue minus their cost when at least one of them has a cost, else null. All the Portfolio
-- page's headline KPIs need (crm_core.metrics.facts.buyer_values): one group-by over the window's purchases
-- instead of the whole facts, for the previous period the KPI cards compare with.
SELECT
    p.customer_id,
    COALESCE(SUM(p.amount), 0)::DOUBLE                               AS revenue,
    CASE WHEN COUNT(p.cost) > 0 THEN SUM(p.amount) - SUM(p.cost) END::DOUBLE AS margin
FROM ({{purchases}}) AS p
GROUP BY p.customer_id
