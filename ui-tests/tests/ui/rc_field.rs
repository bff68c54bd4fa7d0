use pygc::{Gc, Trace};
use std::rc::Rc;
use std::sync::Arc;

/// `Rc`/`Arc` of types that cannot hold a `Gc` are traceable leaves.
#[derive(Trace)]
struct Shared {
    name: Rc<str>,
    atomic: Arc<u8>,
}

/// An `Rc` that may hold a `Gc` hides it from the collector: an error that
/// says to skip the field or use `Gc`.
#[derive(Trace)]
struct Hidden {
    shared: Rc<Gc<u8>>,
}

fn main() {
    let _ = Shared {
        name: Rc::from("x"),
        atomic: Arc::new(1),
    };
}
