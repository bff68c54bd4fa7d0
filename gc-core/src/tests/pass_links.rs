//! A graph pass keeps its internal counts in the links pointing against
//! its walk (`list::Dir`): whichever way it walks and wherever a `trace`
//! panics — while the direction is sampled, in `subtract_refs`, or in the
//! mark walk after it relinked part of the set — every list is a
//! well-formed ring again afterwards, and the next collection is exact.

use super::node::{PlainNode, panic_at_trace, ring_of, take_dropped, take_traced};
use crate::list::Dir;
use crate::{Gc, collect, collect_generation};

/// Survivors the pass samples at both ends (more than `choose_walk`'s 32).
const SURVIVORS: usize = if cfg!(miri) { 40 } else { 60 };

/// `SURVIVORS` nodes linked top-down (each to the one allocated after it)
/// or bottom-up (each to the one before), and a 5-node garbage ring.
fn survivors_and_garbage(top_down: bool) -> Gc<PlainNode> {
    let nodes: Vec<_> = (0..SURVIVORS).map(PlainNode::plain).collect();
    for pair in nodes.windows(2) {
        if top_down {
            pair[0].link(&pair[1]);
        } else {
            pair[1].link(&pair[0]);
        }
    }
    drop(ring_of::<false>(100, 5));
    if top_down {
        nodes[0].clone()
    } else {
        nodes[SURVIVORS - 1].clone()
    }
}

/// Runs a gen-0 collection whose `panic_at`-th trace panics, then checks
/// the lists and collects the garbage. Returns whether the panic fired.
fn collect_with_panic_at(top_down: bool, panic_at: usize) -> bool {
    std::thread::spawn(move || {
        let root = survivors_and_garbage(top_down);
        take_traced();
        panic_at_trace(panic_at);
        let panicked = match std::panic::catch_unwind(|| collect_generation(0)) {
            Ok(found) => {
                assert_eq!(found, 5, "no panic: the ring is found at once");
                false
            }
            Err(_) => {
                assert!(take_dropped().is_empty(), "a failed pass frees nothing");
                super::candidates::check_bookkeeping();
                assert_eq!(collect(), 5, "the next collection finds the ring");
                true
            }
        };
        panic_at_trace(0);
        assert_eq!(take_dropped(), [100, 101, 102, 103, 104]);
        super::candidates::check_bookkeeping();
        drop(root);
        panicked
    })
    .join()
    .unwrap()
}

#[test]
fn a_failed_pass_leaves_well_formed_lists_whichever_way_it_walked() {
    // Sampling traces 32 objects, subtract_refs every member, the mark
    // walk each survivor: panic points beyond that total do not fire.
    let traces = 32 + (SURVIVORS + 5) + SURVIVORS;
    let step = if cfg!(miri) { 23 } else { 5 };
    for top_down in [true, false] {
        let mut fired = 0;
        for panic_at in (1..=traces + 10).step_by(step) {
            fired += usize::from(collect_with_panic_at(top_down, panic_at));
        }
        assert!(fired > 3, "panics hit several steps of the pass");
    }
}

#[test]
fn the_pass_walks_the_way_the_edges_point() {
    for (top_down, expected) in [(true, Dir::Forward), (false, Dir::Backward)] {
        std::thread::spawn(move || {
            let root = survivors_and_garbage(top_down);
            assert_eq!(collect_generation(0), 5);
            assert_eq!(crate::heap::heap().walk_hint.get(), expected);
            assert_eq!(
                crate::heap::heap().last_walk.get(),
                (5, 0),
                "only the garbage moved"
            );
            super::candidates::check_bookkeeping();
            drop(root);
        })
        .join()
        .unwrap();
    }
}
