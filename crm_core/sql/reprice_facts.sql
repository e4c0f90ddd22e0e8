-- New cost rates applied to a dataset's stored customer facts (crm_core.metrics.cost.set_rates): cost to serve
-- and net profit priced again from what each customer used, without recomputing the facts from the transactions.
-- Every row: a customer who used nothing costs 0.
-- One pass over the stored rows with the rates as one row. Pricing facts_usage.sql through cost_pricing.sql and
-- joining the result back to the rows by customer_id gives the same values; at a million customers that join made
-- a rate save's write ~0.3 s, this ~0.1 s.
-- The terms, their order and their types are those of cost_pricing.sql (customer_cost, customer_profit) over
-- facts_usage.sql (counts as integers, a missing cogs as 0), so the doubles are the same to the bit: change them
-- together (tests/unit/metrics/test_cost.py compares repriced facts with rebuilt ones exactly). The sum is
-- written twice because SET reads the old cost_to_serve.
UPDATE customer_facts AS f
SET
    cost_to_serve = (
        (f.n_call * r.call_per_contact + f.minutes_call * r.call_per_minute + f.direct_call)::DOUBLE
        + (f.n_email * r.email_per_contact + f.minutes_email * r.email_per_minute + f.direct_email)::DOUBLE
        + (f.n_meeting * r.meeting_per_contact + f.minutes_meeting * r.meeting_per_minute + f.direct_meeting)::DOUBLE
        + (f.n_visit * r.visit_per_contact + f.minutes_visit * r.visit_per_minute + f.direct_visit)::DOUBLE
        + (f.n_chat * r.chat_per_contact + f.minutes_chat * r.chat_per_minute + f.direct_chat)::DOUBLE
        + (f.n_ticket * r.ticket_per_contact + f.minutes_ticket * r.ticket_per_minute + f.direct_ticket)::DOUBLE
        + (f.n_other * r.other_per_contact + f.minutes_other * r.other_per_minute + f.direct_other)::DOUBLE
        + (f.orders::BIGINT * r.per_order)::DOUBLE
        + (f.refunded_orders::BIGINT * r.per_return)::DOUBLE
    ),
    net_profit = f.revenue - COALESCE(f.cogs, 0) - (
        (f.n_call * r.call_per_contact + f.minutes_call * r.call_per_minute + f.direct_call)::DOUBLE
        + (f.n_email * r.email_per_contact + f.minutes_email * r.email_per_minute + f.direct_email)::DOUBLE
        + (f.n_meeting * r.meeting_per_contact + f.minutes_meeting * r.meeting_per_minute + f.direct_meeting)::DOUBLE
        + (f.n_visit * r.visit_per_contact + f.minutes_visit * r.visit_per_minute + f.direct_visit)::DOUBLE
        + (f.n_chat * r.chat_per_contact + f.minutes_chat * r.chat_per_minute + f.direct_chat)::DOUBLE
        + (f.n_ticket * r.ticket_per_contact + f.minutes_ticket * r.ticket_per_minute + f.direct_ticket)::DOUBLE
        + (f.n_other * r.other_per_contact + f.minutes_other * r.other_per_minute + f.direct_other)::DOUBLE
        + (f.orders::BIGINT * r.per_order)::DOUBLE
        + (f.refunded_orders::BIGINT * r.per_return)::DOUBLE
    )
FROM (
    WITH
    -- @include cost_rate_row
    SELECT * FROM cost_rate_row
) AS r
WHERE f.dataset_id = $dataset
