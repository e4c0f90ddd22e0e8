-- Every customer's activity islands (crm_core.metrics.retention.activity_islands): the activity_islands.sql
-- fragment over `scoped` (completed purchases, whole filtered history), bound with $inactivity (L) and
-- $islands_until (the last day to read; the whole history for a kept set).
WITH
-- @include activity_islands
SELECT customer_id, lo, hi FROM islands
