//! `pygc::finalize`: callbacks run when an object dies (Python's
//! `weakref.finalize`).
//!
//! **Side table.** Each heap keeps a table from object address (the
//! object's [`Header`]) to the callbacks registered for it, and the object's
//! header carries one bit, `FINALIZE_CALLBACKS`, set while the table has an
//! entry for it. The death paths test that bit with the header load they make
//! anyway, so objects without callbacks pay nothing else.
//!
//! **Death hooks.** When an object with the bit dies, its entry is *taken
//! out* of the table (and the bit cleared) before its memory can go back to
//! the pool, so an address reused by a later allocation never finds a stale
//! callback. The callbacks then run:
//!
//! - on the refcount path, right after the value is dropped (the strong
//!   count is 0, so every `Weak` to the object already fails to upgrade);
//! - in a collection, after the garbage's weak references are cleared and
//!   its values dropped (steps 3 and 4 of `collect::unreachable`): the
//!   collector gathers the entries of the garbage as it drops each value and
//!   runs them after the last hold is released. Each call is guarded like
//!   any other user code of a collection; the first panic is resumed after
//!   the collection's bookkeeping.
//!
//! Never during the graph passes: they run no user code at all.
//!
//! A [`FinalizeHandle`] shares its callback with the table; `detach` and
//! `call` take the callback out (so it runs at most once) and unregister it.

use core::cell::{Cell, RefCell};
use core::fmt;
use core::ptr::NonNull;
use std::panic::resume_unwind;
use std::rc::Rc;

use crate::gc::Gc;
use crate::header::{Flags, Header, TrackedHeader};
use crate::heap::heap;
use crate::panic::{Panic, guarded};
use crate::trace::Trace;
use crate::tracked::Tracked;
use crate::weak_entries::AddressMap;

/// One registered callback, shared by its handle(s) and the side table.
pub(crate) struct Registration {
    /// The callback until it runs or is detached.
    callback: Cell<Option<Box<dyn FnOnce()>>>,
    /// The object's header. Only dereferenced while `registered` is true:
    /// then the object has not died yet (its death takes the entry out of
    /// the table, which clears the flag), so the header is allocated.
    object: NonNull<Header>,
    /// Whether the side table still holds this registration.
    registered: Cell<bool>,
    /// A `WeakKeyMap` entry's value, owned by the callback (so it is dropped
    /// with it): the collector traces it as an edge of the object (see
    /// `collect::ephemeron`). Alive while `registered` is true (a
    /// registered callback has not been taken, let alone dropped).
    ephemeron: Option<NonNull<TrackedHeader>>,
    /// Where the ephemeron's pair sits in [`EphemeronPairs`] while
    /// registered.
    pair_slot: Cell<usize>,
}

impl Registration {
    /// Takes the callback out, unregistering it from the side table.
    fn take(&self) -> Option<Box<dyn FnOnce()>> {
        let callback = self.callback.take()?;
        if self.registered.get() {
            heap().finalize_table.unregister(self);
        }
        Some(callback)
    }
}

/// Callbacks of objects that died, taken out of the side table, to run
/// once it is safe (see the module docs).
pub(crate) type Dead = Vec<Rc<Registration>>;

/// One ephemeron edge: a `WeakKeyMap` entry's key and value, both tracked.
#[derive(Clone, Copy)]
pub(crate) struct EphemeronPair {
    /// The key (flagged `EPHEMERON_KEY`).
    pub(crate) key: Tracked,
    /// The value, owned by the registration's callback.
    pub(crate) value: Tracked,
    /// The registration (in the side table, so alive) whose `pair_slot`
    /// says where this pair is.
    owner: NonNull<Registration>,
}

/// Every ephemeron edge of the heap in one dense array, in no order: the
/// collector sweeps it as a phase of each graph pass (see
/// `collect::ephemeron`) instead of looking up each key's entries while it
/// traces the key.
#[derive(Default)]
pub(crate) struct EphemeronPairs {
    pairs: Vec<EphemeronPair>,
}

impl EphemeronPairs {
    /// The pairs, for a graph pass (which changes no registration).
    pub(crate) fn as_slice(&self) -> &[EphemeronPair] {
        &self.pairs
    }

    fn push(&mut self, pair: EphemeronPair, owner: &Registration) {
        owner.pair_slot.set(self.pairs.len());
        self.pairs.push(pair);
    }

    /// Removes `owner`'s pair in O(1), moving the last pair into its slot.
    fn remove(&mut self, owner: &Registration) {
        let slot = owner.pair_slot.get();
        debug_assert!(core::ptr::eq(self.pairs[slot].owner.as_ptr(), owner));
        self.pairs.swap_remove(slot);
        if let Some(moved) = self.pairs.get(slot) {
            // SAFETY: a pair's owner is registered (it leaves the table with
            // its pair), so the side table keeps it alive.
            unsafe { moved.owner.as_ref() }.pair_slot.set(slot);
        }
    }
}

/// The per-heap side table: object address → its registrations, and the
/// ephemeron edges among them.
pub(crate) struct FinalizeTable {
    entries: RefCell<AddressMap<Vec<Rc<Registration>>>>,
    ephemerons: RefCell<EphemeronPairs>,
}

impl FinalizeTable {
    pub(crate) fn new() -> Self {
        FinalizeTable {
            entries: RefCell::new(AddressMap::default()),
            ephemerons: RefCell::new(EphemeronPairs::default()),
        }
    }

    /// The heap's ephemeron edges (read by the collector's graph passes,
    /// which run no user code, so nothing registers meanwhile).
    pub(crate) fn ephemerons(&self) -> core::cell::Ref<'_, EphemeronPairs> {
        self.ephemerons.borrow()
    }

    /// Adds the ephemeron pair of `registration`, if it has one.
    fn add_pair(&self, registration: &Rc<Registration>) {
        let Some(value) = registration.ephemeron else {
            return;
        };
        let pair = EphemeronPair {
            // SAFETY: only tracked keys get ephemeron edges (see
            // `finalize_ephemeron`), and the key is alive (registering takes
            // a strong handle); likewise the value, which the callback owns.
            key: unsafe { Tracked::of_box(registration.object) },
            // SAFETY: as above.
            value: unsafe { Tracked::new(value) },
            // SAFETY: an `Rc`'s pointer is never null. It is the `Rc`'s own
            // (not a reborrow), valid as long as the side table holds that
            // `Rc`, i.e. as long as the pair exists.
            owner: unsafe { NonNull::new_unchecked(Rc::as_ptr(registration).cast_mut()) },
        };
        self.ephemerons.borrow_mut().push(pair, registration);
    }

    /// Removes the ephemeron pair of `registration`, if it has one.
    fn remove_pair(&self, registration: &Registration) {
        if registration.ephemeron.is_some() {
            self.ephemerons.borrow_mut().remove(registration);
        }
    }

    fn register(&self, registration: Rc<Registration>) {
        let object = registration.object;
        // SAFETY: the caller holds a strong handle to the object.
        let header = unsafe { object.as_ref() };
        header.set_finalize_callbacks(true);
        if registration.ephemeron.is_some() {
            // Only tracked keys get ephemeron edges (see
            // `finalize_ephemeron`).
            header.set_ephemeron_key(true);
        }
        registration.registered.set(true);
        self.add_pair(&registration);
        self.entries
            .borrow_mut()
            .entry(object.as_ptr() as usize)
            .or_default()
            .push(registration);
    }

    fn unregister(&self, registration: &Registration) {
        registration.registered.set(false);
        self.remove_pair(registration);
        let key = registration.object.as_ptr() as usize;
        let mut entries = self.entries.borrow_mut();
        let Some(list) = entries.get_mut(&key) else {
            return;
        };
        list.retain(|r| !core::ptr::eq(&**r, registration));
        if list.is_empty() {
            entries.remove(&key);
            // SAFETY: it was registered, so the object has not died: its
            // header is allocated (see `Registration::object`).
            unsafe { clear_flags(registration.object) };
        }
    }

    /// Takes the registrations of an object that is dying out of the
    /// table (clearing its flags), appending them to `dead`. No user code
    /// runs here.
    ///
    /// # Safety
    ///
    /// `object` points to the header of an allocated object, with the
    /// provenance of the whole allocation (not derived from a reference to
    /// the header alone: a tracked object's prefix is written too).
    pub(crate) unsafe fn take_dead(&self, object: NonNull<Header>, dead: &mut Dead) {
        // SAFETY: caller's contract.
        unsafe { clear_flags(object) };
        let key = object.as_ptr() as usize;
        if let Some(list) = self.entries.borrow_mut().remove(&key) {
            for registration in &list {
                registration.registered.set(false);
                self.remove_pair(registration);
            }
            dead.extend(list);
        }
    }

    /// Calls `visit` with the ephemeron values of the entries of
    /// `object` (introspection: `pygc::referents`; the collector sweeps
    /// [`ephemerons`](Self::ephemerons) instead). Runs no user code.
    pub(crate) fn for_each_ephemeron(
        &self,
        object: NonNull<Header>,
        mut visit: impl FnMut(NonNull<TrackedHeader>),
    ) {
        let entries = self.entries.borrow();
        let Some(list) = entries.get(&(object.as_ptr() as usize)) else {
            return;
        };
        for value in list.iter().filter_map(|r| r.ephemeron) {
            visit(value);
        }
    }

    /// Number of objects with callbacks (tests).
    #[cfg(test)]
    pub(crate) fn objects(&self) -> usize {
        self.entries.borrow().len()
    }
}

/// Clears the object's `FINALIZE_CALLBACKS` bit and, if tracked, its
/// `EPHEMERON_KEY` flag: its side-table entry is gone.
///
/// # Safety
///
/// `object` is the header of an allocated object, with the provenance of
/// the whole allocation.
unsafe fn clear_flags(object: NonNull<Header>) {
    // SAFETY: allocated (caller's contract).
    let header = unsafe { object.as_ref() };
    header.set_finalize_callbacks(false);
    header.set_ephemeron_key(false);
}

/// Runs the callbacks of dead objects, each guarded; the first panic goes to
/// `panic`.
pub(crate) fn run_dead(dead: Dead, panic: &mut Panic) {
    for registration in dead {
        if let Some(callback) = registration.callback.take() {
            guarded(panic, callback);
        }
    }
}

/// The refcount path's hook: an object whose strong count reached 0 and
/// whose value is gone had callbacks; take them out of the table.
///
/// # Safety
///
/// As for [`FinalizeTable::take_dead`].
#[cold]
#[inline(never)]
pub(crate) unsafe fn take_on_refcount_death(object: NonNull<Header>) -> Dead {
    let mut dead = Vec::new();
    // SAFETY: caller's contract.
    unsafe { heap().finalize_table.take_dead(object, &mut dead) };
    dead
}

/// The refcount path's second half: runs the callbacks taken by
/// [`take_on_refcount_death`] (all of them, even if one panics), then
/// resumes the first panic.
#[cold]
#[inline(never)]
pub(crate) fn run_on_refcount_death(dead: Dead) {
    let mut panic: Panic = None;
    run_dead(dead, &mut panic);
    if let Some(payload) = panic {
        resume_unwind(payload);
    }
}

/// Registers `f` to run once when `g`'s object dies (Python's
/// `weakref.finalize(obj, f)`), on either path: its last strong handle
/// going, or the cycle collector freeing it. `f` runs after the object's
/// weak references are cleared (a [`Weak`](crate::Weak) to it no longer
/// upgrades) and after its value is dropped; in a collection, after all the
/// garbage's values are dropped, with panics contained and the first one
/// resumed out of the collection once its bookkeeping is done. Callbacks of
/// one object run in registration order.
///
/// `f` must **not** own a strong handle to the object: that handle would
/// keep the object alive (forever, if nothing else drops the callback), as
/// a Python finalizer referencing its object does. Capture a
/// [`Weak`](crate::Weak) or copies of the data you need instead.
///
/// The returned [`FinalizeHandle`] runs the callback early
/// ([`call`](FinalizeHandle::call)) or cancels it
/// ([`detach`](FinalizeHandle::detach)); dropping it does **not** cancel
/// the callback. Registering on an object the collector has already
/// condemned (a handle a `Drop` kept to a dead peer) drops `f` without
/// calling it and returns a handle that is not alive. Objects still alive
/// when their thread exits are leaked with their callbacks, which never
/// run.
///
/// # Examples
///
/// ```
/// use pygc::{Gc, Trace, collect, finalize};
/// use std::cell::{Cell, RefCell};
/// use std::rc::Rc;
///
/// #[derive(Trace)]
/// struct Node {
///     next: RefCell<Option<Gc<Node>>>,
/// }
///
/// let log = Rc::new(Cell::new(0));
/// let a = Gc::new(Node { next: RefCell::new(None) });
/// *a.next.borrow_mut() = Some(a.clone()); // a cycle
/// let seen = log.clone();
/// let handle = finalize(&a, move || seen.set(seen.get() + 1));
/// assert!(handle.alive());
/// drop(a);
/// assert_eq!(log.get(), 0); // the cycle keeps it alive
/// collect();
/// assert_eq!(log.get(), 1);
/// assert!(!handle.alive());
/// ```
pub fn finalize<T: ?Sized + Trace + 'static>(
    g: &Gc<T>,
    f: impl FnOnce() + 'static,
) -> FinalizeHandle {
    register(g, Box::new(f), None)
}

/// [`finalize`] for a `WeakKeyMap` entry: the callback owns `value`, which
/// the collector treats as referenced by `key` (an ephemeron edge) when
/// `key` is tracked. Returns a handle that is not alive (and drops `value`)
/// if `key` is condemned.
pub(crate) fn finalize_ephemeron<K, V>(
    key: &Gc<K>,
    value: Gc<V>,
    f: impl FnOnce() + 'static,
) -> FinalizeHandle
where
    K: ?Sized + Trace + 'static,
    V: ?Sized + Trace + 'static,
{
    // A key whose value owns no `Gc` gets no edge even if it is tracked (a
    // downcast `Gc<dyn AnyTrace>`): like an untracked key, its entries'
    // values are roots while they live. `Gc::drop` notes no candidate for
    // such keys, which is sound only because they have no edge at all.
    let edge = (key.header().is_tracked_with_value()
        && !Gc::has_leaf_value(key)
        && Gc::is_tracked_object(&value))
    .then(|| Gc::tracked_header(&value));
    register(
        key,
        Box::new(move || {
            f();
            drop(value);
        }),
        edge,
    )
}

/// Registers `callback` for `g`'s object (see [`finalize`]).
fn register<T: ?Sized + Trace + 'static>(
    g: &Gc<T>,
    callback: Box<dyn FnOnce()>,
    ephemeron: Option<NonNull<TrackedHeader>>,
) -> FinalizeHandle {
    let object = Gc::box_ptr(g).cast::<Header>();
    let registration = Rc::new(Registration {
        callback: Cell::new(Some(callback)),
        object,
        registered: Cell::new(false),
        ephemeron,
        pair_slot: Cell::new(0),
    });
    if is_condemned(g) {
        drop(registration.callback.take());
    } else {
        heap().finalize_table.register(registration.clone());
    }
    FinalizeHandle { registration }
}

/// Whether the collector has condemned `g`'s object (its weak references
/// are cleared or its value dropped): it is dead, though handles remain.
fn is_condemned<T: ?Sized + Trace + 'static>(g: &Gc<T>) -> bool {
    let header = g.header();
    header.is_value_dropped() || Gc::tracked_prefix(g).is_some_and(|h| h.has(Flags::WEAK_CLEARED))
}

/// The handle [`finalize`] returns (Python's `weakref.finalize` object).
///
/// Cloning it gives another handle to the same callback. Dropping every
/// handle does not cancel the callback.
#[derive(Clone)]
pub struct FinalizeHandle {
    registration: Rc<Registration>,
}

impl FinalizeHandle {
    /// Whether the callback is still pending: it has neither run nor been
    /// detached.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, finalize};
    /// let g = Gc::new(1u8);
    /// let handle = finalize(&g, || {});
    /// assert!(handle.alive());
    /// drop(g);
    /// assert!(!handle.alive());
    /// ```
    pub fn alive(&self) -> bool {
        // Peek by taking and putting back (no user code runs between).
        let callback = self.registration.callback.take();
        let alive = callback.is_some();
        self.registration.callback.set(callback);
        alive
    }

    /// Cancels the callback without running it. Returns whether it was
    /// still pending (Python returns the callback's arguments, or `None`).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, finalize};
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// #[derive(Trace)]
    /// struct Leaf(u8);
    ///
    /// let ran = Rc::new(Cell::new(false));
    /// let g = Gc::new(Leaf(1));
    /// let r = ran.clone();
    /// let handle = finalize(&g, move || r.set(true));
    /// assert!(handle.detach());
    /// assert!(!handle.detach(), "already detached");
    /// drop(g);
    /// assert!(!ran.get());
    /// ```
    pub fn detach(&self) -> bool {
        self.registration.take().is_some()
    }

    /// Runs the callback now if it is still pending (it will not run again
    /// at the object's death). Returns whether it ran.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, finalize};
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// #[derive(Trace)]
    /// struct Leaf(u8);
    ///
    /// let runs = Rc::new(Cell::new(0));
    /// let g = Gc::new(Leaf(1));
    /// let r = runs.clone();
    /// let handle = finalize(&g, move || r.set(r.get() + 1));
    /// assert!(handle.call());
    /// assert!(!handle.call());
    /// drop(g);
    /// assert_eq!(runs.get(), 1);
    /// ```
    pub fn call(&self) -> bool {
        match self.registration.take() {
            Some(callback) => {
                callback();
                true
            }
            None => false,
        }
    }
}

impl fmt::Debug for FinalizeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinalizeHandle")
            .field("alive", &self.alive())
            .finish()
    }
}
