use pygc::Trace;

#[derive(Trace)]
#[trace(finalize = true, crate = "not a path")]
struct Values {
    #[trace(skip = "yes")]
    value: u32,
}

#[derive(Trace)]
#[trace]
struct Bare;

fn main() {}
