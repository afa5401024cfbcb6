//! The typed model of a finger minutiae record.
//!
//! Every record here was either read by [`parse`](fn@super::parse) or built by [`Record::new`],
//! and both validate; the containers ([`Record`], [`FingerView`], [`CoresAndDeltas`]) and [`Angle`]
//! have private fields so nothing else can make one. That is what lets
//! [`write`](fn@super::write) be infallible and exact: it only ever encodes what a successful parse
//! would have accepted. ([`FingerView::new`] and [`CoresAndDeltas::new`] make unchecked parts;
//! only [`Record::new`], which checks them, turns them into a record.)

use std::fmt::Write as _;

use serde::{Serialize, Serializer, ser::SerializeStruct};

/// The two standards this crate reads and writes. Both start `"FMR\0" " 20\0"`; they differ in the
/// header (ANSI has a 2- or 6-byte record length and a CBEFF product identifier, ISO a 4-byte
/// length and none), in the angle unit and in how extended-data block lengths are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Format {
    /// ISO/IEC 19794-2:2005, the off-card record format (clause 7).
    #[serde(rename = "ISO/IEC 19794-2:2005")]
    Iso19794_2_2005,
    /// ANSI INCITS 378-2004.
    #[serde(rename = "ANSI INCITS 378-2004")]
    Ansi378_2004,
}

impl Format {
    /// Degrees per unit of a stored angle: ISO counts 256 units per turn, ANSI 2-degree steps.
    fn degrees_per_unit(self) -> f64 {
        match self {
            Format::Iso19794_2_2005 => 360.0 / 256.0,
            Format::Ansi378_2004 => 2.0,
        }
    }
}

/// A direction as stored in the record: one byte, counter-clockwise from the positive x axis (image
/// x to the right), in the record format's unit. The raw byte is kept because that is what the
/// record says and what is written back; [`Angle::degrees`] converts.
///
/// ISO/IEC 19794-2:2005 uses 360/256 degrees per unit (0..=255); ANSI INCITS 378-2004 uses 2
/// degrees per unit (0..=179). fingerprintio's JSON reports the raw byte; SourceAFIS reads the ISO
/// byte as 256 units per turn counter-clockwise (and negates it into its own clockwise convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Angle {
    raw: u8,
    format: Format,
}

impl Angle {
    pub(crate) fn new(raw: u8, format: Format) -> Self {
        Angle { raw, format }
    }

    /// The byte as stored, in the record format's unit.
    pub fn raw(self) -> u8 {
        self.raw
    }

    /// The format whose unit [`Angle::raw`] is in.
    pub fn format(self) -> Format {
        self.format
    }

    /// The angle in degrees, counter-clockwise from the positive x axis.
    pub fn degrees(self) -> f64 {
        f64::from(self.raw) * self.format.degrees_per_unit()
    }
}

impl Serialize for Angle {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Angle", 2)?;
        s.serialize_field("raw", &self.raw)?;
        s.serialize_field("degrees", &self.degrees())?;
        s.end()
    }
}

/// A finger minutiae record: the general header and its finger views.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub(crate) format: Format,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) product_id: Option<ProductId>,
    pub(crate) capture_equipment: CaptureEquipment,
    pub(crate) width: u16,
    pub(crate) height: u16,
    pub(crate) resolution_x: u16,
    pub(crate) resolution_y: u16,
    pub(crate) views: Vec<FingerView>,
}

impl Record {
    /// Which standard the record follows.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The CBEFF product identifier (ANSI INCITS 378 only; ISO records have none).
    pub fn product_id(&self) -> Option<ProductId> {
        self.product_id
    }

    /// The capture device's compliance bit and type identifier.
    pub fn capture_equipment(&self) -> CaptureEquipment {
        self.capture_equipment
    }

    /// Width of the image the minutiae were taken from, in pixels; every x is below it.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Height of that image in pixels; every y is below it.
    pub fn height(&self) -> u16 {
        self.height
    }

    /// Horizontal resolution in pixels per centimetre (197 is 500 dpi).
    pub fn resolution_x(&self) -> u16 {
        self.resolution_x
    }

    /// Vertical resolution in pixels per centimetre.
    pub fn resolution_y(&self) -> u16 {
        self.resolution_y
    }

    /// The finger views in record order.
    pub fn views(&self) -> &[FingerView] {
        &self.views
    }
}

/// The CBEFF product identifier of an ANSI INCITS 378 record: who made the template and which of
/// their product formats it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ProductId {
    /// The IBIA-registered owner (never 0: NIST's biomdi and fingerprintio reject 0 too).
    pub owner: u16,
    /// The owner's product type.
    pub product_type: u16,
}

/// The "capture equipment" field: 4 bits of compliance/certification flags and a 12-bit device type
/// identifier chosen by the vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct CaptureEquipment {
    /// The top bit: the device is certified to the FBI's Appendix F image quality specification.
    /// The other three flag bits are reserved and must be zero.
    pub appendix_f_certified: bool,
    /// The vendor's device type identifier (12 bits; 0 means unreported).
    pub device_type_id: u16,
}

/// One impression (view) of one finger and its minutiae.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FingerView {
    pub(crate) finger_position: FingerPosition,
    pub(crate) view_number: u8,
    pub(crate) impression_type: ImpressionType,
    pub(crate) quality: u8,
    pub(crate) minutiae: Vec<Minutia>,
    pub(crate) extended_data: Vec<ExtendedBlock>,
    pub(crate) block_lengths: BlockLengths,
}

impl FingerView {
    /// Which finger.
    pub fn finger_position(&self) -> FingerPosition {
        self.finger_position
    }

    /// 0 for a finger's first view, then 1, 2 … (4 bits).
    pub fn view_number(&self) -> u8 {
        self.view_number
    }

    /// How the impression was captured.
    pub fn impression_type(&self) -> ImpressionType {
        self.impression_type
    }

    /// Finger quality, 0..=100.
    pub fn quality(&self) -> u8 {
        self.quality
    }

    /// The minutiae in record order; ridge-count entries refer to them by index.
    pub fn minutiae(&self) -> &[Minutia] {
        &self.minutiae
    }

    /// The extended-data blocks in record order.
    pub fn extended_data(&self) -> &[ExtendedBlock] {
        &self.extended_data
    }

    /// How this view's extended-data block lengths are counted (see [`BlockLengths`]).
    pub fn block_lengths(&self) -> BlockLengths {
        self.block_lengths
    }
}

/// How the 2-byte length of an extended-data block is counted.
///
/// ANSI INCITS 378-2004 counts the block's 4-byte header (type and length) in its length. For
/// ISO/IEC 19794-2:2005 the readings differ: the example record printed in the standard (the
/// fingerprintio sample: a 6-byte block with length 6) counts the data only, while NIST's biomdi
/// shares ANSI's reading for ISO and real ISO templates follow it (the SourceAFIS sample: a 1-byte
/// block with length 5). An ISO view is read with the standard's data-only length first and, if
/// its blocks do not fit that way, with the header-inclusive one; the view remembers which, so it
/// is written back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockLengths {
    /// The length counts the data only (ISO/IEC 19794-2:2005 as printed in its example).
    ExcludeHeader,
    /// The length includes the 4-byte block header (ANSI INCITS 378-2004; NIST's ISO reading).
    IncludeHeader,
}

/// Finger position codes 0..=10 (the ANSI/NIST-ITL finger codes; the "plain" multi-finger codes
/// 11-14 do not apply to minutiae records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FingerPosition {
    /// 0: not known.
    Unknown,
    /// 1.
    RightThumb,
    /// 2.
    RightIndex,
    /// 3.
    RightMiddle,
    /// 4.
    RightRing,
    /// 5.
    RightLittle,
    /// 6.
    LeftThumb,
    /// 7.
    LeftIndex,
    /// 8.
    LeftMiddle,
    /// 9.
    LeftRing,
    /// 10.
    LeftLittle,
}

impl FingerPosition {
    const ALL: [FingerPosition; 11] = [
        FingerPosition::Unknown,
        FingerPosition::RightThumb,
        FingerPosition::RightIndex,
        FingerPosition::RightMiddle,
        FingerPosition::RightRing,
        FingerPosition::RightLittle,
        FingerPosition::LeftThumb,
        FingerPosition::LeftIndex,
        FingerPosition::LeftMiddle,
        FingerPosition::LeftRing,
        FingerPosition::LeftLittle,
    ];

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// The code stored in the record.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Impression type codes. ISO/IEC 19794-2:2005 allows 0-3 and 8; ANSI INCITS 378-2004 also 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImpressionType {
    /// Live-scan plain (0).
    LivePlain,
    /// Live-scan rolled (1).
    LiveRolled,
    /// Non-live-scan plain, e.g. a scanned ink card (2).
    NonLivePlain,
    /// Non-live-scan rolled (3).
    NonLiveRolled,
    /// Swipe sensor (8).
    Swipe,
    /// Live-scan contactless (9; ANSI INCITS 378-2004 only).
    LiveContactless,
}

impl ImpressionType {
    pub(crate) fn from_code(code: u8, format: Format) -> Option<Self> {
        match (code, format) {
            (0, _) => Some(ImpressionType::LivePlain),
            (1, _) => Some(ImpressionType::LiveRolled),
            (2, _) => Some(ImpressionType::NonLivePlain),
            (3, _) => Some(ImpressionType::NonLiveRolled),
            (8, _) => Some(ImpressionType::Swipe),
            (9, Format::Ansi378_2004) => Some(ImpressionType::LiveContactless),
            _ => None,
        }
    }

    /// The code stored in the record.
    pub fn code(self) -> u8 {
        match self {
            ImpressionType::LivePlain => 0,
            ImpressionType::LiveRolled => 1,
            ImpressionType::NonLivePlain => 2,
            ImpressionType::NonLiveRolled => 3,
            ImpressionType::Swipe => 8,
            ImpressionType::LiveContactless => 9,
        }
    }
}

/// One minutia.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Minutia {
    /// Ridge ending, bifurcation or other.
    pub kind: MinutiaKind,
    /// Pixels from the left edge (14 bits, below the image width).
    pub x: u16,
    /// Pixels from the top edge (14 bits, below the image height).
    pub y: u16,
    /// Ridge direction.
    pub angle: Angle,
    /// Minutia quality, 0..=100 (0: not reported).
    pub quality: u8,
}

/// The 2-bit minutia type (the fourth value, 3, is reserved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MinutiaKind {
    /// Type 0: neither an ending nor a bifurcation (or not told apart).
    Other,
    /// Type 1: a ridge ending.
    Ending,
    /// Type 2: a ridge bifurcation.
    Bifurcation,
}

impl MinutiaKind {
    pub(crate) fn from_code(code: u16) -> Option<Self> {
        match code {
            0 => Some(MinutiaKind::Other),
            1 => Some(MinutiaKind::Ending),
            2 => Some(MinutiaKind::Bifurcation),
            _ => None,
        }
    }

    /// The 2-bit code stored in the record.
    pub fn code(self) -> u16 {
        self as u16
    }
}

/// An extended-data block of a finger view. The two blocks both standards define are decoded;
/// everything else (ISO zonal quality, vendor blocks) is kept as bytes so it is written back
/// exactly.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "block", rename_all = "snake_case")]
pub enum ExtendedBlock {
    /// Type 0x0001: ridge counts between minutiae.
    RidgeCounts(RidgeCounts),
    /// Type 0x0002: core and delta points.
    CoresAndDeltas(CoresAndDeltas),
    /// Any other type, undecoded.
    Other {
        /// The block's type code (0x0100 and up are vendor-defined; ISO 0x0003 is zonal quality).
        type_code: u16,
        /// The block's data, without its 4-byte header.
        #[serde(serialize_with = "hex")]
        data: Vec<u8>,
    },
}

impl ExtendedBlock {
    /// The block's type code.
    pub fn type_code(&self) -> u16 {
        match self {
            ExtendedBlock::RidgeCounts(_) => RIDGE_COUNTS,
            ExtendedBlock::CoresAndDeltas(_) => CORES_AND_DELTAS,
            ExtendedBlock::Other { type_code, .. } => *type_code,
        }
    }
}

pub(crate) const RIDGE_COUNTS: u16 = 0x0001;
pub(crate) const CORES_AND_DELTAS: u16 = 0x0002;

fn hex<S: Serializer>(data: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    let mut s = String::with_capacity(data.len() * 2);
    for b in data {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    serializer.serialize_str(&s)
}

/// Ridge-count data: how the neighbours were chosen and the counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RidgeCounts {
    /// How neighbouring minutiae were chosen.
    pub method: RidgeCountMethod,
    /// The counted pairs in record order.
    pub counts: Vec<RidgeCount>,
}

/// The ridge-count extraction method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RidgeCountMethod {
    /// 0: not specified.
    NonSpecific,
    /// 1: the nearest neighbour in each quadrant.
    FourNeighbour,
    /// 2: the nearest neighbour in each octant.
    EightNeighbour,
}

impl RidgeCountMethod {
    pub(crate) fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(RidgeCountMethod::NonSpecific),
            1 => Some(RidgeCountMethod::FourNeighbour),
            2 => Some(RidgeCountMethod::EightNeighbour),
            _ => None,
        }
    }

    /// The code stored in the record.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The number of ridges crossed between two minutiae of the same view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RidgeCount {
    /// Index of the first minutia.
    pub first: u8,
    /// Index of the second minutia.
    pub second: u8,
    /// Ridges crossed.
    pub count: u8,
}

/// Core and delta points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoresAndDeltas {
    pub(crate) cores: Vec<Core>,
    pub(crate) deltas: Vec<Delta>,
    /// ANSI stores one "angles present" flag for all cores and one for all deltas, and a writer may
    /// set it with zero points (fingerprintio does); kept so such a block is written back exactly.
    /// ISO stores the flag per point, so these stay false.
    #[serde(skip)]
    pub(crate) ansi_core_angles: bool,
    #[serde(skip)]
    pub(crate) ansi_delta_angles: bool,
}

impl CoresAndDeltas {
    /// The core points (at most 15).
    pub fn cores(&self) -> &[Core] {
        &self.cores
    }

    /// The delta points (at most 15).
    pub fn deltas(&self) -> &[Delta] {
        &self.deltas
    }
}

/// A core point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Core {
    /// Pixels from the left edge.
    pub x: u16,
    /// Pixels from the top edge.
    pub y: u16,
    /// The core's direction, when the record gives one.
    pub angle: Option<Angle>,
}

/// A delta point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Delta {
    /// Pixels from the left edge.
    pub x: u16,
    /// Pixels from the top edge.
    pub y: u16,
    /// The directions of the delta's three ridges, when the record gives them.
    pub angles: Option<[Angle; 3]>,
}
