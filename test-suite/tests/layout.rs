//! Bytes per object, measured through `heap_stats` (the figures the README's
//! memory-layout table quotes).

use std::cell::RefCell;

use pygc::{Gc, Trace};

/// Bytes of pooled memory one more live object of this kind costs.
fn block_bytes<T>(make: impl Fn() -> T) -> usize {
    let before = pygc::heap_stats().bytes_in_use;
    let keep: Vec<T> = (0..100).map(|_| make()).collect();
    let after = pygc::heap_stats().bytes_in_use;
    drop(keep);
    (after - before) / 100
}

#[derive(Trace)]
struct TwoFieldNode {
    value: u64,
    next: RefCell<Option<Gc<TwoFieldNode>>>,
}

#[test]
fn untracked_gc_u64_takes_a_16_byte_block() {
    assert_eq!(block_bytes(|| Gc::new(7u64)), 16);
}

#[test]
fn tracked_two_field_node_takes_a_56_byte_block() {
    // 32-byte tracked header + 8-byte value + 16-byte RefCell<Option<Gc>> = 56
    // (glibc's chunk for the same `Rc` node: 48).
    let bytes = block_bytes(|| {
        Gc::new(TwoFieldNode {
            value: 1,
            next: RefCell::new(None),
        })
    });
    assert_eq!(bytes, 56);
}

#[test]
fn untracked_two_field_value_takes_header_plus_value() {
    // An 8-byte header + (u64, u64) = 24 bytes: the 24-byte class (8-byte
    // steps below 128 bytes).
    assert_eq!(block_bytes(|| Gc::new((1u64, 2u64))), 24);
}

/// An immutable binary tree node, built bottom-up.
#[derive(Trace)]
struct Tree {
    left: Option<Gc<Tree>>,
    right: Option<Gc<Tree>>,
}

#[test]
fn tracked_two_pointer_tree_node_takes_a_48_byte_block() {
    // 32-byte tracked header + two 8-byte `Option<Gc>` = 48, the size of
    // glibc's chunk for the same `Rc` node (16 + 16 + 8, rounded to 16).
    let bytes = block_bytes(|| {
        Gc::new(Tree {
            left: None,
            right: None,
        })
    });
    assert_eq!(bytes, 48);
}
