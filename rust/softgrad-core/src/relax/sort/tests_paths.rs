//! Which lanes the row kernels take (`work/row.rs`'s and `work/row_vjp.rs`'s `takes`): the l2
//! ranks and top-k of fewer than `PAR_SORT_MIN` values, unless a test asks for the old kernels.
//! The row kernels give the bits of the general ones (`tests_row.rs`), so only this sees a lane
//! routed to the wrong one.

use super::grad::OLD_VJP;
use super::tests_one::spec;
use super::work::row::{takes, OLD};
use super::work::row_vjp::takes as takes_vjp;
use super::work::PAR_SORT_MIN;
use super::*;

#[test]
fn short_l2_ranks_and_top_k_take_the_row_kernels_and_nothing_else_does() {
    OLD.with(|o| o.set(false));
    OLD_VJP.with(|o| o.set(false));
    for op in [Op::Rank, Op::TopK(1)] {
        for n in [1, 2, PAR_SORT_MIN - 1] {
            assert!(takes(&spec(op, 0.5, false), n), "{op:?}, n {n}");
            assert!(takes(&spec(op, 1e-6, true), n), "{op:?}, n {n}");
            assert!(takes_vjp(n), "n {n}");
        }
        for n in [PAR_SORT_MIN, PAR_SORT_MIN + 1, 1 << 20] {
            assert!(!takes(&spec(op, 0.5, false), n), "{op:?}, n {n}");
            assert!(!takes_vjp(n), "n {n}");
        }
        let kl = Spec {
            reg: Reg::Kl,
            ..spec(op, 0.5, false)
        };
        assert!(!takes(&kl, 10), "{op:?} kl");
    }
    for n in [1, 10, PAR_SORT_MIN - 1] {
        assert!(!takes(&spec(Op::Sort, 0.5, false), n), "sort, n {n}");
    }
    // the tests' switch to the old kernels
    OLD.with(|o| o.set(true));
    OLD_VJP.with(|o| o.set(true));
    let (old, old_vjp) = (takes(&spec(Op::Rank, 0.5, false), 10), takes_vjp(10));
    OLD.with(|o| o.set(false));
    OLD_VJP.with(|o| o.set(false));
    assert!(!old && !old_vjp);
}
