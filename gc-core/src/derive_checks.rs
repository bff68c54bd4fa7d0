//! Compile-time checks `#[derive(Trace)]` emits for its traced fields, so
//! that a field type which is not `Trace` gets an error that says what to
//! do for its kind of type. Each helper trait holds exactly when `Trace`
//! does (blanket impl); only its `on_unimplemented` message differs.
//!
//! The derive asserts each type it classifies through
//! `<T as Identity>::This`, spanned like the whole field type, so the
//! error lands on the same tokens as the field's `<Field as Trace>` call
//! and rustc reports the failing `T: Trace` once, with the targeted message.
//!
//! Not part of the API.

use crate::Trace;

/// `T` itself; lets the derive write a type with a span of its choosing.
pub trait Identity {
    /// `Self`.
    type This: ?Sized;
}

impl<T: ?Sized> Identity for T {
    type This = T;
}

/// `Trace`, asserted for a field type that is a type parameter.
#[diagnostic::on_unimplemented(
    message = "type parameter `{Self}` does not implement `Trace`",
    note = "add a `{Self}: pygc::Trace` bound; `#[trace(bound = \"...\")]` replaces the bounds the derive infers, so list it there (or put `#[trace(skip)]` on the field: it will not be traced)"
)]
pub trait __TraceTypeParam {}

impl<T: ?Sized + Trace> __TraceTypeParam for T {}

/// `Trace`, asserted for a trait object in a field type.
#[diagnostic::on_unimplemented(
    message = "the trait object `{Self}` does not implement `Trace`",
    note = "declare the trait with `Trace` as a supertrait, `trait Shape: pygc::Trace {{}}`, to make its trait objects `Trace`; for a trait you cannot change (`dyn Fn`, `dyn Any`), put `#[trace(skip)]` on the field (it will not be traced)"
)]
pub trait __TraceTraitObject {}

impl<T: ?Sized + Trace> __TraceTraitObject for T {}

/// `Trace`, asserted for a named type (not a type parameter) in a field
/// type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `Trace`",
    note = "for your own type add `#[derive(Trace)]`; for a foreign type wrap it in a newtype that derives `Trace`, or put `#[trace(skip)]` on the field (it will not be traced)"
)]
pub trait __TraceType {}

impl<T: ?Sized + Trace> __TraceType for T {}

/// Fails to compile unless `T: Trace`, with the type-parameter message.
#[inline(always)]
pub const fn assert_type_param<T: ?Sized + __TraceTypeParam>() {}

/// Fails to compile unless `T: Trace`, with the trait-object message.
#[inline(always)]
pub const fn assert_trait_object<T: ?Sized + __TraceTraitObject>() {}

/// Fails to compile unless `T: Trace`, with the named-type message.
#[inline(always)]
pub const fn assert_type<T: ?Sized + __TraceType>() {}
