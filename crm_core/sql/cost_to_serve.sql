-- Activity-based cost to serve per customer: a fragment of CTEs included (`-- @include cost_to_serve`)
-- into a WITH clause after two CTEs the including query defines:
--   cost_purchases(customer_id, status, amount, cost, discount, channel)   purchases to cost, all statuses
--   cost_interactions(customer_id, kind, duration_minutes, cost)           interactions to cost
-- and the parameter $dataset, whose rates apply (cost_rates, falling back to cost_rate_defaults).
-- Time-driven ABC (Kaplan & Anderson 2004, HBR 82(11)): interaction pool cost = contacts x per_contact
-- + minutes x per_minute + explicit interactions.cost; order handling = completed orders x order rate;
-- returns = refunded orders x return rate. Discounts are reported but are not a cost to serve: amount is
-- net revenue (DESIGN §4), so a discount is already out of revenue.
cost_rate AS (
    SELECT d.pool, d.unit, COALESCE(s.rate, d.rate) AS rate
    FROM cost_rate_defaults AS d
    LEFT JOIN (SELECT pool, unit, rate FROM cost_rates WHERE dataset_id = $dataset) AS s USING (pool, unit)
),
cost_rate_row AS (
    SELECT
        COALESCE(MAX(rate) FILTER (WHERE pool = 'order' AND unit = 'per_order'), 0)   AS per_order,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'return' AND unit = 'per_return'), 0) AS per_return
    FROM cost_rate
),
cost_touch AS (
    SELECT
        customer_id,
        CASE WHEN lower(trim(kind)) IN ('call', 'email', 'meeting', 'visit', 'chat', 'ticket')
             THEN lower(trim(kind)) ELSE 'other' END                 AS pool,
        COUNT(*)                                                     AS contacts,
        COALESCE(SUM(duration_minutes), 0)                           AS minutes,
        COALESCE(SUM(cost), 0)                                       AS direct
    FROM cost_interactions
    GROUP BY ALL
),
cost_touch_priced AS (
    SELECT
        t.customer_id, t.pool, t.contacts, t.minutes,
        t.contacts * COALESCE(rc.rate, 0) + t.minutes * COALESCE(rm.rate, 0) + t.direct AS cost
    FROM cost_touch AS t
    LEFT JOIN cost_rate AS rc ON rc.pool = t.pool AND rc.unit = 'per_contact'
    LEFT JOIN cost_rate AS rm ON rm.pool = t.pool AND rm.unit = 'per_minute'
),
cost_touch_wide AS (
    SELECT
        customer_id,
        SUM(contacts)                                      AS interactions,
        SUM(minutes)                                       AS interaction_minutes,
        SUM(contacts) FILTER (WHERE pool = 'call')         AS n_call,
        SUM(contacts) FILTER (WHERE pool = 'email')        AS n_email,
        SUM(contacts) FILTER (WHERE pool = 'meeting')      AS n_meeting,
        SUM(contacts) FILTER (WHERE pool = 'visit')        AS n_visit,
        SUM(contacts) FILTER (WHERE pool = 'chat')         AS n_chat,
        SUM(contacts) FILTER (WHERE pool = 'ticket')       AS n_ticket,
        SUM(contacts) FILTER (WHERE pool = 'other')        AS n_other,
        SUM(cost) FILTER (WHERE pool = 'call')             AS cost_call,
        SUM(cost) FILTER (WHERE pool = 'email')            AS cost_email,
        SUM(cost) FILTER (WHERE pool = 'meeting')          AS cost_meeting,
        SUM(cost) FILTER (WHERE pool = 'visit')            AS cost_visit,
        SUM(cost) FILTER (WHERE pool = 'chat')             AS cost_chat,
        SUM(cost) FILTER (WHERE pool = 'ticket')           AS cost_ticket,
        SUM(cost) FILTER (WHERE pool = 'other')            AS cost_other
    FROM cost_touch_priced
    GROUP BY customer_id
),
cost_orders AS (
    SELECT
        customer_id,
        COUNT(*) FILTER (WHERE status = 'completed')                  AS orders,
        COUNT(*) FILTER (WHERE status = 'refunded')                   AS returns,
        COALESCE(SUM(amount) FILTER (WHERE status = 'completed'), 0)  AS revenue,
        SUM(cost) FILTER (WHERE status = 'completed')                 AS cogs,
        COUNT(cost) FILTER (WHERE status = 'completed')               AS orders_with_cost,
        COALESCE(SUM(discount) FILTER (WHERE status = 'completed'), 0) AS discounts
    FROM cost_purchases
    GROUP BY customer_id
),
customer_cost AS (
    SELECT
        customer_id,
        COALESCE(t.interactions, 0)::BIGINT                     AS interactions,
        COALESCE(t.interaction_minutes, 0)::DOUBLE              AS interaction_minutes,
        COALESCE(t.n_call, 0)::BIGINT                           AS n_call,
        COALESCE(t.n_email, 0)::BIGINT                          AS n_email,
        COALESCE(t.n_meeting, 0)::BIGINT                        AS n_meeting,
        COALESCE(t.n_visit, 0)::BIGINT                          AS n_visit,
        COALESCE(t.n_chat, 0)::BIGINT                           AS n_chat,
        COALESCE(t.n_ticket, 0)::BIGINT                         AS n_ticket,
        COALESCE(t.n_other, 0)::BIGINT                          AS n_other,
        COALESCE(o.orders, 0)::BIGINT                           AS orders,
        COALESCE(o.returns, 0)::BIGINT                          AS returns,
        COALESCE(t.cost_call, 0)::DOUBLE                        AS cost_call,
        COALESCE(t.cost_email, 0)::DOUBLE                       AS cost_email,
        COALESCE(t.cost_meeting, 0)::DOUBLE                     AS cost_meeting,
        COALESCE(t.cost_visit, 0)::DOUBLE                       AS cost_visit,
        COALESCE(t.cost_chat, 0)::DOUBLE                        AS cost_chat,
        COALESCE(t.cost_ticket, 0)::DOUBLE                      AS cost_ticket,
        COALESCE(t.cost_other, 0)::DOUBLE                       AS cost_other,
        (COALESCE(o.orders, 0) * r.per_order)::DOUBLE           AS cost_order,
        (COALESCE(o.returns, 0) * r.per_return)::DOUBLE         AS cost_return,
        COALESCE(o.discounts, 0)::DOUBLE                        AS discounts,
        COALESCE(o.revenue, 0)::DOUBLE                          AS revenue,
        COALESCE(o.cogs, 0)::DOUBLE                             AS cogs,
        (COALESCE(o.orders_with_cost, 0) > 0)                   AS has_cogs
    FROM cost_touch_wide AS t
    FULL OUTER JOIN cost_orders AS o USING (customer_id)
    CROSS JOIN cost_rate_row AS r
),
customer_profit AS (
    SELECT
        *,
        (cost_call + cost_email + cost_meeting + cost_visit + cost_chat + cost_ticket + cost_other
         + cost_order + cost_return)                                                AS cost_to_serve,
        revenue - cogs                                                              AS gross_margin,
        revenue - cogs - (cost_call + cost_email + cost_meeting + cost_visit + cost_chat + cost_ticket
         + cost_other + cost_order + cost_return)                                   AS net_profit
    FROM customer_cost
)
