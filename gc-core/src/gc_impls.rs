//! Standard trait impls of `Gc<T>`: by value, like `Rc`.

use core::borrow::Borrow;
use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};

use crate::gc::Gc;
use crate::trace::Trace;

impl<T: ?Sized + Trace + fmt::Debug + 'static> fmt::Debug for Gc<T> {
    /// Formats the value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(format!("{:?}", pygc::Gc::new(Some(1))), "Some(1)");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + Trace + fmt::Display + 'static> fmt::Display for Gc<T> {
    /// Formats the value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(pygc::Gc::new(42).to_string(), "42");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + Trace + 'static> fmt::Pointer for Gc<T> {
    /// Formats the address of the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = pygc::Gc::new(1);
    /// assert!(format!("{g:p}").starts_with("0x"));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Pointer::fmt(&Gc::as_ptr(self), f)
    }
}

impl<T: ?Sized + Trace + PartialEq + 'static> PartialEq for Gc<T> {
    /// Compares the values.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// assert_eq!(Gc::new(3), Gc::new(3));
    /// ```
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: ?Sized + Trace + Eq + 'static> Eq for Gc<T> {}

impl<T: ?Sized + Trace + PartialOrd + 'static> PartialOrd for Gc<T> {
    /// Compares the values.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// assert!(Gc::new(1) < Gc::new(2));
    /// ```
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: ?Sized + Trace + Ord + 'static> Ord for Gc<T> {
    /// Compares the values.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// assert_eq!(Gc::new(1).cmp(&Gc::new(1)), std::cmp::Ordering::Equal);
    /// ```
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        (**self).cmp(&**other)
    }
}

impl<T: ?Sized + Trace + Hash + 'static> Hash for Gc<T> {
    /// Hashes the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashSet;
    /// let set: HashSet<_> = [pygc::Gc::new(1), pygc::Gc::new(1)].into();
    /// assert_eq!(set.len(), 1);
    /// ```
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl<T: Trace + Default + 'static> Default for Gc<T> {
    /// A new object holding `T::default()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let g: pygc::Gc<u32> = Default::default();
    /// assert_eq!(*g, 0);
    /// ```
    fn default() -> Self {
        Gc::new(T::default())
    }
}

impl<T: Trace + 'static> From<T> for Gc<T> {
    /// Same as [`Gc::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let g: Gc<String> = Gc::from(String::from("s"));
    /// assert_eq!(*g, "s");
    /// ```
    fn from(value: T) -> Self {
        Gc::new(value)
    }
}

impl<T: ?Sized + Trace + 'static> AsRef<T> for Gc<T> {
    /// Borrows the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = pygc::Gc::new(String::from("s"));
    /// let s: &String = g.as_ref();
    /// assert_eq!(s, "s");
    /// ```
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T: ?Sized + Trace + 'static> Borrow<T> for Gc<T> {
    /// Borrows the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::borrow::Borrow;
    /// let g = pygc::Gc::new(1);
    /// let v: &i32 = g.borrow();
    /// assert_eq!(*v, 1);
    /// ```
    fn borrow(&self) -> &T {
        self
    }
}
