//! [`Tracked`]: a handle to a live tracked object, the one place that
//! states "this pointer is a live list member" (the model is gc-arena's
//! `GcPtr`).

use core::ptr::NonNull;

use crate::header::{Flags, Header, TrackedHeader};
use crate::trace::Tracer;
use crate::vtable::VTable;

/// A live tracked object, named by its [`TrackedHeader`] prefix: what the
/// lists link, the collector walks and the refcount death path releases.
///
/// The invariant, stated once in [`new`](Tracked::new): the memory is
/// allocated and the prefix and the refcount header after it are
/// initialised, for as long as the handle (or a copy) is used. The handle
/// is crate-internal and carries no lifetime, so this is kept by the code
/// that holds it: it holds only objects it keeps alive itself — by a strong
/// handle or the implicit weak count it owns, or because the object is on a
/// list no user code can change while the handle is in use (see
/// `list.rs`) — and drops the handle once it frees the object (the
/// `release_*` functions end a handle's use).
///
/// The safe methods only read the prefix and the header (`Cell`s). What
/// touches the value is `unsafe`: whether the value is still intact is not
/// part of the invariant (the collector drops values in place).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub(crate) struct Tracked(NonNull<TrackedHeader>);

impl Tracked {
    /// The handle of the tracked object whose prefix `ptr` points to.
    ///
    /// # Safety
    ///
    /// `ptr` points to the prefix of a tracked allocation whose prefix and
    /// header are initialised, and the caller (with everyone it hands a
    /// copy to) uses the handle only while the object's memory stays
    /// allocated: it holds a strong handle or the implicit weak count, or
    /// the object is on a list no user code can change meanwhile.
    #[inline(always)]
    pub(crate) const unsafe fn new(ptr: NonNull<TrackedHeader>) -> Self {
        Tracked(ptr)
    }

    /// The handle of the tracked object whose `GcBox` `boxed` points to.
    ///
    /// # Safety
    ///
    /// As for [`new`](Self::new), with `boxed` the `GcBox` of a tracked
    /// allocation.
    #[inline(always)]
    pub(crate) unsafe fn of_box(boxed: NonNull<Header>) -> Self {
        // SAFETY: tracked allocations carry the prefix in front of the box;
        // liveness is the caller's contract.
        unsafe { Tracked::new(TrackedHeader::of_box(boxed)) }
    }

    /// The prefix pointer (provenance over the whole allocation).
    #[inline(always)]
    pub(crate) fn as_ptr(self) -> NonNull<TrackedHeader> {
        self.0
    }

    /// The object's address (its prefix's).
    #[inline(always)]
    pub(crate) fn addr(self) -> usize {
        self.0.as_ptr().addr()
    }

    /// The prefix: list links, vtable, collector state.
    #[inline(always)]
    pub(crate) fn prefix(&self) -> &TrackedHeader {
        // SAFETY: live object, prefix initialised (the handle's invariant);
        // the prefix is only mutated through `Cell`s.
        unsafe { self.0.as_ref() }
    }

    /// The refcount header after the prefix. Reached through the object
    /// pointer, not through [`prefix`](Self::prefix): a reference to the
    /// prefix alone does not cover the header (Stacked Borrows).
    #[inline(always)]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: live object (the handle's invariant).
        unsafe { TrackedHeader::header(self.0) }
    }

    /// The `GcBox` the prefix belongs to.
    #[inline(always)]
    pub(crate) fn boxed(self) -> NonNull<Header> {
        TrackedHeader::boxed(self.0)
    }

    /// The object's vtable.
    #[inline(always)]
    pub(crate) fn vtable(self) -> &'static VTable {
        self.prefix().vtable()
    }

    /// Whether this object's finalizer (user code) still has to be called,
    /// by the collector or on its refcount death: its type has one and it
    /// has not run.
    #[inline]
    pub(crate) fn finalizer_pending(self) -> bool {
        self.header().has_finalizer() && !self.prefix().has(Flags::FINALIZED)
    }

    /// Reports the value's edges to `tracer`.
    ///
    /// # Safety
    ///
    /// The value is intact (not dropped) and not lent out mutably.
    #[inline]
    pub(crate) unsafe fn trace(self, tracer: &mut Tracer) {
        // SAFETY: value intact (caller's contract).
        unsafe { (self.vtable().trace)(self.boxed(), tracer) }
    }

    /// Runs the value's finalizer.
    ///
    /// # Safety
    ///
    /// The value is intact (not dropped).
    #[inline]
    pub(crate) unsafe fn finalize(self) {
        // SAFETY: value intact (caller's contract).
        unsafe { (self.vtable().finalize)(self.boxed()) }
    }

    /// Drops the value in place (the memory stays).
    ///
    /// # Safety
    ///
    /// The value is intact, and dropped exactly once: nothing reads it
    /// afterwards (its strong count is 0 or it is flagged `VALUE_DROPPED`).
    #[inline]
    pub(crate) unsafe fn drop_value(self) {
        // SAFETY: value intact, dropped exactly once (caller's contract).
        unsafe { (self.vtable().drop_value)(self.boxed()) }
    }
}
