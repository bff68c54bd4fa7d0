//! `WeakValueMap<K, V>`: Python's `weakref.WeakValueDictionary`.

use core::borrow::Borrow;
use core::fmt;
use core::hash::Hash;
use std::collections::HashMap;
use std::collections::hash_map;

use crate::gc::Gc;
use crate::trace::{TYPE_NESTING_BUDGET, Trace, Tracer, TypeFacts};
use crate::weak_entries::{Deaths, Slot};
pub use crate::weak_value_map_entry::{Entry, OccupiedEntry, VacantEntry};

/// A hash map whose values are held weakly (Python's
/// `WeakValueDictionary`): an entry disappears once its value dies, on
/// either path (its last strong handle going, or the cycle collector
/// freeing it). Keys are held strongly.
///
/// Dead entries are invisible at once (`get`, `iter`, `len`, ...) and purged
/// without your help: each entry's value carries a [`finalize`](crate::finalize)
/// callback that counts its death, so `len` is exact in O(1) and the map
/// sweeps itself (on `insert` and `remove`) only once more than half of its
/// entries are dead — O(1) amortized per death.
///
/// The map owns no strong edge to its values: its [`Trace`] impl visits the
/// keys only (a key may hold `Gc`s).
///
/// # Examples
///
/// ```
/// use pygc::{Gc, Trace, WeakValueMap, collect};
/// use std::cell::RefCell;
///
/// #[derive(Trace)]
/// struct Image {
///     name: String,
///     next: RefCell<Option<Gc<Image>>>,
/// }
///
/// let mut cache = WeakValueMap::new();
/// let logo = Gc::new(Image { name: "logo".into(), next: RefCell::new(None) });
/// cache.insert("logo", logo.clone());
/// assert_eq!(cache.get("logo").unwrap().name, "logo");
///
/// // A value in a garbage cycle: the entry goes with one `collect()`.
/// *logo.next.borrow_mut() = Some(logo.clone());
/// drop(logo);
/// assert_eq!(cache.len(), 1);
/// collect();
/// assert!(cache.get("logo").is_none());
/// assert!(cache.is_empty());
/// ```
pub struct WeakValueMap<K, V: ?Sized + Trace + 'static> {
    map: HashMap<K, Slot<V>>,
    deaths: Deaths,
}

impl<K, V: ?Sized + Trace + 'static> WeakValueMap<K, V> {
    /// An empty map.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Trace, WeakValueMap};
    ///
    /// #[derive(Trace)]
    /// struct Session(u32);
    ///
    /// let sessions: WeakValueMap<u32, Session> = WeakValueMap::new();
    /// assert!(sessions.is_empty());
    /// ```
    pub fn new() -> Self {
        WeakValueMap {
            map: HashMap::new(),
            deaths: Deaths::new(),
        }
    }

    /// Number of entries whose value is alive, in O(1).
    ///
    /// A value the collector is freeing counts until the collection's
    /// [`finalize`](crate::finalize) callbacks run (after its values are
    /// dropped); `get` and `iter` already skip it.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap};
    ///
    /// #[derive(Trace)]
    /// struct Session(u32);
    ///
    /// let mut sessions = WeakValueMap::new();
    /// let s = Gc::new(Session(1));
    /// sessions.insert(1, s.clone());
    /// sessions.insert(2, Gc::new(Session(2))); // dies at once
    /// assert_eq!(sessions.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.map.len() - self.deaths.dead()
    }

    /// Whether no entry's value is alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap};
    ///
    /// #[derive(Trace)]
    /// struct Session(u32);
    ///
    /// let mut sessions = WeakValueMap::new();
    /// sessions.insert(1, Gc::new(Session(1)));
    /// assert!(sessions.is_empty(), "the value died at once");
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live entries, as `(&K, Gc<V>)`, in arbitrary order.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap};
    ///
    /// #[derive(Trace)]
    /// struct Session(u32);
    ///
    /// let mut sessions = WeakValueMap::new();
    /// let kept = Gc::new(Session(7));
    /// sessions.insert("kept", kept.clone());
    /// sessions.insert("gone", Gc::new(Session(8)));
    /// let live: Vec<_> = sessions.iter().map(|(k, v)| (*k, v.0)).collect();
    /// assert_eq!(live, [("kept", 7)]);
    /// ```
    pub fn iter(&self) -> WeakValueMapIter<'_, K, V> {
        WeakValueMapIter {
            inner: self.map.iter(),
        }
    }

    /// Removes every entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap};
    ///
    /// #[derive(Trace)]
    /// struct Session(u32);
    ///
    /// let mut sessions = WeakValueMap::new();
    /// let s = Gc::new(Session(1));
    /// sessions.insert(1, s.clone());
    /// sessions.clear();
    /// assert!(sessions.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.map.clear();
        self.deaths.cleared();
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

impl<K: Eq + Hash, V: ?Sized + Trace + 'static> WeakValueMap<K, V> {
    /// Inserts `value` under `key`, held weakly; returns the previous value
    /// if it was alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap};
    ///
    /// #[derive(Trace)]
    /// struct Session(u32);
    ///
    /// let mut sessions = WeakValueMap::new();
    /// let a = Gc::new(Session(1));
    /// let b = Gc::new(Session(2));
    /// assert!(sessions.insert("s", a.clone()).is_none());
    /// let old = sessions.insert("s", b.clone()).unwrap();
    /// assert!(Gc::ptr_eq(&old, &a));
    /// ```
    pub fn insert(&mut self, key: K, value: Gc<V>) -> Option<Gc<V>> {
        self.purge_if_due();
        let slot = self.deaths.slot(&value);
        let old = self.map.insert(key, slot)?;
        let previous = old.upgrade();
        self.deaths.forget(old);
        previous
    }

    /// The value under `key` if it is alive; otherwise `make()`'s value,
    /// stored under `key` (held weakly) and returned. The cache idiom
    /// (Python's `d.get(k)` falling back to `d[k] = make()`), with one hash
    /// lookup: `map.entry(key).or_insert_with(make)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap};
    ///
    /// #[derive(Trace)]
    /// struct Font(String);
    ///
    /// let mut fonts = WeakValueMap::new();
    /// let a = fonts.get_or_insert_with("mono", || Gc::new(Font("mono".into())));
    /// // Alive: the same object comes back, `make` is not called.
    /// let b = fonts.get_or_insert_with("mono", || unreachable!());
    /// assert!(Gc::ptr_eq(&a, &b));
    /// // Dead: the entry is rebuilt.
    /// drop((a, b));
    /// let c = fonts.get_or_insert_with("mono", || Gc::new(Font("mono 2".into())));
    /// assert_eq!(c.0, "mono 2");
    /// assert_eq!(fonts.len(), 1);
    /// ```
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> Gc<V>) -> Gc<V> {
        self.entry(key).or_insert_with(make)
    }

    /// The [`Entry`] of `key`, for reading, inserting or replacing its
    /// value with one hash lookup. An entry whose value has died is
    /// [vacant](Entry::Vacant).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap, weak_value_map::Entry};
    ///
    /// #[derive(Trace)]
    /// struct Session(u32);
    ///
    /// let mut sessions = WeakValueMap::new();
    /// let s = sessions.entry("alice").or_insert_with(|| Gc::new(Session(1)));
    /// match sessions.entry("alice") {
    ///     Entry::Occupied(entry) => assert_eq!(entry.get().0, 1),
    ///     Entry::Vacant(_) => unreachable!("s holds it"),
    /// }
    /// drop(s);
    /// assert!(matches!(sessions.entry("alice"), Entry::Vacant(_)));
    /// ```
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        self.purge_if_due();
        Entry::of(self.map.entry(key), &self.deaths)
    }

    /// The value under `key`, if it is alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap};
    ///
    /// #[derive(Trace)]
    /// struct Session(u32);
    ///
    /// let mut sessions = WeakValueMap::new();
    /// let s = Gc::new(Session(1));
    /// sessions.insert(String::from("alice"), s.clone());
    /// assert_eq!(sessions.get("alice").map(|s| s.0), Some(1));
    /// drop(s);
    /// assert!(sessions.get("alice").is_none());
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<Gc<V>>
    where
        K: Borrow<Q>,
        Q: ?Sized + Eq + Hash,
    {
        self.map.get(key)?.upgrade()
    }

    /// Whether `key` has an entry whose value is alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap};
    ///
    /// #[derive(Trace)]
    /// struct Session(u32);
    ///
    /// let mut sessions = WeakValueMap::new();
    /// let s = Gc::new(Session(1));
    /// sessions.insert(1, s.clone());
    /// assert!(sessions.contains_key(&1));
    /// drop(s);
    /// assert!(!sessions.contains_key(&1));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: ?Sized + Eq + Hash,
    {
        self.map.get(key).is_some_and(Slot::is_live)
    }

    /// Removes the entry under `key`; returns its value if it was alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap};
    ///
    /// #[derive(Trace)]
    /// struct Session(u32);
    ///
    /// let mut sessions = WeakValueMap::new();
    /// let s = Gc::new(Session(1));
    /// sessions.insert(1, s.clone());
    /// assert!(sessions.remove(&1).is_some());
    /// assert!(sessions.remove(&1).is_none());
    /// ```
    pub fn remove<Q>(&mut self, key: &Q) -> Option<Gc<V>>
    where
        K: Borrow<Q>,
        Q: ?Sized + Eq + Hash,
    {
        let slot = self.map.remove(key)?;
        let value = slot.upgrade();
        self.deaths.forget(slot);
        self.purge_if_due();
        value
    }

    /// Keeps the live entries for which `keep` returns `true`; removes the
    /// others and every dead entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap};
    ///
    /// #[derive(Trace)]
    /// struct Session(u32);
    ///
    /// let mut sessions = WeakValueMap::new();
    /// let values: Vec<_> = (0..4).map(|i| Gc::new(Session(i))).collect();
    /// for (i, v) in values.iter().enumerate() {
    ///     sessions.insert(i, v.clone());
    /// }
    /// sessions.retain(|_, v| v.0 % 2 == 0);
    /// assert_eq!(sessions.len(), 2);
    /// ```
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &Gc<V>) -> bool) {
        self.deaths.retain(
            &mut self.map,
            |slot| slot,
            |k, slot| slot.upgrade().is_some_and(|v| keep(k, &v)),
        );
    }

    /// Sweeps the dead entries once more than half of them are dead.
    fn purge_if_due(&mut self) {
        self.deaths.purge_if_due(&mut self.map, |slot| slot);
    }
}

impl<K, V: ?Sized + Trace + 'static> Default for WeakValueMap<K, V> {
    /// Same as [`WeakValueMap::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::WeakValueMap;
    /// let map: WeakValueMap<u8, u8> = Default::default();
    /// assert!(map.is_empty());
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl<K: fmt::Debug, V: ?Sized + Trace + fmt::Debug + 'static> fmt::Debug for WeakValueMap<K, V> {
    /// Formats the live entries.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, WeakValueMap};
    /// let mut map = WeakValueMap::new();
    /// let v = Gc::new(5u8);
    /// map.insert(1u8, v.clone());
    /// assert_eq!(format!("{map:?}"), "{1: 5}");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The live entries of a [`WeakValueMap`], as `(&K, Gc<V>)`.
///
/// # Examples
///
/// ```
/// use pygc::{Gc, WeakValueMap};
/// let mut map = WeakValueMap::new();
/// let v = Gc::new(5u8);
/// map.insert(1u8, v.clone());
/// let mut iter = map.iter();
/// assert_eq!(iter.next().map(|(k, v)| (*k, *v)), Some((1, 5)));
/// assert!(iter.next().is_none());
/// ```
pub struct WeakValueMapIter<'a, K, V: ?Sized + Trace + 'static> {
    inner: hash_map::Iter<'a, K, Slot<V>>,
}

impl<'a, K, V: ?Sized + Trace + 'static> Iterator for WeakValueMapIter<'a, K, V> {
    type Item = (&'a K, Gc<V>);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner
            .by_ref()
            .find_map(|(k, slot)| Some((k, slot.upgrade()?)))
    }
}

impl<'a, K, V: ?Sized + Trace + 'static> IntoIterator for &'a WeakValueMap<K, V> {
    type Item = (&'a K, Gc<V>);
    type IntoIter = WeakValueMapIter<'a, K, V>;

    /// Same as [`WeakValueMap::iter`].
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, WeakValueMap};
    /// let mut map = WeakValueMap::new();
    /// let v = Gc::new(5u8);
    /// map.insert(1u8, v.clone());
    /// for (k, v) in &map {
    ///     assert_eq!((*k, *v), (1, 5));
    /// }
    /// ```
    fn into_iter(self) -> WeakValueMapIter<'a, K, V> {
        self.iter()
    }
}

// SAFETY: the map owns the `Gc`s of its keys only (values are weak, and the
// death callbacks own no `Gc`); each key is visited once through its impl.
unsafe impl<K: Trace, V: ?Sized + Trace + 'static> Trace for WeakValueMap<K, V> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer) {
        if !Self::may_contain_gc() {
            return;
        }
        for key in self.map.keys() {
            key.trace(tracer);
        }
    }

    #[inline]
    fn may_contain_gc() -> bool {
        Self::__may_contain_gc_within(TYPE_NESTING_BUDGET)
    }

    #[inline]
    fn __may_contain_gc_within(budget: u32) -> bool {
        K::__may_contain_gc_within(budget)
    }

    #[inline]
    fn has_finalizer() -> bool {
        false
    }

    #[inline]
    fn __value_facts(&self) -> TypeFacts {
        TypeFacts::of::<Self>()
    }
}
