-- Prices what customers used (time-driven ABC): a fragment of CTEs included (`-- @include cost_pricing`) into a
-- WITH clause after a CTE the including query defines:
--   cost_counts(customer_id, interactions, interaction_minutes, n_<pool>, minutes_<pool>, direct_<pool> for the
--       interaction pools call, email, meeting, visit, chat, ticket, other; orders, returns, discounts, revenue,
--       cogs (0 without cost data), has_cogs, has_purchases)
-- and the parameter $dataset, whose rates apply (cost_rates, falling back to cost_rate_defaults).
-- Time-driven ABC (Kaplan & Anderson 2004, HBR 82(11)): interaction pool cost = contacts x per_contact
-- + minutes x per_minute + explicit interactions.cost; order handling = completed orders x order rate;
-- returns = refunded orders x return rate. Discounts are reported but are not a cost to serve: amount is
-- net revenue (DESIGN §4), so a discount is already out of revenue.
-- crm_core.metrics.cost.price repeats customer_cost and customer_profit term by term for usage kept in memory
-- (tests/unit/metrics/test_facts.py holds the two equal to the bit): change both together.
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
customer_cost AS (
    SELECT
        c.*,
        (c.n_call * r.call_per_contact + c.minutes_call * r.call_per_minute + c.direct_call)::DOUBLE AS cost_call,
        (c.n_email * r.email_per_contact + c.minutes_email * r.email_per_minute + c.direct_email)::DOUBLE AS cost_email,
        (c.n_meeting * r.meeting_per_contact + c.minutes_meeting * r.meeting_per_minute + c.direct_meeting)::DOUBLE AS cost_meeting,
        (c.n_visit * r.visit_per_contact + c.minutes_visit * r.visit_per_minute + c.direct_visit)::DOUBLE AS cost_visit,
        (c.n_chat * r.chat_per_contact + c.minutes_chat * r.chat_per_minute + c.direct_chat)::DOUBLE AS cost_chat,
        (c.n_ticket * r.ticket_per_contact + c.minutes_ticket * r.ticket_per_minute + c.direct_ticket)::DOUBLE AS cost_ticket,
        (c.n_other * r.other_per_contact + c.minutes_other * r.other_per_minute + c.direct_other)::DOUBLE AS cost_other,
        (c.orders * r.per_order)::DOUBLE                        AS cost_order,
        (c.returns * r.per_return)::DOUBLE                      AS cost_return
    FROM cost_counts AS c
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
