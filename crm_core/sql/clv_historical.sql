-- Historical customer value to date (crm_core.metrics.clv.historical_clv): what each customer of the scope has
-- been worth so far, from completed purchases over the whole filtered history up to the end of the analysis window.
--
-- The FROM placeholder "{purchases}" is replaced by crm_core.metrics.scope.purchases_sql(windowed=False);
-- $end_ts (exclusive, may be NULL) comes from the scope. Margin = revenue - cost (purchases without a cost count
-- their revenue); when none of a customer's purchases has a cost, the customer's value is its revenue (basis
-- 'revenue'), as in customer_facts.
SELECT
    p.customer_id,
    MIN(p.occurred_at)                                                   AS first_purchase,
    MAX(p.occurred_at)                                                   AS last_purchase,
    {purchase_days}::BIGINT                                              AS purchases,
    COALESCE(SUM(p.amount), 0)::DOUBLE                                   AS revenue,
    SUM(p.cost)::DOUBLE                                                  AS cost,
    CASE WHEN COUNT(p.cost) > 0 THEN SUM(p.amount) - SUM(p.cost) END::DOUBLE AS margin,
    CASE WHEN COUNT(p.cost) > 0 THEN SUM(p.amount) - SUM(p.cost)
         ELSE COALESCE(SUM(p.amount), 0) END::DOUBLE                     AS historical_clv,
    CASE WHEN COUNT(p.cost) > 0 THEN 'margin' ELSE 'revenue' END         AS basis
FROM (
    -- exact decimal sums: the same figures on every run (double sums in parallel vary in the last bit)
    SELECT customer_id, occurred_at, CAST(amount AS DECIMAL(38, 6)) AS amount, CAST(cost AS DECIMAL(38, 6)) AS cost
    FROM ({purchases})
) AS p
WHERE p.customer_id IS NOT NULL
  AND ($end_ts::TIMESTAMP IS NULL OR p.occurred_at < $end_ts::TIMESTAMP)
GROUP BY p.customer_id
ORDER BY historical_clv DESC, p.customer_id
