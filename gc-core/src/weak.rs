//! `Weak<T>`: a non-owning handle (Python's `weakref.ref`).

use core::fmt;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};

use crate::gc::Gc;
use crate::header::{Flags, GcBox, Header, TrackedHeader};
use crate::heap::heap;
use crate::release::free_block;
use crate::trace::{Trace, Tracer};

/// A weak handle to a [`Gc`] object: it does not keep the value alive, and
/// [`upgrade`](Weak::upgrade) returns `None` once the value is gone.
///
/// When the cycle collector frees a cycle, it clears the weak handles of its
/// objects **after** running their finalizers (unlike CPython 3.13, which
/// clears first), so a finalizer can still upgrade a `Weak` to a peer.
///
/// # Examples
///
/// ```
/// use pygc::{Gc, Weak};
///
/// let strong = Gc::new(5);
/// let weak: Weak<i32> = Gc::downgrade(&strong);
/// assert_eq!(*weak.upgrade().unwrap(), 5);
/// drop(strong);
/// assert!(weak.upgrade().is_none());
/// ```
pub struct Weak<T: ?Sized + Trace + 'static> {
    /// `usize::MAX` (no provenance) for `Weak::new()`.
    ptr: NonNull<GcBox<T>>,
    _marker: PhantomData<GcBox<T>>,
}

const DANGLING: usize = usize::MAX;

impl<T: Trace + 'static> Weak<T> {
    /// A `Weak` that points to nothing: `upgrade` always returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// let w: pygc::Weak<u8> = pygc::Weak::new();
    /// assert!(w.upgrade().is_none());
    /// ```
    #[inline]
    pub const fn new() -> Self {
        Weak {
            ptr: NonNull::without_provenance(core::num::NonZero::<usize>::MAX),
            _marker: PhantomData,
        }
    }
}

impl<T: Trace + 'static> Weak<T> {
    /// Consumes the handle, returning a pointer to where the value is (or
    /// was), like `rc::Weak::into_raw`. The weak count stays: turn the
    /// pointer back with [`Weak::from_raw`], or the block leaks. (Only for
    /// sized `T`: the value's offset in the block must be known without
    /// reading a value that may be gone.)
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Weak};
    /// let strong = Gc::new(5);
    /// let raw = Weak::into_raw(Gc::downgrade(&strong));
    /// // SAFETY: `raw` came from `Weak::into_raw` and is used once.
    /// let weak = unsafe { Weak::from_raw(raw) };
    /// assert_eq!(weak.upgrade().map(|g| *g), Some(5));
    /// ```
    pub fn into_raw(this: Self) -> *const T {
        let this = core::mem::ManuallyDrop::new(this);
        this.ptr
            .as_ptr()
            .cast::<u8>()
            .wrapping_byte_add(core::mem::offset_of!(GcBox<T>, value))
            .cast()
    }

    /// Rebuilds the handle [`Weak::into_raw`] returned.
    ///
    /// # Safety
    ///
    /// `ptr` was returned by `Weak::<T>::into_raw` on this thread, and each
    /// such pointer is turned back at most once.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Weak;
    /// let raw = Weak::into_raw(Weak::<u8>::new());
    /// // SAFETY: `raw` came from `Weak::into_raw` and is used once.
    /// assert!(unsafe { Weak::from_raw(raw) }.upgrade().is_none());
    /// ```
    pub unsafe fn from_raw(ptr: *const T) -> Self {
        let boxed = ptr
            .cast::<u8>()
            .wrapping_byte_sub(core::mem::offset_of!(GcBox<T>, value))
            .cast::<GcBox<T>>()
            .cast_mut();
        // SAFETY: `into_raw` offset a non-null box pointer (or the dangling
        // `Weak::new` address) by the same amount.
        Weak::from_box(unsafe { NonNull::new_unchecked(boxed) })
    }
}

impl<T: Trace + 'static> Default for Weak<T> {
    /// Same as [`Weak::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let w: pygc::Weak<u8> = Default::default();
    /// assert_eq!(w.strong_count(), 0);
    /// ```
    fn default() -> Self {
        Weak::new()
    }
}

impl<T: ?Sized + Trace + 'static> Weak<T> {
    /// Wraps a block whose weak count the caller already incremented.
    #[inline]
    pub(crate) fn from_box(ptr: NonNull<GcBox<T>>) -> Self {
        Weak {
            ptr,
            _marker: PhantomData,
        }
    }

    /// The pointer to the object's box (dangling for `Weak::new()`).
    #[inline]
    pub(crate) fn box_ptr(&self) -> NonNull<GcBox<T>> {
        self.ptr
    }

    #[inline]
    fn header(&self) -> Option<&Header> {
        if self.ptr.as_ptr().cast::<u8>().addr() == DANGLING {
            None
        } else {
            // SAFETY: a non-dangling `Weak` holds a weak count, which keeps
            // the block allocated; the header is accessed through `Cell`s.
            Some(unsafe { &(*self.ptr.as_ptr()).header })
        }
    }

    /// The header, if the value is still alive and not cleared by the
    /// collector.
    #[inline]
    fn live_header(&self) -> Option<&Header> {
        let header = self.header()?;
        if header.strong() == 0 {
            return None;
        }
        if header.is_tracked() {
            if header.is_value_dropped() {
                return None;
            }
            // SAFETY: tracked object, block alive (weak count held).
            let node = unsafe { TrackedHeader::of_box(self.ptr.cast()).as_ref() };
            if node.has(Flags::WEAK_CLEARED) {
                return None;
            }
        }
        Some(header)
    }

    /// A new strong handle, or `None` if the value was dropped (or the
    /// collector cleared this weak reference).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let a = Gc::new(String::from("a"));
    /// let w = Gc::downgrade(&a);
    /// assert_eq!(*w.upgrade().unwrap(), "a");
    /// ```
    #[inline]
    pub fn upgrade(&self) -> Option<Gc<T>> {
        let header = self.live_header()?;
        header.inc_strong();
        Some(Gc::from_box(self.ptr))
    }

    /// Number of strong handles to the object (0 once it is gone).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let a = Gc::new(1);
    /// let w = Gc::downgrade(&a);
    /// assert_eq!(w.strong_count(), 1);
    /// drop(a);
    /// assert_eq!(w.strong_count(), 0);
    /// ```
    #[inline]
    pub fn strong_count(&self) -> usize {
        self.live_header().map_or(0, |h| h.strong() as usize)
    }

    /// Number of `Weak` handles to the object (0 once no strong handle is
    /// left, like `rc::Weak::weak_count`).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let a = Gc::new(1);
    /// let w = Gc::downgrade(&a);
    /// let _w2 = w.clone();
    /// assert_eq!(w.weak_count(), 2);
    /// ```
    #[inline]
    pub fn weak_count(&self) -> usize {
        self.live_header().map_or(0, |h| h.weak() as usize - 1)
    }

    /// `true` when both point to the same object, or both are dangling.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let a = Gc::new(1);
    /// assert!(Gc::downgrade(&a).ptr_eq(&Gc::downgrade(&a)));
    /// ```
    #[inline]
    pub fn ptr_eq(&self, other: &Self) -> bool {
        ptr::addr_eq(self.ptr.as_ptr(), other.ptr.as_ptr())
    }
}

impl<T: ?Sized + Trace + 'static> Clone for Weak<T> {
    /// Adds a weak handle.
    #[inline]
    fn clone(&self) -> Self {
        if let Some(header) = self.header() {
            header.inc_weak();
        }
        Weak::from_box(self.ptr)
    }
}

impl<T: ?Sized + Trace + 'static> Drop for Weak<T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(header) = self.header()
            && header.dec_weak() == 0
        {
            // SAFETY: weak count 0 implies strong count 0 (the strong handles
            // share one weak count), so the value is gone (an untracked
            // object's layout was stashed then) and nothing else references
            // the block.
            unsafe { free_block(heap(), self.ptr) };
        }
    }
}

impl<T: ?Sized + Trace + 'static> fmt::Debug for Weak<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(Weak)")
    }
}

// SAFETY: a `Weak` owns no strong edge, so it visits nothing.
unsafe impl<T: ?Sized + Trace + 'static> Trace for Weak<T> {
    #[inline]
    fn trace(&self, _tracer: &mut Tracer) {}

    #[inline]
    fn may_contain_gc() -> bool {
        false
    }

    #[inline]
    fn has_finalizer() -> bool {
        false
    }

    #[inline]
    fn __value_facts(&self) -> crate::trace::TypeFacts {
        crate::trace::TypeFacts::LEAF
    }
}
