//! Property-style: no input derived from the fixtures makes the parser panic, every error points
//! into the input, and every accepted input round-trips exactly (the written record is the input's
//! prefix and only zeros follow it). A small deterministic generator keeps runs reproducible.

use biometric_adapter::template;

use crate::support::{ANSI_SAMPLE, ISO_SAMPLE, SOURCEAFIS, View, ansi, block_excl, block_incl, fixture, iso, minutia};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap()).unwrap()
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }
}

/// Parses `bytes` and checks the properties; returns whether it was accepted.
fn check(bytes: &[u8]) -> bool {
    match template::parse(bytes) {
        Ok(record) => {
            let written = template::write(&record);
            assert!(bytes.starts_with(&written), "accepted input does not round-trip: {bytes:02x?}");
            assert!(bytes[written.len()..].iter().all(|&b| b == 0), "accepted non-zero bytes after the record");
            true
        }
        Err(e) => {
            assert!(e.offset() <= bytes.len(), "{e} points past the {}-byte input", bytes.len());
            assert!(!e.reason().is_empty());
            false
        }
    }
}

/// Seeds: the fixtures (the ANSI sample also with its version patched, so mutations get past the
/// version check) and two synthetic records with every kind of block.
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for name in [ISO_SAMPLE, ANSI_SAMPLE, SOURCEAFIS[0], SOURCEAFIS[2]] {
        let Some(bytes) = fixture(name) else { return seeds };
        seeds.push(bytes);
    }
    if let Some(mut ansi_sample) = fixture(ANSI_SAMPLE) {
        ansi_sample[4] = b' ';
        seeds.push(ansi_sample);
    }
    let minutiae = vec![minutia(1, 100, 200, 170, 60), minutia(2, 5, 7, 0, 100)];
    let cd = [0x41, 0, 10, 0, 20, 45, 0x41, 0, 50, 0, 60, 1, 2, 3];
    seeds.push(ansi(&[View::new(2, minutiae.clone()).with_blocks(&[
        block_incl(0x0001, &[1, 0, 1, 5]),
        block_incl(0x0002, &cd),
        block_incl(0x0101, &[9]),
    ])]));
    let cd = [1, 0x40, 10, 0, 20, 45, 1, 0, 50, 0, 60];
    seeds.push(iso(&[View::new(2, minutiae).with_blocks(&[
        block_excl(0x0001, &[1, 0, 1, 5]),
        block_excl(0x0002, &cd),
        block_excl(0x0003, &[9]),
    ])]));
    seeds
}

#[test]
fn single_bit_flips_and_truncations() {
    for seed in seeds() {
        for i in 0..seed.len() {
            for bit in 0..8 {
                let mut m = seed.clone();
                m[i] ^= 1 << bit;
                check(&m);
            }
            check(&seed[..i]);
        }
    }
}

#[test]
fn random_mutations() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut accepted = 0;
    for seed in seeds() {
        for _ in 0..3000 {
            let mut m = seed.clone();
            for _ in 0..=rng.below(4) {
                match rng.below(5) {
                    0 | 1 => {
                        let i = rng.below(m.len());
                        if let Some(b) = m.get_mut(i) {
                            *b = rng.byte();
                        }
                    }
                    2 => m.truncate(rng.below(m.len() + 1)),
                    3 => {
                        let i = rng.below(m.len() + 1);
                        m.insert(i, rng.byte());
                    }
                    _ => {
                        if !m.is_empty() {
                            m.remove(rng.below(m.len()));
                        }
                    }
                }
            }
            accepted += usize::from(check(&m));
        }
    }
    // Some mutations (an angle, a quality, a vendor byte) leave a valid record; they exercise the
    // round-trip property.
    assert!(accepted > 0);
}

#[test]
fn arbitrary_bytes_after_a_valid_prefix() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let mut m = b"FMR\0 20\0".to_vec();
        let len = rng.below(64);
        m.extend((0..len).map(|_| rng.byte()));
        check(&m);
    }
}
