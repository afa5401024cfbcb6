//! The 64-subband layout of a WSQ image and where each decoded coefficient goes.
//!
//! WSQ splits the image five levels deep, but not evenly: a split cuts a rectangle into four
//! quadrants (first/second half in x, first/second in y) and only some quadrants are split again.
//! Numbering the leaves depth first, quadrant by quadrant, gives the specification's subbands
//! 0-63:
//!
//! ```text
//! image ─┬─ A ─┬─ A ─┬─ A ─┬─ A: 0 1 2 3        image.D: subbands 60-63, never coded
//!        │     │     │     └─ 4 5 6
//!        │     │     └─ B, C, D: 7-10 11-14 15-18
//!        │     ├─ B, C: each split twice, 19-34 and 35-50
//!        │     └─ D: 51
//!        └─ B, C: 52-55, 56-59
//! ```
//!
//! A quadrant that came from the high-pass side of its parent in x (B, D) or y (C, D) is
//! "spectrally inverted" in that direction: its own split puts the high band first, so its first
//! part gets the smaller half of an odd length (`n / 2`), where an uninverted split gives the first
//! part the larger (`(n + 1) / 2`). Each split is one join of the inverse transform, done children
//! first ([`Layout::joins`]).

use super::Quantisation;

/// A rectangle of the image, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rect {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

/// One synthesis step: the rectangle whose four quadrants are joined, and whether its halves are
/// inverted in x and in y.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Join {
    pub rect: Rect,
    pub invert_x: bool,
    pub invert_y: bool,
}

/// The shape of the decomposition: a leaf subband, or a split into four quadrants A (first x,
/// first y), B (second x), C (second y), D (both second).
enum Shape {
    Band,
    /// A quadrant of four subbands that are not coded (60-63) and never joined.
    Uncoded,
    Split(&'static [Shape; 4]),
}

const BAND: Shape = Shape::Band;
const FOUR: Shape = Shape::Split(&[BAND, BAND, BAND, BAND]);
const SIXTEEN: Shape = Shape::Split(&[FOUR, FOUR, FOUR, FOUR]);
const LOWEST: Shape = Shape::Split(&[Shape::Split(&[FOUR, BAND, BAND, BAND]), FOUR, FOUR, FOUR]);
const IMAGE: Shape = Shape::Split(&[Shape::Split(&[LOWEST, SIXTEEN, SIXTEEN, BAND]), FOUR, FOUR, Shape::Uncoded]);

/// The subbands of one image size, and its joins in the order the inverse transform needs them.
#[derive(Debug)]
pub(super) struct Layout {
    bands: Vec<Rect>,
    joins: Vec<Join>,
    /// The coded subbands in stream order, with their bin and zero-bin widths.
    coded: Vec<(Rect, f32, f32)>,
    centre: f32,
}

impl Layout {
    pub(super) fn new(width: usize, height: usize, quantisation: &Quantisation) -> Layout {
        let mut layout = Layout {
            bands: Vec::with_capacity(64),
            joins: Vec::with_capacity(20),
            coded: Vec::new(),
            centre: quantisation.c,
        };
        layout.walk(&IMAGE, Rect { x: 0, y: 0, w: width, h: height }, false, false);
        // Subbands 60-63 exist in the tables but are never coded.
        layout.coded = (0..60)
            .filter(|&band| quantisation.q[band] != 0.0)
            .map(|band| (layout.bands[band], quantisation.q[band], quantisation.z[band]))
            .filter(|(rect, _, _)| rect.w * rect.h > 0)
            .collect();
        layout
    }

    fn walk(&mut self, shape: &Shape, rect: Rect, invert_x: bool, invert_y: bool) {
        match shape {
            Shape::Band => self.bands.push(rect),
            Shape::Uncoded => self.bands.extend([rect; 4]),
            Shape::Split(children) => {
                let first = |n: usize, inverted: bool| if inverted { n / 2 } else { n.div_ceil(2) };
                let (w0, h0) = (first(rect.w, invert_x), first(rect.h, invert_y));
                let quadrants = [
                    Rect { x: rect.x, y: rect.y, w: w0, h: h0 },
                    Rect { x: rect.x + w0, y: rect.y, w: rect.w - w0, h: h0 },
                    Rect { x: rect.x, y: rect.y + h0, w: w0, h: rect.h - h0 },
                    Rect { x: rect.x + w0, y: rect.y + h0, w: rect.w - w0, h: rect.h - h0 },
                ];
                for (k, (child, quadrant)) in children.iter().zip(quadrants).enumerate() {
                    self.walk(child, quadrant, k % 2 == 1, k >= 2);
                }
                self.joins.push(Join { rect, invert_x, invert_y });
            }
        }
    }

    /// The joins, every split after the splits inside it.
    pub(super) fn joins(&self) -> &[Join] {
        &self.joins
    }

    /// How many coefficients the coded subbands hold.
    pub(super) fn coded(&self) -> usize {
        self.coded.iter().map(|(rect, _, _)| rect.w * rect.h).sum()
    }

    #[cfg(test)]
    pub(super) fn bands(&self) -> &[Rect] {
        &self.bands
    }
}

/// Writes decoded coefficients, dequantised, into the image plane: subband after subband (in
/// number order, skipping those not coded), each row by row.
pub(super) struct Placer<'a> {
    layout: &'a Layout,
    plane: &'a mut [f32],
    width: usize,
    band: usize,
    offset: usize,
    placed: usize,
}

/// The coded data holds more coefficients than the coded subbands.
#[derive(Debug)]
pub(super) struct Overflow;

impl<'a> Placer<'a> {
    /// A placer that continues after `placed` coefficients (blocks continue where the last ended).
    pub(super) fn resume(layout: &'a Layout, plane: &'a mut [f32], width: usize, placed: usize) -> Self {
        let mut placer = Placer { layout, plane, width, band: 0, offset: 0, placed: 0 };
        // Cannot overflow: `placed` was counted by a placer of the same layout.
        let _ = placer.zeros(placed);
        placer
    }

    pub(super) fn placed(&self) -> usize {
        self.placed
    }

    /// Skips `n` zero coefficients (the plane starts zeroed).
    pub(super) fn zeros(&mut self, mut n: usize) -> Result<(), Overflow> {
        while n > 0 {
            let Some((rect, _, _)) = self.layout.coded.get(self.band) else { return Err(Overflow) };
            let step = n.min(rect.w * rect.h - self.offset);
            self.offset += step;
            self.placed += step;
            n -= step;
            if self.offset == rect.w * rect.h {
                self.band += 1;
                self.offset = 0;
            }
        }
        Ok(())
    }

    /// Places one quantised coefficient, dequantised: `q (v - C) + z / 2` above 0, `q (v + C) -
    /// z / 2` below, in the reference decoder's precision (the product in `f32`, the sum in `f64`).
    pub(super) fn value(&mut self, v: i32) -> Result<(), Overflow> {
        if v != 0 {
            let Some(&(rect, q, z)) = self.layout.coded.get(self.band) else { return Err(Overflow) };
            let c = self.layout.centre;
            let half_zero = f64::from(z) / 2.0;
            let value = if v > 0 {
                (f64::from(q * (v as f32 - c)) + half_zero) as f32
            } else {
                (f64::from(q * (v as f32 + c)) - half_zero) as f32
            };
            let (row, column) = (self.offset / rect.w, self.offset % rect.w);
            if let Some(cell) = self.plane.get_mut((rect.y + row) * self.width + rect.x + column) {
                *cell = value;
            }
        }
        self.zeros(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quantisation() -> Quantisation {
        Quantisation { c: 0.44, q: [1.0; 64], z: [1.2; 64] }
    }

    #[test]
    fn the_subbands_tile_the_image_once_at_every_size() {
        for (w, h) in [(1, 1), (2, 3), (7, 5), (70, 45), (301, 263), (388, 374), (545, 622), (800, 750), (1024, 1024)] {
            let layout = Layout::new(w, h, &quantisation());
            assert_eq!(layout.bands().len(), 64);
            assert_eq!(layout.joins().len(), 20, "the reference's 20 joins");
            let mut covered = vec![0u8; w * h];
            // 60-63 are the four copies of the uncoded quadrant: count it once.
            for rect in &layout.bands()[..61] {
                for y in rect.y..rect.y + rect.h {
                    for x in rect.x..rect.x + rect.w {
                        covered[y * w + x] += 1;
                    }
                }
            }
            assert!(covered.iter().all(|&c| c == 1), "{w}x{h}");
            // The last join is the whole image.
            assert_eq!(layout.joins()[19].rect, Rect { x: 0, y: 0, w, h });
        }
    }

    #[test]
    fn odd_lengths_give_the_larger_half_first_unless_inverted() {
        let layout = Layout::new(301, 263, &quantisation());
        let bands = layout.bands();
        // Subband 51 is the second-x, second-y quadrant of the first split's first quadrant.
        assert_eq!(bands[51], Rect { x: 76, y: 66, w: 75, h: 66 });
        // 52-55: the image's quadrant B (150 wide, inverted in x) split evenly.
        assert_eq!((bands[52], bands[53].w), (Rect { x: 151, y: 0, w: 75, h: 66 }, 75));
        // 19-34: the first split's quadrant B, 75 wide and inverted in x: 37 (19-22) then 38
        // (23-26); the uninverted 37 splits 19 + 18, the inverted 38 evenly.
        assert_eq!((bands[19].x, bands[19].w, bands[20].x, bands[20].w), (76, 19, 95, 18));
        assert_eq!((bands[23].x, bands[23].w, bands[24].w), (113, 19, 19));
        // 35-50: quadrant C, 66 tall and inverted in y: 33 and 33, then 17 + 16 and 16 + 17.
        assert_eq!((bands[35].y, bands[35].h, bands[37].h), (66, 17, 16));
        assert_eq!((bands[43].y, bands[43].h, bands[45].h), (99, 16, 17));
    }

    #[test]
    fn subbands_with_no_bin_width_are_not_coded() {
        let mut q = quantisation();
        q.q[0] = 0.0;
        q.q[59] = 0.0;
        let full = Layout::new(388, 374, &quantisation()).coded();
        let layout = Layout::new(388, 374, &q);
        let bands = layout.bands();
        assert_eq!(layout.coded(), full - bands[0].w * bands[0].h - bands[59].w * bands[59].h);
        assert_eq!(full, 388 * 374 - (388 - 194) * (374 - 187), "all but the uncoded quadrant");
    }

    #[test]
    fn the_placer_refuses_one_coefficient_too_many() {
        let layout = Layout::new(16, 16, &quantisation());
        let mut plane = vec![0.0; 256];
        let mut placer = Placer::resume(&layout, &mut plane, 16, 0);
        assert!(placer.zeros(layout.coded() - 1).is_ok());
        assert!(placer.value(3).is_ok());
        assert!(placer.value(0).is_err());
        assert!(placer.zeros(1).is_err());
    }
}
