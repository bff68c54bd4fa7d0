//! The refcount path: what happens when the last strong handle goes.
//!
//! `finalize` (once per object, ever) → drop the value → drop the implicit
//! weak handle → free the block when no `Weak` is left.
//!
//! **Trashcan.** Dropping a value drops the `Gc`s it owns, which can drop
//! their values in turn: a 10-million-node linked list would recurse 10
//! million frames deep. Like CPython's `Py_TRASHCAN_BEGIN`, drops nested
//! deeper than [`TRASHCAN_DEPTH`] are not run immediately: the object (value
//! still intact, strong count 0) is queued on the heap's trashcan list, and
//! the outermost drop drains the queue iteratively. The queue is intrusive
//! (it reuses the generation-list links, which the object has just left), so
//! the refcount path never allocates. Only tracked objects can own a `Gc`,
//! so only they can nest.

use core::alloc::Layout;
use core::ptr::{self, NonNull};

use crate::header::{Flags, GcBox};
use crate::heap::{Heap, heap, heap_of_live_object};
use crate::list;
use crate::trace::{Trace, finalize_if_any};
use crate::tracked::Tracked;
use crate::vtable::allocation_of;
use crate::weakref_finalize::{run_on_refcount_death, take_on_refcount_death};

/// Nesting depth of refcount-path drops before the trashcan defers them.
pub(crate) const TRASHCAN_DEPTH: u32 = 50;

/// Runs when a strong count has just reached 0.
///
/// Inline only for what `Rc::drop` would inline: the usual death of an
/// untracked object of a sized type whose values never hold a `Gc`
/// (`Gc<u64>`, `Gc<String>`) with no `Weak`, finalizer or `pygc::finalize`
/// callback left: drop the value, free the block, with the thread's heap
/// often already at hand (a loop that allocates and drops reads it once).
/// A tracked object jumps straight to its typed death; the other untracked
/// cases go out of line, like `Rc`'s `drop_slow`, so that `Gc::drop` stays
/// small in every loop that drops handles. The type's facts only choose
/// the code; whether the object is tracked is always read from its header
/// (a `Gc<T>` from `Gc::downcast` may be tracked whatever `T` says).
///
/// # Safety
///
/// `ptr` is a live object whose strong count the caller just took to 0.
#[inline(always)]
pub(crate) unsafe fn last_strong_dropped<T: ?Sized + Trace>(ptr: NonNull<GcBox<T>>) {
    // SAFETY: live (caller's contract); the header is read through `Cell`s.
    let header = unsafe { &(*ptr.as_ptr()).header };
    let sized = size_of::<*const T>() == size_of::<*const ()>();
    // For the types meant here the facts are constants. A weak word of
    // exactly 1 also says the object is untracked, so its value is intact
    // (only the collector drops values early, and only tracked ones).
    if sized
        && header.weak_is_only_implicit()
        // SAFETY: untracked and live: the value is intact.
        && !unsafe { &(*ptr.as_ptr()).value }.__value_facts().may_contain_gc
    {
        // SAFETY: strong count 0 and no `Weak`: nothing can reach the value
        // or the block any more, so the value is dropped exactly once (its
        // drop cannot create a `Weak` of an object nothing names) and the
        // block, allocated with the layout of a sized `GcBox<T>` from this
        // thread's heap (live until the block is back), is freed.
        unsafe {
            let layout = Layout::for_value(ptr.as_ref());
            ptr::drop_in_place(&raw mut (*ptr.as_ptr()).value);
            heap_of_live_object().deallocate(ptr.cast(), layout);
        }
        return;
    }
    if header.is_tracked() {
        // SAFETY: caller's contract (live object, strong count just 0).
        return unsafe { tracked_last_strong_dropped_typed(ptr) };
    }
    // SAFETY: caller's contract.
    unsafe { last_strong_dropped_slow(ptr) }
}

/// [`last_strong_dropped`] out of line for untracked objects of other
/// types, with `Weak`s left or with user code to run.
///
/// # Safety
///
/// As for [`last_strong_dropped`], on an untracked object.
#[inline(never)]
unsafe fn last_strong_dropped_slow<T: ?Sized + Trace>(ptr: NonNull<GcBox<T>>) {
    // SAFETY: live (caller's contract); the header is read through `Cell`s.
    let header = unsafe { &(*ptr.as_ptr()).header };
    if !header.dies_plainly() {
        // SAFETY: caller's contract.
        return unsafe { untracked_death_with_callbacks(ptr) };
    }
    // No finalizer, no callbacks, but `Weak`s may be left. SAFETY: strong
    // count 0: no handle can read the value any more (upgrades fail), so it
    // is dropped exactly once; its layout is taken while it is still intact.
    unsafe {
        let layout = Layout::for_value(ptr.as_ref());
        ptr::drop_in_place(&raw mut (*ptr.as_ptr()).value);
        release_untracked_weak(ptr, layout);
    }
}

/// The death of an untracked object with a finalizer or `pygc::finalize`
/// callbacks.
///
/// # Safety
///
/// As for [`last_strong_dropped`], on an untracked object.
#[cold]
#[inline(never)]
unsafe fn untracked_death_with_callbacks<T: ?Sized + Trace>(ptr: NonNull<GcBox<T>>) {
    // SAFETY: live (caller's contract).
    let header = unsafe { &(*ptr.as_ptr()).header };
    // SAFETY: strong count 0: no handle can read the value any more
    // (upgrades fail), so it is finalized and dropped exactly once; its
    // layout is taken while it is still intact.
    unsafe {
        let layout = Layout::for_value(ptr.as_ref());
        let value = &raw mut (*ptr.as_ptr()).value;
        finalize_if_any(&*value, header.has_finalizer());
        ptr::drop_in_place(value);
        let dead = header
            .has_finalize_callbacks()
            .then(|| take_on_refcount_death(ptr.cast()));
        release_untracked_weak(ptr, layout);
        if let Some(dead) = dead {
            run_on_refcount_death(dead);
        }
    }
}

/// Drops the weak count shared by the strong handles of a tracked object;
/// frees the block when it was the last.
///
/// # Safety
///
/// A tracked object; the strong count is 0 and the value is already dropped
/// or moved out.
#[inline]
pub(crate) unsafe fn release_implicit_weak<T: ?Sized + Trace>(ptr: NonNull<GcBox<T>>) {
    debug_assert!(
        // SAFETY: live (the implicit weak count is held).
        unsafe { (*ptr.as_ptr()).header.is_tracked() },
        "untracked objects use release_untracked_weak"
    );
    // SAFETY: tracked (caller), and the implicit weak count keeps it live.
    unsafe { release_tracked_memory(heap(), Tracked::of_box(ptr.cast())) };
}

/// Drops the weak count shared by the strong handles of an untracked
/// object whose block has `layout`: frees the block when it was the last,
/// otherwise records `layout` in the block for the last [`Weak`]'s drop
/// (see [`stash_layout`]).
///
/// [`Weak`]: crate::Weak
///
/// # Safety
///
/// An untracked object allocated with `layout`; the strong count is 0 and
/// the value is already dropped or moved out.
#[inline]
pub(crate) unsafe fn release_untracked_weak<T: ?Sized>(ptr: NonNull<GcBox<T>>, layout: Layout) {
    // SAFETY: the caller holds the implicit weak count, so the block is live.
    if unsafe { (*ptr.as_ptr()).header.dec_weak() } == 0 {
        // SAFETY: the last weak count is gone: nobody references the block,
        // which was allocated with `layout`.
        unsafe { heap().deallocate(ptr.cast(), layout) };
    } else {
        // SAFETY: value gone, block live (weak handles are left).
        unsafe { stash_layout_cold(ptr.cast(), layout) };
    }
}

/// [`stash_layout`] out of the refcount fast path.
///
/// # Safety
///
/// As for `stash_layout`.
#[cold]
#[inline(never)]
unsafe fn stash_layout_cold(block: NonNull<u8>, layout: Layout) {
    // SAFETY: caller's contract.
    unsafe { stash_layout(block, layout) };
}

/// Bytes from an untracked block's start to its stashed layout: right after
/// the 8-byte header, where the value was.
const STASH_OFFSET: usize = 8;

/// Records `layout` in an untracked block whose value is gone (dropped,
/// moved out, or never written), for [`free_untracked_block`].
///
/// The layout cannot be computed then: `Layout::for_value` would build a
/// reference to a dead value. Every block has room: pooled blocks are at
/// least 16 bytes, and larger ones are larger.
///
/// # Safety
///
/// `block` is the start of a live untracked block allocated with `layout`,
/// whose value bytes nobody reads any more.
#[inline]
pub(crate) unsafe fn stash_layout(block: NonNull<u8>, layout: Layout) {
    debug_assert!(layout.align() >= 4, "a GcBox is at least 4-aligned");
    let encoded = (layout.size() as u64) << 6 | u64::from(layout.align().trailing_zeros());
    // SAFETY: the 8 bytes after the header are inside the block (see above)
    // and hold no live value (caller's contract).
    unsafe {
        block
            .byte_add(STASH_OFFSET)
            .cast::<u64>()
            .write_unaligned(encoded);
    }
}

/// Returns the block of an untracked object whose counts are both 0 and
/// whose layout was stashed ([`stash_layout`]).
///
/// # Safety
///
/// Strong and weak counts are 0; the layout was stashed when the value went.
#[inline]
pub(crate) unsafe fn free_untracked_block(heap: &Heap, block: NonNull<u8>) {
    // SAFETY: the stash is inside the live block (caller's contract).
    let encoded = unsafe { block.byte_add(STASH_OFFSET).cast::<u64>().read_unaligned() };
    let size = (encoded >> 6) as usize;
    let align = 1usize << (encoded & 63);
    // SAFETY: the stash holds the layout of the allocation (a valid one).
    let layout = unsafe { Layout::from_size_align_unchecked(size, align) };
    // SAFETY: no handle is left; the block was allocated with `layout`.
    unsafe { heap.deallocate(block, layout) };
}

/// Returns the block of an object whose counts are both 0.
///
/// # Safety
///
/// Strong and weak counts are 0; the value is dropped or moved out (an
/// untracked object's layout was stashed then).
#[inline]
pub(crate) unsafe fn free_block<T: ?Sized + Trace>(heap: &Heap, ptr: NonNull<GcBox<T>>) {
    // SAFETY: the block is still allocated (caller).
    if unsafe { (*ptr.as_ptr()).header.is_tracked() } {
        // SAFETY: tracked object, memory still allocated (caller).
        let (base, layout, class) = allocation_of(unsafe { Tracked::of_box(ptr.cast()) });
        // SAFETY: `base`/`layout` describe the allocation made by `Gc::new`,
        // of size class `class`.
        unsafe { heap.deallocate_in(base, layout, class) };
    } else {
        // SAFETY: untracked, counts 0, layout stashed (caller's contract).
        unsafe { free_untracked_block(heap, ptr.cast()) };
    }
}

/// Drops the implicit weak count of a tracked object whose value is gone.
///
/// # Safety
///
/// Strong count 0 and value dropped; `node` is on no list. The caller's
/// use of `node` ends here (its memory may be freed).
#[inline(always)]
pub(crate) unsafe fn release_tracked_memory(heap: &Heap, node: Tracked) {
    // The implicit weak count keeps the block alive until here.
    if node.header().dec_weak() == 0 {
        let (base, layout, class) = allocation_of(node);
        // SAFETY: no handle of any kind is left: the block is freed once,
        // with its layout and size class.
        unsafe { heap.deallocate_in(base, layout, class) };
    }
}

/// Restores the trashcan depth even if a `Drop` unwinds.
struct DepthGuard<'a> {
    heap: &'a Heap,
    depth: u32,
}

impl Drop for DepthGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.heap.drop_depth.set(self.depth);
    }
}

/// The first steps of a tracked object's refcount death: it leaves its
/// generation list before any user code runs (so a collection started by
/// the finalizer or by a `Drop` never sees the dying object), is counted
/// out, and, if it has a finalizer (the header's bit) that has not run
/// yet, is finalized (`finalize` runs the finalizer). An object without
/// one is not marked `FINALIZED`: with its strong count at 0 nothing can
/// ask any more.
///
/// # Safety
///
/// `node` is on a list, its strong count just reached 0, value intact.
#[inline(always)]
unsafe fn leave_heap_and_finalize(heap: &Heap, node: Tracked, finalize: impl FnOnce()) {
    // SAFETY: unlinking is O(1) and always allowed (neighbours of a listed
    // object are live).
    unsafe { list::unlink(node) };
    let h = node.prefix();
    heap.note_tracked_deallocation(h);
    if node.finalizer_pending() {
        h.set(Flags::FINALIZED);
        // Strong 0: the finalizer cannot resurrect the object (upgrades
        // fail).
        finalize();
    }
}

/// Drops the value with `drop` one trashcan level deeper than `depth`,
/// then releases the memory.
///
/// # Safety
///
/// `node` has strong count 0, is on no list, value intact; `drop` drops
/// that value (exactly once).
#[inline(always)]
unsafe fn drop_value_and_release(heap: &Heap, node: Tracked, depth: u32, drop: impl FnOnce()) {
    {
        heap.drop_depth.set(depth + 1);
        let _restore = DepthGuard { heap, depth };
        drop();
    }
    // `pygc::finalize` callbacks leave the side table before the block can
    // be reused, and run once it is released (weak references are dead:
    // strong count 0).
    let dead = node.header().has_finalize_callbacks().then(|| {
        // SAFETY: allocated; the pointer covers the whole block.
        unsafe { take_on_refcount_death(node.boxed()) }
    });
    // SAFETY: value dropped, strong count 0, on no list.
    unsafe { release_tracked_memory(heap, node) };
    if let Some(dead) = dead {
        run_on_refcount_death(dead);
    }
}

/// [`drop_value_and_release`] through the vtable.
///
/// # Safety
///
/// As for `drop_value_and_release`.
#[inline]
unsafe fn drop_erased_value_and_release(heap: &Heap, node: Tracked, depth: u32) {
    // SAFETY: caller's contract; the value is intact and unreachable
    // (strong count 0), so it is dropped exactly once.
    unsafe { drop_value_and_release(heap, node, depth, || node.drop_value()) };
}

/// The end of a refcount death at `depth`: the outermost one drains the
/// values the trashcan deferred.
#[inline(always)]
fn after_refcount_death(heap: &Heap, depth: u32) {
    if depth == 0 && !heap.trashcan.is_empty() {
        drain_trashcan(heap);
    }
}

/// The tracked part of the refcount path with the type known: the common
/// case (value intact, shallow nesting) calls the finalizer and the drop
/// glue directly; everything else goes to the type-erased path.
///
/// # Safety
///
/// `ptr` is a live tracked object whose strong count just reached 0.
#[inline(never)]
unsafe fn tracked_last_strong_dropped_typed<T: ?Sized + Trace>(ptr: NonNull<GcBox<T>>) {
    // SAFETY: tracked objects carry a prefix; the object is live until
    // `drop_value_and_release` releases it, the handle's last use.
    let node = unsafe { Tracked::of_box(ptr.cast()) };
    // SAFETY: live (the implicit weak count is still held).
    let header = unsafe { &(*ptr.as_ptr()).header };
    let heap = heap();
    let depth = heap.drop_depth.get();
    if header.is_value_dropped() || depth >= TRASHCAN_DEPTH {
        // SAFETY: caller's contract.
        return unsafe { tracked_last_strong_dropped(node) };
    }
    // SAFETY: live object: the place of its value.
    let value = unsafe { &raw mut (*ptr.as_ptr()).value };
    // SAFETY: strong count 0: the value is intact and nobody else can reach
    // it, so it is finalized (once) and dropped exactly once.
    unsafe {
        leave_heap_and_finalize(heap, node, || (*value).run_finalizer());
        drop_value_and_release(heap, node, depth, || ptr::drop_in_place(value));
    }
    after_refcount_death(heap, depth);
}

/// The tracked part of the refcount path (type-erased, out of line).
///
/// # Safety
///
/// `node`'s strong count just reached 0 (its implicit weak count keeps it
/// live until it is released here).
#[inline(never)]
pub(crate) unsafe fn tracked_last_strong_dropped(node: Tracked) {
    let heap = heap();
    if node.header().is_value_dropped() {
        // A handle kept past a cycle collection: the value is already gone.
        // SAFETY: strong 0, value dropped, the collector unlinked it.
        unsafe { release_tracked_memory(heap, node) };
        return;
    }
    // SAFETY: strong 0, value intact (caller's contract).
    unsafe {
        leave_heap_and_finalize(heap, node, || node.finalize());
    }
    let depth = heap.drop_depth.get();
    if depth >= TRASHCAN_DEPTH {
        // SAFETY: on no list (unlinked above), live until drained.
        unsafe { heap.trashcan.push_back(node) };
        return;
    }
    // SAFETY: strong 0, unlinked, value intact.
    unsafe { drop_erased_value_and_release(heap, node, depth) };
    after_refcount_death(heap, depth);
}

/// Drops the deferred values one at a time, at depth 1, so nested drops
/// queue again instead of recursing.
#[cold]
#[inline(never)]
fn drain_trashcan(heap: &Heap) {
    while let Some(node) = heap.trashcan.pop_first() {
        // SAFETY: queued objects are live, strong 0, value intact, and
        // `pop_first` unlinked them.
        unsafe { drop_erased_value_and_release(heap, node, 0) };
    }
}
