-- Integrated Citizen Services: applications, the certificates approvals issue, and pensions
-- (stopped when a death is registered). Numbered from 100: the kit's own are below.
CREATE TABLE applications (
    id              TEXT PRIMARY KEY,
    service         TEXT NOT NULL,
    applicant_cid   TEXT NOT NULL,
    applicant_name  TEXT NOT NULL,
    office_role     TEXT NOT NULL,
    office_unit     TEXT NOT NULL,
    -- The checked form, a JSON object of field name to value.
    data            TEXT NOT NULL,
    -- submitted | approved | rejected
    status          TEXT NOT NULL,
    decided_by      TEXT,
    decision_note   TEXT,
    decided_at      INTEGER,
    -- '' (nothing to tell other agencies) | pending | done
    notify_state    TEXT NOT NULL DEFAULT '',
    -- What the other agencies answered so far (JSON: registry_cid, epis, ...).
    notify_detail   TEXT NOT NULL DEFAULT '{}',
    notify_attempts INTEGER NOT NULL DEFAULT 0,
    notify_error    TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
);
CREATE INDEX applications_office ON applications(office_role, office_unit, status, created_at);
CREATE INDEX applications_applicant ON applications(applicant_cid, created_at);
CREATE INDEX applications_notify ON applications(notify_state);

CREATE TABLE certificates (
    number         TEXT PRIMARY KEY,
    application_id TEXT NOT NULL UNIQUE REFERENCES applications(id),
    service        TEXT NOT NULL,
    title          TEXT NOT NULL,
    holder_cid     TEXT NOT NULL,
    holder_name    TEXT NOT NULL,
    -- What the certificate says, for its public verification page (no CID).
    summary        TEXT NOT NULL,
    issued_by      TEXT NOT NULL,
    issued_at      INTEGER NOT NULL
);

CREATE TABLE pensions (
    cid            TEXT PRIMARY KEY,
    application_id TEXT NOT NULL,
    -- active | stopped
    status         TEXT NOT NULL,
    started_at     INTEGER NOT NULL,
    stopped_at     INTEGER,
    stop_reason    TEXT
);
