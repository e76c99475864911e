-- uca serve records an ACME certificate's row before it signs (pending, without a certificate)
-- and completes it after. At most one pending-or-issued row per order: two replicas never both
-- sign one order, and a late completion by a stalled replica cannot add a second certificate.
-- A ledger where an earlier version recorded two issued certificates for one order (a replica that
-- stalled while finalizing) is refused with the serials: revoke the one the client did not get.
DO $$
DECLARE
    twice text;
BEGIN
    SELECT string_agg(acme_order || ': ' || serials, '; ') INTO twice FROM (
        SELECT acme_order, string_agg(serial, ', ' ORDER BY created_at) AS serials
        FROM certificates
        WHERE acme_order IS NOT NULL AND status IN ('pending', 'issued')
        GROUP BY acme_order HAVING count(*) > 1
    ) d;
    IF twice IS NOT NULL THEN
        RAISE EXCEPTION 'ACME orders with two issued certificates in the ledger: %', twice
            USING HINT = 'an earlier uca recorded both; revoke the one its client did not receive (uca revoke SERIAL --reason superseded), then start again';
    END IF;
END
$$;
CREATE UNIQUE INDEX certificates_live_acme_order ON certificates(acme_order)
    WHERE acme_order IS NOT NULL AND status IN ('pending', 'issued');
