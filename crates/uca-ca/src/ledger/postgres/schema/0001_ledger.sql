-- The ledger on PostgreSQL: the same facts as ledger.sqlite, column for column, so a copy either
-- way is mechanical. The serial is the primary key: two certificates with one serial cannot both
-- be recorded, whichever replica signed them.
CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE certificates (
    seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,  -- insertion order (listings)
    serial        text PRIMARY KEY,           -- lowercase hex of the DER INTEGER
    name          text NOT NULL,
    profile       text NOT NULL,
    key_type      text NOT NULL,
    sans          jsonb NOT NULL,             -- ["DNS:rmq1","DNS:rmq"]
    not_before    timestamptz NOT NULL,
    not_after     timestamptz NOT NULL,
    fingerprint   text UNIQUE,                -- SHA-256, openssl style; NULL only before signing
    status        text NOT NULL CHECK (status IN ('pending','issued','superseded','revoked','void')),
    source        text NOT NULL CHECK (source IN ('root','issue','csr','acme')),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    superseded_by text,
    revoked_at    timestamptz,
    revocation_reason text,
    cert_pem      text,                       -- NULL only before signing
    acme_account  text,
    acme_order    text,
    node          text,                       -- who wrote the row: a pending row is its writer's to settle
    CHECK (status IN ('pending','void') OR (fingerprint IS NOT NULL AND cert_pem IS NOT NULL))
);
CREATE INDEX certificates_name ON certificates(name);
CREATE INDEX certificates_status ON certificates(status);
CREATE INDEX certificates_acme_order ON certificates(acme_order) WHERE acme_order IS NOT NULL;
CREATE TABLE exports (
    path       text NOT NULL,
    name       text NOT NULL,
    format     text NOT NULL,
    serial     text NOT NULL,
    settings   text NOT NULL,
    digest     text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (path, name)
);
