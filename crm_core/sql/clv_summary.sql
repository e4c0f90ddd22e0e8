-- Calibration / holdout summary per customer for the BG/NBD and Gamma-Gamma models (crm_core.metrics.clv).
--
-- The FROM placeholder "{purchases}" is replaced by the scope's completed purchases over the whole filtered history
-- (crm_core.metrics.scope.purchases_sql(windowed=False)); values are bound:
--   $calibration_end  DATE    last day of the calibration period (inclusive)
--   $observation_end  DATE    last day of the holdout period (inclusive; >= $calibration_end)
--   $unit_days        DOUBLE  length of the model time unit in days (day 1, week 7, month 30.4375)
--
-- Conventions (lifetimes' summary_data_from_transaction_data; Fader, Hardie & Lee 2005, section 5):
--   * purchases on the same day are one purchase (their amounts summed); dates count by whole days;
--   * x   = distinct purchase days on or before $calibration_end, minus the first;
--   * t_x = (last - first purchase day) / unit;  T = ($calibration_end - first purchase day) / unit;
--   * monetary_value = mean amount of the repeat purchase days, the first day left out (Hardie's
--     Gamma-Gamma note, brucehardie.com/notes/025); 0 when x = 0;
--   * holdout: purchase days and their value after $calibration_end, up to $observation_end;
--   * customers whose first purchase is after $calibration_end are not in the calibration.
WITH
days AS (
    SELECT
        p.customer_id,
        CAST(p.occurred_at AS DATE)                                   AS day,
        -- exact decimal sums: the same figures on every run (double sums in parallel vary in the last bit)
        SUM(CAST(p.amount AS DECIMAL(38, 6)))                         AS amount
    FROM ({purchases}) AS p
    WHERE p.occurred_at IS NOT NULL
      AND p.customer_id IS NOT NULL
      AND CAST(p.occurred_at AS DATE) <= $observation_end::DATE
    GROUP BY p.customer_id, CAST(p.occurred_at AS DATE)
),
ranked AS (
    SELECT customer_id, day, amount,
           day = MIN(day) OVER (PARTITION BY customer_id)              AS is_first
    FROM days
),
calibration AS (
    SELECT
        customer_id,
        MIN(day)                                                      AS first_day,
        MAX(day)                                                      AS last_day,
        COUNT(*)                                                      AS purchase_days,
        AVG(amount) FILTER (WHERE NOT is_first)                       AS repeat_mean
    FROM ranked
    WHERE day <= $calibration_end::DATE
    GROUP BY customer_id
),
holdout AS (
    SELECT customer_id, COUNT(*) AS purchase_days, SUM(amount) AS value
    FROM days
    WHERE day > $calibration_end::DATE
    GROUP BY customer_id
)
SELECT
    c.customer_id,
    (c.purchase_days - 1)::BIGINT                                                  AS frequency,
    date_diff('day', c.first_day, c.last_day)::DOUBLE / $unit_days::DOUBLE         AS recency,
    date_diff('day', c.first_day, $calibration_end::DATE)::DOUBLE / $unit_days::DOUBLE AS "T",
    COALESCE(c.repeat_mean, 0)::DOUBLE                                             AS monetary_value,
    COALESCE(h.purchase_days, 0)::BIGINT                                           AS holdout_purchases,
    COALESCE(h.value, 0)::DOUBLE                                                   AS holdout_value
FROM calibration AS c
LEFT JOIN holdout AS h USING (customer_id)
ORDER BY c.customer_id
