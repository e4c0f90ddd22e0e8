-- Activity-based cost to serve per customer: a fragment of CTEs included (`-- @include cost_to_serve`)
-- into a WITH clause after two CTEs the including query defines:
--   cost_orders(customer_id, orders, returns, revenue, cogs, orders_with_cost, discounts)
--       one row per customer with purchases to cost: completed orders, refunded orders (returns), revenue,
--       cogs (null without cost data), orders with a cost, discounts (purchase_totals.sql computes them)
--   cost_interactions(customer_id, kind, duration_minutes, cost, in_window)
--       interaction rows; only those in_window are costed (the others give their customer a zero row)
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
    -- every rate as a column of one row, so pricing needs no join per customer
    SELECT
        COALESCE(MAX(rate) FILTER (WHERE pool = 'order' AND unit = 'per_order'), 0)   AS per_order,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'return' AND unit = 'per_return'), 0) AS per_return,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'call' AND unit = 'per_contact'), 0) AS call_per_contact,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'call' AND unit = 'per_minute'), 0)  AS call_per_minute,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'email' AND unit = 'per_contact'), 0) AS email_per_contact,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'email' AND unit = 'per_minute'), 0)  AS email_per_minute,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'meeting' AND unit = 'per_contact'), 0) AS meeting_per_contact,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'meeting' AND unit = 'per_minute'), 0)  AS meeting_per_minute,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'visit' AND unit = 'per_contact'), 0) AS visit_per_contact,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'visit' AND unit = 'per_minute'), 0)  AS visit_per_minute,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'chat' AND unit = 'per_contact'), 0) AS chat_per_contact,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'chat' AND unit = 'per_minute'), 0)  AS chat_per_minute,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'ticket' AND unit = 'per_contact'), 0) AS ticket_per_contact,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'ticket' AND unit = 'per_minute'), 0)  AS ticket_per_minute,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'other' AND unit = 'per_contact'), 0) AS other_per_contact,
        COALESCE(MAX(rate) FILTER (WHERE pool = 'other' AND unit = 'per_minute'), 0)  AS other_per_minute
    FROM cost_rate
),
cost_touch_pool AS (
    -- each interaction in its pool: its kind (trimmed, lower case) when a known kind, else 'other'
    SELECT customer_id, in_window, duration_minutes, cost,
        CASE WHEN lower(trim(kind)) IN ('call', 'email', 'meeting', 'visit', 'chat', 'ticket')
             THEN lower(trim(kind)) ELSE 'other' END AS pool
    FROM cost_interactions
),
cost_touch_wide AS (
    -- one pass per customer: contacts, minutes and explicit cost of each pool in the window
    SELECT
        customer_id,
        COUNT(*) FILTER (WHERE in_window)                                      AS interactions,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window), 0)            AS interaction_minutes,
        COUNT(*) FILTER (WHERE in_window AND pool = 'call')                    AS n_call,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window AND pool = 'call'), 0) AS minutes_call,
        COALESCE(SUM(cost) FILTER (WHERE in_window AND pool = 'call'), 0)      AS direct_call,
        COUNT(*) FILTER (WHERE in_window AND pool = 'email')                   AS n_email,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window AND pool = 'email'), 0) AS minutes_email,
        COALESCE(SUM(cost) FILTER (WHERE in_window AND pool = 'email'), 0)     AS direct_email,
        COUNT(*) FILTER (WHERE in_window AND pool = 'meeting')                 AS n_meeting,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window AND pool = 'meeting'), 0) AS minutes_meeting,
        COALESCE(SUM(cost) FILTER (WHERE in_window AND pool = 'meeting'), 0)   AS direct_meeting,
        COUNT(*) FILTER (WHERE in_window AND pool = 'visit')                   AS n_visit,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window AND pool = 'visit'), 0) AS minutes_visit,
        COALESCE(SUM(cost) FILTER (WHERE in_window AND pool = 'visit'), 0)     AS direct_visit,
        COUNT(*) FILTER (WHERE in_window AND pool = 'chat')                    AS n_chat,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window AND pool = 'chat'), 0) AS minutes_chat,
        COALESCE(SUM(cost) FILTER (WHERE in_window AND pool = 'chat'), 0)      AS direct_chat,
        COUNT(*) FILTER (WHERE in_window AND pool = 'ticket')                  AS n_ticket,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window AND pool = 'ticket'), 0) AS minutes_ticket,
        COALESCE(SUM(cost) FILTER (WHERE in_window AND pool = 'ticket'), 0)    AS direct_ticket,
        COUNT(*) FILTER (WHERE in_window AND pool = 'other')                   AS n_other,
        COALESCE(SUM(duration_minutes) FILTER (WHERE in_window AND pool = 'other'), 0) AS minutes_other,
        COALESCE(SUM(cost) FILTER (WHERE in_window AND pool = 'other'), 0)     AS direct_other
    FROM cost_touch_pool
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
        (COALESCE(t.n_call, 0) * r.call_per_contact + COALESCE(t.minutes_call, 0) * r.call_per_minute
         + COALESCE(t.direct_call, 0))::DOUBLE        AS cost_call,
        (COALESCE(t.n_email, 0) * r.email_per_contact + COALESCE(t.minutes_email, 0) * r.email_per_minute
         + COALESCE(t.direct_email, 0))::DOUBLE        AS cost_email,
        (COALESCE(t.n_meeting, 0) * r.meeting_per_contact + COALESCE(t.minutes_meeting, 0) * r.meeting_per_minute
         + COALESCE(t.direct_meeting, 0))::DOUBLE        AS cost_meeting,
        (COALESCE(t.n_visit, 0) * r.visit_per_contact + COALESCE(t.minutes_visit, 0) * r.visit_per_minute
         + COALESCE(t.direct_visit, 0))::DOUBLE        AS cost_visit,
        (COALESCE(t.n_chat, 0) * r.chat_per_contact + COALESCE(t.minutes_chat, 0) * r.chat_per_minute
         + COALESCE(t.direct_chat, 0))::DOUBLE        AS cost_chat,
        (COALESCE(t.n_ticket, 0) * r.ticket_per_contact + COALESCE(t.minutes_ticket, 0) * r.ticket_per_minute
         + COALESCE(t.direct_ticket, 0))::DOUBLE        AS cost_ticket,
        (COALESCE(t.n_other, 0) * r.other_per_contact + COALESCE(t.minutes_other, 0) * r.other_per_minute
         + COALESCE(t.direct_other, 0))::DOUBLE        AS cost_other,
        (COALESCE(o.orders, 0) * r.per_order)::DOUBLE           AS cost_order,
        (COALESCE(o.returns, 0) * r.per_return)::DOUBLE         AS cost_return,
        COALESCE(o.discounts, 0)::DOUBLE                        AS discounts,
        COALESCE(o.revenue, 0)::DOUBLE                          AS revenue,
        COALESCE(o.cogs, 0)::DOUBLE                             AS cogs,
        (COALESCE(o.orders_with_cost, 0) > 0)                   AS has_cogs,
        (o.customer_id IS NOT NULL)                             AS has_purchases
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
