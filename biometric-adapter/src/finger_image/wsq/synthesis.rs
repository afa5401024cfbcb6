//! The inverse wavelet transform (the synthesis filter bank) and the final scaling to pixels.
//!
//! The transform table (DTT) carries the analysis filters' right halves; the synthesis filters
//! follow from them: the synthesis high-pass is the analysis low-pass with every other tap
//! negated, and the synthesis low-pass the analysis high-pass likewise (for the FBI's 9/7 pair: a
//! 9-tap high-pass and a 7-tap low-pass). Both are symmetric with odd length, so the subbands are
//! extended symmetrically at their ends: the low band (samples at even positions of the line)
//! about its first sample, the high band (odd positions) with its first sample repeated; at the
//! far end the same mirror of the line's last sample decides which of the two repeats.
//!
//! Every output sample sums the low-band terms, then the high-band terms, in increasing tap order
//! in `f32` — the order of NIST's reference decoder, so that its pixels come out exactly. Each
//! join filters the columns first, then the rows.

use super::{Cursor, Result, WsqError, scaled, subbands::Join};

/// The longest filter accepted (the FBI's are 9 and 7 taps).
const MAX_TAPS: u8 = 31;

/// The synthesis filters.
#[derive(Debug, Clone)]
pub(super) struct Filters {
    lo: Vec<f32>,
    hi: Vec<f32>,
}

impl Filters {
    /// Reads a transform table's contents (after its length field): the two filter lengths, then
    /// the right halves of the analysis low-pass and high-pass, each coefficient a sign byte, an
    /// exponent byte and a 32-bit magnitude.
    pub(super) fn read(cursor: &mut Cursor<'_>) -> Result<Filters> {
        let lengths_at = cursor.pos();
        let hi_taps = cursor.u8("the transform table")?;
        let lo_taps = cursor.u8("the transform table")?;
        for (taps, at) in [(hi_taps, lengths_at), (lo_taps, lengths_at + 1)] {
            if taps % 2 == 0 || !(3..=MAX_TAPS).contains(&taps) {
                return Err(WsqError::new(
                    at,
                    format!("a {taps}-tap filter: only odd lengths from 3 to {MAX_TAPS} are supported"),
                ));
            }
        }
        // A symmetric odd-length pair that reconstructs needs lengths 2 apart modulo 4 (9/7, 5/3).
        if (lo_taps - 1) / 2 % 2 != hi_taps.div_ceil(2) % 2 {
            return Err(WsqError::new(
                lengths_at,
                format!("filters of {hi_taps} and {lo_taps} taps do not form a pair"),
            ));
        }
        let hi = Self::half(cursor, hi_taps)?;
        let lo = Self::half(cursor, lo_taps)?;
        Ok(Filters { lo, hi })
    }

    /// One filter from its right half, every other tap negated (`(-1)^k` from the centre).
    fn half(cursor: &mut Cursor<'_>, taps: u8) -> Result<Vec<f32>> {
        let centre = usize::from(taps - 1) / 2;
        let mut filter = vec![0.0f32; usize::from(taps)];
        for k in 0..=centre {
            let sign_at = cursor.pos();
            let sign = cursor.u8("a filter coefficient")?;
            let exponent = cursor.u8("a filter coefficient")?;
            let magnitude = cursor.u32("a filter coefficient")?;
            let mut value = scaled(magnitude, exponent);
            match sign {
                0 => {}
                1 => value = -value,
                other => return Err(WsqError::new(sign_at, format!("filter coefficient sign {other} (0 or 1)"))),
            }
            if k % 2 == 1 {
                value = -value;
            }
            filter[centre + k] = value;
            filter[centre - k] = value;
        }
        Ok(filter)
    }

    /// The FBI's 9/7 filters, as NBIS's encoder transmits them (for tests).
    #[cfg(test)]
    pub(super) fn fbi() -> Filters {
        let lo = [0.037828455f64, -0.023849465, -0.110624404, 0.377402856, 0.852698679].map(|v| v as f32);
        let hi = [0.064538883f64, -0.040689418, -0.418092273, 0.788485616].map(|v| v as f32);
        let mirror = |half: &[f32], negate_odd: bool| {
            let centre = half.len() - 1;
            let mut out = vec![0.0; 2 * centre + 1];
            for k in 0..=centre {
                let v = if negate_odd && k % 2 == 1 { -half[centre - k] } else { half[centre - k] };
                out[centre + k] = v;
                out[centre - k] = v;
            }
            out
        };
        Filters { hi: mirror(&lo, true), lo: mirror(&hi, true) }
    }
}

/// Reconstructs the image plane in place from its subbands, join by join.
pub(super) fn reconstruct(plane: &mut [f32], width: usize, joins: &[Join], filters: &Filters) {
    let mut temp = Vec::new();
    let (mut line, mut out) = (Vec::new(), Vec::new());
    for join in joins {
        let r = join.rect;
        if r.w == 0 || r.h == 0 {
            continue;
        }
        temp.clear();
        temp.resize(r.w * r.h, 0.0);
        line.clear();
        line.resize(r.h, 0.0);
        out.clear();
        out.resize(r.h, 0.0);
        for column in 0..r.w {
            for (row, sample) in line.iter_mut().enumerate() {
                *sample = plane[(r.y + row) * width + r.x + column];
            }
            synthesise(&line, join.invert_y, &mut out, filters);
            for (row, &sample) in out.iter().enumerate() {
                temp[row * r.w + column] = sample;
            }
        }
        for row in 0..r.h {
            let start = (r.y + row) * width + r.x;
            synthesise(&temp[row * r.w..(row + 1) * r.w], join.invert_x, &mut plane[start..start + r.w], filters);
        }
    }
}

/// One line from its low and high bands (high first when `inverted`).
fn synthesise(input: &[f32], inverted: bool, output: &mut [f32], filters: &Filters) {
    let n = input.len();
    let (low_len, high_len) = (n.div_ceil(2), n / 2);
    let (low, high) = if inverted { (&input[high_len..], &input[..high_len]) } else { input.split_at(low_len) };
    let even = n.is_multiple_of(2);
    let (lo, hi) = (&filters.lo, &filters.hi);
    let (lo_centre, hi_centre) = ((lo.len() - 1) / 2, (hi.len() - 1) / 2);
    for (k, sample) in output.iter_mut().enumerate() {
        // -0.0 is the identity of addition, so the first term is taken as it is.
        let mut sum = -0.0f32;
        // Low band: sample j sits at position 2j.
        let mut tap = (k + lo_centre) % 2;
        while tap < lo.len() {
            let j = (k as isize + tap as isize - lo_centre as isize) / 2;
            sum += low[extend(j, low_len, true, !even)] * lo[tap];
            tap += 2;
        }
        // High band: sample j sits at position 2j + 1.
        if high_len > 0 {
            let mut tap = (k + hi_centre + 1) % 2;
            while tap < hi.len() {
                let j = (k as isize + tap as isize - hi_centre as isize - 1) / 2;
                sum += high[extend(j, high_len, false, even)] * hi[tap];
                tap += 2;
            }
        }
        *sample = sum;
    }
}

/// Symmetric extension of a band of `len` samples: `whole` mirrors about the end sample itself
/// (`x[-1] = x[1]`), otherwise about the gap beyond it (`x[-1] = x[0]`).
fn extend(mut j: isize, len: usize, left_whole: bool, right_whole: bool) -> usize {
    let n = len as isize;
    if n <= 1 {
        return 0;
    }
    loop {
        if j < 0 {
            j = if left_whole { -j } else { -j - 1 };
        } else if j >= n {
            j = if right_whole { 2 * (n - 1) - j } else { 2 * n - 1 - j };
        } else {
            return j as usize;
        }
    }
}

/// `value * scale + shift`, rounded half up and clamped to 0-255, in the reference's precision.
pub(super) fn to_pixels(plane: &[f32], shift: f32, scale: f32) -> Vec<u8> {
    plane
        .iter()
        .map(|&value| {
            let pixel = (f64::from(value * scale + shift) + 0.5) as f32;
            if pixel < 0.0 {
                0
            } else if pixel > 255.0 {
                255
            } else {
                pixel as u8
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_mirrors_about_the_sample_or_the_gap() {
        let at = |j| extend(j, 5, true, false);
        assert_eq!([at(-2), at(-1), at(0), at(4), at(5), at(6)], [2, 1, 0, 4, 4, 3]);
        let at = |j| extend(j, 5, false, true);
        assert_eq!([at(-2), at(-1), at(5), at(6), at(20)], [1, 0, 3, 2, 2], "period 2n - 1");
        assert_eq!(extend(-7, 1, true, true), 0);
        assert_eq!(extend(9, 2, true, true), 1);
    }

    /// The 9/7 analysis (as the WSQ encoder applies it) followed by this synthesis gives the line
    /// back: the extension and the tap alignment agree with the forward transform.
    #[test]
    fn synthesis_inverts_the_forward_transform() {
        let f = Filters::fbi();
        // Analysis filters from the synthesis ones: swap and negate every other tap again.
        let undo = |g: &[f32]| {
            let c = (g.len() - 1) / 2;
            (0..g.len()).map(|i| if (i as isize - c as isize) % 2 != 0 { -g[i] } else { g[i] }).collect::<Vec<f32>>()
        };
        let (a_lo, a_hi) = (undo(&f.hi), undo(&f.lo));
        for n in [8usize, 9, 16, 17, 33] {
            let x: Vec<f32> = (0..n).map(|i| ((i * 37 % 11) as f32) - 5.0 + i as f32 * 0.25).collect();
            let mirror = |i: isize| x[extend(i, n, true, true)];
            let (cl, ch) = ((a_lo.len() - 1) / 2, (a_hi.len() - 1) / 2);
            let low: Vec<f32> = (0..n.div_ceil(2))
                .map(|j| (0..a_lo.len()).map(|t| mirror(2 * j as isize + t as isize - cl as isize) * a_lo[t]).sum())
                .collect();
            let high: Vec<f32> = (0..n / 2)
                .map(|j| (0..a_hi.len()).map(|t| mirror(2 * j as isize + 1 + t as isize - ch as isize) * a_hi[t]).sum())
                .collect();
            for inverted in [false, true] {
                let input: Vec<f32> = if inverted {
                    high.iter().chain(&low).copied().collect()
                } else {
                    low.iter().chain(&high).copied().collect()
                };
                let mut out = vec![0.0; n];
                synthesise(&input, inverted, &mut out, &f);
                for (a, b) in x.iter().zip(&out) {
                    assert!((a - b).abs() < 1e-3, "n = {n}: {x:?} came back as {out:?}");
                }
            }
        }
    }

    #[test]
    fn pixels_round_half_up_and_clamp() {
        assert_eq!(
            to_pixels(&[-300.0, 0.0, 0.49, 0.5, 126.4, 400.0, f32::NAN], 128.0, 1.0),
            [0, 128, 128, 129, 254, 255, 0]
        );
    }
}
