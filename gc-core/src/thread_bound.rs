//! `Gc` and `Weak` stay on the thread that made them, like `Rc`: every
//! thread has its own heap and collector. They are `!Send + !Sync` already
//! (they hold raw pointers); the impls below exist only so that the
//! compiler's error names `Gc<T>`/`Weak<T>` and says why, instead of an
//! inner `NonNull<GcBox<T>>`. Their bounds never hold: the marker traits
//! have no impl, and cannot get one (users may not implement a foreign
//! trait for `Gc<_>`, a foreign type).

use crate::gc::Gc;
use crate::trace::Trace;
use crate::weak::Weak;

/// Never implemented: see the module docs.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent between threads safely",
    label = "`{Self}` cannot be sent between threads safely",
    note = "like `Rc`, pygc's handles belong to the thread that made them (each thread has its own heap and collector); send the data instead, or use `Arc`"
)]
pub trait SendOnItsOwnThreadOnly {}

/// Never implemented: see the module docs.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be shared between threads safely",
    label = "`{Self}` cannot be shared between threads safely",
    note = "like `Rc`, pygc's handles belong to the thread that made them (each thread has its own heap and collector), so they cannot be in a `static` or shared with other threads; use a `thread_local!` instead"
)]
pub trait ShareOnItsOwnThreadOnly {}

// SAFETY: the bound holds for no `T` (see the module docs): `Gc` is never
// `Send`.
unsafe impl<T: ?Sized + Trace + 'static> Send for Gc<T> where Gc<T>: SendOnItsOwnThreadOnly {}

// SAFETY: as above: `Gc` is never `Sync`.
unsafe impl<T: ?Sized + Trace + 'static> Sync for Gc<T> where Gc<T>: ShareOnItsOwnThreadOnly {}

// SAFETY: as above: `Weak` is never `Send`.
unsafe impl<T: ?Sized + Trace + 'static> Send for Weak<T> where Weak<T>: SendOnItsOwnThreadOnly {}

// SAFETY: as above: `Weak` is never `Sync`.
unsafe impl<T: ?Sized + Trace + 'static> Sync for Weak<T> where Weak<T>: ShareOnItsOwnThreadOnly {}
