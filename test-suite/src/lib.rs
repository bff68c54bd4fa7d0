//! pygc's integration tests live in `tests/`: `cargo test` at the
//! workspace root runs them (`cargo test -p pygc-test-suite --test NAME`
//! for one file). This crate only carries their dev-dependencies, so that
//! building pygc's examples needs none of them.
