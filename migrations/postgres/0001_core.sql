-- Core schema: civil registry, digital-ID accounts, clients, signing keys, token bookkeeping,
-- audit chain, rate-limit counters. Times are Unix seconds; booleans are 0/1 integers.

CREATE TABLE persons (
    cid              TEXT PRIMARY KEY,
    given_name       TEXT NOT NULL,
    middle_name      TEXT NOT NULL DEFAULT '',
    family_name      TEXT NOT NULL DEFAULT '',
    date_of_birth    TEXT NOT NULL,
    sex              TEXT NOT NULL,
    dzongkhag        TEXT NOT NULL,
    gewog            TEXT NOT NULL,
    village          TEXT NOT NULL,
    household_number TEXT NOT NULL,
    status           TEXT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE TABLE accounts (
    id           TEXT PRIMARY KEY,
    cid          TEXT NOT NULL UNIQUE REFERENCES persons(cid),
    status       TEXT NOT NULL,
    user_handle  TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    activated_at BIGINT,
    closed_at    BIGINT
);

CREATE TABLE activation_codes (
    code_hash  TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX activation_codes_account ON activation_codes(account_id);

CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY,
    secret_hash TEXT,
    metadata    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    private_key  BYTEA NOT NULL,
    public_jwk   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,
    retires_at   BIGINT,
    removed_at   BIGINT
);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE used_client_assertions (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    event     TEXT NOT NULL,
    actor     TEXT NOT NULL,
    subject   TEXT NOT NULL,
    client_id TEXT NOT NULL,
    ip        TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log(subject);

CREATE TABLE rate_limits (
    bucket       TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL
);
