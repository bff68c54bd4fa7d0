//! Core of [pygc](https://docs.rs/pygc): CPython's memory management for
//! Rust — a refcounted [`Gc<T>`] freed the moment its last handle goes, on a
//! pooled small-object allocator, plus CPython's generational cycle
//! collector with the whole `gc`-module control surface.
//!
//! Most users depend on the `pygc` facade crate, which re-exports
//! everything here together with `#[derive(Trace)]`.
//!
//! # Examples
//!
//! ```
//! use pygc::{Gc, Trace, collect};
//! use std::cell::RefCell;
//!
//! #[derive(Trace)]
//! struct Node {
//!     next: RefCell<Option<Gc<Node>>>,
//! }
//!
//! let a = Gc::new(Node { next: RefCell::new(None) });
//! let b = Gc::new(Node { next: RefCell::new(Some(a.clone())) });
//! *a.next.borrow_mut() = Some(b.clone()); // a -> b -> a
//! drop((a, b));
//! assert_eq!(collect(), 2); // the cycle was unreachable
//! ```

mod alloc;
mod any_trace;
mod callbacks;
pub(crate) mod collect;
mod control;
mod derive_checks;
#[cfg(feature = "serde")]
mod ext_serde;
mod finalize;
mod gc;
mod gc_fn;
mod gc_from_box;
mod gc_impls;
mod gc_mut;
mod header;
mod heap;
mod introspect;
pub(crate) mod list;
mod mark_stack;
mod panic;
mod release;
mod stats;
mod thread_bound;
mod trace;
mod trace_impls;
mod tracked;
mod unsize;
mod vtable;
mod weak;
mod weak_entries;
mod weak_key_map;
mod weak_set;
pub mod weak_value_map;
mod weak_value_map_entry;
mod weakref_finalize;

#[cfg(test)]
mod tests;

pub use any_trace::AnyTrace;
pub use callbacks::{CallbackId, CollectInfo, CollectPhase};
pub use control::{
    PauseGuard, add_callback, collect, collect_generation, count, disable, enable, freeze,
    freeze_count, heap_stats, is_enabled, pause, remove_callback, set_threshold, stats, threshold,
    unfreeze,
};
pub use finalize::Finalize;
pub use gc::Gc;
pub use gc_fn::GcFn;
pub use gc_mut::GcMut;
pub use introspect::{
    DebugFlags, backref_chain, census, census_growth, clear_garbage, debug, garbage, objects,
    referents, referrers, set_debug, to_dot,
};
pub use stats::{GenerationStats, HeapStats};
pub use trace::{Trace, Tracer};
pub use trace_impls::NoGc;

/// Items the derive's generated code names; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::derive_checks::{
        __TraceTraitObject, __TraceType, __TraceTypeParam, Identity, assert_trait_object,
        assert_type, assert_type_param,
    };
    pub use crate::thread_bound::{SendOnItsOwnThreadOnly, ShareOnItsOwnThreadOnly};
    pub use crate::trace::{TYPE_NESTING_BUDGET, TypeFacts};
    pub use crate::unsize::Unsize;
}
pub use weak::Weak;
pub use weak_key_map::{WeakKeyMap, WeakKeyMapIter};
pub use weak_set::{WeakSet, WeakSetIter};
pub use weak_value_map::{WeakValueMap, WeakValueMapIter};
pub use weakref_finalize::{FinalizeHandle, finalize};
