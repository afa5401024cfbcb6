-- Certificates as PDFs sealed by the agency (its seal certificate at Drukyul ID): the sealed
-- file once it is made; while the identity provider cannot be reached it stays NULL with the
-- last error, and the retry loop seals it later (the certificate itself is issued already).
ALTER TABLE certificates ADD COLUMN pdf BLOB;
ALTER TABLE certificates ADD COLUMN seal_error TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN sealed_at INTEGER;
