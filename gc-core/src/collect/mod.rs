//! The generational cycle collector (CPython 3.13 `Modules/gc.c`).
//!
//! Reference counting frees everything except groups of objects that only
//! reference each other. Tracked objects sit on three generation lists;
//! new objects enter generation 0, and objects that survive a collection
//! move one generation up. Most objects die young, so collecting the young
//! generation often and the old ones rarely finds most garbage while
//! examining few objects.
//!
//! A collection of generations `0..=g` (see [`cycle`]) finds the objects of
//! those generations that nothing outside them references, then hands that
//! *unreachable* set to [`unreachable`], which finalizes, re-checks,
//! clears weak references and drops it. An automatic collection whose
//! generations hold no [`candidates`] (objects that lost a strong handle)
//! skips all that: it could not find anything. The keys of `WeakKeyMap`
//! entries carry extra edges to their values ([`ephemeron`]), so a value is
//! reachable only while its key is.

mod candidates;
pub(crate) mod cycle;
mod ephemeron;
pub(crate) mod generation;
mod pass;
mod unreachable;

pub(crate) use pass::PassState;

use std::panic::resume_unwind;

use crate::callbacks::{CollectInfo, CollectPhase};
use crate::header::{Code, CodeSet, Flags, TrackedHeader};
use crate::heap::{GENERATIONS, Heap};
use crate::mark_stack::{MARK_STACK_KEEP, MarkStack};
use crate::panic::Panic;
use crate::stats::GenerationStats;
use cycle::{GraphFailure, SetCodes};

/// Whether a collection may skip its graph passes when its set holds no
/// candidate (see [`candidates`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// Always run them: `collect`, `collect_generation`.
    Always,
    /// Skip them when nothing can be unreachable: automatic collections.
    IfCandidates,
}

/// Resets `collecting` even when the collection unwinds.
struct CollectingGuard<'a>(&'a Heap);

impl Drop for CollectingGuard<'_> {
    fn drop(&mut self) {
        self.0.collecting.set(false);
    }
}

impl Heap {
    /// Counts a new tracked object; starts an automatic collection when
    /// generation 0 is over its threshold.
    #[inline]
    pub(crate) fn note_tracked_allocation(&self) {
        if self.gens.count_allocation() {
            self.collect_automatically();
        }
    }

    /// Counts tracked object `node` leaving its list for good (generation 0's
    /// count never goes below 0).
    #[inline]
    pub(crate) fn note_tracked_deallocation(&self, node: &TrackedHeader) {
        self.gens.count_deallocation(node);
        self.forget_candidate(node);
    }

    /// An automatic collection of the generation CPython's rules pick
    /// ([`Generations::to_collect`](generation::Generations::to_collect)).
    #[cold]
    #[inline(never)]
    fn collect_automatically(&self) {
        if !self.enabled.get() || self.gens.automatic_off() || self.collecting.get() {
            return;
        }
        if let Some(generation) = self.gens.to_collect() {
            self.collect_with_callbacks(generation, Scan::IfCandidates);
        }
    }

    /// A collection of `0..=generation` with the callbacks around it.
    /// Returns 0 without doing anything when a collection is running.
    pub(crate) fn collect_with_callbacks(&self, generation: usize, scan: Scan) -> usize {
        if self.collecting.get() {
            return 0;
        }
        self.collecting.set(true);
        let reset = CollectingGuard(self);
        let mut panic: Panic = None;
        let mut info = CollectInfo {
            generation,
            collected: 0,
            uncollectable: 0,
        };
        self.callbacks
            .invoke(CollectPhase::Start, &info, &mut panic);
        let stats_line = crate::introspect::StatsLine::start(self, generation);
        let outcome = self.collect_main(generation, scan, &mut panic);
        let collected = *outcome.as_ref().unwrap_or(&0);
        if let Some(line) = stats_line {
            line.finish(self, collected, 0);
        }
        let stats = &self.stats[generation];
        stats.set(GenerationStats {
            collections: stats.get().collections + 1,
            collected: stats.get().collected + collected,
            uncollectable: stats.get().uncollectable,
        });
        info.collected = collected;
        self.callbacks.invoke(CollectPhase::Stop, &info, &mut panic);
        drop(reset);
        match outcome {
            Err(GraphFailure::OverVisited(message)) => panic!("{message}"),
            Err(GraphFailure::Panicked(payload)) => resume_unwind(payload),
            Ok(_) => {}
        }
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
        collected
    }

    /// CPython's `gc_collect_main`.
    fn collect_main(
        &self,
        generation: usize,
        scan: Scan,
        panic: &mut Panic,
    ) -> Result<usize, GraphFailure> {
        // Update the collection and allocation counters.
        self.gens.start_collection(generation);
        if scan == Scan::IfCandidates {
            let oldest = GENERATIONS - 1;
            if generation == oldest
                && self.candidates_in(CodeSet::of(self.gens.old_code())) == 0
                && self.candidates_in(self.codes_for(oldest - 1).members) != 0
            {
                // Every candidate is young: collect the young generations
                // first. What they cannot free (a cycle through the old
                // generation) survives into it with its candidate flag,
                // and then the full graph passes run; otherwise the old
                // generation, where nothing lost a handle, is not scanned.
                let young = self.collect_scanned(oldest - 1, panic)?;
                return Ok(young + self.collect_or_skip(oldest, panic)?);
            }
            return self.collect_or_skip(generation, panic);
        }
        self.collect_scanned(generation, panic)
    }

    /// An automatic collection of `generation`: skips the graph passes
    /// when its set holds no candidate (tests can audit the skip).
    fn collect_or_skip(&self, generation: usize, panic: &mut Panic) -> Result<usize, GraphFailure> {
        if self.candidates_in(self.codes_for(generation).members) != 0 {
            return self.collect_scanned(generation, panic);
        }
        if !self.audits_skips() {
            self.gens.promote_unscanned(generation);
            return Ok(0);
        }
        let found = self.collect_scanned(generation, panic);
        if let Ok(n) = found {
            assert_eq!(
                n, 0,
                "a collection of generation {generation} skipped for want of candidates \
                 would have missed {n} unreachable objects"
            );
        }
        found
    }

    /// Tests can make skippable collections run their graph passes and
    /// check they find nothing.
    fn audits_skips(&self) -> bool {
        #[cfg(test)]
        return self.audit_skips.get();
        #[cfg(not(test))]
        false
    }

    /// `collect_main` with the graph passes.
    fn collect_scanned(&self, generation: usize, panic: &mut Panic) -> Result<usize, GraphFailure> {
        // Merge the younger generations into the one being collected.
        self.gens.merge_younger_into(generation);

        let mut stack = self.mark_stack.take();
        let outcome = self.collect_young(generation, &mut stack, panic);
        // Keep the stack's memory for the next collection, unless it grew
        // very large for one unusual graph.
        if stack.capacity() <= MARK_STACK_KEEP {
            self.mark_stack.set(stack);
        }
        outcome
    }

    /// The body of `collect_main` once the generations are merged.
    fn collect_young(
        &self,
        generation: usize,
        stack: &mut MarkStack,
        panic: &mut Panic,
    ) -> Result<usize, GraphFailure> {
        let young = self.gens.list(generation);
        let codes = self.codes_for(generation);
        // The mark walk takes the collector's temporary strong handle on
        // each unreachable object as it finds it (step 0 of `unreachable`)
        // and, with no finalizer to run, condemns it (steps 1–3).
        let deduced = cycle::deduce_unreachable(young, &self.unreachable, 0, codes, stack);
        let deduced = match deduced {
            Ok(deduced) => deduced,
            Err(failure) => {
                // Every object of the set took the code `restore`.
                self.move_candidates(codes.members, codes.restore);
                if generation == GENERATIONS - 1 {
                    // The merged young objects stay, relabelled old.
                    self.gens.restore_after_failed_full_pass();
                }
                return Err(failure);
            }
        };
        self.settle_candidates(generation, codes, deduced.garbage_candidates);
        // Survivors move to the next generation (generation 2's took the
        // other old code).
        self.gens
            .promote_survivors(generation, deduced.survivors, codes.survivor);
        if self
            .debug
            .get()
            .contains(crate::introspect::DebugFlags::SAVEALL)
        {
            return Ok(unreachable::save_unreachable(
                self,
                generation::Generations::next(generation),
                codes.survivor,
            ));
        }
        Ok(unreachable::handle_unreachable(
            self,
            generation::Generations::next(generation),
            codes.survivor,
            deduced,
            stack,
            panic,
        ))
    }

    /// The codes of a collection of `generation`: its set holds the codes
    /// of generations `0..=generation`; survivors take the code of the next
    /// generation (for generation 2, its other code).
    fn codes_for(&self, generation: usize) -> SetCodes {
        let old = self.gens.old_code();
        let (members, survivor, restore) = match generation {
            0 => (CodeSet::of(Code::GEN0), Code::GEN1, Code::GEN0),
            1 => (
                CodeSet::of(Code::GEN0) | CodeSet::of(Code::GEN1),
                old,
                Code::GEN1,
            ),
            _ => (
                CodeSet::of(Code::GEN0) | CodeSet::of(Code::GEN1) | CodeSet::of(old),
                old.other_old(),
                old,
            ),
        };
        SetCodes {
            members,
            survivor,
            unreachable: Code::UNREACHABLE,
            restore,
            // Only a full collection may clear candidates.
            clear: if generation == GENERATIONS - 1 {
                Flags::CANDIDATE
            } else {
                Flags::NONE
            },
            condemn: true,
        }
    }

    /// `freeze()`: every tracked object moves to the permanent generation.
    pub(crate) fn freeze(&self) {
        self.move_candidates(self.codes_for(GENERATIONS - 1).members, Code::PERMANENT);
        self.gens.freeze();
    }

    /// `unfreeze()`: the permanent generation goes back into the oldest one.
    ///
    /// Thawed objects may close garbage cycles that no flag points to: a full
    /// collection cleared the flag of an object a frozen one kept alive (see
    /// `collect::candidates`). One unflagged count under the oldest code (the
    /// counts are upper bounds) makes the next full collection run its graph
    /// passes, which find such cycles and reset the count.
    pub(crate) fn unfreeze(&self) {
        let thawed = self.gens.thaw();
        let old = self.gens.old_code();
        self.move_candidates(CodeSet::of(Code::PERMANENT), old);
        if thawed > 0 {
            let count = &self.candidates[old.index()];
            count.set(count.get() + 1);
        }
    }
}
