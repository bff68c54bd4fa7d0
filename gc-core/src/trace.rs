//! The `Trace` trait and the `Tracer` the collector hands to it.

use core::marker::PhantomData;

use crate::Gc;
use crate::collect::PassState;

/// Tells the cycle collector which [`Gc`] handles a value owns.
///
/// `#[derive(Trace)]` is the safe way to implement it; hand-written impls are
/// rare.
///
/// # Safety
///
/// `trace` must call [`Tracer::visit`] **at most once** for each `Gc` the
/// value owns, and never for a `Gc` it does not own (one borrowed from
/// elsewhere, or the same handle twice). Visiting fewer edges than owned only
/// leaks (a cycle through the missing edge is never found); visiting more
/// would let the collector believe an object is unreachable while it still
/// has handles. `trace` must not run other user code (no allocation of `Gc`s,
/// no interior mutation) and must visit the same edges when called twice
/// without mutation in between.
///
/// `MAY_CONTAIN_GC` must be `true` whenever some value of the type can own a
/// `Gc`.
///
/// # Examples
///
/// ```
/// use pygc_core::{Gc, Trace, Tracer};
///
/// struct Pair {
///     left: Gc<u32>,
///     right: Option<Gc<u32>>,
/// }
///
/// // SAFETY: visits each owned `Gc` exactly once.
/// unsafe impl Trace for Pair {
///     fn trace(&self, tracer: &mut Tracer) {
///         self.left.trace(tracer);
///         self.right.trace(tracer);
///     }
/// }
///
/// let pair = Gc::new(Pair { left: Gc::new(1), right: None });
/// assert!(Gc::is_tracked(&pair));
/// assert_eq!(*pair.left, 1);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `Trace`",
    note = "add `#[derive(Trace)]` to `{Self}`, or put `#[trace(skip)]` on the field (it will not be traced)"
)]
pub unsafe trait Trace {
    /// Call `tracer.visit(gc)` for every `Gc` this value owns, exactly once
    /// each.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc_core::{Gc, Trace};
    /// // Tracing is driven by the collector; user code only forwards it.
    /// let v: Vec<Gc<u8>> = vec![Gc::new(1)];
    /// assert!(<Vec<Gc<u8>> as Trace>::MAY_CONTAIN_GC);
    /// # drop(v);
    /// ```
    fn trace(&self, tracer: &mut Tracer);

    /// `false` when no value of this type can ever own a `Gc`.
    ///
    /// Objects of such types are never tracked by the collector and carry
    /// the small 8-byte header.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc_core::{Gc, Trace};
    /// assert!(!<u64 as Trace>::MAY_CONTAIN_GC);
    /// assert!(<Option<Gc<u64>> as Trace>::MAY_CONTAIN_GC);
    /// ```
    const MAY_CONTAIN_GC: bool = true;

    /// `false` promises that `run_finalizer` is the default (does nothing).
    ///
    /// pygc then never calls it, and a collection whose garbage holds no
    /// object with a pending finalizer skips the resurrection re-check: no
    /// user code can run between finding the garbage and dropping it.
    /// `#[derive(Trace)]` sets it to `false` unless the type has
    /// `#[trace(finalize)]`; the impls pygc ships set it to `false`. The
    /// default, `true`, is right for every hand-written impl (one that does
    /// not override `run_finalizer` only pays the re-check). An impl that
    /// overrides `run_finalizer` and sets `false` has its finalizer never
    /// called.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc_core::{Gc, Trace, Tracer};
    ///
    /// struct Plain(Option<Gc<u8>>);
    ///
    /// // SAFETY: visits its one owned `Gc`, once.
    /// unsafe impl Trace for Plain {
    ///     fn trace(&self, tracer: &mut Tracer) {
    ///         self.0.trace(tracer);
    ///     }
    ///     const HAS_FINALIZER: bool = false;
    /// }
    ///
    /// assert!(!<Plain as Trace>::HAS_FINALIZER);
    /// assert!(!<Vec<Gc<u8>> as Trace>::HAS_FINALIZER);
    /// ```
    const HAS_FINALIZER: bool = true;

    /// Called once per object before its value is dropped, when
    /// [`HAS_FINALIZER`](Trace::HAS_FINALIZER) is `true`. The derive makes
    /// it call [`Finalize::finalize`](crate::Finalize::finalize) under
    /// `#[trace(finalize)]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc_core::Trace;
    /// // The default finalizer does nothing.
    /// 5u8.run_finalizer();
    /// ```
    #[inline]
    fn run_finalizer(&self) {}
}

/// Runs `value`'s finalizer if its type has one: the one place that honours
/// [`Trace::HAS_FINALIZER`] (the refcount path, typed or through the
/// vtable, and the collector all call this).
#[inline(always)]
pub(crate) fn finalize_if_any<T: ?Sized + Trace>(value: &T) {
    if T::HAS_FINALIZER {
        value.run_finalizer();
    }
}

/// The visitor handed to [`Trace::trace`] by the cycle collector.
///
/// Only the collector creates `Tracer`s; user code only forwards it to the
/// fields it owns, or calls [`Tracer::visit`] on a `Gc` it owns. The
/// lifetime is the tracer's borrow of the collector's state; impls write
/// `&mut Tracer` and leave it elided.
///
/// # Examples
///
/// ```
/// use pygc_core::{Gc, Trace, Tracer};
///
/// struct Holder(Gc<String>);
/// // SAFETY: visits the one `Gc` it owns, once.
/// unsafe impl Trace for Holder {
///     fn trace(&self, tracer: &mut Tracer) {
///         tracer.visit(&self.0);
///     }
/// }
/// let h = Gc::new(Holder(Gc::new(String::from("x"))));
/// assert_eq!(pygc_core::collect(), 0); // nothing unreachable
/// # drop(h);
/// ```
pub struct Tracer<'a> {
    /// The state of the running graph pass, owned by the collector.
    pass: &'a mut PassState,
    _not_send: PhantomData<*const ()>,
}

impl<'a> Tracer<'a> {
    /// A tracer reporting edges to `pass`.
    #[inline]
    pub(crate) fn new(pass: &'a mut PassState) -> Self {
        Tracer {
            pass,
            _not_send: PhantomData,
        }
    }

    /// Reports one owned `Gc` edge to the collector.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc_core::{Gc, Trace, Tracer};
    /// struct Node { next: Option<Gc<Node>> }
    /// // SAFETY: visits `next` (the only owned `Gc`) once.
    /// unsafe impl Trace for Node {
    ///     fn trace(&self, tracer: &mut Tracer) {
    ///         if let Some(next) = &self.next {
    ///             tracer.visit(next);
    ///         }
    ///     }
    /// }
    /// let list = Gc::new(Node { next: Some(Gc::new(Node { next: None })) });
    /// assert!(list.next.is_some());
    /// ```
    #[inline]
    pub fn visit<T: ?Sized + Trace + 'static>(&mut self, gc: &Gc<T>) {
        if T::MAY_CONTAIN_GC {
            self.pass.visit_edge(Gc::tracked_header(gc));
        }
    }
}
