//! Arenas: 1 MiB chunks from the global allocator, cut into 64 pools, and
//! the policy deciding which arena the next pool comes from.
//!
//! # Why arenas
//!
//! Pools are what blocks are carved from, but asking the global allocator
//! for every 16 KiB pool would make pool turnover expensive and scatter
//! pools across the address space. Arenas amortise that: one system
//! allocation yields 64 pools. An arena is [`POOL_SIZE`]-aligned, so every
//! pool in it is aligned too and [`pool_of`] works.
//!
//! # Where the bookkeeping lives
//!
//! pymalloc keeps arena descriptors in a separately allocated, growable
//! array. To allocate nothing but arenas, the descriptor ([`ArenaHeader`])
//! lives inside its own arena instead, in the last [`ARENA_OVERHEAD`] bytes:
//! the last pool of every arena simply ends that much earlier. It is
//! written when the arena is obtained and disappears with it.
//!
//! # Which arena to allocate from
//!
//! Memory can only go back to the system a whole arena at a time, so a
//! heap whose arenas are all a little used can never shrink. pymalloc's
//! answer, kept here: arenas that have free pools are on the *usable* list,
//! sorted by their number of free pools, fewest first, and new pools are
//! always taken from the head, the **most used** arena. Allocation thus
//! concentrates in already-busy arenas, while lightly used ones see no new
//! pools, drain as their objects die, and eventually become entirely free.
//!
//! Keeping the list sorted is O(1) per pool operation thanks to
//! `last_with_free[n]`, the last arena on the list with exactly `n` free
//! pools: taking a pool from the head never reorders anything (the head
//! keeps the fewest), and an arena gaining a free pool moves just past the
//! last arena that had as many free pools as it had before.
//!
//! # Returning arenas
//!
//! An arena whose 64 pools are all free is given back to the global
//! allocator at once, except when it is the last arena on the usable list
//! (the emptiest): that one is kept as a **spare**, so a program that
//! repeatedly allocates and frees around an arena boundary does not
//! obtain and release an arena on every iteration (CPython bpo-37257).
//! Because a wholly free arena sorts last, at most one spare exists.
//! [`Arenas::release_free`] returns the spare too (thread teardown).
//!
//! "Back to the system" means [retired](super::retired): kept as is for a
//! purge delay, then the kernel may reclaim the pages at any time, and a
//! later arena reuses the memory without faulting it in again if it has
//! not.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::pool::{PoolHeader, PoolRef, pool_of};
use super::retired::Retired;
use super::size_class::{ALIGNMENT, ARENA_SIZE, POOL_SIZE, POOLS_PER_ARENA, round_up};

/// Descriptor of one arena, stored at the end of the arena itself.
///
/// Accessed only through [`ArenaRef`].
#[repr(C)]
pub(crate) struct ArenaHeader {
    /// Start of the allocation (= first pool); carries the provenance of
    /// the whole arena.
    base: *mut u8,
    /// Pools that were used and became empty, linked through
    /// [`PoolRef::next`].
    free_pools: Option<PoolRef>,
    /// Index of the first never-carved pool; pools at or past it are
    /// untouched memory.
    next_unused: usize,
    /// Free pools: those on `free_pools` plus the never-carved ones.
    free_count: usize,
    /// Neighbours on the usable list (arenas with at least one free pool).
    next_usable: Option<ArenaRef>,
    prev_usable: Option<ArenaRef>,
    /// Neighbours on the list of every arena held.
    next_all: Option<ArenaRef>,
    prev_all: Option<ArenaRef>,
}

/// Handle to an arena header.
///
/// **Type invariant**: it points to the initialised header of an arena this
/// heap holds (one on the all list), with provenance over the whole arena.
/// It is established once, in [`Arenas::new_arena`]; it ends only when the
/// arena goes back to the system, in the `unsafe` [`Arenas::free_arena`] and
/// [`Arenas::free_all`], whose contract is that no handle to the arena or its
/// pools is used again (only compared). So the header accessors are safe,
/// one load or store each.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub(crate) struct ArenaRef(NonNull<ArenaHeader>);

// `None` is null: links and emptiness tests cost what raw pointers did.
const _: () = assert!(size_of::<Option<ArenaRef>>() == size_of::<*mut ArenaHeader>());

header_accessors!(ArenaRef => ArenaHeader, setters(pub(self)) {
    /// Start of the allocation (= first pool), with the arena's provenance.
    base: *mut u8,
    /// Pools that were used and became empty.
    free_pools / set_free_pools: Option<PoolRef>,
    /// Index of the first never-carved pool.
    next_unused / set_next_unused: usize,
    /// Free pools: those on `free_pools` plus the never-carved ones.
    free_count / set_free_count: usize,
    /// Next arena on the usable list.
    next_usable / set_next_usable: Option<ArenaRef>,
    /// Previous arena on the usable list.
    prev_usable / set_prev_usable: Option<ArenaRef>,
    /// Next arena on the all list.
    next_all / set_next_all: Option<ArenaRef>,
    /// Previous arena on the all list.
    prev_all / set_prev_all: Option<ArenaRef>,
});

impl ArenaRef {
    /// The header pointer, for address comparisons.
    #[inline(always)]
    pub(crate) fn as_ptr(self) -> *mut ArenaHeader {
        self.0.as_ptr()
    }

    /// Pools of this arena taken and not given back (the allocator's kept
    /// empty pools included).
    #[inline]
    pub(crate) fn pools_taken(self) -> usize {
        POOLS_PER_ARENA - self.free_count()
    }

    /// Where the header of pool `index` is (carved or not).
    #[inline(always)]
    fn pool_header(self, index: usize) -> *mut PoolHeader {
        debug_assert!(index < POOLS_PER_ARENA, "pool index past the arena");
        self.base().wrapping_add(index * POOL_SIZE).cast()
    }

    /// Carves the first never-carved pool: writes its header, fresh.
    ///
    /// # Safety
    /// The arena has a never-carved pool: `next_unused() < POOLS_PER_ARENA`.
    unsafe fn carve(self) -> PoolRef {
        let index = self.next_unused();
        debug_assert!(
            index < POOLS_PER_ARENA,
            "arena free count disagrees with its pools"
        );
        self.set_next_unused(index + 1);
        let header = self.pool_header(index);
        // SAFETY: pool `index` lies in the arena (caller's contract) and is
        // untouched, POOL_SIZE-aligned memory; once its header is written it
        // is a carved pool of this live arena, and `base` (hence `header`)
        // has the arena's provenance.
        unsafe {
            header.write(PoolHeader::fresh(self));
            PoolRef::new(header)
        }
    }

    /// The carved pools of this arena (those below `next_unused`).
    fn carved_pools(self) -> impl Iterator<Item = PoolRef> {
        (0..self.next_unused()).map(move |index| {
            // SAFETY: pools below `next_unused` have been carved, so their
            // headers are initialised, and the arena is live.
            unsafe { PoolRef::new(self.pool_header(index)) }
        })
    }
}

/// Bytes at the end of every arena (hence of its last pool) taken by its
/// [`ArenaHeader`].
pub(crate) const ARENA_OVERHEAD: usize = round_up(size_of::<ArenaHeader>(), ALIGNMENT);

/// What arenas are requested from the global allocator with.
const ARENA_LAYOUT: Layout = match Layout::from_size_align(ARENA_SIZE, POOL_SIZE) {
    Ok(layout) => layout,
    Err(_) => panic!("invalid arena layout"),
};

const _: () = {
    // Every class fits at least two blocks even in the last pool of an
    // arena, which `PoolRef::init` relies on.
    let smallest_pool = POOL_SIZE - super::pool::POOL_OVERHEAD - ARENA_OVERHEAD;
    assert!(smallest_pool >= 2 * super::size_class::SMALL_REQUEST_THRESHOLD);
};

/// Every arena of one allocator, and the usable list ordering them.
pub(crate) struct Arenas {
    /// Head of the usable list: arenas with a free pool, sorted by
    /// `free_count` ascending (most used first).
    usable: Option<ArenaRef>,
    /// `last_with_free[n]`: the last arena on the usable list with exactly
    /// `n` free pools, if any.
    last_with_free: [Option<ArenaRef>; POOLS_PER_ARENA + 1],
    /// Head of the list of all arenas held (for stats and teardown).
    all: Option<ArenaRef>,
    /// Number of arenas held.
    count: usize,
    /// Pools carved and not free, over all arenas.
    pools_in_use: usize,
    /// Memory of arenas given back, kept for reuse.
    retired: Retired,
}

impl Arenas {
    /// No arena held; allocates nothing.
    pub(crate) const fn new() -> Self {
        Arenas {
            usable: None,
            last_with_free: [None; POOLS_PER_ARENA + 1],
            all: None,
            count: 0,
            pools_in_use: 0,
            retired: Retired::new(),
        }
    }

    /// Number of arenas held from the system.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Number of retired arenas kept for reuse.
    #[cfg(test)]
    pub(crate) fn retired_count(&self) -> usize {
        self.retired.len()
    }

    /// Number of pools with at least one allocated block.
    pub(crate) fn pools_in_use(&self) -> usize {
        self.pools_in_use
    }

    /// Whether a wholly free arena (the spare) is held.
    pub(crate) fn has_spare(&self) -> bool {
        self.last_with_free[POOLS_PER_ARENA].is_some()
    }

    /// Takes an empty pool, from the most used arena that has one, obtaining
    /// a new arena if none has. The pool is on no list and has no allocated
    /// block; it may still hold the header and free list of the class it last
    /// served (see [`PoolRef::init`]).
    pub(crate) fn take_pool(&mut self) -> PoolRef {
        let arena = match self.usable {
            Some(arena) => arena,
            None => {
                let arena = self.new_arena();
                debug_assert!(
                    self.last_with_free[POOLS_PER_ARENA].is_none(),
                    "usable list empty but an arena is recorded as wholly free"
                );
                self.usable = Some(arena);
                self.last_with_free[POOLS_PER_ARENA] = Some(arena);
                arena
            }
        };
        let free = arena.free_count();
        debug_assert!(free > 0, "arena on the usable list has no free pool");
        debug_assert!(
            arena.prev_usable().is_none(),
            "usable head has a predecessor"
        );
        // The head has the fewest free pools and keeps that distinction
        // with one fewer: it stays the head; only the marks change.
        if self.last_with_free[free] == Some(arena) {
            self.last_with_free[free] = None;
        }
        if free > 1 {
            debug_assert!(
                self.last_with_free[free - 1].is_none(),
                "an arena has fewer free pools than the usable head"
            );
            self.last_with_free[free - 1] = Some(arena);
        }
        arena.set_free_count(free - 1);
        if free == 1 {
            // Now full: off the usable list.
            let next = arena.next_usable();
            self.usable = next;
            if let Some(next) = next {
                next.set_prev_usable(None);
            }
            arena.set_next_usable(None);
        }

        let pool = match arena.free_pools() {
            Some(pool) => {
                arena.set_free_pools(pool.next());
                pool.set_next(None);
                pool
            }
            // SAFETY: the arena had a free pool (it was on the usable list)
            // and none on its free-pool list, so a never-carved one is left
            // (`free_count` counts both).
            None => unsafe { arena.carve() },
        };
        self.pools_in_use += 1;
        pool
    }

    /// Gives back a pool that just became empty, keeping the usable list
    /// sorted and returning the arena to the system if it is now wholly
    /// free (unless it is to be the spare).
    ///
    /// # Safety
    /// `pool` was returned by [`take_pool`](Self::take_pool) of this
    /// `Arenas`, has no allocated block and is on no list; the caller does
    /// not use it again (its arena may be freed).
    pub(crate) unsafe fn return_pool(&mut self, pool: PoolRef) {
        debug_assert!(
            pool.ref_count() == 0,
            "returning a pool with allocated blocks"
        );
        let arena = pool.arena();
        pool.set_next(arena.free_pools());
        arena.set_free_pools(Some(pool));
        self.pools_in_use -= 1;

        let old = arena.free_count();
        let last_old = self.last_with_free[old];
        if last_old == Some(arena) {
            // It was the last with `old` free pools; its predecessor may
            // take over that mark.
            self.last_with_free[old] = arena.prev_usable().filter(|p| p.free_count() == old);
        }
        let free = old + 1;
        arena.set_free_count(free);

        if free == POOLS_PER_ARENA && arena.next_usable().is_some() {
            // Wholly free and not the emptiest: back to the system.
            // (A wholly free arena at the tail is the spare.)
            self.unlink_usable(arena);
            // SAFETY: no pool of the arena is taken, so the only handle into
            // it held outside `Arenas` was `pool`, which the caller gives
            // up; it is now on the all list only.
            unsafe { self.free_arena(arena) };
            return;
        }
        if free == 1 {
            // It was full, so off the list; with one free pool it is now
            // the most used usable arena: it goes first.
            let head = self.usable;
            arena.set_prev_usable(None);
            arena.set_next_usable(head);
            if let Some(head) = head {
                head.set_prev_usable(Some(arena));
            }
            self.usable = Some(arena);
            if self.last_with_free[1].is_none() {
                self.last_with_free[1] = Some(arena);
            }
            return;
        }
        if self.last_with_free[free].is_none() {
            self.last_with_free[free] = Some(arena);
        }
        if last_old == Some(arena) {
            // It was the last of its old group, so it already sits just
            // before the arenas with more free pools than it had.
            return;
        }
        // Slide it right, just after the last arena with `old` free pools.
        let last_old = last_old.expect("usable list marks lost the arena's group");
        self.detach_usable(arena);
        let after = last_old.next_usable();
        arena.set_prev_usable(Some(last_old));
        arena.set_next_usable(after);
        last_old.set_next_usable(Some(arena));
        if let Some(after) = after {
            after.set_prev_usable(Some(arena));
        }
    }

    /// Returns every wholly free arena (the spare included) to the system,
    /// and the retired arenas to the global allocator.
    pub(crate) fn release_free(&mut self) {
        let mut cursor = self.usable;
        while let Some(arena) = cursor {
            cursor = arena.next_usable();
            if arena.free_count() == POOLS_PER_ARENA {
                self.unlink_usable(arena);
                // SAFETY: no pool of the arena is taken, so no handle into it
                // is held outside `Arenas`; it is now on the all list only,
                // and its successor was read before.
                unsafe { self.free_arena(arena) };
            }
        }
        self.retired.release_all(|base| {
            // SAFETY: retired bases are arena allocations made with
            // ARENA_LAYOUT that nothing uses.
            unsafe { std::alloc::dealloc(base, ARENA_LAYOUT) }
        });
    }

    /// Returns every arena to the system, whatever it holds.
    ///
    /// # Safety
    /// No block allocated from these arenas, and no handle to them or their
    /// pools, is used again.
    pub(crate) unsafe fn free_all(&mut self) {
        let mut cursor = self.all;
        while let Some(arena) = cursor {
            cursor = arena.next_all();
            // SAFETY: `base` is the arena's allocation, made with
            // ARENA_LAYOUT, that nothing uses again (caller's contract); the
            // successor was read before.
            unsafe { std::alloc::dealloc(arena.base(), ARENA_LAYOUT) };
        }
        self.retired.release_all(|base| {
            // SAFETY: retired bases are arena allocations made with
            // ARENA_LAYOUT that nothing uses.
            unsafe { std::alloc::dealloc(base, ARENA_LAYOUT) }
        });
        *self = Arenas::new();
    }

    /// Calls `f(pool)` for every pool with allocated blocks.
    pub(crate) fn for_each_pool_in_use(&self, mut f: impl FnMut(PoolRef)) {
        let mut cursor = self.all;
        while let Some(arena) = cursor {
            for pool in arena.carved_pools() {
                if pool.ref_count() > 0 {
                    f(pool);
                }
            }
            cursor = arena.next_all();
        }
    }

    /// Obtains a new arena (retired memory first, else from the global
    /// allocator); it goes on the all list only.
    #[cold]
    fn new_arena(&mut self) -> ArenaRef {
        let base = match self.retired.take() {
            Some(base) => base,
            None => {
                // SAFETY: ARENA_LAYOUT has a non-zero size.
                let base = unsafe { std::alloc::alloc(ARENA_LAYOUT) };
                if base.is_null() {
                    std::alloc::handle_alloc_error(ARENA_LAYOUT);
                }
                base
            }
        };
        let fields = ArenaHeader {
            base,
            free_pools: None,
            next_unused: 0,
            free_count: POOLS_PER_ARENA,
            next_usable: None,
            prev_usable: None,
            next_all: self.all,
            prev_all: None,
        };
        // SAFETY: the header's bytes are the last ARENA_OVERHEAD of the
        // ARENA_SIZE allocation at `base` (non-null), which nothing else
        // uses, suitably aligned (offset multiple of 16). Once written, it is
        // the header of an arena we hold (it goes on the all list just
        // below), and `header` has the provenance of the whole allocation:
        // the type invariant of `ArenaRef`.
        let arena = unsafe {
            let header = base.add(ARENA_SIZE - ARENA_OVERHEAD).cast::<ArenaHeader>();
            header.write(fields);
            ArenaRef(NonNull::new_unchecked(header))
        };
        if let Some(first) = self.all {
            first.set_prev_all(Some(arena));
        }
        self.all = Some(arena);
        self.count += 1;
        arena
    }

    /// Returns `arena`, which is on the all list only, to the system.
    ///
    /// # Safety
    /// `arena` has no pool taken and is not on the usable list, and no
    /// handle to it or its pools is used afterwards (only compared).
    unsafe fn free_arena(&mut self, arena: ArenaRef) {
        let (prev, next) = (arena.prev_all(), arena.next_all());
        match prev {
            None => self.all = next,
            Some(prev) => prev.set_next_all(next),
        }
        if let Some(next) = next {
            next.set_prev_all(prev);
        }
        self.count -= 1;
        let base = arena.base();
        // SAFETY: `base` is the arena's allocation, made with ARENA_LAYOUT,
        // which nothing uses any more (caller's contract).
        unsafe {
            if !self.retired.retire(base) {
                std::alloc::dealloc(base, ARENA_LAYOUT);
            }
        }
    }

    /// Removes `arena`, which is on the usable list, from it, fixing the
    /// marks.
    fn unlink_usable(&mut self, arena: ArenaRef) {
        let free = arena.free_count();
        if self.last_with_free[free] == Some(arena) {
            self.last_with_free[free] = arena.prev_usable().filter(|p| p.free_count() == free);
        }
        self.detach_usable(arena);
    }

    /// Removes `arena`, which is on the usable list, from it, leaving the
    /// marks alone.
    fn detach_usable(&mut self, arena: ArenaRef) {
        let (prev, next) = (arena.prev_usable(), arena.next_usable());
        match prev {
            None => {
                debug_assert!(
                    self.usable == Some(arena),
                    "detaching an arena not on the usable list"
                );
                self.usable = next;
            }
            Some(prev) => prev.set_next_usable(next),
        }
        if let Some(next) = next {
            next.set_prev_usable(prev);
        }
        arena.set_prev_usable(None);
        arena.set_next_usable(None);
    }

    /// Checks every invariant of the arena lists (tests only; O(arenas)).
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        let mut in_use = 0;
        let mut held = 0;
        let mut cursor = self.all;
        while let Some(a) = cursor {
            held += 1;
            let mut listed_free = 0;
            let mut p = a.free_pools();
            while let Some(pool) = p {
                assert_eq!(pool.ref_count(), 0, "pool on free list has blocks");
                listed_free += 1;
                p = pool.next();
            }
            assert_eq!(
                a.free_count(),
                listed_free + POOLS_PER_ARENA - a.next_unused(),
                "free_count disagrees with the pools"
            );
            in_use += a.pools_taken();
            cursor = a.next_all();
        }
        assert_eq!(held, self.count, "arena count");
        assert_eq!(in_use, self.pools_in_use, "pools in use");

        let mut expected_last = [None; POOLS_PER_ARENA + 1];
        let mut prev: Option<ArenaRef> = None;
        let mut wholly_free = 0;
        let mut cursor = self.usable;
        while let Some(a) = cursor {
            assert_eq!(a.prev_usable(), prev, "usable list back link");
            assert!(a.free_count() > 0, "full arena on the usable list");
            if let Some(prev) = prev {
                assert!(
                    prev.free_count() <= a.free_count(),
                    "usable list out of order"
                );
            }
            if a.free_count() == POOLS_PER_ARENA {
                wholly_free += 1;
            }
            expected_last[a.free_count()] = Some(a);
            prev = Some(a);
            cursor = a.next_usable();
        }
        assert_eq!(expected_last, self.last_with_free, "last_with_free marks");
        assert!(wholly_free <= 1, "more than one spare arena");
    }
}

/// Where blocks of `pool` must end: the pool's end, or, in an arena's last
/// pool, the start of the arena header.
pub(crate) fn pool_limit(pool: PoolRef) -> usize {
    if pool_of(pool.arena().as_ptr().cast()) == pool.as_ptr() {
        POOL_SIZE - ARENA_OVERHEAD
    } else {
        POOL_SIZE
    }
}
