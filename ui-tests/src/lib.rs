//! pygc's compile-fail cases live in `tests/ui/*.rs` with the expected
//! errors beside them: `cargo test -p pygc-ui-tests` checks them. This
//! crate carries only `trybuild`, which rebuilds the cases' dependencies in
//! its own target directory, so nothing else is in its way.
