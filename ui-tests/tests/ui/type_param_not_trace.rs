use pygc::Trace;

/// `bound = ""` replaces the inferred `T: Trace` bound: `T` is not `Trace`.
#[derive(Trace)]
#[trace(bound = "")]
struct Unbounded<T> {
    value: T,
}

/// A parameter inside std containers, with a bound that forgot `Trace`.
#[derive(Trace)]
#[trace(bound = "T: Clone")]
enum Nested<T: Clone> {
    Items(Option<Vec<Box<T>>>),
    Empty,
}

fn main() {}
