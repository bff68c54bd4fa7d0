//! Pools: 16 KiB pages of equal-sized blocks, and the per-class lists of
//! pools that still have room.
//!
//! A pool serves one size class at a time. It starts with a [`PoolHeader`]
//! and is followed by a grid of blocks of that class's size. Because pools
//! are [`POOL_SIZE`]-aligned, the header of the pool owning any block is
//! found by clearing the low bits of the block's address ([`pool_of`]), so
//! blocks carry no metadata of their own: a 16-byte request costs exactly
//! 16 bytes.
//!
//! Blocks go through three states, as in pymalloc:
//!
//! * **untouched**: never handed out. They lie past `next_offset` and are
//!   carved lazily, one at a time, only when the free list runs dry. So a
//!   fresh pool touches (and makes the OS commit) only the memory actually
//!   used, and initialising a pool costs O(1) instead of O(blocks).
//! * **allocated**: owned by the caller; counted in `ref_count`.
//! * **free**: on the pool's singly-linked free list, whose links are
//!   stored in the first word of each free block (the block is otherwise
//!   dead, so this costs nothing).
//!
//! A pool is itself in one of three states:
//!
//! * **used**: some blocks allocated, some free or untouched. It is on the
//!   [`UsedPools`] list of its class, and its free list is never empty (the
//!   allocator tops it up from the untouched space the moment it empties).
//!   Allocation only ever looks at the head of that list, so the fast path
//!   is: take the head pool, pop its free list.
//! * **full**: every block allocated. It is on no list: nothing can be
//!   allocated from it, and freeing a block finds the pool by address
//!   anyway. Freeing one of its blocks relinks it at the *front* of its
//!   class's list, so the next allocation of that class fills the hole
//!   (keeping pools dense, which lets other pools drain).
//! * **empty**: no block allocated. It goes back to its arena's free-pool
//!   list and may later serve any class; when taken again it is carved
//!   afresh (see [`PoolRef::init`]), so a rebuilt structure gets its blocks
//!   in address order.

use core::ptr::{self, NonNull};

use super::arena::ArenaRef;
use super::size_class::{ALIGNMENT, NUM_SIZE_CLASSES, POOL_SIZE, class_size, round_up};

/// Header at the start of every pool.
///
/// Accessed only through [`PoolRef`], whose accessors go through raw
/// pointers derived from the arena allocation, never through references, so
/// that callers' references to blocks of the same pool stay valid.
#[repr(C)]
pub(crate) struct PoolHeader {
    /// Number of blocks currently allocated from this pool.
    ref_count: u32,
    /// Size class of the blocks, or [`NO_CLASS`] for a never-used pool.
    size_class: u32,
    /// Head of the free-block list (null when there is none).
    free_block: *mut u8,
    /// Offset of the first untouched block.
    next_offset: u32,
    /// Largest offset at which a whole block still fits.
    max_next_offset: u32,
    /// Next pool: on the [`UsedPools`] list of the class while used, on the
    /// arena's free-pool list while empty.
    next: Option<PoolRef>,
    /// Previous pool on the [`UsedPools`] list (`None` at the head).
    prev: Option<PoolRef>,
    /// The arena this pool was carved from.
    arena: ArenaRef,
}

/// Bytes at the start of each pool taken by the header; blocks start here.
pub(crate) const POOL_OVERHEAD: usize = round_up(size_of::<PoolHeader>(), ALIGNMENT);

/// `size_class` of a pool that has never served any class.
pub(crate) const NO_CLASS: u32 = u32::MAX;

impl PoolHeader {
    /// Header of a pool just carved from `arena`, never used.
    pub(crate) const fn fresh(arena: ArenaRef) -> Self {
        PoolHeader {
            ref_count: 0,
            size_class: NO_CLASS,
            free_block: ptr::null_mut(),
            next_offset: 0,
            max_next_offset: 0,
            next: None,
            prev: None,
            arena,
        }
    }
}

/// Handle to a pool header.
///
/// **Type invariant**: it points to the header of a *carved* pool (one whose
/// header [`Arenas::take_pool`](super::arena::Arenas::take_pool) has written)
/// of a live arena of this heap, with provenance over that whole arena. The
/// invariant is established once, by the `unsafe` constructors; it ends only
/// when the arena goes back to the system, which happens in `unsafe`
/// functions whose contract is that no handle to its pools is used again
/// (only compared). So the header accessors are safe, one load or store
/// each.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub(crate) struct PoolRef(NonNull<PoolHeader>);

// `None` is null: links and emptiness tests cost what raw pointers did.
const _: () = assert!(size_of::<Option<PoolRef>>() == size_of::<*mut PoolHeader>());

header_accessors!(PoolRef => PoolHeader, setters(pub(super)) {
    /// Number of blocks currently allocated from this pool.
    ref_count / set_ref_count: u32,
    /// Size class of the blocks, or [`NO_CLASS`] for a never-used pool.
    size_class / set_size_class: u32,
    /// Head of the free-block list (null when there is none).
    free_block / set_free_block: *mut u8,
    /// Offset of the first untouched block.
    next_offset / set_next_offset: u32,
    /// Largest offset at which a whole block still fits.
    max_next_offset / set_max_next_offset: u32,
    /// Next pool on the class's used list or the arena's free-pool list.
    next / set_next: Option<PoolRef>,
    /// Previous pool on the class's used list.
    prev / set_prev: Option<PoolRef>,
    /// The arena this pool was carved from (live while the pool is).
    arena: ArenaRef,
});

impl PoolRef {
    /// Wraps the header pointer of a carved pool.
    ///
    /// # Safety
    /// `header` points to the initialised header of a carved pool of a live
    /// arena of this heap, with provenance over the whole arena (the type
    /// invariant), and the handle is not used once that arena is returned.
    #[inline(always)]
    pub(crate) unsafe fn new(header: *mut PoolHeader) -> Self {
        // SAFETY: a pool header is never at address 0 (caller's contract).
        PoolRef(unsafe { NonNull::new_unchecked(header) })
    }

    /// The pool owning `block` ([`pool_of`]).
    ///
    /// # Safety
    /// `block` points into a carved pool of a live arena of this heap, with
    /// provenance over the arena (any block this allocator handed out).
    #[inline(always)]
    pub(crate) unsafe fn of_block(block: *mut u8) -> Self {
        // SAFETY: the pool of a block in a carved pool is that carved pool,
        // and masking keeps the block's provenance (caller's contract).
        unsafe { PoolRef::new(pool_of(block)) }
    }

    /// The header pointer, for address comparisons and tests.
    #[inline(always)]
    pub(crate) fn as_ptr(self) -> *mut PoolHeader {
        self.0.as_ptr()
    }

    /// The address `offset` bytes into the pool, with the arena's
    /// provenance. Computing it is safe; it is a block only if the offset is
    /// one.
    #[inline(always)]
    fn byte_at(self, offset: usize) -> *mut u8 {
        debug_assert!(offset < POOL_SIZE, "offset past the pool");
        self.0.as_ptr().cast::<u8>().wrapping_add(offset)
    }
}

/// The pool owning `block`: its address with the low bits cleared.
///
/// Pure address arithmetic that keeps `block`'s provenance (which covers the
/// whole arena), so the result may be dereferenced if `block` points into a
/// pool.
#[inline(always)]
pub(crate) fn pool_of(block: *mut u8) -> *mut PoolHeader {
    block.map_addr(|a| a & !(POOL_SIZE - 1)).cast()
}

/// The free-list link stored in free `block`.
///
/// # Safety
/// `block` is a free block (on some free list) of a live pool.
#[inline(always)]
unsafe fn next_free(block: *mut u8) -> *mut u8 {
    // SAFETY: free blocks are at least 16 bytes, 16-aligned and hold a link
    // in their first word, written by `push`/`extend` (caller's contract).
    unsafe { block.cast::<*mut u8>().read() }
}

/// Stores the free-list link `next` in `block`.
///
/// # Safety
/// `block` is a block of a live pool that nobody uses (free, untouched, or
/// being freed).
#[inline(always)]
unsafe fn set_next_free(block: *mut u8, next: *mut u8) {
    // SAFETY: blocks are at least 16 bytes and 16-aligned, and this one is
    // unused, so its first word may hold the link (caller's contract).
    unsafe { block.cast::<*mut u8>().write(next) }
}

impl PoolRef {
    /// Pops the head of the free list and counts it as allocated.
    ///
    /// May leave the free list empty: the caller then calls
    /// [`extend`](Self::extend) (or unlinks the pool as full) to restore the
    /// used-pool invariant.
    ///
    /// # Safety
    /// The pool has been initialised by [`init`](Self::init) and its free
    /// list is not empty.
    #[inline(always)]
    pub(crate) unsafe fn pop(self) -> *mut u8 {
        let block = self.free_block();
        debug_assert!(
            !block.is_null(),
            "popping from a pool with an empty free list"
        );
        // SAFETY: `block` heads the pool's free list (caller's contract).
        self.set_free_block(unsafe { next_free(block) });
        self.set_ref_count(self.ref_count() + 1);
        block
    }

    /// Pushes `block` on the free list and counts it as freed. Returns the
    /// previous head of the free list: null means the pool was full.
    ///
    /// # Safety
    /// `block` is an allocated block of this pool, and is not used again by
    /// the caller.
    #[inline(always)]
    pub(crate) unsafe fn push(self, block: *mut u8) -> *mut u8 {
        let last = self.free_block();
        // SAFETY: `block` is a block of this pool that nobody uses any more
        // (caller's contract).
        unsafe { set_next_free(block, last) };
        self.set_free_block(block);
        debug_assert!(
            self.ref_count() > 0,
            "freeing a block of a pool with no allocated block"
        );
        self.set_ref_count(self.ref_count() - 1);
        last
    }

    /// Carves the next untouched block onto the (empty) free list. Returns
    /// `false`, changing nothing, if no untouched block is left: the pool is
    /// then full.
    ///
    /// Inlined into the allocation fast path: building a structure takes
    /// each block this way (pymalloc's `nextoffset` bump), so it is a few
    /// loads and stores, with `class` a constant where the layout is.
    ///
    /// # Safety
    /// The pool has been initialised by [`init`](Self::init) for `class`.
    #[inline(always)]
    pub(crate) unsafe fn extend(self, class: usize) -> bool {
        debug_assert_eq!(self.size_class() as usize, class);
        debug_assert!(
            self.free_block().is_null(),
            "extending a pool whose free list is not empty"
        );
        let offset = self.next_offset();
        if offset > self.max_next_offset() {
            return false;
        }
        let block = self.byte_at(offset as usize);
        // SAFETY: `init` set `max_next_offset` so that a whole block fits at
        // any offset up to it (caller's contract), and blocks past
        // `next_offset` are untouched: `block` is an unused block.
        unsafe { set_next_free(block, ptr::null_mut()) };
        self.set_free_block(block);
        self.set_next_offset(offset + class_size(class) as u32);
        true
    }

    /// Makes the pool serve `class` and returns one allocated block of it.
    /// The pool's blocks end at offset `limit` (the pool size, less whatever
    /// the arena keeps at the end of the pool). On return the free list is
    /// not empty.
    ///
    /// The header is always reset and blocks are carved afresh, even when
    /// the pool last served `class` and its old free list is still valid:
    /// that list runs through the blocks in the order they were freed, so
    /// following it would make each allocation load a link from a block
    /// nobody has touched for a long time (a dependent cache miss per
    /// allocation when a big structure is rebuilt), where carving hands
    /// blocks out in address order without reading them. Resetting is O(1):
    /// carving is lazy.
    ///
    /// # Safety
    /// The pool is empty (no block allocated, on no list) and ours alone,
    /// and `limit` is its [`pool_limit`](super::arena::pool_limit), which
    /// leaves room for at least two blocks of `class` after the header.
    pub(crate) unsafe fn init(self, class: usize, limit: usize) -> *mut u8 {
        debug_assert!(
            self.ref_count() == 0,
            "initialising a pool with allocated blocks"
        );
        let size = class_size(class);
        debug_assert!(
            POOL_OVERHEAD + 2 * size <= limit,
            "pool too small for two blocks"
        );
        self.set_size_class(class as u32);
        self.set_ref_count(1);
        self.set_free_block(ptr::null_mut());
        self.set_next_offset((POOL_OVERHEAD + size) as u32);
        self.set_max_next_offset((limit - size) as u32);
        // SAFETY: the header was just initialised for `class` within `limit`.
        let ok = unsafe { self.extend(class) };
        debug_assert!(ok, "a fresh pool has room for a second block");
        self.byte_at(POOL_OVERHEAD)
    }

    /// Debug check that `block` is a block of `class` allocated from this
    /// pool: catches a wrong layout or a foreign pointer passed to
    /// `deallocate`.
    #[cfg(debug_assertions)]
    pub(crate) fn debug_check_block(self, block: *mut u8, class: usize) {
        assert_eq!(
            self.size_class() as usize,
            class,
            "deallocate: layout's size class differs from the block's pool"
        );
        assert!(
            self.ref_count() > 0,
            "deallocate: pool has no allocated block (double free?)"
        );
        let offset = block.addr() - self.as_ptr().addr();
        assert!(
            offset >= POOL_OVERHEAD
                && offset < self.next_offset() as usize
                && (offset - POOL_OVERHEAD).is_multiple_of(class_size(class)),
            "deallocate: pointer is not the start of a carved block"
        );
    }
}

/// Heads of the per-class doubly-linked lists of used pools (pools with at
/// least one allocated block and a non-empty free list).
///
/// pymalloc uses a trick with fake headers so the list is circular; here
/// the lists are `None`-terminated, so the fast-path emptiness test is a
/// null check on the head.
pub(crate) struct UsedPools {
    heads: [Option<PoolRef>; NUM_SIZE_CLASSES],
}

impl UsedPools {
    /// All lists empty.
    pub(crate) const fn new() -> Self {
        UsedPools {
            heads: [None; NUM_SIZE_CLASSES],
        }
    }

    /// The pool to allocate `class` from next, if any.
    #[inline(always)]
    pub(crate) fn head(&self, class: usize) -> Option<PoolRef> {
        self.heads[class]
    }

    /// Links `pool` at the front of `class`'s list.
    ///
    /// # Safety
    /// `pool` is a pool initialised for `class`, with a non-empty free list,
    /// on no list.
    pub(crate) unsafe fn push_front(&mut self, class: usize, pool: PoolRef) {
        debug_assert_eq!(
            pool.size_class() as usize,
            class,
            "pool linked on the wrong class list"
        );
        let head = self.heads[class];
        pool.set_prev(None);
        pool.set_next(head);
        if let Some(head) = head {
            head.set_prev(Some(pool));
        }
        self.heads[class] = Some(pool);
    }

    /// Unlinks `pool` from `class`'s list.
    ///
    /// # Safety
    /// `pool` is on `class`'s list.
    pub(crate) unsafe fn unlink(&mut self, class: usize, pool: PoolRef) {
        let (prev, next) = (pool.prev(), pool.next());
        match prev {
            None => {
                debug_assert!(
                    self.heads[class] == Some(pool),
                    "unlinking a pool that is not on the list"
                );
                self.heads[class] = next;
            }
            Some(prev) => prev.set_next(next),
        }
        if let Some(next) = next {
            next.set_prev(prev);
        }
        pool.set_prev(None);
        pool.set_next(None);
    }
}
