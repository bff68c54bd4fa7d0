//! `peer-bench`: the same workloads for pygc, `std::rc::Rc` and the peer
//! cycle-collecting crates, each cell (workload × implementation) in its own
//! child process, so a crash (stack overflow) or a runaway cell cannot take
//! the run down, and peak RSS (VmHWM) is per cell.
//!
//! ```text
//! cargo run --profile peer -p peer-bench -- --md      # fat LTO (the issue's profile)
//! cargo run --release -p peer-bench -- --md           # the workspace's release profile
//! cargo run --release -p peer-bench -- --quick        # N / 100, smoke run
//! ```
//!
//! Options: `--md` (markdown), `--quick`, `--reps N` (default 5), `--rounds N` (default 3),
//! `--timeout SECS` (per cell, default 120), `--workloads a,b`,
//! `--impls x,y`, `--list`, `--cpython` (only the "vs CPython's own
//! collector" table: `cpython_gc.py` under python3.13 against pygc, see
//! `cpython.rs`; honours `--quick`, `--reps` and `--rounds`). Child modes:
//! `--cell WORKLOAD IMPL`, `--cpython-row ROW`.

mod cpython;
mod impl_bacon;
mod impl_dumpster;
mod impl_gc;
mod impl_gcmodule;
mod impl_pygc;
mod impl_rc;
mod impl_rustcc;
mod report;
mod workloads;

use std::io::Read;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use workloads::{Sizes, WORKLOADS};

/// One implementation: table name, workload runner, full collection.
pub struct Impl {
    /// Column name.
    pub name: &'static str,
    run: fn(&str, &Sizes) -> Option<Duration>,
    collect_all: fn(),
}

/// Every implementation, in column order.
pub const IMPLS: &[Impl] = &[
    Impl {
        name: "pygc",
        run: impl_pygc::run,
        collect_all: impl_pygc::collect_all,
    },
    Impl {
        name: "Rc",
        run: impl_rc::run,
        collect_all: impl_rc::collect_all,
    },
    Impl {
        name: "gcmodule",
        run: impl_gcmodule::run,
        collect_all: impl_gcmodule::collect_all,
    },
    Impl {
        name: "dumpster",
        run: impl_dumpster::run,
        collect_all: impl_dumpster::collect_all,
    },
    Impl {
        name: "rust-cc",
        run: impl_rustcc::run,
        collect_all: impl_rustcc::collect_all,
    },
    Impl {
        name: "bacon_rajan_cc",
        run: impl_bacon::run,
        collect_all: impl_bacon::collect_all,
    },
    Impl {
        name: "gc",
        run: impl_gc::run,
        collect_all: impl_gc::collect_all,
    },
];

/// Parsed command line.
struct Options {
    md: bool,
    quick: bool,
    reps: usize,
    /// Rounds over each row, implementations interleaved (see `run_row`).
    rounds: usize,
    timeout: Duration,
    workloads: Vec<&'static str>,
    impls: Vec<&'static str>,
    cell: Option<(String, String)>,
    list: bool,
    /// Only the "vs CPython" table.
    cpython: bool,
    /// Child mode of the "vs CPython" table: the pygc side of one row.
    cpython_row: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: peer-bench [--md] [--quick] [--reps N] [--rounds N] [--timeout SECS] \
         [--workloads a,b] [--impls x,y] [--list]\n       \
         peer-bench --cpython [--quick] [--reps N] [--rounds N]   (pygc vs CPython 3.13's gc)\n       \
         peer-bench --cell WORKLOAD IMPL [--reps N] [--timeout SECS] [--quick]\n       \
         peer-bench --cpython-row ROW [--reps N] [--quick]"
    );
    std::process::exit(2)
}

fn parse_list<T>(
    arg: &str,
    all: &'static [T],
    name: impl Fn(&'static T) -> &'static str,
) -> Vec<&'static str> {
    arg.split(',')
        .map(|want| {
            all.iter()
                .map(&name)
                .find(|n| *n == want)
                .unwrap_or_else(|| {
                    eprintln!("unknown name {want:?}");
                    usage()
                })
        })
        .collect()
}

fn parse_args() -> Options {
    let mut o = Options {
        md: false,
        quick: false,
        reps: 5,
        rounds: 3,
        timeout: Duration::from_secs(120),
        workloads: WORKLOADS.iter().map(|w| w.name).collect(),
        impls: IMPLS.iter().map(|i| i.name).collect(),
        cell: None,
        list: false,
        cpython: false,
        cpython_row: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--md" => o.md = true,
            "--quick" => o.quick = true,
            "--list" => o.list = true,
            "--cpython" => o.cpython = true,
            "--cpython-row" => o.cpython_row = Some(value()),
            "--reps" => o.reps = value().parse().unwrap_or_else(|_| usage()),
            "--rounds" => o.rounds = value().parse().unwrap_or_else(|_| usage()),
            "--timeout" => {
                o.timeout = Duration::from_secs_f64(value().parse().unwrap_or_else(|_| usage()))
            }
            "--workloads" => o.workloads = parse_list(&value(), WORKLOADS, |w| w.name),
            "--impls" => o.impls = parse_list(&value(), IMPLS, |i| i.name),
            "--cell" => {
                let w = value();
                let i = value();
                o.cell = Some((w, i));
            }
            "-h" | "--help" => usage(),
            _ => {
                eprintln!("unknown argument {a:?}");
                usage()
            }
        }
    }
    if o.reps == 0 || o.rounds == 0 {
        usage()
    }
    o
}

/// Peak resident set size of this process, KiB (`VmHWM`).
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Child mode: run one cell `reps` times, print one `RESULT` line.
///
/// Stops repeating early (reporting fewer reps) when another rep would not
/// fit in 80% of the parent's time limit, so slow cells still get a time.
fn run_cell(workload: &str, imp: &str, o: &Options) -> ExitCode {
    let Some(imp) = IMPLS.iter().find(|i| i.name == imp) else {
        eprintln!("unknown implementation {imp}");
        return ExitCode::from(2);
    };
    if workloads::find(workload).is_none() {
        eprintln!("unknown workload {workload}");
        return ExitCode::from(2);
    }
    let sizes = Sizes::new(o.quick);
    let budget = o.timeout.mul_f64(0.8);
    let started = Instant::now();
    let mut times = Vec::with_capacity(o.reps);
    let mut leak = 0i64;
    for _ in 0..o.reps {
        let before = workloads::live_nodes();
        let rep_start = Instant::now();
        let Some(t) = (imp.run)(workload, &sizes) else {
            println!("RESULT na");
            return ExitCode::SUCCESS;
        };
        (imp.collect_all)();
        let rep_wall = rep_start.elapsed();
        times.push(t);
        let left = workloads::live_nodes() - before;
        if left.abs() > leak.abs() {
            leak = left;
        }
        if started.elapsed() + rep_wall > budget {
            break;
        }
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "RESULT reps={} median_ns={} min_ns={} hwm_kib={} leak={}",
        times.len(),
        median.as_nanos(),
        times[0].as_nanos(),
        vm_hwm_kib(),
        leak
    );
    ExitCode::SUCCESS
}

/// Spawns `peer-bench --cell workload imp` and interprets how it ended.
fn spawn_cell(workload: &str, imp: &str, o: &Options) -> report::Cell {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--cell", workload, imp])
        .args(["--reps", &o.reps.to_string()])
        .args(["--timeout", &o.timeout.as_secs_f64().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if o.quick {
        cmd.arg("--quick");
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return report::Cell::Crash(format!("spawn failed: {e}")),
    };
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() > o.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return report::Cell::Crash(format!("wait failed: {e}")),
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let Some(status) = status else {
        return report::Cell::Timeout(o.timeout);
    };
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        let how = match status.signal() {
            Some(sig) => format!("killed by signal {sig} ({})", signal_name(sig)),
            None => format!("exit code {}", status.code().unwrap_or(-1)),
        };
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty() && !l.starts_with("note:"))
            .unwrap_or("")
            .trim();
        return report::Cell::Crash(if last.is_empty() {
            how
        } else {
            format!("{how}: {last}")
        });
    }
    report::Cell::parse(&stdout)
        .unwrap_or_else(|| report::Cell::Crash(format!("no RESULT line in output: {stdout:?}")))
}

/// Runs one workload for every implementation, `o.rounds` times, the
/// implementations interleaved (the order reversed every other round), so
/// that a slow phase of a shared machine hits every column alike rather
/// than whichever cells it happened to coincide with. Each column reports
/// the median of its rounds (see [`report::Cell::combine`]). Cells that
/// crashed, were not applicable or took over [`report::SLOW_CELL`] run once.
fn run_row(w: &'static str, o: &Options) -> Vec<(&'static str, report::Cell)> {
    let mut runs: Vec<(&'static str, Vec<report::Cell>, bool)> =
        o.impls.iter().map(|&i| (i, Vec::new(), true)).collect();
    for round in 0..o.rounds {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..runs.len()).collect()
        } else {
            (0..runs.len()).rev().collect()
        };
        for k in order {
            let (i, cells, again) = &mut runs[k];
            if !*again {
                continue;
            }
            let t = Instant::now();
            let cell = spawn_cell(w, i, o);
            eprintln!(
                "[{:>6.1}s] {w:30} {i:15} round {}: {}",
                t.elapsed().as_secs_f64(),
                round + 1,
                cell.short()
            );
            *again = matches!(cell, report::Cell::Ok { .. }) && t.elapsed() < report::SLOW_CELL;
            cells.push(cell);
        }
    }
    runs.into_iter()
        .map(|(i, cells, _)| (i, report::Cell::combine(cells)))
        .collect()
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        7 => "SIGBUS",
        4 => "SIGILL",
        _ => "signal",
    }
}

fn main() -> ExitCode {
    let o = parse_args();
    if let Some((w, i)) = &o.cell {
        return run_cell(w, i, &o);
    }
    if let Some(row) = &o.cpython_row {
        return cpython::run_row_child(row, o.quick, o.reps);
    }
    if o.cpython {
        print!("{}", cpython::section(o.quick, o.reps, o.rounds));
        return ExitCode::SUCCESS;
    }
    if o.list {
        for w in WORKLOADS {
            println!("{:30} {}", w.name, w.what);
        }
        println!("implementations: {}", o.impls.join(", "));
        return ExitCode::SUCCESS;
    }
    let mut results = report::Results::new(&o.workloads, &o.impls);
    for w in &o.workloads {
        for (i, cell) in run_row(w, &o) {
            results.set(w, i, cell);
        }
    }
    let header = report::Header::detect(o.reps, o.rounds, o.quick, o.timeout);
    if o.md {
        print!("{}", report::markdown(&header, &results));
    } else {
        print!("{}", report::plain(&header, &results));
    }
    ExitCode::SUCCESS
}
