//! The "vs CPython's own collector" table (`--cpython`): the same graphs,
//! built from two-slot nodes with the collector disabled, collected by
//! CPython 3.13's `gc` (`peer-bench/cpython_gc.py`) and by pygc (here), each
//! row in a fresh process of its own, the two interleaved row by row. Cells
//! are collect-only time per object (the last row: the loop under automatic
//! collection, per young object), the median of `--reps` repetitions.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use pygc::Gc;

/// The two-slot node of every graph (a Python class with
/// `__slots__ = ("a", "b")` on the CPython side).
#[derive(pygc::Trace)]
struct Node {
    a: RefCell<Option<Gc<Node>>>,
    b: RefCell<Option<Gc<Node>>>,
}

fn node() -> Gc<Node> {
    Gc::new(Node {
        a: RefCell::new(None),
        b: RefCell::new(None),
    })
}

/// Row name (the same in `cpython_gc.py`) and what it measures.
const ROWS: &[(&str, &str)] = &[
    (
        "cycles",
        "1M two-object garbage cycles: one full collect, per object",
    ),
    (
        "ring",
        "1M-object garbage ring: one full collect, per object",
    ),
    (
        "live_heap",
        "1M-object live heap (depth-20 tree, settled by one untimed full collect): one full collect, per object",
    ),
    (
        "gen0_survivors",
        "gen-0 collect of 2,000 survivors (a live chain), ×1,000 rounds, per object",
    ),
    (
        "gen0_garbage",
        "gen-0 collect of 2,000 garbage objects (1,000 two-object cycles), ×1,000 rounds, per object",
    ),
    (
        "young_with_old_heap",
        "500k young garbage pairs next to a 1M-object live heap (settled), automatic collection: the loop, per young object",
    ),
];

/// Target: pygc ≤ this × CPython in every row.
const TARGET: f64 = 0.2;

/// Sizes, as in `cpython_gc.py`.
struct Sizes {
    graph: usize,
    depth: u32,
    gen0: usize,
    rounds: usize,
    young: usize,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        let div = if quick { 100 } else { 1 };
        let graph = 1_000_000 / div;
        Sizes {
            graph,
            depth: usize::BITS - graph.leading_zeros(),
            gen0: 2000,
            rounds: 1000 / div,
            young: 500_000 / div,
        }
    }
}

fn tree(depth: u32) -> Gc<Node> {
    let n = node();
    if depth > 1 {
        *n.a.borrow_mut() = Some(tree(depth - 1));
        *n.b.borrow_mut() = Some(tree(depth - 1));
    }
    n
}

/// One repetition of `row`: (timed ns, objects). Automatic collection is
/// disabled on entry and exit.
fn run_once(row: &str, s: &Sizes) -> (u128, usize) {
    match row {
        "cycles" => {
            for _ in 0..s.graph {
                let a = node();
                let b = node();
                *a.a.borrow_mut() = Some(b.clone());
                *b.a.borrow_mut() = Some(a);
            }
            let t = Instant::now();
            black_box(pygc::collect());
            (t.elapsed().as_nanos(), 2 * s.graph)
        }
        "ring" => {
            let first = node();
            let mut prev = first.clone();
            for _ in 1..s.graph {
                let n = node();
                *prev.a.borrow_mut() = Some(n.clone());
                prev = n;
            }
            *prev.a.borrow_mut() = Some(first);
            drop(prev);
            let t = Instant::now();
            black_box(pygc::collect());
            (t.elapsed().as_nanos(), s.graph)
        }
        "live_heap" => {
            let root = tree(s.depth);
            pygc::collect();
            let t = Instant::now();
            black_box(pygc::collect());
            let elapsed = t.elapsed().as_nanos();
            drop(black_box(root));
            (elapsed, (1 << s.depth) - 1)
        }
        "gen0_survivors" => {
            let mut total = 0;
            for _ in 0..s.rounds {
                let mut head: Option<Gc<Node>> = None;
                for _ in 0..s.gen0 {
                    let n = node();
                    *n.a.borrow_mut() = head.take();
                    head = Some(n);
                }
                let t = Instant::now();
                black_box(pygc::collect_generation(0));
                total += t.elapsed().as_nanos();
                drop(black_box(head));
            }
            (total, s.rounds * s.gen0)
        }
        "gen0_garbage" => {
            let mut total = 0;
            for _ in 0..s.rounds {
                for _ in 0..s.gen0 / 2 {
                    let a = node();
                    let b = node();
                    *a.a.borrow_mut() = Some(b.clone());
                    *b.a.borrow_mut() = Some(a);
                }
                let t = Instant::now();
                black_box(pygc::collect_generation(0));
                total += t.elapsed().as_nanos();
            }
            (total, s.rounds * s.gen0)
        }
        "young_with_old_heap" => {
            let root = tree(s.depth);
            pygc::collect();
            pygc::enable();
            let t = Instant::now();
            for _ in 0..s.young {
                let a = node();
                let b = node();
                *a.a.borrow_mut() = Some(b.clone());
                *b.a.borrow_mut() = Some(a.clone());
                drop(black_box(a));
                drop(black_box(b));
            }
            let elapsed = t.elapsed().as_nanos();
            pygc::disable();
            drop(black_box(root));
            (elapsed, 2 * s.young)
        }
        other => unreachable!("row {other} has no body"),
    }
}

/// Child mode (`--cpython-row ROW`): the pygc side of one row, printed as
/// `cpython_gc.py` prints it.
pub fn run_row_child(row: &str, quick: bool, reps: usize) -> ExitCode {
    if !ROWS.iter().any(|(r, _)| *r == row) {
        eprintln!("unknown row {row}");
        return ExitCode::from(2);
    }
    let s = Sizes::new(quick);
    pygc::disable();
    pygc::collect();
    let mut per = Vec::with_capacity(reps);
    let mut objects = 0;
    for _ in 0..reps {
        let (ns, n) = run_once(row, &s);
        objects = n;
        per.push(ns as f64 / n as f64);
        pygc::collect();
    }
    per.sort_by(f64::total_cmp);
    println!("ROW {row} {:.3} {objects} {reps}", per[per.len() / 2]);
    ExitCode::SUCCESS
}

/// `python3.13` on PATH if it runs (a pyenv shim may not), else the newest
/// `~/.pyenv/versions/3.13*/bin/python3.13`.
fn find_python() -> Option<PathBuf> {
    let works = |p: &Path| {
        Command::new(p)
            .args(["-c", "import sys; print(sys.version_info[:2] == (3, 13))"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"True"))
    };
    let on_path = PathBuf::from("python3.13");
    if works(&on_path) {
        return Some(on_path);
    }
    let versions = Path::new(&std::env::var_os("HOME")?).join(".pyenv/versions");
    let mut found: Vec<PathBuf> = std::fs::read_dir(versions)
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            let p = e.path().join("bin/python3.13");
            (name.starts_with("3.13") && works(&p)).then_some(p)
        })
        .collect();
    found.sort();
    found.pop()
}

/// One `ROW` line: (ns per object, objects).
fn parse_row(stdout: &str, row: &str) -> Option<(f64, usize)> {
    let line = stdout.lines().find_map(|l| l.strip_prefix("ROW "))?;
    let mut f = line.split_whitespace();
    if f.next()? != row {
        return None;
    }
    Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
}

/// The median of the rounds of one side (by ns/object), or the first
/// failure.
fn median_round(mut rounds: Vec<Result<(f64, usize), String>>) -> Result<(f64, usize), String> {
    if let Some(k) = rounds.iter().position(Result::is_err) {
        return rounds.swap_remove(k);
    }
    let mut ok: Vec<(f64, usize)> = rounds.into_iter().map(Result::unwrap).collect();
    ok.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(ok[ok.len() / 2])
}

/// Runs a command, returns its stdout, or why it failed.
fn output(cmd: &mut Command) -> Result<String, String> {
    let o = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("spawn failed: {e}"))?;
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty());
        return Err(format!("{}: {}", o.status, last.unwrap_or("").trim()));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The whole section: markdown table (or the "not found" line).
pub fn section(quick: bool, reps: usize, rounds: usize) -> String {
    let mut s = String::from("## vs CPython's own collector\n\n");
    let Some(python) = find_python() else {
        s.push_str("CPython 3.13 not found: install it or put python3.13 on PATH\n");
        return s;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("cpython_gc.py");
    let exe = std::env::current_exe().expect("current_exe");
    let mut info = String::new();
    let mut rows = vec![];
    for (row, what) in ROWS {
        let mut py = Command::new(&python);
        py.arg(&script).args(["--reps", &reps.to_string(), row]);
        let mut me = Command::new(&exe);
        me.args(["--cpython-row", row, "--reps", &reps.to_string()]);
        if quick {
            py.arg("--quick");
            me.arg("--quick");
        }
        // `rounds` runs per side, the sides alternating (CPython first in
        // even rounds, pygc first in odd ones), so a slow phase of a shared
        // machine hits both; each side reports its median round.
        let (mut cpys, mut ourss) = (vec![], vec![]);
        for round in 0..rounds {
            let t = Instant::now();
            let mut run_py = || {
                let out = output(&mut py);
                if let Ok(out) = &out
                    && info.is_empty()
                {
                    info = out
                        .lines()
                        .find_map(|l| l.strip_prefix("INFO "))
                        .unwrap_or("")
                        .to_string();
                }
                out.and_then(|o| parse_row(&o, row).ok_or(format!("no ROW line: {o:?}")))
            };
            let mut run_me = || {
                output(&mut me)
                    .and_then(|o| parse_row(&o, row).ok_or(format!("no ROW line: {o:?}")))
            };
            let (cpy, ours) = if round % 2 == 0 {
                let c = run_py();
                (c, run_me())
            } else {
                let o = run_me();
                (run_py(), o)
            };
            eprintln!(
                "[{:>6.1}s] cpython {row:20} round {}: CPython {:?} pygc {:?}",
                t.elapsed().as_secs_f64(),
                round + 1,
                cpy.as_ref().map(|x| x.0),
                ours.as_ref().map(|x| x.0)
            );
            cpys.push(cpy);
            ourss.push(ours);
        }
        rows.push((row, what, median_round(cpys), median_round(ourss)));
    }
    let _ = writeln!(
        s,
        "CPython: {} ({}, {info}); pygc: this build. Each row runs in a fresh process per side, {rounds} rounds with the sides alternating; cell: ns per object, the median round, each round the median of {reps} reps{}. Full collections on the CPython side also traverse the interpreter's own tracked objects (~5,000 at start-up, under 1% of the big graphs). Graphs are built from two-slot nodes with the collector disabled; only the collection is timed (last row: the loop under automatic collection). Target: pygc ≤ {TARGET}× CPython in every row.\n",
        python.display(),
        script.display(),
        if quick { ", --quick (N / 100)" } else { "" }
    );
    s.push_str("| row | what | CPython ns/object | pygc ns/object | ratio | ≤ 0.2× |\n");
    s.push_str("|---|---|---|---|---|---|\n");
    let (mut met, mut judged) = (0, 0);
    for (row, what, cpy, ours) in &rows {
        let cell = |r: &Result<(f64, usize), String>| match r {
            Ok((ns, _)) => format!("{ns:.1}"),
            Err(e) => format!("FAILED ({e})"),
        };
        let (ratio, verdict) = match (cpy, ours) {
            (Ok((c, _)), Ok((p, _))) => {
                judged += 1;
                let ok = p / c <= TARGET;
                met += usize::from(ok);
                (
                    format!("{:.3}×", p / c),
                    if ok { "yes" } else { "**NO**" }.to_string(),
                )
            }
            _ => ("-".into(), "?".into()),
        };
        let _ = writeln!(
            s,
            "| {row} | {what} | {} | {} | {ratio} | {verdict} |",
            cell(cpy),
            cell(ours)
        );
    }
    let _ = writeln!(s, "\nvs CPython target: {met} of {judged} rows met.");
    s
}
