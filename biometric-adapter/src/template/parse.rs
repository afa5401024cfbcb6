//! Reading and validating a record.
//!
//! Every read goes through [`Cursor`], which checks bounds and reports absolute offsets, so no input
//! can make the parser index out of range or panic. Two kinds of problems are told apart:
//! - structural ones (truncation, an unknown code that has no place in the model) end the parse;
//! - rule violations (a value out of range, a reserved bit set, a count that does not add up) go
//!   through [`Parser::check`]. [`parse`] is strict: the first violation is the error. The crate's
//!   tests also run a collecting mode, to decode the standard's own defective ANSI example the way
//!   fingerprintio's permissive mode does and compare the fields with its JSON.

use super::{
    error::ParseError,
    model::{
        Angle, BlockLengths, CORES_AND_DELTAS, CaptureEquipment, Core, CoresAndDeltas, Delta, ExtendedBlock,
        FingerPosition, FingerView, Format, ImpressionType, Minutia, MinutiaKind, ProductId, RIDGE_COUNTS, Record,
        RidgeCount, RidgeCountMethod, RidgeCounts,
    },
};

const MAGIC: [u8; 4] = *b"FMR\0";
const VERSION: [u8; 4] = *b" 20\0";
const ISO_HEADER: usize = 24;
const ANSI_SHORT_HEADER: usize = 26;
const ANSI_LONG_HEADER: usize = 30;
/// The smallest ANSI record that needs the 6-byte length form: one whose 2-byte form would total
/// more than 0xFFFF bytes. Anything shorter in the long form would be written back shorter.
const ANSI_LONG_MIN: usize = 0xFFFF + 1 + 4;

/// Parses and validates one ISO/IEC 19794-2:2005 or ANSI INCITS 378-2004 finger minutiae record.
///
/// The two formats share their first eight bytes; which one this is follows from the length field
/// (the reading fingerprintio uses): ISO has a 4-byte length at byte 8, so its first two bytes are
/// zero for any record under 64 KiB and the next two at least 24; ANSI has a 2-byte length of at
/// least 26 there, or zero followed by a 4-byte length of at least 64 KiB.
///
/// Bytes after the record's declared length must be zero: some producers pad records to a fixed
/// size (the SourceAFIS samples are padded to 384 bytes), and anything else there is a sign that
/// the length field and the content disagree.
///
/// Every accepted record satisfies `write(&parse(b)?) == b[..declared length]`.
pub fn parse(bytes: &[u8]) -> Result<Record, ParseError> {
    Parser { violations: None }.record(bytes)
}

/// Decodes like [`parse`] but collects rule violations instead of stopping at the first; only for
/// the tests that compare the standard's defective ANSI example with fingerprintio's permissive
/// decoding. A record obtained this way may not round-trip.
#[cfg(test)]
pub(crate) fn parse_lenient(bytes: &[u8]) -> Result<(Record, Vec<ParseError>), ParseError> {
    let mut violations = Vec::new();
    let record = Parser { violations: Some(&mut violations) }.record(bytes)?;
    Ok((record, violations))
}

struct Parser<'v> {
    /// `None`: strict. `Some`: where violations are collected.
    violations: Option<&'v mut Vec<ParseError>>,
}

/// What a view's parse needs to know about the record around it.
struct Context {
    format: Format,
    width: u16,
    height: u16,
}

/// One extended-data block as cut out of a view's extended data, before its content is decoded.
struct RawBlock<'a> {
    /// Offset of the block's 4-byte header.
    offset: usize,
    type_code: u16,
    data: &'a [u8],
}

impl Parser<'_> {
    /// A rule: `ok`, or a violation at `offset`.
    fn check(&mut self, ok: bool, offset: usize, reason: impl FnOnce() -> String) -> Result<(), ParseError> {
        if ok {
            return Ok(());
        }
        let error = ParseError::new(offset, reason());
        match self.violations.as_deref_mut() {
            Some(violations) => {
                violations.push(error);
                Ok(())
            }
            None => Err(error),
        }
    }

    fn record(&mut self, bytes: &[u8]) -> Result<Record, ParseError> {
        let mut c = Cursor::new(bytes, 0, "the input".to_owned());
        let magic: [u8; 4] = c.array(|| "the format identifier".to_owned())?;
        if magic != MAGIC {
            return Err(ParseError::new(
                0,
                format!("format identifier is {} where a finger minutiae record has \"FMR\\0\"", quoted(&magic)),
            ));
        }
        let version: [u8; 4] = c.array(|| "the version".to_owned())?;
        self.check(version == VERSION, 4, || {
            let hint = if version == *b"030\0" {
                "; ISO/IEC 19794-2:2011 and ANSI INCITS 378-2009 records are not supported"
            } else {
                ""
            };
            format!(
                "version is {} where ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 have \" 20\\0\"{hint}",
                quoted(&version)
            )
        })?;

        let (format, declared, header_len) = self.length_field(&mut c)?;
        if declared < header_len {
            return Err(ParseError::new(
                8,
                format!("record length {declared} is shorter than the {header_len}-byte header of {}", name(format)),
            ));
        }
        let mut end = declared;
        match bytes.get(declared..) {
            None => {
                self.check(false, 8, || {
                    format!("record length {declared} ({}) exceeds the {} bytes given", name(format), bytes.len())
                })?;
                end = bytes.len();
            }
            Some(tail) => {
                if let Some(i) = tail.iter().position(|&b| b != 0) {
                    self.check(false, declared + i, || {
                        format!(
                            "non-zero byte after the record's end: the length field at byte 8 says {declared} bytes, \
                             and only zero padding may follow them"
                        )
                    })?;
                    end = bytes.len();
                }
            }
        }
        // Go on from where the length field ended, now bounded by the record's end.
        let fields_at = c.pos;
        let mut c = Cursor::new(bytes.get(..end).unwrap_or(bytes), 0, "the record".to_owned());
        c.pos = fields_at;

        let product_id = match format {
            Format::Iso19794_2_2005 => None,
            Format::Ansi378_2004 => {
                let at = c.offset();
                let owner = c.u16(|| "the CBEFF product owner".to_owned())?;
                let product_type = c.u16(|| "the CBEFF product type".to_owned())?;
                self.check(owner != 0, at, || {
                    "CBEFF product owner is 0; ANSI INCITS 378 requires the owner's IBIA-registered identifier"
                        .to_owned()
                })?;
                Some(ProductId { owner, product_type })
            }
        };
        let at = c.offset();
        let equipment = c.u16(|| "the capture equipment field".to_owned())?;
        self.check(equipment & 0x7000 == 0, at, || {
            format!(
                "capture equipment field 0x{equipment:04x} sets reserved compliance bits (only the top bit, \
                 Appendix F certification, is defined)"
            )
        })?;
        let capture_equipment =
            CaptureEquipment { appendix_f_certified: equipment & 0x8000 != 0, device_type_id: equipment & 0x0fff };
        let dimension = |p: &mut Self, c: &mut Cursor<'_>, what: &str| -> Result<u16, ParseError> {
            let at = c.offset();
            let value = c.u16(|| format!("the {what}"))?;
            p.check(value != 0, at, || format!("{what} is 0"))?;
            Ok(value)
        };
        let width = dimension(self, &mut c, "image width")?;
        let height = dimension(self, &mut c, "image height")?;
        let resolution_x = dimension(self, &mut c, "horizontal resolution")?;
        let resolution_y = dimension(self, &mut c, "vertical resolution")?;
        let count_at = c.offset();
        let [view_count, reserved] = c.array(|| "the finger view count and reserved byte".to_owned())?;
        self.check(reserved == 0, count_at + 1, || format!("reserved header byte is {reserved}, not 0"))?;

        let context = Context { format, width, height };
        let mut views_per_finger = [0u8; 11];
        let mut views = Vec::with_capacity(usize::from(view_count));
        for v in 0..usize::from(view_count) {
            views.push(self.view(&mut c, v, &context, &mut views_per_finger)?);
        }
        let left = c.remaining();
        self.check(left == 0, c.offset(), || {
            format!(
                "{left} bytes are left after the last finger view; the record's length says it ends at byte \
                 {declared} and its view count (byte {count_at}) says {view_count} views"
            )
        })?;
        Ok(Record { format, product_id, capture_equipment, width, height, resolution_x, resolution_y, views })
    }

    /// Reads the length field at byte 8 and tells the formats apart by it: `(format, declared
    /// length, header length)`.
    fn length_field(&mut self, c: &mut Cursor<'_>) -> Result<(Format, usize, usize), ParseError> {
        let first = c.u16(|| "the record length".to_owned())?;
        if first >= 26 {
            return Ok((Format::Ansi378_2004, usize::from(first), ANSI_SHORT_HEADER));
        }
        let second = c.u16(|| "the record length".to_owned())?;
        if first != 0 {
            // An ISO record of 64 KiB or more.
            let length = (u32::from(first) << 16) | u32::from(second);
            return Ok((Format::Iso19794_2_2005, to_usize(length), ISO_HEADER));
        }
        if usize::from(second) >= ISO_HEADER {
            return Ok((Format::Iso19794_2_2005, usize::from(second), ISO_HEADER));
        }
        // ANSI's 6-byte form: two zero bytes, then the length in four.
        let third = c.u16(|| "the record length".to_owned())?;
        let length = to_usize((u32::from(second) << 16) | u32::from(third));
        self.check(length >= ANSI_LONG_MIN, 10, || {
            format!(
                "record length {length} is in ANSI INCITS 378's 6-byte form, which is for records of {ANSI_LONG_MIN} \
                 bytes and more (shorter ones have the 2-byte form; an ISO record would need at least 24 in bytes \
                 10-11)"
            )
        })?;
        Ok((Format::Ansi378_2004, length, ANSI_LONG_HEADER))
    }

    fn view(
        &mut self,
        c: &mut Cursor<'_>,
        v: usize,
        context: &Context,
        views_per_finger: &mut [u8; 11],
    ) -> Result<FingerView, ParseError> {
        let start = c.offset();
        let [position, view_and_impression, quality, minutia_count] = c.array(|| format!("views[{v}]'s header"))?;
        let finger_position = FingerPosition::from_code(position).ok_or_else(|| {
            ParseError::new(
                start,
                format!("views[{v}]: finger position {position} is not a finger code (0 unknown, 1-10 right thumb to left little)"),
            )
        })?;
        let view_number = view_and_impression >> 4;
        let impression_code = view_and_impression & 0x0f;
        let impression_type = ImpressionType::from_code(impression_code, context.format).ok_or_else(|| {
            let allowed = match context.format {
                Format::Iso19794_2_2005 => "0-3 or 8",
                Format::Ansi378_2004 => "0-3, 8 or 9",
            };
            ParseError::new(
                start + 1,
                format!(
                    "views[{v}]: impression type {impression_code} is not one {} defines ({allowed})",
                    name(context.format)
                ),
            )
        })?;
        // Views of one finger are numbered 0, 1, 2 … in record order: this makes the (finger,
        // view number) pairs unique, contiguous and sorted, as fingerprintio and NIST's biomdi check.
        let seen = views_per_finger.get_mut(usize::from(position));
        let expected = seen.as_deref().copied().unwrap_or(0);
        self.check(view_number == expected, start + 1, || {
            format!(
                "views[{v}]: view number {view_number} for finger position {position}; a finger's views are numbered \
                 0, 1, 2 … in record order, so this one must be {expected}"
            )
        })?;
        if let Some(seen) = seen {
            *seen = seen.saturating_add(1);
        }
        self.check(quality <= 100, start + 2, || format!("views[{v}]: finger quality {quality} is above 100"))?;

        let mut minutiae = Vec::with_capacity(usize::from(minutia_count));
        for i in 0..usize::from(minutia_count) {
            minutiae.push(self.minutia(c, v, i, context)?);
        }

        let length_at = c.offset();
        let length = usize::from(c.u16(|| format!("views[{v}]'s extended data length"))?);
        let area_start = c.offset();
        let area = c.take(length).ok_or_else(|| {
            ParseError::new(
                length_at,
                format!(
                    "views[{v}]: extended data length {length} runs past the end of the record at byte {} \
                     ({} bytes remain)",
                    c.end(),
                    c.remaining()
                ),
            )
        })?;
        let (raw_blocks, block_lengths) = split_blocks(area, area_start, v, context.format)?;
        let mut extended_data = Vec::with_capacity(raw_blocks.len());
        for (k, raw) in raw_blocks.iter().enumerate() {
            extended_data.push(self.block(raw, v, k, minutia_count, context)?);
        }
        Ok(FingerView {
            finger_position,
            view_number,
            impression_type,
            quality,
            minutiae,
            extended_data,
            block_lengths,
        })
    }

    fn minutia(&mut self, c: &mut Cursor<'_>, v: usize, i: usize, context: &Context) -> Result<Minutia, ParseError> {
        let at = c.offset();
        let [x0, x1, y0, y1, angle, quality] = c.array(|| format!("views[{v}].minutiae[{i}]"))?;
        let x_word = u16::from_be_bytes([x0, x1]);
        let y_word = u16::from_be_bytes([y0, y1]);
        let kind = MinutiaKind::from_code(x_word >> 14).ok_or_else(|| {
            ParseError::new(
                at,
                format!("views[{v}].minutiae[{i}]: minutia type 3 is reserved (0 other, 1 ending, 2 bifurcation)"),
            )
        })?;
        let x = x_word & 0x3fff;
        let y = y_word & 0x3fff;
        let (width, height) = (context.width, context.height);
        self.check(x < width, at, || {
            format!("views[{v}].minutiae[{i}]: x = {x} is outside the image (width {width})")
        })?;
        self.check(y_word >> 14 == 0, at + 2, || {
            format!("views[{v}].minutiae[{i}]: the two reserved bits above y are {}, not 0", y_word >> 14)
        })?;
        self.check(y < height, at + 2, || {
            format!("views[{v}].minutiae[{i}]: y = {y} is outside the image (height {height})")
        })?;
        if context.format == Format::Ansi378_2004 {
            self.check(angle <= 179, at + 4, || {
                format!("views[{v}].minutiae[{i}]: angle {angle} is above 179 (ANSI INCITS 378 counts 2-degree steps)")
            })?;
        }
        self.check(quality <= 100, at + 5, || format!("views[{v}].minutiae[{i}]: quality {quality} is above 100"))?;
        Ok(Minutia { kind, x, y, angle: Angle::new(angle, context.format), quality })
    }

    fn block(
        &mut self,
        raw: &RawBlock<'_>,
        v: usize,
        k: usize,
        minutia_count: u8,
        context: &Context,
    ) -> Result<ExtendedBlock, ParseError> {
        let data_at = raw.offset + 4;
        match raw.type_code {
            RIDGE_COUNTS => {
                let mut c = Cursor::new(raw.data, data_at, format!("views[{v}].extended_data[{k}] (ridge counts)"));
                self.ridge_counts(&mut c, v, k, minutia_count).map(ExtendedBlock::RidgeCounts)
            }
            CORES_AND_DELTAS => {
                let mut c = Cursor::new(raw.data, data_at, format!("views[{v}].extended_data[{k}] (cores and deltas)"));
                let block = match context.format {
                    Format::Iso19794_2_2005 => self.iso_cores_and_deltas(&mut c, v, k, context)?,
                    Format::Ansi378_2004 => self.ansi_cores_and_deltas(&mut c, v, k, context)?,
                };
                let left = c.remaining();
                self.check(left == 0, c.offset(), || {
                    format!("views[{v}].extended_data[{k}]: {left} bytes are left after the last delta")
                })?;
                Ok(ExtendedBlock::CoresAndDeltas(block))
            }
            type_code => {
                // 0x0000 is reserved; so is the rest of 0x00xx beyond the defined types (ISO also
                // defines 0x0003, zonal quality, kept undecoded here). 0x0100 and up are vendors'.
                let defined = type_code == 0x0003 && context.format == Format::Iso19794_2_2005;
                self.check(type_code > 0x00ff || defined, raw.offset, || {
                    format!(
                        "views[{v}].extended_data[{k}]: block type 0x{type_code:04x} is reserved in {}",
                        name(context.format)
                    )
                })?;
                Ok(ExtendedBlock::Other { type_code, data: raw.data.to_vec() })
            }
        }
    }

    fn ridge_counts(
        &mut self,
        c: &mut Cursor<'_>,
        v: usize,
        k: usize,
        minutia_count: u8,
    ) -> Result<RidgeCounts, ParseError> {
        let at = c.offset();
        let code = c.u8(|| "the ridge-count extraction method".to_owned())?;
        let method = RidgeCountMethod::from_code(code).ok_or_else(|| {
            ParseError::new(
                at,
                format!(
                    "views[{v}].extended_data[{k}]: ridge-count extraction method {code} is not 0 (non-specific), \
                     1 (four-neighbour) or 2 (eight-neighbour)"
                ),
            )
        })?;
        let mut counts = Vec::with_capacity(c.remaining() / 3);
        while c.remaining() >= 3 {
            let e = counts.len();
            let at = c.offset();
            let [first, second, count] = c.array(|| format!("views[{v}].extended_data[{k}].counts[{e}]"))?;
            // fingerprintio reads the indices from 0, NIST's biomdi accepts up to the minutia count:
            // an index beyond the count is wrong either way.
            for (index, offset) in [(first, at), (second, at + 1)] {
                self.check(index <= minutia_count, offset, || {
                    format!(
                        "views[{v}].extended_data[{k}].counts[{e}]: minutia index {index} is beyond the view's \
                         {minutia_count} minutiae"
                    )
                })?;
            }
            counts.push(RidgeCount { first, second, count });
        }
        let left = c.remaining();
        self.check(left == 0, c.offset(), || {
            format!("views[{v}].extended_data[{k}]: {left} bytes are left over; ridge-count entries are 3 bytes each")
        })?;
        Ok(RidgeCounts { method, counts })
    }

    /// ISO: a count byte each for cores and deltas; each point's angle flag is in the top two bits
    /// of its x coordinate (0: no angle, 1: angle byte(s) follow).
    fn iso_cores_and_deltas(
        &mut self,
        c: &mut Cursor<'_>,
        v: usize,
        k: usize,
        context: &Context,
    ) -> Result<CoresAndDeltas, ParseError> {
        let mut cores = Vec::new();
        let mut deltas = Vec::new();
        for is_core in [true, false] {
            let noun = if is_core { "cores" } else { "deltas" };
            let at = c.offset();
            let count = c.u8(|| format!("the number of {noun}"))?;
            self.check(count <= 15, at, || {
                format!("views[{v}].extended_data[{k}]: {count} {noun}; at most 15 are allowed")
            })?;
            for i in 0..usize::from(count) {
                let path = format!("views[{v}].extended_data[{k}].{noun}[{i}]");
                let at = c.offset();
                let [x0, x1, y0, y1] = c.array(|| path.clone())?;
                let x_word = u16::from_be_bytes([x0, x1]);
                let y_word = u16::from_be_bytes([y0, y1]);
                let has_angle = match x_word >> 14 {
                    0 => false,
                    1 => true,
                    t => {
                        return Err(ParseError::new(
                            at,
                            format!("{path}: point type {t} is reserved (0 without angle, 1 with angle)"),
                        ));
                    }
                };
                let (x, y) = self.point(x_word & 0x3fff, y_word, at, &path, context)?;
                if is_core {
                    let angle = if has_angle {
                        Some(Angle::new(c.u8(|| format!("{path}'s angle"))?, context.format))
                    } else {
                        None
                    };
                    cores.push(Core { x, y, angle });
                } else {
                    let angles = if has_angle {
                        let [a, b, d] = c.array(|| format!("{path}'s angles"))?;
                        Some([a, b, d].map(|raw| Angle::new(raw, context.format)))
                    } else {
                        None
                    };
                    deltas.push(Delta { x, y, angles });
                }
            }
        }
        Ok(CoresAndDeltas { cores, deltas, ansi_core_angles: false, ansi_delta_angles: false })
    }

    /// ANSI: an info byte each for cores and deltas — top two bits the angle flag for all of them
    /// (0 none, 1 angles), two reserved bits, four bits of count; coordinates are plain 16-bit.
    fn ansi_cores_and_deltas(
        &mut self,
        c: &mut Cursor<'_>,
        v: usize,
        k: usize,
        context: &Context,
    ) -> Result<CoresAndDeltas, ParseError> {
        let mut block =
            CoresAndDeltas { cores: Vec::new(), deltas: Vec::new(), ansi_core_angles: false, ansi_delta_angles: false };
        for is_core in [true, false] {
            let noun = if is_core { "cores" } else { "deltas" };
            let at = c.offset();
            let info = c.u8(|| format!("the {noun} info byte"))?;
            let has_angles = match info >> 6 {
                0 => false,
                1 => true,
                t => {
                    return Err(ParseError::new(
                        at,
                        format!(
                            "views[{v}].extended_data[{k}]: {noun} type {t} is reserved (0 without angles, 1 with angles)"
                        ),
                    ));
                }
            };
            self.check(info & 0x30 == 0, at, || {
                format!("views[{v}].extended_data[{k}]: the {noun} info byte 0x{info:02x} sets reserved bits")
            })?;
            for i in 0..usize::from(info & 0x0f) {
                let path = format!("views[{v}].extended_data[{k}].{noun}[{i}]");
                let at = c.offset();
                let [x0, x1, y0, y1] = c.array(|| path.clone())?;
                let x_word = u16::from_be_bytes([x0, x1]);
                self.check(x_word >> 14 == 0, at, || {
                    format!("{path}: the two reserved bits above x are {}, not 0", x_word >> 14)
                })?;
                let (x, y) = self.point(x_word & 0x3fff, u16::from_be_bytes([y0, y1]), at, &path, context)?;
                let angle = |p: &mut Self, c: &mut Cursor<'_>| -> Result<Angle, ParseError> {
                    let at = c.offset();
                    let raw = c.u8(|| format!("{path}'s angle"))?;
                    p.check(raw <= 179, at, || {
                        format!("{path}: angle {raw} is above 179 (ANSI INCITS 378 counts 2-degree steps)")
                    })?;
                    Ok(Angle::new(raw, context.format))
                };
                if is_core {
                    let angle = if has_angles { Some(angle(self, c)?) } else { None };
                    block.cores.push(Core { x, y, angle });
                } else {
                    let angles =
                        if has_angles { Some([angle(self, c)?, angle(self, c)?, angle(self, c)?]) } else { None };
                    block.deltas.push(Delta { x, y, angles });
                }
            }
            if is_core {
                block.ansi_core_angles = has_angles;
            } else {
                block.ansi_delta_angles = has_angles;
            }
        }
        Ok(block)
    }

    /// Checks a core's or delta's position: `x` already without its flag bits, `y_word` as stored.
    fn point(
        &mut self,
        x: u16,
        y_word: u16,
        at: usize,
        path: &str,
        context: &Context,
    ) -> Result<(u16, u16), ParseError> {
        let (width, height) = (context.width, context.height);
        self.check(x < width, at, || format!("{path}: x = {x} is outside the image (width {width})"))?;
        self.check(y_word >> 14 == 0, at + 2, || {
            format!("{path}: the two reserved bits above y are {}, not 0", y_word >> 14)
        })?;
        let y = y_word & 0x3fff;
        self.check(y < height, at + 2, || format!("{path}: y = {y} is outside the image (height {height})"))?;
        Ok((x, y))
    }
}

/// Cuts a view's extended data into blocks. ANSI block lengths include the 4-byte header; for ISO
/// the standard's data-only reading is tried first and the header-inclusive one (NIST's, and what
/// real ISO templates use) if the blocks do not fit — see [`BlockLengths`].
fn split_blocks(
    area: &[u8],
    base: usize,
    v: usize,
    format: Format,
) -> Result<(Vec<RawBlock<'_>>, BlockLengths), ParseError> {
    match format {
        Format::Ansi378_2004 => {
            split_blocks_as(area, base, v, BlockLengths::IncludeHeader).map(|b| (b, BlockLengths::IncludeHeader))
        }
        Format::Iso19794_2_2005 => match split_blocks_as(area, base, v, BlockLengths::ExcludeHeader) {
            Ok(blocks) => Ok((blocks, BlockLengths::ExcludeHeader)),
            Err(standard) => match split_blocks_as(area, base, v, BlockLengths::IncludeHeader) {
                Ok(blocks) => Ok((blocks, BlockLengths::IncludeHeader)),
                Err(_) => Err(ParseError::new(
                    standard.offset(),
                    format!(
                        "{} (reading block lengths as data only, as ISO/IEC 19794-2:2005 prints them; reading them as \
                         including the 4-byte block header, as NIST's tools do, does not fit either)",
                        standard.reason()
                    ),
                )),
            },
        },
    }
}

fn split_blocks_as(area: &[u8], base: usize, v: usize, lengths: BlockLengths) -> Result<Vec<RawBlock<'_>>, ParseError> {
    let mut blocks = Vec::new();
    let mut c = Cursor::new(area, base, format!("views[{v}]'s extended data"));
    while c.remaining() > 0 {
        let k = blocks.len();
        let offset = c.offset();
        let [t0, t1, l0, l1] = c.array(|| format!("views[{v}].extended_data[{k}]'s block header"))?;
        let length = u16::from_be_bytes([l0, l1]);
        let data_len = match lengths {
            BlockLengths::ExcludeHeader => usize::from(length),
            BlockLengths::IncludeHeader => usize::from(length).checked_sub(4).ok_or_else(|| {
                ParseError::new(
                    offset + 2,
                    format!(
                        "views[{v}].extended_data[{k}]: block length {length} is less than the 4-byte block header \
                         it includes"
                    ),
                )
            })?,
        };
        let data = c.take(data_len).ok_or_else(|| {
            ParseError::new(
                offset + 2,
                format!(
                    "views[{v}].extended_data[{k}]: block length {length} runs past the end of the view's extended \
                     data at byte {}",
                    c.end()
                ),
            )
        })?;
        blocks.push(RawBlock { offset, type_code: u16::from_be_bytes([t0, t1]), data });
    }
    Ok(blocks)
}

/// Bounds-checked big-endian reads over `data`, which starts at absolute offset `base` of the input.
struct Cursor<'a> {
    data: &'a [u8],
    base: usize,
    /// Position within `data`.
    pos: usize,
    /// What `data` is, for "… ends at byte N" messages.
    name: String,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8], base: usize, name: String) -> Self {
        Cursor { data, base, pos: 0, name }
    }

    /// Absolute offset of the next byte.
    fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Absolute offset just past the end.
    fn end(&self) -> usize {
        self.base + self.data.len()
    }

    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes, or `None` (consuming nothing) if fewer remain.
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let stop = self.pos.checked_add(n)?;
        let bytes = self.data.get(self.pos..stop)?;
        self.pos = stop;
        Some(bytes)
    }

    fn array<const N: usize>(&mut self, what: impl FnOnce() -> String) -> Result<[u8; N], ParseError> {
        let at = self.offset();
        match self.take(N).and_then(|b| <[u8; N]>::try_from(b).ok()) {
            Some(array) => Ok(array),
            None => Err(ParseError::new(
                at,
                format!("{} needs {N} bytes but {} ends at byte {}", what(), self.name, self.end()),
            )),
        }
    }

    fn u8(&mut self, what: impl FnOnce() -> String) -> Result<u8, ParseError> {
        let [b] = self.array(what)?;
        Ok(b)
    }

    fn u16(&mut self, what: impl FnOnce() -> String) -> Result<u16, ParseError> {
        self.array(what).map(u16::from_be_bytes)
    }
}

fn name(format: Format) -> &'static str {
    match format {
        Format::Iso19794_2_2005 => "ISO/IEC 19794-2:2005",
        Format::Ansi378_2004 => "ANSI INCITS 378-2004",
    }
}

fn to_usize(n: u32) -> usize {
    // usize is at least 32 bits on every target this crate builds for.
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Four header bytes shown as a C-style string literal, e.g. `"020\0"`.
fn quoted(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            0 => s.push_str("\\0"),
            b'"' | b'\\' => {
                s.push('\\');
                s.push(char::from(b));
            }
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}
