//! The cycle collector's mark stack, kept by the heap between collections.
//!
//! A leaf module, so the heap can own the stack without importing the
//! collector.

use crate::tracked::Tracked;

/// Objects the mark walk found reachable after it passed them, still to be
/// traced (see `collect::cycle`).
pub(crate) type MarkStack = Vec<Tracked>;

/// Mark-stack capacity (entries) kept between collections.
pub(crate) const MARK_STACK_KEEP: usize = 1 << 16;
