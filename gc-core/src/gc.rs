//! `Gc<T>`: the refcounted, cycle-collected smart pointer.

use core::alloc::Layout;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::Deref;
use core::ptr::{self, NonNull};

use crate::header::{Flags, GcBox, Header, TRACKED_PREFIX, TrackedHeader};
use crate::heap::heap;
use crate::list;
use crate::release;
use crate::trace::{Trace, Tracer, TypeFacts};
use crate::tracked::Tracked;
use crate::vtable::{VTableOf, tracked_layout};
use crate::weak::Weak;

/// A single-threaded reference-counted pointer whose cycles are reclaimed by
/// a generational cycle collector — CPython's object model for Rust.
///
/// Cloning a `Gc` adds a strong handle; the value is dropped the moment the
/// last strong handle goes (like `Py_DECREF`), and the memory returns to this
/// thread's pools once no [`Weak`] is left either. Values whose type can own
/// a `Gc` ([`Trace::may_contain_gc`]) are *tracked*: the cycle collector
/// (see [`collect`](crate::collect)) finds and frees groups of them that only
/// reference each other.
///
/// Operations on the pointer are associated functions (`Gc::strong_count(&g)`)
/// so they never shadow methods of `T`. `Gc` is neither `Send` nor `Sync`.
///
/// # Examples
///
/// ```
/// use pygc::Gc;
///
/// let a = Gc::new(String::from("spam"));
/// let b = Gc::clone(&a);
/// assert_eq!(Gc::strong_count(&a), 2);
/// assert_eq!(*b, "spam");
/// drop(a);
/// assert_eq!(Gc::strong_count(&b), 1);
/// ```
pub struct Gc<T: ?Sized + Trace + 'static> {
    ptr: NonNull<GcBox<T>>,
    _owns: PhantomData<GcBox<T>>,
}

#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn value_dropped() -> ! {
    panic!(
        "Gc value was already dropped by the cycle collector (a Drop or \
         finalizer kept a handle to a peer of its cycle); use Gc::try_deref \
         to check"
    )
}

impl<T: Trace + 'static> Gc<T> {
    /// Moves `value` into a new object with one strong handle.
    ///
    /// If `T` can own a `Gc`, the object is tracked, and this call may first
    /// run an automatic collection (when generation 0 is over its
    /// threshold). Handles inside `value` count as external roots during it.
    ///
    /// # Examples
    ///
    /// ```
    /// let five = pygc::Gc::new(5);
    /// assert_eq!(*five, 5);
    /// ```
    #[inline]
    pub fn new(value: T) -> Gc<T> {
        let heap = heap();
        let facts = TypeFacts::of::<T>().and(value.__value_facts());
        if facts.may_contain_gc {
            heap.note_tracked_allocation();
            let boxed = Self::allocate_tracked(heap, Header::new(1, 1, Header::bits(facts)));
            // SAFETY: `boxed` is freshly allocated for a `GcBox<T>`; header
            // and prefix are initialised; the value is written before the
            // object becomes visible to the collector by linking it.
            unsafe {
                (&raw mut (*boxed.as_ptr()).value).write(value);
                heap.gens.list(0).push_back(Tracked::of_box(boxed.cast()));
            }
            Gc::from_box(boxed)
        } else {
            let block = heap.allocate(Layout::new::<GcBox<T>>()).cast::<GcBox<T>>();
            // SAFETY: the block is sized and aligned for a `GcBox<T>`.
            unsafe {
                block.write(GcBox {
                    header: Header::new(1, 1, Header::bits(facts)),
                    value,
                });
            }
            Gc::from_box(block)
        }
    }

    /// Allocates a tracked block and initialises its prefix and header (not
    /// the value). The object is on no list yet.
    #[inline]
    fn allocate_tracked(heap: &crate::heap::Heap, header: Header) -> NonNull<GcBox<T>> {
        let (layout, offset) = tracked_layout::<T>();
        let base = heap.allocate(layout);
        // SAFETY: `offset >= TRACKED_PREFIX` and the layout holds the prefix
        // and the box at these offsets; the memory is fresh and ours.
        unsafe {
            let prefix = base
                .byte_add(offset - TRACKED_PREFIX)
                .cast::<TrackedHeader>();
            prefix.write(TrackedHeader::new(&VTableOf::<T>::VTABLE));
            let boxed = base.byte_add(offset).cast::<GcBox<T>>();
            (&raw mut (*boxed.as_ptr()).header).write(header);
            boxed
        }
    }

    /// Creates an object that holds a [`Weak`] to itself, like
    /// `Rc::new_cyclic`.
    ///
    /// `data_fn` gets a `Weak` whose `upgrade` returns `None` until this
    /// function returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, Weak};
    ///
    /// #[derive(Trace)]
    /// struct Me {
    ///     me: Weak<Me>,
    /// }
    /// let me = Gc::new_cyclic(|weak| Me { me: weak.clone() });
    /// assert!(Gc::ptr_eq(&me.me.upgrade().unwrap(), &me));
    /// ```
    pub fn new_cyclic<F: FnOnce(&Weak<T>) -> T>(data_fn: F) -> Gc<T> {
        let heap = heap();
        let facts = TypeFacts::of::<T>();
        let tracked = facts.may_contain_gc;
        let bits = Header::bits(facts);
        let boxed = if tracked {
            heap.note_tracked_allocation();
            Self::allocate_tracked(heap, Header::new(0, 1, bits))
        } else {
            let layout = Layout::new::<GcBox<T>>();
            let block = heap.allocate(layout).cast::<GcBox<T>>();
            // SAFETY: fresh block sized for a `GcBox<T>`; the value slot is
            // unwritten, so the layout is stashed there for the `Weak`'s
            // drop should `data_fn` panic.
            unsafe {
                (&raw mut (*block.as_ptr()).header).write(Header::new(0, 1, bits));
                release::stash_layout(block.cast(), layout);
            }
            block
        };
        // The weak count of 1 written above belongs to this `Weak`; if
        // `data_fn` panics, dropping it frees the (value-less) block.
        let weak = Weak::from_box(boxed);
        let value = data_fn(&weak);
        // SAFETY: the block is live (we hold a weak count); the value slot is
        // uninitialised and nobody reads it while the strong count is 0.
        unsafe {
            (&raw mut (*boxed.as_ptr()).value).write(value);
            (*boxed.as_ptr()).header.set_strong(1);
        }
        // The weak count now stands for the implicit weak of the strong handles.
        core::mem::forget(weak);
        if tracked {
            // SAFETY: fully initialised tracked object on no list.
            unsafe { heap.gens.list(0).push_back(Tracked::of_box(boxed.cast())) };
        }
        Gc::from_box(boxed)
    }

    /// Returns the value if this is the only strong handle, like
    /// `Rc::try_unwrap`; otherwise gives the handle back.
    ///
    /// Weak handles are left dangling. Also fails (returns `Err`) when the
    /// cycle collector already dropped the value. No finalizer runs: the
    /// value is moved out, not destroyed.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let x = Gc::new(3);
    /// assert_eq!(Gc::try_unwrap(x), Ok(3));
    ///
    /// let y = Gc::new(4);
    /// let y2 = y.clone();
    /// let y = Gc::try_unwrap(y).unwrap_err();
    /// assert_eq!(*y, 4);
    /// # drop(y2);
    /// ```
    pub fn try_unwrap(this: Self) -> Result<T, Self> {
        if Gc::strong_count(&this) != 1 || Gc::is_value_dropped(&this) {
            return Err(this);
        }
        let this = ManuallyDrop::new(this);
        let header = this.header();
        header.set_strong(0);
        let tracked = header.is_tracked();
        if tracked {
            // SAFETY: tracked, and live while `this` is (its implicit weak
            // count is still held).
            let node = unsafe { Tracked::new(Gc::tracked_header(&this)) };
            // SAFETY: leaving its list is always allowed.
            unsafe { list::unlink(node) };
            heap().note_tracked_deallocation(node.prefix());
        }
        // SAFETY: the strong count is now 0, so the value is moved out
        // exactly once and nobody reads it again (upgrades fail).
        let value = unsafe { ptr::read(&raw const (*this.ptr.as_ptr()).value) };
        // The object is gone: its `pygc::finalize` callbacks leave the side
        // table before the block can be reused, and run once it is released.
        let dead = header.has_finalize_callbacks().then(|| {
            // SAFETY: allocated (the implicit weak count is held); the
            // pointer covers the whole block.
            unsafe { crate::weakref_finalize::take_on_refcount_death(this.ptr.cast()) }
        });
        // SAFETY: strong count 0 and value moved out; drop the implicit weak.
        unsafe {
            if tracked {
                release::release_implicit_weak::<T>(this.ptr);
            } else {
                release::release_untracked_weak(this.ptr, Layout::new::<GcBox<T>>());
            }
        }
        if let Some(dead) = dead {
            crate::weakref_finalize::run_on_refcount_death(dead);
        }
        Ok(value)
    }

    /// Returns the value if this is the last strong handle; otherwise drops
    /// the handle and returns `None`, like `Rc::into_inner`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let a = Gc::new(String::from("x"));
    /// let b = a.clone();
    /// assert_eq!(Gc::into_inner(a), None);
    /// assert_eq!(Gc::into_inner(b).as_deref(), Some("x"));
    /// ```
    pub fn into_inner(this: Self) -> Option<T> {
        Gc::try_unwrap(this).ok()
    }
}

impl<T: ?Sized + Trace + 'static> Gc<T> {
    #[inline]
    pub(crate) fn from_box(ptr: NonNull<GcBox<T>>) -> Self {
        Gc {
            ptr,
            _owns: PhantomData,
        }
    }

    /// The pointer to the object's box.
    #[inline]
    pub(crate) fn box_ptr(this: &Self) -> NonNull<GcBox<T>> {
        this.ptr
    }

    /// `core::any::type_name` of the object's concrete type, also through
    /// `Gc<dyn Trait>`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{AnyTrace, Gc, unsize};
    /// let any = unsize!(Gc::new(vec![1u8]) => dyn AnyTrace);
    /// assert_eq!(Gc::type_name(&any), "alloc::vec::Vec<u8>");
    /// ```
    pub fn type_name(this: &Self) -> &'static str {
        if this.header().is_tracked() {
            // SAFETY: tracked, and the handle keeps the object alive.
            crate::vtable::type_name_of(unsafe { Tracked::new(Gc::tracked_header(this)) })
        } else {
            // Untracked values are never dropped under a strong handle.
            (**this).__type_name()
        }
    }

    #[inline]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a `Gc` keeps its allocation alive; the header is only
        // accessed through `Cell`s.
        unsafe { &(*self.ptr.as_ptr()).header }
    }

    /// Whether the value, of a sized type, owns no `Gc` (its facts say so;
    /// for `Gc<u64>`, `Gc<String>` a constant, so `Gc::drop` keeps no
    /// candidate code for them at all). Such an object has no edge, so it
    /// can never be what keeps garbage alive: a garbage set always holds an
    /// object with edges whose count went down, which is noted a candidate
    /// (DESIGN's candidate rule). It can be tracked nonetheless (a downcast
    /// of a `Gc<dyn AnyTrace>` made from a box), and then it has no
    /// ephemeron edges either (see `finalize_ephemeron`).
    ///
    /// Only called while the value is intact (not a zombie's).
    #[inline(always)]
    pub(crate) fn has_leaf_value(this: &Self) -> bool {
        // SAFETY: live, value intact (caller).
        let value = unsafe { &(*this.ptr.as_ptr()).value };
        size_of::<*const T>() == size_of::<*const ()>() && !value.__value_facts().may_contain_gc
    }

    /// Whether the object has the tracked prefix (it may be off every list:
    /// a zombie, or one leaving by refcount).
    #[inline]
    pub(crate) fn is_tracked_object(this: &Self) -> bool {
        this.header().is_tracked()
    }

    /// The tracked prefix, if the object has one.
    #[inline]
    pub(crate) fn tracked_prefix(this: &Self) -> Option<&TrackedHeader> {
        // SAFETY: tracked objects carry the prefix, alive as long as the
        // handle; it is only accessed through `Cell`s.
        this.header()
            .is_tracked()
            .then(|| unsafe { Gc::tracked_header(this).as_ref() })
    }

    /// Consumes the handle, returning the pointer to the value (like
    /// `Rc::into_raw`). The strong count stays: turn the pointer back into
    /// a handle with [`Gc::from_raw`], or the object leaks.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let raw = Gc::into_raw(Gc::new(5));
    /// // SAFETY: `raw` came from `Gc::into_raw` and is used once.
    /// let back = unsafe { Gc::from_raw(raw) };
    /// assert_eq!(*back, 5);
    /// ```
    pub fn into_raw(this: Self) -> *const T {
        let this = ManuallyDrop::new(this);
        Gc::as_ptr(&this)
    }

    /// Rebuilds the handle [`Gc::into_raw`] returned (like `Rc::from_raw`).
    ///
    /// # Safety
    ///
    /// `ptr` was returned by `Gc::<U>::into_raw` with `U` the same type as
    /// `T` (or `T` a `dyn` type `U` coerces to, through `unsize!`-compatible
    /// pointer metadata), on this thread, its value was not dropped by the
    /// cycle collector, and each such pointer is turned back at most once.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let raw: *const str = Gc::into_raw(Gc::<str>::from("spam"));
    /// // SAFETY: `raw` came from `Gc::into_raw` and is used once.
    /// let back = unsafe { Gc::from_raw(raw) };
    /// assert_eq!(&*back, "spam");
    /// ```
    pub unsafe fn from_raw(ptr: *const T) -> Self {
        // The value sits after the 8-byte header, aligned to its type (the
        // `GcBox` is `repr(C)`); the value is alive, so its alignment can
        // be read through a reference.
        // SAFETY: caller's contract: a live value of a `Gc` allocation.
        let offset = size_of::<Header>().next_multiple_of(align_of_val(unsafe { &*ptr }));
        // SAFETY: the box starts `offset` bytes before the value, in the
        // same allocation; the pointer keeps the value's metadata.
        let boxed = unsafe { ptr.byte_sub(offset) } as *mut GcBox<T>;
        // SAFETY: derived from a non-null value pointer.
        Gc::from_box(unsafe { NonNull::new_unchecked(boxed) })
    }

    /// The tracked prefix. Only meaningful for a tracked object.
    #[inline]
    pub(crate) fn tracked_header(this: &Self) -> NonNull<TrackedHeader> {
        debug_assert!(
            this.header().is_tracked(),
            "untracked objects have no prefix"
        );
        // SAFETY: tracked objects carry the prefix right before the box.
        unsafe { TrackedHeader::of_box(this.ptr.cast()) }
    }

    #[inline]
    fn tracked_flag(this: &Self, flags: Flags) -> bool {
        // SAFETY: a `Gc` keeps its allocation (and prefix) alive.
        this.header().is_tracked() && unsafe { Gc::tracked_header(this).as_ref().has(flags) }
    }

    #[inline]
    fn is_value_dropped(this: &Self) -> bool {
        this.header().is_value_dropped()
    }

    /// Whether the value can no longer be read: the collector dropped it
    /// and dropping changed it. A type without drop glue
    /// (`!needs_drop::<T>()`, e.g. `u64`) is left intact by `drop_in_place`,
    /// so its handles skip the check (and a `Gc<u64>` deref costs what an
    /// `Rc<u64>` one does).
    #[inline]
    fn is_value_gone(this: &Self) -> bool {
        core::mem::needs_drop::<T>() && Gc::is_value_dropped(this)
    }

    /// Returns a reference to the value, or `None` when the cycle collector
    /// already dropped it (only observable from a `Drop` or from a handle a
    /// `Drop` smuggled out of a collected cycle). A value without drop glue
    /// is left intact by its drop and stays readable.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = pygc::Gc::new(1);
    /// assert_eq!(pygc::Gc::try_deref(&g), Some(&1));
    /// ```
    #[inline]
    pub fn try_deref(this: &Self) -> Option<&T> {
        if Gc::is_value_gone(this) {
            None
        } else {
            // SAFETY: the value is alive (strong count > 0, not dropped by
            // the collector) for as long as the `Gc` is borrowed.
            Some(unsafe { &(*this.ptr.as_ptr()).value })
        }
    }

    /// `true` when both handles point to the same object (compares data
    /// addresses only).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let a = Gc::new(1);
    /// let b = a.clone();
    /// let c = Gc::new(1);
    /// assert!(Gc::ptr_eq(&a, &b));
    /// assert!(!Gc::ptr_eq(&a, &c));
    /// ```
    #[inline]
    pub fn ptr_eq(this: &Self, other: &Self) -> bool {
        ptr::addr_eq(this.ptr.as_ptr(), other.ptr.as_ptr())
    }

    /// A raw pointer to the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let a = Gc::new(7);
    /// assert_eq!(unsafe { *Gc::as_ptr(&a) }, 7);
    /// ```
    #[inline]
    pub fn as_ptr(this: &Self) -> *const T {
        // SAFETY: projecting to a field of a live allocation.
        unsafe { &raw const (*this.ptr.as_ptr()).value }
    }

    /// Creates a [`Weak`] handle to the object.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let a = Gc::new(1);
    /// let w = Gc::downgrade(&a);
    /// assert_eq!(w.upgrade().map(|g| *g), Some(1));
    /// drop(a);
    /// assert!(w.upgrade().is_none());
    /// ```
    #[inline]
    pub fn downgrade(this: &Self) -> Weak<T> {
        this.header().inc_weak();
        Weak::from_box(this.ptr)
    }

    /// Number of strong handles (CPython's `sys.getrefcount`, minus the
    /// argument's own reference).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let a = Gc::new(());
    /// let _b = a.clone();
    /// assert_eq!(Gc::strong_count(&a), 2);
    /// ```
    #[inline]
    pub fn strong_count(this: &Self) -> usize {
        this.header().strong() as usize
    }

    /// Number of [`Weak`] handles.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let a = Gc::new(());
    /// let _w = Gc::downgrade(&a);
    /// assert_eq!(Gc::weak_count(&a), 1);
    /// ```
    #[inline]
    pub fn weak_count(this: &Self) -> usize {
        this.header().weak() as usize - 1
    }

    /// `true` when the cycle collector tracks this object (CPython's
    /// `gc.is_tracked`): its type can own a `Gc`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// assert!(!Gc::is_tracked(&Gc::new(1u8)));
    /// assert!(Gc::is_tracked(&Gc::new(Some(Gc::new(1u8)))));
    /// ```
    #[inline]
    pub fn is_tracked(this: &Self) -> bool {
        // SAFETY: a `Gc` keeps its allocation (and prefix) alive.
        this.header().is_tracked() && unsafe { Gc::tracked_header(this).as_ref().is_linked() }
    }

    /// `true` when the object's finalizer already ran (CPython's
    /// `gc.is_finalized`): it was found in unreachable garbage, finalized,
    /// and resurrected.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let a = Gc::new(vec![Gc::new(1)]);
    /// assert!(!Gc::is_finalized(&a));
    /// ```
    #[inline]
    pub fn is_finalized(this: &Self) -> bool {
        // Garbage condemned without a finalizer to run counts as finalized
        // from the moment its weak references are cleared.
        Gc::tracked_flag(this, Flags::FINALIZED | Flags::WEAK_CLEARED)
    }
}

impl<T: ?Sized + Trace + 'static> Deref for Gc<T> {
    type Target = T;

    /// # Panics
    ///
    /// Panics with "Gc value was already dropped by the cycle collector"
    /// when dereferencing a handle whose value the collector dropped (only
    /// possible from a `Drop` of a collected cycle or a handle smuggled out
    /// of one). Untracked types never pay for this check. The panic
    /// reports the caller's location.
    #[inline]
    #[track_caller]
    fn deref(&self) -> &T {
        if Gc::is_value_gone(self) {
            value_dropped();
        }
        // SAFETY: the value is alive while a strong handle exists and the
        // collector has not dropped it.
        unsafe { &(*self.ptr.as_ptr()).value }
    }
}

impl<T: ?Sized + Trace + 'static> Clone for Gc<T> {
    /// Adds a strong handle (aborts on count overflow, like `Rc`).
    #[inline]
    fn clone(&self) -> Self {
        self.header().inc_strong();
        Gc::from_box(self.ptr)
    }
}

impl<T: ?Sized + Trace + 'static> Drop for Gc<T> {
    #[inline]
    fn drop(&mut self) {
        if self.header().dec_strong() == 0 {
            // SAFETY: this was the last strong handle.
            unsafe { release::last_strong_dropped(self.ptr) };
        } else if self.header().is_tracked_with_value() && !Gc::has_leaf_value(self) {
            // SAFETY: tracked objects carry a prefix; the object is live
            // (strong count above 0).
            let node = unsafe { Gc::tracked_header(self).as_ref() };
            if !node.has(Flags::CANDIDATE) {
                // Possibly the last reference from outside a cycle.
                crate::heap::Heap::note_candidate_here(node);
            }
        }
    }
}

// SAFETY: a `Gc` owns exactly one edge: the object it points to.
unsafe impl<T: ?Sized + Trace + 'static> Trace for Gc<T> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer) {
        tracer.visit(self);
    }

    #[inline]
    fn has_finalizer() -> bool {
        false
    }

    #[inline]
    fn __value_facts(&self) -> TypeFacts {
        TypeFacts::of::<Self>()
    }
}
