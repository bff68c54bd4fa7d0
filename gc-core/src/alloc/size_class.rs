//! Size classes and the allocator's geometry.
//!
//! Small requests are served from pools dedicated to one block size, their
//! *size class*. Below 128 bytes the classes go in 8-byte steps (as
//! mimalloc's small bins), so a 56-byte object takes a 56-byte block, not
//! a 64-byte one; above, in 16-byte steps up to 512 bytes. Every block is
//! aligned to 8, and to 16 when its size is a multiple of 16 (pools start
//! their blocks 16-aligned): a type whose alignment is 16 has a size that
//! is a multiple of 16, so it always lands in such a class. The smallest
//! block is 16 bytes (an untracked object's 8-byte header plus the layout
//! it stashes when its value goes early, see `release::stash_layout`).
//!
//! | request size (bytes) | block size | class index |
//! |----------------------|-----------:|------------:|
//! | 1 ..= 16             |         16 |           0 |
//! | 17 ..= 24            |         24 |           1 |
//! | ...                  |        ... |         ... |
//! | 121 ..= 128          |        128 |          14 |
//! | 129 ..= 144          |        144 |          15 |
//! | ...                  |        ... |         ... |
//! | 497 ..= 512          |        512 |          38 |
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

/// Alignment of the pools' first blocks, and the class step above
/// [`FINE_CLASSES_UP_TO`].
pub(crate) const ALIGNMENT: usize = 16;

/// The class step up to [`FINE_CLASSES_UP_TO`].
pub(crate) const FINE_STEP: usize = 8;

/// Largest block size of the 8-byte-step classes.
pub(crate) const FINE_CLASSES_UP_TO: usize = 128;

/// The smallest block.
pub(crate) const MIN_BLOCK: usize = 16;

/// Largest request (in bytes) served from pools.
pub(crate) const SMALL_REQUEST_THRESHOLD: usize = 512;

/// Classes of 8-byte steps (16, 24, ..., 128).
const FINE_CLASSES: usize = (FINE_CLASSES_UP_TO - MIN_BLOCK) / FINE_STEP + 1;

/// Number of size classes: 15 in 8-byte steps, 24 in 16-byte steps.
pub(crate) const NUM_SIZE_CLASSES: usize =
    FINE_CLASSES + (SMALL_REQUEST_THRESHOLD - FINE_CLASSES_UP_TO) / ALIGNMENT;

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
    assert!(FINE_CLASSES_UP_TO.is_multiple_of(ALIGNMENT));
    assert!(NUM_SIZE_CLASSES == 39);
    assert!(class_size(NUM_SIZE_CLASSES - 1) == SMALL_REQUEST_THRESHOLD);
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
    if layout.size() > SMALL_REQUEST_THRESHOLD || layout.align() > ALIGNMENT {
        return None;
    }
    // A 16-aligned request takes a 16-multiple class (its blocks are
    // 16-aligned); a type's size is already a multiple of its alignment.
    let size = if layout.align() > FINE_STEP {
        round_up(layout.size(), ALIGNMENT)
    } else {
        layout.size()
    };
    Some(if size <= FINE_CLASSES_UP_TO {
        // 0 for 0..=16, then one class per 8 bytes.
        size.saturating_sub(MIN_BLOCK - FINE_STEP + 1) / FINE_STEP
    } else {
        FINE_CLASSES - 1 + (size - FINE_CLASSES_UP_TO).div_ceil(ALIGNMENT)
    })
}

/// Block size, in bytes, of size class `class`.
#[inline(always)]
pub(crate) const fn class_size(class: usize) -> usize {
    if class < FINE_CLASSES {
        MIN_BLOCK + class * FINE_STEP
    } else {
        FINE_CLASSES_UP_TO + (class + 1 - FINE_CLASSES) * ALIGNMENT
    }
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
        assert_eq!(class(24, 8), Some(1));
        assert_eq!(class(32, 16), Some(2));
        assert_eq!(class(56, 8), Some(5));
        assert_eq!(class(128, 16), Some(14));
        assert_eq!(class(129, 1), Some(15));
        assert_eq!(class(144, 16), Some(15));
        assert_eq!(class(511, 1), Some(38));
        assert_eq!(class(512, 16), Some(38));
        assert_eq!(class(513, 1), None);
        assert_eq!(class(16, 32), None, "over-aligned requests are large");
    }

    #[test]
    fn every_size_fits_its_class() {
        for size in 1..=SMALL_REQUEST_THRESHOLD {
            let c = class(size, 1).unwrap();
            assert!(c < NUM_SIZE_CLASSES);
            let block = class_size(c);
            assert!(block >= size, "size {size} does not fit class {c}");
            let step = if size <= FINE_CLASSES_UP_TO {
                FINE_STEP
            } else {
                ALIGNMENT
            };
            assert!(
                block < size.max(MIN_BLOCK) + step,
                "size {size} wastes a step"
            );
            assert_eq!(small_class_of_block(block), c, "classes are contiguous");
        }
        assert_eq!(class_size(0), 16);
        assert_eq!(class_size(5), 56);
        assert_eq!(class_size(14), 128);
        assert_eq!(class_size(15), 144);
        assert_eq!(class_size(38), 512);
    }

    #[test]
    fn sixteen_aligned_requests_get_sixteen_multiple_blocks() {
        for size in 1..=SMALL_REQUEST_THRESHOLD {
            let c = class(size, 16).unwrap();
            assert!(class_size(c).is_multiple_of(16), "size {size}");
            assert!(class_size(c) >= size);
        }
    }

    fn small_class_of_block(block: usize) -> usize {
        class(block, 8).unwrap()
    }

    #[test]
    fn geometry() {
        assert_eq!(POOLS_PER_ARENA, 64);
        assert_eq!(round_up(1, 16), 16);
        assert_eq!(round_up(48, 16), 48);
    }
}
