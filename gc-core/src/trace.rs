//! The `Trace` trait and the `Tracer` the collector hands to it.

use core::marker::PhantomData;

use crate::Gc;
use crate::collect::PassState;

/// Tells the cycle collector which [`Gc`] handles a value owns.
///
/// `#[derive(Trace)]` is the safe way to implement it; hand-written impls are
/// rare.
///
/// `Trace` is dyn-compatible: `trait Shape: Trace {}` makes `dyn Shape`
/// usable as `Gc<dyn Shape>` (see [`unsize!`](crate::unsize)) and in
/// `Box<dyn Shape>` fields. The per-type facts the collector uses —
/// [`may_contain_gc`](Trace::may_contain_gc) and
/// [`has_finalizer`](Trace::has_finalizer) — are functions with a
/// `where Self: Sized` bound, so they stay out of the trait object; an
/// unsized value (`dyn Shape`) is conservatively taken to hold `Gc`s and to
/// have a finalizer, while sized types keep their precision. The facts are
/// decided per object when it is allocated, from its concrete type.
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
/// `may_contain_gc` must return `true` whenever some value of the type can
/// own a `Gc`.
///
/// # Examples
///
/// The derive is the usual way; a hand-written impl is the advanced path:
///
/// ```
/// use pygc::{Gc, Trace, Tracer};
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
    note = "for your own type, add `#[derive(Trace)]` to it; for a type parameter, add a `T: Trace` bound; for a trait object, make the trait `: Trace` (`trait Shape: pygc::Trace {{}}`); for a foreign type, wrap it in a newtype that derives `Trace`, or put `#[trace(skip)]` on the field (it will not be traced)"
)]
pub unsafe trait Trace {
    /// Call `tracer.visit(gc)` for every `Gc` this value owns, exactly once
    /// each.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace};
    /// // Tracing is driven by the collector; user code only forwards it.
    /// let v: Vec<Gc<u8>> = vec![Gc::new(1)];
    /// assert!(<Vec<Gc<u8>> as Trace>::may_contain_gc());
    /// # drop(v);
    /// ```
    fn trace(&self, tracer: &mut Tracer);

    /// Called once per object before its value is dropped, when
    /// [`has_finalizer`](Trace::has_finalizer) is `true`. The derive makes
    /// it call [`Finalize::finalize`](crate::Finalize::finalize) under
    /// `#[trace(finalize)]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Trace;
    /// // The default finalizer does nothing.
    /// 5u8.run_finalizer();
    /// ```
    #[inline]
    fn run_finalizer(&self) {}

    /// `false` when no value of this type can ever own a `Gc`.
    ///
    /// Objects of such types are never tracked by the collector and carry
    /// the small 8-byte header. The default, `true`, is always sound (the
    /// object is tracked; tracing still visits only real `Gc`s).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace};
    /// assert!(!u64::may_contain_gc());
    /// assert!(<Option<Gc<u64>>>::may_contain_gc());
    /// ```
    #[inline]
    fn may_contain_gc() -> bool
    where
        Self: Sized,
    {
        true
    }

    /// `false` promises that `run_finalizer` is the default (does nothing).
    ///
    /// pygc then never calls it, and a collection whose garbage holds no
    /// object with a pending finalizer skips the resurrection re-check: no
    /// user code can run between finding the garbage and dropping it.
    /// `#[derive(Trace)]` returns `false` unless the type has
    /// `#[trace(finalize)]`; the impls pygc ships return `false`, except
    /// single-value wrappers (`Box`, `RefCell`, `Cell`, ...), which forward
    /// their content's. The default, `true`, is right for every hand-written
    /// impl (one that does not override `run_finalizer` only pays the
    /// re-check). An impl that overrides `run_finalizer` and returns `false`
    /// has its finalizer never called.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace};
    ///
    /// #[derive(Trace)]
    /// struct Plain(Option<Gc<u8>>);
    ///
    /// assert!(!Plain::has_finalizer());
    /// assert!(!<Vec<Gc<u8>>>::has_finalizer());
    /// ```
    #[inline]
    fn has_finalizer() -> bool
    where
        Self: Sized,
    {
        true
    }

    /// [`may_contain_gc`](Trace::may_contain_gc) for types whose answer is
    /// made of their fields' answers: `budget` bounds the nesting, so that
    /// types that contain each other without a `Gc` in between (`A` holds a
    /// `Vec<B>`, `B` a `Box<A>`) get the conservative `true` instead of an
    /// endless recursion. `#[derive(Trace)]` and pygc's container impls
    /// override it; nothing else needs to.
    #[doc(hidden)]
    #[inline]
    fn __may_contain_gc_within(budget: u32) -> bool
    where
        Self: Sized,
    {
        let _ = budget;
        Self::may_contain_gc()
    }

    /// The facts of this value's type, reached through the value so that
    /// they also work behind unsized pointers: `Gc::new` tracks an object
    /// only if both these and the static facts say so (each errs only on
    /// the safe side). Precise through `Box<str>`, `Box<[T]>` and `Box<T>`,
    /// conservative through a trait object. The default is conservative.
    #[doc(hidden)]
    #[inline]
    fn __value_facts(&self) -> TypeFacts {
        TypeFacts::CONSERVATIVE
    }

    /// The facts when this value is reached through an unsized pointer
    /// (`Box<dyn Shape>`, `Box<str>`): conservative unless the pointee is a
    /// slice or string type. A sized type reached this way is behind a
    /// trait object, whose concrete type could be replaced (through `&mut`)
    /// by one holding `Gc`s.
    #[doc(hidden)]
    #[inline]
    fn __unsized_facts(&self) -> TypeFacts {
        TypeFacts::CONSERVATIVE
    }

    /// `core::any::type_name` of the concrete type, also through `dyn`.
    #[doc(hidden)]
    #[inline]
    fn __type_name(&self) -> &'static str {
        core::any::type_name::<Self>()
    }
}

/// How deep [`Trace::__may_contain_gc_within`] follows nested types before
/// answering `true`.
#[doc(hidden)]
pub const TYPE_NESTING_BUDGET: u32 = 64;

/// What the collector needs to know of a type (see [`Trace::may_contain_gc`]
/// and [`Trace::has_finalizer`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeFacts {
    /// Some value of the type can own a `Gc`.
    pub may_contain_gc: bool,
    /// `run_finalizer` may do something.
    pub has_finalizer: bool,
}

impl TypeFacts {
    /// What is always sound to assume.
    pub const CONSERVATIVE: TypeFacts = TypeFacts {
        may_contain_gc: true,
        has_finalizer: true,
    };

    /// A type that owns no `Gc` and has no finalizer.
    pub const LEAF: TypeFacts = TypeFacts {
        may_contain_gc: false,
        has_finalizer: false,
    };

    /// The static facts of sized `T`.
    #[inline]
    pub fn of<T: Trace>() -> TypeFacts {
        TypeFacts {
            may_contain_gc: T::may_contain_gc(),
            has_finalizer: T::has_finalizer(),
        }
    }

    /// Both facts must hold.
    #[inline]
    #[must_use]
    pub fn and(self, other: TypeFacts) -> TypeFacts {
        TypeFacts {
            may_contain_gc: self.may_contain_gc && other.may_contain_gc,
            has_finalizer: self.has_finalizer && other.has_finalizer,
        }
    }
}

/// Runs `value`'s finalizer if its object has one (`has_finalizer` was
/// `true` for its concrete type when it was allocated): the untracked
/// refcount path's test of [`Trace::has_finalizer`]. Tracked objects keep
/// a `FINALIZED` flag too and ask `Tracked::finalizer_pending`.
#[inline(always)]
pub(crate) fn finalize_if_any<T: ?Sized + Trace>(value: &T, has_finalizer: bool) {
    if has_finalizer {
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
/// use pygc::{Gc, Trace, Tracer};
///
/// struct Holder(Gc<String>);
/// // SAFETY: visits the one `Gc` it owns, once.
/// unsafe impl Trace for Holder {
///     fn trace(&self, tracer: &mut Tracer) {
///         tracer.visit(&self.0);
///     }
/// }
/// let h = Gc::new(Holder(Gc::new(String::from("x"))));
/// assert_eq!(pygc::collect(), 0); // nothing unreachable
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
    /// use pygc::{Gc, Trace, Tracer};
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
        if Gc::is_tracked_object(gc) {
            self.pass.visit_edge(Gc::tracked_header(gc));
        }
    }
}
