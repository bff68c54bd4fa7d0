//! Release-only stress tests (`cargo test --release --test stress`): 10
//! million objects, on the main thread and on a 256 KiB thread stack.

use std::cell::RefCell;

use pygc::{Gc, Trace};

#[derive(Trace, Default)]
struct Link {
    next: RefCell<Option<Gc<Link>>>,
}

#[derive(Trace)]
struct Root {
    chain: Gc<Link>,
    me: RefCell<Option<Gc<Root>>>,
}

const TEN_MILLION: usize = 10_000_000;

fn chain(n: usize) -> (Gc<Link>, Gc<Link>) {
    let tail = Gc::new(Link::default());
    let mut head = tail.clone();
    for _ in 1..n {
        head = Gc::new(Link {
            next: RefCell::new(Some(head)),
        });
    }
    (head, tail)
}

fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the thread finished without overflowing its stack");
}

fn assert_heap_empty() {
    let stats = pygc::heap_stats();
    assert_eq!(stats.blocks(), 0, "{stats:?}");
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "release-only: cargo test --release --test stress"
)]
fn drop_ten_million_chain_on_main_thread() {
    let (head, tail) = chain(TEN_MILLION);
    drop(tail);
    drop(head);
    assert_heap_empty();
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "release-only: cargo test --release --test stress"
)]
fn drop_ten_million_chain_on_256k_stack() {
    on_small_stack(|| {
        let (head, tail) = chain(TEN_MILLION);
        drop(tail);
        drop(head);
        assert_heap_empty();
    });
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "release-only: cargo test --release --test stress"
)]
fn collect_ten_million_ring_on_256k_stack() {
    on_small_stack(|| {
        let (head, tail) = chain(TEN_MILLION);
        *tail.next.borrow_mut() = Some(head);
        drop(tail);
        assert_eq!(pygc::collect(), TEN_MILLION);
        assert_heap_empty();
    });
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "release-only: cargo test --release --test stress"
)]
fn collect_ten_million_deep_tree_on_256k_stack() {
    on_small_stack(|| {
        // A root in a self-cycle with a 10M-deep chain below it.
        let (head, tail) = chain(TEN_MILLION);
        let root = Gc::new(Root {
            chain: head,
            me: RefCell::new(None),
        });
        *root.me.borrow_mut() = Some(root.clone());
        drop((root, tail));
        assert_eq!(pygc::collect(), TEN_MILLION + 1);
        assert_heap_empty();
    });
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "release-only: cargo test --release --test stress"
)]
fn millions_of_short_lived_cycles_stay_in_bounded_memory() {
    let mut peak = 0;
    for i in 0..5_000_000 {
        let a = Gc::new(Link::default());
        let b = Gc::new(Link {
            next: RefCell::new(Some(a.clone())),
        });
        *a.next.borrow_mut() = Some(b);
        if i % 100_000 == 0 {
            peak = peak.max(pygc::heap_stats().bytes_reserved);
        }
    }
    // Generation 0 holds at most ~2000 objects; old generations are
    // collected by the long-lived rule. Allow generous slack.
    assert!(peak < 64 << 20, "peak reserved {peak} bytes");
    pygc::collect();
    assert_heap_empty();
}
