-- ePIS: the health facilities, patients keyed by CID, what health workers record, and the
-- grants that let a worker open a record (with the patient's visit code, or in an emergency).
CREATE TABLE facilities (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    -- hospital | bhu1 | bhu2
    kind        TEXT NOT NULL,
    dzongkhag   TEXT NOT NULL,
    -- 1 while the name is a generated placeholder awaiting the Ministry's master list.
    placeholder BIGINT NOT NULL DEFAULT 0,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE patients (
    cid           TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    date_of_birth TEXT,
    mother_cid    TEXT,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Codes a patient shows a health worker to prove they are present (only the hash is kept).
CREATE TABLE visit_codes (
    code_hash  TEXT PRIMARY KEY,
    cid        TEXT NOT NULL,
    name       TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used       BIGINT NOT NULL DEFAULT 0,
    failures   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX visit_codes_cid ON visit_codes(cid);

CREATE TABLE access_grants (
    id          BIGSERIAL PRIMARY KEY,
    worker_cid  TEXT NOT NULL,
    patient_cid TEXT NOT NULL REFERENCES patients(cid),
    facility    TEXT NOT NULL REFERENCES facilities(code),
    emergency   BIGINT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX access_grants_lookup ON access_grants(worker_cid, patient_cid, facility);

CREATE TABLE encounters (
    id          BIGSERIAL PRIMARY KEY,
    patient_cid TEXT NOT NULL REFERENCES patients(cid),
    facility    TEXT NOT NULL REFERENCES facilities(code),
    worker_cid  TEXT NOT NULL,
    worker_name TEXT NOT NULL,
    at          BIGINT NOT NULL,
    notes       TEXT NOT NULL DEFAULT '',
    emergency   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX encounters_patient ON encounters(patient_cid, at);

CREATE TABLE diagnoses (
    id           BIGSERIAL PRIMARY KEY,
    encounter_id BIGINT NOT NULL REFERENCES encounters(id),
    icd10        TEXT NOT NULL,
    description  TEXT NOT NULL
);
CREATE INDEX diagnoses_encounter ON diagnoses(encounter_id);

CREATE TABLE prescriptions (
    id           BIGSERIAL PRIMARY KEY,
    encounter_id BIGINT NOT NULL REFERENCES encounters(id),
    medicine     TEXT NOT NULL,
    dosage       TEXT NOT NULL,
    instructions TEXT NOT NULL DEFAULT ''
);
CREATE INDEX prescriptions_encounter ON prescriptions(encounter_id);
