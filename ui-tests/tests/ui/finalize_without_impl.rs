use pygc::Trace;

#[derive(Trace)]
#[trace(finalize)]
struct Forgot {
    value: u32,
}

fn main() {}
