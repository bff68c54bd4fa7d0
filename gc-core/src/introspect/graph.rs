//! The object graph as a whole: objgraph's `find_backref_chain` and
//! `show_refs` (a Graphviz picture).

use core::fmt::Write as _;
use std::collections::{HashMap, HashSet, VecDeque};

use crate::any_trace::AnyTrace;
use crate::collect::cycle::referents_of;
use crate::gc::Gc;
use crate::heap::heap;
use crate::list::for_each;
use crate::mark_stack::MarkStack;
use crate::trace::Trace;
use crate::tracked::Tracked;
use crate::vtable::type_name_of;

type Node = Tracked;

/// Calls `f` with every tracked object of the generations (and, with
/// `with_frozen`, the permanent one) and the tracked objects its value
/// references.
pub(super) fn for_each_traced(with_frozen: bool, mut f: impl FnMut(Node, &MarkStack)) {
    let heap = heap();
    let frozen = with_frozen.then(|| heap.gens.permanent());
    for list in super::lists(None).chain(frozen) {
        for_each(list, |node| {
            // SAFETY: listed objects are live with intact values; tracing
            // runs no user code and leaves the list alone.
            let edges = unsafe { referents_of(node) };
            f(node, &edges);
        });
    }
}

/// The whole heap's graph, with how many strong handles of each object
/// come from outside it (the stack, statics, untracked objects).
struct HeapGraph {
    edges: HashMap<Node, MarkStack>,
    external: HashMap<Node, usize>,
}

impl HeapGraph {
    /// Scans every tracked object (frozen ones included). `discount` lists
    /// handles that do not count as outside references (the caller's).
    fn scan(discount: &[Node]) -> HeapGraph {
        let mut edges = HashMap::new();
        let mut internal: HashMap<Node, usize> = HashMap::new();
        for_each_traced(true, |node, referents| {
            for &referent in referents {
                *internal.entry(referent).or_insert(0) += 1;
            }
            edges.insert(node, referents.clone());
        });
        let external = edges
            .keys()
            .map(|&node| {
                // Scanned just now: live.
                let strong = node.header().strong() as usize;
                let inside = internal.get(&node).copied().unwrap_or(0)
                    + discount.iter().filter(|&&d| d == node).count();
                (node, strong.saturating_sub(inside))
            })
            .collect();
        HeapGraph { edges, external }
    }

    fn is_root(&self, node: Node) -> bool {
        self.external.get(&node).is_some_and(|&n| n > 0)
    }

    /// Objects reachable from the roots (everything else is garbage).
    fn reachable(&self) -> HashSet<Node> {
        let mut seen: HashSet<Node> = self
            .external
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(&node, _)| node)
            .collect();
        let mut stack: Vec<Node> = seen.iter().copied().collect();
        while let Some(node) = stack.pop() {
            for &next in self.edges.get(&node).into_iter().flatten() {
                if seen.insert(next) {
                    stack.push(next);
                }
            }
        }
        seen
    }
}

/// The shortest chain of references from an object referenced from
/// outside the heap (a *root*: a handle on the stack, in a static, in an
/// untracked object) to `g`'s object: `[root, .., g]` (objgraph's
/// `find_backref_chain`), at most `max_depth` references long. The handle
/// passed in does not count as an outside reference. `None` when no root
/// is that close — garbage nobody has collected yet, or a deeper chain.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use pygc::{Gc, Trace};
///
/// #[derive(Trace)]
/// struct Node { next: RefCell<Option<Gc<Node>>> }
///
/// let leaf = Gc::new(Node { next: RefCell::new(None) });
/// let middle = Gc::new(Node { next: RefCell::new(Some(leaf.clone())) });
/// let registry = Gc::new(Node { next: RefCell::new(Some(middle)) }); // held here: a root
/// let chain = pygc::backref_chain(&leaf, 10).unwrap();
/// assert_eq!(chain.len(), 3);
/// assert_eq!(Gc::as_ptr(&chain[0]) as *const u8, Gc::as_ptr(&registry) as *const u8);
/// ```
pub fn backref_chain<T: ?Sized + Trace + 'static>(
    g: &Gc<T>,
    max_depth: usize,
) -> Option<Vec<Gc<dyn AnyTrace>>> {
    let target = super::traceable(g)?;
    let graph = HeapGraph::scan(&[target]);
    let mut referrers: HashMap<Node, Vec<Node>> = HashMap::new();
    for (&node, edges) in &graph.edges {
        for &referent in edges {
            referrers.entry(referent).or_default().push(node);
        }
    }
    // Breadth-first from the target against the references: the first
    // root found is the nearest.
    let mut next_hop: HashMap<Node, Node> = HashMap::new();
    let mut queue = VecDeque::from([(target, 0)]);
    let mut seen = HashSet::from([target]);
    let root = loop {
        let (node, depth) = queue.pop_front()?;
        if graph.is_root(node) {
            break node;
        }
        if depth == max_depth {
            continue;
        }
        for &referrer in referrers.get(&node).into_iter().flatten() {
            if seen.insert(referrer) {
                next_hop.insert(referrer, node);
                queue.push_back((referrer, depth + 1));
            }
        }
    };
    let mut chain = vec![root];
    while let Some(&next) = next_hop.get(chain.last()?) {
        chain.push(next);
    }
    // Every object of the chain was found live on a list just now and no
    // user code ran since.
    Some(chain.into_iter().filter_map(super::any_handle).collect())
}

/// A Graphviz DOT picture of the object graph from `roots`, following
/// references at most `max_depth` deep (objgraph's `show_refs`): one
/// `nN [label="Type\nstrong S"]` statement per object and one `nA -> nB`
/// edge per reference, each on its own line. The given roots are blue;
/// objects nothing outside the heap reaches any more (garbage waiting for
/// a collection) are red. Render it with `dot -Tsvg`.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use pygc::{AnyTrace, Gc, Trace, unsize};
///
/// #[derive(Trace)]
/// struct Node { next: RefCell<Option<Gc<Node>>> }
///
/// let b = Gc::new(Node { next: RefCell::new(None) });
/// let a = Gc::new(Node { next: RefCell::new(Some(b.clone())) });
/// let dot = pygc::to_dot(&[unsize!(a.clone() => dyn AnyTrace)], 5);
/// assert!(dot.starts_with("digraph"));
/// assert_eq!(dot.lines().filter(|l| l.contains("->")).count(), 1);
/// assert_eq!(dot.lines().filter(|l| l.contains("Node")).count(), 2);
/// ```
pub fn to_dot(roots: &[Gc<dyn AnyTrace>], max_depth: usize) -> String {
    let starts: Vec<Node> = roots.iter().filter_map(super::traceable).collect();
    let graph = HeapGraph::scan(&starts);
    let alive = graph.reachable();
    let mut ids: HashMap<Node, usize> = HashMap::new();
    let mut order: Vec<Node> = Vec::new();
    let mut queue: VecDeque<(Node, usize)> = VecDeque::new();
    for &start in &starts {
        if let std::collections::hash_map::Entry::Vacant(entry) = ids.entry(start) {
            entry.insert(order.len());
            order.push(start);
            queue.push_back((start, 0));
        }
    }
    let mut arrows = Vec::new();
    while let Some((node, depth)) = queue.pop_front() {
        if depth == max_depth {
            continue;
        }
        for &next in graph.edges.get(&node).into_iter().flatten() {
            let id = *ids.entry(next).or_insert_with(|| {
                order.push(next);
                queue.push_back((next, depth + 1));
                order.len() - 1
            });
            arrows.push((ids[&node], id));
        }
    }
    let mut dot = String::from(
        "digraph pygc {\n  node [shape=box, style=filled, fillcolor=white, fontname=\"monospace\"];\n",
    );
    for (id, &node) in order.iter().enumerate() {
        // SAFETY: scanned just now: live.
        let (name, strong) = (type_name_of(node), node.header().strong());
        let colour = if starts.contains(&node) {
            ", fillcolor=lightblue"
        } else if !alive.contains(&node) {
            ", fillcolor=salmon"
        } else {
            ""
        };
        let label = short_type_name(name)
            .replace('\\', "\\\\")
            .replace('"', "\\\"");
        let _ = writeln!(
            dot,
            "  n{id} [label=\"{label}\\nstrong {strong}\"{colour}];"
        );
    }
    for (from, to) in arrows {
        let _ = writeln!(dot, "  n{from} -> n{to};");
    }
    dot.push_str("}\n");
    dot
}

/// `name` without module paths (`alloc::vec::Vec<my::Node>` → `Vec<Node>`),
/// to keep picture labels short.
fn short_type_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut segment_start = 0;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            // Drop the path segment just written.
            out.truncate(segment_start);
        } else {
            if !(c.is_alphanumeric() || c == '_') {
                segment_start = out.len() + c.len_utf8();
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn type_names_lose_their_paths() {
        assert_eq!(short_type_name("alloc::vec::Vec<my::Node>"), "Vec<Node>");
        assert_eq!(short_type_name("u64"), "u64");
        assert_eq!(
            short_type_name("a::Closure<a::b::Gc<c::W>, c::f::{{closure}}>"),
            "Closure<Gc<W>, {{closure}}>"
        );
    }
}
