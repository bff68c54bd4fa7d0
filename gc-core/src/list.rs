//! Intrusive, circular, doubly-linked lists of tracked objects.
//!
//! Every tracked object's [`TrackedHeader`](crate::header::TrackedHeader)
//! starts with [`Links`]. A list is a sentinel `Links` (the head, at a stable
//! address inside the thread's heap state or a collector-owned `Box`) whose
//! `next`/`prev` close the ring. An object removes itself in O(1) from
//! whatever list it is on, which is what lets objects freed by refcount in
//! the middle of a collection leave safely.
//!
//! The invariant this serves: **lists are safe against user code.** While
//! a collection runs user code (finalizers, `Drop`s, callbacks), any object
//! on any list may be freed by refcount and unlink itself; so the collector
//! never keeps a raw cursor into a list user code can change. It walks in
//! place only lists whose members user code can neither free nor move (its
//! own `unreachable`/`pending` lists, every member held by a temporary
//! strong handle), and otherwise pops objects one at a time from a private
//! list.
//!
//! Objects on a list are live (an object unlinks itself before its memory
//! goes), so the helpers hand out [`Tracked`] handles; the code that uses
//! one keeps the object alive for as long as it does (see [`Tracked`]).
//!
//! **During a graph pass** (`collect::cycle`; no user code runs there) the
//! set being examined is walked one way only ([`Dir`]), and each member's
//! link pointing the other way holds the pass's count of internal
//! references instead of a pointer (CPython keeps `gc_refs` in `_gc_prev`
//! the same way): [`internal_refs`] and [`add_internal_ref`] read and
//! write it, [`Relinker`] rewrites the links as the mark walk leaves each
//! object, and [`relink_behind`] repairs a set whose pass failed. Nothing
//! else reads a member's links during a pass.

use core::cell::Cell;
use core::ptr::{self, NonNull};

use crate::tracked::Tracked;

/// `prev`/`next` pointers; `prev == null` means "on no list".
#[repr(C)]
pub(crate) struct Links {
    prev: Cell<*mut Links>,
    next: Cell<*mut Links>,
}

impl Links {
    /// Links of an object on no list.
    pub(crate) const fn unlinked() -> Self {
        Links {
            prev: Cell::new(ptr::null_mut()),
            next: Cell::new(ptr::null_mut()),
        }
    }

    #[inline]
    pub(crate) fn is_linked(&self) -> bool {
        !self.prev.get().is_null()
    }
}

/// Which way a graph pass walks its set; the link pointing the other way
/// (the *behind* link) holds the internal count while the pass runs.
///
/// Its value is the index of the behind link in [`Links`] (`prev` is 0,
/// `next` 1), so the passes pick a link by index, without a branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Dir {
    /// From the oldest object to the newest, along `next`.
    Forward = 0,
    /// From the newest object to the oldest, along `prev`.
    Backward = 1,
}

impl Links {
    /// `prev` (`index` 0) or `next` (1).
    #[inline(always)]
    fn link(&self, index: usize) -> &Cell<*mut Links> {
        // SAFETY: `Links` is `repr(C)`: `prev` then `next`, two `Cell`s of
        // the same type; `index & 1` picks one, in bounds of `self`.
        unsafe {
            &*ptr::from_ref(self)
                .cast::<Cell<*mut Links>>()
                .add(index & 1)
        }
    }

    /// The link a walk in direction `dir` follows.
    #[inline(always)]
    fn ahead(&self, dir: Dir) -> &Cell<*mut Links> {
        self.link(dir as usize ^ 1)
    }

    /// The link pointing against `dir` (the count's home during a pass).
    #[inline(always)]
    fn behind(&self, dir: Dir) -> &Cell<*mut Links> {
        self.link(dir as usize)
    }
}

/// Marks a behind link that holds a count (pointers to `Links` are
/// 8-byte aligned, so a link with this bit is never a pointer).
const COUNT_TAG: usize = 1;

/// The internal references a running graph pass walking `dir` has counted
/// for `node` (0 while its behind link still holds a pointer).
///
/// Only meaningful for members of the pass's set that the mark walk has not
/// passed yet.
#[inline(always)]
pub(crate) fn internal_refs(node: Tracked, dir: Dir) -> usize {
    let word = node.prefix().links.behind(dir).get().addr();
    // Branch-free: a pointer (tag 0) counts 0.
    (word >> 1) & (word & COUNT_TAG).wrapping_neg()
}

/// Adds one to `node`'s internal count, in its behind link, and returns
/// the new count.
///
/// Only for members of a running graph pass's set walked `dir`: their
/// behind link is not read as a pointer until [`Relinker`] or
/// [`relink_behind`] rewrites it.
#[inline(always)]
pub(crate) fn add_internal_ref(node: Tracked, dir: Dir) -> usize {
    let link = node.prefix().links.behind(dir);
    let word = link.get().addr();
    // A pointer is count 0: the first reference makes the word 1 << 1 | tag.
    let counted = if word & COUNT_TAG != 0 {
        word + 2
    } else {
        2 | COUNT_TAG
    };
    link.set(ptr::without_provenance_mut(counted));
    counted >> 1
}

/// The mark walk's view of the list it walks: objects stay or leave one at
/// a time in walk order, and the behind links of those that stay are
/// rewritten as they go, so the list is a well-formed ring again at
/// [`close`](Relinker::close) (CPython's `move_unreachable` restores
/// `_gc_prev` the same way).
///
/// Between [`new`](Relinker::new) and `close`, the list's ahead links form
/// a ring of its remaining objects at every step: a walk of the list along
/// `dir` (or [`relink_behind`]) still works should the pass fail.
pub(crate) struct Relinker {
    head: *mut Links,
    /// The last object that stayed (or the head).
    kept: *mut Links,
    dir: Dir,
}

impl Relinker {
    /// Starts relinking `list`, which is about to be walked along `dir`.
    pub(crate) fn new(list: &ListHead, dir: Dir) -> Self {
        let head = list.as_links();
        Relinker {
            head,
            kept: head,
            dir,
        }
    }

    /// `node`, the next object in walk order, stays.
    ///
    /// # Safety
    ///
    /// `node` is the object after the last one passed to `keep` or
    /// `remove` (or the first) in walk order.
    #[inline(always)]
    pub(crate) unsafe fn keep(&mut self, node: Tracked) {
        let np = node.as_ptr().as_ptr().cast::<Links>();
        node.prefix().links.behind(self.dir).set(self.kept);
        self.kept = np;
    }

    /// `node`, the next object in walk order, leaves the list: the last
    /// object that stayed now leads past it, and `node` is left on no list.
    ///
    /// # Safety
    ///
    /// As for [`keep`](Self::keep).
    #[inline(always)]
    pub(crate) unsafe fn remove(&mut self, node: Tracked) {
        let links = &node.prefix().links;
        // SAFETY: `kept` is the head or a live object that stayed on the
        // list, whose ahead link points at `node` (caller's contract).
        unsafe {
            (*self.kept)
                .ahead(self.dir)
                .set(links.ahead(self.dir).get())
        };
        links.prev.set(ptr::null_mut());
        links.next.set(ptr::null_mut());
    }

    /// Every object was kept or removed: closes the ring.
    pub(crate) fn close(self) {
        // SAFETY: the head is live for as long as its list.
        unsafe { (*self.head).behind(self.dir).set(self.kept) };
    }
}

/// Rewrites every behind link of `list` from its ahead links: the repair of
/// a set whose graph pass walking `dir` failed.
pub(crate) fn relink_behind(list: &ListHead, dir: Dir) {
    let head = list.as_links();
    // SAFETY: the ahead links of a set in a graph pass form a ring of live
    // objects (see `Relinker`); no user code runs during the repair.
    unsafe {
        let mut before = head;
        let mut cur = (*head).ahead(dir).get();
        while cur != head {
            (*cur).behind(dir).set(before);
            before = cur;
            cur = (*cur).ahead(dir).get();
        }
        (*head).behind(dir).set(before);
    }
}

/// Calls `f` on every object of `list` in walk order `dir`, reading only
/// the links `dir` follows (so it works during a graph pass). `f` must
/// neither link nor unlink objects of `list`.
pub(crate) fn for_each_in(list: &ListHead, dir: Dir, mut f: impl FnMut(Tracked)) {
    let mut cur = list.start(dir);
    while let Some(node) = cur {
        // SAFETY: `node` is on `list` and live, and `f` leaves the list
        // alone.
        cur = unsafe { step(list, node, dir) };
        prefetch_ahead(node, cur);
        f(node);
    }
}

/// The object after `node` in walk order `dir`, or `None` at the head;
/// reads only the link `dir` follows.
///
/// # Safety
///
/// `node` must be on `list`.
#[inline(always)]
pub(crate) unsafe fn step(list: &ListHead, node: Tracked, dir: Dir) -> Option<Tracked> {
    let ahead = node.prefix().links.ahead(dir).get();
    if ahead == list.as_links() {
        None
    } else {
        // SAFETY: a non-head ring node (caller's contract).
        Some(unsafe { node_at(ahead) })
    }
}

/// A list head. It must not move once [`ListHead::init`] ran: the ring
/// points at it.
#[repr(transparent)]
pub(crate) struct ListHead {
    links: Links,
}

impl ListHead {
    /// A head that still has to be [`init`](ListHead::init)ed in place.
    pub(crate) const fn new() -> Self {
        ListHead {
            links: Links::unlinked(),
        }
    }

    /// Closes the empty ring on the head's final address.
    pub(crate) fn init(&self) {
        let me = self.as_links();
        self.links.prev.set(me);
        self.links.next.set(me);
    }

    #[inline]
    pub(crate) fn as_links(&self) -> *mut Links {
        ptr::from_ref(&self.links).cast_mut()
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.links.next.get() == self.as_links()
    }

    /// First object, if any.
    #[inline]
    pub(crate) fn first(&self) -> Option<Tracked> {
        let next = self.links.next.get();
        if next == self.as_links() {
            None
        } else {
            // SAFETY: every non-head node of a ring is the `links` field at
            // offset 0 of a live `TrackedHeader` (repr(C)).
            Some(unsafe { node_at(next) })
        }
    }

    /// The first object in walk order `dir`, if any.
    #[inline]
    pub(crate) fn start(&self, dir: Dir) -> Option<Tracked> {
        match dir {
            Dir::Forward => self.first(),
            Dir::Backward => self.last(),
        }
    }

    /// The last object, if any.
    #[inline]
    pub(crate) fn last(&self) -> Option<Tracked> {
        let prev = self.links.prev.get();
        if prev == self.as_links() {
            None
        } else {
            // SAFETY: as in `first`.
            Some(unsafe { node_at(prev) })
        }
    }

    /// Removes and returns the first object (left unlinked).
    #[inline]
    pub(crate) fn pop_first(&self) -> Option<Tracked> {
        let first = self.first()?;
        // SAFETY: `first` is a live node of this ring.
        unsafe { unlink(first) };
        Some(first)
    }

    /// Appends an unlinked object at the tail.
    ///
    /// # Safety
    ///
    /// `node` must be on no list.
    #[inline]
    pub(crate) unsafe fn push_back(&self, node: Tracked) {
        // SAFETY: `node` is live (a `Tracked`) and on no list (caller's
        // contract); the head and its current tail are live ring members.
        unsafe {
            // Derive the stored pointer from the whole-object pointer (not from
            // a `&Links`) so it keeps provenance over the entire allocation.
            let np = node.as_ptr().as_ptr().cast::<Links>();
            debug_assert!(
                !(*np).is_linked(),
                "push_back of an object already on a list"
            );
            let head = self.as_links();
            let tail = (*head).prev.get();
            (*np).prev.set(tail);
            (*np).next.set(head);
            (*tail).next.set(np);
            (*head).prev.set(np);
        }
    }

    /// Prepends an unlinked object at the head.
    ///
    /// # Safety
    ///
    /// As for [`push_back`](Self::push_back).
    #[inline]
    pub(crate) unsafe fn push_front(&self, node: Tracked) {
        // SAFETY: as in `push_back`, mirrored.
        unsafe {
            let np = node.as_ptr().as_ptr().cast::<Links>();
            debug_assert!(
                !(*np).is_linked(),
                "push_front of an object already on a list"
            );
            let head = self.as_links();
            let first = (*head).next.get();
            (*np).next.set(first);
            (*np).prev.set(head);
            (*first).prev.set(np);
            (*head).next.set(np);
        }
    }

    /// Moves every object of `self` to the tail of `to`, leaving `self`
    /// empty (CPython's `gc_list_merge`).
    pub(crate) fn append_to(&self, to: &ListHead) {
        if self.is_empty() {
            return;
        }
        let from = self.as_links();
        let dst = to.as_links();
        // SAFETY: both heads are initialised rings of live nodes; splicing
        // keeps both rings well formed.
        unsafe {
            let first = (*from).next.get();
            let last = (*from).prev.get();
            let tail = (*dst).prev.get();
            (*tail).next.set(first);
            (*first).prev.set(tail);
            (*last).next.set(dst);
            (*dst).prev.set(last);
        }
        self.init();
    }

    /// Empties the list, handing each object to `f` already marked as on
    /// no list, so `f` may free it. Touches no neighbour: cheaper than
    /// popping each object.
    ///
    /// # Safety
    ///
    /// The list's objects are live; `f` does not panic and neither links
    /// nor unlinks anything on this list (the ring is abandoned as it goes).
    pub(crate) unsafe fn drain_unlinked(&self, mut f: impl FnMut(Tracked)) {
        let head = self.as_links();
        // SAFETY: the ring consists of live nodes (caller's contract); each
        // node's successor is read before `f` may free the node, and `f`
        // leaves the rest of the ring alone.
        unsafe {
            let mut cur = (*head).next.get();
            while cur != head {
                let next = (*cur).next.get();
                let node = node_at(cur);
                if next != head {
                    prefetch_ahead(node, Some(node_at(next)));
                }
                (*cur).prev.set(ptr::null_mut());
                (*cur).next.set(ptr::null_mut());
                f(node);
                cur = next;
            }
        }
        self.init();
    }

    /// Number of objects (walks the ring, like CPython's `gc_list_size`).
    pub(crate) fn len(&self) -> usize {
        let head = self.as_links();
        let mut n = 0;
        // SAFETY: the ring consists of live nodes; no user code runs during
        // the walk.
        unsafe {
            let mut cur = (*head).next.get();
            while cur != head {
                n += 1;
                cur = (*cur).next.get();
            }
        }
        n
    }
}

/// The handle of the object whose `links` a ring node is.
///
/// # Safety
///
/// `links` is a non-head node of a ring (so a live listed object).
#[inline(always)]
unsafe fn node_at(links: *mut Links) -> Tracked {
    // SAFETY: non-head ring nodes are the `links` field at offset 0 of a
    // live `TrackedHeader` (repr(C)); listed objects are live.
    unsafe { Tracked::new(NonNull::new_unchecked(links.cast())) }
}

/// Removes `node` from whatever list it is on (no-op when unlinked).
///
/// # Safety
///
/// If `node` is linked, its neighbours are live (true of every list).
#[inline]
pub(crate) unsafe fn unlink(node: Tracked) {
    // SAFETY: `node` is live (a `Tracked`); neighbours of a linked node are
    // live ring members (objects or a head), caller's contract.
    unsafe {
        let n = node.as_ptr().as_ptr().cast::<Links>();
        let prev = (*n).prev.get();
        if prev.is_null() {
            return;
        }
        let next = (*n).next.get();
        (*prev).next.set(next);
        (*next).prev.set(prev);
        (*n).prev.set(ptr::null_mut());
        (*n).next.set(ptr::null_mut());
    }
}

/// Whether `node`'s neighbours link back to it (tests: no internal count
/// left in a link after a graph pass).
#[cfg(test)]
pub(crate) fn links_back(node: Tracked) -> bool {
    let links = &node.prefix().links;
    let me = node.as_ptr().as_ptr().cast::<Links>();
    let (prev, next) = (links.prev.get(), links.next.get());
    // SAFETY: a linked object's neighbours are live ring members; a count
    // (odd) is never dereferenced.
    unsafe {
        prev.addr() & COUNT_TAG == 0
            && next.addr() & COUNT_TAG == 0
            && (*prev).next.get() == me
            && (*next).prev.get() == me
    }
}

/// The object after `node` on its list, or `None` at the head.
///
/// # Safety
///
/// `node` must be linked on `list`.
#[inline]
pub(crate) unsafe fn next_in(list: &ListHead, node: Tracked) -> Option<Tracked> {
    // SAFETY: caller's contract.
    unsafe { step(list, node, Dir::Forward) }
}

/// Calls `f` on every object of `list`, front to back. `f` must neither
/// link nor unlink objects of `list` (it may run user code when nothing
/// user code can do reaches `list`, as for the collector's own lists).
pub(crate) fn for_each(list: &ListHead, f: impl FnMut(Tracked)) {
    for_each_in(list, Dir::Forward, f);
}

/// Objects ahead of the cursor that the list walks ask the cache for.
const PREFETCH_DISTANCE: usize = 24;

/// A list walk is a chain of dependent loads, which the CPU cannot run
/// ahead of. Lists stay in allocation order (see `collect::cycle`), and the
/// pools hand out blocks at a fixed stride, so the object a few steps ahead
/// is usually `PREFETCH_DISTANCE` strides further: ask for it now. A wrong
/// guess only costs a useless prefetch (prefetches never fault).
#[inline(always)]
pub(crate) fn prefetch_ahead(node: Tracked, next: Option<Tracked>) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if let Some(next) = next {
        let stride = next.addr().wrapping_sub(node.addr());
        let ahead = next
            .as_ptr()
            .as_ptr()
            .cast::<i8>()
            .wrapping_byte_add(stride.wrapping_mul(PREFETCH_DISTANCE));
        // SAFETY: a prefetch is only a hint; it never faults or reads into
        // the program, whatever the address.
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(ahead) };
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = (node, next, PREFETCH_DISTANCE);
}
