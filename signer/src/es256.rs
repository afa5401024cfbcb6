//! ES256 (ECDSA over P-256 with SHA-256) verification against a key that is used many times.
//!
//! # Why this exists
//!
//! An agency API validates a Drukyul ID access token on every call (the relying-party SDK), and
//! the identity provider checks its own tokens at userinfo and introspection; every token is
//! signed with one of the one or two keys in the provider's JWKS. A general verifier such as
//! `ring`'s computes `u1·G + u2·Q` with a precomputed table for the generator `G` but must
//! double its way through the 256 bits of `u2` for the public key `Q`, because it cannot know
//! it will see `Q` again: that is about three quarters of its 70-80 µs on this project's
//! machines. Here a key is turned once (about 2 ms) into a table of its multiples
//! (`d·2^(8i)·Q` for every signed 8-bit digit `d` and window `i`, 270 KB, like the
//! generator's), so a verification is only 66 point additions and no doublings.
//!
//! No crate offers per-key precomputation, so this is written by hand, and kept small: field and
//! scalar arithmetic in Montgomery form, Jacobian points, the comb tables and the ECDSA
//! verification equation of FIPS 186-5 (6.4.2). Everything it handles is public (the key, the
//! message, the signature), so variable-time code leaks nothing. The tests compare it with
//! `ring` on many random keys, messages and tampered signatures, and run all of Project
//! Wycheproof's ES256 vectors.

use std::sync::OnceLock;

type Limbs = [u64; 4];

/// The field prime p = 2^256 - 2^224 + 2^192 + 2^96 - 1 (limbs least significant first).
const P: Limbs = [0xFFFF_FFFF_FFFF_FFFF, 0x0000_0000_FFFF_FFFF, 0x0000_0000_0000_0000, 0xFFFF_FFFF_0000_0001];
/// The group order n.
const N: Limbs = [0xF3B9_CAC2_FC63_2551, 0xBCE6_FAAD_A717_9E84, 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_0000_0000];
/// The curve coefficient b (a = -3).
const B: Limbs = [0x3BCE_3C3E_27D2_604B, 0x651D_06B0_CC53_B0F6, 0xB3EB_BD55_7698_86BC, 0x5AC6_35D8_AA3A_93E7];
/// The generator.
const GX: Limbs = [0xF4A1_3945_D898_C296, 0x7703_7D81_2DEB_33A0, 0xF8BC_E6E5_63A4_40F2, 0x6B17_D1F2_E12C_4247];
const GY: Limbs = [0xCBB6_4068_37BF_51F5, 0x2BCE_3357_6B31_5ECE, 0x8EE7_EB4A_7C0F_9E16, 0x4FE3_42E2_FE1A_7F9B];

/// Bits per window of a comb table: 33 windows of 128 points (270 KB per key).
const W: usize = 8;
const WINDOWS: usize = 256 / W + 1;
const ROW: usize = 1 << (W - 1);

// ---------------------------------------------------------------------------------------------
// Multi-precision helpers.

const fn is_zero(a: &Limbs) -> bool {
    a[0] | a[1] | a[2] | a[3] == 0
}

/// a >= b.
const fn geq(a: &Limbs, b: &Limbs) -> bool {
    let mut i = 4;
    while i > 0 {
        i -= 1;
        if a[i] != b[i] {
            return a[i] > b[i];
        }
    }
    true
}

/// a + b, with the carry out.
const fn add_raw(a: &Limbs, b: &Limbs) -> (Limbs, bool) {
    let mut r = [0u64; 4];
    let mut carry = 0u64;
    let mut i = 0;
    while i < 4 {
        let s = a[i] as u128 + b[i] as u128 + carry as u128;
        r[i] = s as u64;
        carry = (s >> 64) as u64;
        i += 1;
    }
    (r, carry != 0)
}

/// a - b, with the borrow out.
const fn sub_raw(a: &Limbs, b: &Limbs) -> (Limbs, bool) {
    let mut r = [0u64; 4];
    let mut borrow = 0u64;
    let mut i = 0;
    while i < 4 {
        let (d1, b1) = a[i].overflowing_sub(b[i]);
        let (d2, b2) = d1.overflowing_sub(borrow);
        r[i] = d2;
        borrow = (b1 | b2) as u64;
        i += 1;
    }
    (r, borrow != 0)
}

/// (a + b) mod m for a, b < m.
const fn add_mod(a: &Limbs, b: &Limbs, m: &Limbs) -> Limbs {
    let (s, carry) = add_raw(a, b);
    if carry || geq(&s, m) { sub_raw(&s, m).0 } else { s }
}

/// (a - b) mod m for a, b < m.
const fn sub_mod(a: &Limbs, b: &Limbs, m: &Limbs) -> Limbs {
    let (d, borrow) = sub_raw(a, b);
    if borrow { add_raw(&d, m).0 } else { d }
}

/// -m^-1 mod 2^64 for odd m, by Newton's iteration.
const fn neg_inv64(m0: u64) -> u64 {
    let mut inv = 1u64;
    let mut i = 0;
    while i < 6 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(m0.wrapping_mul(inv)));
        i += 1;
    }
    inv.wrapping_neg()
}

/// 2^(256·k) mod m for k = 1 or 2 (R or R² for Montgomery form), by doubling.
const fn pow2_mod(bits: usize, m: &Limbs) -> Limbs {
    let mut r = [1u64, 0, 0, 0];
    let mut i = 0;
    while i < bits {
        r = add_mod(&r, &r, m);
        i += 1;
    }
    r
}

/// Montgomery multiplication: a·b·2^-256 mod m (CIOS), for a, b < m.
#[inline(always)]
fn mont_mul(a: &Limbs, b: &Limbs, m: &Limbs, m0inv: u64) -> Limbs {
    let mut t = [0u64; 6];
    for &bi in b {
        let mut c = 0u64;
        for j in 0..4 {
            let x = t[j] as u128 + a[j] as u128 * bi as u128 + c as u128;
            t[j] = x as u64;
            c = (x >> 64) as u64;
        }
        let x = t[4] as u128 + c as u128;
        t[4] = x as u64;
        t[5] = (x >> 64) as u64;
        let k = t[0].wrapping_mul(m0inv);
        let x = t[0] as u128 + k as u128 * m[0] as u128;
        let mut c = (x >> 64) as u64;
        for j in 1..4 {
            let x = t[j] as u128 + k as u128 * m[j] as u128 + c as u128;
            t[j - 1] = x as u64;
            c = (x >> 64) as u64;
        }
        let x = t[4] as u128 + c as u128;
        t[3] = x as u64;
        t[4] = t[5] + (x >> 64) as u64;
    }
    let r = [t[0], t[1], t[2], t[3]];
    if t[4] != 0 || geq(&r, m) { sub_raw(&r, m).0 } else { r }
}

fn from_be(bytes: &[u8]) -> Option<Limbs> {
    let bytes: &[u8; 32] = bytes.try_into().ok()?;
    let mut r = [0u64; 4];
    for (i, limb) in r.iter_mut().enumerate() {
        let start = 32 - 8 * (i + 1);
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[start..start + 8]);
        *limb = u64::from_be_bytes(b);
    }
    Some(r)
}

// ---------------------------------------------------------------------------------------------
// The field, in Montgomery form.

const P_INV: u64 = neg_inv64(P[0]);
const P_R2: Limbs = pow2_mod(512, &P);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Fe(Limbs);

impl Fe {
    const ZERO: Fe = Fe([0; 4]);
    const ONE: Fe = Fe(pow2_mod(256, &P));

    /// From an integer below p.
    fn new(a: &Limbs) -> Option<Fe> {
        if geq(a, &P) { None } else { Some(Fe(mont_mul(a, &P_R2, &P, P_INV))) }
    }

    fn from_be(bytes: &[u8]) -> Option<Fe> {
        Fe::new(&from_be(bytes)?)
    }

    #[inline(always)]
    fn mul(&self, b: &Fe) -> Fe {
        Fe(mont_mul(&self.0, &b.0, &P, P_INV))
    }

    #[inline(always)]
    fn sq(&self) -> Fe {
        self.mul(self)
    }

    #[inline(always)]
    fn add(&self, b: &Fe) -> Fe {
        Fe(add_mod(&self.0, &b.0, &P))
    }

    #[inline(always)]
    fn sub(&self, b: &Fe) -> Fe {
        Fe(sub_mod(&self.0, &b.0, &P))
    }

    #[inline(always)]
    fn double(&self) -> Fe {
        self.add(self)
    }

    fn neg(&self) -> Fe {
        Fe::ZERO.sub(self)
    }

    fn is_zero(&self) -> bool {
        is_zero(&self.0)
    }

    /// a^(p-2): only while tables are built, never per verification.
    fn invert(&self) -> Fe {
        let e = sub_raw(&P, &[2, 0, 0, 0]).0;
        let mut r = Fe::ONE;
        for i in (0..256).rev() {
            r = r.sq();
            if (e[i / 64] >> (i % 64)) & 1 == 1 {
                r = r.mul(self);
            }
        }
        r
    }
}

// ---------------------------------------------------------------------------------------------
// Scalars mod n.

const N_INV: u64 = neg_inv64(N[0]);
const N_R2: Limbs = pow2_mod(512, &N);

/// a·b mod n for a, b < n, in ordinary (not Montgomery) form.
fn mul_mod_n(a: &Limbs, b: &Limbs) -> Limbs {
    mont_mul(&mont_mul(a, b, &N, N_INV), &N_R2, &N, N_INV)
}

/// x / 2 mod n for x < n.
fn half_mod_n(x: &Limbs) -> Limbs {
    let (x, carry) = if x[0] & 1 == 0 { (*x, false) } else { add_raw(x, &N) };
    let mut r = [0u64; 4];
    for i in 0..4 {
        let hi = if i == 3 { carry as u64 } else { x[i + 1] };
        r[i] = (x[i] >> 1) | (hi << 63);
    }
    r
}

fn shr1(x: &mut Limbs) {
    for i in 0..4 {
        let hi = if i == 3 { 0 } else { x[i + 1] };
        x[i] = (x[i] >> 1) | (hi << 63);
    }
}

/// a^-1 mod n for 0 < a < n, by the binary extended Euclidean algorithm (variable time, fine for
/// the public `s` of a signature).
fn invert_mod_n(a: &Limbs) -> Limbs {
    let (mut u, mut v) = (*a, N);
    let (mut x1, mut x2) = ([1u64, 0, 0, 0], [0u64; 4]);
    let one = [1u64, 0, 0, 0];
    while u != one && v != one {
        while u[0] & 1 == 0 {
            shr1(&mut u);
            x1 = half_mod_n(&x1);
        }
        while v[0] & 1 == 0 {
            shr1(&mut v);
            x2 = half_mod_n(&x2);
        }
        if geq(&u, &v) {
            u = sub_raw(&u, &v).0;
            x1 = sub_mod(&x1, &x2, &N);
        } else {
            v = sub_raw(&v, &u).0;
            x2 = sub_mod(&x2, &x1, &N);
        }
    }
    if u == one { x1 } else { x2 }
}

// ---------------------------------------------------------------------------------------------
// Points.

/// A point other than infinity, in affine coordinates.
#[derive(Clone, Copy, Debug)]
struct Affine {
    x: Fe,
    y: Fe,
}

/// A point in Jacobian coordinates (x = X/Z², y = Y/Z³); Z = 0 is the point at infinity.
#[derive(Clone, Copy, Debug)]
struct Jacobian {
    x: Fe,
    y: Fe,
    z: Fe,
}

impl Affine {
    /// The point (x, y) if it lies on the curve: y² = x³ - 3x + b.
    fn new(x: Fe, y: Fe) -> Option<Affine> {
        let b = Fe::new(&B)?;
        let three_x = x.double().add(&x);
        let rhs = x.sq().mul(&x).sub(&three_x).add(&b);
        (y.sq() == rhs).then_some(Affine { x, y })
    }

    fn neg(&self) -> Affine {
        Affine { x: self.x, y: self.y.neg() }
    }
}

impl Jacobian {
    const INFINITY: Jacobian = Jacobian { x: Fe::ONE, y: Fe::ONE, z: Fe::ZERO };

    fn from_affine(p: &Affine) -> Jacobian {
        Jacobian { x: p.x, y: p.y, z: Fe::ONE }
    }

    fn is_infinity(&self) -> bool {
        self.z.is_zero()
    }

    /// 2P ("dbl-2001-b", a = -3).
    fn double(&self) -> Jacobian {
        if self.is_infinity() {
            return *self;
        }
        let delta = self.z.sq();
        let gamma = self.y.sq();
        let beta = self.x.mul(&gamma);
        let t = self.x.sub(&delta).mul(&self.x.add(&delta));
        let alpha = t.double().add(&t);
        let beta4 = beta.double().double();
        let x3 = alpha.sq().sub(&beta4.double());
        let z3 = self.y.add(&self.z).sq().sub(&gamma).sub(&delta);
        let gamma2_8 = gamma.sq().double().double().double();
        let y3 = alpha.mul(&beta4.sub(&x3)).sub(&gamma2_8);
        Jacobian { x: x3, y: y3, z: z3 }
    }

    /// P + Q for an affine Q ("madd-2007-bl"), with the exceptional cases handled.
    #[inline(always)]
    fn add_affine(&self, q: &Affine) -> Jacobian {
        if self.is_infinity() {
            return Jacobian::from_affine(q);
        }
        let z1z1 = self.z.sq();
        let u2 = q.x.mul(&z1z1);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&self.x);
        let r = s2.sub(&self.y).double();
        if h.is_zero() {
            return if r.is_zero() { self.double() } else { Jacobian::INFINITY };
        }
        let hh = h.sq();
        let i = hh.double().double();
        let j = h.mul(&i);
        let v = self.x.mul(&i);
        let x3 = r.sq().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&self.y.mul(&j).double());
        let z3 = self.z.add(&h).sq().sub(&z1z1).sub(&hh);
        Jacobian { x: x3, y: y3, z: z3 }
    }
}

/// Converts points to affine with one field inversion (Montgomery's trick). None is infinity.
fn batch_to_affine(points: &[Jacobian]) -> Vec<Option<Affine>> {
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = Fe::ONE;
    for p in points {
        prefix.push(acc);
        if !p.is_infinity() {
            acc = acc.mul(&p.z);
        }
    }
    let mut inv = acc.invert();
    let mut out = vec![None; points.len()];
    for (k, p) in points.iter().enumerate().rev() {
        if p.is_infinity() {
            continue;
        }
        let zinv = inv.mul(&prefix[k]);
        inv = inv.mul(&p.z);
        let zinv2 = zinv.sq();
        out[k] = Some(Affine { x: p.x.mul(&zinv2), y: p.y.mul(&zinv2).mul(&zinv) });
    }
    out
}

/// `d·2^(W·i)·P` for d = 1..=2^(W-1) and every window i: a fixed-base comb table.
struct Table(Vec<Affine>);

impl Table {
    fn new(p: &Affine) -> Table {
        let mut all = Vec::with_capacity(WINDOWS * ROW);
        let mut base = *p;
        for _ in 0..WINDOWS {
            let mut row = Vec::with_capacity(ROW);
            let mut acc = Jacobian::from_affine(&base);
            row.push(acc);
            for _ in 1..ROW {
                acc = acc.add_affine(&base);
                row.push(acc);
            }
            // The next window's base is 2^W·base = 2·(2^(W-1)·base), the row's last entry doubled.
            let next = acc.double();
            row.push(next);
            let mut affine = batch_to_affine(&row);
            // Every entry is a multiple of a point of prime order n by a number below n, so none
            // is infinity; were one (it cannot be), the table would be unusable, and verification
            // fails closed below.
            let next = affine.pop().flatten();
            all.extend(affine.into_iter().map(|a| a.unwrap_or(Affine { x: Fe::ZERO, y: Fe::ZERO })));
            match next {
                Some(n) => base = n,
                None => break,
            }
        }
        Table(all)
    }

    /// acc + k·P, where `digits` are k's signed base-2^W digits.
    #[inline(always)]
    fn accumulate(&self, mut acc: Jacobian, digits: &[i16; WINDOWS]) -> Jacobian {
        for (i, &d) in digits.iter().enumerate() {
            if d == 0 {
                continue;
            }
            let entry = &self.0[i * ROW + (d.unsigned_abs() as usize - 1)];
            acc = if d > 0 { acc.add_affine(entry) } else { acc.add_affine(&entry.neg()) };
        }
        acc
    }

    fn is_complete(&self) -> bool {
        self.0.len() == WINDOWS * ROW
    }
}

/// k in signed digits d_i in [-(2^(W-1) - 1), 2^(W-1)] with k = Σ d_i·2^(W·i).
fn signed_digits(k: &Limbs) -> [i16; WINDOWS] {
    let mut digits = [0i16; WINDOWS];
    let mut carry = 0i16;
    for (i, digit) in digits.iter_mut().enumerate().take(256 / W) {
        let bit = i * W;
        let limb = bit / 64;
        let shift = bit % 64;
        let mut v = (k[limb] >> shift) & ((1 << W) - 1);
        if shift + W > 64 && limb + 1 < 4 {
            v |= (k[limb + 1] << (64 - shift)) & ((1 << W) - 1);
        }
        let v = v as i16 + carry;
        if v > (1 << (W - 1)) {
            *digit = v - (1 << W);
            carry = 1;
        } else {
            *digit = v;
            carry = 0;
        }
    }
    digits[WINDOWS - 1] = carry;
    digits
}

fn generator_table() -> &'static Table {
    static G: OnceLock<Table> = OnceLock::new();
    G.get_or_init(|| {
        let g = Fe::new(&GX).zip(Fe::new(&GY)).and_then(|(x, y)| Affine::new(x, y));
        // The constants are the standard's; the tests check G lies on the curve.
        Table::new(&g.unwrap_or(Affine { x: Fe::ZERO, y: Fe::ZERO }))
    })
}

/// A P-256 public key prepared for many ES256 verifications.
pub struct PreparedKey {
    table: Table,
}

impl PreparedKey {
    /// From the affine coordinates (32-byte big-endian each, as in a JWK's `x` and `y`). None if
    /// they are not a point of the curve.
    pub fn new(x: &[u8], y: &[u8]) -> Option<PreparedKey> {
        let q = Affine::new(Fe::from_be(x)?, Fe::from_be(y)?)?;
        let table = Table::new(&q);
        table.is_complete().then_some(PreparedKey { table })
    }

    /// Verifies an ES256 signature (64 bytes, `r || s`, as in a JWS) over `msg`.
    pub fn verify(&self, msg: &[u8], signature: &[u8]) -> bool {
        let digest = ring::digest::digest(&ring::digest::SHA256, msg);
        digest.as_ref().try_into().is_ok_and(|d| self.verify_digest(d, signature))
    }

    /// Verifies a 64-byte `r || s` signature over a SHA-256 `digest` (FIPS 186-5, 6.4.2).
    pub fn verify_digest(&self, digest: &[u8; 32], signature: &[u8]) -> bool {
        let (Some(r), Some(s)) = (signature.get(..32).and_then(from_be), signature.get(32..).and_then(from_be)) else {
            return false;
        };
        if signature.len() != 64 || is_zero(&r) || is_zero(&s) || geq(&r, &N) || geq(&s, &N) {
            return false;
        }
        let g = generator_table();
        if !g.is_complete() {
            return false;
        }
        // e: the digest as an integer (P-256's order has 256 bits, so no truncation), below n.
        let Some(mut e) = from_be(digest) else { return false };
        if geq(&e, &N) {
            e = sub_raw(&e, &N).0;
        }
        let w = invert_mod_n(&s);
        let u1 = mul_mod_n(&e, &w);
        let u2 = mul_mod_n(&r, &w);
        let acc = g.accumulate(Jacobian::INFINITY, &signed_digits(&u1));
        let acc = self.table.accumulate(acc, &signed_digits(&u2));
        if acc.is_infinity() {
            return false;
        }
        // x(R) = X/Z² must equal r modulo n: as x < p < 2n, x is r or r + n.
        let z2 = acc.z.sq();
        let matches = |candidate: &Limbs| Fe::new(candidate).is_some_and(|c| c.mul(&z2) == acc.x);
        if matches(&r) {
            return true;
        }
        let (r_plus_n, carry) = add_raw(&r, &N);
        !carry && matches(&r_plus_n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants() {
        assert_eq!(P_INV, 1);
        let g = Affine::new(Fe::new(&GX).unwrap(), Fe::new(&GY).unwrap());
        assert!(g.is_some());
        // R·R^-1 = 1.
        assert_eq!(mont_mul(&Fe::ONE.0, &[1, 0, 0, 0], &P, P_INV), [1, 0, 0, 0]);
        // n·G = infinity: G's table times the digits of n-1, plus G, is infinity.
        let nm1 = sub_raw(&N, &[1, 0, 0, 0]).0;
        let acc = generator_table().accumulate(Jacobian::INFINITY, &signed_digits(&nm1));
        let g = g.unwrap();
        assert!(acc.add_affine(&g).is_infinity());
    }

    #[test]
    fn scalar_inverse() {
        for a in [[1u64, 0, 0, 0], [2, 0, 0, 0], [0xdead_beef, 7, 9, 0x1234], sub_raw(&N, &[1, 0, 0, 0]).0] {
            let inv = invert_mod_n(&a);
            assert_eq!(mul_mod_n(&a, &inv), [1, 0, 0, 0]);
        }
    }

    #[test]
    fn digits_recompose() {
        let k = [0xFFFF_FFFF_FFFF_FFFF, 0x8080_8080_8080_8080, 0x7F7F_7F7F_7F7F_7F7F, 0xFFFF_FFFF_0000_0000];
        let d = signed_digits(&k);
        // Σ d_i 2^(8i) as 264-bit, compared limb by limb.
        let mut acc = [0i128; 5];
        for (i, &di) in d.iter().enumerate() {
            let bit = i * W;
            acc[bit / 64] += (di as i128) << (bit % 64);
        }
        let mut out = [0u64; 5];
        let mut carry = 0i128;
        for i in 0..5 {
            let v = acc[i] + carry;
            out[i] = v as u64;
            carry = v >> 64;
        }
        assert_eq!(&out[..4], &k);
        assert_eq!(out[4], 0);
    }

    fn sha256(msg: &[u8]) -> [u8; 32] {
        ring::digest::digest(&ring::digest::SHA256, msg).as_ref().try_into().unwrap()
    }

    /// Every case of Project Wycheproof's ES256 (P1363) verification vectors.
    #[test]
    fn wycheproof_vectors() {
        let raw = include_str!("../tests/fixtures/wycheproof/ecdsa_secp256r1_sha256_p1363_test.json");
        let doc: serde_json::Value = serde_json::from_str(raw).unwrap();
        let (mut valid, mut invalid) = (0, 0);
        for group in doc["testGroups"].as_array().unwrap() {
            let pk = hex::decode(group["publicKey"]["uncompressed"].as_str().unwrap()).unwrap();
            assert_eq!((pk.len(), pk[0]), (65, 4));
            let key = PreparedKey::new(&pk[1..33], &pk[33..]).expect("every Wycheproof key is on the curve");
            for case in group["tests"].as_array().unwrap() {
                let msg = hex::decode(case["msg"].as_str().unwrap()).unwrap();
                let sig = hex::decode(case["sig"].as_str().unwrap()).unwrap();
                let got = key.verify_digest(&sha256(&msg), &sig);
                match case["result"].as_str().unwrap() {
                    "valid" => {
                        assert!(got, "tcId {} ({}) must verify", case["tcId"], case["comment"]);
                        valid += 1;
                    }
                    "invalid" => {
                        assert!(!got, "tcId {} ({}) must not verify", case["tcId"], case["comment"]);
                        invalid += 1;
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(valid + invalid, 262);
        assert!(valid > 50 && invalid > 50);
    }

    /// Agrees with `ring` on random keys and messages: genuine signatures, signatures with a bit
    /// flipped, messages changed, the other key's signature, and `s` replaced by `n - s`.
    #[test]
    fn agrees_with_ring() {
        use ring::{
            rand::{SecureRandom, SystemRandom},
            signature::{
                ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
            },
        };
        let rng = SystemRandom::new();
        let pair = || {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
        };
        let other = pair();
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..4 {
            let signer = pair();
            let public = signer.public_key().as_ref().to_vec();
            let prepared = PreparedKey::new(&public[1..33], &public[33..]).unwrap();
            let ring_key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public);
            for i in 0..150usize {
                let mut msg = vec![0u8; 1 + i];
                rng.fill(&mut msg).unwrap();
                let by = if i % 5 == 4 { &other } else { &signer };
                let mut sig = by.sign(&rng, &msg).unwrap().as_ref().to_vec();
                match i % 5 {
                    1 => sig[i % 64] ^= 1 << (i % 8),
                    2 => msg[0] ^= 0x80,
                    3 => {
                        let s = from_be(&sig[32..]).unwrap();
                        let neg = sub_raw(&N, &s).0;
                        for (k, limb) in neg.iter().rev().enumerate() {
                            sig[32 + 8 * k..40 + 8 * k].copy_from_slice(&limb.to_be_bytes());
                        }
                    }
                    _ => {}
                }
                let want = ring_key.verify(&msg, &sig).is_ok();
                assert_eq!(prepared.verify_digest(&sha256(&msg), &sig), want, "case {i}");
                if want { accepted += 1 } else { refused += 1 }
            }
        }
        assert!(accepted >= 200 && refused >= 200, "{accepted} accepted, {refused} refused");
    }

    #[test]
    fn refuses_points_off_the_curve_and_bad_encodings() {
        let gx = hex::decode("6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296").unwrap();
        let gy = hex::decode("4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5").unwrap();
        assert!(PreparedKey::new(&gx, &gy).is_some());
        let mut off = gy.clone();
        off[31] ^= 1;
        assert!(PreparedKey::new(&gx, &off).is_none());
        assert!(PreparedKey::new(&gx[1..], &gy).is_none());
        assert!(PreparedKey::new(&[0xFF; 32], &gy).is_none(), "x above p");
        assert!(PreparedKey::new(&[0; 32], &[0; 32]).is_none(), "(0, 0) is not a point");
        let key = PreparedKey::new(&gx, &gy).unwrap();
        let digest = sha256(b"m");
        for sig in [vec![], vec![1; 63], vec![1; 65], vec![0; 64], [vec![0; 32], vec![1; 32]].concat(), vec![0xFF; 64]]
        {
            assert!(!key.verify_digest(&digest, &sig));
        }
    }
}
