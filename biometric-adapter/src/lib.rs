//! # biometric-adapter — fingerprints for enrolment and de-duplication
//!
//! What is here now:
//! - [`template`]: ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 finger minutiae records, parsed
//!   with strict validation (errors name the byte offset), written back byte-exact, and built from
//!   values with [`template::Record::new`], which checks the same rules;
//! - [`population`]: a synthetic, seeded population — ten fingers per person with stable "master"
//!   minutiae traced along a ridge-flow field, and captures degraded as [`population::NoiseParams`]
//!   says (rotation, translation, elastic distortion, noise, lost and spurious minutiae, a crop)
//!   with a quality score that tracks the damage — turned into ISO records;
//! - [`matcher`]: 1:1 comparison of fingers (minutia-pair alignment, rotation and translation
//!   invariant), scores mapped to false match rates calibrated on the population, multi-finger
//!   fusion, and 1:N identification through a triplet index with a shortlist verified on all cores
//!   (the algorithm is in the module's docs);
//! - [`sbi`]: the MOSIP SBI 0.9.5 device protocol — an HTTP client for the scanners' local
//!   device services (MOSIPDISC, MOSIPDINFO, RCAPTURE, CAPTURE, with timeouts and size limits),
//!   verification of every signed element (JWS with x5c, X.509 path validation against the
//!   trusted device-provider CAs, the digital id, the capture hash chain, transactionId echo and
//!   replay guard, purpose, environment, fingers, the record inside bioValue), per-finger quality
//!   checks, and the device simulator served by the `sbi-simulator` binary;
//! - [`finger_image`]: ISO/IEC 19794-4 finger image records (2005 and 2011 editions, as SBI
//!   registration captures carry them), parsed strictly with byte-offset errors, and the images
//!   inside decoded to pixels — WSQ (our own decoder, pixel-exact against NIST's reference), JPEG
//!   2000 (pure Rust), PNG, JPEG, uncompressed; also bare image files and SBI capture data elements
//!   (`bioValue`, signature not checked here);
//! - [`extract`]: minutiae extraction with NIST's MINDTCT (NBIS, built from its C sources by the
//!   `nbis-rs` crate), written as ISO/IEC 19794-2:2005 records the matcher compares;
//! - one error type, [`Error`];
//! - the `biometric-adapter` binary: `template show FILE` prints a record as JSON,
//!   `template compare A B [--fmr RATE] [--json]` prints the scores and the decision,
//!   `template extract IMAGE [-o OUT]` writes the minutiae record of a finger image.
//!
//! Still to come (see the enrolment issue and `DESIGN.md`, "Enrolment and biometrics"), and not
//! pretended here:
//! - WSQ's rarely used corners: even-length filters and restart intervals are refused by name;
//! - decrypting CAPTURE responses whose bioValue is encrypted under a MOSIP domain key (refused as
//!   unsupported);
//! - the `Abis` trait over [`matcher::Gallery`] (built from the database on start) and an HTTP
//!   connector for an external ABIS;
//! - scale: the gallery lives in memory (about 18 KB per ten-finger person: 3.7 GB for the
//!   programme's first phase of 200,000 people, where a ten-finger search takes about 0.3 s on
//!   two cores; `benches/identify.rs`); it is rebuilt from the database on start, not persisted.
//!   One-finger searches verify the same fixed shortlist as ten-finger ones, so their recall at
//!   the default target is lower; callers can ask for a longer [`matcher::SearchOptions`] shortlist.
//!
//! Fuzzing: `fuzz/` (its own cargo workspace) has cargo-fuzz targets for the SBI response parser
//! and verifier (`sbi_response`), the template parser (`template_parse`) and the WSQ decoder
//! (`wsq_decode`); on the stable
//! toolchain run them as `RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none -O <target>` from
//! that directory (`fuzz/README.md` has the full commands).
#![forbid(unsafe_code)]

pub mod abis;
mod error;
pub mod extract;
pub mod finger_image;
pub mod matcher;
pub mod population;
pub mod sbi;
pub mod template;

pub use error::Error;

/// The crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
