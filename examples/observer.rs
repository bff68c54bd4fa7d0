//! The observer pattern with a registry that does not keep its observers
//! alive — Python's `weakref.WeakSet` of listeners. Observers are trait
//! objects (`trait Observer: Trace`, `Gc<dyn Observer>`), registered as
//! `Weak<dyn Observer>` (`unsize!` on `Gc::downgrade`); an observer that is
//! dropped is freed by refcounting at once, and `notify` skips and prunes
//! the dead entries. (examples/leak_hunt.rs shows the leak you get when the
//! registry holds its observers strongly instead.)
//!
//! Run with `cargo run --release --example observer`.

use std::cell::{Cell, RefCell};

use pygc::{Gc, Trace, Weak, unsize};

/// Anything that wants to hear about events.
trait Observer: Trace {
    fn notify(&self, event: &str);
    fn name(&self) -> String;
}

/// The subject: a registry of weakly held observers.
#[derive(Trace, Default)]
struct Subject {
    observers: RefCell<Vec<Weak<dyn Observer>>>,
}

impl Subject {
    fn subscribe(&self, observer: Weak<dyn Observer>) {
        self.observers.borrow_mut().push(observer);
    }

    /// Calls every live observer; drops the entries of dead ones (like a
    /// `WeakSet` does). Returns (notified, pruned).
    fn notify(&self, event: &str) -> (usize, usize) {
        let live: Vec<Gc<dyn Observer>> = {
            let mut observers = self.observers.borrow_mut();
            let before = observers.len();
            observers.retain(|o| o.upgrade().is_some());
            let pruned = before - observers.len();
            if pruned > 0 {
                println!("    pruned {pruned} dead observer(s) from the registry");
            }
            observers.iter().filter_map(Weak::upgrade).collect()
        };
        // No borrow is held while observers run: they may subscribe others.
        for observer in &live {
            observer.notify(event);
        }
        (live.len(), self.observers.borrow().len())
    }
}

/// Prints every event it sees.
#[derive(Trace)]
struct Logger {
    prefix: String,
}

impl Observer for Logger {
    fn notify(&self, event: &str) {
        println!("    [{}] got {event:?}", self.prefix);
    }
    fn name(&self) -> String {
        format!("Logger({})", self.prefix)
    }
}

/// Counts events, and holds its subject strongly (a view holding its
/// model): with weak registration that is no cycle.
#[derive(Trace)]
struct Counter {
    subject: Gc<Subject>,
    seen: Cell<u32>,
}

impl Observer for Counter {
    fn notify(&self, _event: &str) {
        self.seen.set(self.seen.get() + 1);
    }
    fn name(&self) -> String {
        "Counter".into()
    }
}

fn main() {
    let subject = Gc::new(Subject::default());

    println!("1. Register three observers through Weak<dyn Observer>");
    let console: Gc<dyn Observer> =
        unsize!(Gc::new(Logger { prefix: "console".into() }) => dyn Observer);
    let file = Gc::new(Logger {
        prefix: "file".into(),
    });
    let counter = Gc::new(Counter {
        subject: subject.clone(),
        seen: Cell::new(0),
    });
    subject.subscribe(Gc::downgrade(&console));
    subject.subscribe(unsize!(Gc::downgrade(&file) => dyn Observer));
    subject.subscribe(unsize!(Gc::downgrade(&counter) => dyn Observer));
    for observer in subject.observers.borrow().iter() {
        let observer = observer.upgrade().expect("alive");
        println!(
            "    {}: {} strong handle (main's); the registry holds only a Weak",
            observer.name(),
            Gc::strong_count(&observer) - 1
        );
    }

    println!("2. Notify: every observer hears the event");
    let (notified, _) = subject.notify("saved");
    println!("    notified {notified} observers");

    println!("3. Drop the file logger: freed by refcounting at once");
    let watch = Gc::downgrade(&file);
    drop(file);
    println!(
        "    the file logger is alive = {} (no collection needed)",
        watch.upgrade().is_some()
    );

    println!("4. Notify again: the dead observer is skipped and pruned");
    let (notified, registered) = subject.notify("closed");
    println!("    notified {notified} observers; {registered} left in the registry");

    println!("5. The counter holds the subject, the subject holds the counter weakly: no cycle");
    println!("    the counter saw {} events", counter.seen.get());
    let subject_watch = Gc::downgrade(&subject);
    drop((subject, counter, console));
    println!(
        "    dropped everything: subject alive = {}; pygc::collect() found {} objects",
        subject_watch.upgrade().is_some(),
        pygc::collect()
    );
}
