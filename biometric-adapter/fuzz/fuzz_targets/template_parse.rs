//! The ISO/IEC 19794-2 / ANSI 378 record parser on arbitrary bytes: no panic, and whatever parses
//! writes back to the same record.
#![no_main]

use biometric_adapter::template;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = template::parse(data) {
        let written = template::write(&record);
        let again = template::parse(&written).expect("a written record parses");
        assert_eq!(again, record, "round trip changed the record");
    }
});
