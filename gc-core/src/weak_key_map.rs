//! `WeakKeyMap<K, V>`: Python's `weakref.WeakKeyDictionary`, with
//! ephemeron semantics.

use core::fmt;
use std::collections::hash_map;

use crate::gc::Gc;
use crate::trace::{Trace, Tracer, TypeFacts};
use crate::weak::Weak;
use crate::weak_entries::{AddressMap, Deaths, Slot};

/// A map from objects, held weakly and compared by identity
/// ([`Gc::ptr_eq`]), to values (Python's `WeakKeyDictionary`): an entry
/// disappears once its key dies, on either path (its last strong handle
/// going, or the cycle collector freeing it), and its value is released
/// then.
///
/// **Ephemeron semantics**: an entry's value is reachable only while its
/// key is reachable from elsewhere. A value that references its own key
/// (or a cycle key → value → ... → key) does not keep the entry alive:
/// once the last outside handle to the key goes, one
/// [`collect`](crate::collect) frees key and value and the entry
/// disappears. CPython's `WeakKeyDictionary` leaks exactly this case;
/// JavaScript's `WeakMap` does not.
///
/// This needs a key the collector examines: one whose type may hold a `Gc`
/// (see [`Gc::is_tracked`]). A key of a type that cannot (a
/// `#[derive(Trace)]` struct of plain data, a string, a number) is freed by
/// refcounting only, so a value that references such a key keeps it, and
/// the entry, alive — as in CPython.
///
/// Each value lives in its own object, owned by the key's entry: `get`
/// returns a [`Gc<V>`] handle to it. Dead entries are invisible at once and
/// purged without your help in O(1) amortized per death; `len` is exact in
/// O(1). The map owns no strong edge: its [`Trace`] impl visits nothing.
///
/// # Examples
///
/// ```
/// use pygc::{Gc, Trace, WeakKeyMap, collect};
///
/// #[derive(Trace)]
/// struct Widget {
///     id: u32,
///     parent: Option<Gc<Widget>>, // may hold a `Gc`: collected by the collector
/// }
///
/// #[derive(Trace)]
/// struct Metadata {
///     owner: Gc<Widget>, // the value references its own key
/// }
///
/// let mut meta = WeakKeyMap::new();
/// let w = Gc::new(Widget { id: 1, parent: None });
/// meta.insert(w.clone(), Metadata { owner: w.clone() });
/// assert_eq!(meta.get(&w).unwrap().owner.id, 1);
///
/// drop(w); // the only other handle is inside the entry's own value
/// assert_eq!(meta.len(), 1);
/// collect();
/// assert!(meta.is_empty(), "CPython's WeakKeyDictionary would leak it");
/// ```
pub struct WeakKeyMap<K: ?Sized + Trace + 'static, V: Trace + 'static> {
    /// Keyed by the key object's address: the slot's `Weak` keeps the
    /// block allocated, so no other object can take the address while the
    /// entry exists.
    map: AddressMap<Entry<K, V>>,
    deaths: Deaths,
}

/// One entry: the key (weak, watched; the watch's callback owns the
/// value) and a weak handle to the value.
struct Entry<K: ?Sized + Trace + 'static, V: Trace + 'static> {
    key: Slot<K>,
    value: Weak<V>,
}

impl<K: ?Sized + Trace + 'static, V: Trace + 'static> Entry<K, V> {
    /// Key and value, if the key is alive.
    fn upgrade(&self) -> Option<(Gc<K>, Gc<V>)> {
        let key = self.key.upgrade()?;
        Some((key, self.value.upgrade()?))
    }

    /// The value, if the key is alive.
    fn value(&self) -> Option<Gc<V>> {
        if self.key.is_live() {
            self.value.upgrade()
        } else {
            None
        }
    }
}

/// The identity of `g`'s object.
#[inline]
fn address<T: ?Sized + Trace + 'static>(g: &Gc<T>) -> usize {
    Gc::as_ptr(g).cast::<u8>() as usize
}

impl<K: ?Sized + Trace + 'static, V: Trace + 'static> WeakKeyMap<K, V> {
    /// An empty map.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Trace, WeakKeyMap};
    ///
    /// #[derive(Trace)]
    /// struct Widget(u32);
    ///
    /// let map: WeakKeyMap<Widget, String> = WeakKeyMap::new();
    /// assert!(map.is_empty());
    /// ```
    pub fn new() -> Self {
        WeakKeyMap {
            map: AddressMap::default(),
            deaths: Deaths::new(),
        }
    }

    /// Maps `key`'s object to `value`; returns the previous value if the
    /// key had one. The value moves into an object of its own, released
    /// when the key dies or the entry is removed.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakKeyMap};
    ///
    /// #[derive(Trace)]
    /// struct Widget(u32);
    ///
    /// let mut map = WeakKeyMap::new();
    /// let w = Gc::new(Widget(1));
    /// assert!(map.insert(w.clone(), "first").is_none());
    /// assert_eq!(map.insert(w.clone(), "second").as_deref(), Some(&"first"));
    /// assert!(map.insert(Gc::new(Widget(1)), "other object").is_none());
    /// ```
    pub fn insert(&mut self, key: Gc<K>, value: V) -> Option<Gc<V>> {
        self.purge_if_due();
        // Allocate before touching the map: a collection may start here.
        let value = Gc::new(value);
        let weak_value = Gc::downgrade(&value);
        let entry = Entry {
            key: self.deaths.slot_owning(&key, value),
            value: weak_value,
        };
        let old = self.map.insert(address(&key), entry)?;
        let previous = old.value();
        self.deaths.forget(old.key);
        previous
    }

    /// The value of `key`'s object if it has an entry; otherwise `make()`'s
    /// value, stored as its entry and returned (Python's
    /// `d.setdefault(k, make())`, with `make` called only when needed).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakKeyMap};
    ///
    /// #[derive(Trace)]
    /// struct Widget(u32);
    ///
    /// let mut clicks = WeakKeyMap::new();
    /// let w = Gc::new(Widget(1));
    /// let count = clicks.get_or_insert_with(w.clone(), || std::cell::Cell::new(0));
    /// count.set(count.get() + 1);
    /// let again = clicks.get_or_insert_with(w.clone(), || unreachable!());
    /// assert_eq!(again.get(), 1);
    /// ```
    pub fn get_or_insert_with(&mut self, key: Gc<K>, make: impl FnOnce() -> V) -> Gc<V> {
        if let Some(value) = self.get(&key) {
            return value;
        }
        self.purge_if_due();
        // Allocate before touching the map: a collection may start here.
        let value = Gc::new(make());
        let entry = Entry {
            key: self.deaths.slot_owning(&key, value.clone()),
            value: Gc::downgrade(&value),
        };
        // No entry is at this address (an entry's slot holds a `Weak` to
        // its key, so a dead key's block, and address, stay taken until the
        // entry goes); should one be, it is replaced like `insert` does.
        if let Some(old) = self.map.insert(address(&key), entry) {
            self.deaths.forget(old.key);
        }
        value
    }

    /// The value of `key`'s object, if it has an entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakKeyMap};
    ///
    /// #[derive(Trace)]
    /// struct Widget(u32);
    ///
    /// let mut map = WeakKeyMap::new();
    /// let w = Gc::new(Widget(1));
    /// map.insert(w.clone(), String::from("meta"));
    /// assert_eq!(map.get(&w).as_deref().map(String::as_str), Some("meta"));
    /// assert!(map.get(&Gc::new(Widget(1))).is_none());
    /// ```
    pub fn get(&self, key: &Gc<K>) -> Option<Gc<V>> {
        self.map.get(&address(key))?.value()
    }

    /// Whether `key`'s object has an entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakKeyMap};
    ///
    /// #[derive(Trace)]
    /// struct Widget(u32);
    ///
    /// let mut map = WeakKeyMap::new();
    /// let w = Gc::new(Widget(1));
    /// map.insert(w.clone(), 5);
    /// assert!(map.contains_key(&w));
    /// ```
    pub fn contains_key(&self, key: &Gc<K>) -> bool {
        self.map
            .get(&address(key))
            .is_some_and(|entry| entry.key.is_live())
    }

    /// Removes the entry of `key`'s object; returns its value.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakKeyMap};
    ///
    /// #[derive(Trace)]
    /// struct Widget(u32);
    ///
    /// let mut map = WeakKeyMap::new();
    /// let w = Gc::new(Widget(1));
    /// map.insert(w.clone(), 5);
    /// assert_eq!(map.remove(&w).as_deref(), Some(&5));
    /// assert!(map.remove(&w).is_none());
    /// ```
    pub fn remove(&mut self, key: &Gc<K>) -> Option<Gc<V>> {
        let entry = self.map.remove(&address(key))?;
        let value = entry.value();
        self.deaths.forget(entry.key);
        self.purge_if_due();
        value
    }

    /// Number of entries whose key is alive, in O(1) (a key the collector
    /// is freeing counts until the collection's
    /// [`finalize`](crate::finalize) callbacks run; `get` and `iter`
    /// already skip it).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakKeyMap};
    ///
    /// #[derive(Trace)]
    /// struct Widget(u32);
    ///
    /// let mut map = WeakKeyMap::new();
    /// let w = Gc::new(Widget(1));
    /// map.insert(w.clone(), 1);
    /// map.insert(Gc::new(Widget(2)), 2); // the key dies at once
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.map.len() - self.deaths.dead()
    }

    /// Whether no entry's key is alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakKeyMap};
    ///
    /// #[derive(Trace)]
    /// struct Widget(u32);
    ///
    /// let mut map = WeakKeyMap::new();
    /// map.insert(Gc::new(Widget(1)), 1);
    /// assert!(map.is_empty(), "the key died at once");
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live entries, as `(Gc<K>, Gc<V>)`, in arbitrary order.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakKeyMap};
    ///
    /// #[derive(Trace)]
    /// struct Widget(u32);
    ///
    /// let mut map = WeakKeyMap::new();
    /// let w = Gc::new(Widget(1));
    /// map.insert(w.clone(), "kept");
    /// map.insert(Gc::new(Widget(2)), "gone");
    /// let live: Vec<_> = map.iter().map(|(k, v)| (k.0, *v)).collect();
    /// assert_eq!(live, [(1, "kept")]);
    /// ```
    pub fn iter(&self) -> WeakKeyMapIter<'_, K, V> {
        WeakKeyMapIter {
            inner: self.map.values(),
        }
    }

    /// Keeps the live entries for which `keep` returns `true`; removes the
    /// others and every dead entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakKeyMap};
    ///
    /// #[derive(Trace)]
    /// struct Widget(u32);
    ///
    /// let widgets: Vec<_> = (0..4).map(|i| Gc::new(Widget(i))).collect();
    /// let mut map = WeakKeyMap::new();
    /// for w in &widgets {
    ///     map.insert(w.clone(), w.0 * 10);
    /// }
    /// map.retain(|_, v| **v >= 20);
    /// assert_eq!(map.len(), 2);
    /// ```
    pub fn retain(&mut self, mut keep: impl FnMut(&Gc<K>, &Gc<V>) -> bool) {
        self.deaths.retain(
            &mut self.map,
            |entry| &entry.key,
            |_, entry| entry.upgrade().is_some_and(|(k, v)| keep(&k, &v)),
        );
    }

    /// Removes every entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakKeyMap};
    ///
    /// #[derive(Trace)]
    /// struct Widget(u32);
    ///
    /// let mut map = WeakKeyMap::new();
    /// let w = Gc::new(Widget(1));
    /// map.insert(w.clone(), 1);
    /// map.clear();
    /// assert!(map.get(&w).is_none());
    /// ```
    pub fn clear(&mut self) {
        self.map.clear();
        self.deaths.cleared();
    }

    /// Sweeps the dead entries once more than half of them are dead.
    fn purge_if_due(&mut self) {
        self.deaths.purge_if_due(&mut self.map, |entry| &entry.key);
    }

    /// Entries held, dead ones included (tests).
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

impl<K: ?Sized + Trace + 'static, V: Trace + 'static> Default for WeakKeyMap<K, V> {
    /// Same as [`WeakKeyMap::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::WeakKeyMap;
    /// let map: WeakKeyMap<u8, u8> = Default::default();
    /// assert!(map.is_empty());
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> fmt::Debug for WeakKeyMap<K, V>
where
    K: ?Sized + Trace + fmt::Debug + 'static,
    V: Trace + fmt::Debug + 'static,
{
    /// Formats the live entries.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, WeakKeyMap};
    /// let mut map = WeakKeyMap::new();
    /// let k = Gc::new(1u8);
    /// map.insert(k.clone(), "one");
    /// assert_eq!(format!("{map:?}"), r#"{1: "one"}"#);
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The live entries of a [`WeakKeyMap`], as `(Gc<K>, Gc<V>)`.
///
/// # Examples
///
/// ```
/// use pygc::{Gc, WeakKeyMap};
/// let mut map = WeakKeyMap::new();
/// let k = Gc::new(1u8);
/// map.insert(k.clone(), 2u8);
/// let mut iter = map.iter();
/// assert_eq!(iter.next().map(|(k, v)| (*k, *v)), Some((1, 2)));
/// assert!(iter.next().is_none());
/// ```
pub struct WeakKeyMapIter<'a, K: ?Sized + Trace + 'static, V: Trace + 'static> {
    inner: hash_map::Values<'a, usize, Entry<K, V>>,
}

impl<K: ?Sized + Trace + 'static, V: Trace + 'static> Iterator for WeakKeyMapIter<'_, K, V> {
    type Item = (Gc<K>, Gc<V>);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.by_ref().find_map(Entry::upgrade)
    }
}

impl<'a, K: ?Sized + Trace + 'static, V: Trace + 'static> IntoIterator for &'a WeakKeyMap<K, V> {
    type Item = (Gc<K>, Gc<V>);
    type IntoIter = WeakKeyMapIter<'a, K, V>;

    /// Same as [`WeakKeyMap::iter`].
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, WeakKeyMap};
    /// let mut map = WeakKeyMap::new();
    /// let k = Gc::new(1u8);
    /// map.insert(k.clone(), 2u8);
    /// assert_eq!((&map).into_iter().count(), 1);
    /// ```
    fn into_iter(self) -> WeakKeyMapIter<'a, K, V> {
        self.iter()
    }
}

// SAFETY: the map owns no `Gc`: keys and values are weak handles (each
// value's strong handle belongs to its key's side-table entry, which the
// collector traces as an edge of the key), so visiting nothing is exact.
unsafe impl<K: ?Sized + Trace + 'static, V: Trace + 'static> Trace for WeakKeyMap<K, V> {
    #[inline]
    fn trace(&self, _tracer: &mut Tracer) {}

    crate::trace_impls::leaf_facts!();
}
