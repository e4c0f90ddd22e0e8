-- Customer facts over a scope (crm_core.metrics.facts.customer_facts): one row per customer known by the
-- window end ($end_ts, exclusive) that passes the scope's filters. The slots hold the scope's subqueries
-- over the whole history (purchases of all statuses, interactions, feedback) and the customers filter on
-- alias c; they are cut at the window end here, and at its start for the windowed measures.
-- Costing: cost_to_serve.sql (the same CTEs as the stored customer_facts).
WITH
history_purchases AS (
    SELECT hp.customer_id, hp.occurred_at, hp.status, hp.amount, hp.cost, hp.discount, hp.channel
    FROM ({{purchases}}) AS hp
    WHERE $end_ts::TIMESTAMP IS NULL OR hp.occurred_at < $end_ts::TIMESTAMP
),
history_interactions AS (
    SELECT hi.customer_id, hi.occurred_at, hi.kind, hi.duration_minutes, hi.cost
    FROM ({{interactions}}) AS hi
    WHERE $end_ts::TIMESTAMP IS NULL OR hi.occurred_at < $end_ts::TIMESTAMP
),
cost_purchases AS (
    SELECT * FROM history_purchases
    WHERE $start_ts::TIMESTAMP IS NULL OR occurred_at >= $start_ts::TIMESTAMP
),
cost_interactions AS (
    SELECT * FROM history_interactions
    WHERE $start_ts::TIMESTAMP IS NULL OR occurred_at >= $start_ts::TIMESTAMP
),
-- @include cost_to_serve
,
buys AS (
    -- one pass over the history: ever (up to the window end) and inside the window
    SELECT
        customer_id,
        MIN(occurred_at) FILTER (WHERE status = 'completed')                          AS first_purchase,
        MAX(occurred_at) FILTER (WHERE status = 'completed')                          AS last_purchase,
        MIN(occurred_at) FILTER (WHERE status = 'completed' AND in_window)            AS first_purchase_in_window,
        MAX(occurred_at) FILTER (WHERE status = 'completed' AND in_window)            AS last_purchase_in_window,
        COUNT(DISTINCT CAST(occurred_at AS DATE)) FILTER (WHERE status = 'completed' AND in_window) AS purchases,
        COUNT(*) FILTER (WHERE status = 'cancelled' AND in_window)                    AS cancelled_orders
    FROM (
        SELECT *, ($start_ts::TIMESTAMP IS NULL OR occurred_at >= $start_ts::TIMESTAMP) AS in_window
        FROM history_purchases
    )
    GROUP BY customer_id
),
channel_mode AS (
    -- most frequent sales channel of the completed purchases in the window (ties: the first by name)
    SELECT customer_id, arg_max(channel, n ORDER BY channel DESC) AS main_channel
    FROM (
        SELECT customer_id, channel, COUNT(*) AS n
        FROM cost_purchases
        WHERE status = 'completed' AND channel IS NOT NULL
        GROUP BY ALL
    )
    GROUP BY customer_id
),
answers AS (
    SELECT
        customer_id,
        arg_max(nps, responded_at) FILTER (WHERE nps IS NOT NULL)   AS latest_nps,
        arg_max(csat, responded_at) FILTER (WHERE csat IS NOT NULL) AS latest_csat
    FROM ({{feedback}}) AS fb
    WHERE $end_ts::TIMESTAMP IS NULL OR fb.responded_at < $end_ts::TIMESTAMP
    GROUP BY customer_id
),
known AS (
    SELECT c.customer_id FROM customers AS c
    WHERE c.dataset_id = $dataset
      AND {{customer_filter}}
      AND ($end_ts::TIMESTAMP IS NULL OR c.created_at IS NULL OR c.created_at < $end_ts::TIMESTAMP)
    UNION SELECT customer_id FROM buys
    UNION SELECT DISTINCT customer_id FROM history_interactions
    UNION SELECT customer_id FROM answers
),
everyone AS (
    -- a channel filter keeps the customers who bought through those channels by the window end
    SELECT customer_id FROM known
    WHERE len($channels::VARCHAR[]) = 0 OR customer_id IN (SELECT customer_id FROM buys)
),
day AS (
    SELECT COALESCE(
        $as_of::DATE,
        ($end_ts::TIMESTAMP - INTERVAL 1 DAY)::DATE,
        (SELECT MAX(occurred_at)::DATE FROM purchases WHERE dataset_id = $dataset)
    ) AS as_of
)
SELECT
    $dataset::INTEGER                                               AS dataset_id,
    e.customer_id,
    c.name, c.country, c.region, c.industry, c.segment, c.acquisition_channel, c.owner,
    m.main_channel,
    day.as_of,
    b.first_purchase,
    b.last_purchase,
    b.first_purchase_in_window,
    b.last_purchase_in_window,
    COALESCE(b.purchases, 0)::INTEGER                               AS purchases,
    COALESCE(k.orders, 0)::INTEGER                                  AS orders,
    COALESCE(k.revenue, 0)::DOUBLE                                  AS revenue,
    CASE WHEN k.has_cogs THEN k.cogs END::DOUBLE                    AS cogs,
    CASE WHEN k.has_cogs THEN k.revenue - k.cogs END::DOUBLE        AS margin,
    CASE WHEN k.orders > 0 THEN k.revenue / k.orders END::DOUBLE    AS avg_order_value,
    COALESCE(k.discounts, 0)::DOUBLE                                AS discounts,
    COALESCE(k.returns, 0)::INTEGER                                 AS refunded_orders,
    COALESCE(b.cancelled_orders, 0)::INTEGER                        AS cancelled_orders,
    date_diff('day', b.first_purchase::DATE, day.as_of)::INTEGER    AS tenure_days,
    date_diff('day', b.last_purchase::DATE, day.as_of)::INTEGER     AS recency_days,
    COALESCE(k.interactions, 0)::INTEGER                            AS interactions,
    COALESCE(k.n_call, 0)::INTEGER                                  AS n_call,
    COALESCE(k.n_email, 0)::INTEGER                                 AS n_email,
    COALESCE(k.n_meeting, 0)::INTEGER                               AS n_meeting,
    COALESCE(k.n_visit, 0)::INTEGER                                 AS n_visit,
    COALESCE(k.n_chat, 0)::INTEGER                                  AS n_chat,
    COALESCE(k.n_ticket, 0)::INTEGER                                AS n_ticket,
    COALESCE(k.n_other, 0)::INTEGER                                 AS n_other,
    COALESCE(k.n_ticket, 0)::INTEGER                                AS tickets,
    COALESCE(k.interaction_minutes, 0)::DOUBLE                      AS interaction_minutes,
    COALESCE(k.cost_to_serve, 0)::DOUBLE                            AS cost_to_serve,
    COALESCE(k.net_profit, 0)::DOUBLE                               AS net_profit,
    a.latest_nps::INTEGER                                           AS latest_nps,
    a.latest_csat::INTEGER                                          AS latest_csat
FROM everyone AS e
CROSS JOIN day
LEFT JOIN (SELECT * FROM customers WHERE dataset_id = $dataset) AS c USING (customer_id)
LEFT JOIN buys            AS b USING (customer_id)
LEFT JOIN channel_mode    AS m USING (customer_id)
LEFT JOIN customer_profit AS k USING (customer_id)
LEFT JOIN answers         AS a USING (customer_id)
ORDER BY e.customer_id
