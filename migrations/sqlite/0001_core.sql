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
    updated_at       INTEGER NOT NULL
);

CREATE TABLE accounts (
    id           TEXT PRIMARY KEY,
    cid          TEXT NOT NULL UNIQUE REFERENCES persons(cid),
    status       TEXT NOT NULL,
    user_handle  TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    activated_at INTEGER,
    closed_at    INTEGER
);

CREATE TABLE activation_codes (
    code_hash  TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX activation_codes_account ON activation_codes(account_id);

CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY,
    secret_hash TEXT,
    metadata    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    private_key  BLOB NOT NULL,
    public_jwk   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    activates_at INTEGER NOT NULL,
    retires_at   INTEGER,
    removed_at   INTEGER
);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

CREATE TABLE used_client_assertions (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
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
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
);
