//! `AnyTrace`: Python's "any object" — `Gc<dyn AnyTrace>` holds a value of
//! any traceable type, and can be downcast back.

use core::any::Any;

use crate::gc::Gc;
use crate::trace::Trace;

/// Every `'static` [`Trace`] type, as a trait object: `Gc<dyn AnyTrace>` is
/// a handle to any object (what [`objects`]-style introspection returns),
/// and [`Gc::downcast`] gets the concrete type back.
///
/// Implemented for every `T: Trace + 'static`; you never implement it.
///
/// [`objects`]: crate::collect
///
/// # Examples
///
/// ```
/// use pygc::{AnyTrace, Gc, unsize};
///
/// let objects: Vec<Gc<dyn AnyTrace>> = vec![
///     unsize!(Gc::new(1u32) => dyn AnyTrace),
///     unsize!(Gc::new(String::from("two")) => dyn AnyTrace),
/// ];
/// assert_eq!(Gc::type_name(&objects[1]), "alloc::string::String");
/// let two = objects[1].clone().downcast::<String>().unwrap();
/// assert_eq!(*two, "two");
/// assert!(objects[0].clone().downcast::<String>().is_err());
/// ```
pub trait AnyTrace: Trace + Any {}

impl<T: Trace + Any> AnyTrace for T {}

impl core::fmt::Debug for dyn AnyTrace {
    /// `<TypeName object>`, like Python's default `repr`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{AnyTrace, Gc, unsize};
    /// let any = unsize!(Gc::new(1u8) => dyn AnyTrace);
    /// assert_eq!(format!("{any:?}"), "<u8 object>");
    /// ```
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "<{} object>", self.__type_name())
    }
}

impl Gc<dyn AnyTrace> {
    /// The handle as a `Gc<T>` if the object's concrete type is `T`,
    /// otherwise the handle back (like `Rc::<dyn Any>::downcast`). A value
    /// the cycle collector already dropped downcasts to nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{AnyTrace, Gc, unsize};
    ///
    /// let any = unsize!(Gc::new(5u8) => dyn AnyTrace);
    /// let any = any.downcast::<u16>().unwrap_err();
    /// assert_eq!(*any.downcast::<u8>().unwrap(), 5);
    /// ```
    pub fn downcast<T: AnyTrace>(self) -> Result<Gc<T>, Self> {
        let is_t = Gc::try_deref(&self).is_some_and(|value| {
            let value: &dyn Any = value;
            value.is::<T>()
        });
        if is_t {
            let this = core::mem::ManuallyDrop::new(self);
            // The concrete type is `T`: the box is a `GcBox<T>` (dropping
            // the metadata keeps the address); the strong count moves over.
            Ok(Gc::from_box(Gc::box_ptr(&this).cast()))
        } else {
            Err(self)
        }
    }
}
