//! `DebugFlags::STATS` and `COLLECTABLE` log through the `log` crate
//! (feature `log`, on by default): CPython's `gc.DEBUG_STATS` line and one
//! `collectable` line per object.

use std::cell::RefCell;
use std::sync::Mutex;

use pygc::{DebugFlags, Gc, Trace};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }
    fn log(&self, record: &log::Record<'_>) {
        LINES.lock().unwrap().push(record.args().to_string());
    }
    fn flush(&self) {}
}

#[derive(Trace)]
struct Node {
    next: RefCell<Option<Gc<Node>>>,
}

#[test]
fn stats_and_collectable_lines() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    pygc::collect();
    LINES.lock().unwrap().clear();

    let a = Gc::new(Node {
        next: RefCell::new(None),
    });
    *a.next.borrow_mut() = Some(a.clone());
    drop(a);
    pygc::set_debug(DebugFlags::STATS | DebugFlags::COLLECTABLE);
    assert_eq!(pygc::collect(), 1);
    pygc::set_debug(DebugFlags::empty());
    pygc::collect(); // not logged

    let lines = LINES.lock().unwrap().clone();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].starts_with("gc: collectable <debug_log::Node 0x"),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with("gc: collecting generation 2: objects in each generation: ")
            && lines[1].contains("done, 1 unreachable, 0 uncollectable, "),
        "{lines:#?}"
    );
}
