//! The generations: their lists and the counters CPython keeps beside
//! them, owned by one type so that every rule about them is written once.
//!
//! - **Lists**: generation 0 (young) to 2 (old), plus the permanent
//!   generation of `freeze()`. Objects on generation 2 carry the code
//!   [`old_code`](Generations::old_code), which alternates between full
//!   collections (see [`Code`]).
//! - **Counts** (`gc.get_count()`): generation 0's counts tracked
//!   allocations minus deallocations since its last collection (never below
//!   0); generation `g > 0`'s counts collections of generation `g - 1` since
//!   generation `g` was last collected.
//! - **Thresholds** (`gc.get_threshold()`).
//! - **Long-lived counters** (CPython's `long_lived_total` /
//!   `long_lived_pending`): objects that survived the last full collection,
//!   and objects promoted into generation 2 since. A full automatic
//!   collection waits until the second is a quarter of the first (bpo-4074).

use core::cell::Cell;

use crate::header::{Code, TrackedHeader};
use crate::heap::{DEFAULT_THRESHOLDS, GENERATIONS};
use crate::list::ListHead;
use crate::tracked::Tracked;

use super::cycle;

/// The oldest generation.
const OLDEST: usize = GENERATIONS - 1;

/// The generation lists and their counters.
pub(crate) struct Generations {
    lists: [ListHead; GENERATIONS],
    permanent: ListHead,
    counts: [Cell<usize>; GENERATIONS],
    thresholds: [Cell<usize>; GENERATIONS],
    /// The code generation 2's objects carry.
    old_code: Cell<Code>,
    /// Objects on generation 2's list.
    old_len: Cell<usize>,
    long_lived_total: Cell<usize>,
    long_lived_pending: Cell<usize>,
}

impl Generations {
    pub(crate) fn new() -> Self {
        Generations {
            lists: [ListHead::new(), ListHead::new(), ListHead::new()],
            permanent: ListHead::new(),
            counts: Default::default(),
            thresholds: DEFAULT_THRESHOLDS.map(Cell::new),
            old_code: Cell::new(Code::OLD_A),
            old_len: Cell::new(0),
            long_lived_total: Cell::new(0),
            long_lived_pending: Cell::new(0),
        }
    }

    /// The three generation lists and the permanent one.
    pub(crate) fn all_lists(&self) -> [&ListHead; GENERATIONS + 1] {
        let [g0, g1, g2] = &self.lists;
        [g0, g1, g2, &self.permanent]
    }

    /// The list of `generation`.
    #[inline]
    pub(crate) fn list(&self, generation: usize) -> &ListHead {
        &self.lists[generation]
    }

    /// The permanent generation (`freeze()`).
    pub(crate) fn permanent(&self) -> &ListHead {
        &self.permanent
    }

    /// The code of generation 2's objects.
    #[inline]
    pub(crate) fn old_code(&self) -> Code {
        self.old_code.get()
    }

    /// Objects on generation 2's list.
    #[cfg(test)]
    pub(crate) fn old_len(&self) -> usize {
        self.old_len.get()
    }

    /// `(long_lived_pending, long_lived_total)`.
    #[cfg(test)]
    pub(crate) fn long_lived(&self) -> (usize, usize) {
        (self.long_lived_pending.get(), self.long_lived_total.get())
    }

    /// `gc.get_count()`.
    pub(crate) fn counts(&self) -> [usize; GENERATIONS] {
        self.counts.each_ref().map(Cell::get)
    }

    /// `gc.get_threshold()`.
    pub(crate) fn thresholds(&self) -> [usize; GENERATIONS] {
        self.thresholds.each_ref().map(Cell::get)
    }

    /// `gc.set_threshold()`.
    pub(crate) fn set_thresholds(&self, thresholds: [usize; GENERATIONS]) {
        for (cell, value) in self.thresholds.iter().zip(thresholds) {
            cell.set(value);
        }
    }

    /// Counts a new tracked object. Returns whether generation 0 is now
    /// over its threshold.
    #[inline]
    pub(crate) fn count_allocation(&self) -> bool {
        let count = self.counts[0].get() + 1;
        self.counts[0].set(count);
        count > self.thresholds[0].get()
    }

    /// Counts tracked object `node` leaving its list for good.
    #[inline]
    pub(crate) fn count_deallocation(&self, node: &TrackedHeader) {
        self.counts[0].set(self.counts[0].get().saturating_sub(1));
        if node.code() == self.old_code.get() {
            self.old_len.set(self.old_len.get() - 1);
        }
    }

    /// Whether automatic collection is off by threshold (`threshold0 == 0`).
    #[inline]
    pub(crate) fn automatic_off(&self) -> bool {
        self.thresholds[0].get() == 0
    }

    /// CPython's `gc_collect_generations`: the oldest generation whose
    /// count exceeds its threshold, except that a full collection waits
    /// until the objects promoted into generation 2 since the last one
    /// (`long_lived_pending`) are a quarter of those that survived it
    /// (`long_lived_total`) — without that, a program building a large data
    /// structure would pay quadratic time in full collections (CPython issue
    /// #4074). Then the next younger generation over its threshold is
    /// collected instead, if any.
    pub(crate) fn to_collect(&self) -> Option<usize> {
        (0..GENERATIONS).rev().find(|&generation| {
            self.counts[generation].get() > self.thresholds[generation].get()
                && (generation != OLDEST
                    || self.long_lived_pending.get() >= self.long_lived_total.get() / 4)
        })
    }

    /// The counters at the start of a collection of `0..=generation`.
    pub(crate) fn start_collection(&self, generation: usize) {
        if generation < OLDEST {
            let next = &self.counts[generation + 1];
            next.set(next.get() + 1);
        }
        for count in &self.counts[..=generation] {
            count.set(0);
        }
    }

    /// Appends the generations younger than `generation` to its list (their
    /// objects keep their codes: the collection's set holds them all).
    pub(crate) fn merge_younger_into(&self, generation: usize) {
        let list = &self.lists[generation];
        for younger in &self.lists[..generation] {
            younger.append_to(list);
        }
    }

    /// The generation survivors of a collection of `generation` go to.
    #[inline]
    pub(crate) fn next(generation: usize) -> usize {
        (generation + 1).min(OLDEST)
    }

    /// Survivor bookkeeping of a collection of `generation` whose graph
    /// passes left `survivors` objects on its (merged) list: they move to
    /// the next generation's list; survivors of a full collection took
    /// `survivor_code` and are the new long-lived total.
    pub(crate) fn promote_survivors(
        &self,
        generation: usize,
        survivors: usize,
        survivor_code: Code,
    ) {
        if generation < OLDEST {
            self.lists[generation].append_to(&self.lists[generation + 1]);
            if generation + 1 == OLDEST {
                self.long_lived_pending
                    .set(self.long_lived_pending.get() + survivors);
                self.old_len.set(self.old_len.get() + survivors);
            }
        } else {
            self.old_code.set(survivor_code);
            self.old_len.set(survivors);
            self.long_lived_pending.set(0);
            self.long_lived_total.set(survivors);
        }
    }

    /// A collection of `generation` without graph passes: every object of
    /// generations `0..=generation` joins the next generation under its
    /// code, with the bookkeeping of a collection that found everything
    /// reachable (generation 2 keeps its code when it is collected itself).
    pub(crate) fn promote_unscanned(&self, generation: usize) {
        let target = Self::next(generation);
        let target_code = if target == 1 {
            Code::GEN1
        } else {
            self.old_code.get()
        };
        let mut moved = 0;
        for list in &self.lists[..target] {
            moved += cycle::set_codes(list, target_code);
            list.append_to(&self.lists[target]);
        }
        if target == OLDEST {
            self.old_len.set(self.old_len.get() + moved);
        }
        if generation + 1 == OLDEST {
            self.long_lived_pending
                .set(self.long_lived_pending.get() + moved);
        } else if generation == OLDEST {
            self.long_lived_pending.set(0);
            self.long_lived_total.set(self.old_len.get());
        }
    }

    /// A full collection's graph pass failed: the merged objects stay on
    /// generation 2's list, all relabelled with its code.
    pub(crate) fn restore_after_failed_full_pass(&self) {
        self.old_len.set(self.lists[OLDEST].len());
    }

    /// Puts a resurrected object back on the list of `generation` (it
    /// already carries that generation's code).
    ///
    /// # Safety
    ///
    /// `node` is on no list.
    pub(crate) unsafe fn rejoin(&self, generation: usize, node: Tracked) {
        if generation == OLDEST {
            self.old_len.set(self.old_len.get() + 1);
        }
        // SAFETY: live and on no list (caller's contract).
        unsafe { self.lists[generation].push_back(node) };
    }

    /// `freeze()`: every tracked object moves to the permanent generation;
    /// all three counts restart at 0.
    pub(crate) fn freeze(&self) {
        for list in &self.lists {
            cycle::set_codes(list, Code::PERMANENT);
            list.append_to(&self.permanent);
        }
        self.old_len.set(0);
        for count in &self.counts {
            count.set(0);
        }
    }

    /// `unfreeze()`: the permanent generation joins the oldest one.
    /// Returns how many objects thawed.
    pub(crate) fn thaw(&self) -> usize {
        let thawed = cycle::set_codes(&self.permanent, self.old_code.get());
        self.permanent.append_to(&self.lists[OLDEST]);
        self.old_len.set(self.old_len.get() + thawed);
        thawed
    }
}
