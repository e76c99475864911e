-- uca serve records an ACME certificate's row before it signs (pending, without a certificate)
-- and completes it after. At most one live row per order: two replicas never both sign one order,
-- and a late completion by a stalled replica cannot add a second certificate to it.
DROP INDEX certificates_acme_order;
CREATE UNIQUE INDEX certificates_live_acme_order ON certificates(acme_order)
    WHERE acme_order IS NOT NULL AND status <> 'void';
CREATE INDEX certificates_acme_order ON certificates(acme_order) WHERE acme_order IS NOT NULL;
