use pygc::Trace;

#[derive(Trace)]
#[repr(C, packed)]
struct Packed {
    value: u32,
}

fn main() {}
