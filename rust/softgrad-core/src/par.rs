//! Explicit, deterministic parallelism: the drivers every kernel runs through.
//!
//! Every kernel takes a [`Par`]. Work is cut into pieces whose boundaries depend only on the problem
//! size, never on the thread count, and partial results are combined in a fixed order, so one thread
//! and many threads give the same bits. The drivers:
//!
//! - [`Par::map_chunks_mut`] / [`Par::map_chunks`]: fixed pieces of one output (or of a [`Split`]
//!   bundle of inputs and outputs), results in piece order;
//! - [`Par::map_rows`]: fixed tasks of whole rows, with per-task scratch, results in task order;
//! - [`Par::map_row_tasks`]: fixed tasks of whole short rows handed over together;
//! - [`Par::fold_pieces`] / [`Par::fold_chunks`]: one long reduction in [`REDUCE_PIECE`] pieces
//!   combined left to right;
//! - [`Par::for_each_lane_block`]: a reduction over a strided axis, in lane blocks (see [`lanes`]).
//!
//! Each checks [`interrupt::check`] between pieces and allocates scratch
//! fallibly ([`Error::Alloc`]). Threads come from softgrad's own pools ([`pool`]), never rayon's
//! global one.

pub mod lanes;
pub mod pool;
pub mod scatter;
pub mod split;
#[cfg(test)]
mod tests;

use std::ops::Range;

use crate::error::{Error, Result};
use crate::interrupt;
pub use lanes::{BlockMut, BlockOuts, LaneBlock, Layout, Strided, LANE_BLOCK};
pub use pool::{default_threads, env_threads, set_default_threads, MAX_THREADS, POOL_CACHE};
pub use split::{Rows, Split};

/// Below this many elements of work a kernel runs sequentially: spawning costs more than it saves.
pub const PAR_MIN_ELEMS: usize = 1 << 15;

/// Values per piece of a reduction along one contiguous slice ([`Par::fold_pieces`]).
pub const REDUCE_PIECE: usize = 2048;

/// Elements of work per task of the row and lane-block drivers (a quarter of [`PAR_MIN_ELEMS`], so
/// a call worth splitting has at least four tasks).
const TASK_ELEMS: usize = PAR_MIN_ELEMS / 4;

/// How a kernel may use threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Par {
    /// The calling thread only.
    Seq,
    /// A softgrad pool of this many threads (`1..=MAX_THREADS`).
    Rayon(usize),
}

/// A scratch buffer of `len` copies of `fill`, or [`Error::Alloc`] (never an abort).
pub fn scratch<T: Clone>(func: &'static str, len: usize, fill: T) -> Result<Vec<T>> {
    let mut v: Vec<T> = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Error::Alloc {
        func,
        bytes: len.saturating_mul(std::mem::size_of::<T>()),
    })?;
    v.resize(len, fill);
    Ok(v)
}

thread_local! {
    static PIECE: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's `len`-long f64 scratch (`len <= REDUCE_PIECE`, contents
/// unspecified): a piece's buffer without zeroing 16 KiB on the stack per call. `f` must not nest
/// this call, nor enter rayon (a stolen task could then nest it): it panics rather than alias.
pub fn with_piece_scratch<R>(len: usize, f: impl FnOnce(&mut [f64]) -> R) -> R {
    assert!(
        len <= REDUCE_PIECE,
        "with_piece_scratch: {len} > REDUCE_PIECE"
    );
    PIECE.with(|b| {
        let mut b = b.borrow_mut();
        if b.len() < REDUCE_PIECE {
            // Once per thread, a bounded size: cannot fail in practice.
            b.resize(REDUCE_PIECE, 0.0);
        }
        f(&mut b[..len])
    })
}

impl Par {
    /// `Some(n)` asks for `n` threads (`1..=MAX_THREADS`); `None` takes the default
    /// ([`default_threads`]).
    pub fn from_threads(n_threads: Option<usize>) -> Result<Par> {
        let n = match n_threads {
            Some(n) if !(1..=MAX_THREADS).contains(&n) => {
                return Err(Error::param(
                    "softgrad",
                    "n_threads",
                    format!("must be in 1..={MAX_THREADS}, got {n}"),
                ))
            }
            Some(n) => n,
            None => default_threads(),
        };
        Ok(if n <= 1 { Par::Seq } else { Par::Rayon(n) })
    }

    /// Threads this setting may use.
    pub fn threads(self) -> usize {
        match self {
            Par::Seq => 1,
            Par::Rayon(n) => n,
        }
    }

    /// `Seq` when `work` (in elements) is too small to be worth splitting.
    pub fn for_work(self, work: usize) -> Par {
        if work < PAR_MIN_ELEMS {
            Par::Seq
        } else {
            self
        }
    }

    /// Runs `f` where rayon's parallel iterators use this setting's pool.
    pub fn install<R: Send>(self, f: impl FnOnce() -> R + Send) -> Result<R> {
        match self {
            Par::Seq => Ok(f()),
            Par::Rayon(n) => Ok(pool::pool(n)?.install(f)),
        }
    }

    /// `f(k, piece)` over the fixed `len`-long pieces of `out` (the last may be shorter), results in
    /// piece order.
    pub fn map_chunks_mut<T: Send, R: Send>(
        self,
        func: &'static str,
        out: &mut [T],
        len: usize,
        f: impl Fn(usize, &mut [T]) -> R + Send + Sync,
    ) -> Result<Vec<R>> {
        let n = out.len();
        self.map_chunks(func, n, len, Rows::of_mut(out, 1), |r, c| {
            f(r.start / len.max(1), c)
        })
    }

    /// `f(range, its slices)` over the fixed `len`-long pieces of `0..n` with `data` (a [`Split`]
    /// bundle of `n` rows, usually of width 1) cut to match; results in piece order.
    pub fn map_chunks<D: Split, R: Send>(
        self,
        func: &'static str,
        n: usize,
        len: usize,
        data: D,
        f: impl Fn(Range<usize>, D::Item) -> R + Send + Sync,
    ) -> Result<Vec<R>> {
        let len = len.max(1);
        let run = |(r, d): (Range<usize>, D)| -> Result<R> {
            check(func)?;
            Ok(f(r, d.item()))
        };
        match self.for_work(n) {
            Par::Seq => {
                let (mut out, mut rest) = (Vec::new(), data);
                for start in (0..n).step_by(len) {
                    let r = start..(start + len).min(n);
                    let (mine, tail) = rest.split_rows(r.len());
                    out.push(run((r, mine))?);
                    rest = tail;
                }
                Ok(out)
            }
            p => {
                let pieces = cut(func, data, n, len)?;
                pool::run_tasks(p.threads(), pieces, run)
            }
        }
    }

    /// A deterministic reduction of `0..n`: `piece` over the fixed [`REDUCE_PIECE`]-long ranges,
    /// folded left to right with `combine` from `empty`, whatever the thread count.
    pub fn fold_pieces<R: Send>(
        self,
        func: &'static str,
        n: usize,
        piece: impl Fn(Range<usize>) -> R + Send + Sync,
        combine: impl Fn(R, R) -> R,
        empty: R,
    ) -> Result<R> {
        self.fold_chunks(func, n, (), |r, ()| piece(r), combine, empty)
    }

    /// [`fold_pieces`](Self::fold_pieces) with `data` (a [`Split`] bundle of `n` rows) cut to
    /// match each piece. Sequentially it allocates nothing.
    pub fn fold_chunks<D: Split, R: Send>(
        self,
        func: &'static str,
        n: usize,
        data: D,
        piece: impl Fn(Range<usize>, D::Item) -> R + Send + Sync,
        combine: impl Fn(R, R) -> R,
        empty: R,
    ) -> Result<R> {
        match self.for_work(n) {
            Par::Seq => {
                let (mut acc, mut rest) = (empty, data);
                for start in (0..n).step_by(REDUCE_PIECE) {
                    check(func)?;
                    let r = start..(start + REDUCE_PIECE).min(n);
                    let (mine, tail) = rest.split_rows(r.len());
                    acc = combine(acc, piece(r, mine.item()));
                    rest = tail;
                }
                Ok(acc)
            }
            p => {
                let parts = p.map_chunks(func, n, REDUCE_PIECE, data, piece)?;
                Ok(parts.into_iter().fold(empty, combine))
            }
        }
    }

    /// Whole rows of a `(rows, n)` problem: `data` (a [`Split`] bundle of row-shaped slices) is cut
    /// into fixed tasks of consecutive rows, and each task folds `f(acc, row, its slices, scratch,
    /// par)` over its rows from `init`, with `scratch` f64 of scratch per task. Returns the tasks'
    /// results in task order.
    ///
    /// Short rows are spread over the threads a task each, and `f` gets `Par::Seq`; rows of at least
    /// [`PAR_MIN_ELEMS`] (or a single row) run one after the other and `f` gets `self` to use inside
    /// the row. The tasks depend on `rows` and `n` only.
    #[allow(clippy::too_many_arguments)]
    pub fn map_rows<D: Split, R: Clone + Send + Sync>(
        self,
        func: &'static str,
        rows: usize,
        n: usize,
        data: D,
        scratch_len: usize,
        init: R,
        f: impl Fn(R, usize, D::Item, &mut [f64], Par) -> Result<R> + Send + Sync,
    ) -> Result<Vec<R>> {
        let long = n >= PAR_MIN_ELEMS || rows == 1;
        let per_task = if long {
            1
        } else {
            (TASK_ELEMS / n.max(1)).max(1)
        };
        let inside = if long { self } else { Par::Seq };
        let tasks = cut(func, data, rows, per_task)?;
        let task = |(r, d): (Range<usize>, D)| -> Result<R> {
            check(func)?;
            let mut scratch = scratch(func, scratch_len, 0.0)?;
            let mut rest = d;
            let mut acc = init.clone();
            for i in r {
                let (row, tail) = rest.split_rows(1);
                acc = f(acc, i, row.item(), &mut scratch, inside)?;
                rest = tail;
            }
            Ok(acc)
        };
        let work = rows.saturating_mul(n);
        match if long { Par::Seq } else { self.for_work(work) } {
            Par::Seq => tasks.into_iter().map(task).collect(),
            p => pool::run_tasks(p.threads(), tasks, task),
        }
    }

    /// Short rows of a `(rows, n)` problem in fixed tasks of whole rows (about `TASK_ELEMS`
    /// elements each, rounded up to a multiple of `align` rows): `f(range of rows, their slices of
    /// data)`, results in task order. For kernels that take a task's rows together (in SIMD lanes);
    /// the tasks depend on `rows`, `n` and `align` only.
    pub fn map_row_tasks<D: Split, R: Send>(
        self,
        func: &'static str,
        rows: usize,
        n: usize,
        align: usize,
        data: D,
        f: impl Fn(Range<usize>, D::Item) -> Result<R> + Send + Sync,
    ) -> Result<Vec<R>> {
        let per_task = (TASK_ELEMS / n.max(1))
            .max(1)
            .next_multiple_of(align.max(1));
        let tasks = cut(func, data, rows, per_task)?;
        let task = |(r, d): (Range<usize>, D)| -> Result<R> {
            check(func)?;
            f(r, d.item())
        };
        match self.for_work(rows.saturating_mul(n)) {
            Par::Seq => tasks.into_iter().map(task).collect(),
            p => pool::run_tasks(p.threads(), tasks, task),
        }
    }

    /// The strided walk of `layout` (see [`lanes`]): lane blocks grouped into fixed tasks, each task
    /// folding `f(acc, block, its lanes of `lanes`, its part of `outs`)` over its blocks from `init`.
    /// `lanes` is a [`Split`] bundle of per-output-lane slices (rows of width 1: `outer * inner` of
    /// them); `outs` the full-size outputs. Returns the tasks' results in task order.
    pub fn for_each_lane_block<D: Split, O: BlockOuts, R: Clone + Send + Sync>(
        self,
        func: &'static str,
        layout: Layout,
        lanes: D,
        outs: O,
        init: R,
        f: impl Fn(R, &LaneBlock, D::Item, O::Block) -> Result<R> + Send + Sync,
    ) -> Result<Vec<R>> {
        let len = layout.len(func)?;
        if !outs.len_is(len) {
            return Err(Error::param(
                func,
                "out",
                "does not have the layout's length",
            ));
        }
        let blocks = lanes::Blocks::of(layout);
        let per_task = (TASK_ELEMS / layout.n.saturating_mul(blocks.width()).max(1)).max(1);
        let count = blocks.count().div_ceil(per_task);
        let mut tasks = Vec::new();
        tasks.try_reserve_exact(count).map_err(|_| Error::Alloc {
            func,
            bytes: count.saturating_mul(std::mem::size_of::<(Range<usize>, D)>()),
        })?;
        let mut rest = lanes;
        for t in 0..count {
            let ks = t * per_task..((t + 1) * per_task).min(blocks.count());
            let lanes_here = blocks.lane_start(ks.end) - blocks.lane_start(ks.start);
            let (mine, tail) = rest.split_rows(lanes_here);
            tasks.push((ks, mine));
            rest = tail;
        }
        let outs = &outs;
        let task = |(ks, d): (Range<usize>, D)| -> Result<R> {
            check(func)?;
            let mut rest = d;
            let mut acc = init.clone();
            for k in ks {
                let b = blocks.get(k);
                let (mine, tail) = rest.split_rows(b.width);
                // SAFETY: each block is visited once, by one task, and blocks are disjoint column
                // sets; the lengths were checked above.
                let part = unsafe { outs.block(&b) };
                acc = f(acc, &b, mine.item(), part)?;
                rest = tail;
            }
            Ok(acc)
        };
        match self.for_work(len) {
            Par::Seq => tasks.into_iter().map(task).collect(),
            p => pool::run_tasks(p.threads(), tasks, task),
        }
    }
}

/// Stops between pieces if an interrupt was requested.
#[inline]
fn check(func: &'static str) -> Result<()> {
    interrupt::check(func)?;
    #[cfg(test)]
    tests::fake_interrupt(func)?;
    Ok(())
}

/// `data` cut into tasks of `per_task` consecutive rows (the last may be shorter).
fn cut<D: Split>(
    func: &'static str,
    data: D,
    rows: usize,
    per_task: usize,
) -> Result<Vec<(Range<usize>, D)>> {
    let count = rows.div_ceil(per_task);
    let mut tasks = Vec::new();
    tasks.try_reserve_exact(count).map_err(|_| Error::Alloc {
        func,
        bytes: count.saturating_mul(std::mem::size_of::<(Range<usize>, D)>()),
    })?;
    let mut rest = data;
    for k in 0..count {
        let r = k * per_task..((k + 1) * per_task).min(rows);
        let (mine, tail) = rest.split_rows(r.len());
        tasks.push((r, mine));
        rest = tail;
    }
    Ok(tasks)
}
