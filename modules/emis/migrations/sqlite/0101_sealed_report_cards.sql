-- Report cards as PDFs sealed by the Ministry's EMIS (its seal certificate at Drukyul ID): the
-- sealed file once it is made. While the identity provider cannot seal it (unreachable, no CA
-- yet), pdf and sealed_at stay NULL with the last error, and the retry loop seals it later; the
-- card itself is issued already. sealed_at, not "pdf IS NULL", says whether it is sealed: the
-- Any driver decodes a NULL blob differently per backend.
ALTER TABLE report_cards ADD COLUMN pdf BLOB;
ALTER TABLE report_cards ADD COLUMN seal_error TEXT NOT NULL DEFAULT '';
ALTER TABLE report_cards ADD COLUMN sealed_at INTEGER;
