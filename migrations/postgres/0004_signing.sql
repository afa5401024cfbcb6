-- CSC-style signing requests: an agency asks, the citizen approves with a passkey, the signer
-- signs exactly the digests the citizen saw.
CREATE TABLE sign_requests (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    -- Only this citizen may approve, when the agency named one.
    cid         TEXT,
    -- JSON [{"title": ..., "digest": <hex SHA-256>}], in the agency's order; never changes.
    documents   TEXT NOT NULL,
    return_url  TEXT NOT NULL,
    -- pending | signed | refused (expired is pending past expires_at).
    status      TEXT NOT NULL,
    account_id  TEXT,
    certificate_serial TEXT,
    -- JSON [<base64 CMS>], in document order, once signed.
    signatures  TEXT,
    -- The approving passkey assertion (JSON), whose challenge commits to the documents: the
    -- evidence that this citizen approved exactly these digests.
    evidence    TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    decided_at  BIGINT
);
CREATE INDEX sign_requests_client ON sign_requests(client_id, created_at);
