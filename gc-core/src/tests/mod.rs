//! Unit tests of the core (run under Miri too: sizes shrink under `cfg(miri)`).

mod candidate_drift;
mod candidate_escapes;
mod candidates;
mod collector;
mod dyn_objects;
mod features;
mod gc_fn;
mod gc_mut;
mod generations;
mod introspect;
mod no_finalizer;
mod node;
mod pass_links;
mod refcount;
mod resurrection;
mod soundness;
mod std_impls;
mod unsized_values;
mod weak;
mod weakref;
