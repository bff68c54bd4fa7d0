//! `Gc::get_mut`, `Gc::make_mut` and their guard, [`GcMut`].
//!
//! A `&mut T` into a `Gc` must never be aliased by the collector, which
//! reads values through `&T` when it traces them — and a collection can
//! start inside any `Gc::new` made while the `&mut` is alive (dumpster#31).
//! So the mutable borrow is a guard that flags the object while it lives:
//! a flagged object is never traced, and what its value owns counts as
//! referenced from outside (like the contents of a mutably borrowed
//! `RefCell`). Forgetting the guard only leaves the flag set: the value's
//! edges stay hidden from the collector (a leak at worst, never unsound).

use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

use crate::gc::Gc;
use crate::header::Flags;
use crate::trace::Trace;

/// Mutable access to the value of a [`Gc`] that has no other handle, from
/// [`Gc::get_mut`] or [`Gc::make_mut`]. While it lives, the cycle
/// collector does not look inside the value.
///
/// # Examples
///
/// ```
/// use pygc::Gc;
///
/// let mut numbers = Gc::new(vec![1, 2]);
/// Gc::get_mut(&mut numbers).unwrap().push(3);
/// assert_eq!(*numbers, [1, 2, 3]);
/// ```
pub struct GcMut<'a, T: ?Sized + Trace + 'static> {
    gc: &'a mut Gc<T>,
    /// Neither `Send` nor `Sync`, like the `Gc`.
    _local: PhantomData<*mut T>,
}

impl<'a, T: ?Sized + Trace + 'static> GcMut<'a, T> {
    /// Lends out the value of `gc`, which has no other handle.
    fn lend(gc: &'a mut Gc<T>) -> Self {
        if let Some(node) = Gc::tracked_prefix(gc) {
            node.set(Flags::LENT_MUT);
        }
        GcMut {
            gc,
            _local: PhantomData,
        }
    }
}

impl<T: ?Sized + Trace + 'static> Drop for GcMut<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(node) = Gc::tracked_prefix(self.gc) {
            node.clear(Flags::LENT_MUT);
        }
    }
}

impl<T: ?Sized + Trace + 'static> Deref for GcMut<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the value is alive (a strong handle, not dropped by the
        // collector: `get_mut` checked) and only this guard reaches it.
        unsafe { &*Gc::as_ptr(self.gc) }
    }
}

impl<T: ?Sized + Trace + 'static> DerefMut for GcMut<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the only handle (strong 1, weak 0) through
        // a `&mut`, and the collector does not trace a lent value, so this
        // is the only reference to the value.
        unsafe { &mut *Gc::as_ptr(self.gc).cast_mut() }
    }
}

impl<T: ?Sized + Trace + fmt::Debug + 'static> fmt::Debug for GcMut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + Trace + 'static> Gc<T> {
    /// Mutable access to the value if this is its only handle (strong count
    /// 1, no [`Weak`](crate::Weak)), like `Rc::get_mut`; `None` otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    ///
    /// let mut x = Gc::new(3);
    /// *Gc::get_mut(&mut x).unwrap() += 1;
    /// assert_eq!(*x, 4);
    ///
    /// let y = x.clone();
    /// assert!(Gc::get_mut(&mut x).is_none());
    /// # drop(y);
    /// ```
    pub fn get_mut(this: &mut Self) -> Option<GcMut<'_, T>> {
        let unique = Gc::strong_count(this) == 1 && Gc::weak_count(this) == 0;
        (unique && Gc::try_deref(this).is_some()).then(|| GcMut::lend(this))
    }
}

impl<T: Trace + Clone + 'static> Gc<T> {
    /// Mutable access to the value, cloning it into a new object first if
    /// it is shared (other strong handles or any `Weak`), like
    /// `Rc::make_mut`. The other handles keep the old object; `Weak`s are
    /// disassociated.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    ///
    /// let mut a = Gc::new(String::from("spam"));
    /// let b = a.clone();
    /// Gc::make_mut(&mut a).push_str(" and eggs");
    /// assert_eq!(*a, "spam and eggs");
    /// assert_eq!(*b, "spam");
    /// ```
    ///
    /// # Panics
    ///
    /// If the cycle collector already dropped the value (a handle a `Drop`
    /// kept past its collection).
    pub fn make_mut(this: &mut Self) -> GcMut<'_, T> {
        if Gc::strong_count(this) != 1 || Gc::weak_count(this) != 0 {
            *this = Gc::new((**this).clone());
        } else if Gc::try_deref(this).is_none() {
            crate::gc::value_dropped();
        }
        GcMut::lend(this)
    }

    /// The value, moved out if this was the only strong handle, otherwise
    /// cloned, like `Rc::unwrap_or_clone`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    ///
    /// let a = Gc::new(vec![1]);
    /// let b = a.clone();
    /// assert_eq!(Gc::unwrap_or_clone(a), [1]);
    /// assert_eq!(Gc::unwrap_or_clone(b), [1]);
    /// ```
    ///
    /// # Panics
    ///
    /// If the cycle collector already dropped the value.
    pub fn unwrap_or_clone(this: Self) -> T {
        Gc::try_unwrap(this).unwrap_or_else(|shared| (*shared).clone())
    }
}
