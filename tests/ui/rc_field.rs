use pygc::Trace;
use std::rc::Rc;
use std::sync::Arc;

#[derive(Trace)]
struct Shared {
    shared: Rc<String>,
    atomic: Arc<u8>,
}

fn main() {}
