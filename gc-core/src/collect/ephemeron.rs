//! Ephemerons: the edges from a `WeakKeyMap` key to its entries' values.
//!
//! A `WeakKeyMap` entry's value must stay alive exactly as long as its key
//! is reachable from elsewhere (JavaScript's `WeakMap` semantics). CPython's
//! `WeakKeyDictionary` holds the value strongly from the dictionary, so a
//! value that references its own key (directly or through other objects)
//! keeps the key, and the entry, alive forever.
//!
//! pygc gives each entry's value to the key: the value is a tracked object
//! `E` whose one strong handle (besides the user's own handles) belongs to
//! a `pygc::finalize` registration on the key `K` (the heap's side table,
//! see `weakref_finalize`), which drops it when `K` dies. The key carries
//! the `EPHEMERON_KEY` flag, and every graph pass treats that handle as an
//! edge `K → E`: tracing `K` (the hook in `cycle::trace_object`) also visits
//! the `E` of each of its entries. So, in CPython's terms:
//!
//! - **`subtract_refs`**: when `K` is in the examined set, the registration's
//!   handle on `E` counts as an internal reference, like any edge of `K`.
//!   When `K` is outside it (an older generation, frozen, untracked), `K`
//!   is presumed alive, its edges count as external, and `E` is a root.
//! - **`mark_reachable`**: `E` is reached when `K` is, through that edge,
//!   or through ordinary edges from other reachable objects or external
//!   handles. A value that only its own key (or the key's cycle) reaches
//!   stays unreachable with it.
//!
//! Because the edge is traced with its key, marking needs no separate
//! fixpoint: an ephemeron algorithm iterates "mark the values of the
//! entries whose key got marked, trace them, repeat until nothing
//! changes"; here the value is marked in the same step that traces its key,
//! and the mark stack propagates from it like from any other referent. The
//! result is that fixpoint, in time linear in the set plus the entries of
//! the keys traced.
//!
//! Garbage keys and values are finalized, cleared and dropped together
//! (steps 1–4 of `unreachable`); the key's registrations leave the side
//! table in step 4, and their callbacks (which release the last handles on
//! the values) run after step 5. A key whose value the user still holds
//! elsewhere just loses its entry.
//!
//! Untracked keys (types that cannot hold a `Gc`) are never examined: their
//! values are roots while the entry lives, and only refcounting frees them
//! (as in CPython). A key lent out by `Gc::get_mut` is not traced (its
//! edges count as external), and neither are its ephemeron edges.

use core::ptr::NonNull;

use crate::header::Header;
use crate::heap::heap;
use crate::tracked::Tracked;

use super::pass::PassState;

/// Visits the ephemeron edges of key `node` (flagged `EPHEMERON_KEY`), as
/// its `trace` visits its ordinary ones.
///
/// # Safety
///
/// `node` is a live tracked object.
#[cold]
#[inline(never)]
pub(super) unsafe fn trace_ephemerons(node: Tracked, pass: &mut PassState) {
    let key: NonNull<Header> = node.boxed();
    // Registered values are alive: the registrations own handles on them.
    heap()
        .finalize_table
        .for_each_ephemeron(key, |value| pass.visit_edge(value));
}
