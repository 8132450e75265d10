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

/// The node `x + d` in `T`, moved toward `x` until inside `[lo, hi]`.
pub(super) fn place<T: Dtype>(x: T, d: f64, lo: f64, hi: f64) -> T {
    let mut v = T::from_f64(x.to_f64() + d);
    while v.to_f64() > hi || v.to_f64() < lo {
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
