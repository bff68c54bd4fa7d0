//! Per-type vtables of tracked objects.
//!
//! The collector walks type-erased list entries, so every tracked object's
//! prefix points at a `static`-promoted [`VTable`] built for its type: how to
//! trace it, finalize it, drop its value in place, and free its memory.

use core::alloc::Layout;
use core::ptr::NonNull;

use crate::header::{GcBox, Header, TRACKED_PREFIX, TrackedHeader};
use crate::trace::{Trace, Tracer};

/// Type-erased operations on one tracked object.
pub(crate) struct VTable {
    /// Calls `Trace::trace` on the value.
    pub(crate) trace: unsafe fn(NonNull<Header>, &mut Tracer),
    /// Runs the value's finalizer (callers check the header's `FINALIZER`
    /// bit first).
    pub(crate) finalize: unsafe fn(NonNull<Header>),
    /// Drops the value in place.
    pub(crate) drop_value: unsafe fn(NonNull<Header>),
    /// Layout of the whole allocation (prefix, padding, header and value).
    pub(crate) layout: Layout,
    /// Bytes from the allocation's start to the `GcBox`.
    pub(crate) box_offset: usize,
    /// `core::any::type_name` of the value, for diagnostics.
    pub(crate) type_name: fn() -> &'static str,
}

/// Allocation layout of a tracked `GcBox<T>`: `(layout, offset of the box)`.
pub(crate) const fn tracked_layout<T: Sized>() -> (Layout, usize) {
    let box_align = align_of::<GcBox<T>>();
    let align = if box_align > 8 { box_align } else { 8 };
    let offset = TRACKED_PREFIX.next_multiple_of(box_align);
    let size = (offset + size_of::<GcBox<T>>()).next_multiple_of(align);
    match Layout::from_size_align(size, align) {
        Ok(layout) => (layout, offset),
        Err(_) => panic!("Gc value too large"),
    }
}

/// Holder of the per-type vtable constant.
pub(crate) struct VTableOf<T>(core::marker::PhantomData<T>);

impl<T: Trace + 'static> VTableOf<T> {
    pub(crate) const VTABLE: VTable = VTable {
        trace: trace_value::<T>,
        finalize: finalize_value::<T>,
        drop_value: drop_value::<T>,
        layout: tracked_layout::<T>().0,
        box_offset: tracked_layout::<T>().1,
        type_name: core::any::type_name::<T>,
    };
}

/// # Safety
/// `boxed` is the `GcBox<T>` of a tracked object whose value is intact.
unsafe fn trace_value<T: Trace>(boxed: NonNull<Header>, tracer: &mut Tracer) {
    // SAFETY: caller guarantees the value is initialised and not dropped.
    let value = unsafe { &(*boxed.cast::<GcBox<T>>().as_ptr()).value };
    value.trace(tracer);
}

/// # Safety
/// As for `trace_value`.
unsafe fn finalize_value<T: Trace>(boxed: NonNull<Header>) {
    // SAFETY: caller guarantees the value is initialised and not dropped.
    let value = unsafe { &(*boxed.cast::<GcBox<T>>().as_ptr()).value };
    value.run_finalizer();
}

/// # Safety
/// `boxed` is the `GcBox<T>` of an object whose value is intact and that
/// nobody reads again (its VALUE_DROPPED flag is set or its strong count is 0).
unsafe fn drop_value<T: Trace>(boxed: NonNull<Header>) {
    // SAFETY: caller's contract: the value is dropped exactly once.
    unsafe { core::ptr::drop_in_place(&raw mut (*boxed.cast::<GcBox<T>>().as_ptr()).value) };
}

/// Start of the allocation holding tracked object `node`.
///
/// # Safety
/// `node` must be a tracked object whose memory is still allocated.
#[inline]
pub(crate) unsafe fn allocation_of(node: NonNull<TrackedHeader>) -> (NonNull<u8>, Layout) {
    // SAFETY: the vtable is set at allocation and never changes.
    let vt = unsafe { node.as_ref().vtable };
    let boxed = TrackedHeader::boxed(node);
    // SAFETY: the box sits `box_offset` bytes into the allocation.
    (
        unsafe { boxed.cast::<u8>().byte_sub(vt.box_offset) },
        vt.layout,
    )
}
