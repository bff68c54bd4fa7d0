//! `Gc<str>`, `Gc<[T]>` and `Gc<T>` from `Box<T>` (trait objects too): one
//! allocation each, tracked only when the elements may hold a `Gc` (or the
//! concrete type is unknown), collected, finalized and freed like any
//! other object.

use core::cell::{Cell, RefCell};

use crate::{Gc, Trace, Tracer, collect, heap_stats};

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
    static FINALIZED: Cell<usize> = const { Cell::new(0) };
}

fn take(counter: &'static std::thread::LocalKey<Cell<usize>>) -> usize {
    counter.with(Cell::take)
}

fn bytes_in_use() -> usize {
    heap_stats().bytes_in_use
}

#[test]
fn strings_and_leaf_slices_are_untracked_and_freed() {
    let before = bytes_in_use();
    let name: Gc<str> = Gc::from("spam and eggs");
    let owned: Gc<str> = Gc::from(String::from("ham"));
    let numbers: Gc<[u64]> = Gc::from(vec![1, 2, 3]);
    let cloned: Gc<[u16]> = Gc::from(&[4u16, 5][..]);
    let collected: Gc<[u32]> = (0..100).collect();
    let empty: Gc<[u8]> = Gc::from(Vec::new());
    let units: Gc<[()]> = Gc::from(vec![(); 5]);
    for tracked in [
        Gc::is_tracked(&name),
        Gc::is_tracked(&owned),
        Gc::is_tracked(&numbers),
        Gc::is_tracked(&collected),
    ] {
        assert!(!tracked);
    }
    assert_eq!(&*name, "spam and eggs");
    assert_eq!(&*owned, "ham");
    assert_eq!(&*numbers, [1, 2, 3]);
    assert_eq!(&*cloned, [4, 5]);
    assert_eq!(collected[99], 99);
    assert!(empty.is_empty());
    assert_eq!(units.len(), 5);
    assert_eq!(Gc::type_name(&name), "str");
    // One block each (large ones from the system): the block of a 13-byte
    // string is at most 16 bytes past its 8-byte header and length.
    assert!(bytes_in_use() > before);
    let weak = Gc::downgrade(&name);
    drop((name, owned, numbers, cloned, collected, empty, units));
    assert!(weak.upgrade().is_none());
    drop(weak);
    assert_eq!(bytes_in_use(), before, "every block went back");
}

/// An element that counts its drops and may point to a slice of its kind.
struct Slot(RefCell<Option<Gc<[Slot]>>>);

// SAFETY: visits its one owned `Gc`.
unsafe impl Trace for Slot {
    fn trace(&self, tracer: &mut Tracer) {
        self.0.trace(tracer);
    }
    fn has_finalizer() -> bool {
        false
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

fn slots(n: usize) -> Gc<[Slot]> {
    (0..n).map(|_| Slot(RefCell::new(None))).collect()
}

#[test]
fn a_slice_of_gc_holders_is_tracked_and_its_cycles_collected() {
    collect();
    take(&DROPS);
    let before = bytes_in_use();
    let small = slots(3);
    assert!(Gc::is_tracked(&small));
    *small[1].0.borrow_mut() = Some(small.clone()); // a cycle through element 1
    // A large one (past the pools), pointing at the small one and back.
    let large = slots(200);
    *large[199].0.borrow_mut() = Some(small.clone());
    *small[2].0.borrow_mut() = Some(large.clone());
    assert!(Gc::type_name(&large).ends_with("[pygc_core::tests::unsized_values::Slot]"));
    drop((small, large));
    assert_eq!(collect(), 2);
    assert_eq!(take(&DROPS), 203, "every element dropped once");
    assert_eq!(bytes_in_use(), before);
}

#[test]
fn a_slice_dropped_by_refcount_drops_its_elements() {
    take(&DROPS);
    let before = bytes_in_use();
    drop(slots(7));
    assert_eq!(take(&DROPS), 7);
    assert_eq!(bytes_in_use(), before);
}

/// Over-aligned elements keep their alignment in the slice.
#[repr(align(64))]
struct Wide(u8);

// SAFETY: owns no `Gc`.
unsafe impl Trace for Wide {
    fn trace(&self, _: &mut Tracer) {}
    fn may_contain_gc() -> bool {
        false
    }
}

#[test]
fn over_aligned_slices_are_aligned() {
    let wide: Gc<[Wide]> = (0..3).map(Wide).collect();
    for element in wide.iter() {
        assert_eq!((&raw const *element).addr() % 64, 0);
    }
    assert_eq!(wide[2].0, 2);
}

trait Shape: Trace {
    fn sides(&self) -> u32;
}

/// A shape with an edge and a finalizer.
struct Linked {
    sides: u32,
    next: RefCell<Option<Gc<dyn Shape>>>,
}

// SAFETY: visits its one owned `Gc`.
unsafe impl Trace for Linked {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
    }
    fn run_finalizer(&self) {
        FINALIZED.with(|f| f.set(f.get() + 1));
    }
}

impl Drop for Linked {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

impl Shape for Linked {
    fn sides(&self) -> u32 {
        self.sides
    }
}

/// A leaf shape.
struct Square;

// SAFETY: owns no `Gc`.
unsafe impl Trace for Square {
    fn trace(&self, _: &mut Tracer) {}
    fn may_contain_gc() -> bool {
        false
    }
}

impl Shape for Square {
    fn sides(&self) -> u32 {
        4
    }
}

fn linked(sides: u32) -> Gc<dyn Shape> {
    let boxed: Box<dyn Shape> = Box::new(Linked {
        sides,
        next: RefCell::new(None),
    });
    Gc::from(boxed)
}

#[test]
fn boxed_trait_objects_move_into_conservatively_tracked_objects() {
    collect();
    take(&DROPS);
    take(&FINALIZED);
    let before = bytes_in_use();
    let square: Box<dyn Shape> = Box::new(Square);
    let square: Gc<dyn Shape> = Gc::from(square);
    assert!(Gc::is_tracked(&square), "the concrete type is unknown");
    assert!(Gc::type_name(&square).ends_with("unsized_values::Square"));
    assert_eq!(square.sides(), 4);
    drop(square);

    let a = linked(3);
    let b = linked(5);
    assert_eq!(a.sides() + b.sides(), 8);
    // Link them into a cycle through the concrete type.
    let link = |from: &Gc<dyn Shape>, to: &Gc<dyn Shape>| {
        // SAFETY: `from` was made from a `Box<Linked>`, so it points at one.
        let from = unsafe { &*Gc::as_ptr(from).cast::<Linked>() };
        *from.next.borrow_mut() = Some(to.clone());
    };
    link(&a, &b);
    link(&b, &a);
    drop((a, b));
    assert_eq!(collect(), 2);
    assert_eq!(take(&FINALIZED), 2, "the concrete finalizers ran");
    assert_eq!(take(&DROPS), 2);
    assert_eq!(bytes_in_use(), before);
}

#[test]
fn boxed_sized_values_move_too() {
    take(&DROPS);
    let boxed = Box::new(Slot(RefCell::new(None)));
    let slot: Gc<Slot> = Gc::from(boxed);
    assert!(Gc::is_tracked(&slot));
    assert!(slot.0.borrow().is_none());
    let leaf: Gc<u64> = Gc::from(Box::new(9u64));
    assert!(!Gc::is_tracked(&leaf));
    assert_eq!(*leaf, 9);
    drop((slot, leaf));
    assert_eq!(take(&DROPS), 1);
}
