//! Object headers: the 8-byte refcount header every object has, and the
//! 24-byte prefix tracked objects carry in front of it (32 bytes in all).
//!
//! ```text
//!  tracked object (32-byte header)               untracked object (8-byte header)
//!  ┌──────────────────────────────┐ ◄ allocation
//!  │ (padding when align(T) > 24) │
//!  ├──────────────────────────────┤ ◄ TrackedHeader
//!  │ prev: *mut Links         8 B │   intrusive generation-list links
//!  │ next: *mut Links         8 B │   (prev == null: on no list)
//!  │ vtable | flags           8 B │   &'static VTable, flags in its low bits
//!  ├──────────────────────────────┤ ◄ GcBox (what Gc points at) ┌──────────────┐
//!  │ strong: u32              4 B │                               │ strong   4 B │
//!  │ weak: u32                4 B │                               │ weak     4 B │
//!  │ value: T                     │                               │ value: T     │
//!  └──────────────────────────────┘                               └──────────────┘
//! ```
//!
//! CPython's tracked object costs the same 32 bytes (`PyGC_Head`'s two
//! words, the refcount and the type pointer), and packs the same way:
//!
//! ```text
//!  vtable word (64 bits; every VTable is 512-byte aligned)
//!  ┌───────────────────────────────────────────┬───┬───┬───┬───┬───┬───┬──────┐
//!  │ &'static VTable, bits 63..9               │ C │ V │ L │ W │ F │ R │ code │
//!  └───────────────────────────────────────────┴───┴───┴───┴───┴───┴───┴──────┘
//!   code  bits 0..=2: the [`Code`] of the list the object is on
//!   R     REACHABLE     (mark walk)           F  FINALIZED
//!   W     WEAK_CLEARED                        L  LENT_MUT (a `GcMut` lives)
//!   V     VISITED       (mark walk)           C  CANDIDATE
//!
//!  prev or next, during a graph pass (CPython's `_gc_prev` trick)
//!  ┌──────────────────────────────────────────────────────────────────┬───┐
//!  │ internal references counted by `subtract_refs` (63 bits)         │ 1 │
//!  └──────────────────────────────────────────────────────────────────┴───┘
//! ```
//!
//! A graph pass walks its set one way only and keeps the count in the link
//! pointing the other way (an even word there is still a pointer: count 0);
//! the mark walk rewrites that link as it leaves each object, so the set is
//! a doubly linked ring again when the pass ends (see `list::Dir`).
//!
//! `weak` counts the `Weak` handles plus one shared by all strong handles
//! (as in `Rc`): the value is dropped when `strong` reaches 0, the block is
//! freed when `weak` reaches 0.
//!
//! The weak word also carries five per-object facts in its top bits, so
//! that code holding a `Gc<dyn Trait>` (whose concrete type it does not
//! know) reads them with the load it makes anyway:
//!
//! ```text
//!  weak: u32
//!  ┌───┬───┬───┬───┬───┬───────────────────────┐
//!  │ T │ D │ F │ C │ E │ weak count (27 bits)  │
//!  └───┴───┴───┴───┴───┴───────────────────────┘
//!   T  TRACKED: the object has the tracked prefix and is collected
//!   D  VALUE_DROPPED: the collector dropped the value in place
//!   F  FINALIZER: the concrete type's `Trace::has_finalizer()`
//!   C  FINALIZE_CALLBACKS: `pygc::finalize` callbacks are registered for
//!      the object in the heap's side table (both death paths test it)
//! ```

use core::cell::Cell;
use core::ptr::NonNull;

use crate::list::Links;
use crate::vtable::VTable;

/// Refcounts at the start of every object (the whole header of an untracked
/// object).
#[repr(C)]
pub(crate) struct Header {
    strong: Cell<u32>,
    /// The weak count in the low [`WEAK_COUNT_BITS`] bits, [`bit`]s above.
    weak: Cell<u32>,
}

/// Bits of the weak word that hold the weak count.
const WEAK_COUNT_BITS: u32 = 27;

/// The weak count's part of the weak word.
const WEAK_COUNT_MASK: u32 = (1 << WEAK_COUNT_BITS) - 1;

/// Per-object facts in the top bits of [`Header`]'s weak word.
pub(crate) mod bit {
    /// The object has the tracked prefix (it is collected).
    pub(crate) const TRACKED: u32 = 1 << 31;
    /// The collector dropped the value in place; it must never be read.
    pub(crate) const VALUE_DROPPED: u32 = 1 << 30;
    /// The concrete type's `Trace::has_finalizer()` was `true`.
    pub(crate) const FINALIZER: u32 = 1 << 29;
    /// `pygc::finalize` callbacks are registered for the object (see
    /// `weakref_finalize`).
    pub(crate) const FINALIZE_CALLBACKS: u32 = 1 << 28;
    /// The object is the key of `WeakKeyMap` entries: tracing it also
    /// visits their values (the ephemeron edges, see `collect::ephemeron`).
    /// Set with the side-table entry, cleared when the entry goes.
    pub(crate) const EPHEMERON_KEY: u32 = 1 << 27;
}

/// The allocation a `Gc<T>` points at.
#[repr(C)]
pub(crate) struct GcBox<T: ?Sized> {
    pub(crate) header: Header,
    pub(crate) value: T,
}

/// Prefix of tracked objects: list links, vtable and collector state.
#[repr(C)]
pub(crate) struct TrackedHeader {
    pub(crate) links: Links,
    /// The object's `&'static VTable`, with [`Flags`] and the [`Code`] of
    /// the list the object is on in its low [`FLAG_BITS`] bits (the
    /// vtable's alignment keeps them zero in the pointer).
    vtable: Cell<*const VTable>,
}

/// Low bits of the vtable word that hold [`Flags`] and the [`Code`].
const FLAG_BITS: u32 = 9;

/// The flags' part of the vtable word.
const FLAG_MASK: usize = (1 << FLAG_BITS) - 1;

const _: () = assert!(align_of::<VTable>() >= 1 << FLAG_BITS);

/// Bytes from the `TrackedHeader` to the `GcBox` that follows it.
pub(crate) const TRACKED_PREFIX: usize = size_of::<TrackedHeader>();

const _: () = assert!(size_of::<Header>() == 8);
const _: () = assert!(TRACKED_PREFIX + size_of::<Header>() == 32);

/// Flag bits of a [`TrackedHeader`]'s vtable word (bits 3..=8; the
/// [`Code`] sits below them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct Flags(u32);

impl Flags {
    /// No flag.
    pub(crate) const NONE: Flags = Flags(0);
    /// Found reachable from outside the collected set (mark phase).
    pub(crate) const REACHABLE: Flags = Flags(1 << 3);
    /// The finalizer has run (or started); it never runs again.
    pub(crate) const FINALIZED: Flags = Flags(1 << 4);
    /// The collector cleared the object's weak references.
    pub(crate) const WEAK_CLEARED: Flags = Flags(1 << 5);
    /// The mark phase's list walk has passed this object.
    pub(crate) const VISITED: Flags = Flags(1 << 7);
    /// A `GcMut` guard lends the value out mutably: the collector must not
    /// trace it (its edges count as references from outside).
    pub(crate) const LENT_MUT: Flags = Flags(1 << 6);
    /// The strong count went down without reaching 0 since the last full
    /// collection examined the object: it may be part of a garbage cycle
    /// (see `collect::candidates`).
    pub(crate) const CANDIDATE: Flags = Flags(1 << 8);

    /// The flags of `self` and of `other`.
    #[inline(always)]
    pub(crate) const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// The flags' bits in the vtable word.
    #[inline(always)]
    const fn bits(self) -> usize {
        self.0 as usize
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;

    #[inline(always)]
    fn bitor(self, other: Flags) -> Flags {
        self.union(other)
    }
}

/// Which list a tracked object is on, kept in the low bits of its vtable
/// word, so a collection tells the members of the set it examines from
/// every other object with the load it makes anyway (CPython flags the set
/// in a pass of its own, `update_refs`).
///
/// Generation 2 has two codes, [`OLD_A`](Code::OLD_A) and
/// [`OLD_B`](Code::OLD_B): a full collection gives its survivors the one the
/// previous full collection did not use, so an object it has finished with
/// leaves its set at once (what CPython clears a per-object flag for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct Code(u32);

impl Code {
    /// The code's bits in the vtable word.
    const MASK: usize = 0b111;
    /// Number of codes (3 bits).
    pub(crate) const COUNT: usize = 8;
    /// Generation 0. Zero, so a fresh header is in generation 0.
    pub(crate) const GEN0: Code = Code(0);
    /// Generation 1.
    pub(crate) const GEN1: Code = Code(1);
    /// Generation 2, one of its two codes (see the type's docs).
    pub(crate) const OLD_A: Code = Code(2);
    /// Generation 2, the other code.
    pub(crate) const OLD_B: Code = Code(3);
    /// The permanent generation (`freeze`).
    pub(crate) const PERMANENT: Code = Code(4);
    /// Found unreachable by the running collection (on the heap's
    /// `unreachable` or `pending` list).
    pub(crate) const UNREACHABLE: Code = Code(5);
    /// Garbage the collector dropped: on no list, never examined again (a
    /// handle kept past the collection sees a zombie).
    pub(crate) const DEAD: Code = Code(6);
    /// Moved to the unreachable list by a running collection's mark walk,
    /// which holds a strong handle to it and flagged it `WEAK_CLEARED`
    /// (undone if the walk finds it reachable after all). Once the walk is
    /// over: garbage with no finalizer to run, waiting for its drop.
    pub(crate) const CONDEMNED: Code = Code(7);

    /// The code as an index (`0..COUNT`), for per-code tables.
    #[inline(always)]
    pub(crate) const fn index(self) -> usize {
        self.0 as usize
    }

    /// Whether objects with this code are garbage whose weak references
    /// are cleared: `CONDEMNED` and `DEAD`.
    #[inline]
    pub(crate) const fn clears_weak(self) -> bool {
        self.0 == Self::CONDEMNED.0 || self.0 == Self::DEAD.0
    }

    /// The generation-2 code that is not `self`.
    #[inline]
    pub(crate) const fn other_old(self) -> Code {
        if self.0 == Self::OLD_A.0 {
            Self::OLD_B
        } else {
            Self::OLD_A
        }
    }
}

/// A set of [`Code`]s, one bit per code, for
/// [`TrackedHeader::is_member`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct CodeSet(u32);

impl CodeSet {
    /// Every code.
    pub(crate) const ALL: CodeSet = CodeSet(u32::MAX);

    /// The set holding just `code`.
    #[inline(always)]
    pub(crate) const fn of(code: Code) -> CodeSet {
        CodeSet(1 << code.0)
    }

    /// The codes of `self` and of `other`.
    #[inline(always)]
    pub(crate) const fn union(self, other: CodeSet) -> CodeSet {
        CodeSet(self.0 | other.0)
    }

    /// The codes of `self` not in `other`.
    #[inline(always)]
    pub(crate) const fn without(self, other: CodeSet) -> CodeSet {
        CodeSet(self.0 & !other.0)
    }

    /// Whether `code` is in the set.
    #[inline(always)]
    pub(crate) const fn contains(self, code: Code) -> bool {
        (self.0 >> code.0) & 1 != 0
    }

    /// Whether the code with index `index` (see [`Code::index`]) is in the
    /// set.
    #[inline(always)]
    pub(crate) const fn contains_index(self, index: usize) -> bool {
        (self.0 >> index) & 1 != 0
    }
}

impl core::ops::BitOr for CodeSet {
    type Output = CodeSet;

    #[inline(always)]
    fn bitor(self, other: CodeSet) -> CodeSet {
        self.union(other)
    }
}

#[cold]
#[inline(never)]
fn count_overflow() -> ! {
    std::process::abort()
}

impl Header {
    /// A header with these counts and [`bit`]s.
    #[inline]
    pub(crate) const fn new(strong: u32, weak: u32, bits: u32) -> Self {
        Header {
            strong: Cell::new(strong),
            weak: Cell::new(weak | bits),
        }
    }

    /// Whether the weak word is exactly the implicit weak handle of the
    /// strong ones: no `Weak` is left, no finalizer, no `pygc::finalize`
    /// callbacks. An untracked object in this state whose last strong handle
    /// goes dies in the fewest steps: drop the value, free the block.
    #[inline(always)]
    pub(crate) fn weak_is_only_implicit(&self) -> bool {
        self.weak.get() == 1
    }

    /// Whether an untracked object's death can take the short path: no
    /// finalizer and no `pygc::finalize` callbacks.
    #[inline(always)]
    pub(crate) fn dies_plainly(&self) -> bool {
        self.weak.get() & (bit::FINALIZER | bit::FINALIZE_CALLBACKS) == 0
    }

    /// The [`bit`]s of an object with these facts (tracked iff it may
    /// contain a `Gc`).
    #[inline]
    pub(crate) fn bits(facts: crate::trace::TypeFacts) -> u32 {
        let tracked = if facts.may_contain_gc {
            bit::TRACKED
        } else {
            0
        };
        let finalizer = if facts.has_finalizer {
            bit::FINALIZER
        } else {
            0
        };
        tracked | finalizer
    }

    /// Whether the object has the tracked prefix.
    #[inline]
    pub(crate) fn is_tracked(&self) -> bool {
        self.weak.get() & bit::TRACKED != 0
    }

    /// Whether the object is tracked and its value intact (not a zombie
    /// whose value the collector dropped): one load and one compare.
    #[inline(always)]
    pub(crate) fn is_tracked_with_value(&self) -> bool {
        self.weak.get() & (bit::TRACKED | bit::VALUE_DROPPED) == bit::TRACKED
    }

    /// Whether the collector dropped the value.
    #[inline]
    pub(crate) fn is_value_dropped(&self) -> bool {
        self.weak.get() & bit::VALUE_DROPPED != 0
    }

    /// Records that the collector dropped the value.
    #[inline]
    pub(crate) fn set_value_dropped(&self) {
        self.weak.set(self.weak.get() | bit::VALUE_DROPPED);
    }

    /// Whether `pygc::finalize` callbacks are registered for the object.
    #[inline]
    pub(crate) fn has_finalize_callbacks(&self) -> bool {
        self.weak.get() & bit::FINALIZE_CALLBACKS != 0
    }

    /// Sets or clears [`bit::FINALIZE_CALLBACKS`].
    #[inline]
    pub(crate) fn set_finalize_callbacks(&self, on: bool) {
        self.set_weak_bit(bit::FINALIZE_CALLBACKS, on);
    }

    /// Sets (`on`) or clears one of the weak word's [`bit`]s.
    #[inline]
    fn set_weak_bit(&self, bit: u32, on: bool) {
        let word = self.weak.get() & !bit;
        self.weak.set(if on { word | bit } else { word });
    }

    /// Whether the object is the key of `WeakKeyMap` entries
    /// ([`bit::EPHEMERON_KEY`]).
    #[inline]
    pub(crate) fn is_ephemeron_key(&self) -> bool {
        self.weak.get() & bit::EPHEMERON_KEY != 0
    }

    /// Sets or clears [`bit::EPHEMERON_KEY`].
    #[inline]
    pub(crate) fn set_ephemeron_key(&self, on: bool) {
        self.set_weak_bit(bit::EPHEMERON_KEY, on);
    }

    /// Whether the concrete type has a finalizer.
    #[inline]
    pub(crate) fn has_finalizer(&self) -> bool {
        self.weak.get() & bit::FINALIZER != 0
    }

    /// The strong count.
    #[inline]
    pub(crate) fn strong(&self) -> u32 {
        self.strong.get()
    }

    /// Sets the strong count.
    #[inline]
    pub(crate) fn set_strong(&self, n: u32) {
        self.strong.set(n);
    }

    /// Adds a strong handle; aborts on overflow like `Rc`. The strong word
    /// is the count alone, so this and [`dec_strong`](Self::dec_strong)
    /// compile to one read-modify-write and a branch on its flags, as
    /// `Rc`'s do.
    #[inline]
    pub(crate) fn inc_strong(&self) {
        let n = self.strong.get().wrapping_add(1);
        self.strong.set(n);
        if n == 0 {
            count_overflow();
        }
    }

    /// Removes a strong handle and returns the new count.
    #[inline(always)]
    pub(crate) fn dec_strong(&self) -> u32 {
        let n = self.strong.get() - 1;
        self.strong.set(n);
        n
    }

    /// The weak count (the `Weak` handles, plus one while strong ones
    /// exist).
    #[inline]
    pub(crate) fn weak(&self) -> u32 {
        self.weak.get() & WEAK_COUNT_MASK
    }

    /// Adds a weak handle; aborts when the count would overflow its bits.
    #[inline]
    pub(crate) fn inc_weak(&self) {
        let word = self.weak.get();
        if word & WEAK_COUNT_MASK == WEAK_COUNT_MASK {
            count_overflow();
        }
        self.weak.set(word + 1);
    }

    /// Removes a weak handle and returns the new count.
    #[inline]
    pub(crate) fn dec_weak(&self) -> u32 {
        let word = self.weak.get() - 1;
        self.weak.set(word);
        word & WEAK_COUNT_MASK
    }
}

impl TrackedHeader {
    /// A prefix not yet on any list.
    #[inline]
    pub(crate) const fn new(vtable: &'static VTable) -> Self {
        TrackedHeader {
            links: Links::unlinked(),
            vtable: Cell::new(vtable),
        }
    }

    /// The prefix in front of a tracked object's `GcBox`.
    ///
    /// # Safety
    ///
    /// `boxed` must point to the `GcBox` of a live tracked allocation.
    #[inline]
    pub(crate) unsafe fn of_box(boxed: NonNull<Header>) -> NonNull<TrackedHeader> {
        // SAFETY: tracked allocations place the 24-byte prefix immediately
        // before the GcBox, inside the same allocation (caller's contract).
        unsafe { boxed.byte_sub(TRACKED_PREFIX).cast() }
    }

    /// The `GcBox` header that follows this prefix.
    #[inline]
    pub(crate) fn boxed(this: NonNull<TrackedHeader>) -> NonNull<Header> {
        // SAFETY: the prefix is always followed by its GcBox in the same
        // allocation, so the offset stays in bounds.
        unsafe { this.byte_add(TRACKED_PREFIX).cast() }
    }

    /// The refcount header of the object this prefix belongs to.
    ///
    /// # Safety
    ///
    /// `this` must be a live tracked allocation (memory not yet freed).
    #[inline]
    pub(crate) unsafe fn header<'a>(this: NonNull<TrackedHeader>) -> &'a Header {
        // SAFETY: the header is in bounds and lives as long as the memory
        // (caller's contract); it is only accessed through `Cell`s.
        unsafe { Self::boxed(this).as_ref() }
    }

    /// The object's vtable.
    #[inline(always)]
    pub(crate) fn vtable(&self) -> &'static VTable {
        let word = self.vtable.get();
        // SAFETY: the word is a `&'static VTable` with flag bits in its low
        // bits, which the vtable's alignment keeps zero in the pointer.
        unsafe { &*word.map_addr(|addr| addr & !FLAG_MASK) }
    }

    /// The flag bits of the vtable word.
    #[inline(always)]
    fn flag_bits(&self) -> usize {
        self.vtable.get().addr() & FLAG_MASK
    }

    /// Replaces the flag bits of the vtable word (the pointer keeps its
    /// provenance).
    #[inline(always)]
    fn set_flag_bits(&self, bits: usize) {
        debug_assert_eq!(bits & !FLAG_MASK, 0);
        let word = self.vtable.get();
        self.vtable
            .set(word.map_addr(|addr| (addr & !FLAG_MASK) | bits));
    }

    /// The [`Code`] of the list the object is on.
    #[inline]
    pub(crate) fn code(&self) -> Code {
        Code((self.flag_bits() & Code::MASK) as u32)
    }

    /// Whether the object's code is in `codes`.
    #[inline]
    pub(crate) fn is_member(&self, codes: CodeSet) -> bool {
        codes.contains(self.code())
    }

    /// Gives the object the code of the list it is moving to.
    #[inline]
    pub(crate) fn set_code(&self, code: Code) {
        self.set_flag_bits((self.flag_bits() & !Code::MASK) | code.0 as usize);
    }

    /// Ends the object's part in a graph pass in one store: clears the
    /// mark flags and the flags in `clear`, and gives it `code`.
    #[inline]
    pub(crate) fn leave_graph_pass(&self, code: Code, clear: Flags) {
        let marks = Flags::REACHABLE.union(Flags::VISITED).union(clear);
        let kept = self.flag_bits() & !(marks.bits() | Code::MASK);
        self.set_flag_bits(kept | code.0 as usize);
    }

    /// Whether the object has one of `flags`.
    #[inline]
    pub(crate) fn has(&self, flags: Flags) -> bool {
        self.flag_bits() & flags.bits() != 0
    }

    /// Sets `flags`.
    #[inline]
    pub(crate) fn set(&self, flags: Flags) {
        self.set_flag_bits(self.flag_bits() | flags.bits());
    }

    /// Clears `flags`.
    #[inline]
    pub(crate) fn clear(&self, flags: Flags) {
        self.set_flag_bits(self.flag_bits() & !flags.bits());
    }

    /// `true` while the object is on a generation list (or one of the
    /// collector's private lists).
    #[inline]
    pub(crate) fn is_linked(&self) -> bool {
        self.links.is_linked()
    }
}
