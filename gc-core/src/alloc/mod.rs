//! Pooled small-object allocator, after CPython's pymalloc
//! (`Objects/obmalloc.c`).
//!
//! Every `Gc` allocation goes through here, so allocation and deallocation
//! must cost a handful of instructions. A general-purpose allocator pays for
//! generality (any size, any thread, size lookup on free); this one exploits
//! what a per-thread object heap knows:
//!
//! * Objects are small. Requests up to 512 bytes (16-aligned at most) are
//!   rounded to one of 39 [size classes](size_class) and served from pools
//!   holding blocks of that one size. Bigger or over-aligned requests are
//!   *large objects*, passed straight to the global allocator.
//! * The layout is known on free (`Gc` stores it in its vtable), so no size
//!   header is needed, and the block's [pool] is found by masking
//!   its address: pools are 16 KiB-aligned.
//! * The heap is per-thread, so nothing is atomic or locked.
//!
//! Pools are cut from 1 MiB [arenas](arena) obtained from the global
//! allocator; arenas are chosen so that busy ones fill up and idle ones
//! drain and can be returned to the system.
//!
//! # Fast paths
//!
//! [`Allocator::allocate`] takes the first pool on its class's used-pool
//! list and pops that pool's free list; [`Allocator::deallocate`] masks the
//! address to find the pool and pushes the block. Both are `#[inline]`, and
//! with a compile-time layout the class is a constant. Every state change of
//! a pool (a pool filling up, a full pool getting a free block, a pool
//! becoming empty, needing a new pool or arena) is rare and lives in
//! `#[cold]`, out-of-line functions.
//!
//! # Idle arenas
//!
//! An emptied pool that is its class's only used pool stays on the class's
//! list (see `pool_emptied`), so that allocating and freeing one object at
//! a time does not hand a pool back and take it again on every call. Such a
//! *kept* pool must not pin an arena that is otherwise free: at most one
//! *idle* arena (one whose every taken pool is a kept empty pool, or which
//! is wholly free, the spare) is held. When a second one would remain, the
//! kept pools of an idle arena go back to it, and the arena becomes the
//! spare or returns to the system (`limit_idle_arenas`, on the cold path
//! where a pool becomes empty).
//!
//! # Memory
//!
//! Only arenas and large objects are allocated; all bookkeeping lives in the
//! pool and arena headers or in this fixed-size struct, which is built by a
//! `const fn` so that it can initialise a thread-local without allocation.

/// Named accessors for the fields of a pool or arena header, generated on
/// its handle type: `$handle` is a `Copy` newtype around `NonNull<$header>`
/// whose type invariant is that it points to a live, initialised header,
/// accessed only through raw pointers (see [`pool::PoolRef`] and
/// [`arena::ArenaRef`]).
///
/// Each `field: T` gets a getter `field()` visible in `alloc`; each
/// `field / set_field: T` also a setter with the visibility given in
/// `setters(..)` (private to the header's module unless another module links
/// its headers). Both are one load or store, and `#[inline(always)]`.
///
/// The setters are safe, so the *consistency* of the headers (counts, lists,
/// offsets) is an invariant of the header modules, upheld by their code as
/// for private fields; the `unsafe` functions that rely on it say so.
macro_rules! header_accessors {
    ($handle:ident => $header:ident, setters($setvis:vis) {
        $( $(#[$doc:meta])* $field:ident $(/ $setter:ident)? : $t:ty ),* $(,)?
    }) => {
        impl $handle {
            $(
                $(#[$doc])*
                #[inline(always)]
                pub(super) fn $field(self) -> $t {
                    // SAFETY: the header is live and initialised (the
                    // handle's type invariant); reading through the raw
                    // pointer creates no reference.
                    unsafe { (*self.0.as_ptr()).$field }
                }
                $(
                    #[doc = concat!("Sets [`", stringify!($field), "`](Self::", stringify!($field), ").")]
                    #[inline(always)]
                    $setvis fn $setter(self, value: $t) {
                        // SAFETY: as for the getter; the write goes through
                        // the raw pointer, so it invalidates no reference.
                        unsafe { (*self.0.as_ptr()).$field = value }
                    }
                )?
            )*
        }
    };
}

mod arena;
mod pool;
mod retired;
mod size_class;

#[cfg(test)]
mod tests;

use core::alloc::Layout;
use core::ptr::NonNull;

use crate::stats::HeapStats;
use arena::{ArenaRef, Arenas};
use pool::{PoolRef, UsedPools};
pub(crate) use size_class::small_class;
use size_class::{ARENA_SIZE, NUM_SIZE_CLASSES, class_size};

/// A per-thread pooled allocator. Not `Send`: its blocks belong to it.
pub(crate) struct Allocator {
    /// Per class, the pools that have free blocks.
    used: UsedPools,
    /// Arenas and their pools.
    arenas: Arenas,
    /// Per class, the pool `pool_emptied` last kept on the class's list, or
    /// null. Only a candidate: the fast path may have allocated from it
    /// since (then its `ref_count` is not 0). Never dangling: cleared
    /// whenever that pool goes back to its arena.
    kept: [Option<PoolRef>; NUM_SIZE_CLASSES],
    /// An arena the last `limit_idle_arenas` found to be the only arena
    /// that is or may become idle: until a pool goes back to an arena (the
    /// only way an arena can become the spare or be freed), emptying pools
    /// of this arena cannot make a second arena idle, so the check is
    /// skipped — which keeps allocating and freeing one object at a time
    /// as cheap as it was. Only compared, never read through.
    idle_ok: Option<ArenaRef>,
    /// The pool whose emptying `pool_emptied` last found to need nothing
    /// (its class's only pool, already kept, in the `idle_ok` arena), so
    /// `deallocate` skips the call when it empties again: the
    /// allocate-and-free-one-object loop costs a compare. Cleared by every
    /// change to the used lists, `kept` or `idle_ok` (all on cold paths),
    /// so while set, what `pool_emptied` checked still holds. Only
    /// compared, never read through.
    quiet_empty: Option<PoolRef>,
    /// Bytes requested by live large objects.
    large_bytes: usize,
    /// Number of live large objects.
    large_count: usize,
}

impl Allocator {
    /// An allocator holding no memory. Allocates nothing.
    pub(crate) const fn new() -> Self {
        Allocator {
            used: UsedPools::new(),
            arenas: Arenas::new(),
            kept: [None; NUM_SIZE_CLASSES],
            idle_ok: None,
            quiet_empty: None,
            large_bytes: 0,
            large_count: 0,
        }
    }

    /// Allocates a block for `layout`; aborts through
    /// [`handle_alloc_error`](std::alloc::handle_alloc_error) when out of
    /// memory.
    ///
    /// The block is aligned to `max(16, layout.align())` for small sizes and
    /// to `layout.align()` for large ones. Callers pass non-zero sizes (a
    /// zero size is still handled soundly).
    #[inline]
    pub(crate) fn allocate(&mut self, layout: Layout) -> NonNull<u8> {
        debug_assert!(layout.size() > 0, "zero-sized allocation request");
        let Some(class) = small_class(layout) else {
            return self.allocate_large(layout);
        };
        let Some(pool) = self.used.head(class) else {
            return self.allocate_from_new_pool(class);
        };
        // SAFETY: pools on a used list are initialised pools of that class
        // whose free list is not empty (UsedPools invariant).
        let block = unsafe { pool.pop() };
        // SAFETY: `pool` is an initialised pool of `class` (it is on
        // `class`'s list); `extend` runs only on an empty free list.
        if pool.free_block().is_null() && !unsafe { pool.extend(class) } {
            // SAFETY: `pool` heads `class`'s list and has no block left.
            unsafe { self.pool_filled(pool, class) };
        }
        // SAFETY: free-list entries are blocks, never null.
        unsafe { NonNull::new_unchecked(block) }
    }

    /// Frees a block.
    ///
    /// # Safety
    /// `ptr` was returned by `self.allocate(layout)` with this same `layout`,
    /// has not been freed since, and is not used after this call.
    #[inline]
    pub(crate) unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: caller's contract; the class is `layout`'s.
        unsafe { self.deallocate_in(ptr, layout, small_class(layout)) }
    }

    /// [`deallocate`](Self::deallocate) with `layout`'s size class already
    /// known (a tracked type's vtable holds it).
    ///
    /// # Safety
    /// As for `deallocate`, and `class == small_class(layout)`.
    #[inline]
    pub(crate) unsafe fn deallocate_in(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        class: Option<usize>,
    ) {
        debug_assert_eq!(class, small_class(layout));
        let Some(class) = class else {
            // SAFETY: `ptr` is a live large object allocated with `layout`
            // (caller's contract).
            return unsafe { self.deallocate_large(ptr, layout) };
        };
        let block = ptr.as_ptr();
        // SAFETY: `ptr` is a live block of `class` from this allocator
        // (caller's contract), so it lies in a carved pool of a live arena.
        let pool = unsafe { PoolRef::of_block(block) };
        #[cfg(debug_assertions)]
        pool.debug_check_block(block, class);
        // SAFETY: `block` is an allocated block of `pool` that the caller
        // gives up (caller's contract).
        let last = unsafe { pool.push(block) };
        // The cold paths get the block, not the pool, and mask it again:
        // this keeps the fast path to plain loads and stores, and one call
        // site keeps it small enough to inline where values are dropped.
        if last.is_null() || pool.ref_count() == 0 {
            if !last.is_null() && self.quiet_empty == Some(pool) {
                // Emptied again, and nothing `pool_emptied` looked at changed.
                debug_assert!(
                    self.used.head(class) == Some(pool)
                        && pool.next().is_none()
                        && self.kept[class] == Some(pool)
                        && self.idle_ok == Some(pool.arena()),
                    "quiet_empty outlived what made it quiet"
                );
                return;
            }
            // SAFETY: `block` was just freed into its pool; `last` is what
            // the pool's free list held before.
            unsafe { self.pool_changed_list(block, class, last.is_null()) };
        }
    }

    /// `block` was just freed and its pool must change lists: it was full
    /// (`was_full`), or it has no allocated block left.
    ///
    /// # Safety
    /// `block` was just freed into its live pool of `class`; `was_full` says
    /// whether the pool's free list was empty before.
    #[cold]
    #[inline(never)]
    unsafe fn pool_changed_list(&mut self, block: *mut u8, class: usize, was_full: bool) {
        if was_full {
            // SAFETY: the pool was full, hence on no list (caller).
            unsafe { self.pool_was_full(block, class) };
        } else {
            // SAFETY: the pool had a free block, hence was on `class`'s used
            // list, and now has none allocated (caller).
            unsafe { self.pool_emptied(block, class) };
        }
    }

    /// A snapshot of the heap's shape. Walks every carved pool: not for hot
    /// paths.
    pub(crate) fn stats(&self) -> HeapStats {
        let mut stats = HeapStats {
            arenas: self.arenas.count(),
            ..HeapStats::default()
        };
        let mut pooled_bytes = 0;
        let mut per_class = [0usize; NUM_SIZE_CLASSES];
        self.arenas.for_each_pool_in_use(|pool| {
            let (class, blocks) = (pool.size_class() as usize, pool.ref_count() as usize);
            stats.pools += 1;
            per_class[class] += blocks;
            pooled_bytes += blocks * class_size(class);
        });
        stats.blocks_in_use = (0..NUM_SIZE_CLASSES)
            .filter(|&class| per_class[class] > 0)
            .map(|class| (class_size(class), per_class[class]))
            .collect();
        debug_assert_eq!(
            stats.pools + self.kept_empty_pools(),
            self.arenas.pools_in_use(),
            "pool-in-use count drifted"
        );
        stats.bytes_in_use = pooled_bytes + self.large_bytes;
        stats.bytes_reserved = stats.arenas * ARENA_SIZE + self.large_bytes;
        stats
    }

    /// Whether no block (pooled or large) is allocated.
    pub(crate) fn is_empty(&self) -> bool {
        self.arenas.pools_in_use() == self.kept_empty_pools() && self.large_count == 0
    }

    /// How many used pools hold no block (kept by `pool_emptied`).
    fn kept_empty_pools(&self) -> usize {
        let mut kept_empty = 0;
        self.for_each_empty_used_pool(|_, _| kept_empty += 1);
        kept_empty
    }

    /// Returns every wholly free arena to the system, the spare too.
    pub(crate) fn release_free_arenas(&mut self) {
        self.trim_kept_pools();
        self.arenas.release_free();
    }

    /// Hands the empty pools kept on the used lists back to their arenas.
    fn trim_kept_pools(&mut self) {
        let mut empty = Vec::new();
        self.for_each_empty_used_pool(|class, pool| empty.push((class, pool)));
        for (class, pool) in empty {
            // SAFETY: `pool` is a live used pool of `class` with no allocated
            // block: it may leave its list and go back to its arena.
            unsafe { self.give_back(class, pool) };
        }
    }

    /// Unlinks `pool` from `class`'s used list and hands it back to its
    /// arena (which may return to the system).
    ///
    /// # Safety
    /// `pool` is a live pool on `class`'s used list with no allocated block.
    unsafe fn give_back(&mut self, class: usize, pool: PoolRef) {
        self.quiet_empty = None;
        if self.kept[class] == Some(pool) {
            self.kept[class] = None;
        }
        self.idle_ok = None;
        // SAFETY: caller's contract; the pool leaves the used list before
        // its arena takes it back.
        unsafe {
            self.used.unlink(class, pool);
            self.arenas.return_pool(pool);
        }
    }

    /// The used pool `pool` (the head of `class`'s list) has no free or
    /// untouched block left: it leaves the list until a block comes back.
    ///
    /// # Safety
    /// `pool` is the head of `class`'s used list, with every block allocated.
    #[cold]
    #[inline(never)]
    unsafe fn pool_filled(&mut self, pool: PoolRef, class: usize) {
        self.quiet_empty = None;
        // SAFETY: `pool` is on `class`'s list (caller's contract); a full
        // pool is on no list.
        unsafe { self.used.unlink(class, pool) };
    }

    /// `class`'s used list is empty: start a pool for it.
    #[cold]
    #[inline(never)]
    fn allocate_from_new_pool(&mut self, class: usize) -> NonNull<u8> {
        self.quiet_empty = None;
        let pool = self.arenas.take_pool();
        // SAFETY: `take_pool` returns an empty pool on no list, and
        // `pool_limit` leaves room for two blocks of any class (checked at
        // compile time in `arena`). After `init` its free list is not empty,
        // so it may join the used list; `init` returns a block, not null.
        unsafe {
            let block = pool.init(class, arena::pool_limit(pool));
            self.used.push_front(class, pool);
            NonNull::new_unchecked(block)
        }
    }

    /// `block` was just freed into its pool, which was full: the pool can
    /// serve again.
    ///
    /// # Safety
    /// `block` was just freed into its live pool of `class`, which is on no
    /// list.
    #[inline]
    unsafe fn pool_was_full(&mut self, block: *mut u8, class: usize) {
        // SAFETY: `block` is a block of a carved pool (caller's contract).
        let pool = unsafe { PoolRef::of_block(block) };
        debug_assert!(pool.ref_count() > 0, "a full pool emptied by one free");
        self.quiet_empty = None;
        // SAFETY: caller's contract; every pool holds at least two blocks,
        // so after one free it still has allocated blocks and a free one: it
        // is "used".
        unsafe { self.used.push_front(class, pool) };
    }

    /// `block`, the last allocated block of its pool, was just freed.
    ///
    /// # Safety
    /// `block` was just freed into its live pool of `class`, which is on
    /// `class`'s used list and has no allocated block left.
    #[inline]
    unsafe fn pool_emptied(&mut self, block: *mut u8, class: usize) {
        // SAFETY: `block` is a block of a carved pool (caller's contract).
        let pool = unsafe { PoolRef::of_block(block) };
        let arena = pool.arena();
        // pymalloc hands an emptied pool back to its arena at once, so a
        // program that allocates and frees one object at a time takes and
        // returns a pool on every allocation. The class's only pool stays
        // on its list instead (empty, ready); `release_free_arenas` and
        // `is_empty` account for such pools.
        let keep = self.used.head(class) == Some(pool) && pool.next().is_none();
        if keep && self.idle_ok == Some(arena) {
            // The allocate-and-free-one-object loop: its arena is the one
            // allowed to be idle, so nothing else needs a look (not even
            // the arena header), and the next time it empties, not even
            // this.
            self.kept[class] = Some(pool);
            self.quiet_empty = Some(pool);
            return;
        }
        self.quiet_empty = None;
        // An arena can only have become idle if, besides kept pools (at most
        // one per class), it held no pool but this one.
        let may_idle = arena.pools_taken() <= NUM_SIZE_CLASSES + 1;
        if keep {
            self.kept[class] = Some(pool);
        } else {
            // SAFETY: `pool` is on `class`'s list with no allocated block
            // (caller's contract), and is not used below.
            unsafe { self.give_back(class, pool) };
        }
        if may_idle && self.idle_ok != Some(arena) {
            self.limit_idle_arenas(arena);
        }
    }

    /// Keeps at most one idle arena (see the module docs): while the spare
    /// and the arenas holding nothing but kept empty pools number more than
    /// one, the kept pools of one such arena go back to it. `current` is the
    /// arena of the pool just emptied; it becomes `idle_ok` if no other
    /// arena is idle.
    #[cold]
    #[inline(never)]
    fn limit_idle_arenas(&mut self, current: ArenaRef) {
        self.quiet_empty = None;
        // Whether an arena went back (`current` may be gone then).
        let mut gave_back = false;
        loop {
            // (arena, kept empty pools in it), for arenas with one.
            let mut with_kept = [(None::<ArenaRef>, 0usize); NUM_SIZE_CLASSES];
            let mut len = 0;
            for class in 0..NUM_SIZE_CLASSES {
                // `kept` entries are pools of their class, cleared when their
                // pool goes back to its arena.
                let Some(pool) = self.kept[class] else {
                    continue;
                };
                if pool.ref_count() != 0 {
                    // Allocated from since it was kept: an ordinary used pool.
                    self.kept[class] = None;
                    continue;
                }
                let arena = Some(pool.arena());
                match with_kept[..len].iter_mut().find(|(a, _)| *a == arena) {
                    Some((_, n)) => *n += 1,
                    None => {
                        with_kept[len] = (arena, 1);
                        len += 1;
                    }
                }
            }
            let mut idle = usize::from(self.arenas.has_spare());
            let mut victim = None;
            for &(arena, kept) in &with_kept[..len] {
                if arena.is_some_and(|arena| arena.pools_taken() == kept) {
                    idle += 1;
                    victim = arena;
                }
            }
            if idle <= 1 {
                let only_current = idle == 0 || victim == Some(current);
                self.idle_ok = (only_current && !gave_back).then_some(current);
                return;
            }
            for class in 0..NUM_SIZE_CLASSES {
                // Once `victim` may have been freed, its pools are no longer
                // in `kept`, and `victim` is only compared, never read.
                if let Some(pool) = self.kept[class]
                    && Some(pool.arena()) == victim
                {
                    // SAFETY: a kept pool of `victim` has no allocated block
                    // (checked when counting) and is on its class's list, so
                    // it may go back; `kept[class]` is cleared with it.
                    unsafe { self.give_back(class, pool) };
                    gave_back = true;
                }
            }
        }
    }

    /// Calls `f` on every used pool that has no allocated block.
    fn for_each_empty_used_pool(&self, mut f: impl FnMut(usize, PoolRef)) {
        for class in 0..NUM_SIZE_CLASSES {
            let mut cursor = self.used.head(class);
            while let Some(pool) = cursor {
                if pool.ref_count() == 0 {
                    f(class, pool);
                }
                cursor = pool.next();
            }
        }
    }

    /// The layout actually requested from the global allocator for a large
    /// object: never zero-sized.
    #[inline(always)]
    fn large_layout(layout: Layout) -> Layout {
        // SAFETY: `layout.align()` is a valid alignment, and rounding a size
        // of at most `layout.size().max(1)` up to it cannot overflow isize
        // (it did not for `layout`, and 1 rounds up to the alignment itself).
        unsafe { Layout::from_size_align_unchecked(layout.size().max(1), layout.align()) }
    }

    /// Allocates a large object from the global allocator.
    #[inline(never)]
    fn allocate_large(&mut self, layout: Layout) -> NonNull<u8> {
        let real = Self::large_layout(layout);
        // SAFETY: `real` has a non-zero size.
        let ptr = unsafe { std::alloc::alloc(real) };
        let Some(ptr) = NonNull::new(ptr) else {
            std::alloc::handle_alloc_error(layout);
        };
        self.large_bytes += layout.size();
        self.large_count += 1;
        ptr
    }

    /// Frees a large object.
    ///
    /// # Safety
    /// `ptr` was returned by `allocate_large(layout)` and not freed since.
    #[inline(never)]
    unsafe fn deallocate_large(&mut self, ptr: NonNull<u8>, layout: Layout) {
        debug_assert!(
            self.large_count > 0,
            "freeing a large object none of which is live"
        );
        self.large_bytes -= layout.size();
        self.large_count -= 1;
        // SAFETY: `ptr` was allocated by the global allocator with
        // `large_layout(layout)` (caller's contract).
        unsafe { std::alloc::dealloc(ptr.as_ptr(), Self::large_layout(layout)) }
    }
}

impl Drop for Allocator {
    fn drop(&mut self) {
        debug_assert!(
            self.is_empty(),
            "allocator dropped while blocks are still allocated"
        );
        if self.is_empty() {
            // SAFETY: no block is allocated, so no block is used again.
            unsafe { self.arenas.free_all() }
        } else {
            // Live blocks may still be reachable: leak their arenas rather
            // than free memory under them.
            self.arenas.release_free();
        }
    }
}
