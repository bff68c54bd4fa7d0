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
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct HeapStats {
    /// Arenas (1 MiB each) currently held from the system.
    pub arenas: usize,
    /// Pools (16 KiB each) currently carved out of the arenas and in use.
    pub pools: usize,
    /// Blocks in use per size class, as `(block size in bytes, blocks)`,
    /// for the classes with blocks in use, smallest first. The classes go
    /// in 8-byte steps from 16 to 128 bytes, then in 16-byte steps to 512.
    pub blocks_in_use: Vec<(usize, usize)>,
    /// Bytes of pooled blocks in use plus bytes of large objects.
    pub bytes_in_use: usize,
    /// Arena memory plus large objects held from the system.
    pub bytes_reserved: usize,
}

impl HeapStats {
    /// Pooled blocks in use, all classes together.
    ///
    /// # Examples
    ///
    /// ```
    /// let before = pygc::heap_stats().blocks();
    /// let x = pygc::Gc::new(1u64);
    /// assert_eq!(pygc::heap_stats().blocks(), before + 1);
    /// # drop(x);
    /// ```
    pub fn blocks(&self) -> usize {
        self.blocks_in_use.iter().map(|&(_, blocks)| blocks).sum()
    }

    /// Blocks in use of the class whose blocks are `block_size` bytes (0
    /// if that is not a class, or none are in use).
    ///
    /// # Examples
    ///
    /// ```
    /// let before = pygc::heap_stats().blocks_of(16);
    /// let x = pygc::Gc::new(1u64); // 8-byte header + 8-byte value
    /// assert_eq!(pygc::heap_stats().blocks_of(16), before + 1);
    /// # drop(x);
    /// ```
    pub fn blocks_of(&self, block_size: usize) -> usize {
        self.blocks_in_use
            .iter()
            .find(|&&(size, _)| size == block_size)
            .map_or(0, |&(_, blocks)| blocks)
    }
}
