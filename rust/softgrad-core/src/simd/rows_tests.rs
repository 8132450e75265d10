use super::*;
use crate::simd::available;

/// `exp_cut` and `exp_shifted_v` of every `W`-long chunk of `d`, as bits.
struct Both<'a>(&'a [f64]);

impl Kernel for Both<'_> {
    type Output = Vec<(u64, u64)>;
    #[inline(always)]
    fn run<S: Isa>(self) -> Self::Output {
        let mut out = Vec::new();
        for c in self.0.chunks_exact(W) {
            let d = S::F64::load(c);
            let (a, b) = (exp_cut(d).to_array(), exp_shifted_v(d).to_array());
            out.extend(a.iter().zip(&b).map(|(a, b)| (a.to_bits(), b.to_bits())));
        }
        out
    }
}

/// A row's bits must not depend on whether its block took the cut: the two agree everywhere.
#[test]
fn exp_cut_gives_the_bits_of_exp_shifted() {
    let mut d: Vec<f64> = (0..16_000).map(|i| -800.0 + i as f64 * 0.01).collect();
    d.extend([
        f64::NEG_INFINITY,
        f64::NAN,
        -746.0,
        -745.13,
        -745.14,
        -708.4,
        0.0,
        720.0,
    ]);
    d.resize(d.len().next_multiple_of(W), -1.0);
    for level in available() {
        for (k, (a, b)) in vectorize(level, Both(&d)).into_iter().enumerate() {
            let same = a == b || (f64::from_bits(a).is_nan() && f64::from_bits(b).is_nan());
            assert!(same, "{level:?} d = {}: {a:x} vs {b:x}", d[k]);
        }
    }
}
