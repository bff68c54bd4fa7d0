//! Automatic collections that provably find nothing skip the graph passes.
//!
//! A group of objects becomes cyclic garbage when the last reference from
//! outside the group goes. In safe Rust that is always a `Gc` dropped while
//! its object keeps other strong handles: a strong count going down without
//! reaching 0. (A handle cannot instead be *moved* into the group by code
//! that reaches the group through that same handle — the borrow checker
//! forbids moving a borrowed value — and any other path into the group is
//! itself a reference from outside that has to go later.) This is the
//! observation Bacon and Rajan's cycle collector is built on: the possible
//! roots of garbage cycles are the objects decremented to a non-zero count.
//!
//! The collector's own temporary handles obey the same rule: when it
//! releases its hold on an object a finalizer resurrected, the count goes
//! down without reaching 0, and the object is flagged like after any other
//! such decrement (a finalizer that stores a new object pointing back at
//! its own makes a new cycle that becomes garbage exactly then).
//!
//! So `Gc::drop` flags such an object a **candidate**, once, and counts it
//! under the [`Code`](crate::header::Code) of the list it is on. An *automatic* collection whose
//! set holds no candidate cannot find anything unreachable: it skips the
//! graph passes and only promotes the set, relabelling the objects that
//! change generation. Its result (0), the stats, counts and callbacks are
//! exactly those of a full pass. Collections asked for by `collect` and
//! `collect_generation` always run the graph passes, so they stay exact even
//! for unsafe code that moved a handle through a pointer from `Gc::as_ptr`.
//!
//! Flags are cleared only by full collections that ran the graph passes:
//! then every object of generations 0–2 was examined at once and every
//! survivor is reachable from outside the heap, so it needs a new drop to
//! become garbage — or an `unfreeze()`: a survivor a *frozen* object kept
//! alive is garbage together with it once the permanent generation is back
//! in the oldest one, so `unfreeze` counts one candidate without a flag,
//! and the next full collection runs its graph passes. A young collection clears nothing: an object it keeps
//! because an *old* object references it may be garbage together with that
//! old object, and only its own flag says so.
//!
//! The counts are upper bounds, kept close to exact: a flagged object
//! freed by refcount takes its count with it, and a young collection moves
//! up only the counts of its survivors, not those of the garbage it found
//! (otherwise they drift up with every young collection of garbage, and
//! the old generation looks as if it held candidates). An extra count only
//! costs running the passes where skipping them was possible.
//!
//! An automatic full collection whose candidates are all young collects
//! the young generations first: what they cannot free (a cycle through the
//! old generation) survives into it with its flag, and then the full graph
//! passes run; otherwise the old generation, where nothing lost a handle
//! since it was last examined, is not scanned. A program that keeps making
//! young garbage next to a large old heap thus never pays for the old heap.

use crate::header::{Code, CodeSet, Flags, TrackedHeader};
use crate::heap::{GENERATIONS, Heap};

use super::cycle::SetCodes;

impl Heap {
    /// Flags `node` a candidate. Called by `Gc::drop` when the strong count
    /// went down without reaching 0 and the flag is not set yet.
    #[cold]
    #[inline(never)]
    pub(crate) fn note_candidate(&self, node: &TrackedHeader) {
        node.set(Flags::CANDIDATE);
        let count = &self.candidates[node.code().index()];
        count.set(count.get() + 1);
    }

    /// [`note_candidate`](Self::note_candidate) on this thread's heap, the
    /// lookup included, out of line: `Gc::drop` stays small enough to be
    /// inlined in every loop that drops handles.
    #[cold]
    #[inline(never)]
    pub(crate) fn note_candidate_here(node: &TrackedHeader) {
        crate::heap::heap().note_candidate(node);
    }

    /// The candidate counts of the codes in `codes`.
    fn counts_of(&self, codes: CodeSet) -> impl Iterator<Item = &core::cell::Cell<usize>> {
        self.candidates
            .iter()
            .enumerate()
            .filter(move |&(c, _)| codes.contains_index(c))
            .map(|(_, count)| count)
    }

    /// Candidates counted under the codes of `members`.
    pub(super) fn candidates_in(&self, members: CodeSet) -> usize {
        self.counts_of(members).map(core::cell::Cell::get).sum()
    }

    /// Moves the candidate counts of `from` to code `to`.
    pub(super) fn move_candidates(&self, from: CodeSet, to: Code) {
        let moved: usize = self
            .counts_of(from.without(CodeSet::of(to)))
            .map(core::cell::Cell::take)
            .sum();
        let count = &self.candidates[to.index()];
        count.set(count.get() + moved);
    }

    /// Forgets the candidates of `codes`: their flags were just cleared.
    pub(super) fn clear_candidates(&self, codes: CodeSet) {
        self.counts_of(codes).for_each(|count| count.set(0));
    }

    /// Candidate bookkeeping once the graph passes of a collection with
    /// `codes` are done (before any user code runs): a full collection
    /// cleared every flag of its set; a young one moves the counts along
    /// with the survivors, less the `garbage_candidates` the passes found
    /// unreachable (they are not survivors: counted with them, every later
    /// collection of the older generations would scan in vain — the counts
    /// drifted up with each young collection of garbage).
    pub(super) fn settle_candidates(
        &self,
        generation: usize,
        codes: SetCodes,
        garbage_candidates: usize,
    ) {
        if generation == GENERATIONS - 1 {
            self.clear_candidates(codes.members.union(CodeSet::of(codes.survivor)));
        } else {
            self.move_candidates(codes.members, codes.survivor);
            let count = &self.candidates[codes.survivor.index()];
            count.set(count.get().saturating_sub(garbage_candidates));
        }
    }

    /// A flagged object leaves the heap for good: its count goes with it.
    #[inline]
    pub(crate) fn forget_candidate(&self, node: &TrackedHeader) {
        if node.has(Flags::CANDIDATE) {
            let count = &self.candidates[node.code().index()];
            count.set(count.get().saturating_sub(1));
        }
    }
}
