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
//!   list and may later serve any class. It keeps its header and free list
//!   so that, if it is next used for the same class, it needs no
//!   re-initialisation.

use core::ptr;

use super::arena::ArenaHeader;
use super::size_class::{ALIGNMENT, NUM_SIZE_CLASSES, POOL_SIZE, class_size, round_up};

/// Header at the start of every pool.
///
/// Accessed only through raw pointers derived from the arena allocation, never
/// through references, so that callers' references to blocks of the same
/// pool stay valid.
#[repr(C)]
pub(crate) struct PoolHeader {
    /// Number of blocks currently allocated from this pool.
    pub(crate) ref_count: u32,
    /// Size class of the blocks, or [`NO_CLASS`] for a never-used pool.
    pub(crate) size_class: u32,
    /// Head of the free-block list (null when there is none).
    pub(crate) free_block: *mut u8,
    /// Offset of the first untouched block.
    pub(crate) next_offset: u32,
    /// Largest offset at which a whole block still fits.
    pub(crate) max_next_offset: u32,
    /// Next pool: on the [`UsedPools`] list of the class while used, on the
    /// arena's free-pool list while empty.
    pub(crate) next: *mut PoolHeader,
    /// Previous pool on the [`UsedPools`] list (null at the head).
    pub(crate) prev: *mut PoolHeader,
    /// The arena this pool was carved from.
    pub(crate) arena: *mut ArenaHeader,
}

/// Bytes at the start of each pool taken by the header; blocks start here.
pub(crate) const POOL_OVERHEAD: usize = round_up(size_of::<PoolHeader>(), ALIGNMENT);

/// `size_class` of a pool that has never served any class.
pub(crate) const NO_CLASS: u32 = u32::MAX;

impl PoolHeader {
    /// Header of a pool just carved from `arena`, never used.
    pub(crate) const fn fresh(arena: *mut ArenaHeader) -> Self {
        PoolHeader {
            ref_count: 0,
            size_class: NO_CLASS,
            free_block: ptr::null_mut(),
            next_offset: 0,
            max_next_offset: 0,
            next: ptr::null_mut(),
            prev: ptr::null_mut(),
            arena,
        }
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

/// Pops the head of `pool`'s free list and counts it as allocated.
///
/// May leave the free list empty: the caller then calls [`extend`] (or
/// unlinks the pool as full) to restore the used-pool invariant.
///
/// # Safety
/// `pool` is a live, initialised pool whose free list is not empty.
#[inline(always)]
pub(crate) unsafe fn pop(pool: *mut PoolHeader) -> *mut u8 {
    // SAFETY: `pool` is live and initialised (caller's contract), so its
    // header may be read and written through the raw pointer.
    unsafe {
        let block = (*pool).free_block;
        debug_assert!(
            !block.is_null(),
            "popping from a pool with an empty free list"
        );
        (*pool).free_block = next_free(block);
        (*pool).ref_count += 1;
        block
    }
}

/// Pushes `block` on `pool`'s free list and counts it as freed. Returns the
/// previous head of the free list: null means the pool was full.
///
/// # Safety
/// `block` is an allocated block of the live pool `pool`, and is not used
/// again by the caller.
#[inline(always)]
pub(crate) unsafe fn push(pool: *mut PoolHeader, block: *mut u8) -> *mut u8 {
    // SAFETY: `block` is an allocated block (16 aligned, >= 16 bytes) that
    // nobody uses any more, so its first word can hold the link; `pool` is its
    // live pool (caller's contract).
    unsafe {
        let last = (*pool).free_block;
        block.cast::<*mut u8>().write(last);
        (*pool).free_block = block;
        debug_assert!(
            (*pool).ref_count > 0,
            "freeing a block of a pool with no allocated block"
        );
        (*pool).ref_count -= 1;
        last
    }
}

/// Carves the next untouched block of `pool` onto its (empty) free list.
/// Returns `false`, changing nothing, if no untouched block is left: the pool
/// is then full.
///
/// # Safety
/// `pool` is a live pool initialised by [`init`].
pub(crate) unsafe fn extend(pool: *mut PoolHeader) -> bool {
    // SAFETY: `pool` is live and initialised (caller's contract); offsets up
    // to `max_next_offset` leave room for a whole block inside the pool, so
    // the carved block is in bounds of the arena allocation.
    unsafe {
        debug_assert!(
            (*pool).free_block.is_null(),
            "extending a pool whose free list is not empty"
        );
        let offset = (*pool).next_offset;
        if offset > (*pool).max_next_offset {
            return false;
        }
        let block = pool.cast::<u8>().add(offset as usize);
        block.cast::<*mut u8>().write(ptr::null_mut());
        (*pool).free_block = block;
        (*pool).next_offset = offset + class_size((*pool).size_class as usize) as u32;
        true
    }
}

/// Makes `pool` serve `class` and returns one allocated block of it. The
/// pool's blocks end at offset `limit` (the pool size, less whatever the
/// arena keeps at the end of the pool). On return the free list is not
/// empty.
///
/// A pool that last served `class` still has a valid free list (holding
/// every block it ever carved, at least two), so it is reused as is;
/// otherwise the header is reset and blocks are carved afresh.
///
/// # Safety
/// `pool` is a live, empty pool (carved, no block allocated, on no list),
/// and `limit` leaves room for at least two blocks of `class` after the
/// header.
pub(crate) unsafe fn init(pool: *mut PoolHeader, class: usize, limit: usize) -> *mut u8 {
    // SAFETY: `pool` is live, empty and ours alone (caller's contract). A
    // same-class free pool holds every block it carved on its free list, and
    // it carved at least two (the first allocation carves two), so the list
    // is non-empty before the pop and after it.
    unsafe {
        debug_assert!(
            (*pool).ref_count == 0,
            "initialising a pool with allocated blocks"
        );
        if (*pool).size_class as usize == class {
            let block = pop(pool);
            debug_assert!(
                !(*pool).free_block.is_null(),
                "reused pool's free list ran dry"
            );
            return block;
        }
        let size = class_size(class);
        debug_assert!(
            POOL_OVERHEAD + 2 * size <= limit,
            "pool too small for two blocks"
        );
        (*pool).size_class = class as u32;
        (*pool).ref_count = 1;
        (*pool).free_block = ptr::null_mut();
        (*pool).next_offset = (POOL_OVERHEAD + size) as u32;
        (*pool).max_next_offset = (limit - size) as u32;
        let ok = extend(pool);
        debug_assert!(ok, "a fresh pool has room for a second block");
        pool.cast::<u8>().add(POOL_OVERHEAD)
    }
}

/// Debug check that `block` is a block of `class` allocated from `pool`:
/// catches a wrong layout or a foreign pointer passed to `deallocate`.
///
/// # Safety
/// `pool` is a live, initialised pool.
#[cfg(debug_assertions)]
pub(crate) unsafe fn debug_check_block(pool: *mut PoolHeader, block: *mut u8, class: usize) {
    // SAFETY: `pool` is live and initialised (caller's contract).
    unsafe {
        assert_eq!(
            (*pool).size_class as usize,
            class,
            "deallocate: layout's size class differs from the block's pool"
        );
        assert!(
            (*pool).ref_count > 0,
            "deallocate: pool has no allocated block (double free?)"
        );
        let offset = block.addr() - pool.addr();
        assert!(
            offset >= POOL_OVERHEAD
                && offset < (*pool).next_offset as usize
                && (offset - POOL_OVERHEAD).is_multiple_of(class_size(class)),
            "deallocate: pointer is not the start of a carved block"
        );
    }
}

/// Heads of the per-class doubly-linked lists of used pools (pools with at
/// least one allocated block and a non-empty free list).
///
/// pymalloc uses a trick with fake headers so the list is circular; here
/// the lists are null-terminated, so the fast-path emptiness test is a
/// null check on the head.
pub(crate) struct UsedPools {
    heads: [*mut PoolHeader; NUM_SIZE_CLASSES],
}

impl UsedPools {
    /// All lists empty.
    pub(crate) const fn new() -> Self {
        UsedPools {
            heads: [ptr::null_mut(); NUM_SIZE_CLASSES],
        }
    }

    /// The pool to allocate `class` from next, or null.
    #[inline(always)]
    pub(crate) fn head(&self, class: usize) -> *mut PoolHeader {
        self.heads[class]
    }

    /// Links `pool` at the front of `class`'s list.
    ///
    /// # Safety
    /// `pool` is a live used pool of `class`, on no list; every pool on the
    /// list is live.
    pub(crate) unsafe fn push_front(&mut self, class: usize, pool: *mut PoolHeader) {
        let head = self.heads[class];
        // SAFETY: `pool` and the pools on the list are live (caller's
        // contract).
        unsafe {
            debug_assert_eq!(
                (*pool).size_class as usize,
                class,
                "pool linked on the wrong class list"
            );
            (*pool).prev = ptr::null_mut();
            (*pool).next = head;
            if !head.is_null() {
                (*head).prev = pool;
            }
        }
        self.heads[class] = pool;
    }

    /// Unlinks `pool` from `class`'s list.
    ///
    /// # Safety
    /// `pool` is on `class`'s list; every pool on the list is live.
    pub(crate) unsafe fn unlink(&mut self, class: usize, pool: *mut PoolHeader) {
        // SAFETY: `pool` and its neighbours are live pools on this list
        // (caller's contract).
        unsafe {
            let (prev, next) = ((*pool).prev, (*pool).next);
            if prev.is_null() {
                debug_assert!(
                    self.heads[class] == pool,
                    "unlinking a pool that is not on the list"
                );
                self.heads[class] = next;
            } else {
                (*prev).next = next;
            }
            if !next.is_null() {
                (*next).prev = prev;
            }
            (*pool).prev = ptr::null_mut();
            (*pool).next = ptr::null_mut();
        }
    }
}
