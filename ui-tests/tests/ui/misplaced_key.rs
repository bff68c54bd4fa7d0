use pygc::Trace;

#[derive(Trace)]
#[trace(skip)]
struct OnType {
    value: u32,
}

#[derive(Trace)]
enum OnField {
    #[trace(finalize)]
    Variant {
        #[trace(bound = "T: Trace", crate = "pygc")]
        value: u32,
    },
}

fn main() {}
