//! criterion benches of pygc against `std::rc::Rc` (`benches/`): run them
//! with `cargo bench -p pygc-benches`. They live in their own crate so that
//! criterion is never built by `cargo run --example` or `cargo test`.
