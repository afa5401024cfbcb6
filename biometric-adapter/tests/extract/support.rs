//! Fixture loading and record building.

use std::path::PathBuf;

use base64::Engine as _;
use biometric_adapter::{
    extract,
    finger_image::{Capture, DEFAULT_PPI, SbiField},
    matcher::FingerTemplate,
    template::Record,
};

/// A fixture file under `tests/fixtures`; `None` (after saying so loudly) if it is missing, unless
/// `IDP_REQUIRE_ALL_SUITES=1`.
pub fn fixture(name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    if !path.is_file() {
        if std::env::var("IDP_REQUIRE_ALL_SUITES").as_deref() == Ok("1") {
            panic!("{} is missing but IDP_REQUIRE_ALL_SUITES=1: the image tests must run", path.display());
        }
        eprintln!("SKIPPED: image extraction tests ({} is missing)", path.display());
        return None;
    }
    Some(std::fs::read(path).unwrap())
}

pub const SBI_CAPTURE: &str = "sbi/mosip-mock-rcapture-left-index.txt";
pub const PROBE: &str = "images/sourceafis-probe.png";
pub const MATCHING: &str = "images/sourceafis-matching.png";
pub const NONMATCHING: &str = "images/sourceafis-nonmatching.png";

/// The SBI capture's JSON data element (the fixture holds it base64url-encoded).
pub fn sbi_element() -> Option<serde_json::Value> {
    let text = fixture(SBI_CAPTURE)?;
    let json = b64url(std::str::from_utf8(&text).unwrap().trim());
    Some(serde_json::from_slice(&json).unwrap())
}

/// The ISO/IEC 19794-4:2011 record in the SBI capture's `bioExtract`, decoded independently of
/// the library.
pub fn sbi_record() -> Option<Vec<u8>> {
    Some(b64url(sbi_element()?["bioExtract"].as_str().unwrap()))
}

pub fn b64url(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap()
}

pub fn b64url_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes and extracts, as `template extract` does.
pub fn extract_bytes(bytes: &[u8], field: SbiField) -> Record {
    let capture = Capture::from_bytes(bytes, field, DEFAULT_PPI).unwrap();
    extract::extract(&capture).unwrap()
}

/// The matcher's template of a one-view record.
pub fn template(record: &Record) -> FingerTemplate {
    FingerTemplate::from_view(record, &record.views()[0]).unwrap()
}

/// An ISO/IEC 19794-4:2005 record of one finger image, built by hand from the standard's layout
/// (32-byte general header, 14-byte finger header): `compression` 0 raw, 4 JPEG 2000, 5 PNG.
pub fn record_2005(position: u8, width: u16, height: u16, ppi: u16, compression: u8, data: &[u8]) -> Vec<u8> {
    let total = 32 + 14 + data.len();
    let mut r = Vec::with_capacity(total);
    r.extend_from_slice(b"FIR\x00010\x00");
    r.extend_from_slice(&(total as u64).to_be_bytes()[2..]);
    r.extend_from_slice(&[0, 0]); // capture device
    r.extend_from_slice(&31u16.to_be_bytes()); // acquisition level
    r.push(1); // finger images
    r.push(1); // scale: ppi
    for _ in 0..4 {
        r.extend_from_slice(&ppi.to_be_bytes());
    }
    r.push(8); // pixel depth
    r.push(compression);
    r.extend_from_slice(&[0, 0]);
    r.extend_from_slice(&((14 + data.len()) as u32).to_be_bytes());
    r.extend_from_slice(&[position, 1, 1, 80, 0]); // position, views, view, quality, live plain
    r.extend_from_slice(&width.to_be_bytes());
    r.extend_from_slice(&height.to_be_bytes());
    r.push(0);
    r.extend_from_slice(data);
    r
}

/// Where the fixture's 2011 record puts its fields (checked by `the_sbi_record_decodes_field_by_field`).
pub mod offsets_2011 {
    pub const POSITION: usize = 16 + 4 + 9 + 5 + 6 + 7;
    pub const RESOLUTION: usize = POSITION + 3 + 4;
    pub const COMPRESSION: usize = RESOLUTION + 5;
    pub const WIDTH: usize = COMPRESSION + 2;
    pub const DATA_LENGTH: usize = WIDTH + 4;
    pub const DATA: usize = DATA_LENGTH + 4;
}
