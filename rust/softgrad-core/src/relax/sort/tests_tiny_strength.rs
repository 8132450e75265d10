//! A lane with a pooled block at a subnormal strength, where `1/ε` is infinite and the row kernel
//! (`work/row.rs`) divides by `ε` instead of multiplying by `1/ε`: the ranks against the closed
//! form `mean w + (σ x_i − mean_B σ x)/ε`, exactly (every term is a power of two), and against
//! `pav.rs`'s kernels bit for bit.

use super::tests_one::spec;
use super::work::row::OLD;
use super::*;

fn ranks(x: &[f64], sp: Spec, old: bool) -> Vec<f64> {
    OLD.with(|o| o.set(old));
    let mut out = vec![0.0; x.len()];
    let r = forward(
        x,
        Layout::new(1, x.len(), 1),
        sp,
        &mut out,
        None,
        None,
        Par::Seq,
    );
    OLD.with(|o| o.set(false));
    r.unwrap();
    out
}

#[test]
fn a_block_pooled_at_a_subnormal_strength_has_the_closed_form_ranks() {
    let tiny = f64::from_bits(1); // 2^-1074
    let e = f64::from_bits(1 << 44); // 2^-1030, subnormal: 1/ε overflows
    assert!(!(1.0 / e).is_finite());
    // 0 and 2^-1073 are 2^-43 apart in units of ε: pooled (their targets differ by 1); 1 and 2
    // are singletons. Their mean is 2^-1074, so the pair's offsets are ∓2^-1074/ε = ∓2^-44.
    let x = [0.0, 2.0 * tiny, 1.0, 2.0];
    let off = 2f64.powi(-44);
    // ascending: targets 1..n from the smallest; the pair's mean target is (1 + 2)/2
    let up = ranks(&x, spec(Op::Rank, e, false), false);
    assert_eq!(up, vec![1.5 - off, 1.5 + off, 3.0, 4.0]);
    // descending: σ = −1, the pair is last, mean target (3 + 4)/2, offsets turned over
    let down = ranks(&x, spec(Op::Rank, e, true), false);
    assert_eq!(down, vec![3.5 + off, 3.5 - off, 2.0, 1.0]);
    // top-3: the pair straddles k (targets 1 and 0), mean target 1/2; the others 1
    let top = ranks(&x, spec(Op::TopK(3), e, false), false);
    assert_eq!(top, vec![0.5 - off, 0.5 + off, 1.0, 1.0]);
    for (sp, got) in [
        (spec(Op::Rank, e, false), &up),
        (spec(Op::Rank, e, true), &down),
        (spec(Op::TopK(3), e, false), &top),
    ] {
        let old = ranks(&x, sp, true);
        let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(got), bits(&old), "{sp:?}");
    }
}
