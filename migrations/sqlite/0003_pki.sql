-- The signer's PKI: the CA hierarchy made by `idp ca init`, citizens' signing certificates,
-- and the CRLs served at /ca/crl and /ca/root-crl.

-- One row per role (root, issuing, ocsp, tsa). A software key is stored as PKCS#8 sealed under
-- the key-encryption key (AES-256-GCM, bound to the role); a token key by its label.
CREATE TABLE ca_credentials (
    role        TEXT PRIMARY KEY,
    certificate BLOB NOT NULL,
    key_store   TEXT NOT NULL,
    key_ref     BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Citizens' signing certificates. The private key never leaves the service unencrypted: it is
-- sealed under the key-encryption key and opened only to sign what the citizen approved.
-- Revocation is final (no certificateHold), so the CRL only grows until certificates expire.
CREATE TABLE signing_certificates (
    serial      TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    certificate BLOB NOT NULL,
    sealed_key  BLOB NOT NULL,
    not_after   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    reason      TEXT
);
CREATE INDEX signing_certificates_account ON signing_certificates(account_id);
CREATE INDEX signing_certificates_revoked ON signing_certificates(revoked_at);

-- The last CRL of each CA: its number (RFC 5280 5.2.3: monotonically increasing), the number of
-- revocations it lists, and the CRL itself, so every instance serves the same one.
CREATE TABLE ca_crls (
    role        TEXT PRIMARY KEY,
    number      INTEGER NOT NULL,
    revocations INTEGER NOT NULL,
    this_update INTEGER NOT NULL,
    next_update INTEGER NOT NULL,
    der         BLOB NOT NULL
);
