-- Purchases: the transactions of a dataset; for a dataset with deals but no transactions, its won deals
-- ("won deals are the sales of their account", issue #2). Every purchase analysis reads this view.
CREATE OR REPLACE VIEW purchases AS
SELECT
    t.dataset_id, t.batch_id, t.transaction_id AS purchase_id, t.customer_id, t.occurred_at,
    t.amount, t.cost, t.quantity, t.discount, t.product, t.category, t.channel,
    COALESCE(t.status, 'completed') AS status, 'transactions' AS source_table
FROM transactions AS t
UNION ALL
SELECT
    d.dataset_id, d.batch_id, d.deal_id, d.customer_id, COALESCE(d.closed_at, d.created_at),
    d.amount, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE, NULL::VARCHAR, NULL::VARCHAR, NULL::VARCHAR,
    'completed', 'deals'
FROM deals AS d
WHERE d.status = 'won'
  AND d.amount IS NOT NULL
  AND COALESCE(d.closed_at, d.created_at) IS NOT NULL
  AND d.dataset_id NOT IN (SELECT DISTINCT dataset_id FROM transactions)
