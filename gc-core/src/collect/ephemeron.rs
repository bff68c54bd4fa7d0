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
//! see `weakref_finalize`), which drops it when `K` dies. Every such pair
//! `(K, E)` also sits in one dense array per heap (`EphemeronPairs`, O(1)
//! to add and remove), and each graph pass sweeps that array in phases of
//! its own instead of looking up a key's entries whenever it traces the
//! key (a hash probe and two pointer hops per key per pass made a full
//! collection over 1M entries 26× slower than over plain edges). In
//! CPython's terms:
//!
//! - **`subtract_refs`** (after the set's own edges): for each pair whose
//!   `K` is in the examined set, the registration's handle on `E` counts as
//!   an internal reference of `E`, like any edge of `K`. When `K` is outside
//!   the set (an older generation, frozen, untracked), `K` is presumed
//!   alive, its edges count as external, and `E` is a root.
//! - **`mark_reachable`**, before the walk: the `E` of every `K` that is a
//!   root (external references) is marked reachable, as tracing `K` would,
//!   so when keys are held from outside (the usual case) the walk moves no
//!   value. After the walk, the ephemeron fixpoint: the walk is done, so a
//!   key still in the set is (so far) unreachable and one that left it is
//!   reachable; the `E` of each reachable `K` that the walk moved is marked,
//!   traced and revived with everything it reaches, and the sweep repeats
//!   until it marks nothing (a revived value can be another entry's key).
//!   It only runs when the first sweep left an entry undecided (a key in
//!   the set without external references).
//!
//! A value that only its own key (or the key's cycle) reaches stays
//! unreachable with it. Each sweep is linear in the entries; the fixpoint
//! takes one sweep more than the longest chain of entries whose values are
//! the keys of others, and in the usual case none.
//!
//! Measured (`cargo bench -p pygc-benches --bench weakref -- collect_1M`):
//! a full collection over 1M keys with an entry each costs 1.5× one over
//! 1M keys owning their values by plain fields when the keys are held from
//! the stack, 2.1× when they are held by a tracked object (the walk moves
//! the values and the fixpoint brings them back).
//!
//! Garbage keys and values are finalized, cleared and dropped together
//! (steps 1–4 of `unreachable`); the key's registrations leave the side
//! table in step 4, and their callbacks (which release the last handles on
//! the values) run after step 5. A key whose value the user still holds
//! elsewhere just loses its entry.
//!
//! Untracked keys (types that cannot hold a `Gc`), and tracked keys whose
//! value holds none (a `Gc<u64>` downcast from a boxed `Gc<dyn AnyTrace>`:
//! it has no edges, so `Gc::drop` notes no candidate for it), get no
//! ephemeron edge and are never examined for one: their values are roots
//! while the entry lives, and only refcounting frees them
//! (as in CPython). A key lent out by `Gc::get_mut` is not traced (its
//! edges count as external), and neither are its ephemeron edges.

use core::ptr::NonNull;

use crate::header::{Flags, Header};
use crate::heap::heap;
use crate::tracked::Tracked;

use super::cycle::has_external_refs;
use super::pass::PassState;

/// Whether the pass counts `key`'s ephemeron edges: the key is in the set,
/// not lent out by `Gc::get_mut` (not traced, its edges count as external),
/// and not dying. A key whose refcount death the trashcan deferred (strong
/// count 0, value intact, off every list, entries not yet taken) keeps its
/// generation code, but the set's own passes never see it: its entries'
/// values are still owned by them, so they must count as external too.
#[inline]
fn is_examined_key(key: Tracked, pass: &PassState) -> bool {
    let prefix = key.prefix();
    prefix.is_member(pass.members) && !prefix.has(Flags::LENT_MUT) && key.header().strong() > 0
}

/// Step 1's ephemeron phase, after the set's own edges: counts each
/// ephemeron edge `K → E` whose key is in the set as an internal reference
/// of `E`, as tracing `K` would. A key lent out by `Gc::get_mut` is not
/// traced, and neither are its ephemeron edges.
pub(super) fn subtract_ephemeron_edges(pass: &mut PassState) {
    let pairs = heap().finalize_table.ephemerons();
    for pair in pairs.as_slice() {
        if !is_examined_key(pair.key, pass) {
            continue;
        }
        pass.tracing = pair.key.vtable().type_name;
        pass.tracing_addr = pair.key.addr();
        pass.visit_edge(pair.value.as_ptr());
    }
}

/// Step 2's first ephemeron phase, before the walk: marks reachable the
/// value of every entry whose key is a root (has external references), so
/// that in the usual case (keys held from outside) the walk finds values
/// reachable ahead of it and moves none. Values whose key is outside the
/// set need nothing: their edge was not subtracted, so they are roots
/// themselves. Returns whether an entry is left whose key is in the set
/// and not a root: only then is [`mark_values_of_reached_keys`] needed.
pub(super) fn mark_values_of_root_keys(pass: &PassState) -> bool {
    let pairs = heap().finalize_table.ephemerons();
    let mut undecided = false;
    for pair in pairs.as_slice() {
        let value = pair.value.prefix();
        if !value.is_member(pass.members) || value.has(Flags::REACHABLE) {
            continue;
        }
        if !is_examined_key(pair.key, pass) {
            continue;
        }
        if pair.key.prefix().has(Flags::REACHABLE) || has_external_refs(pair.key, pass) {
            value.set(Flags::REACHABLE);
        } else {
            undecided = true;
        }
    }
    undecided
}

/// Step 2's fixpoint, after the walk: the walk is done, so a key still in
/// the set is (so far) unreachable and one that left it is reachable (or
/// was never in it). Each value of a reachable key that the walk moved is
/// marked and handed to `trace_marked`, which traces it and everything it
/// reaches (reviving them); repeated until a sweep marks nothing, since a
/// revived value can be the key of another entry.
pub(super) fn mark_values_of_reached_keys(
    pass: &mut PassState,
    mut trace_marked: impl FnMut(&mut PassState),
) {
    loop {
        let mut marked_any = false;
        let pairs = heap().finalize_table.ephemerons();
        for pair in pairs.as_slice() {
            let value = pair.value.prefix();
            if !value.is_member(pass.members)
                || value.has(Flags::REACHABLE)
                || pair.key.prefix().is_member(pass.members)
            {
                continue;
            }
            value.set(Flags::REACHABLE);
            pass.stack.push(pair.value);
            trace_marked(pass);
            marked_any = true;
        }
        if !marked_any {
            return;
        }
    }
}

/// Visits the ephemeron edges of key `node` (flagged `EPHEMERON_KEY`) for
/// introspection (`pygc::referents`), as its `trace` visits its ordinary
/// ones. The collector's passes sweep the pairs instead (above).
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
