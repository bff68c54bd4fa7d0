use pygc::{Gc, Trace};

struct Plain {
    value: u32,
}

#[derive(Trace)]
struct Holder {
    plain: Plain,
    next: Option<Gc<Holder>>,
}

#[derive(Trace)]
enum Either {
    Left(Vec<Plain>),
    Right { value: u32 },
}

fn main() {}
