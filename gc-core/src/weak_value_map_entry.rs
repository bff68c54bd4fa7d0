//! The `Entry` API of [`WeakValueMap`](crate::WeakValueMap): one hash
//! lookup to read, insert or replace the value under a key.
//!
//! An entry whose value has died is **vacant**: to the user it is as if the
//! key were missing (as `get` and `contains_key` see it), and inserting into
//! it reuses its slot. Values are shared objects, so where std's entries
//! hand out `&mut V` these hand out the `Gc<V>`.

use core::fmt;
use std::collections::hash_map;

use crate::gc::Gc;
use crate::trace::Trace;
use crate::weak_entries::{Deaths, Slot};

/// A view into one key of a [`WeakValueMap`](crate::WeakValueMap), from
/// [`WeakValueMap::entry`](crate::WeakValueMap::entry).
///
/// # Examples
///
/// ```
/// use pygc::{Gc, Trace, WeakValueMap, weak_value_map::Entry};
///
/// #[derive(Trace)]
/// struct Glyph(char);
///
/// let mut glyphs = WeakValueMap::new();
/// let a = Gc::new(Glyph('a'));
/// glyphs.insert('a', a.clone());
/// match glyphs.entry('a') {
///     Entry::Occupied(entry) => assert!(Gc::ptr_eq(entry.get(), &a)),
///     Entry::Vacant(_) => unreachable!("a is alive"),
/// }
/// drop(a);
/// // A dead value's entry is vacant.
/// assert!(matches!(glyphs.entry('a'), Entry::Vacant(_)));
/// ```
pub enum Entry<'a, K, V: ?Sized + Trace + 'static> {
    /// The key has a live value.
    Occupied(OccupiedEntry<'a, K, V>),
    /// The key is missing, or its value has died.
    Vacant(VacantEntry<'a, K, V>),
}

/// An entry whose value is alive (it holds a strong handle to it while the
/// entry lives).
///
/// # Examples
///
/// ```
/// use pygc::{Gc, Trace, WeakValueMap, weak_value_map::Entry};
///
/// #[derive(Trace)]
/// struct Glyph(char);
///
/// let mut glyphs = WeakValueMap::new();
/// let a = Gc::new(Glyph('a'));
/// glyphs.insert(1, a.clone());
/// if let Entry::Occupied(entry) = glyphs.entry(1) {
///     assert_eq!(*entry.key(), 1);
///     assert_eq!(entry.remove().0, 'a');
/// }
/// assert!(glyphs.is_empty());
/// ```
pub struct OccupiedEntry<'a, K, V: ?Sized + Trace + 'static> {
    entry: hash_map::OccupiedEntry<'a, K, Slot<V>>,
    value: Gc<V>,
    deaths: &'a Deaths,
}

/// An entry with no live value: the key is missing, or its value died.
///
/// # Examples
///
/// ```
/// use pygc::{Gc, Trace, WeakValueMap, weak_value_map::Entry};
///
/// #[derive(Trace)]
/// struct Glyph(char);
///
/// let mut glyphs = WeakValueMap::new();
/// if let Entry::Vacant(entry) = glyphs.entry('b') {
///     assert_eq!(*entry.key(), 'b');
///     let b = entry.insert(Gc::new(Glyph('b')));
///     assert_eq!(glyphs.get(&'b').unwrap().0, b.0);
/// }
/// ```
pub struct VacantEntry<'a, K, V: ?Sized + Trace + 'static> {
    place: Place<'a, K, V>,
    deaths: &'a Deaths,
}

/// Where a vacant entry's value goes.
enum Place<'a, K, V: ?Sized + Trace + 'static> {
    /// A new slot.
    Absent(hash_map::VacantEntry<'a, K, Slot<V>>),
    /// The slot of a dead value, reused.
    Dead(hash_map::OccupiedEntry<'a, K, Slot<V>>),
}

impl<'a, K, V: ?Sized + Trace + 'static> Entry<'a, K, V> {
    /// The entry of `key` in `map`, reading its value's liveness once.
    pub(crate) fn of(entry: hash_map::Entry<'a, K, Slot<V>>, deaths: &'a Deaths) -> Self {
        match entry {
            hash_map::Entry::Occupied(entry) => match entry.get().upgrade() {
                Some(value) => Entry::Occupied(OccupiedEntry {
                    entry,
                    value,
                    deaths,
                }),
                None => Entry::Vacant(VacantEntry {
                    place: Place::Dead(entry),
                    deaths,
                }),
            },
            hash_map::Entry::Vacant(entry) => Entry::Vacant(VacantEntry {
                place: Place::Absent(entry),
                deaths,
            }),
        }
    }

    /// The entry's key.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Trace, WeakValueMap};
    ///
    /// #[derive(Trace)]
    /// struct Glyph(char);
    ///
    /// let mut glyphs: WeakValueMap<char, Glyph> = WeakValueMap::new();
    /// assert_eq!(*glyphs.entry('z').key(), 'z');
    /// ```
    pub fn key(&self) -> &K {
        match self {
            Entry::Occupied(entry) => entry.key(),
            Entry::Vacant(entry) => entry.key(),
        }
    }

    /// The live value, or `value` stored (held weakly) and returned.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap};
    ///
    /// #[derive(Trace)]
    /// struct Glyph(char);
    ///
    /// let mut glyphs = WeakValueMap::new();
    /// let x = glyphs.entry('x').or_insert(Gc::new(Glyph('x')));
    /// let again = glyphs.entry('x').or_insert(Gc::new(Glyph('?')));
    /// assert!(Gc::ptr_eq(&x, &again));
    /// ```
    pub fn or_insert(self, value: Gc<V>) -> Gc<V> {
        self.or_insert_with(|| value)
    }

    /// The live value, or `make()`'s value stored (held weakly) and
    /// returned; `make` runs only for a missing or dead value.
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
    /// let mono = fonts.entry("mono").or_insert_with(|| Gc::new(Font("mono".into())));
    /// let same = fonts.entry("mono").or_insert_with(|| unreachable!());
    /// assert!(Gc::ptr_eq(&mono, &same));
    /// ```
    pub fn or_insert_with(self, make: impl FnOnce() -> Gc<V>) -> Gc<V> {
        match self {
            Entry::Occupied(entry) => entry.value,
            Entry::Vacant(entry) => entry.insert(make()),
        }
    }

    /// Calls `f` with the live value, if there is one; returns the entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap};
    /// use std::cell::Cell;
    ///
    /// #[derive(Trace)]
    /// struct Hits(Cell<u32>);
    ///
    /// let mut hits: WeakValueMap<&str, Hits> = WeakValueMap::new();
    /// let page = hits
    ///     .entry("/")
    ///     .and_modify(|h| h.0.set(h.0.get() + 1))
    ///     .or_insert_with(|| Gc::new(Hits(Cell::new(1))));
    /// hits.entry("/").and_modify(|h| h.0.set(h.0.get() + 1));
    /// assert_eq!(page.0.get(), 2);
    /// ```
    #[must_use]
    pub fn and_modify(self, f: impl FnOnce(&Gc<V>)) -> Self {
        if let Entry::Occupied(entry) = &self {
            f(&entry.value);
        }
        self
    }
}

impl<K, V: ?Sized + Trace + 'static> OccupiedEntry<'_, K, V> {
    /// The entry's key.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap, weak_value_map::Entry};
    ///
    /// #[derive(Trace)]
    /// struct Glyph(char);
    ///
    /// let mut glyphs = WeakValueMap::new();
    /// let q = Gc::new(Glyph('q'));
    /// glyphs.insert('q', q.clone());
    /// let Entry::Occupied(entry) = glyphs.entry('q') else { unreachable!() };
    /// assert_eq!(*entry.key(), 'q');
    /// ```
    pub fn key(&self) -> &K {
        self.entry.key()
    }

    /// The live value.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap, weak_value_map::Entry};
    ///
    /// #[derive(Trace)]
    /// struct Glyph(char);
    ///
    /// let mut glyphs = WeakValueMap::new();
    /// let q = Gc::new(Glyph('q'));
    /// glyphs.insert('q', q.clone());
    /// let Entry::Occupied(entry) = glyphs.entry('q') else { unreachable!() };
    /// assert!(Gc::ptr_eq(entry.get(), &q));
    /// ```
    pub fn get(&self) -> &Gc<V> {
        &self.value
    }

    /// Replaces the value (held weakly) and returns the old one.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap, weak_value_map::Entry};
    ///
    /// #[derive(Trace)]
    /// struct Glyph(char);
    ///
    /// let mut glyphs = WeakValueMap::new();
    /// let old = Gc::new(Glyph('o'));
    /// let new = Gc::new(Glyph('n'));
    /// glyphs.insert(1, old.clone());
    /// let Entry::Occupied(mut entry) = glyphs.entry(1) else { unreachable!() };
    /// assert!(Gc::ptr_eq(&entry.insert(new.clone()), &old));
    /// assert!(Gc::ptr_eq(&glyphs.get(&1).unwrap(), &new));
    /// ```
    pub fn insert(&mut self, value: Gc<V>) -> Gc<V> {
        let replaced = self.entry.insert(self.deaths.slot(&value));
        self.deaths.forget(replaced);
        core::mem::replace(&mut self.value, value)
    }

    /// Removes the entry and returns its value.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap, weak_value_map::Entry};
    ///
    /// #[derive(Trace)]
    /// struct Glyph(char);
    ///
    /// let mut glyphs = WeakValueMap::new();
    /// let r = Gc::new(Glyph('r'));
    /// glyphs.insert('r', r.clone());
    /// let Entry::Occupied(entry) = glyphs.entry('r') else { unreachable!() };
    /// assert!(Gc::ptr_eq(&entry.remove(), &r));
    /// assert!(glyphs.get(&'r').is_none());
    /// ```
    pub fn remove(self) -> Gc<V> {
        self.remove_entry().1
    }

    /// Removes the entry and returns its key and value.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap, weak_value_map::Entry};
    ///
    /// #[derive(Trace)]
    /// struct Glyph(char);
    ///
    /// let mut glyphs = WeakValueMap::new();
    /// let s = Gc::new(Glyph('s'));
    /// glyphs.insert(String::from("s"), s.clone());
    /// let Entry::Occupied(entry) = glyphs.entry("s".into()) else { unreachable!() };
    /// let (key, value) = entry.remove_entry();
    /// assert_eq!((key.as_str(), value.0), ("s", 's'));
    /// ```
    pub fn remove_entry(self) -> (K, Gc<V>) {
        let (key, slot) = self.entry.remove_entry();
        self.deaths.forget(slot);
        (key, self.value)
    }
}

impl<K, V: ?Sized + Trace + 'static> VacantEntry<'_, K, V> {
    /// The entry's key.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Trace, WeakValueMap, weak_value_map::Entry};
    ///
    /// #[derive(Trace)]
    /// struct Glyph(char);
    ///
    /// let mut glyphs: WeakValueMap<u8, Glyph> = WeakValueMap::new();
    /// let Entry::Vacant(entry) = glyphs.entry(7) else { unreachable!() };
    /// assert_eq!(*entry.key(), 7);
    /// ```
    pub fn key(&self) -> &K {
        match &self.place {
            Place::Absent(entry) => entry.key(),
            Place::Dead(entry) => entry.key(),
        }
    }

    /// Takes the key back; a dead value's entry is removed.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap, weak_value_map::Entry};
    ///
    /// #[derive(Trace)]
    /// struct Glyph(char);
    ///
    /// let mut glyphs = WeakValueMap::new();
    /// glyphs.insert(String::from("gone"), Gc::new(Glyph('g'))); // dies at once
    /// let Entry::Vacant(entry) = glyphs.entry("gone".into()) else { unreachable!() };
    /// assert_eq!(entry.into_key(), "gone");
    /// assert!(glyphs.is_empty());
    /// ```
    pub fn into_key(self) -> K {
        match self.place {
            Place::Absent(entry) => entry.into_key(),
            Place::Dead(entry) => {
                let (key, slot) = entry.remove_entry();
                self.deaths.forget(slot);
                key
            }
        }
    }

    /// Stores `value` (held weakly) under the key and returns it.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace, WeakValueMap, weak_value_map::Entry};
    ///
    /// #[derive(Trace)]
    /// struct Glyph(char);
    ///
    /// let mut glyphs = WeakValueMap::new();
    /// let Entry::Vacant(entry) = glyphs.entry('v') else { unreachable!() };
    /// let v = entry.insert(Gc::new(Glyph('v')));
    /// assert!(Gc::ptr_eq(&glyphs.get(&'v').unwrap(), &v));
    /// ```
    pub fn insert(self, value: Gc<V>) -> Gc<V> {
        let slot = self.deaths.slot(&value);
        match self.place {
            Place::Absent(entry) => {
                entry.insert(slot);
            }
            Place::Dead(mut entry) => {
                let dead = entry.insert(slot);
                self.deaths.forget(dead);
            }
        }
        value
    }
}

impl<K: fmt::Debug, V: ?Sized + Trace + fmt::Debug + 'static> fmt::Debug for Entry<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Occupied(entry) => f
                .debug_struct("Occupied")
                .field("key", entry.key())
                .field("value", &&**entry.get())
                .finish(),
            Entry::Vacant(entry) => f.debug_tuple("Vacant").field(entry.key()).finish(),
        }
    }
}
