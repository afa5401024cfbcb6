-- What every agency module keeps: who holds which role, and an append-only log of what
-- happened (the kit's migrations are numbered below 100; a module's own start at 100).
CREATE TABLE staff (
    cid        TEXT NOT NULL,
    role       TEXT NOT NULL,
    -- Where the role applies (a facility, a school, an office); '' for the whole agency.
    unit       TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL,
    added_by   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (cid, role, unit)
);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    -- `citizen:<CID>`, `staff:<CID>`, `client:<id>`, `system`.
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- Whether this entry records something a person is entitled to be told about (an access
    -- to their record, a refusal).
    flagged INTEGER NOT NULL DEFAULT 0,
    detail  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_subject ON audit_log(subject, id);
