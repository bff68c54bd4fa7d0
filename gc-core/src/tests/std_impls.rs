//! Behaviour of the `Trace` impls for std types: cycles through `Mutex`,
//! `RwLock`, `OnceCell` and `BinaryHeap` are collected, a held lock hides
//! its edges, single-value wrappers forward finalizers, and leaf types
//! (`Rc<str>`, `&'static str`, `Cow`, `fn` pointers, `std::net`) stay
//! untracked.

use core::cell::{OnceCell, RefCell};
use core::cmp::{Ordering, Reverse};
use std::borrow::Cow;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Mutex, RwLock};

use crate::{Gc, Trace, Tracer, collect};

thread_local! {
    static DROPPED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    static FINALIZED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Ids dropped since the last call (sorted; clears the tally).
fn take_dropped() -> Vec<usize> {
    let mut v = DROPPED.with(|d| core::mem::take(&mut *d.borrow_mut()));
    v.sort_unstable();
    v
}

/// Ids finalized since the last call (sorted; clears the tally).
fn take_finalized() -> Vec<usize> {
    let mut v = FINALIZED.with(|d| core::mem::take(&mut *d.borrow_mut()));
    v.sort_unstable();
    v
}

fn reset() {
    collect();
    take_dropped();
    take_finalized();
}

/// An object whose edges live in a lock or a once-cell; each test links
/// through one of them.
struct Locked {
    id: usize,
    mutex: Mutex<Option<Gc<Locked>>>,
    rwlock: RwLock<Option<Gc<Locked>>>,
    once: OnceCell<Gc<Locked>>,
}

impl Locked {
    fn new(id: usize) -> Gc<Locked> {
        Gc::new(Locked {
            id,
            mutex: Mutex::new(None),
            rwlock: RwLock::new(None),
            once: OnceCell::new(),
        })
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        DROPPED.with(|d| d.borrow_mut().push(self.id));
    }
}

// SAFETY: visits the `Gc`s of its three fields, each once, through the std
// impls under test.
unsafe impl Trace for Locked {
    fn trace(&self, tracer: &mut Tracer) {
        self.mutex.trace(tracer);
        self.rwlock.trace(tracer);
        self.once.trace(tracer);
    }
    fn has_finalizer() -> bool {
        false
    }
}

/// Links `a -> b -> a` with `link`, drops both handles and checks that the
/// pair is collected only by `collect()`.
fn cycle_is_collected(link: fn(&Locked, Gc<Locked>)) {
    reset();
    let a = Locked::new(1);
    let b = Locked::new(2);
    assert!(Gc::is_tracked(&a));
    link(&a, b.clone());
    link(&b, a.clone());
    drop((a, b));
    assert!(
        take_dropped().is_empty(),
        "a cycle is not freed by refcount"
    );
    assert_eq!(collect(), 2);
    assert_eq!(take_dropped(), [1, 2]);
    assert_eq!(collect(), 0);
}

#[test]
fn cycle_through_mutex_is_collected() {
    cycle_is_collected(|from, to| *from.mutex.lock().unwrap() = Some(to));
}

#[test]
fn cycle_through_rwlock_is_collected() {
    cycle_is_collected(|from, to| *from.rwlock.write().unwrap() = Some(to));
}

#[test]
fn cycle_through_once_cell_is_collected() {
    cycle_is_collected(|from, to| assert!(from.once.set(to).is_ok()));
}

#[test]
fn cycle_through_poisoned_mutex_is_collected() {
    reset();
    let a = Locked::new(1);
    let b = Locked::new(2);
    *a.mutex.lock().unwrap() = Some(b.clone());
    *b.mutex.lock().unwrap() = Some(a.clone());
    let poisoned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = a.mutex.lock().unwrap();
        panic!("poison the lock");
    }));
    assert!(poisoned.is_err());
    assert!(a.mutex.is_poisoned());
    drop((a, b));
    assert_eq!(collect(), 2, "a poisoned lock still shows its edges");
    assert_eq!(take_dropped(), [1, 2]);
}

/// Anything kept alive for its `Drop` (a lock guard).
trait Held {}

impl<T> Held for T {}

/// Runs `collect()` while `hold` keeps a lock of `a` (a member of the
/// garbage cycle `a <-> b`) taken: the cycle must survive that round and
/// go in the next one, once the guard is dropped.
fn held_lock_hides_edges(
    link: fn(&Locked, Gc<Locked>),
    hold: for<'a> fn(&'a Locked) -> Box<dyn Held + 'a>,
) {
    reset();
    let a = Locked::new(1);
    let b = Locked::new(2);
    link(&a, b.clone());
    link(&b, a.clone());
    let weak = Gc::downgrade(&a);
    // SAFETY: the pointer is only dereferenced while `a` is alive: the held
    // lock keeps the cycle from being collected (checked through `weak`
    // below before the guard is touched again); if the collector freed it
    // anyway, the guard is forgotten without being dropped and the test
    // fails.
    let a_ref: &Locked = unsafe { &*Gc::as_ptr(&a) };
    let guard = hold(a_ref);
    drop((a, b));
    let freed = collect();
    if weak.upgrade().is_none() {
        core::mem::forget(guard);
        panic!("the cycle through a held lock was collected ({freed} objects)");
    }
    assert_eq!(freed, 0, "a held lock hides the edges behind it");
    assert!(take_dropped().is_empty());
    drop(guard);
    drop(weak);
    assert_eq!(collect(), 2, "collected once the guard is dropped");
    assert_eq!(take_dropped(), [1, 2]);
}

#[test]
#[cfg_attr(miri, ignore = "a reference outlives its handle on purpose")]
fn held_mutex_hides_its_edges() {
    held_lock_hides_edges(
        |from, to| *from.mutex.lock().unwrap() = Some(to),
        |a| Box::new(a.mutex.lock().unwrap()),
    );
}

#[test]
#[cfg_attr(miri, ignore = "a reference outlives its handle on purpose")]
fn write_locked_rwlock_hides_its_edges() {
    held_lock_hides_edges(
        |from, to| *from.rwlock.write().unwrap() = Some(to),
        |a| Box::new(a.rwlock.write().unwrap()),
    );
}

/// A leaf value with a finalizer, recording its id in `FINALIZED`.
struct Fin(usize);

impl Drop for Fin {
    fn drop(&mut self) {
        DROPPED.with(|d| d.borrow_mut().push(self.0));
    }
}

// SAFETY: owns no `Gc`, visits none.
unsafe impl Trace for Fin {
    fn trace(&self, _: &mut Tracer) {}
    fn may_contain_gc() -> bool {
        false
    }
    fn has_finalizer() -> bool {
        true
    }
    fn run_finalizer(&self) {
        FINALIZED.with(|f| f.borrow_mut().push(self.0));
    }
}

#[test]
fn lock_and_once_cell_forward_finalizers_on_refcount_path() {
    reset();
    assert!(<Mutex<Fin>>::has_finalizer());
    assert!(<RwLock<Fin>>::has_finalizer());
    assert!(<OnceCell<Fin>>::has_finalizer());
    assert!(!<Mutex<u8>>::has_finalizer());
    assert!(!<OnceCell<u8>>::has_finalizer());

    let mutex = Gc::new(Mutex::new(Fin(1)));
    assert!(!Gc::is_tracked(&mutex), "a leaf in a lock stays untracked");
    drop(mutex);
    assert_eq!(take_finalized(), [1], "Mutex<T> runs T's finalizer");
    assert_eq!(take_dropped(), [1]);

    let rwlock = Gc::new(RwLock::new(Fin(2)));
    drop(rwlock);
    assert_eq!(take_finalized(), [2], "RwLock<T> runs T's finalizer");
    assert_eq!(take_dropped(), [2]);

    let once = Gc::new(OnceCell::from(Fin(3)));
    drop(once);
    assert_eq!(take_finalized(), [3], "OnceCell<T> runs T's finalizer");
    assert_eq!(take_dropped(), [3]);

    let empty: Gc<OnceCell<Fin>> = Gc::new(OnceCell::new());
    drop(empty);
    assert!(
        take_finalized().is_empty(),
        "an empty OnceCell has nothing to finalize"
    );
    assert!(take_dropped().is_empty());
}

#[test]
fn leaf_std_types_are_untracked() {
    reset();
    fn double(x: u8) -> u8 {
        x * 2
    }
    let rc: Gc<Rc<str>> = Gc::new(Rc::from("rc"));
    let arc: Gc<std::sync::Arc<[u8]>> = Gc::new(std::sync::Arc::from(&[1u8][..]));
    let static_str: Gc<&'static str> = Gc::new("static");
    let cow: Gc<Cow<'static, str>> = Gc::new(Cow::Owned(String::from("cow")));
    let borrowed_cow: Gc<Cow<'static, str>> = Gc::new(Cow::Borrowed("cow"));
    let fn_ptr: Gc<fn(u8) -> u8> = Gc::new(double as fn(u8) -> u8);
    let addr: Gc<SocketAddr> = Gc::new("127.0.0.1:80".parse().unwrap());
    let heap: Gc<BinaryHeap<u8>> = Gc::new(BinaryHeap::from(vec![3, 1, 2]));
    assert!(!Gc::is_tracked(&rc));
    assert!(!Gc::is_tracked(&arc));
    assert!(!Gc::is_tracked(&static_str));
    assert!(!Gc::is_tracked(&cow));
    assert!(!Gc::is_tracked(&borrowed_cow));
    assert!(!Gc::is_tracked(&fn_ptr));
    assert!(!Gc::is_tracked(&addr));
    assert!(!Gc::is_tracked(&heap));
    // The values are intact behind the handle.
    assert_eq!(&**rc, "rc");
    assert_eq!(*static_str, "static");
    assert_eq!(&**cow, "cow");
    assert_eq!((*fn_ptr)(4), 8);
    assert_eq!(addr.port(), 80);
    assert_eq!(heap.peek(), Some(&3));
}

/// An object whose edges are a min-heap of handles, ordered by id.
struct Heaped {
    id: usize,
    heap: RefCell<BinaryHeap<Reverse<Gc<Heaped>>>>,
}

impl PartialEq for Heaped {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Heaped {}

impl PartialOrd for Heaped {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Heaped {
    fn cmp(&self, other: &Self) -> Ordering {
        self.id.cmp(&other.id)
    }
}

impl Drop for Heaped {
    fn drop(&mut self) {
        DROPPED.with(|d| d.borrow_mut().push(self.id));
    }
}

// SAFETY: visits each handle of the heap once, through the std impls.
unsafe impl Trace for Heaped {
    fn trace(&self, tracer: &mut Tracer) {
        self.heap.trace(tracer);
    }
    fn has_finalizer() -> bool {
        false
    }
}

#[test]
fn binary_heap_of_handles_is_tracked_and_its_cycle_collected() {
    reset();
    let standalone: Gc<BinaryHeap<Reverse<Gc<u8>>>> = Gc::new(BinaryHeap::from(vec![
        Reverse(Gc::new(2)),
        Reverse(Gc::new(1)),
    ]));
    assert!(Gc::is_tracked(&standalone));
    assert_eq!(*standalone.peek().unwrap().0, 1);
    drop(standalone);

    let nodes: Vec<Gc<Heaped>> = (1..=3)
        .map(|id| {
            Gc::new(Heaped {
                id,
                heap: RefCell::new(BinaryHeap::new()),
            })
        })
        .collect();
    assert!(Gc::is_tracked(&nodes[0]));
    // Every node holds every node (itself included) in its heap.
    for from in &nodes {
        for to in &nodes {
            from.heap.borrow_mut().push(Reverse(to.clone()));
        }
    }
    assert_eq!(nodes[2].heap.borrow().peek().unwrap().0.id, 1);
    drop(nodes);
    assert!(
        take_dropped().is_empty(),
        "a cycle is not freed by refcount"
    );
    assert_eq!(collect(), 3);
    assert_eq!(take_dropped(), [1, 2, 3]);
    assert_eq!(collect(), 0);
}
