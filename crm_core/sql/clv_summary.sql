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
      AND p.occurred_at < ($observation_end::DATE + 1)::TIMESTAMP  -- on or before it (no cast per row)
    GROUP BY p.customer_id, CAST(p.occurred_at AS DATE)
),
per_customer AS (
    -- calibration and holdout in one pass; the first day's amount by arg_min, so the repeat days' mean
    -- needs no window: (sum of the days - the first day) / (days - 1), in exact decimals
    SELECT
        customer_id,
        MIN(day) FILTER (WHERE day <= $calibration_end::DATE)                   AS first_day,
        MAX(day) FILTER (WHERE day <= $calibration_end::DATE)                   AS last_day,
        COUNT(*) FILTER (WHERE day <= $calibration_end::DATE)                   AS purchase_days,
        SUM(amount) FILTER (WHERE day <= $calibration_end::DATE)                AS amount,
        arg_min(amount, day) FILTER (WHERE day <= $calibration_end::DATE)       AS first_amount,
        COUNT(*) FILTER (WHERE day > $calibration_end::DATE)                    AS holdout_days,
        SUM(amount) FILTER (WHERE day > $calibration_end::DATE)                 AS holdout_value
    FROM days
    GROUP BY customer_id
)
SELECT
    c.customer_id,
    (c.purchase_days - 1)::BIGINT                                                  AS frequency,
    date_diff('day', c.first_day, c.last_day)::DOUBLE / $unit_days::DOUBLE         AS recency,
    date_diff('day', c.first_day, $calibration_end::DATE)::DOUBLE / $unit_days::DOUBLE AS "T",
    CASE WHEN c.purchase_days > 1
         THEN (c.amount - c.first_amount)::DOUBLE / (c.purchase_days - 1) ELSE 0 END::DOUBLE AS monetary_value,
    c.holdout_days::BIGINT                                                         AS holdout_purchases,
    COALESCE(c.holdout_value, 0)::DOUBLE                                           AS holdout_value
FROM per_customer AS c
WHERE c.first_day IS NOT NULL
ORDER BY c.customer_id
