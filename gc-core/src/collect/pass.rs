//! The visitor state of one graph pass (`cycle::deduce_unreachable`): what
//! [`Tracer::visit`](crate::Tracer::visit) does with each edge.
//!
//! A leaf module of the collector: `trace.rs` names [`PassState`] (an
//! opaque type to it: the fields are private to `collect/`) and calls
//! [`PassState::visit_edge`], statically dispatched, so it depends on
//! nothing else of the collector.

use core::ptr::NonNull;

use crate::header::{CodeSet, Flags, TrackedHeader};
use crate::list::{self, Dir};
use crate::mark_stack::MarkStack;
use crate::tracked::Tracked;

/// What the collector is doing with each edge a `trace` call reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TraceAction {
    /// Choosing the walk direction (see `cycle::choose_walk`): only the
    /// edge balance of edges to members is kept.
    SampleBalance,
    /// `subtract_refs`: count the edge in the referent's internal count
    /// (see `list::internal_refs`) when the referent is in the examined
    /// set.
    SubtractRefs,
    /// `mark_reachable`: a reachable object's referents are reachable too.
    MarkReachable,
    /// Introspection (`pygc::referents` and friends), outside any
    /// collection: every tracked referent is recorded, in visit order.
    Collect,
}

/// The state of one graph pass, borrowed by every
/// [`Tracer`](crate::Tracer) the pass hands to a `trace` call.
pub(crate) struct PassState {
    /// The step running.
    pub(super) action: TraceAction,
    /// Which way the pass walks its set (where the internal counts are).
    pub(super) dir: Dir,
    /// The codes of the examined set (see [`Code`](crate::header::Code)).
    pub(super) members: CodeSet,
    /// Strong handles the collector itself holds on every member.
    pub(super) held: u32,
    /// Objects marked reachable whose referents are still to be marked
    /// (`MarkReachable`): the heap's mark stack, lent to the pass.
    pub(super) stack: MarkStack,
    /// Type name of the object being traced (for the trace verifier).
    pub(super) tracing: fn() -> &'static str,
    /// Address of the object being traced.
    pub(super) tracing_addr: usize,
    /// Internal edges found by `SubtractRefs` pointing to higher addresses
    /// minus those pointing to lower ones (see `mark_reachable`).
    pub(super) edge_balance: isize,
    /// Set when a `trace` visited an edge more often than the referent has
    /// strong handles: the offending type's name.
    pub(super) over_visited: Option<fn() -> &'static str>,
}

impl PassState {
    /// A pass over the set `members`, on whose objects the collector holds
    /// `held` strong handles each, starting with `SubtractRefs`; `stack` is
    /// the (empty) mark stack, given back by [`into_stack`](Self::into_stack).
    pub(super) fn new(members: CodeSet, held: u32, stack: MarkStack) -> Self {
        PassState {
            action: TraceAction::SubtractRefs,
            dir: Dir::Forward,
            members,
            held,
            stack,
            tracing: || "",
            tracing_addr: 0,
            edge_balance: 0,
            over_visited: None,
        }
    }

    /// A pass that records every tracked referent (introspection): read
    /// them with [`into_stack`](Self::into_stack).
    pub(super) fn collecting() -> Self {
        let mut pass = PassState::new(CodeSet::ALL, 0, MarkStack::new());
        pass.action = TraceAction::Collect;
        pass
    }

    /// The mark stack lent by [`new`](Self::new).
    pub(super) fn into_stack(self) -> MarkStack {
        self.stack
    }

    /// The edges of the steps that trace few objects: choosing the walk
    /// direction, and introspection.
    #[cold]
    #[inline(never)]
    fn visit_edge_rarely(&mut self, node: Tracked) {
        if self.action == TraceAction::SampleBalance {
            self.count_direction(node);
        } else {
            self.stack.push(node);
        }
    }

    /// The traced object visited an edge more often than the referent has
    /// handles: the pass will fail (see `cycle::subtract_refs`).
    #[cold]
    #[inline(never)]
    fn note_over_visit(&mut self) {
        self.over_visited.get_or_insert(self.tracing);
    }

    /// `node` was found reachable after the mark walk passed it: traced
    /// from the stack (out of line: most graphs never get here).
    #[cold]
    #[inline(never)]
    fn push_passed(&mut self, node: Tracked) {
        self.stack.push(node);
    }

    /// Counts the edge to `node` in [`edge_balance`](Self::edge_balance).
    #[inline(always)]
    fn count_direction(&mut self, node: Tracked) {
        self.edge_balance += if node.addr() < self.tracing_addr {
            -1
        } else {
            1
        };
    }

    /// What `Tracer::visit` does with one edge during a collection: the
    /// collector's two steps inline, the rest ([`visit_edge_rarely`]) out
    /// of line.
    ///
    /// [`visit_edge_rarely`]: Self::visit_edge_rarely
    #[inline(always)]
    pub(crate) fn visit_edge(&mut self, node: NonNull<TrackedHeader>) {
        // SAFETY: the edge comes from a `Gc` the traced value owns, which
        // keeps the referent's memory alive for the whole pass (no user code
        // runs in it), and tracked objects carry the prefix.
        let node = unsafe { Tracked::new(node) };
        let h = node.prefix();
        if !h.is_member(self.members) {
            return; // outside the set examined: an external reference
        }
        // Tests in order of frequency (a `match` becomes an indirect jump).
        if self.action == TraceAction::SubtractRefs {
            self.count_direction(node);
            // Counted even when it is one too many: the pass then fails, and
            // the failure path rewrites every link.
            let internal = list::add_internal_ref(node, self.dir);
            let strong = node.header().strong();
            if internal > strong.saturating_sub(self.held) as usize {
                self.note_over_visit();
            }
        } else if self.action == TraceAction::MarkReachable {
            if !h.has(Flags::REACHABLE) {
                h.set(Flags::REACHABLE);
                // Ahead of the walk: traced when the walk gets there.
                // Already passed: traced from the stack.
                if h.has(Flags::VISITED) {
                    self.push_passed(node);
                }
            }
        } else {
            self.visit_edge_rarely(node);
        }
    }
}
