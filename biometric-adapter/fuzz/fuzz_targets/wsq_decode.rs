//! The WSQ decoder on arbitrary bytes: no panic, no hang, and whatever decodes is an image of the
//! size its frame header declared, within the crate's limits.
#![no_main]

use biometric_adapter::finger_image::{DEFAULT_PPI, MAX_PIXELS, MAX_SIDE, decode_wsq};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(image) = decode_wsq(data, DEFAULT_PPI) {
        assert!(image.width() <= MAX_SIDE && image.height() <= MAX_SIDE);
        assert!(u64::from(image.width()) * u64::from(image.height()) <= MAX_PIXELS);
        assert_eq!(image.pixels().len() as u64, u64::from(image.width()) * u64::from(image.height()));
    }
});
