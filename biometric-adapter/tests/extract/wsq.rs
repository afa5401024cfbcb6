//! WSQ: the decoder against NIST's reference pixels, a WSQ capture through image -> minutiae ->
//! match, and malformed streams refused with the byte where they go wrong.

use biometric_adapter::{
    Error, extract,
    finger_image::{Capture, DEFAULT_PPI, ImageFormat, SbiField, Source, decode_wsq},
    matcher::{FalseMatchRate, Subject, compare, verify},
    template::FingerPosition,
};
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::support::*;

const PROBE_WSQ: &str = "wsq/sourceafis-probe.wsq";

/// NBIS's pixels for a fixture: its `.nbis.png`.
fn nbis_pixels(name: &str) -> Option<(u32, u32, Vec<u8>)> {
    let png = fixture(&name.replace(".wsq", ".nbis.png"))?;
    let image = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap().into_luma8();
    Some((image.width(), image.height(), image.into_raw()))
}

/// Our pixels against NBIS's: `(pixels that differ, largest difference)`.
fn against_nbis(name: &str) -> Option<(usize, u8)> {
    let (wsq, (width, height, expected)) = (fixture(name)?, nbis_pixels(name)?);
    let decoded = decode_wsq(&wsq, 1000).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (width, height), "{name}");
    assert_eq!(decoded.ppi(), 500, "{name}: the NISTCOM comment's PPI, not the fallback");
    let differences: Vec<u8> =
        decoded.pixels().iter().zip(&expected).map(|(a, b)| a.abs_diff(*b)).filter(|&d| d > 0).collect();
    eprintln!("{name}: {} of {} pixels differ from NBIS's", differences.len(), expected.len());
    Some((differences.len(), differences.iter().copied().max().unwrap_or(0)))
}

#[test]
fn wsq_fixtures_decode_to_exactly_the_pixels_of_nists_reference_decoder() {
    for name in [PROBE_WSQ, "wsq/sourceafis-probe-301x263.wsq"] {
        let Some(result) = against_nbis(name) else { return };
        assert_eq!(result, (0, 0), "{name}: (pixels that differ, by at most)");
    }
    // 70x45: the deepest subbands are 1-3 samples long, shorter than the filters' reach, and
    // NBIS's filter loop then reads past the band (its symmetric extension bounces once per end,
    // and starts a sample beyond a 1-sample band). We extend symmetrically as often as needed, so
    // a few pixels differ, by 1 at most.
    let Some((differing, largest)) = against_nbis("wsq/sourceafis-probe-70x45.wsq") else { return };
    assert!(largest <= 1 && differing < 70 * 45 / 10, "{differing} pixels differ, by up to {largest}");
    // Another encoder's stream: NBIS's pixels by their SHA-256 (fixtures README).
    let Some(wsq) = fixture("wsq/jnbis-sample.wsq") else { return };
    let decoded = decode_wsq(&wsq, DEFAULT_PPI).unwrap();
    assert_eq!((decoded.width(), decoded.height(), decoded.ppi()), (545, 622, 500));
    assert_eq!(
        hex::encode(Sha256::digest(decoded.pixels())),
        "9a264e44ae0d89aae020810e0fce755c69baa9c7eb8e3d3e67f256adb99eb1df"
    );
}

/// Independent of NBIS: the decoded image is the original PNG up to WSQ's loss at 15:1.
#[test]
fn the_decoded_probe_is_its_original_up_to_the_compression_loss() {
    let (Some(wsq), Some(png)) = (fixture(PROBE_WSQ), fixture(PROBE)) else { return };
    let decoded = decode_wsq(&wsq, DEFAULT_PPI).unwrap();
    let original = Capture::from_bytes(&png, SbiField::BioValue, DEFAULT_PPI).unwrap().image;
    assert_eq!((decoded.width(), decoded.height()), (original.width(), original.height()));
    let squared: f64 =
        decoded.pixels().iter().zip(original.pixels()).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum();
    let psnr = 10.0 * (255.0f64.powi(2) / (squared / decoded.pixels().len() as f64)).log10();
    eprintln!("WSQ 0.75 bpp probe: PSNR {psnr:.1} dB against the original");
    assert!(psnr > 28.0, "PSNR {psnr:.1} dB: not the same image");
}

#[test]
fn a_19794_4_record_with_wsq_inside_goes_to_minutiae_and_matches_the_mate_only() {
    let (Some(wsq), Some(matching), Some(nonmatching)) = (fixture(PROBE_WSQ), fixture(MATCHING), fixture(NONMATCHING))
    else {
        return;
    };
    let record = record_2005(2, 388, 374, 500, 2, &wsq);
    let capture = Capture::from_bytes(&record, SbiField::BioValue, DEFAULT_PPI).unwrap();
    assert_eq!(capture.source, Source::ImageRecord(ImageFormat::Iso19794_4_2005));
    assert_eq!(capture.finger, FingerPosition::RightIndex);
    assert_eq!((capture.image.width(), capture.image.height(), capture.image.ppi()), (388, 374, 500));
    let probe = extract::extract(&capture).unwrap();
    let found = probe.views()[0].minutiae().len();
    eprintln!("WSQ record: {found} minutiae (the PNG: 62 by MINDTCT)");
    assert!(found >= 40, "{found} minutiae");
    let probe = template(&probe);
    let [matching, nonmatching] =
        [matching, nonmatching].map(|bytes| template(&extract_bytes(&bytes, SbiField::BioValue)));
    let (genuine, impostor) = (compare(&probe, &matching), compare(&probe, &nonmatching));
    eprintln!("WSQ probe ~ matching {:.1}, ~ nonmatching {:.1}", genuine.value(), impostor.value());
    assert!(genuine > FalseMatchRate::ONE_IN_1M.threshold(), "{genuine:?}");
    assert!(impostor < FalseMatchRate::ONE_IN_1K.threshold(), "{impostor:?}");
    let subject = |t| Subject::new(vec![t]).unwrap();
    let target = FalseMatchRate::ONE_IN_10K;
    assert!(verify(&subject(probe.clone()), &subject(matching), target).is_match);
    assert!(!verify(&subject(probe), &subject(nonmatching), target).is_match);
    // The bare file reads the same, its resolution from its NISTCOM comment.
    let bare = Capture::from_bytes(&wsq, SbiField::BioValue, 1000).unwrap();
    assert_eq!((bare.source, bare.image.ppi()), (Source::Wsq, 500));
    assert_eq!(bare.image.pixels(), capture.image.pixels());
}

/// Where each segment of a WSQ stream starts, up to its first block header: (marker, offset).
fn segments(wsq: &[u8]) -> Vec<(u16, usize)> {
    let mut at = 2;
    let mut found = vec![(0xFFA0, 0)];
    loop {
        let marker = u16::from_be_bytes([wsq[at], wsq[at + 1]]);
        found.push((marker, at));
        if marker == 0xFFA3 {
            return found;
        }
        at += 2 + usize::from(u16::from_be_bytes([wsq[at + 2], wsq[at + 3]]));
    }
}

fn offset_of(wsq: &[u8], marker: u16) -> usize {
    segments(wsq).iter().find(|(m, _)| *m == marker).unwrap().1
}

#[track_caller]
fn refused_at(wsq: &[u8], at: usize, fragment: &str) {
    let e = decode_wsq(wsq, DEFAULT_PPI).unwrap_err();
    let text = e.to_string();
    assert!(text.contains(&format!("byte {at} of the WSQ stream")), "{text}: not at byte {at}");
    assert!(text.contains(fragment), "{text} does not mention {fragment:?}");
}

#[test]
fn malformed_wsq_is_refused_with_the_byte_and_the_reason() {
    let Some(wsq) = fixture(PROBE_WSQ) else { return };
    let patched = |at: usize, bytes: &[u8]| {
        let mut w = wsq.clone();
        w[at..at + bytes.len()].copy_from_slice(bytes);
        w
    };
    let sof = offset_of(&wsq, 0xFFA2);
    let dtt = offset_of(&wsq, 0xFFA4);
    let dqt = offset_of(&wsq, 0xFFA5);
    let sob = offset_of(&wsq, 0xFFA3);
    // Sizes: zero, beyond the limits (refused before anything is allocated for them).
    refused_at(&patched(sof + 6, &[0, 0]), sof + 6, "frame of 388x0");
    refused_at(&patched(sof + 6, &[0x13, 0x88]), sof + 6, "388x5000 is outside");
    // A frame header whose length is not its contents'.
    refused_at(&patched(sof + 2, &[0, 18]), sof + 2, "declares 18 bytes but its contents take 17");
    // A filter of even length, and one whose coefficient sign is neither 0 nor 1.
    refused_at(&patched(dtt + 4, &[8]), dtt + 4, "8-tap filter");
    refused_at(&patched(dtt + 6, &[2]), dtt + 6, "sign 2");
    // A block naming a Huffman table that was never defined, or that cannot exist.
    refused_at(&patched(sob + 4, &[3]), sob + 4, "Huffman table 3, which is not defined");
    refused_at(&patched(sob + 4, &[9]), sob + 4, "Huffman table 9 (0-7 exist)");
    // The quantisation table's marker turned into one WSQ does not have, then into a comment's (so
    // block 1 comes before any DQT); the transform table's into a comment's.
    refused_at(&patched(dqt, &[0xFF, 0xB0]), dqt, "FFB0 is not a WSQ marker");
    refused_at(&patched(dqt, &[0xFF, 0xA8]), sob, "before any quantisation table");
    refused_at(&patched(dtt, &[0xFF, 0xA8]), wsq.len() - 2, "no transform table");
    // Not a WSQ stream at all.
    refused_at(&patched(0, &[0xFF, 0xD8]), 0, "start-of-image marker");
    // Bytes after the end-of-image marker (zeros are padding).
    let mut trailing = wsq.clone();
    trailing.extend_from_slice(&[0, 0]);
    assert!(decode_wsq(&trailing, DEFAULT_PPI).is_ok());
    trailing.push(7);
    refused_at(&trailing, wsq.len() + 2, "after the end-of-image marker");
    // An end-of-image marker right after the first block header: no coefficients at all.
    let mut early = wsq[..sob + 5].to_vec();
    early.extend_from_slice(&[0xFF, 0xA1]);
    refused_at(&early, sob + 5, "holds 0 coefficients");
}

#[test]
fn every_truncation_and_corruption_of_a_wsq_stream_is_an_error_or_an_image_never_a_panic() {
    let Some(wsq) = fixture(PROBE_WSQ) else { return };
    for len in (0..wsq.len()).step_by(13) {
        let e = decode_wsq(&wsq[..len], DEFAULT_PPI).unwrap_err();
        assert!(matches!(e, Error::Image { .. }), "{e}");
    }
    let mut decoded = 0;
    for at in (2..wsq.len()).step_by(17) {
        for mask in [0xFF, 0x01, 0x80] {
            let mut flipped = wsq.clone();
            flipped[at] ^= mask;
            decoded += usize::from(decode_wsq(&flipped, DEFAULT_PPI).is_ok());
        }
    }
    eprintln!("corrupted WSQ streams that still decoded to some image: {decoded}");
    // Random damage to a small stream (so thousands of tries are cheap): several bytes changed,
    // inserted or removed. The decoder's panic guard must never be what answers.
    let Some(small) = fixture("wsq/sourceafis-probe-70x45.wsq") else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(19794);
    let (mut images, mut errors) = (0, 0);
    for _ in 0..3000 {
        let mut damaged = small.clone();
        for _ in 0..rng.random_range(1..=6) {
            let at = rng.random_range(2..damaged.len());
            match rng.random_range(0..4) {
                0 => damaged[at] = rng.random(),
                1 => damaged[at] ^= 1 << rng.random_range(0..8),
                2 => damaged.insert(at, rng.random()),
                _ => drop(damaged.remove(at)),
            }
        }
        match decode_wsq(&damaged, DEFAULT_PPI) {
            Ok(image) => {
                assert_eq!(image.pixels().len(), image.width() as usize * image.height() as usize);
                images += 1;
            }
            Err(e) => {
                assert!(!e.to_string().contains("decoder failed"), "the decoder panicked: {e}");
                errors += 1;
            }
        }
    }
    eprintln!("3000 randomly damaged 70x45 streams: {images} decoded, {errors} refused");
    // In a record, the error names the record's byte and the stream's.
    let record = record_2005(2, 388, 374, 500, 2, &wsq[..wsq.len() / 2]);
    let e = Capture::from_bytes(&record, SbiField::BioValue, DEFAULT_PPI).unwrap_err();
    assert!(e.to_string().contains("of the WSQ stream"), "{e}");
}

/// A hostile header cannot make the decoder allocate beyond the pixel limit, and a frame at the
/// limit with no data behind it is refused.
#[test]
fn a_huge_frame_with_no_data_is_refused() {
    let Some(wsq) = fixture(PROBE_WSQ) else { return };
    let sof = offset_of(&wsq, 0xFFA2);
    let sob = offset_of(&wsq, 0xFFA3);
    let mut huge = wsq[..sob + 5].to_vec();
    huge[sof + 6..sof + 10].copy_from_slice(&[0x10, 0x00, 0x10, 0x00]); // 4096x4096
    huge.extend_from_slice(&[0xFF, 0xA1]);
    let e = decode_wsq(&huge, DEFAULT_PPI).unwrap_err();
    assert!(e.to_string().contains("holds 0 coefficients but the coded subbands have"), "{e}");
    // One pixel more than the limit is refused at the frame header.
    huge[sof + 6..sof + 10].copy_from_slice(&[0x10, 0x00, 0x10, 0x01]);
    refused_at(&huge, sof + 6, "4097x4096 is outside");
}
