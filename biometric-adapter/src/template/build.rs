//! Building a record from values — the synthetic population and, later, the image extractor make
//! templates rather than read them.
//!
//! [`Record::new`] checks the same rules [`parse`](fn@super::parse) enforces, with messages that
//! name the field, and then, as a backstop, encodes the record and parses it back: a record it
//! returns is one `parse` would have produced, so [`write`](fn@super::write) stays infallible and
//! exact, and nothing built here can be written in a form the rest of the programme would reject.

use super::{
    model::{
        Angle, BlockLengths, CaptureEquipment, Core, CoresAndDeltas, Delta, ExtendedBlock, FingerPosition, FingerView,
        Format, ImpressionType, Minutia, ProductId, Record,
    },
    parse::parse,
    write::write,
};
use crate::Error;

impl Angle {
    /// An angle from its stored byte. ANSI INCITS 378 counts 2-degree steps, so only 0..=179 are
    /// valid there; every byte is valid in ISO/IEC 19794-2 (360/256 degrees per unit).
    pub fn from_raw(raw: u8, format: Format) -> Result<Angle, Error> {
        if format == Format::Ansi378_2004 && raw > 179 {
            return Err(Error::invalid_record(format!(
                "angle {raw} is above 179 (ANSI INCITS 378 counts 2-degree steps)"
            )));
        }
        Ok(Angle::new(raw, format))
    }

    /// The representable angle nearest to `degrees` (counter-clockwise from the positive x axis;
    /// any finite value, wrapped into one turn). A non-finite input gives 0.
    pub fn from_degrees(degrees: f64, format: Format) -> Angle {
        let (units_per_turn, step) = match format {
            Format::Iso19794_2_2005 => (256.0, 360.0 / 256.0),
            Format::Ansi378_2004 => (180.0, 2.0),
        };
        let units = if degrees.is_finite() { (degrees / step).round().rem_euclid(units_per_turn) } else { 0.0 };
        // `units` is in 0..units_per_turn (at most 255), so the conversion cannot saturate.
        Angle::new(units as u8, format)
    }
}

/// The general header of a record built with [`Record::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Which standard to follow.
    pub format: Format,
    /// The CBEFF product identifier: required (owner not 0) for ANSI INCITS 378, absent for ISO.
    pub product_id: Option<ProductId>,
    /// The capture device's certification flag and type identifier (12 bits).
    pub capture_equipment: CaptureEquipment,
    /// Image width in pixels (not 0); every x is below it.
    pub width: u16,
    /// Image height in pixels (not 0); every y is below it.
    pub height: u16,
    /// Horizontal resolution in pixels per centimetre (197 is 500 dpi; not 0).
    pub resolution_x: u16,
    /// Vertical resolution in pixels per centimetre (not 0).
    pub resolution_y: u16,
}

impl FingerView {
    /// A view without extended data, to be checked by [`Record::new`].
    pub fn new(
        finger_position: FingerPosition,
        view_number: u8,
        impression_type: ImpressionType,
        quality: u8,
        minutiae: Vec<Minutia>,
    ) -> FingerView {
        FingerView {
            finger_position,
            view_number,
            impression_type,
            quality,
            minutiae,
            extended_data: Vec::new(),
            // Normalised to the format's reading by `Record::new` while there are no blocks.
            block_lengths: BlockLengths::IncludeHeader,
        }
    }

    /// The same view with these extended-data blocks, their lengths counted as `block_lengths`
    /// says (ANSI: [`BlockLengths::IncludeHeader`] only).
    pub fn with_extended_data(mut self, blocks: Vec<ExtendedBlock>, block_lengths: BlockLengths) -> FingerView {
        self.extended_data = blocks;
        self.block_lengths = block_lengths;
        self
    }
}

impl CoresAndDeltas {
    /// A cores-and-deltas block (at most 15 of each; checked by [`Record::new`]). ANSI stores one
    /// "angles present" flag per list, so there either all cores have an angle or none does, and
    /// the same for deltas.
    pub fn new(cores: Vec<Core>, deltas: Vec<Delta>) -> CoresAndDeltas {
        let ansi_core_angles = cores.iter().any(|c| c.angle.is_some());
        let ansi_delta_angles = deltas.iter().any(|d| d.angles.is_some());
        CoresAndDeltas { cores, deltas, ansi_core_angles, ansi_delta_angles }
    }
}

impl Record {
    /// A record from values, checked against every rule [`parse`](fn@super::parse) enforces.
    ///
    /// Errors name the field: `views[1].minutiae[7]: y = 530 is outside the image (height 500)`.
    pub fn new(header: RecordHeader, mut views: Vec<FingerView>) -> Result<Record, Error> {
        let RecordHeader { format, product_id, capture_equipment, width, height, resolution_x, resolution_y } = header;
        check_header(&header)?;
        if views.len() > 255 {
            return Err(Error::invalid_record(format!("{} finger views; a record holds at most 255", views.len())));
        }
        let mut views_per_finger = [0u8; 11];
        for (v, view) in views.iter_mut().enumerate() {
            if view.extended_data.is_empty() {
                // What `parse` reports for a view without blocks.
                view.block_lengths = match format {
                    Format::Iso19794_2_2005 => BlockLengths::ExcludeHeader,
                    Format::Ansi378_2004 => BlockLengths::IncludeHeader,
                };
            }
            if format == Format::Iso19794_2_2005 {
                // ISO flags angles per point; the per-list ANSI flags stay false, as `parse` leaves them.
                for block in &mut view.extended_data {
                    if let ExtendedBlock::CoresAndDeltas(cd) = block {
                        cd.ansi_core_angles = false;
                        cd.ansi_delta_angles = false;
                    }
                }
            }
            check_view(view, v, &header, &mut views_per_finger)?;
        }
        let record = Record { format, product_id, capture_equipment, width, height, resolution_x, resolution_y, views };
        // The backstop: whatever the checks above missed, the record must read back as built.
        match parse(&write(&record)) {
            Ok(back) if back == record => Ok(record),
            Ok(_) => Err(Error::invalid_record(
                "the record would not read back as built (an ISO view's extended-data blocks also split as \
                 data-only lengths; write them with BlockLengths::ExcludeHeader)",
            )),
            Err(e) => Err(Error::invalid_record(format!("the encoded record does not parse: {e}"))),
        }
    }
}

fn check_header(h: &RecordHeader) -> Result<(), Error> {
    for (value, what) in [
        (h.width, "image width"),
        (h.height, "image height"),
        (h.resolution_x, "horizontal resolution"),
        (h.resolution_y, "vertical resolution"),
    ] {
        if value == 0 {
            return Err(Error::invalid_record(format!("{what} is 0")));
        }
    }
    if h.capture_equipment.device_type_id > 0x0fff {
        return Err(Error::invalid_record(format!(
            "capture device type 0x{:x} does not fit the 12 bits it has",
            h.capture_equipment.device_type_id
        )));
    }
    match (h.format, h.product_id) {
        (Format::Iso19794_2_2005, None) => Ok(()),
        (Format::Iso19794_2_2005, Some(_)) => {
            Err(Error::invalid_record("ISO/IEC 19794-2:2005 records have no CBEFF product identifier"))
        }
        (Format::Ansi378_2004, None) => {
            Err(Error::invalid_record("ANSI INCITS 378-2004 records need a CBEFF product identifier"))
        }
        (Format::Ansi378_2004, Some(p)) if p.owner == 0 => Err(Error::invalid_record(
            "CBEFF product owner is 0; ANSI INCITS 378 requires the owner's IBIA-registered identifier",
        )),
        (Format::Ansi378_2004, Some(_)) => Ok(()),
    }
}

fn check_view(view: &FingerView, v: usize, h: &RecordHeader, views_per_finger: &mut [u8; 11]) -> Result<(), Error> {
    let err = |reason: String| Err(Error::invalid_record(format!("views[{v}]: {reason}")));
    if view.impression_type == ImpressionType::LiveContactless && h.format == Format::Iso19794_2_2005 {
        return err("impression type 9 (live contactless) is ANSI INCITS 378 only".to_owned());
    }
    let seen = views_per_finger.get_mut(usize::from(view.finger_position.code()));
    let expected = seen.as_deref().copied().unwrap_or(0);
    if view.view_number != expected {
        return err(format!(
            "view number {} for finger position {}; a finger's views are numbered 0, 1, 2 … in record order, so \
             this one must be {expected}",
            view.view_number,
            view.finger_position.code()
        ));
    }
    if let Some(seen) = seen {
        *seen = seen.saturating_add(1);
    }
    if view.view_number > 15 {
        return err(format!("view number {} does not fit its 4 bits", view.view_number));
    }
    if view.quality > 100 {
        return err(format!("finger quality {} is above 100", view.quality));
    }
    if view.minutiae.len() > 255 {
        return err(format!("{} minutiae; a view holds at most 255", view.minutiae.len()));
    }
    for (i, m) in view.minutiae.iter().enumerate() {
        check_point(m.x, m.y, h, &format!("minutiae[{i}]")).or_else(err)?;
        check_angle(m.angle, h.format, &format!("minutiae[{i}]")).or_else(err)?;
        if m.quality > 100 {
            return err(format!("minutiae[{i}]: quality {} is above 100", m.quality));
        }
    }
    if h.format == Format::Ansi378_2004 && view.block_lengths == BlockLengths::ExcludeHeader {
        return err("ANSI INCITS 378 block lengths include the 4-byte block header".to_owned());
    }
    let minutia_count = view.minutiae.len();
    for (k, block) in view.extended_data.iter().enumerate() {
        match block {
            ExtendedBlock::RidgeCounts(r) => {
                for (e, c) in r.counts.iter().enumerate() {
                    if usize::from(c.first.max(c.second)) > minutia_count {
                        return err(format!(
                            "extended_data[{k}].counts[{e}]: minutia index {} is beyond the view's {minutia_count} \
                             minutiae",
                            c.first.max(c.second)
                        ));
                    }
                }
            }
            ExtendedBlock::CoresAndDeltas(cd) => check_cores_and_deltas(cd, h, k).or_else(err)?,
            ExtendedBlock::Other { type_code, .. } => {
                let defined = *type_code == 0x0003 && h.format == Format::Iso19794_2_2005;
                if *type_code <= 0x00ff && !defined {
                    return err(format!("extended_data[{k}]: block type 0x{type_code:04x} is reserved"));
                }
            }
        }
    }
    Ok(())
}

fn check_point(x: u16, y: u16, h: &RecordHeader, path: &str) -> Result<(), String> {
    if x >= h.width || x > 0x3fff {
        return Err(format!("{path}: x = {x} is outside the image (width {})", h.width));
    }
    if y >= h.height || y > 0x3fff {
        return Err(format!("{path}: y = {y} is outside the image (height {})", h.height));
    }
    Ok(())
}

fn check_angle(angle: Angle, format: Format, path: &str) -> Result<(), String> {
    if angle.format() != format {
        return Err(format!("{path}: the angle is in the other format's unit"));
    }
    if format == Format::Ansi378_2004 && angle.raw() > 179 {
        return Err(format!("{path}: angle {} is above 179 (ANSI INCITS 378 counts 2-degree steps)", angle.raw()));
    }
    Ok(())
}

fn check_cores_and_deltas(cd: &CoresAndDeltas, h: &RecordHeader, k: usize) -> Result<(), String> {
    if cd.cores.len() > 15 || cd.deltas.len() > 15 {
        return Err(format!(
            "extended_data[{k}]: {} cores and {} deltas; at most 15 of each are allowed",
            cd.cores.len(),
            cd.deltas.len()
        ));
    }
    for (i, c) in cd.cores.iter().enumerate() {
        let path = format!("extended_data[{k}].cores[{i}]");
        check_point(c.x, c.y, h, &path)?;
        if let Some(a) = c.angle {
            check_angle(a, h.format, &path)?;
        }
    }
    for (i, d) in cd.deltas.iter().enumerate() {
        let path = format!("extended_data[{k}].deltas[{i}]");
        check_point(d.x, d.y, h, &path)?;
        for a in d.angles.iter().flatten() {
            check_angle(*a, h.format, &path)?;
        }
    }
    if h.format == Format::Ansi378_2004
        && (cd.cores.iter().any(|c| c.angle.is_some() != cd.ansi_core_angles)
            || cd.deltas.iter().any(|d| d.angles.is_some() != cd.ansi_delta_angles))
    {
        return Err(format!(
            "extended_data[{k}]: ANSI INCITS 378 gives all cores (and all deltas) an angle or none of them"
        ));
    }
    Ok(())
}
