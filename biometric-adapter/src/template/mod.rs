//! Finger minutiae records: ISO/IEC 19794-2:2005 (the off-card record format) and ANSI INCITS
//! 378-2004, read with strict validation and written back byte for byte.
//!
//! ```text
//! bytes ──parse──▶ Record ──write──▶ the same bytes
//! values ──Record::new──▶ Record (checked by the same rules)
//! ```
//!
//! A record is a header (format, record length, capture equipment, image size and resolution) and
//! finger views; a view is a finger position, view number, impression type and quality, its
//! minutiae (type, x, y, angle, quality) and extended-data blocks — ridge counts and cores/deltas
//! decoded, anything else (ISO zonal quality, vendor blocks) kept as bytes.
//!
//! Why strict: templates decide who is a duplicate of whom. A record whose counts do not add up or
//! whose values are out of range was produced by a broken or misread encoder, and guessing what it
//! meant would put wrong minutiae into the gallery. [`parse`] therefore rejects it and says where:
//! [`ParseError`] carries the byte offset of the offending field.
//!
//! Why exact: the enrolment evidence keeps the template as received, and signatures or hashes over
//! it must stay valid after a parse/write cycle, so [`write()`] reproduces the input exactly.
//!
//! Where the two formats differ (all handled here):
//!
//! | | ISO/IEC 19794-2:2005 | ANSI INCITS 378-2004 |
//! |---|---|---|
//! | record length | 4 bytes at 8 | 2 bytes at 8, or 0 and 4 bytes for ≥ 64 KiB |
//! | CBEFF product identifier | none | 4 bytes after the length |
//! | header | 24 bytes | 26 (or 30) bytes |
//! | angle unit | 360/256 degrees, 0..=255 | 2 degrees, 0..=179 |
//! | impression types | 0-3, 8 | 0-3, 8, 9 |
//! | extended-block length | data only (as the standard prints it) or including the header (NIST) | including the 4-byte header |
//! | core/delta angle flag | per point, top bits of x | per list, top bits of the count byte |
//!
//! Angles stay in the record's unit ([`Angle::raw`]); [`Angle::degrees`] converts. Both standards
//! measure counter-clockwise from the positive x axis.

mod build;
mod error;
mod model;
mod parse;
mod write;

#[cfg(test)]
mod fixture_tests;

pub use build::RecordHeader;
pub use error::ParseError;
pub use model::{
    Angle, BlockLengths, CaptureEquipment, Core, CoresAndDeltas, Delta, ExtendedBlock, FingerPosition, FingerView,
    Format, ImpressionType, Minutia, MinutiaKind, ProductId, Record, RidgeCount, RidgeCountMethod, RidgeCounts,
};
pub use parse::parse;
pub use write::write;
