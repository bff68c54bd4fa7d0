//! `GcFn`: a callable whose captures are traced, so that a closure that
//! captures its defining environment (which holds the closure) is a cycle
//! the collector finds — an interpreter's function object.
//!
//! A Rust closure's captures are invisible to the collector (`Box<dyn Fn>`
//! is not [`Trace`]). `GcFn::new(env, f)` splits the two: `env` holds
//! everything traced and is handed to `f` on every call; `f` itself must
//! capture no `Gc`.

use core::fmt;

use crate::gc::Gc;
use crate::trace::{TYPE_NESTING_BUDGET, Trace, Tracer, TypeFacts};

/// The object a [`GcFn`] points to: the traced environment and the code.
struct Closure<E, F> {
    /// Everything the function owns that the collector must see.
    env: E,
    /// The code; captures nothing traced (see [`GcFn::new`]).
    f: F,
}

// SAFETY: a closure owns the `Gc`s of its environment, visited once each
// through `E`'s impl. Any `Gc` the function `f` captured itself is not
// visited: a hidden edge, which only leaks a cycle through it (the
// collector sees its count as an external reference), never frees a live
// object. The facts are those of the environment (`f` owns no traced
// value as far as the collector knows).
unsafe impl<E: Trace, F> Trace for Closure<E, F> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer) {
        self.env.trace(tracer);
    }

    #[inline]
    fn run_finalizer(&self) {
        self.env.run_finalizer();
    }

    #[inline]
    fn may_contain_gc() -> bool {
        Self::__may_contain_gc_within(TYPE_NESTING_BUDGET)
    }

    #[inline]
    fn __may_contain_gc_within(budget: u32) -> bool {
        E::__may_contain_gc_within(budget)
    }

    #[inline]
    fn has_finalizer() -> bool {
        E::has_finalizer()
    }

    #[inline]
    fn __value_facts(&self) -> TypeFacts {
        TypeFacts::of::<Self>().and(self.env.__value_facts())
    }
}

/// A [`Closure`] seen through its call signature.
trait Callable<A, R>: Trace {
    /// Runs the function with its environment.
    fn call(&self, args: A) -> R;

    /// `core::any::type_name` of the environment, for `Debug`.
    fn env_type_name(&self) -> &'static str;
}

impl<A, R, E: Trace, F: Fn(&E, A) -> R> Callable<A, R> for Closure<E, F> {
    #[inline]
    fn call(&self, args: A) -> R {
        (self.f)(&self.env, args)
    }

    fn env_type_name(&self) -> &'static str {
        core::any::type_name::<E>()
    }
}

/// A shared, callable function object whose captures are traced — Python's
/// function (closure) object.
///
/// [`GcFn::new(env, f)`](GcFn::new) pairs an environment `env` (any
/// [`Trace`] value: the `Gc`s the function needs) with a function
/// `f(&env, args)`. A `GcFn` is a [`Gc`] handle to that pair: cloning it is
/// cheap and shares the function, and it is [`Trace`] itself, so it can be
/// stored in the very environment it captures — the cycle
/// closure → environment → closure that every recursive or nested function
/// of an interpreter forms is found and freed by [`collect`](crate::collect).
///
/// Several arguments are passed as a tuple `A`; `R` is the result.
///
/// # Examples
///
/// ```
/// use pygc::{Gc, GcFn, Trace, collect};
/// use std::cell::RefCell;
///
/// #[derive(Trace)]
/// struct Scope {
///     functions: RefCell<Vec<GcFn<(i64, i64), i64>>>,
/// }
///
/// let scope = Gc::new(Scope { functions: RefCell::new(Vec::new()) });
/// // The function captures its defining scope, and is stored in it.
/// let add = GcFn::new(scope.clone(), |scope: &Gc<Scope>, (a, b): (i64, i64)| {
///     a + b + scope.functions.borrow().len() as i64
/// });
/// scope.functions.borrow_mut().push(add.clone());
/// assert_eq!(add.call((2, 3)), 6);
///
/// drop((scope, add));
/// assert_eq!(collect(), 2); // the scope and the closure
/// ```
pub struct GcFn<A: 'static, R: 'static> {
    /// The shared closure object.
    inner: Gc<dyn Callable<A, R>>,
}

impl<A: 'static, R: 'static> GcFn<A, R> {
    /// A function object running `f(&env, args)`, owning `env`.
    ///
    /// `env` holds every `Gc` the function uses; it is traced like any
    /// other field, so a cycle through it is collected. `f` should capture
    /// no `Gc` (or value holding one) itself: the collector cannot see such
    /// a capture, so a cycle through it is never found and leaks (this is
    /// never unsound). The object is untracked (cost ≈ `Rc`) when `E`
    /// cannot hold a `Gc`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, GcFn};
    ///
    /// let counter = Gc::new(std::cell::Cell::new(0));
    /// let bump = GcFn::new(counter.clone(), |counter: &Gc<std::cell::Cell<u32>>, by: u32| {
    ///     counter.set(counter.get() + by);
    ///     counter.get()
    /// });
    /// assert_eq!(bump.call(2), 2);
    /// assert_eq!(bump.call(3), 5);
    /// assert_eq!(counter.get(), 5);
    ///
    /// let double = GcFn::new((), |(), x: u32| x * 2);
    /// assert_eq!(double.call(21), 42);
    /// ```
    pub fn new<E, F>(env: E, f: F) -> Self
    where
        E: Trace + 'static,
        F: Fn(&E, A) -> R + 'static,
    {
        let closure = Gc::new(Closure { env, f });
        GcFn {
            inner: crate::unsize!(closure => dyn Callable<A, R>),
        }
    }

    /// Calls the function with `args` (a tuple for several arguments).
    ///
    /// Takes `&self`, and holds no borrow while `f` runs: `f` may call the
    /// same function again (recursion through a handle stored in its
    /// environment) or any other.
    ///
    /// # Panics
    ///
    /// Panics if `f` panics, or if the cycle collector already dropped the
    /// function (only possible for a handle smuggled out of a collected
    /// cycle, e.g. by a finalizer).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, GcFn, Trace, collect};
    /// use std::cell::RefCell;
    ///
    /// #[derive(Trace)]
    /// struct Env {
    ///     fact: RefCell<Option<GcFn<u64, u64>>>,
    /// }
    ///
    /// let env = Gc::new(Env { fact: RefCell::new(None) });
    /// let fact = GcFn::new(env.clone(), |env: &Gc<Env>, n: u64| {
    ///     if n == 0 {
    ///         return 1;
    ///     }
    ///     let me = env.fact.borrow().clone().unwrap(); // release the borrow
    ///     n * me.call(n - 1)
    /// });
    /// *env.fact.borrow_mut() = Some(fact.clone());
    /// assert_eq!(fact.call(10), 3_628_800);
    ///
    /// drop((env, fact));
    /// assert_eq!(collect(), 2);
    /// ```
    #[inline]
    #[track_caller]
    pub fn call(&self, args: A) -> R {
        self.inner.call(args)
    }

    /// Whether the closure object is tracked by the collector.
    #[cfg(test)]
    pub(crate) fn is_tracked(&self) -> bool {
        Gc::is_tracked(&self.inner)
    }
}

impl<A: 'static, R: 'static> Clone for GcFn<A, R> {
    /// Another handle to the same function object (like cloning an `Rc`).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::GcFn;
    ///
    /// let inc = GcFn::new(1, |step: &i32, x: i32| x + step);
    /// let same = inc.clone();
    /// assert_eq!(same.call(1), 2);
    /// ```
    #[inline]
    fn clone(&self) -> Self {
        GcFn {
            inner: self.inner.clone(),
        }
    }
}

// SAFETY: a `GcFn` owns exactly one `Gc`, its closure object, visited once.
unsafe impl<A: 'static, R: 'static> Trace for GcFn<A, R> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer) {
        tracer.visit(&self.inner);
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

impl<A: 'static, R: 'static> fmt::Debug for GcFn<A, R> {
    /// `GcFn(<type name of the environment>)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::GcFn;
    ///
    /// let f = GcFn::new(7u8, |x: &u8, (): ()| *x);
    /// assert_eq!(format!("{f:?}"), "GcFn(u8)");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Gc::try_deref(&self.inner) {
            Some(callable) => write!(f, "GcFn({})", callable.env_type_name()),
            None => f.write_str("GcFn(<dropped>)"),
        }
    }
}
