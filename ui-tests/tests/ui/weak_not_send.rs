use pygc::Gc;

fn main() {
    let gc = Gc::new(5u32);
    let weak = Gc::downgrade(&gc);
    std::thread::spawn(move || drop(weak));
}
