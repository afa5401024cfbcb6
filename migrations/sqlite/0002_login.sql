-- Logins: authorization requests (PAR and interactive), browser sessions, passkeys and their
-- ceremonies, consents, authorization codes, and refresh-token families (grants).

ALTER TABLE accounts ADD COLUMN assurance TEXT NOT NULL DEFAULT 'urn:drukyul:loa:substantial';

CREATE TABLE auth_requests (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    params      TEXT NOT NULL,
    browser     TEXT NOT NULL,
    pushed      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);

CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    sid         TEXT NOT NULL UNIQUE,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    auth_time   INTEGER NOT NULL,
    acr         TEXT NOT NULL,
    amr         TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    ended_at    INTEGER
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE credentials (
    cred_id      TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    passkey      TEXT NOT NULL,
    name         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX credentials_account ON credentials(account_id);

CREATE TABLE ceremonies (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,
    account_id  TEXT,
    context     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE consents (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    client_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    claims      TEXT NOT NULL,
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

CREATE TABLE grants (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    client_id   TEXT NOT NULL,
    session_sid TEXT NOT NULL,
    scope       TEXT NOT NULL,
    claims      TEXT NOT NULL,
    auth_time   INTEGER NOT NULL,
    acr         TEXT NOT NULL,
    amr         TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX grants_account_client ON grants(account_id, client_id);
CREATE INDEX grants_session ON grants(session_sid);

CREATE TABLE codes (
    code_hash      TEXT PRIMARY KEY,
    grant_id       TEXT NOT NULL REFERENCES grants(id),
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    nonce          TEXT,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    grant_id    TEXT NOT NULL REFERENCES grants(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);
