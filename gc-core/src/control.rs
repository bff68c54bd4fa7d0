//! The `gc`-module control surface: free functions acting on the current
//! thread's collector.

use core::marker::PhantomData;

use crate::callbacks::{CallbackId, CollectInfo, CollectPhase};
use crate::collect::Scan;
use crate::heap::{GENERATIONS, heap};
use crate::stats::{GenerationStats, HeapStats};

/// Runs a full collection (all three generations), like `gc.collect()`.
///
/// Returns the number of unreachable objects found and not resurrected by
/// their finalizers. Called while a collection is already running (from a
/// finalizer, a `Drop` or a callback) it does nothing and returns 0.
///
/// # Panics
///
/// Resumes the first panic raised by a finalizer, `Drop` or callback during
/// the collection, once the collection has completed.
///
/// # Examples
///
/// ```
/// use pygc::{Gc, Trace, collect};
/// use std::cell::RefCell;
///
/// #[derive(Trace)]
/// struct List(RefCell<Vec<Gc<List>>>);
///
/// let a = Gc::new(List(RefCell::new(Vec::new())));
/// a.0.borrow_mut().push(a.clone()); // a self-cycle
/// drop(a);
/// assert_eq!(collect(), 1);
/// assert_eq!(collect(), 0); // nothing left the second time
/// ```
pub fn collect() -> usize {
    heap().collect_with_callbacks(GENERATIONS - 1, Scan::Always)
}

/// Collects generations `0..=generation`, like `gc.collect(generation)`.
///
/// # Panics
///
/// Panics with "invalid generation" when `generation > 2`, before touching
/// any state; otherwise as [`collect`].
///
/// # Examples
///
/// ```
/// assert_eq!(pygc::collect_generation(0), 0);
/// ```
pub fn collect_generation(generation: usize) -> usize {
    assert!(
        generation < GENERATIONS,
        "invalid generation {generation}: pygc has generations 0, 1 and 2"
    );
    heap().collect_with_callbacks(generation, Scan::Always)
}

/// Re-enables automatic collection (`gc.enable()`). Never collects itself.
///
/// # Examples
///
/// ```
/// pygc::disable();
/// pygc::enable();
/// assert!(pygc::is_enabled());
/// ```
pub fn enable() {
    heap().enabled.set(true);
}

/// Disables automatic collection (`gc.disable()`); [`collect`] still works.
///
/// # Examples
///
/// ```
/// pygc::disable();
/// assert!(!pygc::is_enabled());
/// pygc::enable();
/// ```
pub fn disable() {
    heap().enabled.set(false);
}

/// Whether automatic collection is enabled (`gc.isenabled()`).
///
/// # Examples
///
/// ```
/// assert!(pygc::is_enabled());
/// ```
pub fn is_enabled() -> bool {
    heap().enabled.get()
}

/// Disables automatic collection until the returned guard drops (also on
/// panic), then restores the previous state. Guards nest.
///
/// # Examples
///
/// ```
/// {
///     let _paused = pygc::pause();
///     assert!(!pygc::is_enabled());
/// }
/// assert!(pygc::is_enabled());
/// ```
pub fn pause() -> PauseGuard {
    let was_enabled = is_enabled();
    disable();
    PauseGuard {
        was_enabled,
        _not_send: PhantomData,
    }
}

/// Restores the automatic-collection state on drop; see [`pause`].
///
/// # Examples
///
/// ```
/// let guard: pygc::PauseGuard = pygc::pause();
/// drop(guard);
/// assert!(pygc::is_enabled());
/// ```
#[must_use = "collection is re-enabled when the guard drops"]
pub struct PauseGuard {
    was_enabled: bool,
    _not_send: PhantomData<*const ()>,
}

impl Drop for PauseGuard {
    fn drop(&mut self) {
        heap().enabled.set(self.was_enabled);
    }
}

/// The collection counts (`gc.get_count()`): for generation 0, tracked
/// allocations minus deallocations since its last collection; for 1 and 2,
/// collections of the next younger generation since their last one.
///
/// # Examples
///
/// ```
/// use pygc::{Gc, collect, count};
/// collect();
/// let before = count()[0];
/// let node = Gc::new(vec![Gc::new(1)]);
/// assert_eq!(count()[0], before + 1);
/// # drop(node);
/// ```
pub fn count() -> [usize; 3] {
    heap().gens.counts()
}

/// The collection thresholds (`gc.get_threshold()`), default `[2000, 10, 10]`.
///
/// # Examples
///
/// ```
/// assert_eq!(pygc::threshold(), [2000, 10, 10]);
/// ```
pub fn threshold() -> [usize; 3] {
    heap().gens.thresholds()
}

/// Sets the thresholds (`gc.set_threshold`). `threshold0 == 0` disables
/// automatic collection.
///
/// # Examples
///
/// ```
/// pygc::set_threshold(700, 10, 10);
/// assert_eq!(pygc::threshold(), [700, 10, 10]);
/// pygc::set_threshold(2000, 10, 10);
/// ```
pub fn set_threshold(threshold0: usize, threshold1: usize, threshold2: usize) {
    heap()
        .gens
        .set_thresholds([threshold0, threshold1, threshold2]);
}

/// Per-generation statistics (`gc.get_stats()`).
///
/// # Examples
///
/// ```
/// let before = pygc::stats()[2].collections;
/// pygc::collect();
/// assert_eq!(pygc::stats()[2].collections, before + 1);
/// ```
pub fn stats() -> [GenerationStats; 3] {
    heap().stats.each_ref().map(core::cell::Cell::get)
}

/// Moves every tracked object to the permanent generation, which is never
/// scanned (`gc.freeze()`), and resets the counts. Frozen objects are still
/// freed by refcount.
///
/// # Examples
///
/// ```
/// use pygc::{Gc, freeze, freeze_count, unfreeze};
/// let node = Gc::new(vec![Gc::new(1)]);
/// freeze();
/// assert!(freeze_count() >= 1);
/// unfreeze();
/// assert_eq!(freeze_count(), 0);
/// # drop(node);
/// ```
pub fn freeze() {
    heap().freeze();
}

/// Moves the permanent generation back into the oldest generation
/// (`gc.unfreeze()`).
///
/// # Examples
///
/// ```
/// pygc::unfreeze();
/// assert_eq!(pygc::freeze_count(), 0);
/// ```
pub fn unfreeze() {
    heap().unfreeze();
}

/// Number of objects in the permanent generation (`gc.get_freeze_count()`).
///
/// # Examples
///
/// ```
/// assert_eq!(pygc::freeze_count(), 0);
/// ```
pub fn freeze_count() -> usize {
    heap().gens.permanent().len()
}

/// Registers `f` to run at the start and stop of every collection
/// (`gc.callbacks.append`). Callbacks run in registration order; one may add
/// or remove callbacks (itself included), effective from the next phase.
///
/// # Examples
///
/// ```
/// use pygc::{CollectPhase, add_callback, collect, remove_callback};
/// use std::{cell::RefCell, rc::Rc};
///
/// let seen = Rc::new(RefCell::new(Vec::new()));
/// let log = seen.clone();
/// let id = add_callback(move |phase, info| log.borrow_mut().push((phase, info.generation)));
/// collect();
/// assert_eq!(*seen.borrow(), [(CollectPhase::Start, 2), (CollectPhase::Stop, 2)]);
/// assert!(remove_callback(id));
/// ```
pub fn add_callback(f: impl FnMut(CollectPhase, &CollectInfo) + 'static) -> CallbackId {
    heap().callbacks.add(f)
}

/// Unregisters a callback; returns whether it was registered on this
/// thread. Ids are unique in the process, so an id from another thread
/// removes nothing and returns `false`.
///
/// # Examples
///
/// ```
/// let id = pygc::add_callback(|_, _| {});
/// assert!(pygc::remove_callback(id));
/// ```
pub fn remove_callback(id: CallbackId) -> bool {
    heap().callbacks.remove(id)
}

/// Statistics of this thread's pooled allocator (`sys._debugmallocstats`).
///
/// # Examples
///
/// ```
/// let before = pygc::heap_stats().blocks_of(16);
/// let x = pygc::Gc::new(1u64); // 8-byte header + 8-byte value: a 16-byte block
/// assert_eq!(pygc::heap_stats().blocks_of(16), before + 1);
/// # drop(x);
/// ```
pub fn heap_stats() -> HeapStats {
    heap().heap_stats()
}
