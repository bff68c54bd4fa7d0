//! What [`WeakValueMap`](crate::WeakValueMap), [`WeakSet`](crate::WeakSet)
//! and [`WeakKeyMap`](crate::WeakKeyMap) share: weakly held entries that count their
//! own deaths.
//!
//! Each entry ([`Slot`]) holds a `Weak` and a [`finalize`] callback that
//! bumps the container's death counter ([`Deaths`]). So the container knows
//! how many of its entries are dead without looking at them: `len` is exact
//! in O(1), and a purge (an O(n) sweep) runs only once more than half of
//! the entries are dead — O(1) amortized per death, never O(n) per death.
//!
//! Invariant: `dead` is the number of slots in the container whose callback
//! has run (or that were dead on arrival). A slot the container removes is
//! [`Deaths::forget`]ten: if its callback had run, the count goes down; if
//! not, the callback is detached and will never count it.

use core::cell::Cell;
use core::hash::{BuildHasherDefault, Hasher};
use std::collections::HashMap;
use std::rc::Rc;

use crate::gc::Gc;
use crate::trace::Trace;
use crate::weak::Weak;
use crate::weakref_finalize::{FinalizeHandle, finalize, finalize_ephemeron};

/// A hash map keyed by object addresses (no need for SipHash's flooding
/// resistance: the allocator, not an adversary, picks the keys).
pub(crate) type AddressMap<V> = HashMap<usize, V, BuildHasherDefault<AddressHasher>>;

/// Hashes one address: a multiplicative (Fibonacci) hash, whose high bits
/// hashbrown uses for its control bytes and low bits for its buckets.
#[derive(Default)]
pub(crate) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        let h = (self.0 ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}

/// Purges wait for at least this many dead entries (and for more than half
/// of the entries to be dead).
pub(crate) const PURGE_MIN: usize = 16;

/// One weakly held entry. Dropping it detaches its death callback.
pub(crate) struct Slot<T: ?Sized + Trace + 'static> {
    weak: Weak<T>,
    watch: FinalizeHandle,
}

impl<T: ?Sized + Trace + 'static> Slot<T> {
    /// A strong handle, unless the object is dead.
    #[inline]
    pub(crate) fn upgrade(&self) -> Option<Gc<T>> {
        self.weak.upgrade()
    }

    /// Whether the object is still alive (its weak references work).
    #[inline]
    pub(crate) fn is_live(&self) -> bool {
        self.weak.strong_count() > 0
    }
}

impl<T: ?Sized + Trace + 'static> Drop for Slot<T> {
    fn drop(&mut self) {
        self.watch.detach();
    }
}

/// A container's death counter.
pub(crate) struct Deaths {
    dead: Rc<Cell<usize>>,
    /// Purges so far (tests assert they stay amortized).
    #[cfg(test)]
    purges: Cell<usize>,
}

impl Deaths {
    pub(crate) fn new() -> Self {
        Deaths {
            dead: Rc::new(Cell::new(0)),
            #[cfg(test)]
            purges: Cell::new(0),
        }
    }

    /// A slot for `g` whose death this counter will count.
    pub(crate) fn slot<T: ?Sized + Trace + 'static>(&self, g: &Gc<T>) -> Slot<T> {
        let dead = self.dead.clone();
        let watch = finalize(g, move || dead.set(dead.get() + 1));
        self.adopt(g, watch)
    }

    /// A slot for `key` whose death this counter will count, and whose
    /// callback owns `value` (a `WeakKeyMap` entry's value: an ephemeron
    /// edge of the key, dropped when the key dies or the slot goes).
    pub(crate) fn slot_owning<K, V>(&self, key: &Gc<K>, value: Gc<V>) -> Slot<K>
    where
        K: ?Sized + Trace + 'static,
        V: ?Sized + Trace + 'static,
    {
        let dead = self.dead.clone();
        let watch = finalize_ephemeron(key, value, move || dead.set(dead.get() + 1));
        self.adopt(key, watch)
    }

    /// The slot of `g` watched by `watch`.
    fn adopt<T: ?Sized + Trace + 'static>(&self, g: &Gc<T>, watch: FinalizeHandle) -> Slot<T> {
        if !watch.alive() {
            // A handle to an object the collector already condemned: dead
            // on arrival.
            self.dead.set(self.dead.get() + 1);
        }
        Slot {
            weak: Gc::downgrade(g),
            watch,
        }
    }

    /// The container removed `slot`.
    pub(crate) fn forget<T: ?Sized + Trace + 'static>(&self, slot: Slot<T>) {
        self.unwatch(&slot);
    }

    /// The container is about to drop `slot`: its death no longer counts
    /// (it was counted: the count goes down; or its callback is detached).
    pub(crate) fn unwatch<T: ?Sized + Trace + 'static>(&self, slot: &Slot<T>) {
        if !slot.watch.detach() {
            self.dead.set(self.dead.get() - 1);
        }
    }

    /// Keeps the slots for which `keep` is `true` (called with `deaths`),
    /// unwatching the others: `retain` of the container's map with the
    /// death count kept exact.
    pub(crate) fn sweep<T: ?Sized + Trace + 'static>(
        &self,
        slot: &Slot<T>,
        keep: impl FnOnce() -> bool,
    ) -> bool {
        let kept = keep() && slot.is_live();
        if !kept {
            self.unwatch(slot);
        }
        kept
    }

    /// `retain` of a container's `map`, whose entries name their slot
    /// through `slot_of`: keeps the entries for which `keep` is `true` and
    /// whose slot is still live (checked after `keep`, which may drop
    /// handles or run a collection), with the death count kept exact.
    pub(crate) fn retain<K, E, S, T: ?Sized + Trace + 'static>(
        &self,
        map: &mut HashMap<K, E, S>,
        slot_of: impl Fn(&E) -> &Slot<T>,
        mut keep: impl FnMut(&K, &E) -> bool,
    ) {
        map.retain(|key, entry| self.sweep(slot_of(entry), || keep(key, entry)));
        self.note_purge();
    }

    /// Removes the dead entries of a container's `map` once more than half
    /// of them are dead: O(1) amortized per death.
    pub(crate) fn purge_if_due<K, E, S, T: ?Sized + Trace + 'static>(
        &self,
        map: &mut HashMap<K, E, S>,
        slot_of: impl Fn(&E) -> &Slot<T>,
    ) {
        if self.due(map.len()) {
            self.retain(map, slot_of, |_, _| true);
        }
    }

    /// Entries counted dead and not yet removed.
    #[inline]
    pub(crate) fn dead(&self) -> usize {
        self.dead.get()
    }

    /// Whether a container of `slots` entries should purge now.
    #[inline]
    pub(crate) fn due(&self, slots: usize) -> bool {
        let dead = self.dead.get();
        dead >= PURGE_MIN && dead * 2 > slots
    }

    /// Counts a purge (tests assert they stay amortized).
    pub(crate) fn note_purge(&self) {
        #[cfg(test)]
        self.purges.set(self.purges.get() + 1);
    }

    /// The container dropped all its slots.
    pub(crate) fn cleared(&self) {
        self.dead.set(0);
    }

    /// Purges so far.
    #[cfg(test)]
    pub(crate) fn purges(&self) -> usize {
        self.purges.get()
    }
}
