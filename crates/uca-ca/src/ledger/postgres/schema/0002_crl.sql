-- CRLs shared by the issuers of one ledger (uca serve replicas, the CLI): the newest is what
-- every replica serves; one replica at a time builds the next, under the 'crl' lease.
CREATE TABLE crls (
    number            bigint PRIMARY KEY,
    der               bytea NOT NULL,
    this_update       timestamptz NOT NULL,
    next_update       timestamptz NOT NULL,
    revoked           bigint NOT NULL,          -- revocations listed
    latest_revocation timestamptz,              -- the newest of them
    node              text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE leases (
    name   text PRIMARY KEY,
    holder text NOT NULL,
    until  timestamptz NOT NULL
);
