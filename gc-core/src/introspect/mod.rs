//! Introspection and leak debugging: CPython's `gc.get_objects`,
//! `gc.get_referents`, `gc.get_referrers`, `gc.set_debug` and `gc.garbage`,
//! and objgraph's `most_common_types`, `show_growth`, `find_backref_chain`
//! and `show_refs`.
//!
//! Everything works on this thread's heap and hands out strong
//! `Gc<dyn AnyTrace>` handles, so a result keeps its objects alive, as in
//! Python. The functions only read the generation lists and call `trace`
//! (which runs no user code), so they are sound from a finalizer, a `Drop`
//! or a callback too; they can never run during a collection's graph
//! passes, where no user code runs. Objects made from unsized values
//! (`Gc<[T]>`, `Gc<dyn Trait>` from a `Box`) have no `dyn AnyTrace` view:
//! they are counted by [`census`] but not returned as handles.

mod census;
mod debug;
mod graph;

use crate::any_trace::AnyTrace;
use crate::gc::Gc;
use crate::heap::{GENERATIONS, heap};
use crate::list::{ListHead, for_each};
use crate::trace::Trace;
use crate::tracked::Tracked;

pub use census::{census, census_growth};
pub use debug::{DebugFlags, clear_garbage, debug, garbage, set_debug};
pub(crate) use debug::{StatsLine, log_collectable};
pub use graph::{backref_chain, to_dot};

/// A new strong `Gc<dyn AnyTrace>` to `node`, if its type has that view
/// (its value may be dropped: the handle is then a zombie, as any handle
/// to it would be).
pub(crate) fn any_handle(node: Tracked) -> Option<Gc<dyn AnyTrace>> {
    let as_any = node.vtable().as_any?;
    // SAFETY: the object's box, viewed through its own type's vtable.
    let boxed = unsafe { as_any(node.boxed()) };
    // The new handle takes a strong count of its own.
    node.header().inc_strong();
    Some(Gc::from_box(boxed))
}

/// A handle's object, if it is tracked and its value intact.
fn traceable<T: ?Sized + Trace + 'static>(g: &Gc<T>) -> Option<Tracked> {
    let header = g.header();
    // SAFETY: tracked, and the handle keeps the object alive while the
    // introspection that asked runs.
    (header.is_tracked() && !header.is_value_dropped())
        .then(|| unsafe { Tracked::new(Gc::tracked_header(g)) })
}

/// The tracked objects on the lists of `generation` (all three for `None`).
fn lists(generation: Option<usize>) -> impl Iterator<Item = &'static ListHead> {
    let heap = heap();
    let range = match generation {
        Some(generation) => {
            assert!(
                generation < GENERATIONS,
                "invalid generation: {generation} (0..=2)"
            );
            generation..generation + 1
        }
        None => 0..GENERATIONS,
    };
    range.map(move |generation| heap.gens.list(generation))
}

/// The tracked objects of `generation`, or of all three generations for
/// `None`, in list order (`gc.get_objects(generation)`); frozen objects are
/// not included. Untracked objects (those that cannot hold a `Gc`) are
/// never listed, as in CPython.
///
/// # Panics
///
/// If `generation` is above 2.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use pygc::{Gc, Trace};
///
/// #[derive(Trace)]
/// struct Node { next: RefCell<Option<Gc<Node>>> }
///
/// let node = Gc::new(Node { next: RefCell::new(None) });
/// let all = pygc::objects(None);
/// assert!(all.iter().any(|o| Gc::type_name(o).ends_with("Node")));
/// # drop(node);
/// ```
pub fn objects(generation: Option<usize>) -> Vec<Gc<dyn AnyTrace>> {
    let mut out = Vec::new();
    for list in lists(generation) {
        // Making handles runs no user code and does not change the list.
        for_each(list, |node| out.extend(any_handle(node)));
    }
    out
}

/// What `g`'s value references: the tracked objects its `trace` visits, in
/// visit order (`gc.get_referents`). Empty for an untracked object, a value
/// the collector dropped, or one lent out by a `GcMut`.
///
/// # Examples
///
/// ```
/// use pygc::{Gc, Trace};
///
/// #[derive(Trace)]
/// struct Pair { left: Gc<Vec<Gc<u8>>>, right: Gc<u8> }
///
/// let pair = Gc::new(Pair { left: Gc::new(vec![]), right: Gc::new(1) });
/// let referents = pygc::referents(&pair);
/// assert_eq!(referents.len(), 1); // `right` is an untracked u8
/// assert!(Gc::type_name(&referents[0]).contains("Vec"));
/// ```
pub fn referents<T: ?Sized + Trace + 'static>(g: &Gc<T>) -> Vec<Gc<dyn AnyTrace>> {
    let Some(node) = traceable(g) else {
        return Vec::new();
    };
    // SAFETY: live (a handle), value intact (checked), no graph pass runs
    // while user code does.
    let edges = unsafe { crate::collect::cycle::referents_of(node) };
    // Referents of a live value are live (it holds them).
    edges.into_iter().filter_map(any_handle).collect()
}

/// The tracked objects whose `trace` visits `g`'s object, found by a scan
/// of all three generations (`gc.get_referrers`; frozen objects are not
/// scanned).
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use pygc::{Gc, Trace};
///
/// #[derive(Trace)]
/// struct Node { next: RefCell<Option<Gc<Node>>> }
///
/// let target = Gc::new(Node { next: RefCell::new(None) });
/// let holder = Gc::new(Node { next: RefCell::new(Some(target.clone())) });
/// let referrers = pygc::referrers(&target);
/// assert_eq!(referrers.len(), 1);
/// assert_eq!(Gc::as_ptr(&referrers[0]) as *const u8, Gc::as_ptr(&holder) as *const u8);
/// ```
pub fn referrers<T: ?Sized + Trace + 'static>(g: &Gc<T>) -> Vec<Gc<dyn AnyTrace>> {
    if !g.header().is_tracked() {
        // Only tracked objects can be referenced from the traced graph...
        // except as untracked leaves, which `trace` never reports.
        return Vec::new();
    }
    // SAFETY: tracked, kept alive by the handle.
    let target = unsafe { Tracked::new(Gc::tracked_header(g)) };
    let mut found = Vec::new();
    graph::for_each_traced(false, |node, edges| {
        if edges.contains(&target) {
            found.push(node);
        }
    });
    // Found on a generation list just now, still live.
    found.into_iter().filter_map(any_handle).collect()
}
