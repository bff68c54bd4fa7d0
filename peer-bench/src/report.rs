//! Results table (plain and markdown), machine header, and the issue-5
//! target check.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

/// How one cell ended.
#[derive(Clone, Debug)]
pub enum Cell {
    /// Ran: median of `reps` repetitions.
    Ok {
        reps: usize,
        median_ns: u128,
        hwm_kib: u64,
        /// Nodes still alive after the workload and a full collection
        /// (worst repetition); 0 = no leak.
        leak: i64,
    },
    /// The workload needs a cycle collector the implementation lacks.
    NotApplicable,
    /// The child died (signal or non-zero exit); the reason.
    Crash(String),
    /// Killed after the time limit.
    Timeout(Duration),
}

impl Cell {
    /// Parses the child's `RESULT` line.
    pub fn parse(stdout: &str) -> Option<Cell> {
        let line = stdout.lines().find_map(|l| l.strip_prefix("RESULT "))?;
        if line.trim() == "na" {
            return Some(Cell::NotApplicable);
        }
        let field = |key: &str| -> Option<&str> {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        };
        Some(Cell::Ok {
            reps: field("reps")?.parse().ok()?,
            median_ns: field("median_ns")?.parse().ok()?,
            hwm_kib: field("hwm_kib")?.parse().ok()?,
            leak: field("leak")?.parse().ok()?,
        })
    }

    /// One cell out of the rounds of `run_row`: the median round (by its
    /// median time), with the reps of all rounds, the largest peak RSS and
    /// the worst leak; the first failure if any round failed.
    pub fn combine(cells: Vec<Cell>) -> Cell {
        if let Some(failed) = cells.iter().find(|c| !matches!(c, Cell::Ok { .. })) {
            return failed.clone();
        }
        let mut medians: Vec<u128> = Vec::new();
        let (mut reps, mut hwm, mut worst) = (0, 0, 0i64);
        for cell in &cells {
            if let Cell::Ok {
                reps: r,
                median_ns,
                hwm_kib,
                leak,
            } = *cell
            {
                medians.push(median_ns);
                reps += r;
                hwm = hwm.max(hwm_kib);
                if leak.abs() > worst.abs() {
                    worst = leak;
                }
            }
        }
        medians.sort_unstable();
        Cell::Ok {
            reps,
            median_ns: medians[medians.len() / 2],
            hwm_kib: hwm,
            leak: worst,
        }
    }

    /// One-word summary for the progress log.
    pub fn short(&self) -> String {
        match self {
            Cell::Ok {
                median_ns,
                hwm_kib,
                leak,
                reps,
            } => format!(
                "{} / {} MiB{}{}",
                fmt_time(*median_ns as f64),
                fmt_mib(*hwm_kib),
                if *leak != 0 {
                    format!(" LEAK({leak})")
                } else {
                    String::new()
                },
                format_args!(" ({reps} reps)")
            ),
            Cell::NotApplicable => "n/a".into(),
            Cell::Crash(why) => format!("CRASH: {why}"),
            Cell::Timeout(t) => format!("TIMEOUT (> {} s)", t.as_secs()),
        }
    }

    /// Time in ns when the cell ran without leaking.
    fn clean_time(&self) -> Option<f64> {
        match self {
            Cell::Ok {
                median_ns, leak: 0, ..
            } => Some(*median_ns as f64),
            _ => None,
        }
    }

    fn clean_rss(&self) -> Option<u64> {
        match self {
            Cell::Ok {
                hwm_kib, leak: 0, ..
            } => Some(*hwm_kib),
            _ => None,
        }
    }
}

/// All cells of one run.
pub struct Results {
    workloads: Vec<&'static str>,
    impls: Vec<&'static str>,
    cells: HashMap<(&'static str, &'static str), Cell>,
}

/// The implementation measured (gets the target check).
const SUBJECT: &str = "pygc";
/// The baseline.
const BASELINE: &str = "Rc";

impl Results {
    /// An empty table.
    pub fn new(workloads: &[&'static str], impls: &[&'static str]) -> Results {
        Results {
            workloads: workloads.to_vec(),
            impls: impls.to_vec(),
            cells: HashMap::new(),
        }
    }

    /// Records one cell.
    pub fn set(&mut self, workload: &'static str, imp: &'static str, cell: Cell) {
        self.cells.insert((workload, imp), cell);
    }

    fn get(&self, w: &str, i: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|((cw, ci), _)| *cw == w && *ci == i)
            .map(|(_, c)| c)
    }

    fn time(&self, w: &str, i: &str) -> Option<f64> {
        self.get(w, i)?.clean_time()
    }

    fn rss(&self, w: &str, i: &str) -> Option<u64> {
        self.get(w, i)?.clean_rss()
    }

    /// The peer crates (everything but pygc and Rc).
    fn peers(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.impls
            .iter()
            .copied()
            .filter(|i| *i != SUBJECT && *i != BASELINE)
    }

    /// Fastest peer that ran cleanly (no crash, timeout or leak).
    fn fastest_peer(&self, w: &str) -> Option<(&'static str, f64)> {
        self.peers()
            .filter_map(|i| Some((i, self.time(w, i)?)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Peer with the smallest peak RSS that ran cleanly.
    fn smallest_peer_rss(&self, w: &str) -> Option<(&'static str, u64)> {
        self.peers()
            .filter_map(|i| Some((i, self.rss(w, i)?)))
            .min_by_key(|a| a.1)
    }

    /// Ratio reference of a row: Rc if it ran cleanly, else the fastest peer.
    fn reference(&self, w: &str) -> Option<(&'static str, f64)> {
        match self.time(w, BASELINE) {
            Some(t) => Some((BASELINE, t)),
            None => self.fastest_peer(w),
        }
    }
}

/// A cell whose child ran longer than this gets no further rounds.
pub const SLOW_CELL: Duration = Duration::from_secs(10);

/// Machine and run description.
pub struct Header {
    cpu: String,
    cores: usize,
    mem: String,
    profile: String,
    reps: usize,
    rounds: usize,
    quick: bool,
    timeout: Duration,
}

impl Header {
    /// Reads `/proc/cpuinfo`, `/proc/meminfo` and the profile directory of
    /// this executable (`target/<profile>/peer-bench`).
    pub fn detect(reps: usize, rounds: usize, quick: bool, timeout: Duration) -> Header {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or_else(
                || "?".into(),
                |kib| format!("{:.0} GiB RAM", kib as f64 / 1048576.0),
            );
        let dir = std::env::current_exe()
            .ok()
            .and_then(|p| Some(p.parent()?.file_name()?.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "?".into());
        let profile = match dir.as_str() {
            "peer" => "peer (release + lto = \"fat\", codegen-units = 1)".to_string(),
            "release" => "release (as in the root [profile.release]: no LTO; use --profile peer for the fat-LTO numbers)".to_string(),
            other => other.to_string(),
        };
        let profile = if cfg!(debug_assertions) {
            format!("{profile}, DEBUG ASSERTIONS ON (numbers not meaningful)")
        } else {
            profile
        };
        Header {
            cpu,
            cores,
            mem,
            profile,
            reps,
            rounds,
            quick,
            timeout,
        }
    }

    fn line(&self) -> String {
        format!(
            "Machine: {}, {} cores, {}. Profile: {}. Per cell: the median of {} rounds (implementations interleaved, cells over {} s run once), each the median of {} reps{}; time limit {} s per cell.",
            self.cpu,
            self.cores,
            self.mem,
            self.profile,
            self.rounds,
            SLOW_CELL.as_secs(),
            self.reps,
            if self.quick {
                ", --quick (all N / 100)"
            } else {
                ""
            },
            self.timeout.as_secs()
        )
    }
}

/// `1.23 ms`, `45.6 ms`, `789 ms`, `12.3 s`.
pub fn fmt_time(ns: f64) -> String {
    let ms = ns / 1e6;
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn fmt_mib(kib: u64) -> String {
    let mib = kib as f64 / 1024.0;
    if mib < 10.0 {
        format!("{mib:.1}")
    } else {
        format!("{mib:.0}")
    }
}

/// Text of one cell, with footnote markers collected in `notes`.
fn cell_text(r: &Results, w: &str, i: &str, reps: usize, notes: &mut Vec<String>) -> String {
    let Some(cell) = r.get(w, i) else {
        return "-".into();
    };
    match cell {
        Cell::Ok {
            reps: done,
            median_ns,
            hwm_kib,
            leak,
        } => {
            let t = *median_ns as f64;
            let mut s = fmt_time(t);
            if let Some((rname, rt)) = r.reference(w) {
                let _ = write!(s, " ({:.2}× {rname})", t / rt);
            }
            let _ = write!(s, " / {} MiB", fmt_mib(*hwm_kib));
            if *leak != 0 {
                let _ = write!(s, " LEAK({leak})");
            }
            if *done < reps {
                let _ = write!(s, " [{done} reps]");
            }
            s
        }
        Cell::NotApplicable => "n/a".into(),
        Cell::Crash(why) => {
            notes.push(format!("{w} / {i}: {why}"));
            format!("CRASH[{}]", notes.len())
        }
        Cell::Timeout(t) => format!("TIMEOUT (> {} s)", t.as_secs()),
    }
}

fn table_rows(r: &Results, reps: usize, notes: &mut Vec<String>) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let mut head = vec!["workload".to_string()];
    head.extend(r.impls.iter().map(|s| s.to_string()));
    rows.push(head);
    for w in &r.workloads {
        let mut row = vec![w.to_string()];
        for i in &r.impls {
            row.push(cell_text(r, w, i, reps, notes));
        }
        rows.push(row);
    }
    rows
}

/// Notes that explain how each crate was driven (always printed).
const METHOD_NOTES: &[&str] = &[
    "Cell: median wall time (ratio vs Rc where Rc ran, else vs the fastest peer that ran without leaking) / peak RSS of the cell's process (VmHWM, includes ~2 MiB of process baseline).",
    "Timed: the whole workload (build + drop + the crate's collect where the workload says so), except young_garbage_*: only the loop of young cycles (building/dropping the old heap is untimed set-up; young_garbage_with_old_heap also runs one untimed full collection after building it, young_garbage_with_old_heap_unsettled does not).",
    "LEAK(n): n nodes still alive (drop tally in every node) after the workload and one more full collection of the crate. n/a: Rc cannot reclaim cycles.",
    "gcmodule and bacon_rajan_cc never collect by themselves: in young_garbage_* the workload calls their collect every 2000 tracked allocations (pygc's default threshold0); elsewhere only where the workload collects. pygc, dumpster, rust-cc and gc run with their default automatic collection.",
    "gc (rust-gc) is a tracing mark-sweep collector: nothing is freed by refcount, only by its (automatic or forced) collections; its Node uses GcCell instead of RefCell.",
];

/// Plain-text table.
pub fn plain(h: &Header, r: &Results) -> String {
    let mut notes = vec![];
    let rows = table_rows(r, h.reps, &mut notes);
    let ncol = rows[0].len();
    let widths: Vec<usize> = (0..ncol)
        .map(|c| {
            rows.iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut s = format!("{}\n\n", h.line());
    for (n, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            let _ = write!(s, "{cell}{}  ", " ".repeat(pad));
        }
        s.push('\n');
        if n == 0 {
            let total: usize = widths.iter().map(|w| w + 2).sum();
            s.push_str(&"-".repeat(total));
            s.push('\n');
        }
    }
    s.push('\n');
    for (k, n) in notes.iter().enumerate() {
        let _ = writeln!(s, "[{}] {n}", k + 1);
    }
    for n in METHOD_NOTES {
        let _ = writeln!(s, "- {n}");
    }
    s.push('\n');
    s.push_str(&targets(r, false));
    s
}

/// Markdown table.
pub fn markdown(h: &Header, r: &Results) -> String {
    let mut notes = vec![];
    let rows = table_rows(r, h.reps, &mut notes);
    let mut s = format!("{}\n\n", h.line());
    for (n, row) in rows.iter().enumerate() {
        let _ = writeln!(s, "| {} |", row.join(" | "));
        if n == 0 {
            let _ = writeln!(s, "|{}", "---|".repeat(row.len()));
        }
    }
    s.push('\n');
    for (k, n) in notes.iter().enumerate() {
        let _ = writeln!(s, "- CRASH[{}]: {n}", k + 1);
    }
    for n in METHOD_NOTES {
        let _ = writeln!(s, "- {n}");
    }
    s.push('\n');
    s.push_str(&targets(r, true));
    s
}

/// One target of issues 5 and 11: text, measured, verdict (None: cannot be judged).
struct Target {
    what: String,
    measured: String,
    met: Option<bool>,
}

fn ratio_target(r: &Results, w: &str, limit: f64, vs: Option<(&str, f64)>, label: &str) -> Target {
    let what = format!("{w}: time ≤ {limit}× {label}");
    match (r.get(w, SUBJECT), vs) {
        (
            Some(Cell::Ok {
                leak, median_ns, ..
            }),
            Some((name, t)),
        ) => {
            let ratio = *median_ns as f64 / t;
            Target {
                what,
                measured: format!(
                    "{ratio:.2}× {name}{}",
                    if *leak != 0 {
                        format!(", pygc LEAK({leak})")
                    } else {
                        String::new()
                    }
                ),
                met: Some(ratio <= limit && *leak == 0),
            }
        }
        (Some(c @ (Cell::Crash(_) | Cell::Timeout(_))), _) => Target {
            what,
            measured: format!("pygc {}", c.short()),
            met: Some(false),
        },
        _ => Target {
            what,
            measured: "not measured".into(),
            met: None,
        },
    }
}

/// pygc's peak RSS in `w` ≤ `limit` × Rc's.
fn rss_target(r: &Results, w: &str, limit: f64) -> Target {
    let what = format!("{w}: peak RSS ≤ {limit}× Rc");
    match (r.rss(w, SUBJECT), r.rss(w, BASELINE)) {
        (Some(p), Some(b)) => Target {
            what,
            measured: format!(
                "{:.2}× Rc ({} vs {} MiB)",
                p as f64 / b as f64,
                fmt_mib(p),
                fmt_mib(b)
            ),
            met: Some(p as f64 <= limit * b as f64),
        },
        _ => Target {
            what,
            measured: "not measured".into(),
            met: None,
        },
    }
}

/// The performance targets: round 2's (memory and speed, the stricter
/// ones), round 1's where round 2 sets none.
fn targets(r: &Results, md: bool) -> String {
    let mut t: Vec<Target> = vec![];
    let rc = |w: &str| r.time(w, BASELINE).map(|x| (BASELINE, x));
    t.push(ratio_target(r, "alloc_drop", 0.5, rc("alloc_drop"), "Rc"));
    t.push(ratio_target(
        r,
        "alloc_drop_tracked",
        0.6,
        rc("alloc_drop_tracked"),
        "Rc",
    ));
    t.push(ratio_target(r, "clone_drop", 1.05, rc("clone_drop"), "Rc"));
    t.push(ratio_target(r, "deref", 1.05, rc("deref"), "Rc"));
    t.push(ratio_target(
        r,
        "tree_build_drop",
        0.9,
        rc("tree_build_drop"),
        "Rc",
    ));
    t.push(rss_target(r, "tree_build_drop", 1.15));
    t.push(ratio_target(
        r,
        "tree_build_drop_bottom_up",
        0.9,
        rc("tree_build_drop_bottom_up"),
        "Rc",
    ));
    t.push(rss_target(r, "tree_build_drop_bottom_up", 1.15));
    t.push(ratio_target(
        r,
        "cycles_collect",
        0.5,
        r.fastest_peer("cycles_collect"),
        "fastest peer",
    ));
    {
        let w = "cycles_collect";
        let what = format!("{w}: peak RSS ≤ smallest peer's + 10%");
        t.push(match (r.rss(w, SUBJECT), r.smallest_peer_rss(w)) {
            (Some(p), Some((name, b))) => Target {
                what,
                measured: format!(
                    "{:.2}× {name} ({} vs {} MiB)",
                    p as f64 / b as f64,
                    fmt_mib(p),
                    fmt_mib(b)
                ),
                met: Some(p as f64 <= 1.1 * b as f64),
            },
            _ => Target {
                what,
                measured: "not measured".into(),
                met: None,
            },
        });
    }
    for (w, limit) in [("big_cycle", 0.5), ("deep_list_drop_10m", 0.7)] {
        let mut x = ratio_target(
            r,
            w,
            limit,
            r.fastest_peer(w),
            "fastest surviving peer, never crashes",
        );
        // No peer survived: only "never crashes" can be judged.
        if let (
            None,
            Some(Cell::Ok {
                median_ns, leak: 0, ..
            }),
        ) = (r.fastest_peer(w), r.get(w, SUBJECT))
        {
            x.measured = format!(
                "pygc {} without crashing; no peer survived, so no ratio",
                fmt_time(*median_ns as f64)
            );
            x.met = Some(true);
        }
        t.push(x);
    }
    {
        let w = "young_garbage_with_old_heap";
        let own = r
            .time("young_garbage_no_old_heap", SUBJECT)
            .map(|x| ("pygc no_old_heap", x));
        t.push(ratio_target(r, w, 1.3, own, "pygc's own no_old_heap"));
        t.push(ratio_target(
            r,
            w,
            1.0,
            r.fastest_peer(w),
            "fastest peer (faster than every peer)",
        ));
        // Strictly faster: a tie is a miss.
        if let (Some(last), Some((_, p)), Some(s)) =
            (t.last_mut(), r.fastest_peer(w), r.time(w, SUBJECT))
        {
            last.met = Some(s < p);
        }
    }
    {
        // The old-heap targets of round 2, on the row without the untimed
        // settling collection.
        let w = "young_garbage_with_old_heap_unsettled";
        let own = r
            .time("young_garbage_no_old_heap", SUBJECT)
            .map(|x| ("pygc no_old_heap", x));
        t.push(ratio_target(r, w, 1.3, own, "pygc's own no_old_heap"));
        t.push(ratio_target(r, w, 0.5, r.fastest_peer(w), "fastest peer"));
    }
    t.push(ratio_target(
        r,
        "young_garbage_refs_old_heap",
        0.3,
        r.fastest_peer("young_garbage_refs_old_heap"),
        "fastest peer",
    ));

    let mut s = String::new();
    let met = t.iter().filter(|x| x.met == Some(true)).count();
    let judged = t.iter().filter(|x| x.met.is_some()).count();
    if md {
        let _ = writeln!(s, "Targets: {met} of {judged} met.\n");
        let _ = writeln!(s, "| target | measured | met |\n|---|---|---|");
        for x in &t {
            let v = match x.met {
                Some(true) => "yes",
                Some(false) => "**NO**",
                None => "?",
            };
            let _ = writeln!(s, "| {} | {} | {v} |", x.what, x.measured);
        }
    } else {
        let _ = writeln!(s, "Targets: {met} of {judged} met.");
        for x in &t {
            let v = match x.met {
                Some(true) => "MET   ",
                Some(false) => "MISSED",
                None => "?     ",
            };
            let _ = writeln!(s, "  {v} {:70} {}", x.what, x.measured);
        }
    }
    s
}
