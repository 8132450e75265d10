use super::pool::{threads_from, Cache};
use super::*;

#[test]
fn from_threads_rejects_zero_and_huge_and_maps_one_to_seq() {
    assert!(Par::from_threads(Some(0)).is_err());
    let e = Par::from_threads(Some(MAX_THREADS + 1)).unwrap_err();
    assert!(e.to_string().contains("n_threads"), "{e}");
    assert!(Par::from_threads(Some(usize::MAX)).is_err());
    assert_eq!(Par::from_threads(Some(1)).unwrap(), Par::Seq);
    assert_eq!(Par::from_threads(Some(3)).unwrap(), Par::Rayon(3));
    assert_eq!(
        Par::from_threads(Some(MAX_THREADS)).unwrap(),
        Par::Rayon(MAX_THREADS)
    );
    // A `Par` built by hand cannot reach a huge pool either.
    assert!(Par::Rayon(MAX_THREADS + 1).install(|| ()).is_err());
}

#[test]
fn run_tasks_keeps_task_order_and_reports_the_first_error() {
    for n in 1..=4 {
        let got = pool::run_tasks(n, (0..37).collect(), |i: usize| Ok(i * i)).unwrap();
        assert_eq!(
            got,
            (0..37).map(|i| i * i).collect::<Vec<_>>(),
            "{n} threads"
        );
        let e = pool::run_tasks(n, (0..37).collect(), |i: usize| match i {
            5 => Err(Error::param("t", "five", "bad")),
            _ => Ok(i),
        })
        .unwrap_err();
        assert!(e.to_string().contains("five"), "{e}");
        assert!(pool::run_tasks(n, Vec::<usize>::new(), Ok)
            .unwrap()
            .is_empty());
    }
    assert!(pool::run_tasks(MAX_THREADS + 1, vec![1], Ok).is_err());
}

#[test]
fn env_default_accepts_only_sane_counts() {
    assert_eq!(threads_from(Some("3"), 8), 3);
    assert_eq!(threads_from(Some(" 2 "), 8), 2);
    assert_eq!(threads_from(Some("0"), 8), 8);
    assert_eq!(threads_from(Some("1000000000"), 8), 8);
    assert_eq!(threads_from(Some("lots"), 8), 8);
    assert_eq!(threads_from(None, 8), 8);
    assert_eq!(threads_from(None, 100_000), MAX_THREADS);
    assert_eq!(threads_from(None, 0), 1);
}

#[test]
fn the_pool_cache_is_bounded_and_drops_the_least_recently_used() {
    let mut cache = Cache::new();
    let mut weak = Vec::new();
    for n in 1..=10 {
        weak.push((n, std::sync::Arc::downgrade(&cache.get(n, 7).unwrap())));
        // Keep pool 1 in use: it must survive.
        cache.get(1, 7).unwrap();
    }
    let sizes = cache.sizes();
    assert!(sizes.len() <= POOL_CACHE, "{sizes:?}");
    assert_eq!(sizes.len(), POOL_CACHE);
    assert!(sizes.contains(&1) && sizes.contains(&10), "{sizes:?}");
    let alive: Vec<usize> = weak
        .iter()
        .filter(|(_, w)| w.upgrade().is_some())
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(alive.len(), POOL_CACHE, "{alive:?}");
    assert!(cache.get(0, 7).is_err() && cache.get(MAX_THREADS + 1, 7).is_err());
}

#[test]
fn a_new_process_id_leaks_the_parents_pools_and_builds_new_ones() {
    let mut cache = Cache::new();
    let parent = cache.get(2, 100).unwrap();
    let weak = std::sync::Arc::downgrade(&parent);
    drop(parent);
    // Same process: the cached pool comes back.
    let again = cache.get(2, 100).unwrap();
    assert!(std::sync::Arc::ptr_eq(&again, &weak.upgrade().unwrap()));
    drop(again);
    // "After fork": a new pool, and the parent's is forgotten (never dropped, so never joined).
    let child = cache.get(2, 101).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&child, &weak.upgrade().unwrap()));
    assert!(weak.upgrade().is_some(), "the parent's pool was dropped");
    assert_eq!(cache.sizes(), vec![2]);
    assert_eq!(child.install(rayon::current_num_threads), 2);
}

#[test]
fn pools_have_the_size_asked_for() {
    for n in [2, 3] {
        let got = Par::Rayon(n).install(rayon::current_num_threads).unwrap();
        assert_eq!(got, n);
    }
}

/// Values spanning many orders of magnitude with both signs: any change in the order of additions
/// changes the bits of their sum.
fn order_sensitive(n: usize) -> Vec<f64> {
    crate::relax::testutil::uniform(n, 99, -1.0, 1.0)
        .iter()
        .enumerate()
        .map(|(i, v)| v * 10f64.powi((i % 31) as i32 - 15))
        .collect()
}

#[test]
fn fold_pieces_combines_left_to_right_whatever_the_threads() {
    let n = 40 * REDUCE_PIECE + 17;
    let x = order_sensitive(n);
    let seq: f64 = (0..n.div_ceil(REDUCE_PIECE))
        .map(|k| {
            x[k * REDUCE_PIECE..((k + 1) * REDUCE_PIECE).min(n)]
                .iter()
                .sum::<f64>()
        })
        .fold(0.0, |a, b| a + b);
    let rev: f64 = (0..n.div_ceil(REDUCE_PIECE))
        .rev()
        .map(|k| {
            x[k * REDUCE_PIECE..((k + 1) * REDUCE_PIECE).min(n)]
                .iter()
                .sum::<f64>()
        })
        .fold(0.0, |a, b| a + b);
    assert_ne!(
        seq.to_bits(),
        rev.to_bits(),
        "the data cannot reveal a reordering"
    );
    for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
        let got = par
            .fold_pieces("t", n, |r| x[r].iter().sum::<f64>(), |a, b| a + b, 0.0)
            .unwrap();
        assert_eq!(got.to_bits(), seq.to_bits(), "{par:?}");
        // An order-revealing combination: pieces must arrive in order.
        let order = par
            .fold_pieces(
                "t",
                n,
                |r| vec![r.start],
                |mut a, b| {
                    a.extend(b);
                    a
                },
                vec![],
            )
            .unwrap();
        assert!(
            order.windows(2).all(|w| w[1] == w[0] + REDUCE_PIECE),
            "{par:?}"
        );
    }
}

#[test]
fn map_chunks_and_rows_keep_order_and_cover_everything() {
    for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
        let mut out = vec![0usize; 100_001];
        let ks = par
            .map_chunks_mut("t", &mut out, 1000, |k, c| {
                c.iter_mut().for_each(|x| *x = k);
                k
            })
            .unwrap();
        assert_eq!(ks, (0..101).collect::<Vec<_>>());
        assert!(out.iter().enumerate().all(|(j, &x)| x == j / 1000));
        // Rows: each row gets its own slices and its index; results come in task order.
        let (rows, n) = (5000, 13);
        let x: Vec<usize> = (0..rows * n).collect();
        let mut o = vec![0usize; rows];
        let parts = par
            .map_rows(
                "t",
                rows,
                n,
                (Rows::of(&x, n), Rows::of_mut(&mut o, 1)),
                4,
                Vec::new(),
                |mut acc: Vec<usize>, r, (xr, or), e, _| {
                    assert_eq!(e.len(), 4);
                    assert_eq!(xr[0], r * n);
                    or[0] = xr.iter().sum();
                    acc.push(r);
                    Ok(acc)
                },
            )
            .unwrap();
        assert_eq!(parts.concat(), (0..rows).collect::<Vec<_>>());
        assert!(o
            .iter()
            .enumerate()
            .all(|(r, &v)| v == (r * n..(r + 1) * n).sum()));
    }
}

#[test]
fn lane_blocks_cover_each_lane_once_and_hand_out_their_rows() {
    // (4, 20, 1100) is worth splitting: tasks run on the threads.
    for &(outer, n, inner) in &[
        (3, 7, 1100),
        (4, 20, 1100),
        (2, 5, 513),
        (4, 3, 3),
        (1, 2, 512),
        (2, 0, 5),
    ] {
        let l = Layout::new(outer, n, inner);
        let len = l.len("t").unwrap();
        let x: Vec<usize> = (0..len).collect();
        for par in [Par::Seq, Par::Rayon(3)] {
            let mut out = vec![usize::MAX; len];
            let mut lane = vec![0usize; l.outputs()];
            let parts = par
                .for_each_lane_block(
                    "t",
                    l,
                    Rows::of_mut(&mut lane, 1),
                    Strided::new(&mut out),
                    Vec::new(),
                    |mut acc: Vec<usize>, blk, lanes, mut o| {
                        assert_eq!(lanes.len(), blk.width);
                        for i in 0..blk.n {
                            o.row(i).copy_from_slice(blk.row(&x, i));
                        }
                        for (j, v) in lanes.iter_mut().enumerate() {
                            *v = blk.lane(&x, j).count()
                                + 1
                                + 7 * blk.lane(&x, j).next().unwrap_or(0);
                        }
                        acc.push(blk.width);
                        Ok(acc)
                    },
                )
                .unwrap();
            // Blocks arrive in order: full blocks of each outer index, then its remainder.
            let widths = parts.concat();
            let per_o: Vec<usize> = (0..inner.div_ceil(LANE_BLOCK.min(inner.max(1))))
                .map(|b| LANE_BLOCK.min(inner - b * LANE_BLOCK.min(inner)))
                .collect();
            assert_eq!(widths, per_o.repeat(outer), "{l:?} {par:?}");
            assert_eq!(out, x, "{l:?}");
            for o in 0..outer {
                for j in 0..inner {
                    let first = if n > 0 { o * n * inner + j } else { 0 };
                    assert_eq!(lane[o * inner + j], n + 1 + 7 * first, "{l:?}");
                }
            }
        }
    }
}

static ARMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The drivers' interrupt check in tests: the global flag would stop every test running beside
/// this one, so tests interrupt only calls made under the name `"interrupt-me"`.
pub(super) fn fake_interrupt(func: &'static str) -> Result<()> {
    if ARMED.load(std::sync::atomic::Ordering::Relaxed) && func == "interrupt-me" {
        Err(Error::Interrupted { func })
    } else {
        Ok(())
    }
}

#[test]
fn every_driver_stops_on_an_interrupt_request() {
    const F: &str = "interrupt-me";
    ARMED.store(true, std::sync::atomic::Ordering::Relaxed);
    let n = PAR_MIN_ELEMS * 2;
    let x = vec![1.0f64; n];
    let l = Layout::new(2, 3, 600);
    let mut out = vec![0.0; l.len(F).unwrap()];
    for par in [Par::Seq, Par::Rayon(2)] {
        let stopped = Err(Error::Interrupted { func: F });
        assert_eq!(par.fold_pieces(F, n, |r| r.len(), |a, b| a + b, 0), stopped);
        assert_eq!(
            par.map_chunks_mut(F, &mut out, 7, |_, _| ()).map(|_| ()),
            Err(Error::Interrupted { func: F })
        );
        let r = par.map_rows(F, 100, 10, Rows::of(&x, 10), 0, (), |(), _, _, _, _| Ok(()));
        assert_eq!(r.map(|_| ()), Err(Error::Interrupted { func: F }));
        let r = par.for_each_lane_block(F, l, (), Strided::new(&mut out), (), |(), _, _, _| Ok(()));
        assert_eq!(r.map(|_| ()), Err(Error::Interrupted { func: F }));
    }
    ARMED.store(false, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        Par::Seq.fold_pieces(F, n, |r| r.len(), |a, b| a + b, 0),
        Ok(n)
    );
}

#[test]
fn scratch_reports_allocation_failure() {
    let e = scratch("f", usize::MAX / 4, 0.0).unwrap_err();
    assert!(matches!(e, Error::Alloc { func: "f", .. }), "{e}");
}

#[test]
fn small_work_runs_on_the_calling_thread() {
    assert_eq!(Par::Seq.threads(), 1);
    assert_eq!(Par::Rayon(3).threads(), 3);
    assert_eq!(Par::Rayon(2).for_work(0), Par::Seq);
    assert_eq!(Par::Rayon(2).for_work(PAR_MIN_ELEMS - 1), Par::Seq);
    assert_eq!(Par::Rayon(2).for_work(PAR_MIN_ELEMS), Par::Rayon(2));
    assert_eq!(Par::Rayon(2).for_work(usize::MAX), Par::Rayon(2));
    // Worth splitting: the pool's threads take pieces of a long fold too (the calling thread takes
    // some, slowly here, so that a helper surely wakes while pieces are left).
    let main = std::thread::current().id();
    let on_pool = Par::Rayon(2)
        .fold_pieces(
            "t",
            PAR_MIN_ELEMS * 4,
            |_| {
                let here = std::thread::current().id() == main;
                if here {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                !here
            },
            |a, b| a || b,
            false,
        )
        .unwrap();
    assert!(on_pool);
}

/// The pieces are a contract (bits depend on them): pin their sizes (8192 elements of work per task).
#[test]
fn tasks_and_pieces_have_the_documented_sizes() {
    // Rows: TASK_ELEMS / n rows per task; long rows one per task, with the parallelism inside.
    for (rows, n, per_task, inside) in [
        (5000, 13, 8192 / 13, Par::Seq),
        (3, 5, 3, Par::Seq),
        (3, PAR_MIN_ELEMS, 1, Par::Rayon(2)),
        (1, 5, 1, Par::Rayon(2)),
    ] {
        let x = vec![0u8; rows * n];
        let parts = Par::Rayon(2)
            .map_rows(
                "t",
                rows,
                n,
                Rows::of(&x, n),
                0,
                (0, None),
                |(k, _), _, _, _, p| Ok((k + 1, Some(p))),
            )
            .unwrap();
        let sizes: Vec<usize> = parts.iter().map(|p| p.0).collect();
        let mut want = vec![per_task; rows / per_task];
        if rows % per_task > 0 {
            want.push(rows % per_task);
        }
        assert_eq!(sizes, want, "{rows}x{n}");
        assert!(parts.iter().all(|p| p.1 == Some(inside)), "{rows}x{n}");
    }
    // Lane blocks: rows in pieces of 16 * REDUCE_PIECE / width; blocks grouped by TASK_ELEMS.
    for (l, width, rows_per_piece, blocks_per_task) in [
        (Layout::new(2, 100, 1100), 512, 64, 1),
        (Layout::new(3, 7, 3), 3, 16 * REDUCE_PIECE / 3, 8192 / 21),
        (
            Layout::new(1, 5, 40),
            40,
            16 * REDUCE_PIECE / 40,
            8192 / 200,
        ),
    ] {
        let mut out = vec![0.0; l.len("t").unwrap()];
        let parts = Par::Seq
            .for_each_lane_block("t", l, (), Strided::new(&mut out), 0, |k, blk, _, _| {
                let pieces: Vec<_> = blk.pieces().collect();
                assert_eq!(pieces.len(), blk.piece_count());
                assert_eq!(pieces[0], 0..rows_per_piece.min(blk.n), "{l:?}");
                assert!(pieces.windows(2).all(|w| w[0].end == w[1].start));
                assert_eq!(pieces.last().unwrap().end, blk.n);
                assert!(blk.width <= width);
                Ok(k + 1)
            })
            .unwrap();
        let blocks = l.outer * l.inner.div_ceil(width);
        assert_eq!(parts.iter().sum::<usize>(), blocks, "{l:?}");
        assert_eq!(parts[0], blocks_per_task.min(blocks), "{l:?}");
    }
}

#[test]
fn strided_outputs_of_the_wrong_length_are_refused() {
    let l = Layout::new(2, 3, 600);
    let (mut good, mut bad) = (vec![0.0; 3600], vec![0.0; 3599]);
    let r =
        Par::Seq.for_each_lane_block("t", l, (), Strided::new(&mut bad), (), |(), _, _, _| Ok(()));
    assert!(r.is_err());
    let r = Par::Seq.for_each_lane_block(
        "t",
        l,
        (),
        Some(Strided::new(&mut bad)),
        (),
        |(), _, _, _| Ok(()),
    );
    assert!(r.is_err());
    let outs = (Strided::new(&mut good), Strided::new(&mut bad));
    let r = Par::Seq.for_each_lane_block("t", l, (), outs, (), |(), _, _, _| Ok(()));
    assert!(r.is_err());
    let (mut g1, mut g2) = (vec![0.0; 3600], vec![0.0; 3600]);
    let outs = (Strided::new(&mut g1), Some(Strided::new(&mut g2)));
    let r = Par::Seq.for_each_lane_block("t", l, (), outs, (), |(), _, _, _| Ok(()));
    assert!(r.is_ok());
}

#[test]
fn the_default_thread_count_can_be_set_and_restored() {
    // The only test that touches the process-wide default.
    let avail = std::thread::available_parallelism().map_or(1, |n| n.get());
    let var = std::env::var("RAYON_NUM_THREADS").ok();
    let env = threads_from(var.as_deref(), avail);
    assert_eq!(env_threads(), env);
    set_default_threads(3);
    assert_eq!(default_threads(), 3);
    assert_eq!(Par::from_threads(None).unwrap(), Par::Rayon(3));
    set_default_threads(1);
    assert_eq!(Par::from_threads(None).unwrap(), Par::Seq);
    set_default_threads(usize::MAX);
    assert_eq!(default_threads(), MAX_THREADS);
    set_default_threads(0);
    assert_eq!(default_threads(), env);
}
