//! `#[derive(Trace)]`: the shapes it accepts, its attributes, and that the
//! generated `trace` really reports the edges (cycles through derived types
//! are collected).
//!
//! The whole file compiles under `#![deny(warnings)]`, so the generated code
//! must be warning-free (pedantic clippy and `unused_qualifications` too).

#![deny(warnings)]
#![warn(clippy::pedantic, unused_qualifications)]

extern crate pygc as renamed;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::rc::Rc;

use pygc::{Finalize, Gc, GcFn, Trace, collect};

/// `<T as Trace>::may_contain_gc()`, shorter.
fn may<T: Trace>() -> bool {
    T::may_contain_gc()
}

// ---------------------------------------------------------------- shapes

#[derive(Trace)]
struct Leaves {
    id: u64,
    name: String,
    tags: Vec<String>,
    scores: HashMap<String, f64>,
}

#[derive(Trace)]
struct Unit;

#[derive(Trace)]
struct Tuple(u8, Option<Gc<u8>>);

#[derive(Trace)]
struct Node {
    value: u32,
    next: RefCell<Option<Gc<Node>>>,
}

#[derive(Trace)]
struct Pair<A, B> {
    first: A,
    second: B,
}

#[derive(Trace)]
enum Link {
    Empty,
    Single(RefCell<Option<Gc<Link>>>),
    Named {
        label: String,
        next: RefCell<Option<Gc<Link>>>,
    },
}

#[derive(Trace)]
enum Never {}

#[derive(Trace)]
enum Shapes<T> {
    Unit,
    Tuple(T, u8),
    Named { value: T, count: usize },
}

#[derive(Trace)]
struct SelfReferential {
    next: Option<Gc<Self>>,
}

/// Recursion through `Box`: `may_contain_gc()` cannot be computed from
/// itself, so the derive makes it `true` (sound; the object is tracked).
#[derive(Trace)]
enum Tree {
    Leaf(u8),
    Node(Box<Tree>, Box<Tree>),
}

/// Names the generated code uses internally must not clash with fields.
#[derive(Trace)]
struct Clashing {
    tracer: Option<Gc<u8>>,
    r#type: u8,
}

#[derive(Trace)]
enum ClashingEnum {
    Tracer { tracer: Gc<u8> },
    Field(Gc<u8>, Gc<u8>),
}

#[derive(Trace)]
struct Borrowing<'a> {
    #[trace(skip)]
    name: &'a str,
    count: u8,
}

/// A type with its own `Drop` can derive `Trace`.
#[derive(Trace)]
struct Dropping {
    #[trace(skip)]
    dropped: Rc<Cell<bool>>,
    next: Option<Gc<u8>>,
}

impl Drop for Dropping {
    fn drop(&mut self) {
        self.dropped.set(true);
    }
}

#[test]
fn shapes_compile_and_construct() {
    let leaves = Gc::new(Leaves {
        id: 1,
        name: "a".into(),
        tags: vec!["x".into()],
        scores: HashMap::new(),
    });
    assert_eq!(
        leaves.id + leaves.name.len() as u64 + leaves.tags.len() as u64,
        3
    );
    assert!(leaves.scores.is_empty());
    let _ = Gc::new(Unit);
    let tuple = Gc::new(Tuple(3, Some(Gc::new(4))));
    assert_eq!(tuple.0 + tuple.1.as_deref().copied().unwrap_or(0), 7);
    let shapes = [
        Shapes::Unit,
        Shapes::Tuple(Gc::new(1), 2),
        Shapes::Named {
            value: Gc::new(3),
            count: 4,
        },
    ];
    let total: u32 = shapes
        .iter()
        .map(|shape| match shape {
            Shapes::Unit => 0,
            Shapes::Tuple(value, n) => **value + u32::from(*n),
            Shapes::Named { value, count } => **value + u32::try_from(*count).unwrap(),
        })
        .sum();
    assert_eq!(total, 10);
    let tree = Tree::Node(Box::new(Tree::Leaf(1)), Box::new(Tree::Leaf(2)));
    if let Tree::Node(left, right) = &tree {
        assert!(matches!(
            (&**left, &**right),
            (Tree::Leaf(1), Tree::Leaf(2))
        ));
    }
    let clashing = Clashing {
        tracer: None,
        r#type: 1,
    };
    assert_eq!(clashing.r#type, 1);
    assert!(clashing.tracer.is_none());
    let clashing_enum = [
        ClashingEnum::Tracer { tracer: Gc::new(1) },
        ClashingEnum::Field(Gc::new(2), Gc::new(3)),
    ];
    assert_eq!(clashing_enum.len(), 2);
    if let ClashingEnum::Tracer { tracer } = &clashing_enum[0] {
        assert_eq!(**tracer, 1);
    }
    let borrowing = Borrowing {
        name: "local",
        count: 2,
    };
    assert_eq!(borrowing.name.len() + usize::from(borrowing.count), 7);
    let dropped = Rc::new(Cell::new(false));
    drop(Gc::new(Dropping {
        dropped: Rc::clone(&dropped),
        next: None,
    }));
    assert!(dropped.get());
    let self_ref = Gc::new(SelfReferential { next: None });
    assert!(self_ref.next.is_none());
}

// ----------------------------------------------------------- may_contain_gc

#[test]
fn may_contain_gc_is_the_or_of_the_fields() {
    assert!(!may::<Leaves>());
    assert!(!may::<Unit>());
    assert!(!may::<Never>());
    assert!(may::<Tuple>());
    assert!(may::<Node>());
    assert!(may::<Link>());
    assert!(may::<SelfReferential>());
    assert!(may::<Tree>(), "recursive types are conservatively tracked");
    assert!(may::<Clashing>());
    assert!(!may::<Borrowing<'static>>());

    assert!(!may::<Pair<u8, String>>());
    assert!(may::<Pair<u8, Gc<u8>>>());
    assert!(may::<Pair<Vec<Gc<u8>>, u8>>());
    assert!(!may::<Shapes<u8>>());
    assert!(may::<Shapes<Gc<u8>>>());
}

#[test]
fn untracked_derived_types_are_not_tracked() {
    let leaves = Gc::new(Leaves {
        id: 0,
        name: String::new(),
        tags: Vec::new(),
        scores: HashMap::new(),
    });
    assert!(!Gc::is_tracked(&leaves));
    let node = Gc::new(Node {
        value: 0,
        next: RefCell::new(None),
    });
    assert!(Gc::is_tracked(&node));
    assert_eq!(node.value, 0);
}

// ------------------------------------------------------ trace finds edges

#[test]
fn struct_cycle_is_collected() {
    collect();
    let a = Gc::new(Node {
        value: 1,
        next: RefCell::new(None),
    });
    let b = Gc::new(Node {
        value: 2,
        next: RefCell::new(Some(a.clone())),
    });
    *a.next.borrow_mut() = Some(b.clone());
    let weak = Gc::downgrade(&a);
    drop((a, b));
    assert!(weak.upgrade().is_some(), "a cycle survives refcounting");
    assert_eq!(collect(), 2);
    assert!(weak.upgrade().is_none());
}

#[test]
fn enum_cycle_through_every_variant_kind_is_collected() {
    collect();
    let a = Gc::new(Link::Single(RefCell::new(None)));
    let b = Gc::new(Link::Named {
        label: "b".into(),
        next: RefCell::new(Some(a.clone())),
    });
    if let Link::Single(next) = &*a {
        *next.borrow_mut() = Some(b.clone());
    }
    let empty = Gc::new(Link::Empty);
    if let Link::Named { label, .. } = &*b {
        assert_eq!(label, "b");
    }
    let weak = Gc::downgrade(&b);
    drop((a, b, empty));
    assert_eq!(collect(), 2);
    assert!(weak.upgrade().is_none());
}

#[test]
fn generic_struct_cycle_is_collected() {
    type Cyclic = Pair<u8, RefCell<Option<Gc<Node>>>>;
    collect();
    let node = Gc::new(Node {
        value: 0,
        next: RefCell::new(None),
    });
    let holder: Gc<Cyclic> = Gc::new(Pair {
        first: 1,
        second: RefCell::new(Some(node.clone())),
    });
    // node -> holder's node (itself): a self-cycle through the generic type.
    *node.next.borrow_mut() = holder.second.borrow().clone();
    assert_eq!(holder.first, 1);
    drop((node, holder));
    // `holder` was freed by refcount; `node` points at itself.
    assert_eq!(collect(), 1);
}

// ---------------------------------------------------------- #[trace(skip)]

#[derive(Trace)]
struct WithRc {
    id: u8,
    #[trace(skip)]
    shared: Rc<u8>,
}

/// A `Gc` behind `skip` is not an edge the collector sees: a cycle through
/// it is never collected (it leaks), which is the documented trade-off.
#[derive(Trace)]
struct HiddenEdge {
    #[trace(skip)]
    hidden: RefCell<Option<Gc<HiddenEdge>>>,
    visible: u8,
}

#[test]
fn skipped_fields_are_not_traced() {
    collect();
    let with_rc = Gc::new(WithRc {
        id: 1,
        shared: Rc::new(2),
    });
    assert_eq!(with_rc.id + *with_rc.shared, 3);
    assert!(
        may::<WithRc>() && may::<HiddenEdge>(),
        "a skipped field may own a Gc: the type stays tracked"
    );
    assert!(Gc::is_tracked(&with_rc));

    // A cycle through a skipped field is invisible to the collector.
    let hidden = Gc::new(HiddenEdge {
        hidden: RefCell::new(None),
        visible: 0,
    });
    *hidden.hidden.borrow_mut() = Some(hidden.clone());
    let weak = Gc::downgrade(&hidden);
    drop(hidden);
    assert_eq!(collect(), 0);
    // Break the cycle by hand so the test does not leak.
    let hidden = weak.upgrade().expect("the hidden cycle is still alive");
    assert_eq!(hidden.visible, 0);
    hidden.hidden.borrow_mut().take();
    drop(hidden);
    assert!(weak.upgrade().is_none());
}

/// A list linked only through a skipped field.
#[derive(Trace)]
struct SkippedLink {
    #[trace(skip)]
    next: Option<Gc<SkippedLink>>,
}

#[test]
fn deep_drops_through_skipped_fields_do_not_overflow_the_stack() {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let mut head = Gc::new(SkippedLink { next: None });
            assert!(Gc::is_tracked(&head), "so it is on the trashcan");
            for _ in 0..200_000 {
                head = Gc::new(SkippedLink { next: Some(head) });
            }
            assert!(head.next.is_some());
            drop(head);
            let stats = pygc::heap_stats();
            assert_eq!(stats.blocks(), 0, "{stats:?}");
        })
        .expect("spawn")
        .join()
        .expect("the chain dropped without overflowing a 256 KiB stack");
}

// ---------------------------------------------------------- #[trace(crate)]

mod reexport {
    pub use pygc as inner;
}

#[derive(renamed::Trace)]
#[trace(crate = "renamed")]
struct RenamedCrate {
    gc: Gc<u8>,
}

#[derive(Trace)]
#[trace(crate = "crate::reexport::inner")]
enum ModulePathCrate {
    A(Gc<u8>),
}

#[derive(Trace)]
#[trace(crate = "::pygc")]
struct AbsoluteCrate(u8);

#[test]
fn crate_path_is_used() {
    assert!(may::<RenamedCrate>());
    assert!(may::<ModulePathCrate>());
    assert!(!may::<AbsoluteCrate>());
    let renamed = RenamedCrate { gc: Gc::new(1) };
    let ModulePathCrate::A(module) = ModulePathCrate::A(Gc::new(2));
    assert_eq!(*renamed.gc + *module + AbsoluteCrate(3).0, 6);
}

// ------------------------------------------------------- #[trace(finalize)]

thread_local! {
    static FINALIZED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

fn finalized() -> Vec<u32> {
    FINALIZED.with(|log| log.borrow_mut().drain(..).collect())
}

#[derive(Trace)]
#[trace(finalize)]
struct Resource {
    id: u32,
}

impl Finalize for Resource {
    fn finalize(&self) {
        FINALIZED.with(|log| log.borrow_mut().push(self.id));
    }
}

#[derive(Trace)]
#[trace(finalize)]
struct CyclicResource {
    id: u32,
    peer: RefCell<Option<Gc<CyclicResource>>>,
}

impl Finalize for CyclicResource {
    fn finalize(&self) {
        FINALIZED.with(|log| log.borrow_mut().push(self.id));
    }
}

/// Has a `Finalize` impl but does not opt in: it never runs.
#[derive(Trace)]
struct NotOptedIn {
    id: u32,
}

impl Finalize for NotOptedIn {
    fn finalize(&self) {
        FINALIZED.with(|log| log.borrow_mut().push(self.id));
    }
}

#[test]
fn finalize_runs_when_the_last_handle_drops() {
    finalized();
    let resource = Gc::new(Resource { id: 7 });
    let clone = resource.clone();
    drop(resource);
    assert!(finalized().is_empty(), "a handle is still alive");
    drop(clone);
    assert_eq!(finalized(), [7]);

    drop(Gc::new(NotOptedIn { id: 8 }));
    assert!(
        finalized().is_empty(),
        "no #[trace(finalize)], no finalizer"
    );
}

/// A finalizable value with a `Gc` inside, so wrappers of it are tracked.
#[derive(Trace)]
#[trace(finalize)]
struct FinalizedHolder {
    id: u32,
    peer: Option<Gc<RefCell<FinalizedHolder>>>,
}

impl Finalize for FinalizedHolder {
    fn finalize(&self) {
        FINALIZED.with(|log| log.borrow_mut().push(self.id));
    }
}

#[derive(Trace, Clone, Copy)]
#[trace(finalize)]
struct CopyResource(u32);

impl Finalize for CopyResource {
    fn finalize(&self) {
        FINALIZED.with(|log| log.borrow_mut().push(self.0));
    }
}

#[test]
fn wrappers_forward_the_finalizer_on_the_refcount_path() {
    finalized();
    drop(Gc::new(RefCell::new(Resource { id: 1 })));
    drop(Gc::new(Box::new(Resource { id: 2 })));
    drop(Gc::new(Cell::new(CopyResource(3))));
    drop(Gc::new(Box::new(RefCell::new(Resource { id: 4 }))));
    drop(Gc::new(RefCell::new(FinalizedHolder { id: 5, peer: None })));
    assert_eq!(finalized(), [1, 2, 3, 4, 5]);
}

#[test]
fn wrappers_forward_the_finalizer_on_the_cycle_path() {
    collect();
    finalized();
    let a = Gc::new(RefCell::new(FinalizedHolder { id: 1, peer: None }));
    let b = Gc::new(RefCell::new(FinalizedHolder {
        id: 2,
        peer: Some(a.clone()),
    }));
    a.borrow_mut().peer = Some(b.clone());
    drop((a, b));
    assert_eq!(collect(), 2);
    let mut ids = finalized();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2], "Gc<RefCell<T>> finalizes T in a cycle");
}

#[test]
fn finalize_runs_on_the_cycle_path() {
    collect();
    finalized();
    let a = Gc::new(CyclicResource {
        id: 1,
        peer: RefCell::new(None),
    });
    let b = Gc::new(CyclicResource {
        id: 2,
        peer: RefCell::new(Some(a.clone())),
    });
    *a.peer.borrow_mut() = Some(b.clone());
    drop((a, b));
    assert!(finalized().is_empty());
    assert_eq!(collect(), 2);
    let mut ids = finalized();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2]);
}

// ------------------------------------------------------------------ GcFn

/// An interpreter's scope: its variables.
#[derive(Trace)]
struct Scope {
    vars: RefCell<HashMap<String, Value>>,
}

/// An interpreter's value: functions are closures over their scope.
#[derive(Trace)]
enum Value {
    Int(i64),
    Func(GcFn<i64, i64>),
}

impl Scope {
    fn lookup(&self, name: &str) -> Value {
        match &self.vars.borrow()[name] {
            Value::Int(i) => Value::Int(*i),
            Value::Func(f) => Value::Func(f.clone()),
        }
    }
}

#[test]
fn a_function_capturing_its_defining_scope_is_collected() {
    collect();
    let scope = Gc::new(Scope {
        vars: RefCell::new(HashMap::new()),
    });
    scope
        .vars
        .borrow_mut()
        .insert("step".to_owned(), Value::Int(2));
    // `def sum(n): return 0 if n <= 0 else n + sum(n - step)`, defined in
    // (and capturing) `scope`.
    let sum = GcFn::new(scope.clone(), |scope: &Gc<Scope>, n: i64| {
        if n <= 0 {
            return 0;
        }
        let (Value::Int(step), Value::Func(sum)) = (scope.lookup("step"), scope.lookup("sum"))
        else {
            panic!("type error");
        };
        n + sum.call(n - step)
    });
    scope
        .vars
        .borrow_mut()
        .insert("sum".to_owned(), Value::Func(sum));
    let Value::Func(sum) = scope.lookup("sum") else {
        unreachable!()
    };
    assert_eq!(sum.call(10), 10 + 8 + 6 + 4 + 2);
    assert!(format!("{sum:?}").starts_with("GcFn("));
    assert!(may::<Value>());

    let weak = Gc::downgrade(&scope);
    drop(sum);
    assert_eq!(collect(), 0, "the scope holds the function");
    drop(scope);
    assert!(weak.upgrade().is_some(), "a cycle: not freed by refcount");
    assert_eq!(collect(), 2, "the scope and the function");
    assert!(weak.upgrade().is_none());
}

// ----------------------------------------------------------- #[trace(bound)]

/// `Trace` for every `T`: the `T` is only a marker.
#[derive(Trace)]
struct Id<T> {
    id: u32,
    _kind: PhantomData<T>,
}

/// The inferred bound would be `T: Trace` (`T` appears in a traced field);
/// `Id<T>` is `Trace` for every `T`, so the bound is replaced by none.
#[derive(Trace)]
#[trace(bound = "")]
struct Table<T> {
    ids: Vec<Id<T>>,
}

/// Bounds replaced by a custom list (here: stricter than inferred).
#[derive(Trace)]
#[trace(bound = "T: Trace + Clone, U: Trace")]
struct Custom<T, U> {
    left: T,
    right: U,
}

/// Associated types of a parameter get their own inferred bound.
trait Family {
    type Member;
}

struct Gcs;

impl Family for Gcs {
    type Member = Gc<u8>;
}

#[derive(Trace)]
struct Group<F: Family> {
    members: Vec<F::Member>,
}

#[test]
fn bounds() {
    // `Rc<u8>` is not `Trace`: this only compiles because the bound was
    // replaced.
    assert!(!may::<Table<Rc<u8>>>());
    let table = Table::<Rc<u8>> {
        ids: vec![Id {
            id: 1,
            _kind: PhantomData,
        }],
    };
    assert_eq!(table.ids[0].id, 1);

    assert!(may::<Custom<u8, Gc<u8>>>());
    assert!(!may::<Custom<String, u8>>());
    let custom = Custom {
        left: 1u8,
        right: 2u8,
    };
    assert_eq!(custom.left + custom.right, 3);

    assert!(may::<Group<Gcs>>());
    let group = Group::<Gcs> {
        members: vec![Gc::new(5)],
    };
    assert_eq!(*group.members[0], 5);
}

/// A marker generic over any type: `Trace` without bounds on `T`.
#[derive(Trace)]
struct Marker<T: ?Sized>(PhantomData<T>);

trait Shape: Trace {
    fn sides(&self) -> u8;
}

#[derive(Trace)]
struct Square(Option<Gc<Square>>);

impl Shape for Square {
    fn sides(&self) -> u8 {
        4
    }
}

/// The derive's checks (trait objects, type parameters, named types) assert
/// `Trace` only where the field's own impl needs it: no false errors.
#[derive(Trace)]
#[trace(bound = "")]
struct Checked<T> {
    shapes: Vec<Box<dyn Shape>>,
    slot: RefCell<Option<Box<dyn Shape>>>,
    // Neither `dyn Debug` nor `T` is `Trace`; the markers are.
    debug: Marker<dyn std::fmt::Debug>,
    param: Marker<T>,
    shared: Rc<str>,
    pair: (u8, [Option<String>; 2]),
}

#[test]
fn checks_assert_only_what_the_field_needs() {
    assert!(may::<Checked<Rc<u8>>>());
    let square = Gc::new(Square(None));
    let checked = Checked::<std::cell::UnsafeCell<u8>> {
        shapes: vec![Box::new(Square(Some(square.clone())))],
        slot: RefCell::new(None),
        debug: Marker(PhantomData),
        param: Marker(PhantomData),
        shared: Rc::from("s"),
        pair: (1, [None, Some(String::new())]),
    };
    assert_eq!(checked.shapes[0].sides(), 4);
    assert!(checked.slot.borrow().is_none());
    assert_eq!(&*checked.shared, "s");
    assert_eq!(checked.pair.0, 1);
}
