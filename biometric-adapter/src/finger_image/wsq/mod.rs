//! WSQ, the FBI's wavelet scalar quantization of 8-bit fingerprint images (CJIS "WSQ Gray-scale
//! Fingerprint Image Compression Specification", IAFIS-IC-0110 v3), decoded by hand: no
//! maintained Rust crate decodes it, and the C reference (NIST NBIS) is not something a capture
//! from a device we do not control should reach.
//!
//! ```text
//! SOI, tables (DTT DQT DHT DRT COM), SOF, then per block: tables, SOB, Huffman-coded data; EOI
//!   └─ entropy::decode_block ─▶ subbands::Placer (dequantise into the 64-subband layout)
//!        └─ synthesis::reconstruct (inverse 2-D filter bank, 20 joins) ─▶ synthesis::to_pixels
//! ```
//!
//! Strict: every segment's length must be what its contents need, tables must be defined before
//! the data that uses them, the coded data must hold exactly as many coefficients as the coded
//! subbands have, and every refusal says at which byte of the stream and why. Nothing is
//! allocated for the image before its frame header has passed [`super::MAX_SIDE`] and
//! [`super::MAX_PIXELS`]; decoding then holds two `f32` planes of the image (at most 128 MiB at
//! the pixel limit).
//!
//! The arithmetic follows the reference decoder's operation order in single precision, so the
//! pixels are the ones NBIS's `dwsq` writes (the fixture tests compare them exactly). Not
//! supported, and refused by name: even-length filters and restart intervals (a DRT with a
//! non-zero interval) — neither NBIS's encoder nor any capture we know of uses them.

mod entropy;
mod subbands;
mod synthesis;

use std::fmt;

use entropy::HuffmanTable;
use subbands::{Layout, Placer};
use synthesis::Filters;

/// A decoded WSQ image.
#[derive(Debug)]
pub(crate) struct WsqImage {
    pub width: u32,
    pub height: u32,
    /// The resolution a NISTCOM comment declared (`PPI`), if any.
    pub ppi: Option<u16>,
    pub pixels: Vec<u8>,
}

/// Why a WSQ stream was refused, and at which byte of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WsqError {
    /// Offset from the stream's first byte (its SOI marker).
    pub at: usize,
    pub reason: String,
}

impl WsqError {
    fn new(at: usize, reason: impl Into<String>) -> Self {
        WsqError { at, reason: reason.into() }
    }
}

impl fmt::Display for WsqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {} of the WSQ stream: {}", self.at, self.reason)
    }
}

type Result<T> = std::result::Result<T, WsqError>;

const SOI: u16 = 0xFFA0;
const EOI: u16 = 0xFFA1;
const SOF: u16 = 0xFFA2;
const SOB: u16 = 0xFFA3;
const DTT: u16 = 0xFFA4;
const DQT: u16 = 0xFFA5;
const DHT: u16 = 0xFFA6;
const DRT: u16 = 0xFFA7;
const COM: u16 = 0xFFA8;

/// Huffman table identifiers a block header may name (0-7, as in NBIS).
const HUFFMAN_TABLES: usize = 8;

fn marker_name(marker: u16) -> String {
    match marker {
        SOI => "SOI (start of image)".into(),
        EOI => "EOI (end of image)".into(),
        SOF => "SOF (frame header)".into(),
        SOB => "SOB (block header)".into(),
        DTT => "DTT (transform table)".into(),
        DQT => "DQT (quantisation table)".into(),
        DHT => "DHT (Huffman table)".into(),
        DRT => "DRT (restart interval)".into(),
        COM => "COM (comment)".into(),
        other => format!("{other:04X}"),
    }
}

/// Big-endian reads that say where the stream ended and inside what.
pub(super) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.data.len()).ok_or_else(|| {
            WsqError::new(self.pos, format!("the stream ends inside {what} ({n} bytes needed, {} left)", self.left()))
        })?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn marker(&mut self) -> Result<u16> {
        let at = self.pos;
        let marker = self.u16("a marker")?;
        if !(SOI..=COM).contains(&marker) {
            return Err(WsqError::new(at, format!("{marker:04X} is not a WSQ marker (FFA0-FFA8)")));
        }
        Ok(marker)
    }

    /// A segment's length field, checked against the rest of the stream; returns the offset where
    /// the segment must end.
    fn segment(&mut self, what: &str) -> Result<usize> {
        let at = self.pos;
        let length = usize::from(self.u16(what)?);
        if length < 2 {
            return Err(WsqError::new(at, format!("{what} declares {length} bytes, less than its length field")));
        }
        let end = at + length;
        if end > self.data.len() {
            return Err(WsqError::new(
                at,
                format!("{what} declares {length} bytes but only {} are left", self.data.len() - at),
            ));
        }
        Ok(end)
    }

    /// Checks that a segment's contents used exactly the length it declared.
    fn end_segment(&self, start: usize, end: usize, what: &str) -> Result<()> {
        if self.pos != end {
            return Err(WsqError::new(
                start,
                format!("{what} declares {} bytes but its contents take {}", end - start, self.pos - start),
            ));
        }
        Ok(())
    }

    /// A number written as an exponent byte and an unsigned value, `value / 10^exponent`, rounded
    /// to `f32` after each division as the reference decoder does.
    fn scaled_u16(&mut self, what: &str) -> Result<f32> {
        let exponent = self.u8(what)?;
        let value = self.u16(what)?;
        Ok(scaled(u32::from(value), exponent))
    }
}

fn scaled(value: u32, exponent: u8) -> f32 {
    let mut number = value as f32;
    for _ in 0..exponent {
        number = (f64::from(number) / 10.0) as f32;
    }
    number
}

/// The frame header (SOF).
#[derive(Debug, Clone, Copy)]
struct Frame {
    width: u16,
    height: u16,
    shift: f32,
    scale: f32,
}

/// The bin widths (DQT): per subband the quantiser bin width `q` (0: the subband is not coded) and
/// zero-bin width `z`, and the bin centre `c`.
#[derive(Debug, Clone)]
pub(super) struct Quantisation {
    pub c: f32,
    pub q: [f32; 64],
    pub z: [f32; 64],
}

/// Everything the segments before and between the blocks defined.
#[derive(Default)]
struct Tables {
    filters: Option<Filters>,
    quantisation: Option<Quantisation>,
    huffman: [Option<HuffmanTable>; HUFFMAN_TABLES],
    ppi: Option<u16>,
}

/// Decodes a WSQ stream to 8-bit pixels.
pub(crate) fn decode(data: &[u8]) -> Result<WsqImage> {
    let mut cursor = Cursor::new(data);
    if cursor.marker().ok() != Some(SOI) {
        return Err(WsqError::new(0, "does not start with the WSQ start-of-image marker FFA0"));
    }
    let mut tables = Tables::default();

    // Tables up to the frame header.
    let frame = loop {
        let at = cursor.pos();
        match cursor.marker()? {
            SOF => break read_frame(&mut cursor)?,
            marker @ (DTT | DQT | DHT | DRT | COM) => read_table(&mut cursor, marker, at, &mut tables, false)?,
            marker => {
                return Err(WsqError::new(at, format!("{} before the frame header", marker_name(marker))));
            }
        }
    };
    let (width, height) = (u32::from(frame.width), u32::from(frame.height));

    // Blocks, each after its tables, until EOI.
    let mut blocks = 0usize;
    let mut image: Option<(Vec<f32>, Layout)> = None;
    let mut placed = 0usize;
    loop {
        let at = cursor.pos();
        match cursor.marker()? {
            SOB => {
                blocks += 1;
                let table = read_block_header(&mut cursor, at, &tables)?;
                if image.is_none() {
                    let Some(quantisation) = &tables.quantisation else {
                        return Err(WsqError::new(at, "block 1 starts before any quantisation table (DQT)"));
                    };
                    let layout = Layout::new(usize::from(frame.width), usize::from(frame.height), quantisation);
                    let pixels = usize::from(frame.width) * usize::from(frame.height);
                    image = Some((vec![0.0; pixels], layout));
                }
                let Some((plane, layout)) = image.as_mut() else {
                    return Err(WsqError::new(at, "no image plane")); // unreachable: set just above
                };
                let mut placer = Placer::resume(layout, plane, usize::from(frame.width), placed);
                entropy::decode_block(&mut cursor, table, &mut placer, blocks)?;
                placed = placer.placed();
            }
            EOI => break,
            marker @ (DTT | DHT | DRT | COM) => read_table(&mut cursor, marker, at, &mut tables, blocks > 0)?,
            DQT if blocks == 0 => read_table(&mut cursor, DQT, at, &mut tables, false)?,
            DQT => {
                return Err(WsqError::new(
                    at,
                    format!(
                        "a quantisation table (DQT) after block {blocks}: the coded data before it was dequantised with the previous one"
                    ),
                ));
            }
            marker => {
                return Err(WsqError::new(at, format!("{} after the frame header", marker_name(marker))));
            }
        }
    }
    let end = cursor.pos();
    if let Some(offset) = data[end..].iter().position(|&b| b != 0) {
        return Err(WsqError::new(
            end + offset,
            format!("{} bytes after the end-of-image marker (only zero padding is allowed)", data.len() - end),
        ));
    }
    let Some((mut plane, layout)) = image else {
        return Err(WsqError::new(end - 2, "the end-of-image marker comes before any coded block"));
    };
    if placed != layout.coded() {
        return Err(WsqError::new(
            end - 2,
            format!("the coded data holds {placed} coefficients but the coded subbands have {}", layout.coded()),
        ));
    }
    let Some(filters) = &tables.filters else {
        return Err(WsqError::new(end - 2, "no transform table (DTT) was given"));
    };
    synthesis::reconstruct(&mut plane, usize::from(frame.width), layout.joins(), filters);
    let pixels = synthesis::to_pixels(&plane, frame.shift, frame.scale);
    Ok(WsqImage { width, height, ppi: tables.ppi, pixels })
}

fn read_frame(cursor: &mut Cursor<'_>) -> Result<Frame> {
    let start = cursor.pos();
    let end = cursor.segment("the frame header")?;
    let _black = cursor.u8("the frame header")?;
    let _white = cursor.u8("the frame header")?;
    let height = cursor.u16("the frame header")?;
    let width = cursor.u16("the frame header")?;
    let shift = cursor.scaled_u16("the frame header's shift")?;
    let scale_at = cursor.pos();
    let scale = cursor.scaled_u16("the frame header's scale")?;
    let _encoder = cursor.u8("the frame header")?;
    let _software = cursor.u16("the frame header")?;
    cursor.end_segment(start, end, "the frame header")?;
    // Before anything is allocated for the image.
    if width == 0 || height == 0 {
        return Err(WsqError::new(start + 4, format!("frame of {width}x{height} pixels")));
    }
    super::decode::check_dimensions(u32::from(width), u32::from(height))
        .map_err(|e| WsqError::new(start + 4, e.to_string()))?;
    if scale == 0.0 {
        return Err(WsqError::new(scale_at, "the frame header's scale is 0"));
    }
    Ok(Frame { width, height, shift, scale })
}

fn read_block_header<'t>(cursor: &mut Cursor<'_>, marker_at: usize, tables: &'t Tables) -> Result<&'t HuffmanTable> {
    let start = cursor.pos();
    let end = cursor.segment("a block header")?;
    let id_at = cursor.pos();
    let id = cursor.u8("a block header")?;
    cursor.end_segment(start, end, "a block header")?;
    match tables.huffman.get(usize::from(id)) {
        Some(Some(table)) => Ok(table),
        Some(None) => Err(WsqError::new(id_at, format!("the block names Huffman table {id}, which is not defined"))),
        None => Err(WsqError::new(
            id_at,
            format!("the block at byte {marker_at} names Huffman table {id} (0-{} exist)", HUFFMAN_TABLES - 1),
        )),
    }
}

fn read_table(
    cursor: &mut Cursor<'_>,
    marker: u16,
    marker_at: usize,
    tables: &mut Tables,
    after_data: bool,
) -> Result<()> {
    let start = cursor.pos();
    match marker {
        DTT => {
            let end = cursor.segment("the transform table")?;
            tables.filters = Some(Filters::read(cursor)?);
            cursor.end_segment(start, end, "the transform table")
        }
        DQT => {
            let end = cursor.segment("the quantisation table")?;
            let c = cursor.scaled_u16("the bin centre")?;
            let mut q = [0.0; 64];
            let mut z = [0.0; 64];
            for band in 0..64 {
                q[band] = cursor.scaled_u16("a bin width")?;
                z[band] = cursor.scaled_u16("a zero-bin width")?;
            }
            cursor.end_segment(start, end, "the quantisation table")?;
            tables.quantisation = Some(Quantisation { c, q, z });
            Ok(())
        }
        DHT => {
            let end = cursor.segment("a Huffman table segment")?;
            while cursor.pos() < end {
                let id_at = cursor.pos();
                let id = cursor.u8("a Huffman table")?;
                let slot = tables.huffman.get_mut(usize::from(id)).ok_or_else(|| {
                    WsqError::new(id_at, format!("Huffman table identifier {id} (0-{} exist)", HUFFMAN_TABLES - 1))
                })?;
                *slot = Some(HuffmanTable::read(cursor, id, id_at)?);
                if cursor.pos() > end {
                    return Err(WsqError::new(id_at, format!("Huffman table {id} runs past its segment's end")));
                }
            }
            cursor.end_segment(start, end, "the Huffman table segment")
        }
        DRT => {
            let end = cursor.segment("the restart interval")?;
            let interval_at = cursor.pos();
            let interval = cursor.u16("the restart interval")?;
            cursor.end_segment(start, end, "the restart interval")?;
            if interval != 0 {
                return Err(WsqError::new(
                    interval_at,
                    format!("restart interval {interval}: restart markers are not supported"),
                ));
            }
            Ok(())
        }
        COM => {
            let end = cursor.segment("a comment")?;
            let text = cursor.take(end - cursor.pos(), "a comment")?;
            if let Some(ppi) = nistcom_ppi(text) {
                tables.ppi = Some(ppi);
            }
            Ok(())
        }
        other => Err(WsqError::new(
            marker_at,
            format!(
                "{} where a table was expected{}",
                marker_name(other),
                if after_data { " between blocks" } else { "" }
            ),
        )),
    }
}

/// The `PPI` of a NISTCOM comment (`NIST_COM n`, then `NAME value` lines); NBIS writes -1 when
/// the resolution is unknown, which yields `None`.
fn nistcom_ppi(text: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(text).ok()?;
    if !text.starts_with("NIST_COM") {
        return None;
    }
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("PPI "))
        .find_map(|value| value.trim().parse::<u16>().ok())
        .filter(|&ppi| ppi > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_numbers_divide_by_ten_per_exponent_step() {
        assert_eq!(scaled(44, 1), 4.4);
        assert_eq!(scaled(12345, 0), 12345.0);
        assert_eq!(scaled(0, 200), 0.0);
    }

    #[test]
    fn the_nistcom_resolution_is_read_and_an_unknown_one_ignored() {
        assert_eq!(nistcom_ppi(b"NIST_COM 9\nPIX_WIDTH 545\nPPI 500\nLOSSY 1\n"), Some(500));
        assert_eq!(nistcom_ppi(b"NIST_COM 3\nPPI -1\n"), None);
        assert_eq!(nistcom_ppi(b"Cognaxon"), None);
        assert_eq!(nistcom_ppi(&[0xFF, 0xFE]), None);
    }

    #[test]
    fn truncated_and_foreign_streams_say_where() {
        let e = decode(&[]).unwrap_err();
        assert_eq!(e.at, 0);
        let e = decode(&[0xFF, 0xA0, 0xFF]).unwrap_err();
        assert_eq!((e.at, e.reason.contains("ends inside a marker")), (2, true), "{e}");
        let e = decode(&[0xFF, 0xA0, 0xFF, 0xD8]).unwrap_err();
        assert!(e.at == 2 && e.reason.contains("FFD8 is not a WSQ marker"), "{e}");
        let e = decode(&[0xFF, 0xA0, 0xFF, 0xA3, 0, 3, 0]).unwrap_err();
        assert!(e.at == 2 && e.reason.contains("before the frame header"), "{e}");
        let e = decode(&[0xFF, 0xA0, 0xFF, 0xA8, 0, 10, 1, 2]).unwrap_err();
        assert!(e.at == 4 && e.reason.contains("declares 10 bytes but only 4 are left"), "{e}");
    }
}
