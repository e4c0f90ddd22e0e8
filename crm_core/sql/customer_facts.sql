-- One row per customer of dataset $dataset: every customer in the customers table or seen in any
-- activity table. Revenue counts completed purchases only; refunded and cancelled orders are counted
-- apart. Cost to serve and net profit use the dataset's cost rates (cost_to_serve.sql, all-time).
-- Rebuilt inside every import transaction and whenever the dataset's cost rates change.
WITH
pass_purchases AS (
    SELECT customer_id, occurred_at, status, amount, cost, discount, TRUE AS in_window
    FROM purchases WHERE dataset_id = $dataset
),
-- @include purchase_totals
,
cost_orders AS (
    SELECT customer_id, orders, returns, revenue, cogs, orders_with_cost, discounts FROM purchase_totals
),
cost_interactions AS NOT MATERIALIZED (
    -- the dataset's interactions; NOT MATERIALIZED: its two consumers (the costing and touches) each
    -- rescan the columns they need, cheaper than buffering the rows once
    SELECT customer_id, occurred_at, kind, duration_minutes, cost, TRUE AS in_window
    FROM interactions WHERE dataset_id = $dataset
),
-- @include cost_to_serve
,
assortment AS (
    -- distinct product categories of the completed purchases
    SELECT customer_id, COUNT(DISTINCT category) AS categories
    FROM purchases
    WHERE dataset_id = $dataset AND status = 'completed'
    GROUP BY customer_id
),
channel_mode AS (
    -- most frequent sales channel of the completed purchases; on a tie the last by name (the greatest
    -- (count, channel) pair), so the same data always gives the same channel (MODE breaks ties arbitrarily)
    SELECT customer_id, arg_max(channel, (n, channel)) AS main_channel
    FROM (
        SELECT customer_id, channel, COUNT(*) AS n
        FROM purchases
        WHERE dataset_id = $dataset AND status = 'completed' AND channel IS NOT NULL
        GROUP BY ALL
    )
    GROUP BY customer_id
),
buys AS (
    -- all-time purchase measures (purchase_totals.sql) with the assortment and main channel
    SELECT t.*, s.categories, m.main_channel
    FROM purchase_totals AS t
    LEFT JOIN assortment AS s USING (customer_id)
    LEFT JOIN channel_mode AS m USING (customer_id)
),
touches AS (
    SELECT
        customer_id,
        COUNT(*)                                       AS interactions,
        COUNT(*) FILTER (WHERE lower(kind) = 'ticket') AS tickets,
        COALESCE(SUM(duration_minutes), 0)             AS interaction_minutes,
        MAX(occurred_at)                               AS last_interaction
    FROM cost_interactions
    GROUP BY customer_id
),
answers AS (
    SELECT
        customer_id,
        arg_max(nps, responded_at) FILTER (WHERE nps IS NOT NULL)   AS latest_nps,
        arg_max(csat, responded_at) FILTER (WHERE csat IS NOT NULL) AS latest_csat,
        COUNT(*)                                                    AS responses
    FROM feedback
    WHERE dataset_id = $dataset
    GROUP BY customer_id
),
deal_stats AS (
    SELECT
        customer_id,
        COUNT(*) FILTER (WHERE status = 'won')  AS deals_won,
        COUNT(*) FILTER (WHERE status = 'lost') AS deals_lost,
        COUNT(*) FILTER (WHERE status = 'open') AS deals_open
    FROM deals
    WHERE dataset_id = $dataset
    GROUP BY customer_id
),
everyone AS (
    SELECT customer_id FROM customers WHERE dataset_id = $dataset
    UNION SELECT customer_id FROM buys
    UNION SELECT customer_id FROM touches
    UNION SELECT customer_id FROM answers
    UNION SELECT customer_id FROM deal_stats
)
SELECT
    $dataset::INTEGER                                         AS dataset_id,
    e.customer_id,
    c.name, c.company, c.country, c.region, c.industry, c.segment, c.acquisition_channel, c.owner,
    COALESCE(c.created_at, b.first_purchase)                  AS created_at,
    b.first_purchase,
    b.last_purchase,
    COALESCE(b.purchases, 0)::INTEGER                         AS purchases,
    COALESCE(b.orders, 0)::INTEGER                            AS orders,
    COALESCE(b.revenue, 0)::DOUBLE                            AS revenue,
    b.cogs::DOUBLE                                            AS cogs,
    CASE WHEN b.orders_with_cost > 0 THEN b.revenue - b.cogs END::DOUBLE AS margin,
    CASE WHEN b.orders > 0 THEN b.revenue / b.orders END::DOUBLE         AS avg_order_value,
    COALESCE(b.returns, 0)::INTEGER                           AS refunded_orders,
    COALESCE(b.cancelled_orders, 0)::INTEGER                  AS cancelled_orders,
    COALESCE(b.categories, 0)::INTEGER                        AS categories,
    b.main_channel,
    COALESCE(t.interactions, 0)::INTEGER                      AS interactions,
    COALESCE(t.tickets, 0)::INTEGER                           AS tickets,
    COALESCE(t.interaction_minutes, 0)::DOUBLE                AS interaction_minutes,
    t.last_interaction,
    a.latest_nps::INTEGER                                     AS latest_nps,
    a.latest_csat::INTEGER                                    AS latest_csat,
    COALESCE(a.responses, 0)::INTEGER                         AS responses,
    COALESCE(d.deals_won, 0)::INTEGER                         AS deals_won,
    COALESCE(d.deals_lost, 0)::INTEGER                        AS deals_lost,
    COALESCE(d.deals_open, 0)::INTEGER                        AS deals_open,
    (c.customer_id IS NOT NULL)                               AS in_customers_table,
    COALESCE(k.cost_to_serve, 0)::DOUBLE                      AS cost_to_serve,
    COALESCE(k.net_profit, 0)::DOUBLE                         AS net_profit
FROM everyone AS e
LEFT JOIN (SELECT * FROM customers WHERE dataset_id = $dataset) AS c USING (customer_id)
LEFT JOIN buys       AS b USING (customer_id)
LEFT JOIN touches    AS t USING (customer_id)
LEFT JOIN answers    AS a USING (customer_id)
LEFT JOIN deal_stats AS d USING (customer_id)
LEFT JOIN customer_profit AS k USING (customer_id)
