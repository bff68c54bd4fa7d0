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
//! "Back to the system" means [retired](super::retired): the kernel may
//! reclaim the pages at any time, and a later arena reuses the memory
//! without faulting it in again if it has not.

use core::alloc::Layout;
use core::ptr;

use super::pool::{PoolHeader, pool_of};
use super::retired::Retired;
use super::size_class::{ALIGNMENT, ARENA_SIZE, POOL_SIZE, POOLS_PER_ARENA, round_up};

/// Descriptor of one arena, stored at the end of the arena itself.
#[repr(C)]
pub(crate) struct ArenaHeader {
    /// Start of the allocation (= first pool); carries the provenance of
    /// the whole arena.
    base: *mut u8,
    /// Pools that were used and became empty, linked through
    /// [`PoolHeader::next`].
    free_pools: *mut PoolHeader,
    /// Index of the first never-carved pool; pools at or past it are
    /// untouched memory.
    next_unused: usize,
    /// Free pools: those on `free_pools` plus the never-carved ones.
    free_count: usize,
    /// Neighbours on the usable list (arenas with at least one free pool).
    next_usable: *mut ArenaHeader,
    prev_usable: *mut ArenaHeader,
    /// Neighbours on the list of every arena held.
    next_all: *mut ArenaHeader,
    prev_all: *mut ArenaHeader,
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
    // arena, which `pool::init` relies on.
    let smallest_pool = POOL_SIZE - super::pool::POOL_OVERHEAD - ARENA_OVERHEAD;
    assert!(smallest_pool >= 2 * super::size_class::SMALL_REQUEST_THRESHOLD);
};

/// Every arena of one allocator, and the usable list ordering them.
pub(crate) struct Arenas {
    /// Head of the usable list: arenas with a free pool, sorted by
    /// `free_count` ascending (most used first).
    usable: *mut ArenaHeader,
    /// `last_with_free[n]`: the last arena on the usable list with exactly
    /// `n` free pools, or null if there is none.
    last_with_free: [*mut ArenaHeader; POOLS_PER_ARENA + 1],
    /// Head of the list of all arenas held (for stats and teardown).
    all: *mut ArenaHeader,
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
            usable: ptr::null_mut(),
            last_with_free: [ptr::null_mut(); POOLS_PER_ARENA + 1],
            all: ptr::null_mut(),
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
        !self.last_with_free[POOLS_PER_ARENA].is_null()
    }

    /// Takes an empty pool, from the most used arena that has one, obtaining
    /// a new arena if none has. The pool is on no list and has no allocated
    /// block; it may still hold the header and free list of the class it last
    /// served (see [`pool::init`](super::pool::init)).
    pub(crate) fn take_pool(&mut self) -> *mut PoolHeader {
        if self.usable.is_null() {
            let arena = self.new_arena();
            debug_assert!(
                self.last_with_free[POOLS_PER_ARENA].is_null(),
                "usable list empty but an arena is recorded as wholly free"
            );
            self.usable = arena;
            self.last_with_free[POOLS_PER_ARENA] = arena;
        }
        let arena = self.usable;
        // SAFETY: arenas on the usable list are live, and their headers and
        // carved pool headers are only accessed through raw pointers derived
        // from `base`. Pool indices stay below POOLS_PER_ARENA, so carved
        // pools are in bounds of the arena.
        unsafe {
            let free = (*arena).free_count;
            debug_assert!(free > 0, "arena on the usable list has no free pool");
            debug_assert!(
                (*arena).prev_usable.is_null(),
                "usable head has a predecessor"
            );
            // The head has the fewest free pools and keeps that distinction
            // with one fewer: it stays the head; only the marks change.
            if self.last_with_free[free] == arena {
                self.last_with_free[free] = ptr::null_mut();
            }
            if free > 1 {
                debug_assert!(
                    self.last_with_free[free - 1].is_null(),
                    "an arena has fewer free pools than the usable head"
                );
                self.last_with_free[free - 1] = arena;
            }
            (*arena).free_count = free - 1;
            if free == 1 {
                // Now full: off the usable list.
                let next = (*arena).next_usable;
                self.usable = next;
                if !next.is_null() {
                    (*next).prev_usable = ptr::null_mut();
                }
                (*arena).next_usable = ptr::null_mut();
            }

            let pool = (*arena).free_pools;
            let pool = if pool.is_null() {
                let index = (*arena).next_unused;
                debug_assert!(
                    index < POOLS_PER_ARENA,
                    "arena free count disagrees with its pools"
                );
                (*arena).next_unused = index + 1;
                let pool = (*arena).base.add(index * POOL_SIZE).cast::<PoolHeader>();
                pool.write(PoolHeader::fresh(arena));
                pool
            } else {
                (*arena).free_pools = (*pool).next;
                (*pool).next = ptr::null_mut();
                pool
            };
            self.pools_in_use += 1;
            pool
        }
    }

    /// Gives back a pool that just became empty, keeping the usable list
    /// sorted and returning the arena to the system if it is now wholly
    /// free (unless it is to be the spare).
    ///
    /// # Safety
    /// `pool` was returned by [`take_pool`](Self::take_pool) of this
    /// `Arenas`, has no allocated block and is on no list.
    pub(crate) unsafe fn return_pool(&mut self, pool: *mut PoolHeader) {
        // SAFETY: `pool` is a live pool of one of our arenas (caller's
        // contract), so its arena and that arena's usable-list neighbours are
        // live too.
        unsafe {
            debug_assert!(
                (*pool).ref_count == 0,
                "returning a pool with allocated blocks"
            );
            let arena = (*pool).arena;
            (*pool).next = (*arena).free_pools;
            (*arena).free_pools = pool;
            self.pools_in_use -= 1;

            let old = (*arena).free_count;
            let last_old = self.last_with_free[old];
            if last_old == arena {
                // It was the last with `old` free pools; its predecessor may
                // take over that mark.
                let prev = (*arena).prev_usable;
                self.last_with_free[old] = if !prev.is_null() && (*prev).free_count == old {
                    prev
                } else {
                    ptr::null_mut()
                };
            }
            let free = old + 1;
            (*arena).free_count = free;

            if free == POOLS_PER_ARENA && !(*arena).next_usable.is_null() {
                // Wholly free and not the emptiest: back to the system.
                // (A wholly free arena at the tail is the spare.)
                self.unlink_usable(arena);
                self.free_arena(arena);
                return;
            }
            if free == 1 {
                // It was full, so off the list; with one free pool it is now
                // the most used usable arena: it goes first.
                let head = self.usable;
                (*arena).prev_usable = ptr::null_mut();
                (*arena).next_usable = head;
                if !head.is_null() {
                    (*head).prev_usable = arena;
                }
                self.usable = arena;
                if self.last_with_free[1].is_null() {
                    self.last_with_free[1] = arena;
                }
                return;
            }
            if self.last_with_free[free].is_null() {
                self.last_with_free[free] = arena;
            }
            if last_old == arena {
                // It was the last of its old group, so it already sits just
                // before the arenas with more free pools than it had.
                return;
            }
            // Slide it right, just after the last arena with `old` free pools.
            debug_assert!(
                !last_old.is_null(),
                "usable list marks lost the arena's group"
            );
            self.detach_usable(arena);
            let after = (*last_old).next_usable;
            (*arena).prev_usable = last_old;
            (*arena).next_usable = after;
            (*last_old).next_usable = arena;
            if !after.is_null() {
                (*after).prev_usable = arena;
            }
        }
    }

    /// Returns every wholly free arena (the spare included) to the system,
    /// and the retired arenas to the global allocator.
    pub(crate) fn release_free(&mut self) {
        let mut arena = self.usable;
        while !arena.is_null() {
            // SAFETY: arenas on the usable list are live; the successor is
            // read before the arena may be freed.
            unsafe {
                let next = (*arena).next_usable;
                if (*arena).free_count == POOLS_PER_ARENA {
                    self.unlink_usable(arena);
                    self.free_arena(arena);
                }
                arena = next;
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
    /// No block allocated from these arenas is used again.
    pub(crate) unsafe fn free_all(&mut self) {
        let mut arena = self.all;
        while !arena.is_null() {
            // SAFETY: arenas on the all list are live; the successor and base
            // are read before the arena is freed, and ARENA_LAYOUT is the
            // layout it was allocated with.
            unsafe {
                let next = (*arena).next_all;
                std::alloc::dealloc((*arena).base, ARENA_LAYOUT);
                arena = next;
            }
        }
        self.retired.release_all(|base| {
            // SAFETY: retired bases are arena allocations made with
            // ARENA_LAYOUT that nothing uses.
            unsafe { std::alloc::dealloc(base, ARENA_LAYOUT) }
        });
        *self = Arenas::new();
    }

    /// Calls `f(pool)` for every pool with allocated blocks.
    pub(crate) fn for_each_pool_in_use(&self, mut f: impl FnMut(*const PoolHeader)) {
        let mut arena = self.all;
        while !arena.is_null() {
            // SAFETY: arenas on the all list are live and their pools below
            // `next_unused` have been carved, so their headers are initialised.
            unsafe {
                for index in 0..(*arena).next_unused {
                    let pool = (*arena).base.add(index * POOL_SIZE).cast::<PoolHeader>();
                    if (*pool).ref_count > 0 {
                        f(pool);
                    }
                }
                arena = (*arena).next_all;
            }
        }
    }

    /// Obtains a new arena (retired memory first, else from the global
    /// allocator); it goes on the all list only.
    #[cold]
    fn new_arena(&mut self) -> *mut ArenaHeader {
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
        // SAFETY: the header's bytes are the last ARENA_OVERHEAD of the fresh
        // ARENA_SIZE allocation, suitably aligned (offset multiple of 16);
        // `self.all` is null or a live arena.
        unsafe {
            let arena = base.add(ARENA_SIZE - ARENA_OVERHEAD).cast::<ArenaHeader>();
            arena.write(ArenaHeader {
                base,
                free_pools: ptr::null_mut(),
                next_unused: 0,
                free_count: POOLS_PER_ARENA,
                next_usable: ptr::null_mut(),
                prev_usable: ptr::null_mut(),
                next_all: self.all,
                prev_all: ptr::null_mut(),
            });
            if !self.all.is_null() {
                (*self.all).prev_all = arena;
            }
            self.all = arena;
            self.count += 1;
            arena
        }
    }

    /// Returns `arena`, which is on the all list only, to the system.
    ///
    /// # Safety
    /// `arena` is live, has no pool in use and is not on the usable list.
    unsafe fn free_arena(&mut self, arena: *mut ArenaHeader) {
        // SAFETY: `arena` and its all-list neighbours are live (caller's
        // contract); `base` is read before the memory holding it is freed.
        unsafe {
            let (prev, next) = ((*arena).prev_all, (*arena).next_all);
            if prev.is_null() {
                self.all = next;
            } else {
                (*prev).next_all = next;
            }
            if !next.is_null() {
                (*next).prev_all = prev;
            }
            self.count -= 1;
            let base = (*arena).base;
            if !self.retired.retire(base) {
                std::alloc::dealloc(base, ARENA_LAYOUT);
            }
        }
    }

    /// Removes `arena` from the usable list, fixing the marks.
    ///
    /// # Safety
    /// `arena` is on the usable list.
    unsafe fn unlink_usable(&mut self, arena: *mut ArenaHeader) {
        // SAFETY: `arena` and its neighbours are live (caller's contract).
        unsafe {
            let free = (*arena).free_count;
            if self.last_with_free[free] == arena {
                let prev = (*arena).prev_usable;
                self.last_with_free[free] = if !prev.is_null() && (*prev).free_count == free {
                    prev
                } else {
                    ptr::null_mut()
                };
            }
            self.detach_usable(arena);
        }
    }

    /// Removes `arena` from the usable list, leaving the marks alone.
    ///
    /// # Safety
    /// `arena` is on the usable list.
    unsafe fn detach_usable(&mut self, arena: *mut ArenaHeader) {
        // SAFETY: `arena` and its neighbours are live (caller's contract).
        unsafe {
            let (prev, next) = ((*arena).prev_usable, (*arena).next_usable);
            if prev.is_null() {
                debug_assert!(
                    self.usable == arena,
                    "detaching an arena not on the usable list"
                );
                self.usable = next;
            } else {
                (*prev).next_usable = next;
            }
            if !next.is_null() {
                (*next).prev_usable = prev;
            }
            (*arena).prev_usable = ptr::null_mut();
            (*arena).next_usable = ptr::null_mut();
        }
    }

    /// Checks every invariant of the arena lists (tests only; O(arenas)).
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        let mut in_use = 0;
        let mut held = 0;
        let mut arena = self.all;
        // SAFETY: arenas on the all list are live and carved pools have
        // initialised headers.
        unsafe {
            while !arena.is_null() {
                held += 1;
                let a = &*arena;
                let mut listed_free = 0;
                let mut p = a.free_pools;
                while !p.is_null() {
                    assert_eq!((*p).ref_count, 0, "pool on free list has blocks");
                    listed_free += 1;
                    p = (*p).next;
                }
                assert_eq!(
                    a.free_count,
                    listed_free + POOLS_PER_ARENA - a.next_unused,
                    "free_count disagrees with the pools"
                );
                in_use += POOLS_PER_ARENA - a.free_count;
                arena = a.next_all;
            }
            assert_eq!(held, self.count, "arena count");
            assert_eq!(in_use, self.pools_in_use, "pools in use");

            let mut expected_last = [ptr::null_mut(); POOLS_PER_ARENA + 1];
            let mut prev: *mut ArenaHeader = ptr::null_mut();
            let mut wholly_free = 0;
            let mut arena = self.usable;
            while !arena.is_null() {
                let a = &*arena;
                assert_eq!(a.prev_usable, prev, "usable list back link");
                assert!(a.free_count > 0, "full arena on the usable list");
                if !prev.is_null() {
                    assert!(
                        (*prev).free_count <= a.free_count,
                        "usable list out of order"
                    );
                }
                if a.free_count == POOLS_PER_ARENA {
                    wholly_free += 1;
                }
                expected_last[a.free_count] = arena;
                prev = arena;
                arena = a.next_usable;
            }
            assert_eq!(expected_last, self.last_with_free, "last_with_free marks");
            assert!(wholly_free <= 1, "more than one spare arena");
        }
    }
}

/// Pools of `arena` taken and not given back (the allocator's kept empty
/// pools included).
///
/// # Safety
/// `arena` is a live arena.
pub(crate) unsafe fn pools_taken(arena: *const ArenaHeader) -> usize {
    // SAFETY: a live arena's header is initialised (caller's contract).
    POOLS_PER_ARENA - unsafe { (*arena).free_count }
}

/// Where blocks of `pool` must end: the pool's end, or, in an arena's last
/// pool, the start of the arena header.
///
/// # Safety
/// `pool` is a live carved pool.
pub(crate) unsafe fn pool_limit(pool: *mut PoolHeader) -> usize {
    // SAFETY: a carved pool's header is initialised (caller's contract).
    let arena = unsafe { (*pool).arena };
    if pool_of(arena.cast()) == pool {
        POOL_SIZE - ARENA_OVERHEAD
    } else {
        POOL_SIZE
    }
}
