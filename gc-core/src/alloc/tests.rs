//! Tests of the pooled allocator: pool filling, block reuse, arena
//! ordering and return, large objects, class boundaries, and a model-based
//! property test.

use super::arena::ARENA_OVERHEAD;
use super::pool::{POOL_OVERHEAD, pool_of};
use super::size_class::{ARENA_SIZE, NUM_SIZE_CLASSES, POOL_SIZE, POOLS_PER_ARENA, class_size};
use super::*;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// Blocks of `class` in a pool that is not its arena's last.
fn capacity(class: usize) -> usize {
    (POOL_SIZE - POOL_OVERHEAD) / class_size(class)
}

/// Blocks of `class` in an arena's last pool (which holds the arena header).
fn last_pool_capacity(class: usize) -> usize {
    (POOL_SIZE - POOL_OVERHEAD - ARENA_OVERHEAD) / class_size(class)
}

/// Blocks of `class` filling one whole arena.
fn arena_capacity(class: usize) -> usize {
    (POOLS_PER_ARENA - 1) * capacity(class) + last_pool_capacity(class)
}

/// Small deterministic PRNG (xorshift64*).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// The distinct addresses of `blocks`, sorted.
fn sorted(blocks: &[NonNull<u8>]) -> Vec<usize> {
    let mut v: Vec<_> = blocks.iter().map(|p| p.as_ptr().addr()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The arena holding `ptr`'s pool.
fn arena_of(ptr: NonNull<u8>) -> *mut arena::ArenaHeader {
    // SAFETY: tests only pass live pooled blocks, whose pool is carved.
    unsafe { PoolRef::of_block(ptr.as_ptr()) }.arena().as_ptr()
}

/// Checks that at most one arena is idle: the spare, or an arena whose
/// every taken pool is an empty pool kept on a used list.
fn check_idle_arenas(a: &Allocator) {
    let mut kept: Vec<(ArenaRef, usize)> = Vec::new();
    a.for_each_empty_used_pool(|_, pool| {
        let arena = pool.arena();
        match kept.iter_mut().find(|(a, _)| *a == arena) {
            Some((_, n)) => *n += 1,
            None => kept.push((arena, 1)),
        }
    });
    let idle_kept = kept
        .iter()
        .filter(|&&(arena, n)| arena.pools_taken() == n)
        .count();
    assert!(
        usize::from(a.arenas.has_spare()) + idle_kept <= 1,
        "more than one idle arena (spare: {}, arenas of only kept pools: {idle_kept})",
        a.arenas.has_spare()
    );
}

fn free_all(a: &mut Allocator, blocks: Vec<NonNull<u8>>, l: Layout) {
    for p in blocks {
        // SAFETY: every block was allocated from `a` with `l`, once.
        unsafe { a.deallocate(p, l) };
    }
}

#[test]
fn new_is_const_and_allocates_nothing() {
    const EMPTY: Allocator = Allocator::new();
    thread_local! {
        static TLS: core::cell::RefCell<Allocator> = const { core::cell::RefCell::new(Allocator::new()) };
    }
    let a = EMPTY;
    assert!(a.is_empty());
    assert_eq!(a.stats(), HeapStats::default());
    TLS.with(|t| {
        let mut t = t.borrow_mut();
        let p = t.allocate(layout(8, 8));
        // SAFETY: allocated just above with this layout.
        unsafe { t.deallocate(p, layout(8, 8)) };
        t.release_free_arenas();
    });
}

#[test]
fn fill_pool_then_overflow_into_second_pool() {
    let mut a = Allocator::new();
    let l = layout(16, 8);
    let cap = capacity(0);
    let blocks: Vec<_> = (0..cap).map(|_| a.allocate(l)).collect();
    let pool = pool_of(blocks[0].as_ptr());
    assert_eq!(
        sorted(&blocks).len(),
        cap,
        "a pool handed out a block twice"
    );
    for p in &blocks {
        assert_eq!(
            pool_of(p.as_ptr()),
            pool,
            "the first pool was not filled first"
        );
        let offset = p.as_ptr().addr() - pool.addr();
        assert!(offset >= POOL_OVERHEAD && offset + 16 <= POOL_SIZE);
    }
    let s = a.stats();
    assert_eq!((s.arenas, s.pools, s.blocks_of(16)), (1, 1, cap));
    // The pool is full: it left the used list.
    assert!(a.used.head(0).is_none());

    let extra = a.allocate(l);
    assert_ne!(
        pool_of(extra.as_ptr()),
        pool,
        "a full pool served another block"
    );
    let s = a.stats();
    assert_eq!((s.pools, s.blocks_of(16)), (2, cap + 1));
    assert_eq!(s.bytes_in_use, (cap + 1) * 16);

    // Freeing into the full pool puts it first on the used list again.
    let freed = blocks[cap / 2];
    // SAFETY: allocated above with `l`.
    unsafe { a.deallocate(freed, l) };
    assert_eq!(a.used.head(0).map(PoolRef::as_ptr), Some(pool));
    assert_eq!(
        a.allocate(l),
        freed,
        "the hole in the refilled pool was not reused"
    );

    free_all(&mut a, blocks, l);
    free_all(&mut a, vec![extra], l);
    assert!(a.is_empty());
    a.arenas.check_invariants();
}

#[test]
fn random_order_frees_are_reused() {
    let mut a = Allocator::new();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let l = layout(200, 8); // class 19, 208-byte blocks
    let n = 3 * capacity(19) + 7; // spans four pools
    let mut blocks: Vec<_> = (0..n).map(|_| a.allocate(l)).collect();
    assert_eq!(sorted(&blocks).len(), n, "a block was handed out twice");
    let pools = a.stats().pools;
    assert_eq!(pools, 4);

    // LIFO: a freed block is the next one handed out.
    let p = blocks[17];
    // SAFETY: allocated above with `l`, freed once.
    unsafe { a.deallocate(p, l) };
    assert_eq!(a.allocate(l), p);

    // Free half in random order, allocate as many: exactly the freed blocks
    // come back, and no new pool is carved.
    rng.shuffle(&mut blocks);
    let freed: Vec<_> = blocks.split_off(n / 2);
    let freed_set = sorted(&freed);
    free_all(&mut a, freed, l);
    let again: Vec<_> = (0..freed_set.len()).map(|_| a.allocate(l)).collect();
    assert_eq!(sorted(&again), freed_set, "freed blocks were not reused");
    assert_eq!(a.stats().pools, pools);
    assert_eq!(a.stats().blocks_of(208), n);
    blocks.extend(again);

    // Free everything in random order: every pool empties and returns to
    // the arena, which stays as the spare.
    rng.shuffle(&mut blocks);
    free_all(&mut a, blocks, l);
    let s = a.stats();
    assert_eq!((s.arenas, s.pools, s.bytes_in_use), (1, 0, 0));
    assert!(a.is_empty());
    a.arenas.check_invariants();
}

#[test]
fn empty_pool_is_reused_for_another_class() {
    let mut a = Allocator::new();
    let small = layout(16, 16);
    let blocks: Vec<_> = (0..10).map(|_| a.allocate(small)).collect();
    let pool = pool_of(blocks[0].as_ptr());
    free_all(&mut a, blocks, small);
    assert_eq!(a.stats().pools, 0);
    // The class keeps its emptied pool until trimmed.
    a.trim_kept_pools();

    let big = layout(200, 8); // class 19
    let p = a.allocate(big);
    assert_eq!(pool_of(p.as_ptr()), pool, "the emptied pool was not reused");
    assert_eq!(
        p.as_ptr().addr() - pool.addr(),
        POOL_OVERHEAD,
        "pool not re-initialised"
    );
    let s = a.stats();
    assert_eq!((s.pools, s.blocks_of(16), s.blocks_of(208)), (1, 0, 1));
    // Back to the first class: the pool is re-initialised again.
    // SAFETY: allocated above with `big`.
    unsafe { a.deallocate(p, big) };
    a.trim_kept_pools();
    let q = a.allocate(small);
    assert_eq!(pool_of(q.as_ptr()), pool);
    // SAFETY: allocated above with `small`.
    unsafe { a.deallocate(q, small) };
    a.arenas.check_invariants();
}

/// A pool emptied in some order and taken again for the same class hands
/// its blocks out in address order (carved afresh), not along the old free
/// list, whose order is the order the blocks were freed in.
#[test]
fn emptied_pool_taken_again_for_its_class_is_carved_in_address_order() {
    let mut a = Allocator::new();
    let mut rng = XorShift(7);
    let l = layout(48, 8);
    let mut blocks: Vec<_> = (0..64).map(|_| a.allocate(l)).collect();
    let pool = pool_of(blocks[0].as_ptr());
    rng.shuffle(&mut blocks);
    free_all(&mut a, blocks, l);
    // The class keeps its emptied pool until trimmed; then it is the one
    // the arena hands out next.
    a.trim_kept_pools();
    let again: Vec<_> = (0..64).map(|_| a.allocate(l)).collect();
    assert_eq!(
        pool_of(again[0].as_ptr()),
        pool,
        "the emptied pool was not reused"
    );
    let addresses: Vec<usize> = again.iter().map(|p| p.as_ptr().addr()).collect();
    let expected: Vec<usize> = (0..64)
        .map(|i| pool.addr() + POOL_OVERHEAD + i * class_size(small_class(l).unwrap()))
        .collect();
    assert_eq!(
        addresses, expected,
        "blocks not handed out in address order"
    );
    free_all(&mut a, again, l);
    a.arenas.check_invariants();
}

#[test]
fn free_arenas_are_returned_keeping_one_spare() {
    let mut a = Allocator::new();
    let mut rng = XorShift(42);
    let l = layout(512, 16);
    let per_arena = arena_capacity(38);
    let arenas = if cfg!(miri) { 2 } else { 3 };
    let n = (arenas - 1) * per_arena + per_arena / 2;
    let mut blocks: Vec<_> = (0..n).map(|_| a.allocate(l)).collect();
    let s = a.stats();
    assert_eq!(s.arenas, arenas);
    assert_eq!(s.blocks_of(512), n);
    assert_eq!(s.bytes_reserved, arenas * ARENA_SIZE);
    a.arenas.check_invariants();

    rng.shuffle(&mut blocks);
    free_all(&mut a, blocks, l);
    assert!(a.is_empty(), "a kept empty pool does not count as in use");
    a.trim_kept_pools();
    a.arenas.check_invariants();
    let s = a.stats();
    assert_eq!(
        (s.arenas, s.pools, s.bytes_in_use),
        (1, 0, 0),
        "all but the spare arena returned"
    );
    assert_eq!(s.bytes_reserved, ARENA_SIZE);
    assert!(a.is_empty());

    a.release_free_arenas();
    assert_eq!(
        a.stats(),
        HeapStats::default(),
        "the spare was not released"
    );
    a.arenas.check_invariants();

    // Still usable afterwards.
    let p = a.allocate(l);
    assert_eq!(a.stats().arenas, 1);
    // SAFETY: allocated above with `l`.
    unsafe { a.deallocate(p, l) };
}

#[test]
fn spare_arena_prevents_thrashing() {
    let mut a = Allocator::new();
    let l = layout(512, 16);
    let blocks: Vec<_> = (0..arena_capacity(38)).map(|_| a.allocate(l)).collect();
    assert_eq!(a.stats().arenas, 1);
    let first = arena_of(blocks[0]);
    for _ in 0..3 {
        let p = a.allocate(l);
        let second = arena_of(p);
        assert_ne!(second, first, "a full arena served a pool");
        assert_eq!(a.stats().arenas, 2);
        // SAFETY: allocated above with `l`.
        unsafe { a.deallocate(p, l) };
        // The second arena is wholly free again but kept as the spare.
        assert_eq!(a.stats().arenas, 2);
        a.arenas.check_invariants();
    }
    free_all(&mut a, blocks, l);
    assert_eq!(a.stats().arenas, 1);
    a.arenas.check_invariants();
}

/// Wholly free arenas (past the spare) are retired, not handed to the
/// global allocator: the next arenas reuse their memory, and teardown
/// releases them.
#[test]
fn free_arenas_are_retired_and_reused() {
    let mut a = Allocator::new();
    let l = layout(512, 16);
    let per_arena = arena_capacity(38);
    let blocks: Vec<_> = (0..4 * per_arena).map(|_| a.allocate(l)).collect();
    assert_eq!(a.stats().arenas, 4);
    let arenas = |blocks: &[NonNull<u8>]| {
        let mut bases: Vec<_> = blocks
            .iter()
            .step_by(per_arena)
            .map(|&p| arena_of(p).addr())
            .collect();
        bases.sort_unstable();
        bases
    };
    let bases = arenas(&blocks);
    free_all(&mut a, blocks, l);
    let s = a.stats();
    assert_eq!(s.arenas, 1, "only the spare is held");
    assert_eq!(
        s.bytes_reserved, ARENA_SIZE,
        "retired arenas are not reserved"
    );
    assert_eq!(a.arenas.retired_count(), 3);
    a.arenas.check_invariants();

    let again: Vec<_> = (0..4 * per_arena).map(|_| a.allocate(l)).collect();
    assert_eq!(
        a.arenas.retired_count(),
        0,
        "retired memory was reused first"
    );
    assert_eq!(arenas(&again), bases, "the same four arenas serve again");
    for (i, &p) in again.iter().enumerate() {
        // SAFETY: each block is 512 writable bytes of its own.
        unsafe { p.as_ptr().write_bytes(i as u8, 512) };
    }
    free_all(&mut a, again, l);
    a.release_free_arenas();
    assert_eq!(a.stats().arenas, 0);
    assert_eq!(a.arenas.retired_count(), 0, "teardown releases them");
}

#[test]
fn pools_come_from_the_most_used_arena() {
    let mut a = Allocator::new();
    let l = layout(512, 16);
    let cap = capacity(38);
    let per_arena = arena_capacity(38);
    let blocks: Vec<_> = (0..2 * per_arena).map(|_| a.allocate(l)).collect();
    let (first, second) = (arena_of(blocks[0]), arena_of(blocks[per_arena]));
    assert_ne!(first, second);
    // Group the blocks by pool; empty 6 pools of the first arena and 3 of
    // the second: the second is then the more used.
    let mut by_pool: Vec<Vec<NonNull<u8>>> = Vec::new();
    for &p in &blocks {
        match by_pool.last_mut() {
            Some(v) if pool_of(v[0].as_ptr()) == pool_of(p.as_ptr()) => v.push(p),
            _ => by_pool.push(vec![p]),
        }
    }
    assert_eq!(by_pool.len(), 2 * POOLS_PER_ARENA);
    assert!(by_pool.iter().all(|v| v.len() >= cap - 1));
    let mut kept = Vec::new();
    for (i, pool_blocks) in by_pool.into_iter().enumerate() {
        // Pools 0, 10, .., 50 of the first arena; 80, 100, 120 (the
        // second's 16th, 36th and 56th).
        let empty_it =
            (i < POOLS_PER_ARENA && i % 10 == 0 && i < 60) || (i >= POOLS_PER_ARENA && i % 20 == 0);
        if empty_it {
            free_all(&mut a, pool_blocks, l);
            a.trim_kept_pools();
        } else {
            kept.extend(pool_blocks);
        }
    }
    a.arenas.check_invariants();
    let s = a.stats();
    assert_eq!(s.arenas, 2);
    assert_eq!(s.pools, 2 * POOLS_PER_ARENA - 9);

    // New pools come from the second arena (3 free pools, against 6) until
    // it is full, then from the first.
    let other = layout(64, 8);
    let mut fresh = Vec::new();
    for _ in 0..3 {
        let pool_before = a.stats().pools;
        // Exhaust a new pool of its class so each round needs a fresh pool.
        for _ in 0..capacity(small_class(other).unwrap()) {
            fresh.push(a.allocate(other));
        }
        assert_eq!(a.stats().pools, pool_before + 1);
        assert_eq!(
            arena_of(*fresh.last().unwrap()),
            second,
            "pool not taken from the most used arena"
        );
        a.arenas.check_invariants();
    }
    fresh.push(a.allocate(other));
    assert_eq!(
        arena_of(*fresh.last().unwrap()),
        first,
        "full arena served a pool"
    );
    a.arenas.check_invariants();

    free_all(&mut a, fresh, other);
    free_all(&mut a, kept, l);
    assert!(a.is_empty());
    a.trim_kept_pools();
    assert_eq!(a.stats().arenas, 1);
    a.arenas.check_invariants();
}

#[test]
fn arena_ordering_under_churn() {
    // Random frees and allocations of pool-sized groups over several arenas
    // exercise every reordering case of the usable list (an arena gaining a
    // free pool, sliding right, becoming wholly free, refilling).
    let mut a = Allocator::new();
    let mut rng = XorShift(0xDEAD_BEEF);
    let l = layout(512, 16);
    let (arenas, steps, check_every) = if cfg!(miri) {
        (2, 1500, 101)
    } else {
        (4, 40_000, 1)
    };
    let target = arenas * arena_capacity(38);
    let mut live: Vec<_> = (0..target).map(|_| a.allocate(l)).collect();
    let mut max_arenas = a.arenas.count();
    for step in 0..steps {
        // Drift between a nearly empty and a full heap.
        let phase = (step / (steps / 6)) % 2 == 0;
        let free_bias = if phase { 6 } else { 4 };
        if !live.is_empty() && rng.below(10) < free_bias {
            let p = live.swap_remove(rng.below(live.len()));
            // SAFETY: allocated with `l`, removed from `live`.
            unsafe { a.deallocate(p, l) };
        } else {
            live.push(a.allocate(l));
        }
        max_arenas = max_arenas.max(a.arenas.count());
        if step % check_every == 0 {
            a.arenas.check_invariants();
            assert_eq!(a.stats().blocks_of(512), live.len());
        }
    }
    assert!(max_arenas >= arenas);
    free_all(&mut a, live, l);
    a.trim_kept_pools();
    a.arenas.check_invariants();
    assert_eq!(a.stats().arenas, 1);
}

#[test]
fn large_objects_bypass_pools() {
    let mut a = Allocator::new();
    let cases = [
        layout(513, 8),
        layout(4096, 8),
        layout(16, 32),
        layout(100, 4096),
        layout(600, 64),
    ];
    let ptrs: Vec<_> = cases.iter().map(|&l| (a.allocate(l), l)).collect();
    for &(p, l) in &ptrs {
        assert_eq!(p.as_ptr().addr() % l.align(), 0, "large object misaligned");
        // SAFETY: the block is `l.size()` bytes and ours.
        unsafe { p.as_ptr().write_bytes(0xAB, l.size()) };
    }
    let total: usize = cases.iter().map(|l| l.size()).sum();
    let s = a.stats();
    assert_eq!(
        (s.arenas, s.pools),
        (0, 0),
        "large objects touched the pools"
    );
    assert_eq!(s.bytes_in_use, total);
    assert_eq!(s.bytes_reserved, total);
    assert!(!a.is_empty());
    for (p, l) in ptrs {
        // SAFETY: allocated above with `l`.
        unsafe { a.deallocate(p, l) };
    }
    assert!(a.is_empty());
    assert_eq!(a.stats(), HeapStats::default());
}

#[test]
fn size_class_boundaries() {
    let mut a = Allocator::new();
    let sizes = [16, 17, 512, 513];
    let ptrs: Vec<_> = sizes
        .iter()
        .map(|&s| (a.allocate(layout(s, 8)), layout(s, 8)))
        .collect();
    let s = a.stats();
    // 17 bytes take a 24-byte block (8-byte steps below 128).
    assert_eq!(s.blocks_in_use, [(16, 1), (24, 1), (512, 1)]);
    assert_eq!(s.pools, 3);
    assert_eq!(s.bytes_in_use, 16 + 24 + 512 + 513);
    assert_eq!(s.bytes_reserved, ARENA_SIZE + 513);
    // 513 is large: the pool header test must not apply to it.
    assert_ne!(pool_of(ptrs[3].0.as_ptr()), pool_of(ptrs[2].0.as_ptr()));
    for (p, l) in ptrs {
        // SAFETY: allocated above with `l`.
        unsafe { a.deallocate(p, l) };
    }
    assert!(a.is_empty());
}

#[test]
fn every_block_is_aligned_for_its_layout() {
    let mut a = Allocator::new();
    let step = if cfg!(miri) { 7 } else { 1 };
    let mut live = Vec::new();
    for size in (1..=512).step_by(step) {
        for align in [1, 2, 4, 8, 16] {
            let l = layout(size, align);
            for _ in 0..3 {
                let p = a.allocate(l);
                // 8 at least; 16 for 16-aligned requests.
                let align = align.max(8);
                assert_eq!(p.as_ptr().addr() % align, 0, "block for {l:?} misaligned");
                live.push((p, l));
            }
        }
    }
    for (p, l) in live {
        // SAFETY: allocated above with `l`.
        unsafe { a.deallocate(p, l) };
    }
    assert!(a.is_empty());
    a.arenas.check_invariants();
}

/// A live block in the model: its address, layout and fill byte.
struct Live {
    ptr: NonNull<u8>,
    layout: Layout,
    fill: u8,
}

/// Runs `ops` (allocate if `Some(layout)`, else free the live block at the
/// given index modulo the live count) against the allocator and a model of
/// the live blocks, checking after every step that blocks are disjoint and
/// intact and that the stats agree with the model.
fn run_model(ops: impl IntoIterator<Item = (Option<Layout>, usize)>) {
    let mut a = Allocator::new();
    let mut live: Vec<Live> = Vec::new();
    let mut counter: u8 = 0;
    for (op, pick) in ops {
        match op {
            Some(l) => {
                let ptr = a.allocate(l);
                // Blocks of 16-multiple classes are 16-aligned, the others
                // (8-byte steps) 8-aligned; either is at least `l.align()`.
                let align = match small_class(l) {
                    Some(c) if class_size(c).is_multiple_of(16) => 16,
                    Some(_) => 8,
                    None => l.align(),
                };
                assert!(align >= l.align());
                assert_eq!(ptr.as_ptr().addr() % align, 0, "block for {l:?} misaligned");
                let start = ptr.as_ptr().addr();
                for other in &live {
                    let o = other.ptr.as_ptr().addr();
                    assert!(
                        start + l.size() <= o || o + other.layout.size() <= start,
                        "new block {start:#x}+{} overlaps live {o:#x}+{}",
                        l.size(),
                        other.layout.size()
                    );
                }
                counter = counter.wrapping_add(1);
                // SAFETY: the block is ours and `l.size()` bytes long.
                unsafe { ptr.as_ptr().write_bytes(counter, l.size()) };
                live.push(Live {
                    ptr,
                    layout: l,
                    fill: counter,
                });
            }
            None if !live.is_empty() => {
                let b = live.swap_remove(pick % live.len());
                // SAFETY: the block is live and `b.layout.size()` bytes long.
                let bytes = unsafe { core::slice::from_raw_parts(b.ptr.as_ptr(), b.layout.size()) };
                // (A slice comparison is a memcmp: fast under Miri too.)
                assert!(
                    bytes == vec![b.fill; bytes.len()].as_slice(),
                    "block contents corrupted"
                );
                // SAFETY: allocated with `b.layout`, removed from the model.
                unsafe { a.deallocate(b.ptr, b.layout) };
            }
            None => {}
        }
        let mut expected = HeapStats::default();
        let mut per_class = [0usize; NUM_SIZE_CLASSES];
        let mut large = 0;
        for b in &live {
            match small_class(b.layout) {
                Some(c) => {
                    per_class[c] += 1;
                    expected.bytes_in_use += class_size(c);
                }
                None => large += b.layout.size(),
            }
        }
        expected.bytes_in_use += large;
        expected.blocks_in_use = (0..NUM_SIZE_CLASSES)
            .filter(|&c| per_class[c] > 0)
            .map(|c| (class_size(c), per_class[c]))
            .collect();
        let s = a.stats();
        assert_eq!(s.blocks_in_use, expected.blocks_in_use);
        assert_eq!(s.bytes_in_use, expected.bytes_in_use);
        assert_eq!(s.bytes_reserved, s.arenas * ARENA_SIZE + large);
        assert_eq!(a.is_empty(), live.is_empty());
        a.arenas.check_invariants();
        check_idle_arenas(&a);
    }
    for b in live {
        // SAFETY: allocated with `b.layout`, freed once.
        unsafe { a.deallocate(b.ptr, b.layout) };
    }
    assert!(a.is_empty());
}

#[test]
fn random_sequence_matches_model() {
    let mut rng = XorShift(7);
    let steps = if cfg!(miri) { 300 } else { 5000 };
    let ops = (0..steps).map(|_| {
        let pick = rng.below(1 << 20);
        // Two thirds allocations so the heap grows across several pools.
        if rng.below(3) < 2 {
            let size = 1 + rng.below(700);
            let align = 1 << rng.below(7);
            (Some(layout(size, align)), pick)
        } else {
            (None, pick)
        }
    });
    run_model(ops.collect::<Vec<_>>());
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn op() -> impl Strategy<Value = (Option<Layout>, usize)> {
        let alloc =
            (1usize..=700, 0u32..7).prop_map(|(size, align)| Some(layout(size, 1 << align)));
        let small = (1usize..=64).prop_map(|size| Some(layout(size, 8)));
        (
            prop_oneof![3 => alloc, 3 => small, 4 => Just(None)],
            any::<usize>(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        #[cfg_attr(miri, ignore)]
        fn alloc_free_sequences_match_model(ops in proptest::collection::vec(op(), 1..400)) {
            run_model(ops);
        }
    }
}

#[test]
fn single_alloc_free_keeps_its_pool() {
    // Allocating and freeing one object at a time must not hand the pool
    // back to its arena and re-carve it on every call.
    let mut a = Allocator::new();
    let l = layout(32, 8);
    let first = a.allocate(l);
    let pool = pool_of(first.as_ptr());
    // SAFETY: allocated above with `l`.
    unsafe { a.deallocate(first, l) };
    for _ in 0..100 {
        let p = a.allocate(l);
        assert_eq!(
            pool_of(p.as_ptr()),
            pool,
            "the class's only pool was given back"
        );
        // SAFETY: allocated above with `l`.
        unsafe { a.deallocate(p, l) };
        assert_eq!(
            a.used.head(small_class(l).unwrap()).map(PoolRef::as_ptr),
            Some(pool),
            "the class's only pool stays on its list, even in an otherwise free arena"
        );
    }
    assert!(a.is_empty());
    assert_eq!(a.stats().pools, 0, "an empty kept pool holds no block");
    a.release_free_arenas();
    assert_eq!(a.stats(), HeapStats::default());
    a.arenas.check_invariants();
}

/// Issue 15 (item 3): the empty pool a class keeps for reuse must not pin an
/// arena that is otherwise free. Each class below spans two arenas and is
/// then freed in allocation order, so its last pool is the one kept. With no
/// block allocated the bound is one arena: `bytes_reserved <= ARENA_SIZE`
/// (the spare, or one arena holding only kept pools), however many classes
/// keep a pool.
#[test]
fn kept_pools_do_not_pin_free_arenas() {
    let mut a = Allocator::new();
    for class in [31, 30, 28, 25] {
        let l = layout(class_size(class), 16);
        let n = arena_capacity(class) + capacity(class) + 1;
        let blocks: Vec<_> = (0..n).map(|_| a.allocate(l)).collect();
        assert_eq!(a.stats().arenas, 2, "class {class} spans two arenas");
        free_all(&mut a, blocks, l);
        let s = a.stats();
        assert!(a.is_empty());
        assert_eq!(s.bytes_in_use, 0);
        assert!(
            s.bytes_reserved <= ARENA_SIZE,
            "after class {class}: {} bytes reserved with no block allocated",
            s.bytes_reserved
        );
        a.arenas.check_invariants();
        check_idle_arenas(&a);
    }
    a.release_free_arenas();
    assert_eq!(a.stats(), HeapStats::default());
}

/// Issue 15 (item 3), through the public API on a fresh thread: allocate
/// and drop 100,000 `Gc`s in each of several size classes. The bound is
/// one arena beyond the arenas holding a live block: with nothing alive,
/// `bytes_reserved <= 1 MiB`; with one `Gc` kept alive throughout (one
/// arena in use), `bytes_reserved <= 2 MiB`.
#[test]
#[cfg_attr(miri, ignore)]
fn dropped_gcs_leave_at_most_one_spare_arena() {
    use crate::{Gc, heap_stats};

    const N: usize = 100_000;
    fn churn<T: crate::Trace + 'static>(make: impl Fn(usize) -> T) {
        let objects: Vec<Gc<T>> = (0..N).map(|i| Gc::new(make(i))).collect();
        drop(objects);
    }
    fn churn_all(in_use_arenas: usize) {
        let bound = (in_use_arenas + 1) * ARENA_SIZE;
        let check = |what: &str| {
            let s = heap_stats();
            assert!(
                s.bytes_reserved <= bound,
                "after {what}: {} bytes reserved, bound {bound} ({in_use_arenas} arena(s) in use)",
                s.bytes_reserved
            );
        };
        churn(|i| [i as u64; 2]);
        check("[u64; 2]");
        churn(|i| [i as u64; 6]);
        check("[u64; 6]");
        churn(|i| [i as u64; 14]);
        check("[u64; 14]");
        churn(|i| [i as u64; 30]);
        check("[u64; 30]");
        churn(|i| [i as u64; 62]);
        check("[u64; 62]");
        churn(|i| [i as u64; 2]);
        check("[u64; 2] again");
    }
    std::thread::spawn(|| {
        assert_eq!(
            heap_stats().bytes_in_use,
            0,
            "a fresh thread's heap is empty"
        );
        churn_all(0);
        assert_eq!(heap_stats().bytes_in_use, 0);
        let keep = Gc::new(7u64);
        churn_all(1);
        assert_eq!(*keep, 7);
    })
    .join()
    .unwrap();
}
