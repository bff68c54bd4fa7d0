//! `gc.set_debug`: debug flags, `gc.garbage`, and the collector's log lines.

use core::fmt;
use core::ops::{BitOr, BitOrAssign};

use crate::any_trace::AnyTrace;
use crate::gc::Gc;
use crate::header::Flags;
use crate::heap::heap;
use crate::tracked::Tracked;

/// Debug flags of the collector (`gc.DEBUG_*`), for [`set_debug`].
///
/// # Examples
///
/// ```
/// use pygc::DebugFlags;
/// let flags = DebugFlags::STATS | DebugFlags::SAVEALL;
/// assert!(flags.contains(DebugFlags::SAVEALL));
/// assert!(!flags.contains(DebugFlags::LEAK));
/// assert!(DebugFlags::empty().is_empty());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DebugFlags(u32);

impl DebugFlags {
    /// One line per collection through the `log` crate at `info` (feature
    /// `log`): the generation, the objects in each generation, how many
    /// were collected and uncollectable, and the time taken
    /// (`gc.DEBUG_STATS`).
    pub const STATS: DebugFlags = DebugFlags(1);
    /// Log the type of each collectable object found (`gc.DEBUG_COLLECTABLE`).
    pub const COLLECTABLE: DebugFlags = DebugFlags(1 << 1);
    /// Keep unreachable objects in [`garbage`] instead of finalizing and
    /// dropping them (`gc.DEBUG_SAVEALL`).
    pub const SAVEALL: DebugFlags = DebugFlags(1 << 5);
    /// `COLLECTABLE | SAVEALL`: see what leaks and keep it for inspection
    /// (`gc.DEBUG_LEAK`).
    pub const LEAK: DebugFlags = DebugFlags(Self::COLLECTABLE.0 | Self::SAVEALL.0);

    /// No flag.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(pygc::DebugFlags::empty(), pygc::DebugFlags::default());
    /// ```
    #[must_use]
    pub const fn empty() -> DebugFlags {
        DebugFlags(0)
    }

    /// Whether no flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!pygc::DebugFlags::STATS.is_empty());
    /// ```
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag of `other` is set in `self`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::DebugFlags;
    /// assert!(DebugFlags::LEAK.contains(DebugFlags::SAVEALL));
    /// ```
    #[must_use]
    pub const fn contains(self, other: DebugFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flags as CPython's bit values (`gc.get_debug()`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(pygc::DebugFlags::LEAK.bits(), 34); // gc.DEBUG_LEAK
    /// ```
    #[must_use]
    pub const fn bits(self) -> u32 {
        self.0
    }
}

impl BitOr for DebugFlags {
    type Output = DebugFlags;

    fn bitor(self, other: DebugFlags) -> DebugFlags {
        DebugFlags(self.0 | other.0)
    }
}

impl BitOrAssign for DebugFlags {
    fn bitor_assign(&mut self, other: DebugFlags) {
        self.0 |= other.0;
    }
}

impl fmt::Debug for DebugFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (DebugFlags::STATS, "STATS"),
            (DebugFlags::COLLECTABLE, "COLLECTABLE"),
            (DebugFlags::SAVEALL, "SAVEALL"),
        ];
        let mut set = names
            .iter()
            .filter(|(flag, _)| self.contains(*flag))
            .map(|(_, name)| *name);
        match set.next() {
            None => f.write_str("DebugFlags(empty)"),
            Some(first) => {
                write!(f, "DebugFlags({first}")?;
                set.try_for_each(|name| write!(f, " | {name}"))?;
                f.write_str(")")
            }
        }
    }
}

/// Sets this thread's collector debug flags (`gc.set_debug`).
///
/// # Examples
///
/// ```
/// use pygc::{DebugFlags, debug, set_debug};
/// set_debug(DebugFlags::STATS);
/// assert_eq!(debug(), DebugFlags::STATS);
/// set_debug(DebugFlags::empty());
/// ```
pub fn set_debug(flags: DebugFlags) {
    heap().debug.set(flags);
}

/// This thread's collector debug flags (`gc.get_debug`).
///
/// # Examples
///
/// ```
/// assert!(pygc::debug().is_empty());
/// ```
pub fn debug() -> DebugFlags {
    heap().debug.get()
}

/// What [`DebugFlags::SAVEALL`] kept (`gc.garbage`): strong handles to the
/// unreachable objects collections found while the flag was set, oldest
/// first. They stay alive, unfinalized, until [`clear_garbage`]. (Objects
/// made from unsized values — `Gc<[T]>`, `Gc<dyn Trait>` from a `Box` —
/// have no `dyn AnyTrace` view and are kept but not listed.)
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use pygc::{DebugFlags, Gc, Trace};
///
/// #[derive(Trace)]
/// struct Node { next: RefCell<Option<Gc<Node>>> }
///
/// pygc::set_debug(DebugFlags::SAVEALL);
/// let a = Gc::new(Node { next: RefCell::new(None) });
/// *a.next.borrow_mut() = Some(a.clone());
/// drop(a);
/// assert_eq!(pygc::collect(), 1);           // found and saved
/// let garbage = pygc::garbage();
/// assert_eq!(garbage.len(), 1);
/// assert!(Gc::type_name(&garbage[0]).ends_with("Node"));
/// pygc::set_debug(DebugFlags::empty());
/// drop(garbage);
/// pygc::clear_garbage();                    // a cycle again: the next collection frees it
/// assert_eq!(pygc::collect(), 1);
/// ```
pub fn garbage() -> Vec<Gc<dyn AnyTrace>> {
    let heap = heap();
    let saved = heap.garbage.take();
    // Every saved object is held by the garbage list (a strong count).
    let handles = saved
        .iter()
        .copied()
        .filter_map(super::any_handle)
        .collect();
    heap.garbage.set(saved);
    handles
}

/// Releases what [`garbage`] holds (`gc.garbage.clear()`): objects nothing
/// else references are freed now, cycles by the next collection.
///
/// # Examples
///
/// ```
/// pygc::clear_garbage();
/// assert!(pygc::garbage().is_empty());
/// ```
pub fn clear_garbage() {
    let heap = heap();
    loop {
        // One at a time: a finalizer or `Drop` that runs below may save
        // more (or panic) and finds the list consistent.
        let mut saved = heap.garbage.take();
        let next = saved.pop();
        heap.garbage.set(saved);
        let Some(node) = next else { return };
        // SAFETY: the list held this strong count on a live object.
        unsafe { release_saved(node) };
    }
}

/// Drops the strong handle the garbage list held on `node`.
///
/// # Safety
///
/// The list held one of `node`'s strong counts.
unsafe fn release_saved(node: Tracked) {
    if node.header().dec_strong() == 0 {
        // SAFETY: the strong count just reached 0 on a live tracked object.
        unsafe { crate::release::tracked_last_strong_dropped(node) };
    } else {
        let object = node.prefix();
        if !object.has(Flags::CANDIDATE) {
            // A decrement that did not reach 0: maybe the last outside
            // reference to a cycle.
            heap().note_candidate(object);
        }
    }
}

/// `DebugFlags::COLLECTABLE`: logs one collectable object (CPython's
/// `gc: collectable <Type 0x...>`), through the `log` crate at `info`.
pub(crate) fn log_collectable(heap: &crate::heap::Heap, node: Tracked) {
    #[cfg(feature = "log")]
    if heap.debug.get().contains(DebugFlags::COLLECTABLE) && log::log_enabled!(log::Level::Info) {
        let name = crate::vtable::type_name_of(node);
        log::info!("gc: collectable <{name} {:p}>", node.as_ptr());
    }
    #[cfg(not(feature = "log"))]
    let _ = (heap, node);
}

/// `DebugFlags::STATS`: what a collection's log line needs from its start.
pub(crate) struct StatsLine {
    #[cfg(feature = "log")]
    start: std::time::Instant,
    #[cfg(feature = "log")]
    generation: usize,
    #[cfg(feature = "log")]
    objects: [usize; 3],
}

impl StatsLine {
    /// Starts the line of a collection of `generation`, if `STATS` is set
    /// and a logger listens at `info` (otherwise nothing is measured).
    pub(crate) fn start(heap: &crate::heap::Heap, generation: usize) -> Option<StatsLine> {
        #[cfg(feature = "log")]
        if heap.debug.get().contains(DebugFlags::STATS) && log::log_enabled!(log::Level::Info) {
            return Some(StatsLine {
                start: std::time::Instant::now(),
                generation,
                objects: [0, 1, 2].map(|g| heap.gens.list(g).len()),
            });
        }
        let _ = (heap, generation);
        None
    }

    /// Logs the line (CPython's `gc: collecting generation ...` and `gc:
    /// done, ...` lines, in one).
    pub(crate) fn finish(self, heap: &crate::heap::Heap, collected: usize, uncollectable: usize) {
        #[cfg(feature = "log")]
        {
            let [g0, g1, g2] = self.objects;
            log::info!(
                "gc: collecting generation {}: objects in each generation: {g0} {g1} {g2}, \
                 permanent: {}; done, {collected} unreachable, {uncollectable} uncollectable, \
                 {:.4}s elapsed",
                self.generation,
                heap.gens.permanent().len(),
                self.start.elapsed().as_secs_f64(),
            );
        }
        #[cfg(not(feature = "log"))]
        let _ = (self, heap, collected, uncollectable);
    }
}
