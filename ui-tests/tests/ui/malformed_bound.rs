use pygc::Trace;

#[derive(Trace)]
#[trace(bound = "T Trace")]
struct NoColon<T> {
    value: T,
}

#[derive(Trace)]
#[trace(bound = T: Trace)]
struct NotAString<T> {
    value: T,
}

fn main() {}
