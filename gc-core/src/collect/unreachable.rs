//! What happens to the unreachable set (CPython's `gc_collect_main` after
//! `deduce_unreachable`), in this order:
//!
//! 0. **Hold**: every object gets a temporary strong handle, so nothing in
//!    the set can be freed while user code runs below (a `Drop` releasing a
//!    handle to a peer only decrements it). `deduce_unreachable` takes it as
//!    it finds each object, saving a pass.
//! 1. **Finalize** each object not finalized before (PEP 442: once per
//!    object, ever). A finalizer may allocate, clone handles it can reach,
//!    upgrade `Weak`s to its peers and store them: that *resurrects* them.
//! 2. **Re-check**: run the graph pass again on the set (not counting our
//!    temporary handles). Whatever is now referenced from outside, and
//!    everything it reaches, was resurrected: it moves to the older
//!    generation and is not dropped. The rest is garbage for sure.
//! 3. **Clear weak references** of the garbage (done by the re-check as it
//!    finds each object). This comes after the finalizers on purpose
//!    (CPython 3.13 clears first): finalizers usually need to reach their
//!    peers through `Weak`s.
//! 4. **Drop the values in place**, each flagged `VALUE_DROPPED` first, so a
//!    `Drop` that reaches an already-dropped peer gets a clear panic (or
//!    `None` from `Gc::try_deref`), never a use-after-free.
//! 5. **Release** the temporary handles: memory goes back to the pools as
//!    counts reach 0. An object still referenced (a `Drop` stored a handle
//!    somewhere) stays allocated, off every list, until that handle goes.
//! 6. **`pygc::finalize` callbacks** of the garbage (taken out of the
//!    heap's side table in step 4, see `weakref_finalize`) run last, each
//!    guarded.
//!
//! When no object of the set has a finalizer left to run (its type's
//! `Trace::has_finalizer()` is `false`, or it ran before), no user code runs
//! before step 4, so nothing can be resurrected: steps 1–3 shrink to what
//! `deduce_unreachable`'s mark walk does as it moves each object (code
//! `CONDEMNED`, weak references cleared), and the set goes to step 4 as it
//! is.
//!
//! User code runs only in steps 1 and 4, and only on objects on the
//! collector's own lists (`unreachable`, `pending`), which only the
//! collector links and unlinks. Every object there is held, so user code
//! can neither free nor move one: those steps walk the lists in place.
//! Resurrected objects, whose hold goes while user code may run, are popped
//! one at a time.

use core::ptr::NonNull;

use crate::collect::cycle::{self, Deduced, GraphFailure, SetCodes};
use crate::header::{TrackedHeader, code, flag};
use crate::heap::Heap;
use crate::list::for_each;
use crate::mark_stack::MarkStack;
use crate::panic::{Panic, guarded, record};
use crate::release::{release_tracked_memory, tracked_last_strong_dropped};
use crate::weakref_finalize::{Dead, run_dead};

/// Runs steps 0–5 on `heap.unreachable`, which `deduce_unreachable` (with
/// `SetCodes::condemn`) filled and described in `deduced`; resurrected
/// objects go to generation `old`, whose objects carry code `old_code`. Returns the
/// number of objects found unreachable and not resurrected.
pub(crate) fn handle_unreachable(
    heap: &Heap,
    old: usize,
    old_code: u32,
    deduced: Deduced,
    stack: &mut MarkStack,
    panic: &mut Panic,
) -> usize {
    let unreachable = &heap.unreachable;
    let pending = &heap.pending;
    if unreachable.is_empty() {
        return 0;
    }

    // 0. Hold: `deduce_unreachable` took the temporary handles.
    // 1–3: finalize, re-check, clear weak references (`deduce_unreachable`
    // did all that already when no finalizer is left to run); `pending`
    // gets the garbage.
    let garbage = if deduced.finalizers_pending {
        finalize_and_recheck(heap, old, old_code, stack, panic)
    } else {
        unreachable.append_to(pending);
        deduced.unreachable
    };

    // 4. Drop the values (and take the `pygc::finalize` callbacks of the
    // dropped out of the side table, to run after step 5).
    let mut finalize_callbacks = Dead::new();
    for_each(pending, |node| {
        // SAFETY: live (held).
        let h = unsafe { node.as_ref() };
        // SAFETY: live (held).
        let header = unsafe { TrackedHeader::header(node) };
        header.set_value_dropped();
        // SAFETY: the value is intact and, being flagged, never read again.
        guarded(panic, || unsafe {
            (h.vtable.drop_value)(TrackedHeader::boxed(node))
        });
        if header.has_finalize_callbacks() {
            // SAFETY: held; the pointer covers the whole block.
            unsafe {
                heap.finalize_table
                    .take_dead(TrackedHeader::boxed(node), &mut finalize_callbacks);
            }
        }
    });

    // 5. Release. No user code runs here.
    let release = |node: NonNull<TrackedHeader>| {
        // SAFETY: held objects are live.
        let h = unsafe { node.as_ref() };
        heap.note_tracked_deallocation(h);
        // SAFETY: held; once the hold is gone at strong 0 the value is
        // already dropped, so only the memory is released.
        unsafe {
            if TrackedHeader::header(node).dec_strong() == 0 {
                release_tracked_memory(heap, node);
                return;
            }
        }
        // Handles are left (a `Drop` kept one): the object stays allocated,
        // on no list, a zombie no pass examines again.
        h.leave_graph_pass(code::DEAD, 0);
        h.set(flag::FINALIZED | flag::WEAK_CLEARED);
    };
    // SAFETY: held objects are live; `release` never panics and only frees
    // memory (the values are dropped already), never touching `pending`.
    unsafe { pending.drain_unlinked(release) };
    // Candidates flagged while user code ran: the resurrected are in `old`
    // now; the dropped never matter again.
    heap.move_candidates(code::set(code::UNREACHABLE), old_code);
    heap.clear_candidates(code::set(code::DEAD) | code::set(code::CONDEMNED));
    // The `pygc::finalize` callbacks of the garbage: user code, guarded.
    run_dead(finalize_callbacks, panic);
    garbage
}

/// Steps 1–3 when some finalizer may run user code: finalizes, re-checks,
/// moves the resurrected objects to `old` and the rest to `pending` with
/// their weak references cleared. Returns the size of the rest.
fn finalize_and_recheck(
    heap: &Heap,
    old: usize,
    old_code: u32,
    stack: &mut MarkStack,
    panic: &mut Panic,
) -> usize {
    let unreachable = &heap.unreachable;
    let pending = &heap.pending;

    // 1. Finalize. (User code may run inside a walk of the collector's own
    // lists: see the module docs.)
    for_each(unreachable, |node| {
        // SAFETY: live (held).
        let h = unsafe { node.as_ref() };
        if !h.has(flag::FINALIZED) {
            h.set(flag::FINALIZED);
            // SAFETY: the value is intact; the object is held.
            guarded(panic, || unsafe {
                (h.vtable.finalize)(TrackedHeader::boxed(node))
            });
        }
    });

    // 2. Re-check: `unreachable` keeps the resurrected, `pending` gets the
    // rest, and 3. their weak references are cleared as they are found
    // (`DEAD` is a garbage code).
    let codes = SetCodes {
        members: code::set(code::UNREACHABLE),
        survivor: old_code,
        unreachable: code::DEAD,
        restore: old_code,
        clear: 0,
        condemn: false,
    };
    let garbage = match cycle::deduce_unreachable(unreachable, pending, 1, codes, stack) {
        Ok(deduced) => deduced.unreachable,
        Err(failure) => {
            // Everything is back in `unreachable`: treat it all as
            // resurrected.
            let payload: Box<dyn core::any::Any + Send> = match failure {
                GraphFailure::OverVisited(message) => Box::new(message),
                GraphFailure::Panicked(payload) => payload,
            };
            record(panic, payload);
            0
        }
    };
    while let Some(node) = unreachable.pop_first() {
        // SAFETY: held and unlinked; it rejoins the old generation, then
        // the temporary handle goes as any other handle would.
        unsafe {
            heap.gens.rejoin(old, node);
            release_hold(heap, node, panic);
        }
    }
    garbage
}

/// Drops the collector's temporary handle on a resurrected object that
/// just rejoined a generation list.
///
/// Like any strong decrement that does not reach 0, this one leaves a
/// candidate behind (see `collect::candidates`): a finalizer can resurrect
/// its object into a *new* cycle (it stores a fresh object that points back
/// at it), which becomes garbage exactly when this hold goes. The flag is
/// set afresh and counted under the code the object has now: whatever count
/// an earlier flag was under may have moved meanwhile (a `freeze()` from a
/// finalizer or a `Drop` moves the counts of the generations, not those of
/// objects in flight on the collector's lists).
///
/// # Safety
///
/// `node` is live, holds the collector's handle, and its value is intact.
unsafe fn release_hold(heap: &Heap, node: core::ptr::NonNull<TrackedHeader>, panic: &mut Panic) {
    // SAFETY: live (held).
    let h = unsafe { node.as_ref() };
    // SAFETY: live (held).
    if unsafe { TrackedHeader::header(node) }.dec_strong() == 0 {
        // Only the hold was left: an ordinary refcount death.
        // SAFETY: strong count just reached 0 on a live tracked object.
        guarded(panic, || unsafe { tracked_last_strong_dropped(node) });
    } else {
        h.clear(flag::CANDIDATE);
        heap.note_candidate(h);
    }
}
