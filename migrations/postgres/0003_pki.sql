-- The signer's PKI: the CA hierarchy made by `idp ca init`, citizens' signing certificates,
-- and the CRLs served at /ca/crl and /ca/root-crl.

-- One row per role (root, issuing, ocsp, tsa). A software key is stored as PKCS#8 sealed under
-- the key-encryption key (AES-256-GCM, bound to the role); a token key by its label.
CREATE TABLE ca_credentials (
    role        TEXT PRIMARY KEY,
    certificate BYTEA NOT NULL,
    key_store   TEXT NOT NULL,
    key_ref     BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Citizens' signing certificates. The private key never leaves the service unencrypted: it is
-- sealed under the key-encryption key and opened only to sign what the citizen approved.
-- Revocation is final (no certificateHold), so the CRL only grows until certificates expire.
CREATE TABLE signing_certificates (
    serial      TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    certificate BYTEA NOT NULL,
    sealed_key  BYTEA NOT NULL,
    not_after   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    reason      TEXT
);
CREATE INDEX signing_certificates_account ON signing_certificates(account_id);
CREATE INDEX signing_certificates_revoked ON signing_certificates(revoked_at);

-- The last CRL of each CA: its number (RFC 5280 5.2.3: monotonically increasing), the number of
-- revocations it lists, and the CRL itself, so every instance serves the same one.
CREATE TABLE ca_crls (
    role        TEXT PRIMARY KEY,
    number      BIGINT NOT NULL,
    revocations BIGINT NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    der         BYTEA NOT NULL
);
