//! Bundles of slices that a driver cuts, safely, into consecutive pieces of whole rows.
//!
//! A kernel hands a driver its inputs and outputs as one bundle, e.g.
//! `(Rows::of(x, n), Rows::of_mut(out, n), lse.map(|l| Rows::of_mut(l, 1)))`; the driver cuts the
//! bundle into the pieces its tasks own and each task gets plain slices back with [`Split::item`].
//! Everything is `split_at`/`split_at_mut`: no `unsafe`, and no index arithmetic in kernels.

/// Slices seen as rows, cut by whole rows.
pub trait Split: Send + Sized {
    /// What a task receives: the slices of its rows.
    type Item: Send;
    /// The first `k` rows and the rest.
    fn split_rows(self, k: usize) -> (Self, Self);
    /// The slices themselves.
    fn item(self) -> Self::Item;
}

/// A slice seen as rows of `width` elements (`&[T]` or `&mut [T]`).
#[derive(Debug)]
pub struct Rows<S> {
    s: S,
    width: usize,
}

impl<'a, T: Sync> Rows<&'a [T]> {
    /// `s` as rows of `width`.
    pub fn of(s: &'a [T], width: usize) -> Self {
        Rows { s, width }
    }
}

impl<'a, T: Send> Rows<&'a mut [T]> {
    /// `s` as rows of `width`, written by the task owning each row.
    pub fn of_mut(s: &'a mut [T], width: usize) -> Self {
        Rows { s, width }
    }
}

impl<'a, T: Sync> Split for Rows<&'a [T]> {
    type Item = &'a [T];
    fn split_rows(self, k: usize) -> (Self, Self) {
        let at = k.saturating_mul(self.width).min(self.s.len());
        let (a, b) = self.s.split_at(at);
        let w = self.width;
        (Rows { s: a, width: w }, Rows { s: b, width: w })
    }
    fn item(self) -> &'a [T] {
        self.s
    }
}

impl<'a, T: Send> Split for Rows<&'a mut [T]> {
    type Item = &'a mut [T];
    fn split_rows(self, k: usize) -> (Self, Self) {
        let at = k.saturating_mul(self.width).min(self.s.len());
        let (a, b) = self.s.split_at_mut(at);
        let w = self.width;
        (Rows { s: a, width: w }, Rows { s: b, width: w })
    }
    fn item(self) -> &'a mut [T] {
        self.s
    }
}

impl Split for () {
    type Item = ();
    fn split_rows(self, _: usize) -> (Self, Self) {
        ((), ())
    }
    fn item(self) {}
}

impl<A: Split> Split for Option<A> {
    type Item = Option<A::Item>;
    fn split_rows(self, k: usize) -> (Self, Self) {
        match self {
            Some(a) => {
                let (x, y) = a.split_rows(k);
                (Some(x), Some(y))
            }
            None => (None, None),
        }
    }
    fn item(self) -> Self::Item {
        self.map(Split::item)
    }
}

macro_rules! tuple_split {
    ($($name:ident $var:ident $rest:ident),+) => {
        impl<$($name: Split),+> Split for ($($name,)+) {
            type Item = ($($name::Item,)+);
            fn split_rows(self, k: usize) -> (Self, Self) {
                let ($($var,)+) = self;
                $(let ($var, $rest) = $var.split_rows(k);)+
                (($($var,)+), ($($rest,)+))
            }
            fn item(self) -> Self::Item {
                let ($($var,)+) = self;
                ($($var.item(),)+)
            }
        }
    };
}

tuple_split!(A a ra, B b rb);
tuple_split!(A a ra, B b rb, C c rc);
tuple_split!(A a ra, B b rb, C c rc, D d rd);
