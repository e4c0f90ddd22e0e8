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
-- @include cost_rate_row
,
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
