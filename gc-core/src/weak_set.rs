//! `WeakSet<T>`: Python's `weakref.WeakSet`, by identity.

use core::fmt;
use std::collections::hash_map;

use crate::gc::Gc;
use crate::trace::{Trace, Tracer, TypeFacts};
use crate::weak_entries::{AddressMap, Deaths, Slot};

/// A set of objects held weakly, by identity ([`Gc::ptr_eq`]), like
/// Python's `WeakSet`: an object leaves the set once it dies, on either path
/// (its last strong handle going, or the cycle collector freeing it).
///
/// As in [`WeakValueMap`](crate::WeakValueMap), dead members are invisible
/// at once and purged without your help, in O(1) amortized per death; `len`
/// is exact in O(1). The set owns no strong edge: its [`Trace`] impl visits
/// nothing.
///
/// # Examples
///
/// ```
/// use pygc::{Gc, Trace, WeakSet, collect};
/// use std::cell::RefCell;
///
/// #[derive(Trace)]
/// struct Observer {
///     peer: RefCell<Option<Gc<Observer>>>,
/// }
///
/// let mut observers = WeakSet::new();
/// let a = Gc::new(Observer { peer: RefCell::new(None) });
/// let b = Gc::new(Observer { peer: RefCell::new(Some(a.clone())) });
/// *a.peer.borrow_mut() = Some(b.clone()); // a <-> b
/// observers.insert(a.clone());
/// observers.insert(b.clone());
/// assert_eq!(observers.len(), 2);
/// drop((a, b));
/// collect(); // frees the cycle
/// assert!(observers.is_empty());
/// ```
pub struct WeakSet<T: ?Sized + Trace + 'static> {
    /// Keyed by the object's address: the slot's `Weak` keeps the block
    /// allocated, so no other object can take the address while the entry
    /// exists.
    map: AddressMap<Slot<T>>,
    deaths: Deaths,
}

/// The identity of `g`'s object.
#[inline]
fn address<T: ?Sized + Trace + 'static>(g: &Gc<T>) -> usize {
    Gc::as_ptr(g).cast::<u8>() as usize
}

impl<T: ?Sized + Trace + 'static> WeakSet<T> {
    /// An empty set.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Trace, WeakSet};
    ///
    /// #[derive(Trace)]
    /// struct Observer(u32);
    ///
    /// let set: WeakSet<Observer> = WeakSet::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> Self {
        WeakSet {
            map: AddressMap::default(),
            deaths: Deaths::new(),
        }
    }

    /// Adds `value` (held weakly); returns whether it was not a member yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakSet};
    ///
    /// #[derive(Trace)]
    /// struct Observer(u32);
    ///
    /// let mut set = WeakSet::new();
    /// let a = Gc::new(Observer(1));
    /// assert!(set.insert(a.clone()));
    /// assert!(!set.insert(a.clone()), "by identity");
    /// assert!(set.insert(Gc::new(Observer(1))), "an equal value is another object");
    /// ```
    pub fn insert(&mut self, value: Gc<T>) -> bool {
        self.purge_if_due();
        match self.map.entry(address(&value)) {
            hash_map::Entry::Occupied(mut entry) => {
                if entry.get().is_live() {
                    return false;
                }
                // A condemned object's handle, already in as a dead member.
                let old = entry.insert(self.deaths.slot(&value));
                self.deaths.forget(old);
                true
            }
            hash_map::Entry::Vacant(entry) => {
                entry.insert(self.deaths.slot(&value));
                true
            }
        }
    }

    /// Whether `value`'s object is a (live) member.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakSet};
    ///
    /// #[derive(Trace)]
    /// struct Observer(u32);
    ///
    /// let mut set = WeakSet::new();
    /// let a = Gc::new(Observer(1));
    /// set.insert(a.clone());
    /// assert!(set.contains(&a));
    /// assert!(!set.contains(&Gc::new(Observer(1))));
    /// ```
    pub fn contains(&self, value: &Gc<T>) -> bool {
        self.map.get(&address(value)).is_some_and(Slot::is_live)
    }

    /// Removes `value`'s object; returns whether it was a (live) member.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakSet};
    ///
    /// #[derive(Trace)]
    /// struct Observer(u32);
    ///
    /// let mut set = WeakSet::new();
    /// let a = Gc::new(Observer(1));
    /// set.insert(a.clone());
    /// assert!(set.remove(&a));
    /// assert!(!set.remove(&a));
    /// ```
    pub fn remove(&mut self, value: &Gc<T>) -> bool {
        let Some(slot) = self.map.remove(&address(value)) else {
            return false;
        };
        let live = slot.is_live();
        self.deaths.forget(slot);
        self.purge_if_due();
        live
    }

    /// Number of live members, in O(1) (a member the collector is freeing
    /// counts until the collection's [`finalize`](crate::finalize)
    /// callbacks run; `contains` and `iter` already skip it).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakSet};
    ///
    /// #[derive(Trace)]
    /// struct Observer(u32);
    ///
    /// let mut set = WeakSet::new();
    /// let a = Gc::new(Observer(1));
    /// set.insert(a.clone());
    /// set.insert(Gc::new(Observer(2))); // dies at once
    /// assert_eq!(set.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.map.len() - self.deaths.dead()
    }

    /// Whether no member is alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakSet};
    ///
    /// #[derive(Trace)]
    /// struct Observer(u32);
    ///
    /// let mut set = WeakSet::new();
    /// set.insert(Gc::new(Observer(1)));
    /// assert!(set.is_empty(), "the member died at once");
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Strong handles to the live members, in arbitrary order.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakSet};
    ///
    /// #[derive(Trace)]
    /// struct Observer(u32);
    ///
    /// let mut set = WeakSet::new();
    /// let a = Gc::new(Observer(1));
    /// set.insert(a.clone());
    /// set.insert(Gc::new(Observer(2)));
    /// let ids: Vec<u32> = set.iter().map(|o| o.0).collect();
    /// assert_eq!(ids, [1]);
    /// ```
    pub fn iter(&self) -> WeakSetIter<'_, T> {
        WeakSetIter {
            inner: self.map.values(),
        }
    }

    /// Keeps the live members for which `keep` returns `true`; removes the
    /// others and every dead member.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakSet};
    ///
    /// #[derive(Trace)]
    /// struct Observer(u32);
    ///
    /// let all: Vec<_> = (0..4).map(|i| Gc::new(Observer(i))).collect();
    /// let mut set = WeakSet::new();
    /// for o in &all {
    ///     set.insert(o.clone());
    /// }
    /// set.retain(|o| o.0 >= 2);
    /// assert_eq!(set.len(), 2);
    /// ```
    pub fn retain(&mut self, mut keep: impl FnMut(&Gc<T>) -> bool) {
        self.deaths.retain(
            &mut self.map,
            |slot| slot,
            |_, slot| slot.upgrade().is_some_and(|v| keep(&v)),
        );
    }

    /// Removes every member.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakSet};
    ///
    /// #[derive(Trace)]
    /// struct Observer(u32);
    ///
    /// let mut set = WeakSet::new();
    /// let a = Gc::new(Observer(1));
    /// set.insert(a.clone());
    /// set.clear();
    /// assert!(!set.contains(&a));
    /// ```
    pub fn clear(&mut self) {
        self.map.clear();
        self.deaths.cleared();
    }

    /// Sweeps the dead members once more than half of them are dead.
    fn purge_if_due(&mut self) {
        self.deaths.purge_if_due(&mut self.map, |slot| slot);
    }

    /// Members held, dead ones included (tests).
    #[cfg(test)]
    pub(crate) fn slots(&self) -> usize {
        self.map.len()
    }

    /// Purges so far (tests).
    #[cfg(test)]
    pub(crate) fn purges(&self) -> usize {
        self.deaths.purges()
    }
}

impl<T: ?Sized + Trace + 'static> Default for WeakSet<T> {
    /// Same as [`WeakSet::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::WeakSet;
    /// let set: WeakSet<u8> = Default::default();
    /// assert!(set.is_empty());
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl<T: ?Sized + Trace + fmt::Debug + 'static> fmt::Debug for WeakSet<T> {
    /// Formats the live members.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, WeakSet};
    /// let mut set = WeakSet::new();
    /// let v = Gc::new(5u8);
    /// set.insert(v.clone());
    /// assert_eq!(format!("{set:?}"), "{5}");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Strong handles to the live members of a [`WeakSet`].
///
/// # Examples
///
/// ```
/// use pygc::{Gc, WeakSet};
/// let mut set = WeakSet::new();
/// let v = Gc::new(5u8);
/// set.insert(v.clone());
/// let mut iter = set.iter();
/// assert!(iter.next().is_some_and(|g| Gc::ptr_eq(&g, &v)));
/// assert!(iter.next().is_none());
/// ```
pub struct WeakSetIter<'a, T: ?Sized + Trace + 'static> {
    inner: hash_map::Values<'a, usize, Slot<T>>,
}

impl<T: ?Sized + Trace + 'static> Iterator for WeakSetIter<'_, T> {
    type Item = Gc<T>;

    fn next(&mut self) -> Option<Gc<T>> {
        self.inner.by_ref().find_map(Slot::upgrade)
    }
}

impl<'a, T: ?Sized + Trace + 'static> IntoIterator for &'a WeakSet<T> {
    type Item = Gc<T>;
    type IntoIter = WeakSetIter<'a, T>;

    /// Same as [`WeakSet::iter`].
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, WeakSet};
    /// let mut set = WeakSet::new();
    /// let v = Gc::new(5u8);
    /// set.insert(v.clone());
    /// assert_eq!((&set).into_iter().count(), 1);
    /// ```
    fn into_iter(self) -> WeakSetIter<'a, T> {
        self.iter()
    }
}

// SAFETY: the set owns no `Gc` (members are weak, and the death callbacks
// own none), so visiting nothing is exact and it may never contain one.
unsafe impl<T: ?Sized + Trace + 'static> Trace for WeakSet<T> {
    #[inline]
    fn trace(&self, _tracer: &mut Tracer) {}

    crate::trace_impls::leaf_facts!();
}
