//! A guided tour of pygc: `#[derive(Trace)]`, refcounting, cycle
//! collection, `Weak`, callbacks, `freeze` and the other `gc` controls.
//!
//! Run with `cargo run --release --example tour`.

use std::cell::RefCell;

use pygc::{CollectPhase, Finalize, Gc, Trace, Weak};

/// A Python-like object: a name and a list of references to other objects.
#[derive(Trace)]
#[trace(finalize)]
struct Obj {
    name: String,
    loud: bool,
    refs: RefCell<Vec<Gc<Obj>>>,
}

impl Finalize for Obj {
    fn finalize(&self) {
        if self.loud {
            println!("    finalize {} (like __del__)", self.name);
        }
    }
}

fn obj(name: &str, loud: bool) -> Gc<Obj> {
    Gc::new(Obj {
        name: name.to_owned(),
        loud,
        refs: RefCell::new(Vec::new()),
    })
}

fn main() {
    println!("1. #[derive(Trace)] on a struct lets the collector see the Gc fields inside it");
    let probe = obj("probe", false);
    println!(
        "    Obj {{ name, loud, refs: RefCell<Vec<Gc<Obj>>> }} derives Trace: tracked = {}\n",
        Gc::is_tracked(&probe)
    );
    drop(probe);

    println!("2. Reference counting frees an object the moment its last handle goes");
    let a = obj("a", true);
    let also_a = a.clone();
    println!("    a has {} strong handles", Gc::strong_count(&a));
    drop(a);
    println!(
        "    dropped one handle: {} left, nothing freed yet",
        Gc::strong_count(&also_a)
    );
    drop(also_a);
    println!("    dropped the last one: freed right there (see the finalizer above)\n");

    println!("3. Reference cycles need the cycle collector");
    let x = obj("x", true);
    let y = obj("y", true);
    x.refs.borrow_mut().push(y.clone());
    y.refs.borrow_mut().push(x.clone()); // x -> y -> x
    let watch = Gc::downgrade(&x);
    drop((x, y));
    println!(
        "    dropped x and y, but they keep each other alive: x alive = {}",
        watch.upgrade().is_some()
    );
    let found = pygc::collect();
    println!(
        "    pygc::collect() found {found} unreachable objects; x alive = {}\n",
        watch.upgrade().is_some()
    );

    println!("4. Weak references (weakref.ref) do not keep their object alive");
    let z = obj("z", false);
    let weak: Weak<Obj> = Gc::downgrade(&z);
    println!(
        "    Weak to z upgrades = {} (weak_count = {})",
        weak.upgrade().is_some(),
        Gc::weak_count(&z)
    );
    drop(z);
    println!(
        "    dropped z: the Weak upgrades = {}; a Weak back-pointer makes no cycle\n",
        weak.upgrade().is_some()
    );

    println!(
        "5. Callbacks (gc.callbacks): pygc::add_callback runs at the start and stop of every collection"
    );
    let automatic = std::rc::Rc::new(std::cell::Cell::new((0usize, 0usize)));
    let seen = automatic.clone();
    let id = pygc::add_callback(move |phase, info| {
        if phase == CollectPhase::Stop {
            let (runs, freed) = seen.get();
            seen.set((runs + 1, freed + info.collected));
        }
    });
    println!("    registered a callback that counts collections and the objects they free\n");

    println!(
        "6. Automatic collection runs when generation 0 passes {} new tracked objects",
        pygc::threshold()[0]
    );
    for i in 0..5000 {
        let p = obj(&format!("p{i}"), false);
        p.refs.borrow_mut().push(p.clone()); // a self-cycle: garbage at once
    }
    let (runs, freed) = automatic.get();
    println!(
        "    made 5000 garbage self-cycles: the callback saw {runs} automatic collections free {freed} of them; count() = {:?}",
        pygc::count()
    );
    pygc::disable();
    for i in 0..3000 {
        let p = obj(&format!("q{i}"), false);
        p.refs.borrow_mut().push(p.clone());
    }
    println!(
        "    after pygc::disable(), 3000 more pile up: count() = {:?}",
        pygc::count()
    );
    pygc::enable();
    let freed = pygc::collect();
    println!(
        "    pygc::collect() works either way: freed {freed}; count() = {:?}",
        pygc::count()
    );
    pygc::remove_callback(id);

    println!("\n7. pygc::freeze() (gc.freeze): long-lived objects leave the generations");
    let config: Vec<Gc<Obj>> = (0..1000).map(|i| obj(&format!("c{i}"), false)).collect();
    pygc::freeze();
    println!(
        "    froze {} objects: no collection scans them again",
        pygc::freeze_count()
    );
    drop(config);
    println!(
        "    dropped them: still freed by refcounting; freeze_count() = {}",
        pygc::freeze_count()
    );

    println!("\n8. Statistics");
    for (generation, s) in pygc::stats().iter().enumerate() {
        println!(
            "    generation {generation}: {} collections, {} objects collected",
            s.collections, s.collected
        );
    }
    let heap = pygc::heap_stats();
    println!(
        "    heap: {} arena(s), {} pool(s), {} bytes in use, {} bytes reserved",
        heap.arenas, heap.pools, heap.bytes_in_use, heap.bytes_reserved
    );
    let leaf = Gc::new(1u64);
    println!(
        "    Gc<u64> is untracked (is_tracked = {}) and takes a 16-byte block; a tracked object carries a 32-byte header",
        Gc::is_tracked(&leaf)
    );
}
