//! The per-thread heap: allocator, generation lists, collector settings.
//!
//! Each thread lazily creates one [`Heap`] on its first `Gc` operation. The
//! pointer lives in a const-initialised thread-local `Cell` (no destructor,
//! so it stays readable during thread teardown), and a second thread-local
//! guard tears the heap down when the thread exits:
//!
//! - automatic collection is switched off and callbacks are dropped;
//! - completely free arenas go back to the system;
//! - if no object is alive any more, the heap itself is freed. Otherwise it
//!   is **leaked**: objects still alive (say, cycles never collected) are
//!   never freed under a live handle, and a `Gc` dropped later by another
//!   thread-local's destructor still finds a valid heap.

use core::alloc::Layout;
use core::cell::{Cell, UnsafeCell};
use core::ptr::{self, NonNull};

use crate::alloc::Allocator;
use crate::callbacks::Callbacks;
use crate::collect::generation::Generations;
use crate::list::ListHead;
use crate::mark_stack::MarkStack;
use crate::stats::GenerationStats;
use crate::weakref_finalize::FinalizeTable;

/// Number of collected generations.
pub(crate) const GENERATIONS: usize = 3;

/// CPython's default thresholds.
pub(crate) const DEFAULT_THRESHOLDS: [usize; GENERATIONS] = [2000, 10, 10];

/// All memory-management state of one thread.
pub(crate) struct Heap {
    allocator: UnsafeCell<Allocator>,
    /// Generation lists (and the permanent one), counts, thresholds.
    pub(crate) gens: Generations,
    /// Objects whose value drop was deferred by the trashcan.
    pub(crate) trashcan: ListHead,
    /// Collector-private lists (only touched while `collecting`).
    pub(crate) unreachable: ListHead,
    pub(crate) pending: ListHead,
    pub(crate) enabled: Cell<bool>,
    pub(crate) collecting: Cell<bool>,
    /// Candidates flagged, per code of the list they were on (upper
    /// bounds, see `collect::candidates`).
    pub(crate) candidates: [Cell<usize>; crate::header::Code::COUNT],
    /// Tests: automatic collections that could skip their graph passes
    /// run them and assert they find nothing.
    #[cfg(test)]
    pub(crate) audit_skips: Cell<bool>,
    /// Tests: how many objects the last mark walk moved to the unreachable
    /// list tentatively, and how many of those it revived (the walk's
    /// direction and the ephemeron pre-marking exist to keep both at 0 for
    /// reachable graphs).
    #[cfg(test)]
    pub(crate) last_walk: Cell<(usize, usize)>,
    /// The way most internal edges pointed in the last graph pass that
    /// found any: `collect::cycle::choose_walk`'s fallback.
    pub(crate) walk_hint: Cell<crate::list::Dir>,
    pub(crate) stats: [Cell<GenerationStats>; GENERATIONS],
    pub(crate) callbacks: Callbacks,
    /// The collector's mark stack, kept between collections.
    pub(crate) mark_stack: Cell<MarkStack>,
    /// Nesting depth of refcount-path value drops (trashcan).
    pub(crate) drop_depth: Cell<u32>,
    /// The thread is exiting: no automatic collection any more.
    pub(crate) torn_down: Cell<bool>,
    /// `pygc::set_debug`.
    pub(crate) debug: Cell<crate::introspect::DebugFlags>,
    /// What `DebugFlags::SAVEALL` kept (`gc.garbage`): objects the list
    /// holds one strong count of each.
    pub(crate) garbage: Cell<Vec<crate::tracked::Tracked>>,
    /// The counts `census_growth` compares with.
    pub(crate) census_last: core::cell::RefCell<std::collections::HashMap<&'static str, usize>>,
    /// `pygc::finalize` callbacks by object (see `weakref_finalize`).
    pub(crate) finalize_table: FinalizeTable,
}

thread_local! {
    static HEAP: Cell<*const Heap> = const { Cell::new(ptr::null()) };
    static TEARDOWN: TeardownGuard = const { TeardownGuard };
}

/// This thread's heap, created on first use.
#[inline]
pub(crate) fn heap<'a>() -> &'a Heap {
    let p = HEAP.with(Cell::get);
    if p.is_null() {
        return create_heap();
    }
    // SAFETY: a non-null pointer in HEAP is a leaked `Box<Heap>` of this
    // thread; it is only freed by the teardown guard when no object is alive,
    // after which HEAP is null again, and the heap is only ever accessed
    // through shared references (all mutation goes through `Cell`s).
    unsafe { &*p }
}

/// This thread's heap, which exists: one of its objects is alive.
///
/// # Safety
///
/// An object allocated on this thread is alive (its memory not yet given
/// back). Teardown only frees a heap that holds no object, so `HEAP` is set.
#[inline(always)]
pub(crate) unsafe fn heap_of_live_object<'a>() -> &'a Heap {
    let p = HEAP.with(Cell::get);
    debug_assert!(!p.is_null(), "an object is alive, so its heap is");
    // SAFETY: non-null (caller's contract, see above); otherwise as in
    // `heap()`.
    unsafe { &*p }
}

#[cold]
#[inline(never)]
fn create_heap<'a>() -> &'a Heap {
    // Keep the raw pointer of the box (not one derived from a shared
    // reference) in HEAP, so teardown may turn it back into a `Box`.
    let raw: *mut Heap = Box::into_raw(Box::new(Heap::new()));
    HEAP.with(|h| h.set(raw.cast_const()));
    // SAFETY: `raw` is a valid, leaked box; only shared references are made.
    let heap: &'a Heap = unsafe { &*raw };
    heap.init_lists();
    // Register the teardown guard. This fails only when a heap is created
    // during thread teardown itself; that heap is then leaked, which is sound.
    let _ = TEARDOWN.try_with(|_| ());
    heap
}

impl Heap {
    fn new() -> Self {
        Heap {
            allocator: UnsafeCell::new(Allocator::new()),
            gens: Generations::new(),
            trashcan: ListHead::new(),
            unreachable: ListHead::new(),
            pending: ListHead::new(),
            enabled: Cell::new(true),
            collecting: Cell::new(false),
            candidates: Default::default(),
            #[cfg(test)]
            audit_skips: Cell::new(false),
            #[cfg(test)]
            last_walk: Cell::new((0, 0)),
            walk_hint: Cell::new(crate::list::Dir::Forward),
            stats: Default::default(),
            callbacks: Callbacks::new(),
            mark_stack: Cell::new(Vec::new()),
            drop_depth: Cell::new(0),
            torn_down: Cell::new(false),
            debug: Cell::new(crate::introspect::DebugFlags::empty()),
            garbage: Cell::new(Vec::new()),
            census_last: core::cell::RefCell::new(std::collections::HashMap::new()),
            finalize_table: FinalizeTable::new(),
        }
    }

    fn init_lists(&self) {
        for list in self.all_lists() {
            list.init();
        }
    }

    fn all_lists(&self) -> [&ListHead; 7] {
        let [g0, g1, g2, permanent] = self.gens.all_lists();
        [
            g0,
            g1,
            g2,
            permanent,
            &self.trashcan,
            &self.unreachable,
            &self.pending,
        ]
    }

    /// Allocates a block from this thread's pools.
    #[inline]
    pub(crate) fn allocate(&self, layout: Layout) -> NonNull<u8> {
        // SAFETY: the allocator never calls user code, so this `&mut` is the
        // only reference to it for the duration of the call (the heap is
        // thread-local and allocation is not re-entrant).
        unsafe { (*self.allocator.get()).allocate(layout) }
    }

    /// Returns a block to this thread's pools.
    ///
    /// # Safety
    ///
    /// `ptr` came from `allocate(layout)` on this heap and is not used again.
    #[inline]
    pub(crate) unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: as in `allocate` the `&mut` is unique for the call; the
        // block's provenance is the caller's contract.
        unsafe { (*self.allocator.get()).deallocate(ptr, layout) }
    }

    /// [`deallocate`](Self::deallocate) with the size class known.
    ///
    /// # Safety
    ///
    /// As for `deallocate`, and `class` is `layout`'s size class.
    #[inline]
    pub(crate) unsafe fn deallocate_in(
        &self,
        ptr: NonNull<u8>,
        layout: Layout,
        class: Option<usize>,
    ) {
        // SAFETY: as in `deallocate`; the class is the caller's contract.
        unsafe { (*self.allocator.get()).deallocate_in(ptr, layout, class) }
    }

    /// Allocator statistics.
    pub(crate) fn heap_stats(&self) -> crate::stats::HeapStats {
        // SAFETY: no other reference to the allocator is live (see allocate).
        unsafe { (*self.allocator.get()).stats() }
    }

    fn teardown(&self) -> bool {
        self.torn_down.set(true);
        self.enabled.set(false);
        drop(self.callbacks.take_all());
        // SAFETY: no other reference to the allocator is live (see allocate).
        let allocator = unsafe { &mut *self.allocator.get() };
        allocator.release_free_arenas();
        allocator.is_empty() && self.all_lists().iter().all(|l| l.is_empty())
    }
}

/// Tears the heap down at thread exit (see the module docs).
struct TeardownGuard;

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        let p = HEAP.with(Cell::get);
        if p.is_null() {
            return;
        }
        // SAFETY: see `heap()`; no reference into the heap is held across
        // thread-local destructors.
        let empty = unsafe { (*p).teardown() };
        if empty {
            HEAP.with(|h| h.set(ptr::null()));
            // SAFETY: `p` came from `Box::leak` in `create_heap`; no object
            // is alive, so nothing can reach the heap any more, and HEAP no
            // longer points to it.
            drop(unsafe { Box::from_raw(p.cast_mut()) });
        }
    }
}
