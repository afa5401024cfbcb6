-- EMIS: schools, students keyed by CID with their guardians, enrolments (one school per
-- student per academic year at a time), marks per subject and term, and report cards.
CREATE TABLE schools (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    dzongkhag   TEXT NOT NULL,
    -- primary | lower_secondary | middle_secondary | higher_secondary | central
    level       TEXT NOT NULL,
    -- 1 while the school comes from the shipped seed list (code and name to be checked against
    -- the Ministry's list); an import of that list sets it to 0.
    provisional INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE students (
    cid           TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE guardians (
    student_cid  TEXT NOT NULL REFERENCES students(cid),
    guardian_cid TEXT NOT NULL,
    -- mother | father | guardian
    relationship TEXT NOT NULL,
    added_by     TEXT NOT NULL,
    added_at     INTEGER NOT NULL,
    PRIMARY KEY (student_cid, guardian_cid)
);
CREATE INDEX guardians_guardian ON guardians(guardian_cid);

CREATE TABLE enrolments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    student_cid TEXT NOT NULL REFERENCES students(cid),
    school      TEXT NOT NULL REFERENCES schools(code),
    year        INTEGER NOT NULL,
    -- 0 is pre-primary (PP), then 1 to 12.
    class       INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    started_by  TEXT NOT NULL,
    ended_at    INTEGER,
    -- transferred | completed | withdrawn
    end_reason  TEXT,
    ended_by    TEXT
);
-- At most one school per student per academic year at a time (a transfer ends one first).
CREATE UNIQUE INDEX enrolments_one_per_year ON enrolments(student_cid, year) WHERE ended_at IS NULL;
CREATE INDEX enrolments_school ON enrolments(school, year);

CREATE TABLE marks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    enrolment_id  INTEGER NOT NULL REFERENCES enrolments(id),
    student_cid   TEXT NOT NULL,
    term          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    mark          INTEGER NOT NULL,
    recorded_by   TEXT NOT NULL,
    recorder_name TEXT NOT NULL,
    recorded_at   INTEGER NOT NULL,
    UNIQUE (enrolment_id, term, subject)
);
CREATE INDEX marks_student ON marks(student_cid);

CREATE TABLE report_cards (
    number        TEXT PRIMARY KEY,
    enrolment_id  INTEGER NOT NULL REFERENCES enrolments(id),
    student_cid   TEXT NOT NULL,
    student_name  TEXT NOT NULL,
    school        TEXT NOT NULL,
    school_name   TEXT NOT NULL,
    year          INTEGER NOT NULL,
    term          TEXT NOT NULL,
    class         INTEGER NOT NULL,
    -- The marks as issued (JSON list of {subject, name, mark}): later changes do not alter it.
    marks         TEXT NOT NULL,
    issued_at     INTEGER NOT NULL,
    issued_by     TEXT NOT NULL,
    issuer_name   TEXT NOT NULL,
    -- The number of the card that replaced this one (re-issued after a correction).
    superseded_by TEXT
);
CREATE INDEX report_cards_student ON report_cards(student_cid, year, term);
