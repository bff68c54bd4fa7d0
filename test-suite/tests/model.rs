//! Model-based property test: random graphs of `Gc<dyn Vertex>` (two
//! concrete node types behind a trait object, one with a finalizer) with
//! random root sets, edge changes, drops and collections, and `WeakKeyMap`
//! entries (ephemerons), checked after every step against a plain
//! reference-counting-plus-reachability model.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use pygc::{Finalize, Gc, Trace, WeakKeyMap, unsize};

thread_local! {
    static LIVE: RefCell<BTreeSet<usize>> = const { RefCell::new(BTreeSet::new()) };
}

struct Id(usize);

impl Drop for Id {
    fn drop(&mut self) {
        LIVE.with(|l| {
            assert!(
                l.borrow_mut().remove(&self.0),
                "object {} dropped twice",
                self.0
            )
        });
    }
}

/// What the graph's objects are, behind `Gc<dyn Vertex>`.
trait Vertex: Trace {
    fn id(&self) -> usize;
    fn edges(&self) -> &RefCell<Vec<Gc<dyn Vertex>>>;
}

#[derive(Trace)]
struct Node {
    #[trace(skip)]
    id: Id,
    edges: RefCell<Vec<Gc<dyn Vertex>>>,
}

/// The same with a finalizer, so garbage takes both of the collector's
/// paths.
#[derive(Trace)]
#[trace(finalize)]
struct Finalized {
    #[trace(skip)]
    id: Id,
    edges: RefCell<Vec<Gc<dyn Vertex>>>,
}

impl Finalize for Finalized {
    fn finalize(&self) {
        assert!(
            LIVE.with(|l| l.borrow().contains(&self.id.0)),
            "finalized after drop"
        );
    }
}

macro_rules! vertex {
    ($($ty:ident),*) => {$(
        impl Vertex for $ty {
            fn id(&self) -> usize {
                self.id.0
            }
            fn edges(&self) -> &RefCell<Vec<Gc<dyn Vertex>>> {
                &self.edges
            }
        }
    )*};
}

vertex!(Node, Finalized);

#[derive(Clone, Debug)]
enum Op {
    /// A new object; `true`: of the type with a finalizer.
    New(bool),
    Link(usize, usize),
    Unlink(usize, usize),
    Descend(usize, usize),
    DropRoot(usize),
    Collect(usize),
    /// A `WeakKeyMap` entry: key `roots[k]`, value a new `Node` linking to
    /// `roots[t]` (replacing the key's entry if it has one).
    Ephemeron(usize, usize),
    /// The value of `roots[k]`'s entry becomes a root.
    GetValue(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<bool>().prop_map(Op::New),
        4 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Link(a, b)),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Unlink(a, b)),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Descend(a, b)),
        3 => any::<usize>().prop_map(Op::DropRoot),
        1 => (0usize..3).prop_map(Op::Collect),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(k, t)| Op::Ephemeron(k, t)),
        1 => any::<usize>().prop_map(Op::GetValue),
    ]
}

/// The reference model: alive objects and their edges (with multiplicity),
/// and the ephemeron entries (key → value), each an edge of its key while
/// the key lives.
#[derive(Default)]
struct Model {
    edges: BTreeMap<usize, Vec<usize>>,
    ephemerons: BTreeMap<usize, usize>,
}

impl Model {
    fn reachable(&self, roots: &[usize]) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<usize> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if seen.insert(id) {
                stack.extend(self.edges[&id].iter().copied());
                stack.extend(self.ephemerons.get(&id).copied());
            }
        }
        seen
    }

    /// Entries go with their keys.
    fn drop_dead_entries(&mut self) {
        let edges = &self.edges;
        self.ephemerons.retain(|key, _| edges.contains_key(key));
    }

    /// Refcounting: free unreachable objects with no referrer, repeatedly.
    fn refcount_free(&mut self, roots: &[usize]) {
        let reachable = self.reachable(roots);
        loop {
            self.drop_dead_entries();
            let mut indegree: BTreeMap<usize, usize> = self.edges.keys().map(|&k| (k, 0)).collect();
            for targets in self.edges.values() {
                for t in targets {
                    *indegree.get_mut(t).unwrap() += 1;
                }
            }
            for value in self.ephemerons.values() {
                *indegree.get_mut(value).unwrap() += 1;
            }
            let dead: Vec<usize> = indegree
                .iter()
                .filter(|(id, n)| **n == 0 && !reachable.contains(id))
                .map(|(id, _)| *id)
                .collect();
            if dead.is_empty() {
                break;
            }
            for id in dead {
                self.edges.remove(&id);
            }
        }
    }

    fn alive(&self) -> BTreeSet<usize> {
        self.edges.keys().copied().collect()
    }
}

fn live() -> BTreeSet<usize> {
    LIVE.with(|l| l.borrow().clone())
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut model = Model::default();
    let mut roots: Vec<Gc<dyn Vertex>> = Vec::new();
    let mut map: WeakKeyMap<dyn Vertex, Node> = WeakKeyMap::new();
    let mut next_id = 0;
    for op in ops {
        match *op {
            Op::New(finalized) => {
                LIVE.with(|l| l.borrow_mut().insert(next_id));
                let (id, edges) = (Id(next_id), RefCell::new(Vec::new()));
                roots.push(if finalized {
                    unsize!(Gc::new(Finalized { id, edges }) => dyn Vertex)
                } else {
                    unsize!(Gc::new(Node { id, edges }) => dyn Vertex)
                });
                model.edges.insert(next_id, Vec::new());
                next_id += 1;
            }
            Op::Link(a, b) if !roots.is_empty() => {
                let (from, to) = (&roots[a % roots.len()], &roots[b % roots.len()]);
                from.edges().borrow_mut().push(to.clone());
                model.edges.get_mut(&from.id()).unwrap().push(to.id());
            }
            Op::Unlink(a, e) if !roots.is_empty() => {
                let from = &roots[a % roots.len()];
                let removed = {
                    let mut edges = from.edges().borrow_mut();
                    let len = edges.len();
                    if len == 0 {
                        None
                    } else {
                        Some(edges.remove(e % len))
                    }
                };
                if let Some(to) = removed {
                    let list = model.edges.get_mut(&from.id()).unwrap();
                    let pos = list.iter().position(|&t| t == to.id()).unwrap();
                    list.remove(pos);
                    drop(to);
                }
            }
            Op::Descend(a, e) if !roots.is_empty() => {
                let child = {
                    let edges = roots[a % roots.len()].edges().borrow();
                    (!edges.is_empty()).then(|| edges[e % edges.len()].clone())
                };
                roots.extend(child);
            }
            Op::DropRoot(a) if !roots.is_empty() => {
                let len = roots.len();
                roots.swap_remove(a % len);
            }
            Op::Ephemeron(k, t) if !roots.is_empty() => {
                let (key, target) = (&roots[k % roots.len()], &roots[t % roots.len()]);
                LIVE.with(|l| l.borrow_mut().insert(next_id));
                let value = Node {
                    id: Id(next_id),
                    edges: RefCell::new(vec![target.clone()]),
                };
                model.edges.insert(next_id, vec![target.id()]);
                model.ephemerons.insert(key.id(), next_id);
                next_id += 1;
                drop(map.insert(key.clone(), value));
            }
            Op::GetValue(k) if !roots.is_empty() => {
                let value = map.get(&roots[k % roots.len()]);
                roots.extend(value.map(|v| unsize!(v => dyn Vertex)));
            }
            Op::Collect(generation) => {
                let before = model.alive();
                let root_ids: Vec<usize> = roots.iter().map(|g| g.id()).collect();
                let reachable = model.reachable(&root_ids);
                let found = pygc::collect_generation(generation);
                let now = live();
                prop_assert!(reachable.is_subset(&now), "a reachable object was freed");
                prop_assert!(now.is_subset(&before), "an object came back");
                prop_assert!(
                    found <= before.len() - now.len(),
                    "collect reported {found}, freed {}",
                    before.len() - now.len()
                );
                if generation == 2 {
                    prop_assert_eq!(&now, &reachable, "a full collection frees all garbage");
                    prop_assert_eq!(found, before.len() - now.len());
                }
                model.edges.retain(|id, _| now.contains(id));
                model.drop_dead_entries();
            }
            _ => {}
        }
        let root_ids: Vec<usize> = roots.iter().map(|g| g.id()).collect();
        model.refcount_free(&root_ids);
        prop_assert_eq!(live(), model.alive(), "after {:?}", op);
        prop_assert_eq!(map.len(), model.ephemerons.len(), "entries after {:?}", op);
    }
    drop(roots);
    pygc::collect();
    prop_assert!(
        live().is_empty(),
        "everything freed at the end (values only their keys reach too)"
    );
    prop_assert!(map.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 8 } else { 2000 }, ..ProptestConfig::default() })]

    #[test]
    fn live_objects_match_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 50_000, ..ProptestConfig::default() })]

    /// The long run: `cargo test --release --test model -- --ignored`.
    #[test]
    #[ignore = "long run"]
    fn live_objects_match_the_model_long(ops in proptest::collection::vec(op(), 1..200)) {
        run(&ops)?;
    }
}
