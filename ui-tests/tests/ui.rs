//! Compile-fail cases: each `tests/ui/*.rs` must fail to compile with the
//! error in its `.stderr` (regenerate with `TRYBUILD=overwrite cargo test
//! -p pygc-ui-tests`, then read the diff).

use std::io::IsTerminal;

#[test]
fn ui() {
    if !std::io::stderr().is_terminal() {
        // trybuild colours its report whenever `NO_COLOR` is unset; keep
        // redirected output (CI logs, files) free of escape codes.
        // SAFETY: this test is the binary's only one, and nothing else in
        // the process reads or writes the environment concurrently.
        unsafe { std::env::set_var("NO_COLOR", "1") };
    }
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
