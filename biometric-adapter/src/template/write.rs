//! Encoding a record.
//!
//! Every field of the model maps to exactly one encoding, and the few places where a format allows
//! a choice (ANSI's 2- or 6-byte length, how ISO block lengths are counted, ANSI's angle flags with
//! zero points) are decided by the standard or remembered from the parse, so the output is the
//! input byte for byte.

use super::model::{BlockLengths, CoresAndDeltas, ExtendedBlock, FingerView, Format, Record};

/// Encodes a record in its format. For every record [`parse`](fn@super::parse) accepted, this returns
/// the parsed bytes exactly (without any zero padding that followed them).
pub fn write(record: &Record) -> Vec<u8> {
    let mut body = Vec::new();
    for view in &record.views {
        write_view(&mut body, view, record.format);
    }
    let mut out = Vec::with_capacity(body.len() + 30);
    out.extend_from_slice(b"FMR\0 20\0");
    match record.format {
        Format::Iso19794_2_2005 => out.extend_from_slice(&be32(24 + body.len())),
        Format::Ansi378_2004 => {
            let short = 26 + body.len();
            if short <= 0xffff {
                out.extend_from_slice(&be16(short));
            } else {
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&be32(short + 4));
            }
            if let Some(product) = record.product_id {
                out.extend_from_slice(&product.owner.to_be_bytes());
                out.extend_from_slice(&product.product_type.to_be_bytes());
            }
        }
    }
    let equipment = record.capture_equipment;
    let flags = if equipment.appendix_f_certified { 0x8000 } else { 0 };
    out.extend_from_slice(&(flags | equipment.device_type_id).to_be_bytes());
    for dimension in [record.width, record.height, record.resolution_x, record.resolution_y] {
        out.extend_from_slice(&dimension.to_be_bytes());
    }
    out.push(byte(record.views.len()));
    out.push(0);
    out.extend_from_slice(&body);
    out
}

fn write_view(out: &mut Vec<u8>, view: &FingerView, format: Format) {
    out.push(view.finger_position.code());
    out.push((view.view_number << 4) | view.impression_type.code());
    out.push(view.quality);
    out.push(byte(view.minutiae.len()));
    for m in &view.minutiae {
        out.extend_from_slice(&((m.kind.code() << 14) | m.x).to_be_bytes());
        out.extend_from_slice(&m.y.to_be_bytes());
        out.push(m.angle.raw());
        out.push(m.quality);
    }
    let mut blocks = Vec::new();
    for block in &view.extended_data {
        let data = block_data(block, format);
        let length = match view.block_lengths {
            BlockLengths::ExcludeHeader => data.len(),
            BlockLengths::IncludeHeader => data.len() + 4,
        };
        blocks.extend_from_slice(&block.type_code().to_be_bytes());
        blocks.extend_from_slice(&be16(length));
        blocks.extend_from_slice(&data);
    }
    out.extend_from_slice(&be16(blocks.len()));
    out.extend_from_slice(&blocks);
}

fn block_data(block: &ExtendedBlock, format: Format) -> Vec<u8> {
    match block {
        ExtendedBlock::RidgeCounts(r) => {
            let mut data = vec![r.method.code()];
            for c in &r.counts {
                data.extend_from_slice(&[c.first, c.second, c.count]);
            }
            data
        }
        ExtendedBlock::CoresAndDeltas(cd) => cores_and_deltas(cd, format),
        ExtendedBlock::Other { data, .. } => data.clone(),
    }
}

fn cores_and_deltas(cd: &CoresAndDeltas, format: Format) -> Vec<u8> {
    let mut data = Vec::new();
    match format {
        Format::Iso19794_2_2005 => {
            data.push(byte(cd.cores.len()));
            for core in &cd.cores {
                let flag = if core.angle.is_some() { 0x4000 } else { 0 };
                data.extend_from_slice(&(flag | core.x).to_be_bytes());
                data.extend_from_slice(&core.y.to_be_bytes());
                data.extend(core.angle.map(|a| a.raw()));
            }
            data.push(byte(cd.deltas.len()));
            for delta in &cd.deltas {
                let flag = if delta.angles.is_some() { 0x4000 } else { 0 };
                data.extend_from_slice(&(flag | delta.x).to_be_bytes());
                data.extend_from_slice(&delta.y.to_be_bytes());
                data.extend(delta.angles.iter().flatten().map(|a| a.raw()));
            }
        }
        Format::Ansi378_2004 => {
            let flag = |angles: bool| if angles { 0x40 } else { 0 };
            data.push(flag(cd.ansi_core_angles) | byte(cd.cores.len()));
            for core in &cd.cores {
                data.extend_from_slice(&core.x.to_be_bytes());
                data.extend_from_slice(&core.y.to_be_bytes());
                data.extend(core.angle.map(|a| a.raw()));
            }
            data.push(flag(cd.ansi_delta_angles) | byte(cd.deltas.len()));
            for delta in &cd.deltas {
                data.extend_from_slice(&delta.x.to_be_bytes());
                data.extend_from_slice(&delta.y.to_be_bytes());
                data.extend(delta.angles.iter().flatten().map(|a| a.raw()));
            }
        }
    }
    data
}

// The counts and lengths below were read from fields of these widths by `parse`, the only way to
// get a `Record`, so they always fit; the saturation is never reached.

fn byte(n: usize) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

fn be16(n: usize) -> [u8; 2] {
    u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes()
}

fn be32(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes()
}
