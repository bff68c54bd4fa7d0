//! Retired arenas: memory of wholly free arenas, handed back to the kernel
//! lazily and kept for reuse.
//!
//! An arena that becomes wholly free goes back to the system (see
//! [`arena`](super::arena)), but giving the memory to the global allocator
//! and asking again later costs a page fault per 4 KiB on every reuse: a
//! program that builds and drops a large structure in a loop would fault
//! its whole heap in each time. So a retired arena's pages are released
//! with `madvise(MADV_FREE)`: the kernel reclaims them whenever it needs the
//! memory, and until it does, a new arena reuses them without a fault (the
//! approach of jemalloc and mimalloc). At most [`RETIRED_MAX`] arenas are
//! kept that way; more go back to the global allocator at once, and thread
//! teardown releases all of them.
//!
//! Elsewhere than on Linux (and under Miri) the pages are simply kept until
//! reused or released.

use core::ptr;

use super::size_class::ARENA_SIZE;

/// Retired arenas kept for reuse (128 MiB of address space).
pub(crate) const RETIRED_MAX: usize = 128;

/// A stack of retired arena bases. Lives inline in the allocator (no
/// allocation of its own).
pub(crate) struct Retired {
    bases: [*mut u8; RETIRED_MAX],
    len: usize,
}

impl Retired {
    /// No arena retired.
    pub(crate) const fn new() -> Self {
        Retired {
            bases: [ptr::null_mut(); RETIRED_MAX],
            len: 0,
        }
    }

    /// Number of arenas retired.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The memory of the most recently retired arena (its contents are
    /// unspecified: the kernel may have zeroed any page of it).
    pub(crate) fn take(&mut self) -> Option<*mut u8> {
        self.len = self.len.checked_sub(1)?;
        Some(self.bases[self.len])
    }

    /// Retires the arena at `base`, or gives it back (returns `false`) when
    /// [`RETIRED_MAX`] arenas are retired already.
    ///
    /// # Safety
    ///
    /// `base` is an arena allocation nothing uses any more.
    pub(crate) unsafe fn retire(&mut self, base: *mut u8) -> bool {
        if self.len == RETIRED_MAX {
            return false;
        }
        // SAFETY: caller's contract: the whole arena is ours and unused.
        unsafe { lazy_free(base, ARENA_SIZE) };
        self.bases[self.len] = base;
        self.len += 1;
        true
    }

    /// Hands every retired arena to `free`, emptying the stack.
    pub(crate) fn release_all(&mut self, mut free: impl FnMut(*mut u8)) {
        while let Some(base) = self.take() {
            free(base);
        }
    }
}

/// Tells the kernel the pages of `[base, base + len)` may be reclaimed; they
/// stay mapped and readable (as old data or zeros) and become ordinary
/// memory again when written.
///
/// # Safety
///
/// The range is memory this process owns and nothing reads for its
/// contents any more; `base` is page aligned.
#[cfg(all(target_os = "linux", not(miri)))]
unsafe fn lazy_free(base: *mut u8, len: usize) {
    const MADV_FREE: i32 = 8;
    unsafe extern "C" {
        fn madvise(addr: *mut core::ffi::c_void, len: usize, advice: i32) -> i32;
    }
    // SAFETY: caller's contract; madvise does not touch the contents we
    // rely on (none). If the kernel lacks MADV_FREE (before Linux 4.5) the
    // call fails and the pages are simply kept.
    let _ = unsafe { madvise(base.cast(), len, MADV_FREE) };
}

/// Elsewhere the pages are kept as they are.
#[cfg(not(all(target_os = "linux", not(miri))))]
unsafe fn lazy_free(_base: *mut u8, _len: usize) {}
