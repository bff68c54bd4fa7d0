//! Automatic collections skipping their graph passes when no object of
//! their set lost a strong handle (`collect::candidates`).

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use proptest::prelude::*;

use crate::header::{Code, Flags};
use crate::heap::heap;
use crate::list::{self, ListHead};
use crate::tracked::Tracked;
use crate::{
    CallbackId, CollectPhase, Gc, Trace, Tracer, Weak, add_callback, collect, collect_generation,
    freeze, remove_callback, set_threshold, stats, unfreeze,
};

thread_local! {
    static TRACES: Cell<usize> = const { Cell::new(0) };
    static LIVE: RefCell<BTreeSet<usize>> = const { RefCell::new(BTreeSet::new()) };
    /// An explicit collection (`collect`, `collect_generation`) is running.
    static MANUAL: Cell<bool> = const { Cell::new(false) };
    /// `TRACES` at the start of the running automatic collection, if its
    /// set held no candidate (it may skip its graph passes).
    static SKIPPABLE: Cell<Option<usize>> = const { Cell::new(None) };
    /// Skippable automatic collections that ran their graph passes (audits),
    /// and those that skipped them.
    static AUDITED: Cell<usize> = const { Cell::new(0) };
    static SKIPPED: Cell<usize> = const { Cell::new(0) };
    /// The next node id (`fresh_id`): never reused, so that the garbage a
    /// failed case leaves (freed by the next case's first collection) cannot
    /// be mistaken for a node of the next case.
    static NEXT_ID: Cell<usize> = const { Cell::new(0) };
    /// Finalizers that resurrected their object into a new cycle, and
    /// finalizers that called `freeze()`.
    static RESURRECTED: Cell<usize> = const { Cell::new(0) };
    static FROZE: Cell<usize> = const { Cell::new(0) };
}

fn fresh_id() -> usize {
    NEXT_ID.with(|n| n.replace(n.get() + 1))
}

/// A node counting the `trace` calls made on any node. `FINALIZER` is its
/// `Trace::has_finalizer()`: garbage goes through the finalize/re-check path
/// with it, and is condemned by the mark walk without it (then `resurrect`
/// and `freeze` never act).
struct Counted<const FINALIZER: bool = false> {
    id: usize,
    edges: RefCell<Vec<Gc<Counted<FINALIZER>>>>,
    /// Itself, weakly, once `resurrect` is set.
    this: RefCell<Option<Weak<Counted<FINALIZER>>>>,
    /// Its finalizer resurrects it into a new cycle: it upgrades `this` and
    /// moves that handle into a new partner node (a fresh id in `LIVE`),
    /// which it stores in its own edges, so `self <-> partner`.
    resurrect: Cell<bool>,
    /// Its finalizer calls `freeze()`.
    freeze: Cell<bool>,
}

impl<const FINALIZER: bool> Counted<FINALIZER> {
    fn new(id: usize) -> Gc<Self> {
        LIVE.with(|l| l.borrow_mut().insert(id));
        Gc::new(Counted {
            id,
            edges: RefCell::new(Vec::new()),
            this: RefCell::new(None),
            resurrect: Cell::new(false),
            freeze: Cell::new(false),
        })
    }
}

impl<const FINALIZER: bool> Drop for Counted<FINALIZER> {
    fn drop(&mut self) {
        LIVE.with(|l| assert!(l.borrow_mut().remove(&self.id), "dropped twice"));
    }
}

// SAFETY: visits each owned `Gc` once.
unsafe impl<const FINALIZER: bool> Trace for Counted<FINALIZER> {
    fn trace(&self, tracer: &mut Tracer) {
        TRACES.with(|t| t.set(t.get() + 1));
        self.edges.trace(tracer);
    }

    fn has_finalizer() -> bool {
        FINALIZER
    }

    /// Runs at most once per object (PEP 442). On the refcount path `this`
    /// no longer upgrades: no resurrection there.
    fn run_finalizer(&self) {
        if self.freeze.get() {
            FROZE.with(|f| f.set(f.get() + 1));
            freeze();
        }
        if self.resurrect.get() {
            let me = self.this.borrow().as_ref().and_then(Weak::upgrade);
            if let Some(me) = me {
                RESURRECTED.with(|r| r.set(r.get() + 1));
                let partner = Counted::new(fresh_id());
                partner.edges.borrow_mut().push(me);
                self.edges.borrow_mut().push(partner);
            }
        }
    }
}

fn live() -> BTreeSet<usize> {
    LIVE.with(|l| l.borrow().clone())
}

/// A listed object outside a collection: no marks, no collector count left
/// in its links, weak references not cleared.
fn assert_clean(object: Tracked) {
    assert!(
        !object
            .prefix()
            .has(Flags::REACHABLE | Flags::VISITED | Flags::WEAK_CLEARED)
    );
    assert!(
        crate::list::links_back(object),
        "a link still holds a count"
    );
}

/// Ids reachable from `roots` through the real graph. The walk borrows and
/// never clones a handle: dropping a clone would flag its object a
/// candidate, and no automatic collection could skip its graph passes.
fn reachable<const FINALIZER: bool>(roots: &[Gc<Counted<FINALIZER>>]) -> BTreeSet<usize> {
    fn walk<const FINALIZER: bool>(node: &Counted<FINALIZER>, seen: &mut BTreeSet<usize>) {
        if seen.insert(node.id) {
            for edge in node.edges.borrow().iter() {
                walk(edge, seen);
            }
        }
    }
    let mut seen = BTreeSet::new();
    for root in roots {
        walk(root, &mut seen);
    }
    seen
}

/// Restores the default thresholds and audit mode when a test ends.
struct Settings;

impl Settings {
    fn set(thresholds: (usize, usize, usize), audit: bool) -> Settings {
        unfreeze();
        collect();
        set_threshold(thresholds.0, thresholds.1, thresholds.2);
        heap().audit_skips.set(audit);
        Settings
    }
}

impl Drop for Settings {
    fn drop(&mut self) {
        set_threshold(2000, 10, 10);
        heap().audit_skips.set(false);
        collect();
    }
}

/// An explicit collection: not watched as an automatic one.
fn manual<R>(f: impl FnOnce() -> R) -> R {
    MANUAL.with(|m| m.set(true));
    let result = f();
    MANUAL.with(|m| m.set(false));
    result
}

/// Candidates counted under the codes of a collection of `generation`'s set.
fn set_candidates(generation: usize) -> usize {
    let heap = heap();
    let codes = [Code::GEN0, Code::GEN1, heap.gens.old_code()];
    codes[..=generation]
        .iter()
        .map(|&c| heap.candidates[c.index()].get())
        .sum()
}

/// Watches the automatic collections: each whose set is not empty and
/// holds no candidate (so it may skip its graph passes) counts in
/// `AUDITED` if it traced (ran the passes), in `SKIPPED` if not.
/// Unregistered on drop.
struct SkipWatch(CallbackId);

impl SkipWatch {
    fn start() -> SkipWatch {
        SkipWatch(add_callback(|phase, info| match phase {
            CollectPhase::Start => {
                let heap = heap();
                let members: usize = (0..=info.generation).map(|g| heap.gens.list(g).len()).sum();
                let skippable =
                    !MANUAL.with(Cell::get) && members > 0 && set_candidates(info.generation) == 0;
                SKIPPABLE.with(|s| s.set(skippable.then(|| TRACES.with(Cell::get))));
            }
            CollectPhase::Stop => {
                if let Some(before) = SKIPPABLE.with(Cell::take) {
                    let tally = if TRACES.with(Cell::get) > before {
                        &AUDITED
                    } else {
                        &SKIPPED
                    };
                    tally.with(|t| t.set(t.get() + 1));
                }
            }
        }))
    }
}

impl Drop for SkipWatch {
    fn drop(&mut self) {
        remove_callback(self.0);
    }
}

fn list_objects(list: &ListHead) -> Vec<Tracked> {
    let mut objects = Vec::new();
    list::for_each(list, |node| objects.push(node));
    objects
}

/// The bookkeeping the skip relies on: every object on a generation list
/// carries that generation's code and no trace of a collection, generation
/// 2's length is known, and every flagged object is counted under its code.
pub(super) fn check_bookkeeping() {
    let heap = heap();
    assert!(heap.unreachable.is_empty() && heap.pending.is_empty());
    let old = heap.gens.old_code();
    let expected = [Code::GEN0, Code::GEN1, old];
    let mut flagged = [0usize; Code::COUNT];
    for (generation, list) in heap.gens.all_lists()[..3].iter().enumerate() {
        let objects = list_objects(list);
        for &object in &objects {
            let h = object.prefix();
            assert_eq!(h.code(), expected[generation], "generation {generation}");
            assert_clean(object);
            if h.has(Flags::CANDIDATE) {
                flagged[h.code().index()] += 1;
            }
        }
        if generation == 2 {
            assert_eq!(heap.gens.old_len(), objects.len(), "generation 2 length");
        }
    }
    for object in list_objects(heap.gens.permanent()) {
        assert_eq!(object.prefix().code(), Code::PERMANENT);
        assert_clean(object);
        if object.prefix().has(Flags::CANDIDATE) {
            flagged[Code::PERMANENT.index()] += 1;
        }
    }
    for (c, &n) in flagged.iter().enumerate() {
        assert!(
            heap.candidates[c].get() >= n,
            "code {c}: {n} flagged, {} counted",
            heap.candidates[c].get()
        );
    }
}

#[test]
fn automatic_collections_skip_graphs_nobody_dropped_a_handle_of() {
    let _settings = Settings::set((20, 2, 2), false);
    let before = stats();
    TRACES.with(|t| t.set(0));
    // A tree linked top-down by moving each new node into its parent: no
    // strong count ever goes down.
    fn tree(depth: u32, next_id: &mut usize) -> Gc<Counted> {
        let node = Counted::<false>::new(*next_id);
        *next_id += 1;
        if depth > 1 {
            for _ in 0..2 {
                let child = tree(depth - 1, next_id);
                node.edges.borrow_mut().push(child);
            }
        }
        node
    }
    let root = tree(if cfg!(miri) { 9 } else { 12 }, &mut 0);
    let after = stats();
    let collections: usize = (0..3)
        .map(|g| after[g].collections - before[g].collections)
        .sum();
    assert!(
        collections > 10,
        "automatic collections ran ({collections})"
    );
    assert!(
        after[2].collections > before[2].collections,
        "a full one too"
    );
    assert_eq!(TRACES.with(Cell::get), 0, "none traced anything");
    check_bookkeeping();

    // Now a garbage cycle: dropping its handles flags it.
    let a = Counted::<false>::new(100_000);
    let b = Counted::<false>::new(100_001);
    a.edges.borrow_mut().push(b.clone());
    b.edges.borrow_mut().push(a.clone());
    drop((a, b));
    let filler: Vec<_> = (0..25)
        .map(|i| Counted::<false>::new(200_000 + i))
        .collect();
    assert!(
        TRACES.with(Cell::get) > 0,
        "the next automatic collection traced"
    );
    assert!(!live().contains(&100_000), "and freed the cycle");
    check_bookkeeping();
    drop((filler, root));
}

/// The case that forbids young collections to clear flags: a garbage
/// cycle spanning generations whose only decrement happened before a young
/// collection that had to keep the young half (the old half references it).
#[test]
fn flags_survive_young_collections() {
    let _settings = Settings::set((10_000, 10, 10), false);
    let a = Counted::<false>::new(1);
    collect(); // `a` is old now
    let b = Counted::<false>::new(2);
    a.edges.borrow_mut().push(b.clone());
    b.edges.borrow_mut().push(a); // the old half's handle moves: no decrement
    drop(b); // the one decrement: `b` is a candidate
    collect_generation(0);
    collect_generation(1);
    assert!(
        live().contains(&1) && live().contains(&2),
        "kept by young collections"
    );
    // Let the automatic rule run a full collection.
    set_threshold(1, 1, 1);
    let full = stats()[2].collections;
    let mut filler = Vec::new();
    while stats()[2].collections == full {
        filler.push(Counted::<false>::new(10 + filler.len()));
        assert!(filler.len() < 100, "no automatic full collection");
    }
    assert!(
        !live().contains(&1) && !live().contains(&2),
        "the automatic full collection freed the pair"
    );
    drop(filler);
}

/// Model-based: random graph operations under tiny thresholds, so that
/// automatic collections (skipped or not) happen all the time.
#[derive(Clone, Debug)]
enum Op {
    New,
    /// Push a clone of root `b` into root `a`'s edges.
    Link(usize, usize),
    /// Move root `b` into root `a`'s edges (no count changes).
    MoveInto(usize, usize),
    /// Remove (drop) one edge of root `a`.
    Unlink(usize, usize),
    /// Clone one edge of root `a` into the roots.
    Descend(usize, usize),
    DropRoot(usize),
    Collect(usize),
    Freeze,
    /// Root `a`'s finalizer will resurrect it into a new cycle.
    ResurrectIntoNewCycle(usize),
    /// Root `a`'s finalizer will call `freeze()`.
    FreezeInFinalizer(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::New),
        3 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Link(a, b)),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::MoveInto(a, b)),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Unlink(a, b)),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Descend(a, b)),
        3 => any::<usize>().prop_map(Op::DropRoot),
        1 => (0usize..3).prop_map(Op::Collect),
        1 => Just(Op::Freeze),
        2 => any::<usize>().prop_map(Op::ResurrectIntoNewCycle),
        1 => any::<usize>().prop_map(Op::FreezeInFinalizer),
    ]
}

fn run<const FINALIZER: bool>(ops: &[Op], audit: bool) -> Result<(), TestCaseError> {
    let _settings = Settings::set((3, 2, 2), audit);
    let (audited, skipped) = (AUDITED.with(Cell::get), SKIPPED.with(Cell::get));
    let watch = SkipWatch::start();
    let mut roots: Vec<Gc<Counted<FINALIZER>>> = Vec::new();
    let mut frozen = false;
    for op in ops {
        let n = roots.len();
        match *op {
            Op::New => {
                roots.push(Counted::new(fresh_id()));
            }
            Op::Link(a, b) if n > 0 => {
                let to = roots[b % n].clone();
                roots[a % n].edges.borrow_mut().push(to);
            }
            Op::MoveInto(a, b) if n > 1 && a % n != b % n => {
                let moved = roots.swap_remove(b % n);
                let n = roots.len();
                roots[a % n].edges.borrow_mut().push(moved);
            }
            Op::Unlink(a, e) if n > 0 => {
                let removed = {
                    let mut edges = roots[a % n].edges.borrow_mut();
                    let len = edges.len();
                    (len > 0).then(|| edges.remove(e % len))
                };
                drop(removed);
            }
            Op::Descend(a, e) if n > 0 => {
                let child = {
                    let edges = roots[a % n].edges.borrow();
                    (!edges.is_empty()).then(|| edges[e % edges.len()].clone())
                };
                roots.extend(child);
            }
            Op::DropRoot(a) if n > 0 => {
                roots.swap_remove(a % n);
            }
            Op::Collect(generation) => {
                manual(|| collect_generation(generation));
            }
            Op::Freeze => {
                if frozen {
                    unfreeze();
                } else {
                    freeze();
                }
                frozen = !frozen;
            }
            Op::ResurrectIntoNewCycle(a) if n > 0 => {
                let root = &roots[a % n];
                *root.this.borrow_mut() = Some(Gc::downgrade(root));
                root.resurrect.set(true);
            }
            Op::FreezeInFinalizer(a) if n > 0 => roots[a % n].freeze.set(true),
            _ => {}
        }
        check_bookkeeping();
        let reach = reachable(&roots);
        prop_assert!(reach.is_subset(&live()), "a reachable object was freed");
    }
    // A finalizer's `freeze()` may have frozen the heap behind the model's
    // back: unfreeze whatever the state.
    unfreeze();
    check_bookkeeping();
    drop(watch);
    if audit {
        prop_assert_eq!(
            SKIPPED.with(Cell::get),
            skipped,
            "in audit mode every skippable collection ran its graph passes"
        );
    } else {
        prop_assert_eq!(
            AUDITED.with(Cell::get),
            audited,
            "without audits every skippable collection skipped its graph passes"
        );
    }
    // Automatic collections alone free all garbage, with the roots kept
    // and then with them dropped.
    let mut filler = Vec::new();
    automatic_collections_free_the_garbage(&roots, &mut filler)?;
    manual(collect);
    let mut expected = reachable(&roots);
    expected.extend(filler.iter().map(|f| f.id));
    prop_assert_eq!(live(), expected, "a full collection is exact");
    drop(roots);
    automatic_collections_free_the_garbage(&[], &mut filler)?;
    drop(filler);
    // Finalizers run once: after the first settled collection none is left
    // to freeze the heap again.
    unfreeze();
    manual(collect);
    unfreeze();
    manual(collect);
    prop_assert!(live().is_empty(), "everything freed at the end");
    Ok(())
}

/// Full automatic collections that must run (after the last `freeze()`
/// from a finalizer) before all garbage is expected gone: a resurrected
/// cycle is freed by the second full collection after its finalizer ran.
const FULL_COLLECTIONS: usize = 4;

/// Allocates filler nodes (kept alive in `filler`, never candidates) under
/// the tiny thresholds, with no manual collection, until `FULL_COLLECTIONS`
/// automatic full collections ran since the last `freeze()` from a
/// finalizer; then only `reachable(roots)` and the filler are alive. The
/// permanent generation is never collected, so a finalizer's `freeze()`
/// is undone with `unfreeze()` (no collection) and the count restarts;
/// finalizers run once, so this ends.
fn automatic_collections_free_the_garbage<const FINALIZER: bool>(
    roots: &[Gc<Counted<FINALIZER>>],
    filler: &mut Vec<Gc<Counted<FINALIZER>>>,
) -> Result<(), TestCaseError> {
    let cap = filler.len() + if cfg!(miri) { 1_000 } else { 20_000 };
    unfreeze();
    let mut froze = FROZE.with(Cell::get);
    let mut start = stats()[2].collections;
    while stats()[2].collections - start < FULL_COLLECTIONS {
        prop_assert!(
            filler.len() < cap,
            "only {} automatic full collections",
            stats()[2].collections - start
        );
        filler.push(Counted::new(fresh_id()));
        if FROZE.with(Cell::get) != froze {
            froze = FROZE.with(Cell::get);
            unfreeze();
            start = stats()[2].collections;
        }
    }
    check_bookkeeping();
    let mut expected = reachable(roots);
    expected.extend(filler.iter().map(|f| f.id));
    prop_assert_eq!(
        live(),
        expected,
        "automatic collections alone freed all garbage"
    );
    Ok(())
}

/// Operations per case (fewer under Miri).
const OPS: usize = if cfg!(miri) { 30 } else { 80 };

fn proptest_config() -> ProptestConfig {
    // Miri cannot write proptest's failure files (no file system access).
    ProptestConfig {
        // Under Miri each case's automatic-collection phase is slow (tiny
        // thresholds over a growing filler): fewer, shorter cases.
        cases: if cfg!(miri) { 2 } else { 512 },
        failure_persistence: if cfg!(miri) {
            None
        } else {
            ProptestConfig::default().failure_persistence
        },
        source_file: Some(file!()),
        ..ProptestConfig::default()
    }
}

/// Every collection skipped for want of candidates is replaced by the real
/// one, which must find nothing; and such audits did happen.
#[test]
fn skipped_collections_would_have_found_nothing() {
    AUDITED.with(|a| a.set(0));
    let mut runner = proptest::test_runner::TestRunner::new(proptest_config());
    let result = runner.run(&proptest::collection::vec(op(), 1..OPS), |ops| {
        run::<false>(&ops, true)?;
        run::<true>(&ops, true)
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // Under Miri, two short random cases may happen to offer no skippable
    // collection; the native run (512 cases) checks that audits happen.
    if !cfg!(miri) {
        assert!(
            AUDITED.with(Cell::get) > 0,
            "some automatic collection could skip its graph passes and was audited"
        );
    }
}

proptest! {
    #![proptest_config(proptest_config())]

    /// With skips on, the lists, codes and counts stay consistent and
    /// explicit collections stay exact.
    #[test]
    fn skipping_keeps_the_collector_consistent(ops in proptest::collection::vec(op(), 1..OPS)) {
        run::<false>(&ops, false)?;
        run::<true>(&ops, false)?;
    }
}

/// An object whose value owns no `Gc` has no edge, so it can never be what
/// keeps garbage alive: `Gc::drop` notes no candidate for it, even when it
/// is tracked (a `Gc<u64>` downcast from a boxed `Gc<dyn AnyTrace>`). The
/// cycle that holds it still gets collected by automatic collections,
/// through its own members' candidates.
#[test]
fn a_tracked_leaf_needs_no_candidate() {
    struct Holder {
        leaf: Gc<u64>,
        peer: RefCell<Option<Gc<Holder>>>,
    }
    // SAFETY: visits its two `Gc`s once each.
    unsafe impl Trace for Holder {
        fn trace(&self, tracer: &mut Tracer) {
            self.leaf.trace(tracer);
            self.peer.trace(tracer);
        }
        fn has_finalizer() -> bool {
            false
        }
    }
    let _settings = Settings::set((20, 2, 2), false);
    let leaf = super::node::tracked_u64(5);
    let weak_leaf = Gc::downgrade(&leaf);
    drop(leaf.clone());
    assert!(
        !Gc::tracked_prefix(&leaf).unwrap().has(Flags::CANDIDATE),
        "no candidate for a value without edges"
    );
    let a = Gc::new(Holder {
        leaf: leaf.clone(),
        peer: RefCell::new(None),
    });
    let b = Gc::new(Holder {
        leaf: leaf.clone(),
        peer: RefCell::new(Some(a.clone())),
    });
    *a.peer.borrow_mut() = Some(b.clone());
    drop((leaf, a, b));
    let filler: Vec<_> = (0..60)
        .map(|i| Counted::<false>::new(300_000 + i))
        .collect();
    assert!(
        weak_leaf.upgrade().is_none(),
        "automatic collections freed the cycle and its leaf"
    );
    check_bookkeeping();
    drop(filler);
}

/// `unfreeze()` adds an unflagged candidate count only when it thawed
/// something (with nothing frozen, the next automatic full collection may
/// still skip its graph passes).
#[test]
fn unfreeze_with_nothing_frozen_adds_no_candidate() {
    let heap = heap();
    collect();
    unfreeze(); // nothing frozen
    let before = heap.candidates[heap.gens.old_code().index()].get();
    unfreeze();
    assert_eq!(heap.candidates[heap.gens.old_code().index()].get(), before);
    let kept = Counted::<false>::new(400_000);
    freeze();
    unfreeze();
    assert_eq!(
        heap.candidates[heap.gens.old_code().index()].get(),
        before + 1,
        "a thaw leaves one unflagged count"
    );
    drop(kept);
    collect();
}

/// Candidate counts stay exact, not just upper bounds, in the two places
/// objects stop being candidates: a flagged object dying by refcount takes
/// its count with it, and a full collection resets the counts of every
/// code it examined (it cleared their flags).
#[test]
fn candidate_counts_follow_the_flags() {
    let heap = heap();
    let total = || heap.candidates.iter().map(Cell::get).sum::<usize>();
    collect();
    assert_eq!(total(), 0);
    let dies = Counted::<false>::new(500_000);
    drop(dies.clone()); // a decrement that does not reach 0: a candidate
    assert_eq!(total(), 1);
    drop(dies);
    assert_eq!(total(), 0, "its death took the count");
    let lives = Counted::<false>::new(500_001);
    drop(lives.clone());
    let old = Counted::<false>::new(500_002);
    collect(); // `old` and `lives` are old now
    drop(old.clone());
    assert_eq!(total(), 1);
    collect();
    assert_eq!(total(), 0, "a full collection resets what it examined");
    assert!(!Gc::tracked_prefix(&lives).unwrap().has(Flags::CANDIDATE));
    drop((lives, old));
}
