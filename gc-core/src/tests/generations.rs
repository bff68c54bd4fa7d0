//! Generations under CPython 3.13's automatic-collection rules: which
//! generation each automatic collection collects (thresholds, the
//! bpo-4074 delay of full collections), where the objects of a collection
//! that skipped its graph passes end up, and the long-lived counters.
//!
//! Every test runs on a fresh thread, so it starts from a fresh heap
//! (default thresholds, counts and long-lived counters 0, no object).

use std::cell::{Cell, RefCell};
use std::mem::ManuallyDrop;
use std::rc::Rc;

use super::candidates::check_bookkeeping;
use super::node::{Node, PlainNode, take_dropped, take_finalized};
use crate::heap::heap;
use crate::{
    CollectPhase, Gc, add_callback, collect, collect_generation, count, set_threshold, stats,
};

/// Runs `body` on a new thread (a fresh heap) and propagates its panic.
fn on_fresh_thread(body: impl FnOnce() + Send + 'static) {
    if let Err(payload) = std::thread::spawn(body).join() {
        std::panic::resume_unwind(payload);
    }
}

/// The lengths of the three generation lists.
fn generation_lengths() -> [usize; 3] {
    let heap = heap();
    [0, 1, 2].map(|g| heap.gens.list(g).len())
}

/// `(long_lived_pending, long_lived_total)`.
fn long_lived() -> (usize, usize) {
    heap().gens.long_lived()
}

/// One automatic collection as seen at its `Stop` callback: the index of
/// the allocation that started it, its generation, and the long-lived
/// counters it left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    allocation: usize,
    generation: usize,
    pending: usize,
    total: usize,
}

/// Allocates `n` nodes (kept alive, no handle ever dropped, so no
/// candidate), recording every collection they start.
fn allocate_recording(n: usize) -> (Vec<Gc<PlainNode>>, Vec<Seen>) {
    let index = Rc::new(Cell::new(0));
    let seen = Rc::new(RefCell::new(Vec::new()));
    let id = {
        let (index, seen) = (index.clone(), seen.clone());
        add_callback(move |phase, info| {
            if phase == CollectPhase::Stop {
                let (pending, total) = long_lived();
                seen.borrow_mut().push(Seen {
                    allocation: index.get(),
                    generation: info.generation,
                    pending,
                    total,
                });
            }
        })
    };
    let mut kept = Vec::with_capacity(n);
    for i in 0..n {
        index.set(i);
        kept.push(PlainNode::plain(i));
    }
    assert!(crate::remove_callback(id));
    let seen = seen.borrow().clone();
    (kept, seen)
}

/// A row of an expected sequence: allocation index, generation,
/// long_lived_pending and long_lived_total after the collection.
type Row = (usize, usize, usize, usize);

/// 40 allocations under thresholds (1, 1, 1), worked out by hand from
/// CPython 3.13's `gc_collect_generations` (the new object joins
/// generation 0 after the collection its allocation started, uncounted):
/// every second allocation collects, generation 1 every third time,
/// generation 2 when count[2] reaches 2.
const SEQUENCE_1_1_1: [Row; 20] = [
    (1, 0, 0, 0),
    (3, 0, 0, 0),
    (5, 1, 5, 0),
    (7, 0, 5, 0),
    (9, 0, 5, 0),
    (11, 1, 11, 0),
    (13, 2, 0, 13), // 11 pending >= 0 / 4
    (15, 0, 0, 13),
    (17, 0, 0, 13),
    (19, 1, 6, 13),
    (21, 0, 6, 13),
    (23, 0, 6, 13),
    (25, 1, 12, 13),
    (27, 2, 0, 27), // 12 pending >= 13 / 4
    (29, 0, 0, 27),
    (31, 0, 0, 27),
    (33, 1, 6, 27),
    (35, 0, 6, 27),
    (37, 0, 6, 27),
    (39, 1, 12, 27),
];

/// 34 allocations under thresholds (1, 0, 0): full collections are due
/// whenever count[2] > 0; from the 29th allocation on, they wait for a
/// quarter of the long-lived objects (the younger generations are
/// collected instead, the oldest one whose count exceeds its threshold).
const SEQUENCE_1_0_0: [Row; 17] = [
    (1, 0, 0, 0),
    (3, 1, 3, 0),
    (5, 2, 0, 5), // 3 pending >= 0 / 4
    (7, 0, 0, 5),
    (9, 1, 4, 5),
    (11, 2, 0, 11), // 4 >= 5 / 4
    (13, 0, 0, 11),
    (15, 1, 4, 11),
    (17, 2, 0, 17), // 4 >= 11 / 4
    (19, 0, 0, 17),
    (21, 1, 4, 17),
    (23, 2, 0, 23), // 4 >= 17 / 4
    (25, 0, 0, 23),
    (27, 1, 4, 23),
    (29, 0, 4, 23), // 4 < 23 / 4: not full; count[1] = 0: generation 0
    (31, 1, 8, 23), // 4 < 23 / 4: not full; count[1] = 1: generation 1
    (33, 2, 0, 33), // 8 >= 23 / 4
];

/// Allocates `n` nodes under `thresholds` and checks the automatic
/// collections they start against `expected`, then the counts and the
/// generation lengths left; with `audit`, every collection runs its graph
/// passes instead of skipping them.
fn check_sequence(
    thresholds: (usize, usize, usize),
    n: usize,
    expected: &[Row],
    audit: bool,
    counts: [usize; 3],
    lengths: [usize; 3],
) {
    set_threshold(thresholds.0, thresholds.1, thresholds.2);
    heap().audit_skips.set(audit);
    let (kept, seen) = allocate_recording(n);
    // Leaked if an assertion fails: a broken collector's bookkeeping could
    // panic again while unwinding drops them, aborting the test binary.
    let kept = ManuallyDrop::new(kept);
    heap().audit_skips.set(false);
    let expected: Vec<Seen> = expected
        .iter()
        .map(|&(allocation, generation, pending, total)| Seen {
            allocation,
            generation,
            pending,
            total,
        })
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(count(), counts);
    assert_eq!(generation_lengths(), lengths);
    check_bookkeeping();
    drop(ManuallyDrop::into_inner(kept));
}

/// The sequence of automatic collections under small thresholds, as
/// CPython's test_gc checks its generations: `count > threshold` (not
/// `>=`) for every generation, the bpo-4074 delay, and the long-lived
/// counters after each collection, on the path that skips the graph
/// passes (nobody dropped a handle, so no collection has a candidate).
#[test]
fn automatic_generation_sequence_under_small_thresholds() {
    on_fresh_thread(|| {
        check_sequence((1, 1, 1), 40, &SEQUENCE_1_1_1, false, [0, 0, 2], [1, 0, 39]);
    });
    on_fresh_thread(|| {
        check_sequence((1, 0, 0), 34, &SEQUENCE_1_0_0, false, [0, 0, 0], [1, 0, 33]);
    });
}

/// The same sequences on the scanned path: with the skip audit on, every
/// collection runs its graph passes; counts, generations and long-lived
/// counters must come out the same.
#[test]
fn automatic_generation_sequence_when_scanned() {
    on_fresh_thread(|| {
        check_sequence((1, 1, 1), 40, &SEQUENCE_1_1_1, true, [0, 0, 2], [1, 0, 39]);
    });
    on_fresh_thread(|| {
        check_sequence((1, 0, 0), 34, &SEQUENCE_1_0_0, true, [0, 0, 0], [1, 0, 33]);
    });
}

/// Generation 0 is collected when its count *exceeds* its threshold: with
/// threshold 3, on the 4th tracked allocation, then every 4th (the
/// allocation that starts a collection is not counted after it).
#[test]
fn generation_0_collects_when_its_count_exceeds_the_threshold() {
    on_fresh_thread(|| {
        set_threshold(3, 100, 100);
        let (kept, seen) = allocate_recording(12);
        let at: Vec<(usize, usize)> = seen.iter().map(|s| (s.allocation, s.generation)).collect();
        assert_eq!(at, [(3, 0), (7, 0), (11, 0)]);
        assert_eq!(count(), [0, 3, 0]);
        drop(kept);
    });
}

/// An automatic collection that skips its graph passes still promotes its
/// objects, exactly as a scanned one would: a generation-0 collection
/// moves them to generation 1, a generation-1 collection to generation 2.
/// Observed through what later explicit collections find.
#[test]
fn skipped_automatic_collections_promote() {
    on_fresh_thread(|| {
        // Generation 0 → 1.
        set_threshold(1, 100, 100);
        let a = Node::new(1);
        let filler = Node::new(2); // count 2 > 1: collection of gen 0
        assert_eq!(stats()[0].collections, 1);
        assert_eq!(
            stats()[0].collected,
            0,
            "skipped: nothing could be unreachable"
        );
        assert_eq!(
            generation_lengths(),
            [1, 1, 0],
            "a promoted to generation 1, filler (linked after) in 0"
        );
        set_threshold(2000, 10, 10);
        a.link(&a);
        drop(a); // garbage self-cycle, in generation 1
        assert_eq!(collect_generation(0), 0, "a is no longer in generation 0");
        assert!(take_dropped().is_empty());
        assert_eq!(collect_generation(1), 1, "a was in generation 1");
        assert_eq!(take_dropped(), [1]);
        take_finalized();
        drop(filler);
        collect();
        take_dropped();
        take_finalized();

        // Generation 1 → 2.
        let b = Node::new(3);
        collect_generation(0); // b in generation 1, count [0, 1, 0]
        set_threshold(1, 0, 100);
        let gen1_collections = stats()[1].collections;
        let c = Node::new(4);
        let d = Node::new(5); // count[1] = 1 > 0: collection of gen 1
        assert_eq!(stats()[1].collections, gen1_collections + 1);
        assert_eq!(
            generation_lengths(),
            [1, 0, 2],
            "b and c promoted to generation 2, d in 0"
        );
        set_threshold(2000, 10, 10);
        b.link(&b);
        drop(b);
        assert_eq!(collect_generation(1), 0, "b is no longer in generation 1");
        assert_eq!(collect(), 1, "b was in generation 2");
        assert_eq!(take_dropped(), [3]);
        take_finalized();
        drop((c, d));
    });
}

/// Long-lived counters on the scanned path with garbage in the set:
/// survivors (not the garbage) of a generation-1 collection are pending,
/// survivors of a full collection are the total.
#[test]
fn long_lived_counters_count_survivors_not_garbage() {
    on_fresh_thread(|| {
        let kept: Vec<_> = (0..8).map(Node::new).collect();
        assert_eq!(collect(), 0);
        assert_eq!(long_lived(), (0, 8));
        let more: Vec<_> = (10..13).map(Node::new).collect();
        let x = Node::new(20);
        let y = Node::new(21);
        x.link(&y);
        y.link(&x);
        drop((x, y));
        assert_eq!(collect_generation(0), 2);
        let x = Node::new(22);
        x.link(&x);
        drop(x);
        assert_eq!(collect_generation(1), 1);
        assert_eq!(long_lived(), (3, 8), "the 3 survivors are pending");
        let z = Node::new(30);
        z.link(&z);
        drop(z);
        assert_eq!(collect(), 1);
        assert_eq!(long_lived(), (0, 11), "11 survivors");
        assert_eq!(generation_lengths(), [0, 0, 11]);
        take_dropped();
        take_finalized();
        drop((kept, more));
    });
}

/// Long-lived counters of automatic collections with candidates (the
/// scanned path, no audit): a generation-1 collection adds its survivors
/// to the pending count, a full one sets the total.
#[test]
fn long_lived_counters_of_scanned_automatic_collections() {
    on_fresh_thread(|| {
        let kept: Vec<_> = (0..4).map(Node::new).collect();
        // A garbage self-cycle: a candidate in generation 0.
        let g = Node::new(100);
        g.link(&g);
        drop(g);
        collect_generation(0); // frees it; count [0, 1, 0]
        take_dropped();
        take_finalized();
        // A candidate in generation 1: a dropped clone of a kept node.
        drop(kept[0].clone());
        set_threshold(1, 0, 100);
        let a = Node::new(5);
        let b = Node::new(6); // collection of gen 1 (count[1] = 1 > 0)
        assert_eq!(stats()[1].collections, 1);
        assert_eq!(
            long_lived(),
            (5, 0),
            "4 kept + a survived into generation 2"
        );
        // A full collection with a candidate in generation 2.
        drop(kept[1].clone());
        set_threshold(1, 100, 0);
        let c = Node::new(7);
        // count[0] = 2 > 1, count[2] = 1 > 0 and 5 pending >= 0 / 4.
        let d = Node::new(8);
        assert_eq!(stats()[2].collections, 1);
        assert_eq!(long_lived(), (0, 7), "4 kept + a, b, c");
        assert_eq!(generation_lengths(), [1, 0, 7]);
        set_threshold(2000, 10, 10);
        check_bookkeeping();
        drop((kept, a, b, c, d));
    });
}

/// bpo-4074 at its boundary: with 8 long-lived objects, a full collection
/// that is due waits while fewer than 8 / 4 = 2 objects are pending
/// (generation 1 is collected instead), and runs at exactly 2.
#[test]
fn full_collection_waits_for_a_quarter_of_long_lived_objects() {
    for pending in [0, 1, 2, 3] {
        on_fresh_thread(move || {
            let kept: Vec<_> = (0..8).map(PlainNode::plain).collect();
            collect();
            assert_eq!(long_lived(), (0, 8));
            let young: Vec<_> = (0..pending).map(|i| PlainNode::plain(100 + i)).collect();
            collect_generation(1); // count [0, 0, 1]
            assert_eq!(long_lived(), (pending, 8));
            collect_generation(0); // count [0, 1, 1]
            assert_eq!(count(), [0, 1, 1]);
            let seen = Rc::new(RefCell::new(Vec::new()));
            let log = seen.clone();
            let id = add_callback(move |phase, info| {
                if phase == CollectPhase::Start {
                    log.borrow_mut().push(info.generation);
                }
            });
            set_threshold(1, 0, 0);
            let a = PlainNode::plain(200);
            assert!(seen.borrow().is_empty());
            let b = PlainNode::plain(201); // count[0] = 2 > 1: automatic
            set_threshold(2000, 10, 10);
            assert!(crate::remove_callback(id));
            let expected = if pending < 2 { 1 } else { 2 };
            assert_eq!(
                *seen.borrow(),
                [expected],
                "{pending} pending of 8 long-lived"
            );
            drop((kept, young, a, b));
        });
    }
}
