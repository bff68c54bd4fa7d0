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

use crate::collect::cycle::{self, Deduced, GraphFailure, SetCodes};
use crate::header::{Code, CodeSet, Flags};
use crate::heap::Heap;
use crate::list::for_each;
use crate::mark_stack::MarkStack;
use crate::panic::{Panic, guarded, record};
use crate::release::{release_tracked_memory, tracked_last_strong_dropped};
use crate::tracked::Tracked;
use crate::weakref_finalize::{Dead, run_dead};

/// Runs steps 0–5 on `heap.unreachable`, which `deduce_unreachable` (with
/// `SetCodes::condemn`) filled and described in `deduced`; resurrected
/// objects go to generation `old`, whose objects carry code `old_code`. Returns the
/// number of objects found unreachable and not resurrected.
pub(crate) fn handle_unreachable(
    heap: &Heap,
    old: usize,
    old_code: Code,
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

    // 4. Drop the values (`DebugFlags::COLLECTABLE` logs them first; the
    // `pygc::finalize` callbacks of the dropped leave the side table, to
    // run after step 5).
    if heap
        .debug
        .get()
        .contains(crate::introspect::DebugFlags::COLLECTABLE)
    {
        for_each(pending, |node| {
            crate::introspect::log_collectable(heap, node)
        });
    }
    let mut finalize_callbacks = Dead::new();
    for_each(pending, |node| {
        node.header().set_value_dropped();
        // SAFETY: the value is intact and, being flagged, never read again:
        // dropped exactly once.
        guarded(panic, || unsafe { node.drop_value() });
        if node.header().has_finalize_callbacks() {
            // SAFETY: held; the pointer covers the whole block.
            unsafe {
                heap.finalize_table
                    .take_dead(node.boxed(), &mut finalize_callbacks);
            }
        }
    });

    // 5. Release. No user code runs here.
    let release = |node: Tracked| {
        let h = node.prefix();
        heap.note_tracked_deallocation(h);
        if node.header().dec_strong() == 0 {
            // SAFETY: the hold was the last handle: strong 0, value already
            // dropped, on no list, so only the memory is released.
            unsafe { release_tracked_memory(heap, node) };
            return;
        }
        // Handles are left (a `Drop` kept one): the object stays allocated,
        // on no list, a zombie no pass examines again.
        h.leave_graph_pass(Code::DEAD, Flags::NONE);
        h.set(Flags::FINALIZED | Flags::WEAK_CLEARED);
    };
    // SAFETY: held objects are live; `release` never panics and only frees
    // memory (the values are dropped already), never touching `pending`.
    unsafe { pending.drain_unlinked(release) };
    // Candidates flagged while user code ran: the resurrected are in `old`
    // now; the dropped never matter again.
    heap.move_candidates(CodeSet::of(Code::UNREACHABLE), old_code);
    heap.clear_candidates(CodeSet::of(Code::DEAD) | CodeSet::of(Code::CONDEMNED));
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
    old_code: Code,
    stack: &mut MarkStack,
    panic: &mut Panic,
) -> usize {
    let unreachable = &heap.unreachable;
    let pending = &heap.pending;

    // 1. Finalize. (User code may run inside a walk of the collector's own
    // lists: see the module docs.)
    for_each(unreachable, |node| {
        let h = node.prefix();
        if !h.has(Flags::FINALIZED) {
            h.set(Flags::FINALIZED);
            // SAFETY: the value is intact; the object is held.
            guarded(panic, || unsafe { node.finalize() });
        }
    });

    // 2. Re-check: `unreachable` keeps the resurrected, `pending` gets the
    // rest, and 3. their weak references are cleared as they are found
    // (`DEAD` is a garbage code).
    let codes = SetCodes {
        members: CodeSet::of(Code::UNREACHABLE),
        survivor: old_code,
        unreachable: Code::DEAD,
        restore: old_code,
        clear: Flags::NONE,
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
/// `node` holds the collector's handle, and its value is intact.
unsafe fn release_hold(heap: &Heap, node: Tracked, panic: &mut Panic) {
    let h = node.prefix();
    // An old flag's count may be anywhere by now (see above): start afresh.
    h.clear(Flags::CANDIDATE);
    if node.header().dec_strong() == 0 {
        // Only the hold was left: an ordinary refcount death.
        // SAFETY: strong count just reached 0 on a live tracked object.
        guarded(panic, || unsafe { tracked_last_strong_dropped(node) });
    } else {
        heap.note_candidate(h);
    }
}

/// `DebugFlags::SAVEALL` (CPython's `DEBUG_SAVEALL`): instead of steps 1–5,
/// every object `deduce_unreachable` put on `heap.unreachable` rejoins
/// generation `old` (code `old_code`) unfinalized, its weak references
/// live again, and the collector's temporary handle goes to the garbage
/// list (`pygc::garbage()`), which keeps it alive until `clear_garbage`.
/// Returns how many objects were saved (what `collect` reports, as CPython
/// counts them collected). No user code runs here.
pub(crate) fn save_unreachable(heap: &Heap, old: usize, old_code: Code) -> usize {
    let mut saved = heap.garbage.take();
    let mut count = 0;
    // Held by the collector, so live; unlinked by `pop_first`.
    while let Some(node) = heap.unreachable.pop_first() {
        let h = node.prefix();
        crate::introspect::log_collectable(heap, node);
        // Out of the graph pass (marks cleared, links are pointers), live
        // again: its weak references work, it carries generation `old`'s code.
        h.leave_graph_pass(old_code, Flags::WEAK_CLEARED);
        // SAFETY: live and on no list.
        unsafe { heap.gens.rejoin(old, node) };
        // Counted afresh under its new code (counts of the collection's
        // private codes are dropped below).
        if h.has(Flags::CANDIDATE) {
            h.clear(Flags::CANDIDATE);
            heap.note_candidate(h);
        }
        saved.push(node);
        count += 1;
    }
    heap.garbage.set(saved);
    heap.move_candidates(CodeSet::of(Code::UNREACHABLE), old_code);
    heap.clear_candidates(CodeSet::of(Code::DEAD) | CodeSet::of(Code::CONDEMNED));
    count
}
