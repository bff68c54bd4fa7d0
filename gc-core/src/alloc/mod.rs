//! Pooled small-object allocator (pymalloc's shape). PLACEHOLDER: replaced
//! by the pool implementation.

use core::alloc::Layout;
use core::ptr::NonNull;

use crate::stats::HeapStats;

/// Per-thread allocator.
pub(crate) struct Allocator {
    bytes: usize,
}

impl Allocator {
    pub(crate) const fn new() -> Self {
        Allocator { bytes: 0 }
    }

    #[inline]
    pub(crate) fn allocate(&mut self, layout: Layout) -> NonNull<u8> {
        self.bytes += layout.size();
        // SAFETY: callers never ask for zero-sized layouts (headers are 8+ bytes).
        let p = unsafe { std::alloc::alloc(layout) };
        NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
    }

    /// # Safety
    /// `ptr` came from `allocate(layout)` on this allocator and is not used again.
    #[inline]
    pub(crate) unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) {
        self.bytes -= layout.size();
        // SAFETY: caller's contract.
        unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) }
    }

    pub(crate) fn stats(&self) -> HeapStats {
        HeapStats {
            bytes_in_use: self.bytes,
            bytes_reserved: self.bytes,
            ..HeapStats::default()
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    pub(crate) fn release_free_arenas(&mut self) {}
}
