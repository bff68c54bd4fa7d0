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
//! # Purge delay
//!
//! `madvise` is not free: the call walks the arena's page table, and
//! writing to the pages afterwards (when the arena is reused) is markedly
//! slower than writing to pages the process kept — measured on a 2M-node
//! tree built, dropped and rebuilt: 69–98 ms per round with `madvise` at
//! retirement, 56–72 ms without. So, as mimalloc's `purge_delay` and
//! jemalloc's dirty-page decay do, a retired arena stays *dirty* (kept as
//! is) for [`PURGE_DELAY`], and is handed to the kernel only when it has
//! not been reused by then. The check runs when an arena is retired or
//! taken (the allocator has no timer of its own), so memory a program
//! stops touching altogether stays dirty until the thread's next arena
//! change or its exit. Until the kernel reclaims them, lazily freed pages
//! count in the process's resident size anyway, so the delay changes when
//! the kernel *may* take the memory, not what `ps` shows.
//!
//! Elsewhere than on Linux (and under Miri) the pages are simply kept until
//! reused or released.

use core::ptr;
use core::time::Duration;
use std::time::Instant;

use super::size_class::ARENA_SIZE;

/// Retired arenas kept for reuse (128 MiB of address space).
pub(crate) const RETIRED_MAX: usize = 128;

/// How long a retired arena stays dirty before it is handed to the kernel.
pub(crate) const PURGE_DELAY: Duration = Duration::from_secs(1);

/// A stack of retired arena bases, oldest first. Lives inline in the
/// allocator (no allocation of its own).
///
/// Retirement times never decrease from the bottom of the stack to its top
/// (arenas are pushed as they retire and taken from the top), so the arenas
/// already handed to the kernel are always a bottom part, `..purged`.
pub(crate) struct Retired {
    bases: [*mut u8; RETIRED_MAX],
    /// When each arena of `bases` retired (`None` above `len`).
    since: [Option<Instant>; RETIRED_MAX],
    len: usize,
    /// Arenas `..purged` have been handed to the kernel; the rest are dirty.
    purged: usize,
}

impl Retired {
    /// No arena retired.
    pub(crate) const fn new() -> Self {
        Retired {
            bases: [ptr::null_mut(); RETIRED_MAX],
            since: [None; RETIRED_MAX],
            len: 0,
            purged: 0,
        }
    }

    /// Number of arenas retired.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Number of retired arenas handed to the kernel.
    #[cfg(test)]
    pub(crate) fn purged(&self) -> usize {
        self.purged
    }

    /// The memory of the most recently retired arena (its contents are
    /// unspecified: the kernel may have zeroed any page of it).
    pub(crate) fn take(&mut self) -> Option<*mut u8> {
        self.take_at(Instant::now())
    }

    /// [`take`](Self::take) at time `now`.
    pub(crate) fn take_at(&mut self, now: Instant) -> Option<*mut u8> {
        self.len = self.len.checked_sub(1)?;
        self.purged = self.purged.min(self.len);
        self.since[self.len] = None;
        let base = self.bases[self.len];
        self.purge_due(now);
        Some(base)
    }

    /// Retires the arena at `base`, or gives it back (returns `false`) when
    /// [`RETIRED_MAX`] arenas are retired already.
    ///
    /// # Safety
    ///
    /// `base` is an arena allocation nothing uses any more.
    pub(crate) unsafe fn retire(&mut self, base: *mut u8) -> bool {
        // SAFETY: caller's contract.
        unsafe { self.retire_at(base, Instant::now()) }
    }

    /// [`retire`](Self::retire) at time `now`, which is not earlier than
    /// the times passed before (the purge order relies on it).
    ///
    /// # Safety
    ///
    /// As for `retire`.
    pub(crate) unsafe fn retire_at(&mut self, base: *mut u8, now: Instant) -> bool {
        if self.len == RETIRED_MAX {
            return false;
        }
        self.bases[self.len] = base;
        self.since[self.len] = Some(now);
        self.len += 1;
        self.purge_due(now);
        true
    }

    /// Hands the kernel every arena that has been dirty for
    /// [`PURGE_DELAY`] at `now`, oldest first.
    fn purge_due(&mut self, now: Instant) {
        while self.purged < self.len {
            let since = self.since[self.purged].expect("a retired arena has a retirement time");
            if now.saturating_duration_since(since) < PURGE_DELAY {
                break;
            }
            // SAFETY: retired arenas are allocations nothing uses (the
            // contract of `retire_at`); the base is page aligned (arenas are
            // pool-aligned, 16 KiB).
            unsafe { lazy_free(self.bases[self.purged], ARENA_SIZE) };
            self.purged += 1;
        }
    }

    /// Hands every retired arena to `free`, emptying the stack.
    pub(crate) fn release_all(&mut self, mut free: impl FnMut(*mut u8)) {
        for &base in &self.bases[..self.len] {
            free(base);
        }
        *self = Retired::new();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{Layout, alloc, dealloc};

    const LAYOUT: Layout = match Layout::from_size_align(ARENA_SIZE, 4096) {
        Ok(layout) => layout,
        Err(_) => panic!("bad layout"),
    };

    /// Two page-aligned arena-sized allocations.
    fn two_arenas() -> [*mut u8; 2] {
        // SAFETY: LAYOUT has a non-zero size.
        [(); 2].map(|()| unsafe { alloc(LAYOUT) })
    }

    fn release(retired: &mut Retired) {
        retired.release_all(|base| {
            // SAFETY: allocated by `two_arenas` with LAYOUT, unused.
            unsafe { dealloc(base, LAYOUT) }
        });
    }

    #[test]
    fn a_retired_arena_is_purged_only_after_the_delay() {
        let [a, b] = two_arenas();
        let t0 = Instant::now();
        let mut retired = Retired::new();
        // SAFETY: both are allocations nothing uses; times never decrease.
        unsafe {
            assert!(retired.retire_at(a, t0));
            assert_eq!(retired.purged(), 0, "purged at once");
            assert!(retired.retire_at(b, t0 + PURGE_DELAY / 2));
            assert_eq!(retired.purged(), 0, "purged before its delay");
        }
        // Taking the newest (dirty) arena purges the one whose delay is up.
        assert_eq!(retired.take_at(t0 + PURGE_DELAY), Some(b));
        assert_eq!((retired.len(), retired.purged()), (1, 1));
        assert_eq!(retired.take_at(t0 + PURGE_DELAY), Some(a));
        assert_eq!((retired.len(), retired.purged()), (0, 0));
        // SAFETY: as above.
        unsafe {
            assert!(retired.retire_at(a, t0 + PURGE_DELAY));
            assert!(retired.retire_at(b, t0 + 3 * PURGE_DELAY));
        }
        assert_eq!(retired.purged(), 1, "the older arena's delay was up");
        release(&mut retired);
        assert_eq!((retired.len(), retired.purged()), (0, 0));
    }

    #[test]
    fn an_arena_reused_within_the_delay_is_never_purged() {
        let [a, b] = two_arenas();
        let t0 = Instant::now();
        let mut retired = Retired::new();
        for round in 0..4 {
            let now = t0 + PURGE_DELAY / 4 * round;
            // SAFETY: an allocation nothing uses; times never decrease.
            unsafe { assert!(retired.retire_at(a, now)) };
            assert_eq!(retired.take_at(now + PURGE_DELAY / 8), Some(a));
            assert_eq!(retired.purged(), 0);
        }
        // SAFETY: allocated by `two_arenas`, unused.
        unsafe { dealloc(a, LAYOUT) };
        // SAFETY: as above.
        unsafe { assert!(retired.retire_at(b, t0 + PURGE_DELAY)) };
        release(&mut retired);
    }
}
