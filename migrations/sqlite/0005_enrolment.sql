-- Enrolment: registration centres, the officers who work at them, what they submit, the
-- fingers that make "one person, one digital ID" checkable, and the cases a supervisor decides.

CREATE TABLE centres (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    dzongkhag  TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- An officer is a citizen with a digital ID (they log in with their own passkeys) and one role
-- at one centre: enrolment_officer < supervisor < administrator, each allowed what the one
-- before it is. A removed officer keeps the row (the audit names them) with removed_at set.
CREATE TABLE officers (
    account_id TEXT PRIMARY KEY REFERENCES accounts(id),
    centre     TEXT NOT NULL REFERENCES centres(code),
    role       TEXT NOT NULL,
    added_by   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    removed_at INTEGER
);

-- Everything an officer submitted, verbatim (the device-signed capture responses), so that an
-- auditor can re-verify the device signatures later. The id is chosen by the console before the
-- first upload: a retried upload finds its packet and never enrols twice; digest tells a retry
-- from a different submission reusing the id.
CREATE TABLE enrolment_packets (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,      -- enrolment | reverification
    cid          TEXT NOT NULL REFERENCES persons(cid),
    officer      TEXT NOT NULL REFERENCES accounts(id),
    centre       TEXT NOT NULL REFERENCES centres(code),
    captures     TEXT NOT NULL,      -- JSON, as submitted
    digest       TEXT NOT NULL,      -- SHA-256 (hex) of the submission
    outcome      TEXT NOT NULL,      -- issued | adjudication | refused | verified | not_matched
    account_id   TEXT REFERENCES accounts(id),
    submitted_at INTEGER NOT NULL
);
CREATE INDEX enrolment_packets_cid ON enrolment_packets(cid);
CREATE INDEX enrolment_packets_account ON enrolment_packets(account_id);

-- The enrolled fingers the 1:N search runs over, one ISO 19794-2 record per finger, sealed
-- under the key-encryption key (bound to account and finger). Loaded into memory at start.
CREATE TABLE biometric_templates (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    finger     INTEGER NOT NULL,
    template   BLOB NOT NULL,
    packet_id  TEXT NOT NULL REFERENCES enrolment_packets(id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, finger)
);

-- A possible duplicate: the packet, the candidates the search found (JSON, with scores), and a
-- supervisor's decision: different (issue) or same (refuse and flag).
CREATE TABLE adjudication_cases (
    id         TEXT PRIMARY KEY,
    packet_id  TEXT NOT NULL UNIQUE REFERENCES enrolment_packets(id),
    candidates TEXT NOT NULL,
    status     TEXT NOT NULL,        -- open | different | same
    decided_by TEXT REFERENCES accounts(id),
    decided_at INTEGER,
    note       TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX adjudication_cases_status ON adjudication_cases(status, created_at);
