//! The radix sorts of a lane's packed words (module documentation of `work.rs`): in-order LSD
//! passes, the parallel top-digit scatter of a long lane, and the fix-up of runs of equal top bits.

use rayon::prelude::*;

use super::{RADIX_MIN, WIDE_MIN};

/// Lanes at least this long, given threads, are radix sorted on the threads (`radix_par`).
pub(crate) const PAR_SORT_MIN: usize = 1 << 16;

/// The packed words (`word(position)`, positions from `offset`) of `v`'s part of a lane, radix
/// sorted on their top bits into `v` (`tmp` the same length as scratch); returns how many top
/// bits: 24 in 8-bit digits for fewer than 4096 words, 32 in 8-bit digits below [`WIDE_MIN`], 33
/// in 11-bit digits above.
#[inline(always)]
pub(super) fn radix_long(
    v: &mut [u64],
    tmp: &mut [u64],
    offset: usize,
    word: &(impl Fn(usize) -> u64 + Sync),
) -> u32 {
    match v.len() {
        n if n < 4096 => radix_piece::<256, 3>(v, tmp, offset, word),
        n if n < WIDE_MIN => radix_piece::<256, 4>(v, tmp, offset, word),
        _ => radix_piece::<2048, 3>(v, tmp, offset, word),
    }
}

/// [`radix_long`] with `P` passes of `BINS`-way digits (a power of two).
#[inline(always)]
fn radix_piece<const BINS: usize, const P: usize>(
    v: &mut [u64],
    tmp: &mut [u64],
    offset: usize,
    word: &impl Fn(usize) -> u64,
) -> u32 {
    // A long lane counts in four sets by position mod 4: the high digits of real data repeat, and
    // one set would chain every increment of a repeated digit through memory (a short lane would
    // pay more zeroing the counters).
    let mut counts = if v.len() >= SETS_MIN {
        counted::<BINS, P, 4>(v, offset, word)
    } else {
        counted::<BINS, P, 1>(v, offset, word)
    };
    let top = P as u32 * BINS.trailing_zeros();
    radix(v, tmp, &mut counts, top);
    top
}

/// Writes the packed words `word(offset + i)` into `v` and returns their digit counts (`P` digits
/// of `log2 BINS` bits from the top), taken in `S` sets by position mod `S` and added.
#[inline(always)]
fn counted<const BINS: usize, const P: usize, const S: usize>(
    v: &mut [u64],
    offset: usize,
    word: &impl Fn(usize) -> u64,
) -> Vec<[u32; BINS]> {
    let mut all = vec![[0u32; BINS]; P * S];
    let top = P as u32 * BINS.trailing_zeros();
    let mut vc = v.chunks_exact_mut(S);
    let mut at = offset;
    for ps in &mut vc {
        for (l, set) in all.chunks_exact_mut(P).enumerate() {
            let w = word(at + l);
            ps[l] = w;
            for (d, c) in set.iter_mut().enumerate() {
                c[digit::<BINS>(w, top, d)] += 1;
            }
        }
        at += S;
    }
    for p in vc.into_remainder() {
        let w = word(at);
        *p = w;
        for (d, c) in all[..P].iter_mut().enumerate() {
            c[digit::<BINS>(w, top, d)] += 1;
        }
        at += 1;
    }
    let (counts, rest) = all.split_at_mut(P);
    for set in rest.chunks_exact(P) {
        for (c, o) in counts.iter_mut().zip(set) {
            c.iter_mut().zip(o).for_each(|(c, o)| *c += o);
        }
    }
    all.truncate(P);
    all
}

/// Pieces of a lane scattered on several threads: each counts its digits and scatters its words
/// on a task of its own.
pub(super) const PAR_PIECE: usize = 1 << 16;

/// The packed words `word(position)` of a whole lane, written into `v` and radix sorted on their
/// top 33 bits in 11-bit digits on the threads of the pool it runs in, into `tmp` (`v` is then
/// scratch); returns 33.
///
/// First a stable scatter on the top digit, in pieces of [`PAR_PIECE`] words: piece `k` writes
/// its words of digit `b` in order to the slots after those of every smaller digit and of digit
/// `b` in pieces before `k` (the slots of each (digit, piece) are cut out of `tmp` beforehand with
/// `split_at_mut`, so the tasks write disjoint slices). Then each bucket of one top digit, a task
/// each, is sorted on its own: by the two lower digits (a stable LSD radix sort, from cache for
/// buckets that fit in it) or, under [`RADIX_MIN`] words, by the whole word (what `fix_up` would
/// make of it). Either way the result is sorted on the 33 bits with positions ascending within
/// equal bits, as [`radix`] gives it on one thread, whatever the threads.
pub(super) fn radix_par(
    v: &mut [u64],
    tmp: &mut [u64],
    word: &(impl Fn(usize) -> u64 + Sync),
) -> u32 {
    const BINS: usize = 2048;
    const P: usize = 3;
    let top = P as u32 * BINS.trailing_zeros();
    let counts: Vec<[u32; BINS]> = v
        .par_chunks_mut(PAR_PIECE)
        .enumerate()
        .map(|(k, c)| {
            let mut h = [0u32; BINS];
            for (i, w) in c.iter_mut().enumerate() {
                *w = word(k * PAR_PIECE + i);
                h[digit::<BINS>(*w, top, P - 1)] += 1;
            }
            h
        })
        .collect();
    let sizes: Vec<usize> = (0..BINS)
        .map(|b| counts.iter().map(|c| c[b] as usize).sum())
        .collect();
    let mut outs: Vec<Vec<std::slice::IterMut<'_, u64>>> =
        counts.iter().map(|_| Vec::with_capacity(BINS)).collect();
    let mut rest = &mut *tmp;
    for b in 0..BINS {
        for (o, c) in outs.iter_mut().zip(&counts) {
            let (s, r) = std::mem::take(&mut rest).split_at_mut(c[b] as usize);
            o.push(s.iter_mut());
            rest = r;
        }
    }
    v.par_chunks(PAR_PIECE).zip(outs).for_each(|(c, mut o)| {
        for &w in c {
            if let Some(slot) = o[digit::<BINS>(w, top, P - 1)].next() {
                *slot = w;
            }
        }
    });
    // the buckets of one top digit (of two words or more), with their slots of `v` as scratch
    let mut buckets: Vec<(&mut [u64], &mut [u64])> = Vec::with_capacity(BINS);
    let (mut rest, mut spare) = (&mut *tmp, &mut *v);
    for &m in &sizes {
        let (bucket, r) = std::mem::take(&mut rest).split_at_mut(m);
        rest = r;
        let (sp, r) = std::mem::take(&mut spare).split_at_mut(m);
        spare = r;
        if m >= 2 {
            buckets.push((bucket, sp));
        }
    }
    buckets.into_par_iter().for_each(|(bucket, sp)| {
        if bucket.len() < RADIX_MIN {
            bucket.sort_unstable();
            return;
        }
        let mut low = vec![[0u32; BINS]; P - 1];
        for &w in bucket.iter() {
            for (d, c) in low.iter_mut().enumerate() {
                c[digit::<BINS>(w, top, d)] += 1;
            }
        }
        radix(bucket, sp, &mut low, top);
    });
    top
}

/// Lanes at least this long take their radix digit counts in four sets.
const SETS_MIN: usize = 1 << 14;

/// Digit `d` (from the least significant, `log2 BINS` bits each) of the top `top` bits of `w`.
#[inline(always)]
fn digit<const BINS: usize>(w: u64, top: u32, d: usize) -> usize {
    ((w >> (64 - top + BINS.trailing_zeros() * d as u32)) as usize) & (BINS - 1)
}

/// Stable LSD radix sort of `v` on the `counts.len()` lowest digits of its top `top` bits, given
/// the counts of each digit; the result ends in `v`. Digits on which all words agree are skipped.
///
/// Each pass places the words from both ends at once: the front half in order from each digit's
/// first slot up, the back half in reverse from each digit's last slot down. Both are stable and
/// they meet exactly (a digit's front and back words fill its slots), and the two cursors are two
/// independent chains: real data repeats its high digits, and one cursor would wait on the
/// previous increment of the same counter for every word.
#[inline(always)]
pub(super) fn radix<const BINS: usize>(
    v: &mut [u64],
    tmp: &mut [u64],
    counts: &mut [[u32; BINS]],
    top: u32,
) {
    let n = v.len();
    let mut in_tmp = false;
    let mut ends = [0u32; BINS];
    for (d, c) in counts.iter_mut().enumerate() {
        let first = if in_tmp { tmp[0] } else { v[0] };
        if c[digit::<BINS>(first, top, d)] as usize == n {
            continue;
        }
        let mut acc = 0u32;
        for (o, e) in c.iter_mut().zip(ends.iter_mut()) {
            let cnt = *o;
            *o = acc;
            acc += cnt;
            *e = acc;
        }
        let (src, dst): (&[u64], &mut [u64]) = if in_tmp { (tmp, v) } else { (v, tmp) };
        let (front, back) = src.split_at(n / 2);
        for (&x, &y) in front.iter().zip(back.iter().rev()) {
            let slot = &mut c[digit::<BINS>(x, top, d)];
            dst[*slot as usize] = x;
            *slot += 1;
            let end = &mut ends[digit::<BINS>(y, top, d)];
            *end -= 1;
            dst[*end as usize] = y;
        }
        if n % 2 == 1 {
            // the middle word: after the front words of its digit, before the back ones
            let x = back[0];
            dst[c[digit::<BINS>(x, top, d)] as usize] = x;
        }
        in_tmp = !in_tmp;
    }
    if in_tmp {
        v.copy_from_slice(tmp);
    }
}

/// Makes `packed` (sorted on its top `top` bits, positions ascending within equal top bits) sorted
/// by `(key(position), position)`, `low` masking the position. Each run of equal top bits is
/// sorted by the whole packed word (the key's next bits, then the position: no memory lookups);
/// then, unless `exact` (the packed words hold every bit on which keys differ), each run of equal
/// key bits in the words is checked, and re-sorted if need be, by the full keys.
#[inline(always)]
pub(super) fn fix_up(
    packed: &mut [u64],
    key: &impl Fn(usize) -> u64,
    top: u32,
    low: u64,
    exact: bool,
) {
    let b = low.count_ones();
    let shift = 64 - top;
    for_runs(packed, shift, |run| {
        if shift > b {
            if run.len() <= 16 {
                insertion(run);
            } else {
                run.sort_unstable();
            }
        }
        if !exact {
            let full = |p: u64| (key((p & low) as usize), p & low);
            for_runs(run, b, |r| {
                if r.windows(2).any(|w| full(w[0]) > full(w[1])) {
                    r.sort_unstable_by_key(|&p| full(p));
                }
            });
        }
    });
}

/// Calls `f` on each run (of two or more) of adjacent words equal above bit `shift`. Runs are rare:
/// the scan is one comparison per word.
#[inline(always)]
fn for_runs(v: &mut [u64], shift: u32, mut f: impl FnMut(&mut [u64])) {
    let n = v.len();
    let mut i = 1;
    while i < n {
        if (v[i] ^ v[i - 1]) >> shift != 0 {
            i += 1;
            continue;
        }
        let s = i - 1;
        let mut e = i + 1;
        while e < n && (v[e] ^ v[s]) >> shift == 0 {
            e += 1;
        }
        f(&mut v[s..e]);
        i = e + 1;
    }
}

/// Insertion sort of a short slice.
#[inline(always)]
fn insertion(v: &mut [u64]) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}
