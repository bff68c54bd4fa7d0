use pygc::Trace;
use std::rc::Rc;

#[derive(Trace)]
struct Borrowed<'a> {
    name: &'a str,
    raw: *const u8,
    nested: Vec<Rc<u8>>,
    weak: std::rc::Weak<u8>,
}

fn main() {}
