-- Customer facts over a scope (crm_core.metrics.facts.customer_facts): one row per customer known by the
-- window end ($end_ts, exclusive) that passes the scope's filters. The slots hold the scope's subqueries
-- over the whole history (purchases of all statuses, interactions, feedback) and the customers filter on
-- alias c; they are cut at the window end here, and in_window marks the rows from the window start on.
-- Each activity table is aggregated in ONE pass (history and window measures together); the customers
-- are then the union of those per-customer results and the customers table, found by full joins on
-- customer_id (no separate UNION of ids). Purchase measures: purchase_totals(_blocks).sql; costing:
-- cost_to_serve.sql (the same CTEs as the stored customer_facts).
WITH
pass_purchases AS NOT MATERIALIZED (
    -- purchases up to the window end, any status. NOT MATERIALIZED: when channel_mode groups them too, its
    -- two consumers each rescan the columns they need, cheaper than buffering the 10M joined rows once
    SELECT
        hp.customer_id, hp.occurred_at, hp.status, hp.amount, hp.cost, hp.discount, hp.channel,
        ($start_ts::TIMESTAMP IS NULL OR hp.occurred_at >= $start_ts::TIMESTAMP) AS in_window
    FROM ({{purchases}}) AS hp
    WHERE $end_ts::TIMESTAMP IS NULL OR hp.occurred_at < $end_ts::TIMESTAMP
),
{{purchase_totals}}
,
cost_orders AS (
    SELECT customer_id, orders, returns, revenue, cogs, orders_with_cost, discounts FROM purchase_totals
),
cost_interactions AS (
    -- interactions up to the window end (their customers are known), costed from the window start
    SELECT
        hi.customer_id, hi.kind, hi.duration_minutes, hi.cost,
        ($start_ts::TIMESTAMP IS NULL OR hi.occurred_at >= $start_ts::TIMESTAMP) AS in_window
    FROM ({{interactions}}) AS hi
    WHERE $end_ts::TIMESTAMP IS NULL OR hi.occurred_at < $end_ts::TIMESTAMP
),
-- @include cost_to_serve
,
channel_mode AS (
    -- most frequent sales channel of the completed purchases in the window; on a tie the last by name
    -- (scope.channel_mode_sql: from purchase_totals' counts per channel, or a group-by of pass_purchases)
    {{channel_mode}}
),
answers AS (
    -- latest NPS and CSAT answers up to the window end
    SELECT
        customer_id,
        arg_max(nps, responded_at) FILTER (WHERE nps IS NOT NULL)   AS latest_nps,
        arg_max(csat, responded_at) FILTER (WHERE csat IS NOT NULL) AS latest_csat
    FROM ({{feedback}}) AS fb
    WHERE $end_ts::TIMESTAMP IS NULL OR fb.responded_at < $end_ts::TIMESTAMP
    GROUP BY customer_id
),
active AS (
    -- customers with a purchase or an interaction (customer_profit) or an answer by the window end;
    -- has_purchases: bought by the window end (through the scope's channels)
    SELECT
        COALESCE(k.customer_id, a.customer_id) AS customer_id,
        COALESCE(k.has_purchases, FALSE)       AS has_purchases,
        k.* EXCLUDE (customer_id, has_purchases),
        a.latest_nps, a.latest_csat
    FROM customer_profit AS k
    FULL JOIN answers AS a ON a.customer_id = k.customer_id
),
everyone AS (
    -- known customers: active ones, and customers-table rows passing the filters created by the window
    -- end; a channel filter keeps the customers who bought through those channels by the window end
    SELECT
        COALESCE(x.customer_id, c.customer_id) AS customer_id,
        c.name, c.country, c.region, c.industry, c.segment, c.acquisition_channel, c.owner,
        x.* EXCLUDE (customer_id)
    FROM active AS x
    FULL JOIN (SELECT * FROM customers AS c WHERE c.dataset_id = $dataset AND {{customer_filter}}) AS c
        ON c.customer_id = x.customer_id
    WHERE (x.customer_id IS NOT NULL
           OR $end_ts::TIMESTAMP IS NULL OR c.created_at IS NULL OR c.created_at < $end_ts::TIMESTAMP)
      AND (len($channels::VARCHAR[]) = 0 OR x.has_purchases)
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
    e.name, e.country, e.region, e.industry, e.segment, e.acquisition_channel, e.owner,
    m.main_channel,
    day.as_of,
    b.first_purchase,
    b.last_purchase,
    b.first_purchase_in_window,
    b.last_purchase_in_window,
    COALESCE(b.purchases, 0)::INTEGER                               AS purchases,
    COALESCE(e.orders, 0)::INTEGER                                  AS orders,
    COALESCE(e.revenue, 0)::DOUBLE                                  AS revenue,
    CASE WHEN e.has_cogs THEN e.cogs END::DOUBLE                    AS cogs,
    CASE WHEN e.has_cogs THEN e.revenue - e.cogs END::DOUBLE        AS margin,
    CASE WHEN e.orders > 0 THEN e.revenue / e.orders END::DOUBLE    AS avg_order_value,
    COALESCE(e.discounts, 0)::DOUBLE                                AS discounts,
    COALESCE(e.returns, 0)::INTEGER                                 AS refunded_orders,
    COALESCE(b.cancelled_orders, 0)::INTEGER                        AS cancelled_orders,
    date_diff('day', b.first_purchase::DATE, day.as_of)::INTEGER    AS tenure_days,
    date_diff('day', b.last_purchase::DATE, day.as_of)::INTEGER     AS recency_days,
    COALESCE(e.interactions, 0)::INTEGER                            AS interactions,
    COALESCE(e.n_call, 0)::INTEGER                                  AS n_call,
    COALESCE(e.n_email, 0)::INTEGER                                 AS n_email,
    COALESCE(e.n_meeting, 0)::INTEGER                               AS n_meeting,
    COALESCE(e.n_visit, 0)::INTEGER                                 AS n_visit,
    COALESCE(e.n_chat, 0)::INTEGER                                  AS n_chat,
    COALESCE(e.n_ticket, 0)::INTEGER                                AS n_ticket,
    COALESCE(e.n_other, 0)::INTEGER                                 AS n_other,
    COALESCE(e.n_ticket, 0)::INTEGER                                AS tickets,
    COALESCE(e.interaction_minutes, 0)::DOUBLE                      AS interaction_minutes,
    COALESCE(e.cost_to_serve, 0)::DOUBLE                            AS cost_to_serve,
    COALESCE(e.net_profit, 0)::DOUBLE                               AS net_profit,
    e.latest_nps::INTEGER                                           AS latest_nps,
    e.latest_csat::INTEGER                                          AS latest_csat{{usage}}
FROM everyone AS e
CROSS JOIN day
LEFT JOIN purchase_totals AS b USING (customer_id)
LEFT JOIN channel_mode    AS m USING (customer_id)
ORDER BY e.customer_id
