use pygc::{Gc, Trace, unsize};

trait Unimplemented: Trace {}

fn main() {
    // Not an unsizing coercion: a pointer cast would reinterpret the value.
    let _ = unsize!(Gc::new(1u32) => u64);
    // `u32` does not implement the trait.
    let _ = unsize!(Gc::new(1u32) => dyn Unimplemented);
}
