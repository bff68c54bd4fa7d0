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
//! skips all that: it could not find anything.

mod candidates;
pub(crate) mod cycle;
mod unreachable;

use core::any::Any;
use core::panic::AssertUnwindSafe;
use std::panic::{catch_unwind, resume_unwind};

use crate::callbacks::{CollectInfo, CollectPhase};
use crate::header::{TrackedHeader, code, flag};
use crate::heap::{GENERATIONS, Heap};
use crate::stats::GenerationStats;
use cycle::{GraphFailure, SetCodes};

/// Mark-stack capacity (entries) kept between collections.
const MARK_STACK_KEEP: usize = 1 << 16;

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
        let count = self.counts[0].get() + 1;
        self.counts[0].set(count);
        if count > self.thresholds[0].get() {
            self.collect_automatically();
        }
    }

    /// Counts tracked object `node` leaving its list for good (generation 0's
    /// count never goes below 0).
    #[inline]
    pub(crate) fn note_tracked_deallocation(&self, node: &TrackedHeader) {
        let count = self.counts[0].get();
        self.counts[0].set(count.saturating_sub(1));
        if node.code() == self.old_code.get() {
            self.old_len.set(self.old_len.get() - 1);
        }
    }

    /// CPython's `gc_collect_generations`: collect the oldest generation
    /// whose count exceeds its threshold, except that a full collection
    /// waits until the objects that survived the last one and were promoted
    /// since (`long_lived_pending`) are a quarter of the long-lived total —
    /// without that, a program building a large data structure would pay
    /// quadratic time in full collections (CPython issue #4074).
    #[cold]
    #[inline(never)]
    fn collect_automatically(&self) {
        if !self.enabled.get() || self.thresholds[0].get() == 0 || self.collecting.get() {
            return;
        }
        for generation in (0..GENERATIONS).rev() {
            if self.counts[generation].get() > self.thresholds[generation].get() {
                if generation == GENERATIONS - 1
                    && self.long_lived_pending.get() < self.long_lived_total.get() / 4
                {
                    continue;
                }
                self.collect_with_callbacks(generation, Scan::IfCandidates);
                return;
            }
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
        let outcome = self.collect_main(generation, scan, &mut panic);
        let collected = *outcome.as_ref().unwrap_or(&0);
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
        if generation + 1 < GENERATIONS {
            let next = &self.counts[generation + 1];
            next.set(next.get() + 1);
        }
        for count in &self.counts[..=generation] {
            count.set(0);
        }
        if scan == Scan::IfCandidates && self.candidates_in(self.codes_for(generation).members) == 0
        {
            if !self.audits_skips() {
                self.promote_unscanned(generation);
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
            return found;
        }
        self.collect_scanned(generation, panic)
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
        let young = &self.generations[generation];
        for younger in &self.generations[..generation] {
            younger.append_to(young);
        }

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
        stack: &mut cycle::MarkStack,
        panic: &mut Panic,
    ) -> Result<usize, GraphFailure> {
        let young = &self.generations[generation];
        let old = &self.generations[(generation + 1).min(GENERATIONS - 1)];
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
                    self.old_len.set(young.len());
                }
                return Err(failure);
            }
        };
        self.settle_candidates(generation, codes);
        let survivors = deduced.survivors;

        // Survivors move to the next generation.
        if generation + 1 < GENERATIONS {
            if generation == GENERATIONS - 2 {
                self.long_lived_pending
                    .set(self.long_lived_pending.get() + survivors);
                self.old_len.set(self.old_len.get() + survivors);
            }
            young.append_to(old);
        } else {
            // Generation 2's survivors took the other old code.
            self.old_code.set(codes.survivor);
            self.old_len.set(survivors);
            self.long_lived_pending.set(0);
            self.long_lived_total.set(survivors);
        }
        Ok(unreachable::handle_unreachable(
            self,
            old,
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
        let old = self.old_code.get();
        let (members, survivor, restore) = match generation {
            0 => (code::set(code::GEN0), code::GEN1, code::GEN0),
            1 => (
                code::set(code::GEN0) | code::set(code::GEN1),
                old,
                code::GEN1,
            ),
            _ => (
                code::set(code::GEN0) | code::set(code::GEN1) | code::set(old),
                code::other_old(old),
                old,
            ),
        };
        SetCodes {
            members,
            survivor,
            unreachable: code::UNREACHABLE,
            restore,
            // Only a full collection may clear candidates.
            clear: if generation == GENERATIONS - 1 {
                flag::CANDIDATE
            } else {
                0
            },
            condemn: true,
        }
    }

    /// `freeze()`: every tracked object moves to the permanent generation.
    pub(crate) fn freeze(&self) {
        for generation in &self.generations {
            cycle::set_codes(generation, code::PERMANENT);
            generation.append_to(&self.permanent);
        }
        self.move_candidates(self.codes_for(GENERATIONS - 1).members, code::PERMANENT);
        self.old_len.set(0);
        for count in &self.counts {
            count.set(0);
        }
    }

    /// `unfreeze()`: the permanent generation goes back into the oldest one.
    ///
    /// Thawed objects may close garbage cycles that no flag points to: a full
    /// collection cleared the flag of an object a frozen one kept alive (see
    /// `collect::candidates`). One unflagged count under the oldest code (the
    /// counts are upper bounds) makes the next full collection run its graph
    /// passes, which find such cycles and reset the count.
    pub(crate) fn unfreeze(&self) {
        let old = self.old_code.get();
        let thawed = cycle::set_codes(&self.permanent, old);
        self.permanent.append_to(&self.generations[GENERATIONS - 1]);
        self.old_len.set(self.old_len.get() + thawed);
        self.move_candidates(code::set(code::PERMANENT), old);
        if thawed > 0 {
            let count = &self.candidates[old as usize];
            count.set(count.get() + 1);
        }
    }
}
