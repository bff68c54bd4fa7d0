//! Workload names, sizes, the drop tally, and the one generic body every
//! implementation runs (`workload_fns!`), so no implementation or workload
//! is special-cased: each `impl_*.rs` only names its pointer (`P`) and cell
//! (`NodeCell`) types, defines `Node`, and says how to collect and whether
//! its crate collects cycles / collects by itself.

use std::cell::Cell;

/// One row of the table.
pub struct Workload {
    /// Name used on the command line and in the table.
    pub name: &'static str,
    /// True if the workload leaves cycles behind (needs a cycle collector:
    /// `n/a` for `Rc`).
    pub needs_cycle_collector: bool,
    /// What it does, for `--list` and the README.
    pub what: &'static str,
}

/// Every workload, in table order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "alloc_drop",
        needs_cycle_collector: false,
        what: "10M x (new untracked P<u64> + drop)",
    },
    Workload {
        name: "alloc_drop_tracked",
        needs_cycle_collector: false,
        what: "10M x (new Node + drop); Node can hold pointers",
    },
    Workload {
        name: "clone_drop",
        needs_cycle_collector: false,
        what: "10M x (clone P<u64> + drop the clone)",
    },
    Workload {
        name: "deref",
        needs_cycle_collector: false,
        what: "10M x deref of one P<u64>, summed",
    },
    Workload {
        name: "tree_build_drop",
        needs_cycle_collector: false,
        what: "complete binary tree of depth 20 (2^20-1 Nodes) built bottom-up, then dropped",
    },
    Workload {
        name: "tree_build_drop_bottom_up",
        needs_cycle_collector: false,
        what: "complete binary tree of depth 21 (2^21-1 immutable two-pointer Trees), children moved into their parent's constructor, then the root dropped and one full collect",
    },
    Workload {
        name: "cycles_collect",
        needs_cycle_collector: true,
        what: "1M two-Node cycles built and dropped (default settings), then one full collect",
    },
    Workload {
        name: "big_cycle",
        needs_cycle_collector: true,
        what: "ring of 1M Nodes built and dropped, then one full collect",
    },
    Workload {
        name: "deep_list_drop_1m",
        needs_cycle_collector: false,
        what: "singly linked list of 1M Nodes built, then dropped from the head",
    },
    Workload {
        name: "deep_list_drop_10m",
        needs_cycle_collector: false,
        what: "singly linked list of 10M Nodes built, then dropped from the head",
    },
    Workload {
        name: "young_garbage_no_old_heap",
        needs_cycle_collector: true,
        what: "500k short-lived two-Node cycles, automatic collection only (timed: the loop)",
    },
    Workload {
        name: "young_garbage_with_old_heap",
        needs_cycle_collector: true,
        what: "same, with a live old heap of ~1M Nodes (depth-20 tree) allocated and fully collected first (timed: the loop)",
    },
    Workload {
        name: "young_garbage_with_old_heap_unsettled",
        needs_cycle_collector: true,
        what: "same, without the settling full collection: the loop starts right after the old heap is built (timed: the loop)",
    },
    Workload {
        name: "young_garbage_refs_old_heap",
        needs_cycle_collector: true,
        what: "same, each young Node also points into the old heap (timed: the loop)",
    },
];

/// Looks a workload up by name.
pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

/// Problem sizes (`--quick` divides every N by 100).
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Pointer operations (alloc_drop, clone_drop, deref): 10M.
    pub ops: usize,
    /// Graph sizes (cycles, ring, 1M list): 1M.
    pub graph: usize,
    /// The long list: 10M.
    pub long_list: usize,
    /// Young cycles in the young_garbage workloads: 500k.
    pub young: usize,
    /// Depth of the complete binary trees (tree_build_drop, old heap): 20,
    /// i.e. 2^20 - 1 = 1,048,575 Nodes; `--quick`: the depth giving ~N/100.
    pub tree_depth: u32,
    /// Depth of the immutable tree of `tree_build_drop_bottom_up`: 21, i.e.
    /// 2^21 - 1 = 2,097,151 Trees; `--quick`: 15.
    pub bottom_up_depth: u32,
    /// Allocations of tracked objects between two manual `collect()` calls,
    /// for crates that never collect by themselves (pygc's default
    /// threshold 0).
    pub manual_collect_every: usize,
}

impl Sizes {
    /// The sizes for a full (`quick == false`) or smoke run.
    pub fn new(quick: bool) -> Sizes {
        let div = if quick { 100 } else { 1 };
        let graph = 1_000_000 / div;
        Sizes {
            ops: 10_000_000 / div,
            graph,
            long_list: 10_000_000 / div,
            young: 500_000 / div,
            // 1M -> 20 (1,048,575 nodes); 10k -> 14 (16,383 nodes).
            tree_depth: usize::BITS - graph.leading_zeros(),
            bottom_up_depth: usize::BITS - graph.leading_zeros() + 1,
            manual_collect_every: 2000,
        }
    }
}

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

/// The drop tally every node carries (zero-sized): +1 when a node is
/// created, -1 when its value is dropped. Non-zero after a workload and its
/// crate's collection means a leak.
pub struct Tally(());

impl Tally {
    /// Counts a new node.
    #[inline]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Tally {
        LIVE.with(|l| l.set(l.get() + 1));
        Tally(())
    }
}

impl Drop for Tally {
    #[inline]
    fn drop(&mut self) {
        LIVE.with(|l| l.set(l.get() - 1));
    }
}

/// Nodes created and not yet dropped.
pub fn live_nodes() -> i64 {
    LIVE.with(Cell::get)
}

/// Generates `run(workload, sizes) -> Option<Duration>` (None: not
/// applicable to this implementation) and `collect_all()` inside an
/// implementation module, from the items that module defines:
///
/// - `P<T>`: the pointer type (`Clone + Deref`),
/// - `Node` with fields `next` and `other`, each a cell of `Option<P<Node>>`
///   with `borrow_mut()` (`RefCell`, or `GcCell` for rust-gc),
/// - `Tree` with fields `left` and `right` (`Option<P<Tree>>`, no cell)
///   and `_tally`,
/// - `fn new_u64(u64) -> P<u64>`, `fn node(u64) -> P<Node>`,
/// - `fn collect()`: the crate's full cycle collection (no-op for Rc),
/// - `const COLLECTS_CYCLES: bool`, `const AUTO_COLLECT: bool`.
///
/// Timing covers the whole workload (build + drop + collect) except in the
/// young_garbage workloads, where only the loop of young cycles is timed
/// (building and dropping the old heap is set-up).
macro_rules! workload_fns {
    () => {
        #[inline]
        fn new_u64(v: u64) -> P<u64> {
            P::new(v)
        }

        #[inline]
        fn node(value: u64) -> P<Node> {
            P::new(Node {
                value,
                next: NodeCell::new(None),
                other: NodeCell::new(None),
                _tally: Tally::new(),
            })
        }

        #[inline(never)]
        fn tree(depth: u32) -> P<Node> {
            let n = node(u64::from(depth));
            if depth > 1 {
                *n.next.borrow_mut() = Some(tree(depth - 1));
                *n.other.borrow_mut() = Some(tree(depth - 1));
            }
            n
        }

        /// An immutable complete binary tree built bottom-up: both children
        /// exist before their parent and are moved into its constructor.
        #[inline(never)]
        fn tree_bottom_up(depth: u32) -> P<Tree> {
            let (left, right) = if depth > 1 {
                (
                    Some(tree_bottom_up(depth - 1)),
                    Some(tree_bottom_up(depth - 1)),
                )
            } else {
                (None, None)
            };
            P::new(Tree {
                left,
                right,
                _tally: Tally::new(),
            })
        }

        /// A tree whose every node is also kept in `all`.
        fn old_heap(depth: u32, all: &mut Vec<P<Node>>) -> P<Node> {
            let n = node(u64::from(depth));
            all.push(P::clone(&n));
            if depth > 1 {
                *n.next.borrow_mut() = Some(old_heap(depth - 1, all));
                *n.other.borrow_mut() = Some(old_heap(depth - 1, all));
            }
            n
        }

        #[inline(never)]
        fn young_loop(s: &$crate::workloads::Sizes, old: &[P<Node>]) {
            use std::hint::black_box;
            let mut since_collect = 0usize;
            for i in 0..s.young {
                let a = node(i as u64);
                let b = node(i as u64);
                *a.next.borrow_mut() = Some(P::clone(&b));
                *b.next.borrow_mut() = Some(P::clone(&a));
                if !old.is_empty() {
                    *a.other.borrow_mut() = Some(P::clone(&old[(2 * i) % old.len()]));
                    *b.other.borrow_mut() = Some(P::clone(&old[(2 * i + 1) % old.len()]));
                }
                drop(black_box(a));
                drop(black_box(b));
                if !AUTO_COLLECT {
                    since_collect += 2;
                    if since_collect >= s.manual_collect_every {
                        since_collect = 0;
                        collect();
                    }
                }
            }
        }

        /// Runs one repetition of `workload`; returns the timed part, or
        /// `None` when the workload needs a cycle collector this
        /// implementation lacks.
        pub fn run(workload: &str, s: &$crate::workloads::Sizes) -> Option<std::time::Duration> {
            use std::hint::black_box;
            use std::time::Instant;
            let w = $crate::workloads::find(workload).expect("unknown workload");
            if w.needs_cycle_collector && !COLLECTS_CYCLES {
                return None;
            }
            let t = Instant::now();
            match workload {
                "alloc_drop" => {
                    for i in 0..s.ops as u64 {
                        drop(black_box(new_u64(i)));
                    }
                }
                "alloc_drop_tracked" => {
                    for i in 0..s.ops as u64 {
                        drop(black_box(node(i)));
                    }
                }
                "clone_drop" => {
                    let p = new_u64(7);
                    for _ in 0..s.ops {
                        drop(black_box(P::clone(black_box(&p))));
                    }
                }
                "deref" => {
                    let p = new_u64(7);
                    let mut sum = 0u64;
                    for _ in 0..s.ops {
                        sum = sum.wrapping_add(**black_box(&p));
                    }
                    black_box(sum);
                }
                "tree_build_drop" => {
                    drop(black_box(tree(s.tree_depth)));
                }
                "tree_build_drop_bottom_up" => {
                    drop(black_box(tree_bottom_up(s.bottom_up_depth)));
                    collect();
                }
                "cycles_collect" => {
                    for i in 0..s.graph as u64 {
                        let a = node(i);
                        let b = node(i);
                        *a.next.borrow_mut() = Some(P::clone(&b));
                        *b.next.borrow_mut() = Some(P::clone(&a));
                        drop(black_box(a));
                        drop(black_box(b));
                    }
                    collect();
                }
                "big_cycle" => {
                    let first = node(0);
                    let mut prev = P::clone(&first);
                    for i in 1..s.graph as u64 {
                        let n = node(i);
                        *prev.next.borrow_mut() = Some(P::clone(&n));
                        prev = n;
                    }
                    *prev.next.borrow_mut() = Some(first);
                    drop(black_box(prev));
                    collect();
                }
                "deep_list_drop_1m" | "deep_list_drop_10m" => {
                    let n = if workload == "deep_list_drop_1m" {
                        s.graph
                    } else {
                        s.long_list
                    };
                    let mut head: Option<P<Node>> = None;
                    for i in 0..n as u64 {
                        let nd = node(i);
                        *nd.next.borrow_mut() = head.take();
                        head = Some(nd);
                    }
                    drop(black_box(head));
                }
                "young_garbage_no_old_heap" => {
                    young_loop(s, &[]);
                }
                "young_garbage_with_old_heap"
                | "young_garbage_with_old_heap_unsettled"
                | "young_garbage_refs_old_heap" => {
                    let mut all = Vec::new();
                    let root = old_heap(s.tree_depth, &mut all);
                    // Untimed set-up, the same for every crate: one full
                    // collection settles the freshly built old heap, so the
                    // timed loop measures young garbage next to a long-lived
                    // heap rather than that heap's own first full collection.
                    // The `_unsettled` row skips it: whatever the crate still
                    // owes the fresh heap (promotion, buffered roots) lands
                    // in the timed loop, as in a program that just built it.
                    if workload != "young_garbage_with_old_heap_unsettled" {
                        collect();
                    }
                    let t = Instant::now();
                    if workload == "young_garbage_refs_old_heap" {
                        young_loop(s, &all);
                    } else {
                        young_loop(s, &[]);
                    }
                    let elapsed = t.elapsed();
                    drop(black_box(all));
                    drop(black_box(root));
                    return Some(elapsed);
                }
                other => unreachable!("workload {other} has no body"),
            }
            Some(t.elapsed())
        }

        /// The crate's full collection (after a workload, before the leak
        /// check; untimed).
        pub fn collect_all() {
            collect();
        }
    };
}
pub(crate) use workload_fns;
