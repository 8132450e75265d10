//! Where the nodes go: the stencil and step a coordinate can take inside its bounds, and the
//! rounding of a node to the dtype of `x` without leaving them.

use super::{Method, Side};
use crate::real::Real;

/// The dtypes `x` may have (`f32`, `f64`): a [`Real`] that can step one ulp, to keep a rounded node
/// inside the bounds.
pub trait Dtype: Real {
    /// The neighbour of `self` (`!= x`) one ulp toward `x`.
    fn toward(self, x: Self) -> Self;
}

macro_rules! dtype {
    ($t:ty) => {
        impl Dtype for $t {
            fn toward(self, x: $t) -> $t {
                if self == 0.0 {
                    let tiny = <$t>::from_bits(1);
                    return if x > 0.0 { tiny } else { -tiny };
                }
                let b = self.to_bits();
                // Toward x is toward zero iff self is on x's far side from zero.
                <$t>::from_bits(if (self > x) == (self > 0.0) {
                    b - 1
                } else {
                    b + 1
                })
            }
        }
    };
}
dtype!(f64);
dtype!(f32);

/// The node `x + d` in `T`, inside `[lo, hi]`: clamped to the box in `f64`, then moved toward `x`
/// by the ulp or two that rounding to `T` may have put it outside (never past `x`).
///
/// Clamping first matters: walking ulp by ulp from a node far outside (`x + d = 0` with `lo = 1e-300`
/// is 2^70 ulps away) would never end.
pub(super) fn place<T: Dtype>(x: T, d: f64, lo: f64, hi: f64) -> T {
    let mut v = T::from_f64((x.to_f64() + d).clamp(lo, hi));
    while (v.to_f64() > hi || v.to_f64() < lo) && v != x {
        v = v.toward(x);
    }
    v
}

/// The stencil for a coordinate at `x` in `[lo, hi]` and the step it can take: the method's own if
/// it fits, else the one-sided stencil on the side with room for it, else the side with the more
/// room with the step shrunk to fit.
pub(super) fn choose_side(
    method: Method,
    order: usize,
    x: f64,
    h: f64,
    lo: f64,
    hi: f64,
) -> (Side, f64) {
    let (up, down) = (hi - x, x - lo);
    let preferred = match method {
        Method::Backward => Side::Backward,
        Method::Forward => Side::Forward,
        _ => Side::Central,
    };
    let fits = |s: Side| {
        let r = s.reach(order) * h;
        match s {
            Side::Central => r <= up && r <= down,
            Side::Forward => r <= up,
            Side::Backward => r <= down,
        }
    };
    let other = if preferred == Side::Backward {
        Side::Forward
    } else {
        Side::Backward
    };
    let first_one_sided = if preferred == Side::Central {
        if up >= down {
            Side::Forward
        } else {
            Side::Backward
        }
    } else {
        preferred
    };
    for s in [preferred, first_one_sided, other] {
        if fits(s) {
            return (s, h);
        }
    }
    let side = if up >= down {
        Side::Forward
    } else {
        Side::Backward
    };
    (side, up.max(down) / order as f64)
}

#[cfg(test)]
mod tests {
    use super::place;

    #[test]
    fn a_node_far_outside_the_box_is_clamped_at_once() {
        // x at the upper bound, the lower bound tiny: the node x - 2 (x / 2) = 0 lies 2^70 ulps
        // below it (this hung before the clamp).
        let x = 4.336_682_511_709_803_6e-6_f64;
        assert_eq!(place(x, -x, 1e-300, x), 1e-300);
        let x32 = x as f32;
        let v = place(x32, -(x32 as f64), 1e-30, x32 as f64);
        assert!(v as f64 >= 1e-30 && v < x32, "{v}");
        // inside: untouched
        assert_eq!(place(1.0_f64, 0.5, 0.0, 2.0), 1.5);
        // past the upper bound: on it
        assert_eq!(place(1.0_f64, 5.0, 0.0, 2.0), 2.0);
    }
}
