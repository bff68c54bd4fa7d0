//! Collection callbacks (CPython's `gc.callbacks`).

use core::cell::RefCell;
use core::sync::atomic::{AtomicU64, Ordering};
use std::rc::Rc;

use crate::panic::{Panic, guarded};

/// When a callback runs: before or after a collection.
///
/// # Examples
///
/// ```
/// use pygc::CollectPhase;
/// assert_ne!(CollectPhase::Start, CollectPhase::Stop);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CollectPhase {
    /// The collection is about to start.
    Start,
    /// The collection has finished.
    Stop,
}

/// What a callback is told about the collection.
///
/// # Examples
///
/// ```
/// let info = pygc::CollectInfo { generation: 2, collected: 0, uncollectable: 0 };
/// assert_eq!(info.generation, 2);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CollectInfo {
    /// The generation being collected (0, 1 or 2).
    pub generation: usize,
    /// At `Stop`: unreachable objects found (what the collection returns).
    /// 0 at `Start`.
    pub collected: usize,
    /// Always 0 (pygc has no uncollectable objects); kept for CPython parity.
    pub uncollectable: usize,
}

/// Identifies a registered callback, for [`remove_callback`](crate::remove_callback).
///
/// Ids are unique in the process, not just per thread: the id of a
/// callback registered on another thread matches none of this thread's, so
/// removing it here returns `false`.
///
/// # Examples
///
/// ```
/// let id = pygc::add_callback(|_, _| {});
/// assert!(pygc::remove_callback(id));
/// assert!(!pygc::remove_callback(id));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallbackId(u64);

/// The next id to hand out, over all threads. 2^64 registrations cannot be
/// made, so ids never repeat.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

type Callback = Rc<RefCell<dyn FnMut(CollectPhase, &CollectInfo)>>;

/// The registered callbacks of one thread, in registration order.
pub(crate) struct Callbacks {
    list: RefCell<Vec<(CallbackId, Callback)>>,
}

impl Callbacks {
    pub(crate) fn new() -> Self {
        Callbacks {
            list: RefCell::new(Vec::new()),
        }
    }

    pub(crate) fn add(&self, f: impl FnMut(CollectPhase, &CollectInfo) + 'static) -> CallbackId {
        // Only uniqueness matters; no other memory is ordered by the id.
        let id = CallbackId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
        self.list.borrow_mut().push((id, Rc::new(RefCell::new(f))));
        id
    }

    pub(crate) fn remove(&self, id: CallbackId) -> bool {
        let removed = {
            let mut list = self.list.borrow_mut();
            list.iter()
                .position(|(i, _)| *i == id)
                .map(|pos| list.remove(pos))
        };
        // The closure (dropped here, outside the borrow) may own `Gc`s.
        removed.is_some()
    }

    /// Removes every callback (thread teardown).
    pub(crate) fn take_all(&self) -> Vec<(CallbackId, Callback)> {
        core::mem::take(&mut *self.list.borrow_mut())
    }

    /// Calls every callback registered when the phase begins, in
    /// registration order. Changes made by a callback take effect from the
    /// next phase. A panicking callback does not stop the others: the first
    /// panic is stored in `panic` for the collection to resume.
    pub(crate) fn invoke(&self, phase: CollectPhase, info: &CollectInfo, panic: &mut Panic) {
        let snapshot: Vec<Callback> = {
            let list = self.list.borrow();
            if list.is_empty() {
                return;
            }
            list.iter().map(|(_, f)| Rc::clone(f)).collect()
        };
        for callback in snapshot {
            // A callback cannot be running already: collections do not nest.
            if let Ok(mut f) = callback.try_borrow_mut() {
                guarded(panic, || f(phase, info));
            }
        }
    }
}
