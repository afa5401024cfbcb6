-- Agencies' seal certificates (legal persons, ETSI EN 319 412-3): with one, an agency signs what
-- it issues (certificates, report cards, licences) so anyone can verify it. Like a citizen's
-- key, the seal key is made here and sealed under the key-encryption key; the agency activates
-- it with its client credentials (scope `seal`). The certificate outlives the client row (it
-- stays verifiable and revocable after the client is removed), so no foreign key.
CREATE TABLE seal_certificates (
    serial      TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    certificate BLOB NOT NULL,
    sealed_key  BLOB NOT NULL,
    not_after   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    reason      TEXT
);
CREATE INDEX seal_certificates_client ON seal_certificates(client_id);
CREATE INDEX seal_certificates_revoked ON seal_certificates(revoked_at);
