//! Finger images to minutiae: ISO/IEC 19794-4 records, the images inside them, MINDTCT, and the
//! whole image -> template -> match path, on public captures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod cli;
mod malformed;
mod pipeline;
mod support;
mod wsq;
