//! objgraph's `most_common_types` and `show_growth`: tracked objects per
//! type name.

use std::collections::HashMap;

use crate::heap::heap;
use crate::list::for_each;
use crate::vtable::type_name_of;

/// Tracked objects per type name, over the three generations.
fn count_types() -> HashMap<&'static str, usize> {
    let mut counts = HashMap::new();
    for list in super::lists(None) {
        for_each(list, |node| {
            *counts.entry(type_name_of(node)).or_insert(0) += 1;
        });
    }
    counts
}

/// Tracked objects per type, most common first (objgraph's
/// `most_common_types`); frozen objects are not counted. Type names are
/// `core::any::type_name` of the concrete types.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use pygc::{Gc, Trace};
///
/// #[derive(Trace)]
/// struct Leaky { next: RefCell<Option<Gc<Leaky>>> }
///
/// let kept: Vec<_> = (0..3).map(|_| Gc::new(Leaky { next: RefCell::new(None) })).collect();
/// let census = pygc::census();
/// let leaky = census.iter().find(|(name, _)| name.ends_with("Leaky")).unwrap();
/// assert_eq!(leaky.1, 3);
/// # drop(kept);
/// ```
pub fn census() -> Vec<(&'static str, usize)> {
    let mut census: Vec<_> = count_types().into_iter().collect();
    census.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    census
}

/// Per type whose count changed since the previous call on this thread:
/// the count now and the change, largest growth first (objgraph's
/// `show_growth`). The first call reports every type, grown from nothing.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use pygc::{Gc, Trace};
///
/// #[derive(Trace)]
/// struct Entry { next: RefCell<Option<Gc<Entry>>> }
///
/// pygc::census_growth();
/// let cache: Vec<_> = (0..5).map(|_| Gc::new(Entry { next: RefCell::new(None) })).collect();
/// let growth = pygc::census_growth();
/// let entry = growth.iter().find(|(name, ..)| name.ends_with("Entry")).unwrap();
/// assert_eq!((entry.1, entry.2), (5, 5));
/// # drop(cache);
/// ```
pub fn census_growth() -> Vec<(&'static str, usize, isize)> {
    let now = count_types();
    let heap = heap();
    let before = heap.census_last.replace(HashMap::new());
    let mut growth: Vec<(&'static str, usize, isize)> = now
        .iter()
        .map(|(&name, &count)| {
            let was = before.get(name).copied().unwrap_or(0);
            (name, count, count as isize - was as isize)
        })
        .chain(
            before
                .iter()
                .filter(|(name, _)| !now.contains_key(*name))
                .map(|(&name, &was)| (name, 0, -(was as isize))),
        )
        .filter(|&(_, _, delta)| delta != 0)
        .collect();
    growth.sort_unstable_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
    heap.census_last.replace(now);
    growth
}
