//! Panics raised by user code during a collection: the collector keeps the
//! first one and resumes it once its bookkeeping is complete.
//!
//! A leaf module: the heap, the callbacks and the collector all use it, and
//! it uses none of them.

use core::any::Any;
use core::panic::AssertUnwindSafe;
use std::panic::catch_unwind;

/// The first panic raised by user code during a collection, resumed once the
/// collection's bookkeeping is complete.
pub(crate) type Panic = Option<Box<dyn Any + Send + 'static>>;

/// Runs user code (finalizer, `Drop`, callback) so that a panic does not
/// abort the collection: the first payload is kept, later ones dropped.
pub(crate) fn guarded(panic: &mut Panic, f: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
        record(panic, payload);
    }
}

/// Keeps the first panic payload of a collection; drops later ones.
pub(crate) fn record(panic: &mut Panic, payload: Box<dyn Any + Send + 'static>) {
    if panic.is_none() {
        *panic = Some(payload);
    } else {
        // Dropping a payload can panic again; swallow that too.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    }
}
