//! Finding the unreachable objects of a set: CPython's `deduce_unreachable`.
//!
//! The set is one list whose objects all carry one of the set's
//! [`Code`](crate::header::Code)s, and only they do: a collection of generation 2 examines the
//! codes of generations 0, 1 and 2, the re-check after the finalizers the
//! code `UNREACHABLE`. Membership is read from the flags the passes load
//! anyway, so CPython's first pass (`update_refs`, which copies every
//! strong count into `gc_refs` and flags the set) is not needed: the strong
//! count is read where it is used, and the internal count step 1 finds is
//! kept in the link the pass does not walk along (see `list::Dir`; CPython
//! keeps `gc_refs` in `_gc_prev`): a link still holding a pointer counts 0.
//!
//! 0. `choose_walk`: the direction of the pass (which link carries the
//!    counts), from the edges of a few objects at both ends of the list.
//!
//! 1. `subtract_refs`: trace every object of the set and count, in each
//!    referent that is in the set, one more internal reference. What the
//!    strong count holds beyond the internal references (and the
//!    collector's own handles) comes from *outside* the set: stack
//!    variables, objects of older generations, frozen objects, `RefCell`s
//!    borrowed mutably right now.
//! 2. `mark_reachable`: objects with external references are roots;
//!    everything a root reaches is reachable. Like CPython, one walk over
//!    the list traces each reachable object when it reaches it, flags the
//!    referents *ahead* of the walk (they are traced when the walk gets
//!    there), and moves an object it cannot yet prove reachable to the
//!    unreachable list, tentatively. A referent the walk already *passed*
//!    is where CPython moves the object back to the tail of the list being
//!    walked, in traversal order; on a large generation built children-first
//!    that scrambles the list, and every later pass jumps around memory.
//!    pygc traces such objects from an explicit stack instead (each pushed
//!    at most once, so the stack never holds more than the set) — no
//!    recursion, whatever the shape or depth of the graph. The walk goes
//!    the way most edges of the set point (see `mark_reachable`), so a
//!    graph built bottom-up moves as little as one linked top-down. An object the
//!    walk is done with takes the code of the list it is going to, which
//!    takes it out of the set: later edges to it are ignored. In a
//!    collection's own pass (not the re-check after finalizers) the walk
//!    also *condemns* each object it moves: the collector's temporary
//!    strong handle, code `CONDEMNED` (still a member for this walk) and
//!    `WEAK_CLEARED`; an object found reachable after all gets both undone.
//! 3. `finish`: one pass over the (tentatively) unreachable list moves the
//!    objects marked reachable after the walk passed them back to the end
//!    of the list, in their original order, and gives the others the code
//!    for unreachable objects. A collection's own pass skips it when the
//!    walk revived nothing and no moved object has a finalizer left to run
//!    (the usual case): the unreachable list is then final, condemned
//!    garbage that goes straight to its drops.
//!
//! No user code runs between step 1 and the end of step 3 (only `trace`,
//! which only reports edges), so counts and `RefCell` borrow states are
//! stable across the steps. The counts never touch the strong counts: a
//! panic here leaves no wrong count behind, only links to rewrite
//! (`list::relink_behind`), which the failure path does before anything
//! else reads them. The mark walk rewrites each link as it leaves the
//! object, so a pass that succeeds hands back well-formed lists.

use core::any::Any;
use core::panic::AssertUnwindSafe;
use std::panic::catch_unwind;

use crate::header::{Code, CodeSet, Flags};
use crate::heap::heap;
use crate::list::{
    self, Dir, ListHead, Relinker, for_each, for_each_in, next_in, prefetch_ahead, step,
};
use crate::mark_stack::MarkStack;
use crate::trace::Tracer;
use crate::tracked::Tracked;

use super::ephemeron;
use super::pass::{PassState, TraceAction};

/// Why a graph pass could not complete (the set is restored first).
pub(crate) enum GraphFailure {
    /// The trace verifier caught a `Trace` impl visiting more edges than
    /// the referent has strong handles.
    OverVisited(String),
    /// A hand-written `trace` panicked.
    Panicked(Box<dyn Any + Send + 'static>),
}

/// The [`Code`]s of one graph pass: which objects it
/// examines and which code each gets when the pass is done with it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SetCodes {
    /// The codes of the examined set: exactly the objects on the list the
    /// pass runs on carry one of them.
    pub(crate) members: CodeSet,
    /// For the objects that stay on (or return to) that list.
    pub(crate) survivor: Code,
    /// For the objects moved to the unreachable list. Garbage codes
    /// ([`Code::clears_weak`]) come with `WEAK_CLEARED`.
    pub(crate) unreachable: Code,
    /// For every object when the pass fails (all are back on the list).
    pub(crate) restore: Code,
    /// Flags cleared on every object when the pass succeeds.
    pub(crate) clear: Flags,
    /// The collection's own pass (not the re-check after finalizers): the
    /// mark walk takes the collector's strong handle on each object it
    /// moves and condemns it (code `CONDEMNED`, `WEAK_CLEARED`), undoing
    /// both if it finds the object reachable after all. When no moved
    /// object has a finalizer to run and none was revived, the unreachable
    /// list is final as the walk leaves it and `finish` is skipped.
    pub(crate) condemn: bool,
}

impl SetCodes {
    /// The codes the mark walk treats as members: the set's, and the code
    /// it gives the objects it moves.
    fn marked_members(&self) -> CodeSet {
        if self.condemn {
            self.members.union(CodeSet::of(Code::CONDEMNED))
        } else {
            self.members
        }
    }
}

/// What `deduce_unreachable` found.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deduced {
    /// Objects left in the examined list.
    pub(crate) survivors: usize,
    /// Objects moved to the unreachable list.
    pub(crate) unreachable: usize,
    /// Whether one of them has a finalizer left to run
    /// ([`Tracked::finalizer_pending`]). With `SetCodes::condemn`,
    /// `false` means they are all condemned and held; `true`, that they are
    /// held with the code `codes.unreachable`.
    pub(crate) finalizers_pending: bool,
    /// How many of them are flagged `CANDIDATE`: their counts, still under
    /// the set's codes, are not survivors' (see `collect::candidates`).
    pub(crate) garbage_candidates: usize,
}

/// Moves the objects of `young` that nothing outside `young` references to
/// `unreachable`, with the code `codes.unreachable` (or, with
/// `codes.condemn` and no finalizer to run, `CONDEMNED`).
/// `handles_held` strong handles per object (the collector's own) are not
/// counted as external. On failure every object is back in `young` with
/// clear marks, code `codes.restore` and no handle taken by this pass.
pub(crate) fn deduce_unreachable(
    young: &ListHead,
    unreachable: &ListHead,
    handles_held: u32,
    codes: SetCodes,
    stack: &mut MarkStack,
) -> Result<Deduced, GraphFailure> {
    // The pass borrows the mark stack for its duration; a panicking
    // `trace` leaves it with the pass, which gives it back below.
    let mut pass = PassState::new(codes.members, handles_held, core::mem::take(stack));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        pass.dir = choose_walk(young, &mut pass);
        // Each walk is compiled for its direction: the links it follows
        // are fixed, not picked per step.
        let edge_balance = match pass.dir {
            Dir::Forward => subtract_refs::<FORWARD>(young, &mut pass),
            Dir::Backward => subtract_refs::<BACKWARD>(young, &mut pass),
        }?;
        if let Some(dir) = edges_point(edge_balance) {
            heap().walk_hint.set(dir);
        }
        Ok(match pass.dir {
            Dir::Forward => mark_reachable::<FORWARD>(young, unreachable, codes, &mut pass),
            Dir::Backward => mark_reachable::<BACKWARD>(young, unreachable, codes, &mut pass),
        })
    }));
    let dir = pass.dir;
    *stack = pass.into_stack();
    let failure = match outcome {
        // No user code runs past this point: `finish` cannot fail.
        Ok(Ok(marked)) => {
            #[cfg(test)]
            crate::heap::heap()
                .last_walk
                .set((marked.moved, marked.revived));
            if !codes.condemn || marked.revived > 0 || marked.finalizers_pending {
                let mut finish_codes = codes;
                if codes.condemn && !marked.finalizers_pending {
                    // Condemned they stay.
                    finish_codes.unreachable = Code::CONDEMNED;
                }
                let revived = finish(young, unreachable, finish_codes);
                debug_assert_eq!(revived, marked.revived);
            }
            return Ok(Deduced {
                survivors: marked.survivors + marked.revived,
                unreachable: marked.moved - marked.revived,
                finalizers_pending: marked.finalizers_pending,
                garbage_candidates: marked.garbage_candidates,
            });
        }
        Ok(Err(message)) => GraphFailure::OverVisited(message),
        Err(payload) => GraphFailure::Panicked(payload),
    };
    stack.clear();
    // The internal counts in the links go; the set is one ring again.
    list::relink_behind(young, dir);
    unreachable.append_to(young);
    for_each(young, |node| {
        let h = node.prefix();
        if h.code() == Code::CONDEMNED {
            // The mark walk took this handle, and the object has handles of
            // its own besides (it was listed).
            node.header().dec_strong();
        }
        // Objects on generation lists never carry `WEAK_CLEARED`: only
        // this pass set it.
        h.leave_graph_pass(codes.restore, Flags::WEAK_CLEARED);
    });
    Err(failure)
}

/// Gives every object of `list` the code `code` (the list is about to join
/// the list that code stands for) and returns how many there are.
pub(crate) fn set_codes(list: &ListHead, code: Code) -> usize {
    let mut count = 0;
    for_each(list, |node| {
        node.prefix().set_code(code);
        count += 1;
    });
    count
}

/// Whether `node`, a member of `pass`'s set the mark walk has not passed,
/// has strong handles beyond the ones the collector holds and the internal
/// references counted by `subtract_refs`.
#[inline]
pub(super) fn has_external_refs(node: Tracked, pass: &PassState) -> bool {
    let strong = node.header().strong();
    debug_assert!(
        strong >= pass.held,
        "a listed object has fewer strong handles than the collector holds"
    );
    strong.saturating_sub(pass.held) as usize > list::internal_refs(node, pass.dir)
}

/// The tracked objects `node`'s value references, in visit order, each as
/// often as it is visited (introspection; the collector's own passes do not
/// use this). A value lent out by a `GcMut` reports nothing.
///
/// # Safety
///
/// `node` is live, its value intact, and no graph pass is running (user
/// code never runs during one, so introspection cannot be called there).
pub(crate) unsafe fn referents_of(node: Tracked) -> MarkStack {
    let mut pass = PassState::collecting();
    // SAFETY: caller's contract.
    unsafe { trace_object(node, &mut pass) };
    pass.into_stack()
}

/// Traces one object, reporting its edges to `pass`.
///
/// # Safety
///
/// `node`'s value is intact.
#[inline]
unsafe fn trace_object(node: Tracked, pass: &mut PassState) {
    if node.prefix().has(Flags::LENT_MUT) {
        // A `GcMut` holds `&mut` to the value: reading it would alias that
        // borrow. Not tracing only hides edges (like a mutably borrowed
        // `RefCell`): what the value owns stays reachable this round.
        return;
    }
    pass.tracing = node.vtable().type_name;
    pass.tracing_addr = node.addr();
    // SAFETY: value intact (caller's contract), not lent out (checked).
    unsafe { node.trace(&mut Tracer::new(pass)) };
    if pass.action == TraceAction::Collect && node.header().is_ephemeron_key() {
        // SAFETY: live (the handle's invariant).
        unsafe { super::ephemeron::trace_ephemerons(node, pass) };
    }
}

/// [`Dir::Forward`] as a const parameter of the walks.
const FORWARD: usize = Dir::Forward as usize;
/// [`Dir::Backward`] as a const parameter of the walks.
const BACKWARD: usize = Dir::Backward as usize;

/// The direction a walk compiled with const parameter `DIR` takes.
#[inline(always)]
const fn dir_of<const DIR: usize>() -> Dir {
    if DIR == FORWARD {
        Dir::Forward
    } else {
        Dir::Backward
    }
}

/// Objects traced at each end of the set by [`choose_walk`].
const WALK_SAMPLE: usize = 16;

/// Chooses the direction of the pass over `list` (see `mark_reachable`)
/// before `subtract_refs`, which keeps its counts in the links pointing the
/// other way: the edge balance of the objects at both ends of the list
/// (a graph built bottom-up has its leaves first, one linked top-down its
/// leaves last), or, when they have no internal edges or the set is too
/// small for either way to cost much (sampling it would trace objects
/// twice), the balance the previous pass measured.
fn choose_walk(list: &ListHead, pass: &mut PassState) -> Dir {
    let mut probe = list.first();
    for _ in 0..2 * WALK_SAMPLE {
        let Some(node) = probe else {
            return heap().walk_hint.get();
        };
        // SAFETY: `node` is a live object on `list`.
        probe = unsafe { step(list, node, Dir::Forward) };
    }
    pass.action = TraceAction::SampleBalance;
    for dir in [Dir::Forward, Dir::Backward] {
        let mut cur = list.start(dir);
        for _ in 0..WALK_SAMPLE {
            let Some(node) = cur else { break };
            // SAFETY: `node` is a live object on `list`; sampling only
            // counts edges.
            unsafe {
                cur = step(list, node, dir);
                trace_object(node, pass);
            }
        }
    }
    pass.action = TraceAction::SubtractRefs;
    edges_point(core::mem::take(&mut pass.edge_balance)).unwrap_or_else(|| heap().walk_hint.get())
}

/// The way most internal edges point, from their balance (edges to higher
/// addresses minus edges to lower ones): `None` when they are even.
#[inline]
fn edges_point(edge_balance: isize) -> Option<Dir> {
    match edge_balance.cmp(&0) {
        core::cmp::Ordering::Less => Some(Dir::Backward),
        core::cmp::Ordering::Equal => None,
        core::cmp::Ordering::Greater => Some(Dir::Forward),
    }
}

/// Step 1, on a fresh `pass` whose direction is chosen. Returns the edge
/// balance of the set: internal edges to higher addresses minus those to
/// lower ones.
fn subtract_refs<const DIR: usize>(list: &ListHead, pass: &mut PassState) -> Result<isize, String> {
    debug_assert_eq!(pass.action, TraceAction::SubtractRefs);
    debug_assert_eq!(pass.dir as usize, DIR);
    for_each_in(list, dir_of::<DIR>(), |node| {
        // SAFETY: listed objects are live with intact values; tracing in
        // this mode does not change the list.
        unsafe { trace_object(node, pass) };
    });
    ephemeron::subtract_ephemeron_edges(pass);
    match pass.over_visited {
        None => Ok(pass.edge_balance),
        Some(type_name) => Err(format!(
            "pygc trace verifier: the Trace impl of `{}` visits more Gc edges than it owns \
             (an object got more internal references than strong handles); the collection \
             was aborted before freeing anything. Visit each owned Gc exactly once, or use \
             #[derive(Trace)].",
            type_name()
        )),
    }
}

/// What the walk of step 2 found.
struct Marked {
    /// Objects found reachable in place.
    survivors: usize,
    /// Objects moved to the unreachable list.
    moved: usize,
    /// Moved objects found reachable after all (still on the unreachable
    /// list, flagged `REACHABLE`).
    revived: usize,
    /// Whether a moved object (revived or not) has a finalizer left to run.
    finalizers_pending: bool,
    /// Moved objects flagged `CANDIDATE`, less the revived ones: the
    /// candidates that are garbage (see `Deduced::garbage_candidates`).
    garbage_candidates: usize,
}

/// The walk of step 2: traces the reachable objects of `young`, moving
/// those it cannot yet prove reachable to `unreachable`, keeping their
/// order.
///
/// The walk is cheapest when it meets referrers before their referents:
/// then every referent is marked ahead of the walk and nothing moves. Lists
/// are in allocation order and pools hand out rising addresses, so the
/// edge balance tells which way most edges point (sampled by
/// [`choose_walk`] before step 1, which keeps its counts in the links the
/// walk does not follow): a graph linked
/// after construction (parents allocated first, the usual Python shape)
/// points forward; one built bottom-up, children moved into the parent's
/// constructor (the usual Rust shape), points backward and is walked from
/// the newest object. A wrong guess costs time only.
fn mark_reachable<const DIR: usize>(
    young: &ListHead,
    unreachable: &ListHead,
    codes: SetCodes,
    pass: &mut PassState,
) -> Marked {
    pass.action = TraceAction::MarkReachable;
    pass.members = codes.marked_members();
    let walk = dir_of::<DIR>();
    debug_assert_eq!(pass.dir, walk);
    let mut survivors = 0;
    let mut moved = 0;
    let mut revived = 0;
    let mut finalizers_pending = false;
    let mut garbage_candidates = 0;
    let undecided_ephemerons = ephemeron::mark_values_of_root_keys(pass);
    let mut relinker = Relinker::new(young, walk);
    let mut cur = young.start(walk);
    // Invariants at the head of each iteration (CPython states the same for
    // `move_unreachable`):
    // - every object the walk passed is either off the set (it left with
    //   code `codes.survivor`: reachable, traced, counted in `survivors`)
    //   and relinked on `young`, or on `unreachable` (counted in `moved`);
    //   objects not yet passed are still on `young`, in their original
    //   order, with their internal counts in their behind links;
    // - an object flagged `REACHABLE` and still on `young` is reachable and
    //   will be traced when the walk gets to it; one flagged `REACHABLE`
    //   on `unreachable` was revived and already traced;
    // - the stack is empty: everything marked behind the walk was traced;
    // - with `codes.condemn`, exactly the objects on `unreachable` without
    //   `REACHABLE` hold the collector's extra strong handle and
    //   `WEAK_CLEARED`;
    // - no user code has run (only `trace`, which only visits edges), so
    //   strong counts and `RefCell` borrow states are those `subtract_refs`
    //   saw.
    while let Some(node) = cur {
        // SAFETY: `node` is a live object on `young`, the next in walk
        // order; we step past it before it may move. Tracing only sets
        // flags and pushes on the stack.
        unsafe {
            cur = step(young, node, walk);
            prefetch_ahead(node, cur);
            let h = node.prefix();
            h.set(Flags::VISITED);
            if h.has(Flags::REACHABLE) || has_external_refs(node, pass) {
                relinker.keep(node);
                h.set(Flags::REACHABLE);
                trace_object(node, pass);
                // Done with it: its new code takes it out of the set, so
                // later edges to it need no attention.
                h.leave_graph_pass(codes.survivor, codes.clear);
                survivors += 1;
                if !pass.stack.is_empty() {
                    trace_revived(pass, codes, &mut revived, &mut garbage_candidates);
                }
            } else {
                finalizers_pending |= node.finalizer_pending();
                if h.has(Flags::CANDIDATE) {
                    garbage_candidates += 1;
                }
                if codes.condemn {
                    h.set_code(Code::CONDEMNED);
                    h.set(Flags::WEAK_CLEARED);
                    node.header().inc_strong();
                }
                moved += 1;
                relinker.remove(node);
                match walk {
                    Dir::Forward => unreachable.push_back(node),
                    Dir::Backward => unreachable.push_front(node),
                }
            }
        }
    }
    relinker.close();
    if undecided_ephemerons {
        ephemeron::mark_values_of_reached_keys(pass, |pass| {
            trace_revived(pass, codes, &mut revived, &mut garbage_candidates);
        });
    }
    Marked {
        survivors,
        moved,
        revived,
        finalizers_pending,
        garbage_candidates,
    }
}

/// Traces the objects on the mark stack — marked after the walk passed
/// them, so they sit on `unreachable` and keep `REACHABLE` for `finish` —
/// and everything they reach that the walk passed too, reviving each.
#[cold]
#[inline(never)]
fn trace_revived(
    pass: &mut PassState,
    codes: SetCodes,
    revived: &mut usize,
    garbage_candidates: &mut usize,
) {
    while let Some(passed) = pass.stack.pop() {
        // SAFETY: objects on the stack are moved members, live with intact
        // values (no user code has run since the pass began).
        unsafe { trace_object(passed, pass) };
        revive(passed, codes);
        *revived += 1;
        if passed.prefix().has(Flags::CANDIDATE) {
            *garbage_candidates -= 1;
        }
    }
}

/// A moved object turned out reachable: it takes the survivors' code, and
/// what `SetCodes::condemn` did to it is undone.
///
/// `node` is on the unreachable list, moved by the running walk.
#[inline]
fn revive(node: Tracked, codes: SetCodes) {
    let h = node.prefix();
    h.set_code(codes.survivor);
    if codes.condemn {
        h.clear(Flags::WEAK_CLEARED);
        // The walk took this handle when it moved the object, which has
        // handles of its own besides (a reachable object references it).
        node.header().dec_strong();
    }
}

/// Step 3: moves the objects of `unreachable` marked reachable back to
/// `young` (keeping their order) and clears every mark; gives the others
/// `codes.unreachable`, flagged `WEAK_CLEARED` if that is a garbage code
/// (condemned objects keep their handle). Returns how many moved back.
fn finish(young: &ListHead, unreachable: &ListHead, codes: SetCodes) -> usize {
    let mut revived = 0;
    let mut cur = unreachable.first();
    // Invariants at the head of each iteration: every object passed so far
    // has left the graph pass (no mark flags; its links are pointers) and is
    // either back on `young` with `codes.survivor` (it was flagged
    // `REACHABLE`) or still on `unreachable` with `codes.unreachable`;
    // objects not yet passed keep their marks; no user code has run.
    while let Some(node) = cur {
        // SAFETY: `node` is a live object on `unreachable`; we step past it
        // before it may move.
        unsafe {
            cur = next_in(unreachable, node);
            prefetch_ahead(node, cur);
            let h = node.prefix();
            if h.has(Flags::REACHABLE) {
                h.leave_graph_pass(codes.survivor, codes.clear);
                list::unlink(node);
                young.push_back(node);
                revived += 1;
            } else {
                h.leave_graph_pass(codes.unreachable, codes.clear.union(Flags::WEAK_CLEARED));
                if codes.unreachable.clears_weak() {
                    h.set(Flags::WEAK_CLEARED);
                }
            }
        }
    }
    revived
}
