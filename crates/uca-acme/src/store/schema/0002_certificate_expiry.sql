-- Certificates carry their leaf's notAfter, so the records of expired ones can be pruned
-- (rows recorded before this get it from their PEM at the next prune). No query looked orders
-- up by `replaces`: that index only cost a write per order.
SET LOCAL search_path = uca_acme, public;

ALTER TABLE certificates ADD COLUMN not_after bigint;
CREATE INDEX certificates_expiry ON certificates (not_after);
DROP INDEX IF EXISTS orders_replaces;
