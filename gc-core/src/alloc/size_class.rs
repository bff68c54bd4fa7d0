//! Size classes and the allocator's geometry.
//!
//! Small requests are rounded up to a multiple of [`ALIGNMENT`] (16 bytes)
//! and served from pools dedicated to that rounded size, its *size class*.
//! Rounding to 16 keeps every block 16-byte aligned (enough for any type
//! whose alignment is at most 16) and bounds the internal waste to 15 bytes
//! per block, while 32 classes keep the per-class bookkeeping (one list
//! head each) tiny:
//!
//! | request size (bytes) | block size | class index |
//! |----------------------|-----------:|------------:|
//! | 1 ..= 16             |         16 |           0 |
//! | 17 ..= 32            |         32 |           1 |
//! | ...                  |        ... |         ... |
//! | 497 ..= 512          |        512 |          31 |
//!
//! Anything bigger than [`SMALL_REQUEST_THRESHOLD`], or aligned to more than
//! 16, is a *large object* and goes straight to the global allocator: for
//! big blocks the general-purpose allocator's per-block overhead is
//! relatively small, and carving them from 16 KiB pools would waste most of
//! a pool's tail.
//!
//! All functions are `const` and `#[inline]` so that, for a `Layout` known
//! at compile time, the class index folds to a constant in the caller.

use core::alloc::Layout;

/// Block alignment and the step between size classes.
pub(crate) const ALIGNMENT: usize = 16;

/// `log2(ALIGNMENT)`.
pub(crate) const ALIGNMENT_SHIFT: u32 = ALIGNMENT.trailing_zeros();

/// Largest request (in bytes) served from pools.
pub(crate) const SMALL_REQUEST_THRESHOLD: usize = 512;

/// Number of size classes (`512 / 16`).
pub(crate) const NUM_SIZE_CLASSES: usize = SMALL_REQUEST_THRESHOLD / ALIGNMENT;

/// Size of a pool, which is also its alignment: the pool owning a block is
/// found by clearing the low bits of the block's address.
pub(crate) const POOL_SIZE: usize = 16 * 1024;

/// Size of an arena, the unit obtained from (and returned to) the global
/// allocator.
pub(crate) const ARENA_SIZE: usize = 1024 * 1024;

/// Pools per arena. Arenas are allocated [`POOL_SIZE`]-aligned, so every
/// pool-sized slice of an arena is a usable, aligned pool.
pub(crate) const POOLS_PER_ARENA: usize = ARENA_SIZE / POOL_SIZE;

const _: () = {
    assert!(ALIGNMENT.is_power_of_two());
    assert!(POOL_SIZE.is_power_of_two());
    assert!(ARENA_SIZE.is_multiple_of(POOL_SIZE));
    assert!(NUM_SIZE_CLASSES * ALIGNMENT == SMALL_REQUEST_THRESHOLD);
    // `HeapStats` documents 32 classes of 16-byte steps.
    assert!(ALIGNMENT == 16 && NUM_SIZE_CLASSES == 32);
};

/// Rounds `n` up to a multiple of `align` (a power of two).
pub(crate) const fn round_up(n: usize, align: usize) -> usize {
    (n + align - 1) & !(align - 1)
}

/// The size class serving `layout`, or `None` for a large object.
///
/// A zero size (which callers never pass) maps to class 0, so the result is
/// always a valid index below [`NUM_SIZE_CLASSES`] and indexing with it needs
/// no bounds check.
#[inline(always)]
pub(crate) const fn small_class(layout: Layout) -> Option<usize> {
    if layout.size() <= SMALL_REQUEST_THRESHOLD && layout.align() <= ALIGNMENT {
        Some(layout.size().saturating_sub(1) >> ALIGNMENT_SHIFT)
    } else {
        None
    }
}

/// Block size, in bytes, of size class `class`.
#[inline(always)]
pub(crate) const fn class_size(class: usize) -> usize {
    (class + 1) << ALIGNMENT_SHIFT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(size: usize, align: usize) -> Option<usize> {
        small_class(Layout::from_size_align(size, align).unwrap())
    }

    #[test]
    fn class_boundaries() {
        assert_eq!(class(1, 1), Some(0));
        assert_eq!(class(16, 8), Some(0));
        assert_eq!(class(17, 8), Some(1));
        assert_eq!(class(32, 16), Some(1));
        assert_eq!(class(33, 1), Some(2));
        assert_eq!(class(511, 1), Some(31));
        assert_eq!(class(512, 16), Some(31));
        assert_eq!(class(513, 1), None);
        assert_eq!(class(16, 32), None, "over-aligned requests are large");
    }

    #[test]
    fn every_size_fits_its_class() {
        for size in 1..=SMALL_REQUEST_THRESHOLD {
            let c = class(size, 1).unwrap();
            assert!(c < NUM_SIZE_CLASSES);
            assert!(class_size(c) >= size, "size {size} does not fit class {c}");
            assert!(
                class_size(c) - size < ALIGNMENT,
                "size {size} wastes a step"
            );
        }
        assert_eq!(class_size(0), 16);
        assert_eq!(class_size(31), 512);
    }

    #[test]
    fn geometry() {
        assert_eq!(POOLS_PER_ARENA, 64);
        assert_eq!(round_up(1, 16), 16);
        assert_eq!(round_up(48, 16), 48);
    }
}
