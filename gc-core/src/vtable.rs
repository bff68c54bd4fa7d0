//! Per-type vtables of tracked objects.
//!
//! The collector walks type-erased list entries, so every tracked object's
//! prefix points at a `static`-promoted [`VTable`] built for its type: how to
//! trace it, finalize it, drop its value in place, and free its memory.

use core::alloc::Layout;
use core::ptr::NonNull;

use crate::alloc::small_class;
use crate::any_trace::AnyTrace;
use crate::header::{GcBox, Header, TRACKED_PREFIX, TrackedHeader};
use crate::trace::{Trace, Tracer};
use crate::tracked::Tracked;

/// Type-erased operations on one tracked object.
///
/// 512-byte aligned: a tracked object's header keeps its flags in the low
/// 9 bits of the vtable pointer (see `header.rs`).
#[repr(align(512))]
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
    /// The allocator's size class for `layout` (`None`: a large object),
    /// computed once per type rather than on every free.
    pub(crate) class: Option<usize>,
    /// `core::any::type_name` of the value, for diagnostics.
    pub(crate) type_name: fn() -> &'static str,
    /// The object carries an [`UnsizedTail`] (and `layout`, `box_offset`
    /// and `type_name` above are unused): it was made from an unsized
    /// value (`Gc<[T]>`, `Gc<dyn Trait>` from a `Box`), whose size,
    /// alignment and concrete type only the value's pointer metadata knows.
    pub(crate) unsized_tail: bool,
    /// The object's box as a `GcBox<dyn AnyTrace>` (for introspection's
    /// handles); `None` for objects made from unsized values, which have
    /// no `AnyTrace` vtable.
    pub(crate) as_any: Option<AsAny>,
}

/// See [`VTable::as_any`].
pub(crate) type AsAny = unsafe fn(NonNull<Header>) -> NonNull<GcBox<dyn AnyTrace>>;

/// What a tracked object made from an unsized value keeps right before its
/// prefix: the collector reaches objects through thin pointers, so the
/// allocation stores what the wide pointer's metadata says.
///
/// ```text
///  ┌──────────────────────────────┐ ◄ allocation
///  │ *mut GcBox<T> (wide)  16 B   │   the box pointer with its metadata
///  │ type_name: &str       16 B   │   UnsizedTail
///  │ box_offset: usize      8 B   │
///  │ layout: Layout        16 B   │
///  │ (padding)                    │
///  ├──────────────────────────────┤
///  │ TrackedHeader         32 B   │
///  ├──────────────────────────────┤ ◄ GcBox<T>
/// ```
#[repr(C)]
pub(crate) struct UnsizedTail {
    /// `core::any::type_name` of the concrete type (`dyn` erases it).
    pub(crate) type_name: &'static str,
    /// Bytes from the allocation's start to the `GcBox`.
    pub(crate) box_offset: usize,
    /// Layout of the whole allocation.
    pub(crate) layout: Layout,
}

impl UnsizedTail {
    /// The tail of `node`, which has one.
    ///
    /// # Safety
    ///
    /// `node` is a live tracked object whose vtable has `unsized_tail`.
    #[inline]
    pub(crate) unsafe fn of<'a>(node: NonNull<TrackedHeader>) -> &'a UnsizedTail {
        // SAFETY: the tail sits right before the prefix in the same
        // allocation (caller's contract) and is never written after.
        unsafe { node.cast::<UnsizedTail>().sub(1).as_ref() }
    }

    /// Bytes an allocation needs before its prefix for the tail and the
    /// wide pointer to a `GcBox<T>`.
    pub(crate) const fn bytes_before_prefix<T: ?Sized>() -> usize {
        size_of::<*mut GcBox<T>>() + size_of::<UnsizedTail>()
    }
}

/// The wide box pointer stored in front of the tail of a tracked object
/// made from an unsized `T`.
///
/// # Safety
///
/// `boxed` is the `GcBox` of a live tracked object with an unsized tail,
/// made from a `T`.
#[inline]
unsafe fn stored_box<T: ?Sized>(boxed: NonNull<Header>) -> *mut GcBox<T> {
    // SAFETY: the wide pointer precedes the tail, which precedes the
    // prefix, all inside the allocation (caller's contract).
    unsafe {
        boxed
            .byte_sub(TRACKED_PREFIX + UnsizedTail::bytes_before_prefix::<T>())
            .cast::<*mut GcBox<T>>()
            .read()
    }
}

/// Holder of the vtable of tracked objects made from an unsized `T`.
pub(crate) struct UnsizedVTableOf<T: ?Sized>(core::marker::PhantomData<T>);

impl<T: ?Sized + Trace + 'static> UnsizedVTableOf<T> {
    pub(crate) const VTABLE: VTable = VTable {
        trace: trace_unsized::<T>,
        finalize: finalize_unsized::<T>,
        drop_value: drop_unsized::<T>,
        // Empty: what marks the vtable for `allocation_of`.
        layout: Layout::new::<()>(),
        box_offset: 0,
        class: None,
        type_name: core::any::type_name::<T>,
        unsized_tail: true,
        as_any: None,
    };
}

/// # Safety
/// As for `stored_box`, and the value is intact.
unsafe fn trace_unsized<T: ?Sized + Trace>(boxed: NonNull<Header>, tracer: &mut Tracer) {
    // SAFETY: caller's contract: the stored pointer is the object's box.
    unsafe { (*stored_box::<T>(boxed)).value.trace(tracer) };
}

/// # Safety
/// As for `trace_unsized`.
unsafe fn finalize_unsized<T: ?Sized + Trace>(boxed: NonNull<Header>) {
    // SAFETY: caller's contract: the stored pointer is the object's box.
    unsafe { (*stored_box::<T>(boxed)).value.run_finalizer() };
}

/// # Safety
/// As for `drop_value`, on an object with an unsized tail made from a `T`.
unsafe fn drop_unsized<T: ?Sized + Trace>(boxed: NonNull<Header>) {
    // SAFETY: caller's contract: the value is dropped exactly once.
    unsafe { core::ptr::drop_in_place(&raw mut (*stored_box::<T>(boxed)).value) };
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
        class: small_class(tracked_layout::<T>().0),
        type_name: core::any::type_name::<T>,
        unsized_tail: false,
        as_any: Some(as_any::<T>),
    };
}

/// The box of a `T` object, viewed as a `GcBox<dyn AnyTrace>`.
///
/// # Safety
/// `boxed` is the `GcBox<T>` of an object (live memory).
unsafe fn as_any<T: Trace + 'static>(boxed: NonNull<Header>) -> NonNull<GcBox<dyn AnyTrace>> {
    // An unsizing coercion: same address, `T`'s `AnyTrace` vtable.
    let typed: NonNull<GcBox<T>> = boxed.cast();
    typed
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

/// Start of the allocation holding tracked object `node`, its layout, and
/// the allocator's size class for it.
#[inline]
pub(crate) fn allocation_of(node: Tracked) -> (NonNull<u8>, Layout, Option<usize>) {
    let vt = node.vtable();
    // A sized type's allocation is never empty: an empty layout marks the
    // vtables of objects with an unsized tail (tested on the layout the
    // usual path loads anyway, not on a flag loaded before it).
    let (box_offset, layout, class) = if vt.layout.size() != 0 {
        (vt.box_offset, vt.layout, vt.class)
    } else {
        debug_assert!(vt.unsized_tail);
        // SAFETY: the vtable says the object has a tail; live (a `Tracked`).
        let tail = unsafe { UnsizedTail::of(node.as_ptr()) };
        (tail.box_offset, tail.layout, small_class(tail.layout))
    };
    let boxed = node.boxed();
    // SAFETY: the box sits `box_offset` bytes into the allocation.
    (
        unsafe { boxed.cast::<u8>().byte_sub(box_offset) },
        layout,
        class,
    )
}

/// `core::any::type_name` of the concrete type of tracked object `node`
/// (also for a value the collector dropped).
pub(crate) fn type_name_of(node: Tracked) -> &'static str {
    let vtable = node.vtable();
    if vtable.unsized_tail {
        // SAFETY: the vtable says the object has a tail, fixed at
        // allocation and alive as long as the (live) object.
        unsafe { UnsizedTail::of(node.as_ptr()) }.type_name
    } else {
        (vtable.type_name)()
    }
}
