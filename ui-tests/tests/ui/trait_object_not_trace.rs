use pygc::{Gc, Trace};

trait Shape {
    fn area(&self) -> f64;
}

#[derive(Trace)]
struct Canvas {
    shapes: Vec<Box<dyn Shape>>,
    next: Option<Gc<Canvas>>,
}

/// A trait declared `: Trace` makes its trait objects traceable.
trait Traced: Trace {}

#[derive(Trace)]
struct Fine {
    items: Vec<Box<dyn Traced>>,
}

fn main() {}
