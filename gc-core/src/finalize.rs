//! The `Finalize` trait: Python's `__del__` (PEP 442 semantics).

/// Code that runs once per object, ever, before its value is dropped.
///
/// Finalizers run only for types that opt in with `#[trace(finalize)]` on
/// `#[derive(Trace)]` (or a hand-written [`Trace::run_finalizer`]). They run
/// on both paths:
///
/// - **refcount path** — the last strong handle goes: the strong count is
///   already 0, so `Weak::upgrade` to the object returns `None` and it cannot
///   be resurrected; its fields are intact.
/// - **cycle path** — the collector found the object unreachable: its strong
///   count is still > 0, so the finalizer may clone handles it can reach,
///   upgrade `Weak`s to its peers and store them somewhere reachable, which
///   resurrects them (they are then not dropped this round).
///
/// A finalizer runs at most once per object even if the object is
/// resurrected and later found unreachable again.
///
/// [`Trace::run_finalizer`]: crate::Trace::run_finalizer
///
/// # Examples
///
/// ```
/// use pygc::{Finalize, Gc, Trace};
/// use std::cell::Cell;
///
/// thread_local!(static FINALIZED: Cell<u32> = const { Cell::new(0) });
///
/// #[derive(Trace)]
/// #[trace(finalize)]
/// struct Resource(u32);
///
/// impl Finalize for Resource {
///     fn finalize(&self) {
///         FINALIZED.with(|f| f.set(f.get() + self.0));
///     }
/// }
///
/// drop(Gc::new(Resource(7)));
/// assert_eq!(FINALIZED.with(Cell::get), 7);
/// ```
pub trait Finalize {
    /// Runs once per object, ever, before its value is dropped (PEP 442).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Finalize;
    /// struct Quiet;
    /// impl Finalize for Quiet {}
    /// Quiet.finalize(); // the default does nothing
    /// ```
    fn finalize(&self) {}
}
