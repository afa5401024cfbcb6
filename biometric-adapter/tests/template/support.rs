//! Fixture loading and an independent record encoder for synthetic test records.

use std::path::PathBuf;

use biometric_adapter::template::{self, ParseError, Record};

/// The published vectors (`tests/fixtures/iso19794-2`); `None` (after saying so loudly) if they
/// are missing, unless `IDP_REQUIRE_ALL_SUITES=1`.
pub fn fixture(name: &str) -> Option<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/iso19794-2");
    if !dir.is_dir() {
        if std::env::var("IDP_REQUIRE_ALL_SUITES").as_deref() == Ok("1") {
            panic!("{} is missing but IDP_REQUIRE_ALL_SUITES=1: the fixture tests must run", dir.display());
        }
        eprintln!("SKIPPED: template fixture tests ({} is missing)", dir.display());
        return None;
    }
    Some(std::fs::read(dir.join(name)).unwrap())
}

pub const ISO_SAMPLE: &str = "fingerprintio-iso19794p2v2005-sample.dat";
pub const ANSI_SAMPLE: &str = "fingerprintio-ansi378v2004-sample.dat";
pub const SOURCEAFIS: [&str; 3] =
    ["sourceafis-iso-probe.dat", "sourceafis-iso-matching.dat", "sourceafis-iso-nonmatching.dat"];

/// Parses and checks the round trip: the written record is a prefix of the input and only zero
/// padding follows it.
pub fn parse_round_trip(bytes: &[u8]) -> Result<Record, ParseError> {
    let record = template::parse(bytes)?;
    let written = template::write(&record);
    assert!(bytes.starts_with(&written), "write(parse(b)) is not a prefix of b");
    assert!(bytes[written.len()..].iter().all(|&b| b == 0), "non-zero bytes after an accepted record");
    assert_eq!(template::parse(&written).as_ref(), Ok(&record));
    Ok(record)
}

/// Parses, expecting an error at `offset` whose reason mentions `fragment`.
#[track_caller]
pub fn rejects(bytes: &[u8], offset: usize, fragment: &str) {
    match template::parse(bytes) {
        Ok(_) => panic!("accepted; expected an error at byte {offset} about {fragment:?}"),
        Err(e) => {
            assert_eq!(e.offset(), offset, "{e}");
            assert!(e.reason().contains(fragment), "{e} should mention {fragment:?}");
            assert!(e.to_string().starts_with(&format!("byte {offset}: ")), "{e}");
        }
    }
}

/// A finger view for [`iso`] and [`ansi`]: the fields as stored, the extended data as raw blocks.
#[derive(Clone)]
pub struct View {
    pub position: u8,
    pub view_number: u8,
    pub impression: u8,
    pub quality: u8,
    pub minutiae: Vec<[u8; 6]>,
    pub extended: Vec<u8>,
}

impl View {
    pub fn new(position: u8, minutiae: Vec<[u8; 6]>) -> Self {
        View { position, view_number: 0, impression: 0, quality: 80, minutiae, extended: Vec::new() }
    }

    pub fn with_blocks(mut self, blocks: &[Vec<u8>]) -> Self {
        self.extended = blocks.concat();
        self
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend([self.position, self.view_number << 4 | self.impression, self.quality]);
        out.push(u8::try_from(self.minutiae.len()).unwrap());
        for m in &self.minutiae {
            out.extend(m);
        }
        out.extend(u16::try_from(self.extended.len()).unwrap().to_be_bytes());
        out.extend(&self.extended);
    }
}

/// A minutia as stored: type in the top two bits of x.
pub fn minutia(kind: u16, x: u16, y: u16, angle: u8, quality: u8) -> [u8; 6] {
    let [x0, x1] = (kind << 14 | x).to_be_bytes();
    let [y0, y1] = y.to_be_bytes();
    [x0, x1, y0, y1, angle, quality]
}

/// An extended-data block with the given length field.
pub fn block(type_code: u16, length_field: u16, data: &[u8]) -> Vec<u8> {
    let mut b = type_code.to_be_bytes().to_vec();
    b.extend(length_field.to_be_bytes());
    b.extend(data);
    b
}

/// A block whose length counts the 4-byte header (ANSI; NIST's reading of ISO).
pub fn block_incl(type_code: u16, data: &[u8]) -> Vec<u8> {
    block(type_code, u16::try_from(data.len() + 4).unwrap(), data)
}

/// A block whose length counts the data only (ISO as its standard prints it).
pub fn block_excl(type_code: u16, data: &[u8]) -> Vec<u8> {
    block(type_code, u16::try_from(data.len()).unwrap(), data)
}

/// An ISO/IEC 19794-2:2005 record, 512 x 512 at 197 px/cm.
pub fn iso(views: &[View]) -> Vec<u8> {
    let mut body = Vec::new();
    for v in views {
        v.encode(&mut body);
    }
    let mut out = b"FMR\0 20\0".to_vec();
    out.extend(u32::try_from(24 + body.len()).unwrap().to_be_bytes());
    out.extend([0x00, 0x2a]); // device type 42
    out.extend([0x02, 0x00, 0x02, 0x00, 0x00, 0xc5, 0x00, 0xc5]);
    out.extend([u8::try_from(views.len()).unwrap(), 0]);
    out.extend(body);
    out
}

/// An ANSI INCITS 378-2004 record from vendor 0x0042, 512 x 512 at 197 px/cm, with the 2-byte
/// length when it fits and the 6-byte one otherwise.
pub fn ansi(views: &[View]) -> Vec<u8> {
    let mut body = Vec::new();
    for v in views {
        v.encode(&mut body);
    }
    let mut out = b"FMR\0 20\0".to_vec();
    let short = 26 + body.len();
    match u16::try_from(short) {
        Ok(length) => out.extend(length.to_be_bytes()),
        Err(_) => {
            out.extend([0, 0]);
            out.extend(u32::try_from(short + 4).unwrap().to_be_bytes());
        }
    }
    out.extend([0x00, 0x42, 0x00, 0x11]); // CBEFF product identifier
    out.extend([0x80, 0x2a]); // Appendix F certified, device type 42
    out.extend([0x02, 0x00, 0x02, 0x00, 0x00, 0xc5, 0x00, 0xc5]);
    out.extend([u8::try_from(views.len()).unwrap(), 0]);
    out.extend(body);
    out
}

/// Sets the big-endian u16 at `at`.
pub fn set_u16(bytes: &mut [u8], at: usize, value: u16) {
    bytes[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

/// Sets the ISO record length (4 bytes at 8).
pub fn set_iso_length(bytes: &mut [u8], length: usize) {
    bytes[8..12].copy_from_slice(&u32::try_from(length).unwrap().to_be_bytes());
}
