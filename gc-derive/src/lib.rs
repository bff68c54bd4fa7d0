//! `#[derive(Trace)]` for [pygc](https://docs.rs/pygc).
//!
//! Use it through the `pygc` facade, which re-exports it next to the trait:
//! `use pygc::Trace;` brings both into scope.
//!
//! The pipeline, one stage per file: `ast.rs` reads the input, `attr.rs`
//! parses `#[trace(...)]`, `valid.rs` rejects what cannot be derived (all
//! problems are collected in `ctxt.rs` and reported together), `expand.rs`
//! generates the impl (with `checks.rs`'s assertions, which give a field
//! type that is not `Trace` a message for its kind of type) — or, on error, the errors plus a fallback impl so one
//! mistake does not cascade.
//!
//! # Examples
//!
//! ```
//! use pygc::{Gc, Trace};
//!
//! #[derive(Trace)]
//! struct Node {
//!     value: u32,
//!     next: Option<Gc<Node>>,
//! }
//!
//! let list = Gc::new(Node { value: 1, next: Some(Gc::new(Node { value: 2, next: None })) });
//! assert_eq!(list.next.as_ref().map(|next| next.value), Some(2));
//! ```

#![warn(clippy::pedantic)]

mod ast;
mod attr;
mod checks;
mod ctxt;
mod expand;
mod valid;

use proc_macro::TokenStream;

/// Derives `pygc::Trace`: `trace` visits every field (each field's own
/// `Trace` impl reports the `Gc`s it owns), and `may_contain_gc()` is the OR
/// of the fields' answers, so a type made only of leaves (`u32`, `String`,
/// ...) is never tracked by the cycle collector.
///
/// Works on structs (named, tuple, unit) and enums. Each type parameter that
/// a traced field uses (outside `PhantomData`) gets a `T: Trace` bound on the
/// impl, each `T::Assoc` a `T::Assoc: Trace` bound. (A parameter used inside
/// `Gc<..>` needs `T: Trace + 'static` on the type's own definition, since
/// `Gc` requires it.) A field whose type mentions the type itself
/// (`Box<Self>`, `Vec<Tree>`) makes `may_contain_gc()` `true`, which is
/// always sound (the type's objects are tracked by the collector). Types
/// that own each other in a loop without a `Gc` in between (`A` holds
/// `Vec<B>`, `B` holds `Box<A>`) are followed a bounded number of levels
/// and then answer `true` too.
///
/// # Attributes
///
/// - `#[trace(skip)]` on a field: the field is not traced and its type needs
///   no `Trace` impl. Required on `Rc`, `Arc`, reference and raw-pointer
///   fields: the collector cannot see through them, so a cycle through a
///   skipped field is never collected (it only leaks, never frees early).
///   A type with a skipped field counts as one that may contain a `Gc`
///   (the field may own some; skipped references and raw pointers own
///   nothing and do not count): it is tracked, so dropping a long chain
///   linked through skipped fields goes through the trashcan too.
/// - `#[trace(finalize)]` on the type: `run_finalizer` calls the type's
///   `pygc::Finalize` impl (Python's `__del__`). Without it finalization is
///   a no-op and `has_finalizer()` is `false`, so the collector drops garbage
///   of the type without the resurrection re-check.
/// - `#[trace(bound = "T: Trace, U: Clone")]` on the type: these where-clause
///   predicates replace the inferred `T: Trace` bounds (`bound = ""` adds
///   none).
/// - `#[trace(crate = "path")]` on the type: the path of the pygc crate, when
///   it is not reachable as `::pygc` (renamed or re-exported).
///
/// Unions, `#[repr(packed)]` types, unknown keys, keys in the wrong place,
/// untraceable pointer fields without `skip`, and fields whose type is not
/// `Trace` are compile errors spanned on the offending tokens. For a field
/// type that is not `Trace` the message fits its kind: a type parameter
/// needs a `T: Trace` bound, a trait object's trait needs `Trace` as a
/// supertrait, and a named type needs the derive (your own type) or a
/// newtype or `#[trace(skip)]` (a foreign type).
///
/// # Examples
///
/// ```
/// use pygc::{Finalize, Gc, Trace};
/// use std::cell::{Cell, RefCell};
/// use std::rc::Rc;
///
/// #[derive(Trace)]
/// enum Expr<T: Trace + 'static> {
///     Leaf(T),
///     Add(Gc<Expr<T>>, Gc<Expr<T>>),
///     Named { name: String, value: RefCell<Option<Gc<Expr<T>>>> },
///     Empty,
/// }
///
/// thread_local!(static CLOSED: Cell<u32> = const { Cell::new(0) });
///
/// #[derive(Trace)]
/// #[trace(finalize)]
/// struct Handle {
///     id: u32,
///     #[trace(skip)]
///     shared: Rc<String>,
/// }
///
/// impl Finalize for Handle {
///     fn finalize(&self) {
///         CLOSED.with(|closed| closed.set(self.id));
///     }
/// }
///
/// assert!(<Expr<u8>>::may_contain_gc());
/// // A skipped field may own a `Gc`: the type is tracked.
/// assert!(Handle::may_contain_gc());
///
/// let sum = Gc::new(Expr::Add(Gc::new(Expr::Leaf(1)), Gc::new(Expr::Leaf(2))));
/// assert!(matches!(&*sum, Expr::Add(..)));
///
/// drop(Gc::new(Handle { id: 7, shared: Rc::new(String::from("log")) }));
/// assert_eq!(CLOSED.with(Cell::get), 7);
/// ```
#[proc_macro_derive(Trace, attributes(trace))]
pub fn derive_trace(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input).into()
}
