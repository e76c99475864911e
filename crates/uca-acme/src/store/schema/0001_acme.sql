-- The ACME server's state on PostgreSQL, shared by every `uca serve` replica. It lives in its own
-- schema, beside the ledger's tables; the store's connections put it first on their search_path.
-- Times are unix seconds (bigint), as in acme.sqlite, so one set of queries serves both.
CREATE SCHEMA IF NOT EXISTS uca_acme;
SET LOCAL search_path = uca_acme, public;

CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE eab_keys (
    kid        text PRIMARY KEY,
    hmac_key   bytea NOT NULL,
    allow      text NOT NULL,
    created_at bigint NOT NULL,
    profiles   text NOT NULL DEFAULT '[]'
);
CREATE TABLE accounts (
    id         text PRIMARY KEY,
    jwk        text NOT NULL,
    thumbprint text NOT NULL UNIQUE,
    spki       bytea NOT NULL UNIQUE,
    status     text NOT NULL CHECK (status IN ('valid', 'deactivated', 'revoked')),
    contact    text NOT NULL,
    eab_kid    text,
    created_at bigint NOT NULL
);
CREATE TABLE orders (
    id               text PRIMARY KEY,
    account          text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'ready', 'processing', 'valid', 'invalid')),
    identifiers      text NOT NULL,
    not_before       bigint,
    not_after        bigint,
    expires          bigint NOT NULL,
    error            text,
    certificate      text,
    created_at       bigint NOT NULL,
    replaces         text,
    profile          text,
    processing_by    text,
    processing_since bigint
);
CREATE INDEX orders_account ON orders (account, created_at);
CREATE INDEX orders_replaces ON orders (replaces);
CREATE INDEX orders_unfinished ON orders (status) WHERE status IN ('ready', 'processing');
CREATE TABLE authzs (
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    id         text PRIMARY KEY,
    order_id   text NOT NULL,
    account    text NOT NULL,
    identifier text NOT NULL,
    wildcard   boolean NOT NULL,
    status     text NOT NULL,
    expires    bigint NOT NULL
);
CREATE INDEX authzs_order ON authzs (order_id);
CREATE INDEX authzs_account ON authzs (account, identifier);
CREATE TABLE challenges (
    seq       bigint GENERATED ALWAYS AS IDENTITY,
    id        text PRIMARY KEY,
    authz     text NOT NULL,
    type      text NOT NULL,
    token     text NOT NULL,
    status    text NOT NULL,
    validated bigint,
    error     text
);
CREATE INDEX challenges_authz ON challenges (authz);
CREATE TABLE certificates (
    id        text PRIMARY KEY,
    serial    text NOT NULL UNIQUE,
    order_id  text NOT NULL UNIQUE,
    account   text NOT NULL,
    chain_pem text NOT NULL
);
-- Redeemed nonces (RFC 8555 §6.5), until they expire: a nonce minted by one replica is
-- redeemed once, on any of them.
CREATE TABLE used_nonces (
    issued  bigint NOT NULL,
    counter bigint NOT NULL,
    PRIMARY KEY (issued, counter)
);
-- Rate limits: one theoretical arrival time (microseconds) per limiter and key (GCRA).
CREATE TABLE rate_cells (
    limiter text NOT NULL,
    key     text NOT NULL,
    tat_us  bigint NOT NULL,
    PRIMARY KEY (limiter, key)
);
-- Who runs a periodic job (the sweeper of abandoned finalizations) until when.
CREATE TABLE leases (
    name   text PRIMARY KEY,
    holder text NOT NULL,
    until  bigint NOT NULL
);
