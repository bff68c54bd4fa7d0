use pygc::{Gc, Weak};

static GLOBAL: Option<Gc<u32>> = None;
static WEAK: Option<Weak<u32>> = None;

fn main() {
    let _ = (&GLOBAL, &WEAK);
}
