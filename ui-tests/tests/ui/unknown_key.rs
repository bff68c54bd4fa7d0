use pygc::Trace;

#[derive(Trace)]
#[trace(finalise)]
struct Typo {
    #[trace(skipp)]
    value: u32,
}

fn main() {}
