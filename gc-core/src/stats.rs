//! Statistics types returned by the control API.

/// Per-generation collector statistics, like one entry of CPython's
/// `gc.get_stats()`.
///
/// # Examples
///
/// ```
/// let [gen0, _, gen2] = pygc::stats();
/// assert!(gen2.collected >= gen0.uncollectable);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GenerationStats {
    /// How many times this generation was collected.
    pub collections: usize,
    /// How many unreachable objects collections of this generation found.
    pub collected: usize,
    /// How many objects were found uncollectable (always 0: pygc can drop
    /// every cycle, finalizers included).
    pub uncollectable: usize,
}

/// A snapshot of this thread's pooled allocator, like CPython's
/// `sys._debugmallocstats()`.
///
/// # Examples
///
/// ```
/// let keep = pygc::Gc::new(1u64);
/// let stats = pygc::heap_stats();
/// assert!(stats.bytes_in_use >= 16);
/// assert!(stats.bytes_reserved >= stats.bytes_in_use);
/// # drop(keep);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HeapStats {
    /// Arenas (1 MiB each) currently held from the system.
    pub arenas: usize,
    /// Pools (16 KiB each) currently carved out of the arenas and in use.
    pub pools: usize,
    /// Blocks in use per size class: index `i` counts blocks of
    /// `16 * (i + 1)` bytes.
    pub blocks_in_use: [usize; 32],
    /// Bytes of pooled blocks in use plus bytes of large objects.
    pub bytes_in_use: usize,
    /// Arena memory plus large objects held from the system.
    pub bytes_reserved: usize,
}
