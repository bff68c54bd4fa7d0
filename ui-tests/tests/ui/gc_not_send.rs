use pygc::Gc;

fn main() {
    let gc = Gc::new(5u32);
    std::thread::spawn(move || drop(gc));
}
