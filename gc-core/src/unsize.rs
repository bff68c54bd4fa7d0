//! `unsize!`: `Gc<T>` → `Gc<dyn Trait>` (and `Weak<T>` → `Weak<dyn Trait>`)
//! on stable Rust, where `CoerceUnsized` cannot be implemented.
//!
//! The macro hands [`Unsize::unsize`] a closure that is the identity on the
//! pointer with its return type spelled `*const $target`: the only change
//! the compiler can make there is an unsizing coercion (adding a vtable or
//! a length), so `unsize!(Gc::new(1u32) => u64)` is a type error, never a
//! pointer cast. The object itself does not change: its header, tracking
//! and per-type vtable were fixed by its concrete type at allocation.

use core::ptr::NonNull;

use crate::gc::Gc;
use crate::header::GcBox;
use crate::trace::Trace;
use crate::weak::Weak;

/// Converts a handle to a `T` into a handle to an unsized `U` that `T`
/// coerces to. Used through [`unsize!`](crate::unsize); not part of the API.
///
/// # Safety
///
/// Implementations rebuild the handle from the pointer `coerce` returns,
/// so `coerce` must return its argument, unsized (see [`Unsize::unsize`]).
#[doc(hidden)]
pub unsafe trait Unsize<U: ?Sized + Trace + 'static>: Sized {
    /// The pointee of the handle (`T` of `Gc<T>`).
    type Pointee: ?Sized;
    /// The handle type to `U`.
    type Output;

    /// The handle to `U`.
    ///
    /// # Safety
    ///
    /// `coerce` must return its argument after an unsizing coercion only (an
    /// identity closure whose return type is `*const U`, as `unsize!`
    /// writes): same address, metadata for the same value.
    unsafe fn unsize(self, coerce: fn(*const Self::Pointee) -> *const U) -> Self::Output;
}

/// The box pointer to `U` for the box pointer to `T`.
///
/// # Safety
///
/// As for [`Unsize::unsize`].
#[inline]
unsafe fn coerce_box<T: ?Sized, U: ?Sized>(
    boxed: NonNull<GcBox<T>>,
    coerce: fn(*const T) -> *const U,
) -> NonNull<GcBox<U>> {
    // The box pointer, viewed as a pointer to its unsized tail type: same
    // address and metadata; `coerce` only changes the metadata, and the
    // result, viewed as a box pointer again, is the same object's box.
    let unsized_pointer = coerce(boxed.as_ptr() as *const T) as *mut GcBox<U>;
    debug_assert!(
        core::ptr::addr_eq(unsized_pointer, boxed.as_ptr()),
        "an unsizing coercion keeps the address"
    );
    // SAFETY: the address is the (non-null) box address (caller's contract).
    unsafe { NonNull::new_unchecked(unsized_pointer) }
}

// SAFETY: the handle's count is carried over to the new handle unchanged.
unsafe impl<T: ?Sized + Trace + 'static, U: ?Sized + Trace + 'static> Unsize<U> for Gc<T> {
    type Pointee = T;
    type Output = Gc<U>;

    #[inline]
    unsafe fn unsize(self, coerce: fn(*const T) -> *const U) -> Gc<U> {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: caller's contract; the strong count moves to the result.
        Gc::from_box(unsafe { coerce_box(Gc::box_ptr(&this), coerce) })
    }
}

// SAFETY: the handle's weak count is carried over to the new handle.
unsafe impl<T: ?Sized + Trace + 'static, U: ?Sized + Trace + 'static> Unsize<U> for Weak<T> {
    type Pointee = T;
    type Output = Weak<U>;

    #[inline]
    unsafe fn unsize(self, coerce: fn(*const T) -> *const U) -> Weak<U> {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: caller's contract (a dangling `Weak::new` keeps its
        // address, which is all that marks it); the weak count moves over.
        Weak::from_box(unsafe { coerce_box(this.box_ptr(), coerce) })
    }
}

/// Turns a `Gc<T>` into a `Gc<dyn Trait>` (or a `Weak<T>` into a
/// `Weak<dyn Trait>`, or a `Gc<[T; N]>` into a `Gc<[T]>`), like the
/// unsizing coercion `Rc<T>` → `Rc<dyn Trait>`, which stable Rust does not
/// offer to user types.
///
/// Only real unsizing coercions compile: `unsize!(Gc::new(1u32) => u64)` is
/// a type error, and `=> dyn Trait` requires `T: Trait`. The object is not
/// touched: whether it is tracked, its finalizer and its drop were decided
/// by its concrete type when it was allocated, so a `Gc<dyn Shape>` is
/// collected, finalized and dropped exactly like the `Gc<Circle>` it came
/// from. Cycles through `dyn` edges are found like any other.
///
/// # Examples
///
/// ```
/// use pygc::{Gc, Trace, unsize};
///
/// trait Shape: Trace {
///     fn area(&self) -> f64;
/// }
///
/// #[derive(Trace)]
/// struct Square(f64);
///
/// impl Shape for Square {
///     fn area(&self) -> f64 {
///         self.0 * self.0
///     }
/// }
///
/// let square = Gc::new(Square(3.0));
/// let weak = unsize!(Gc::downgrade(&square) => dyn Shape);
/// let shape: Gc<dyn Shape> = unsize!(square => dyn Shape);
/// assert_eq!(shape.area(), 9.0);
/// assert!(Gc::ptr_eq(&weak.upgrade().unwrap(), &shape));
/// ```
#[macro_export]
macro_rules! unsize {
    ($handle:expr => $target:ty) => {
        match $handle {
            handle => {
                #[allow(unsafe_code)]
                // SAFETY: the closure returns its argument; its return type
                // leaves the compiler only an unsizing coercion to make.
                unsafe {
                    $crate::__private::Unsize::<$target>::unsize(
                        handle,
                        |pointer| -> *const $target { pointer },
                    )
                }
            }
        }
    };
}
