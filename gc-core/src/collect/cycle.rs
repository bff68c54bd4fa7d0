//! Finding the unreachable objects of a set: CPython's `deduce_unreachable`.
//!
//! 1. `update_refs`: copy each object's strong count into `gc_refs`.
//! 2. `subtract_refs`: trace every object of the set and decrement the
//!    `gc_refs` of each referent that is in the set. What is left in
//!    `gc_refs` counts the references from *outside* the set (stack
//!    variables, objects of older generations, frozen objects, `RefCell`s
//!    borrowed mutably right now).
//! 3. `move_unreachable`: objects with `gc_refs > 0` are roots. Walk the
//!    list; a root's referents are reachable (their `gc_refs` is bumped to 1,
//!    and if they were already moved to the tentatively-unreachable list they
//!    come back to the tail of the list being walked, so they are scanned in
//!    turn). An object still at 0 when the walk reaches it is moved to the
//!    unreachable list — tentatively, a later root may pull it back. The walk
//!    is a loop over a list that grows at its tail: no recursion, whatever
//!    the shape or depth of the graph.
//!
//! No user code runs between step 1 and the end of step 3 (only `trace`,
//! which only reports edges), so counts and `RefCell` borrow states are
//! stable across the three steps. `gc_refs` is a separate header field: a
//! panic here can never leave a wrong strong count behind.

use core::any::Any;
use core::panic::AssertUnwindSafe;
use core::ptr::NonNull;
use std::panic::catch_unwind;

use crate::header::{TrackedHeader, flag};
use crate::list::{self, ListHead, next_in};
use crate::trace::{TraceAction, Tracer};

/// Why a graph pass could not complete (the set is restored first).
pub(crate) enum GraphFailure {
    /// The trace verifier caught a `Trace` impl visiting more edges than
    /// the referent has strong handles.
    OverVisited(String),
    /// A hand-written `trace` panicked.
    Panicked(Box<dyn Any + Send + 'static>),
}

/// Moves the objects of `young` that nothing outside `young` references to
/// `unreachable`, and returns how many stayed in `young`. `handles_held`
/// strong handles per object (the collector's own) are not counted as
/// external. On failure every object is back in `young` with clear flags.
pub(crate) fn deduce_unreachable(
    young: &ListHead,
    unreachable: &ListHead,
    handles_held: u32,
) -> Result<usize, GraphFailure> {
    update_refs(young, handles_held);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        subtract_refs(young)?;
        Ok(move_unreachable(young, unreachable))
    }));
    let failure = match outcome {
        Ok(Ok(survivors)) => return Ok(survivors),
        Ok(Err(message)) => GraphFailure::OverVisited(message),
        Err(payload) => GraphFailure::Panicked(payload),
    };
    unreachable.append_to(young);
    for_each(young, |node| {
        // SAFETY: objects on a list are live.
        unsafe { node.as_ref() }.clear(flag::COLLECTING | flag::UNREACHABLE);
    });
    Err(failure)
}

/// Calls `f` on every object of `list`. `f` must not change the list.
fn for_each(list: &ListHead, mut f: impl FnMut(NonNull<TrackedHeader>)) {
    let mut cur = list.first();
    while let Some(node) = cur {
        f(node);
        // SAFETY: `node` is still on `list` (`f` does not unlink).
        cur = unsafe { next_in(list, node) };
    }
}

fn update_refs(list: &ListHead, handles_held: u32) {
    for_each(list, |node| {
        // SAFETY: objects on a list are live.
        let (h, strong) = unsafe { (node.as_ref(), TrackedHeader::header(node).strong()) };
        debug_assert!(
            strong >= handles_held,
            "a listed object has fewer strong handles than the collector holds"
        );
        h.set_gc_refs(strong - handles_held);
        h.set(flag::COLLECTING);
    });
}

/// Traces one object with `tracer`.
///
/// # Safety
///
/// `node` is live and its value intact.
#[inline]
unsafe fn trace_object(node: NonNull<TrackedHeader>, tracer: &mut Tracer) {
    // SAFETY: caller's contract.
    let vtable = unsafe { node.as_ref().vtable };
    tracer.tracing = vtable.type_name;
    // SAFETY: value intact (caller).
    unsafe { (vtable.trace)(TrackedHeader::boxed(node), tracer) };
}

fn subtract_refs(list: &ListHead) -> Result<(), String> {
    let mut tracer = Tracer::new(TraceAction::SubtractRefs, list);
    let mut cur = list.first();
    while let Some(node) = cur {
        // SAFETY: listed objects are live with intact values; tracing in
        // this mode does not change the list.
        unsafe {
            trace_object(node, &mut tracer);
            cur = next_in(list, node);
        }
    }
    match tracer.over_visited {
        None => Ok(()),
        Some(type_name) => Err(format!(
            "pygc trace verifier: the Trace impl of `{}` visits more Gc edges than it owns \
             (an object's gc_refs went below 0); the collection was aborted before freeing \
             anything. Visit each owned Gc exactly once, or use #[derive(Trace)].",
            type_name()
        )),
    }
}

fn move_unreachable(young: &ListHead, unreachable: &ListHead) -> usize {
    let mut tracer = Tracer::new(TraceAction::MarkReachable, young);
    let mut survivors = 0;
    let mut cur = young.first();
    while let Some(node) = cur {
        // SAFETY: `node` is a live object on `young`.
        let h = unsafe { node.as_ref() };
        if h.gc_refs() > 0 {
            // Reachable: it stays, and so does everything it references.
            h.clear(flag::COLLECTING);
            survivors += 1;
            // SAFETY: live, value intact; visiting may append to `young`.
            unsafe { trace_object(node, &mut tracer) };
            // SAFETY: `node` is still on `young` (only unreachable-flagged
            // objects move).
            cur = unsafe { next_in(young, node) };
        } else {
            // Tentatively unreachable; a later root may move it back.
            // SAFETY: `node` is on `young`; it moves to the other list.
            unsafe {
                cur = next_in(young, node);
                list::unlink(node);
                unreachable.push_back(node);
            }
            h.set(flag::UNREACHABLE);
        }
    }
    survivors
}

/// What `Tracer::visit` does with one edge during a collection.
#[inline]
pub(crate) fn visit_edge(tracer: &mut Tracer, node: NonNull<TrackedHeader>) {
    // SAFETY: the edge comes from a `Gc` the traced value owns, which keeps
    // the referent's memory alive.
    let h = unsafe { node.as_ref() };
    if !h.has(flag::COLLECTING) {
        return; // outside the set examined: an external reference
    }
    match tracer.action {
        TraceAction::SubtractRefs => match h.gc_refs() {
            0 => {
                tracer.over_visited.get_or_insert(tracer.tracing);
            }
            refs => h.set_gc_refs(refs - 1),
        },
        TraceAction::MarkReachable => {
            if h.has(flag::UNREACHABLE) {
                h.clear(flag::UNREACHABLE);
                h.set_gc_refs(1);
                // SAFETY: the object is on the unreachable list; it moves
                // back to the tail of the list being walked (`young`, a
                // live head set by `move_unreachable`).
                unsafe {
                    list::unlink(node);
                    (*tracer.young).push_back(node);
                }
            } else if h.gc_refs() == 0 {
                h.set_gc_refs(1);
            }
        }
    }
}
