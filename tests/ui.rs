//! Compile-fail cases: each `tests/ui/*.rs` must fail to compile with the
//! error in its `.stderr` (regenerate with `TRYBUILD=overwrite cargo test
//! --test ui`, then read the diff).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
