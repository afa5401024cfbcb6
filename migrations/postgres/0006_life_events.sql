-- Births and deaths that agencies (civil registration) record through the registry API. The
-- agency's own reference makes a retried call return the first answer instead of registering
-- the same child twice.
CREATE TABLE life_events (
    client_id  TEXT NOT NULL,
    reference  TEXT NOT NULL,
    kind       TEXT NOT NULL,      -- birth | death
    cid        TEXT NOT NULL REFERENCES persons(cid),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, reference)
);
CREATE INDEX life_events_cid ON life_events(cid);
