//! Support crate for the end-to-end test binary in `e2e/`; it has no library code of its own.
