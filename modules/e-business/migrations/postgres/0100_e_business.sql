-- e-business: licence applications (the exact bytes the applicant signed, and the signature),
-- the licences approvals issue, and export/import clearance declarations. Numbered from 100:
-- the kit's own migrations are below.
CREATE TABLE applications (
    id                 TEXT PRIMARY KEY,
    licence_type       TEXT NOT NULL,
    applicant_cid      TEXT NOT NULL,
    applicant_name     TEXT NOT NULL,
    business_name      TEXT NOT NULL,
    -- Where the business is: the reviewing licensing office.
    dzongkhag          TEXT NOT NULL,
    -- The canonical application document (JSON, UTF-8): exactly the bytes that are signed.
    document           TEXT NOT NULL,
    -- awaiting_signature | submitted | approved | rejected
    status             TEXT NOT NULL,
    -- The identity provider's signing request while the applicant decides.
    sign_request       TEXT UNIQUE,
    -- Why the last signing attempt did not go through (shown to the applicant).
    sign_note          TEXT NOT NULL DEFAULT '',
    -- The detached CAdES-B-T signature (base64 DER) once collected and verified.
    signature          TEXT,
    signer_name        TEXT,
    signed_at          BIGINT,
    -- The verification at submission (JSON, as the identity provider answered).
    verification       TEXT NOT NULL DEFAULT '{}',
    decided_by         TEXT,
    decision_note      TEXT,
    decided_at         BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX applications_queue ON applications(dzongkhag, status, created_at);
CREATE INDEX applications_applicant ON applications(applicant_cid, created_at);

CREATE TABLE licences (
    number         TEXT PRIMARY KEY,
    application_id TEXT NOT NULL UNIQUE REFERENCES applications(id),
    licence_type   TEXT NOT NULL,
    licence_title  TEXT NOT NULL,
    holder_cid     TEXT NOT NULL,
    holder_name    TEXT NOT NULL,
    business_name  TEXT NOT NULL,
    dzongkhag      TEXT NOT NULL,
    -- 1: the holder may file export/import clearances; trade_direction says which way.
    trade          BIGINT NOT NULL DEFAULT 0,
    trade_direction TEXT NOT NULL DEFAULT '',
    issued_by      TEXT NOT NULL,
    issued_at      BIGINT NOT NULL,
    valid_until    BIGINT NOT NULL,
    revoked        BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX licences_holder ON licences(holder_cid);

CREATE TABLE clearances (
    id             TEXT PRIMARY KEY,
    licence_number TEXT NOT NULL REFERENCES licences(number),
    trader_cid     TEXT NOT NULL,
    trader_name    TEXT NOT NULL,
    -- import | export
    direction      TEXT NOT NULL,
    hs_code        TEXT NOT NULL,
    description    TEXT NOT NULL,
    quantity       BIGINT NOT NULL,
    unit           TEXT NOT NULL,
    -- Declared value in chhertum (1/100 ngultrum).
    value_chhertum BIGINT NOT NULL,
    country        TEXT NOT NULL,
    -- The customs office's code (a customs officer's unit).
    port           TEXT NOT NULL,
    -- filed | cleared | held
    status         TEXT NOT NULL,
    decided_by     TEXT,
    decision_note  TEXT,
    decided_at     BIGINT,
    created_at     BIGINT NOT NULL
);
CREATE INDEX clearances_port ON clearances(port, status, created_at);
CREATE INDEX clearances_trader ON clearances(trader_cid, created_at);
