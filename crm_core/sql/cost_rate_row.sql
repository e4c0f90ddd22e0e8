-- A dataset's cost rates as one row of columns <pool>_per_contact, <pool>_per_minute, per_order and per_return: a
-- fragment of CTEs (cost_rate, cost_rate_row) included (`-- @include cost_rate_row`) into a WITH clause, with the
-- parameter $dataset, whose saved rates apply (cost_rates, falling back to cost_rate_defaults; a missing rate is 0).
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
)
