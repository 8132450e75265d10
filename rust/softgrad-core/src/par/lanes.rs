//! The `(outer, n, inner)` [`Layout`] and the walk of a strided reduction in lane blocks: the one
//! place in the core (with `simd/`) that holds `unsafe`.
//!
//! A reduction over the middle axis with `inner > 1` reads, for each output lane `(o, j)`, the values
//! `x[o, i, j]` for `i = 0..n`, which sit `inner` apart. Tasks own blocks of up to [`LANE_BLOCK`]
//! adjacent lanes of one `o`, so every row `x[o, i, j0..j0 + w]` they read is contiguous; a block's
//! rows are walked in pieces of [`LaneBlock::pieces`] small enough to be read twice from cache. The
//! blocks of an output are disjoint column sets of the full-size array: written through [`Strided`].

use std::marker::PhantomData;
use std::ops::Range;

use crate::error::{Error, Result};
use crate::par::REDUCE_PIECE;

/// Lanes per block of a strided walk: rows of 512 f64 are 4 KiB, one page.
pub const LANE_BLOCK: usize = 512;

/// A contiguous array seen as `(outer, n, inner)`, reduced over `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Product of the dimensions before the reduced ones.
    pub outer: usize,
    /// Product of the reduced dimensions.
    pub n: usize,
    /// Product of the dimensions after the reduced ones.
    pub inner: usize,
}

impl Layout {
    /// Layout of an `(outer, n, inner)` array.
    pub fn new(outer: usize, n: usize, inner: usize) -> Self {
        Layout { outer, n, inner }
    }

    /// Number of elements, or an error if it overflows `usize`.
    pub fn len(&self, func: &'static str) -> Result<usize> {
        self.outer
            .checked_mul(self.n)
            .and_then(|v| v.checked_mul(self.inner))
            .ok_or_else(|| Error::param(func, "shape", "is too large"))
    }

    /// Number of reduced outputs, `outer * inner`.
    pub fn outputs(&self) -> usize {
        self.outer * self.inner
    }
}

/// One task of a strided walk: lanes `j0..j0 + width` of one outer index, over all `n` rows.
#[derive(Debug, Clone)]
pub struct LaneBlock {
    /// Lanes in this block.
    pub width: usize,
    /// Rows (the reduced length).
    pub n: usize,
    /// Flat index of `x[o, 0, j0]`.
    base: usize,
    inner: usize,
    rows_per_piece: usize,
}

impl LaneBlock {
    /// Row `i` of this block of `x` (a full-size input): `x[o, i, j0..j0 + width]`.
    #[inline]
    pub fn row<'x, T>(&self, x: &'x [T], i: usize) -> &'x [T] {
        let at = self.base + i * self.inner;
        &x[at..at + self.width]
    }

    /// Lane `j` of this block of `x`: `x[o, 0..n, j0 + j]`.
    pub fn lane<'x, T: Copy>(&self, x: &'x [T], j: usize) -> impl Iterator<Item = T> + 'x {
        let (start, inner) = (self.base + j, self.inner);
        (0..self.n).map(move |i| x[start + i * inner])
    }

    /// The rows in fixed pieces (a function of the layout only, so of no thread count).
    pub fn pieces(&self) -> impl Iterator<Item = Range<usize>> {
        let (n, step) = (self.n, self.rows_per_piece);
        (0..n).step_by(step).map(move |i| i..(i + step).min(n))
    }

    /// How many [`pieces`](Self::pieces).
    pub fn piece_count(&self) -> usize {
        self.n.div_ceil(self.rows_per_piece)
    }
}

/// A full-size output of a strided walk, handed to the tasks block by block.
#[derive(Debug)]
pub struct Strided<'a, T> {
    ptr: *mut T,
    len: usize,
    _out: PhantomData<&'a mut [T]>,
}

// SAFETY: a `Strided` only gives out `BlockMut`s, one per task, over disjoint column sets
// (see `BlockOuts::block`); the `&mut [T]` it came from is borrowed for its whole life.
unsafe impl<T: Send> Send for Strided<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Strided<'_, T> {}

impl<'a, T> Strided<'a, T> {
    /// Wraps `out` (the length of the layout).
    pub fn new(out: &'a mut [T]) -> Self {
        Strided {
            ptr: out.as_mut_ptr(),
            len: out.len(),
            _out: PhantomData,
        }
    }
}

/// One task's part of a [`Strided`] output: the rows of its lane block.
#[derive(Debug)]
pub struct BlockMut<'b, T> {
    ptr: *mut T,
    g: LaneBlock,
    _out: PhantomData<&'b mut [T]>,
}

impl<T> BlockMut<'_, T> {
    /// Row `i` of the block, `out[o, i, j0..j0 + width]`; one at a time.
    #[inline]
    pub fn row(&mut self, i: usize) -> &mut [T] {
        assert!(i < self.g.n, "BlockMut::row: row {i} of {}", self.g.n);
        // SAFETY: in bounds (the driver checked the output's length against the layout, and
        // `base + (n-1) inner + width <= len`); this task is the only one that owns these columns,
        // and the `&mut self` borrow keeps any other row of this block from being live.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.ptr.add(self.g.base + i * self.g.inner),
                self.g.width,
            )
        }
    }
}

/// Full-size outputs of a strided walk: a [`Strided`], an `Option` of one, tuples of them or `()`.
pub trait BlockOuts: Sync {
    /// What one task receives.
    type Block;
    /// Whether every output has `len` elements.
    fn len_is(&self, len: usize) -> bool;
    /// The part of block `g`.
    ///
    /// # Safety
    /// At most once per block per walk, with blocks that do not overlap, and `len_is(layout len)`.
    #[doc(hidden)]
    unsafe fn block(&self, g: &LaneBlock) -> Self::Block;
}

impl<'a, T: Send> BlockOuts for Strided<'a, T> {
    type Block = BlockMut<'a, T>;
    fn len_is(&self, len: usize) -> bool {
        self.len == len
    }
    unsafe fn block(&self, g: &LaneBlock) -> BlockMut<'a, T> {
        BlockMut {
            ptr: self.ptr,
            g: g.clone(),
            _out: PhantomData,
        }
    }
}

impl BlockOuts for () {
    type Block = ();
    fn len_is(&self, _: usize) -> bool {
        true
    }
    unsafe fn block(&self, _: &LaneBlock) {}
}

impl<A: BlockOuts> BlockOuts for Option<A> {
    type Block = Option<A::Block>;
    fn len_is(&self, len: usize) -> bool {
        self.as_ref().is_none_or(|a| a.len_is(len))
    }
    unsafe fn block(&self, g: &LaneBlock) -> Self::Block {
        // SAFETY: forwarded from the caller.
        self.as_ref().map(|a| unsafe { a.block(g) })
    }
}

impl<A: BlockOuts, B: BlockOuts> BlockOuts for (A, B) {
    type Block = (A::Block, B::Block);
    fn len_is(&self, len: usize) -> bool {
        self.0.len_is(len) && self.1.len_is(len)
    }
    unsafe fn block(&self, g: &LaneBlock) -> Self::Block {
        // SAFETY: forwarded from the caller; `A` and `B` are distinct outputs.
        unsafe { (self.0.block(g), self.1.block(g)) }
    }
}

/// The lane blocks of a layout in task order (`o` major, then `j0`), by index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Blocks {
    l: Layout,
    w: usize,
    per_o: usize,
    rows_per_piece: usize,
}

impl Blocks {
    pub(crate) fn of(l: Layout) -> Self {
        let w = l.inner.clamp(1, LANE_BLOCK);
        Blocks {
            l,
            w,
            per_o: l.inner.div_ceil(w),
            rows_per_piece: (16 * REDUCE_PIECE / w).max(1),
        }
    }

    /// Number of blocks.
    pub(crate) fn count(&self) -> usize {
        self.l.outer * self.per_o
    }

    /// Lanes (elements of width) of a full block.
    pub(crate) fn width(&self) -> usize {
        self.w
    }

    /// The output lane where block `k` starts (`outputs()` for `k = count()`).
    pub(crate) fn lane_start(&self, k: usize) -> usize {
        let (o, b) = (k / self.per_o, k % self.per_o);
        o * self.l.inner + b * self.w
    }

    /// Block `k`.
    pub(crate) fn get(&self, k: usize) -> LaneBlock {
        let (o, j0) = (k / self.per_o, (k % self.per_o) * self.w);
        LaneBlock {
            width: self.w.min(self.l.inner - j0),
            n: self.l.n,
            base: o * self.l.n * self.l.inner + j0,
            inner: self.l.inner,
            rows_per_piece: self.rows_per_piece,
        }
    }
}
