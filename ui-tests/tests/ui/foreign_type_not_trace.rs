use pygc::Trace;
use std::fs::File;

struct Local;

#[derive(Trace)]
struct Holder {
    file: File,
    locals: Vec<Local>,
    pair: (u8, Option<std::process::Child>),
    #[trace(skip)]
    skipped: File,
}

fn main() {}
