-- The citizen's signature on applications of services whose catalogue entry says
-- citizen_signs. Every application now keeps the exact bytes of its canonical document (see
-- src/signing.rs: what is shown, hashed and signed); an application of a signing service waits
-- with status 'awaiting_signature' until the applicant's signature over those bytes has been
-- verified by the identity provider, and only then becomes 'submitted' (the office's queue).
-- Applications stored before this migration have an empty document and no signature.
ALTER TABLE applications ADD COLUMN document TEXT NOT NULL DEFAULT '';
-- The open signing request at the identity provider (kept after a good signature so that a
-- second visit to the return URL finds the application again; cleared after a failure).
ALTER TABLE applications ADD COLUMN sign_request TEXT;
-- The detached CMS signature (CAdES-B-T), base64, as returned and verified.
ALTER TABLE applications ADD COLUMN signature TEXT;
ALTER TABLE applications ADD COLUMN signer_name TEXT;
ALTER TABLE applications ADD COLUMN signed_at INTEGER;
-- Why the last signing attempt failed (refused, expired, not the applicant's), for the applicant.
ALTER TABLE applications ADD COLUMN sign_note TEXT NOT NULL DEFAULT '';
CREATE INDEX applications_sign_request ON applications(sign_request);
