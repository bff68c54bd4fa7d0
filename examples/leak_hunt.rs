//! Hunting a leak the way a Python programmer would with `gc` and objgraph:
//! an observer registry whose callbacks keep every widget alive.
//!
//! Run with `cargo run --release --example leak_hunt`. It writes
//! `leak.dot`, and `leak.svg` and `leak.png` when Graphviz's `dot` is on
//! PATH (`apt-get install graphviz`).

use std::cell::RefCell;
use std::process::Command;

use pygc::{AnyTrace, Gc, GcFn, Trace, backref_chain, census_growth, to_dot, unsize};

/// An application-wide event bus: observers are called on every event.
#[derive(Trace)]
struct EventBus {
    observers: RefCell<Vec<GcFn<&'static str, ()>>>,
}

/// A UI widget that wants to hear about events.
#[derive(Trace)]
struct Widget {
    name: String,
    clicks: RefCell<u32>,
    children: RefCell<Vec<Gc<Widget>>>,
}

/// Opens a widget and subscribes it: the observer captures the widget, so
/// the bus keeps it alive. Nothing unsubscribes when the window closes:
/// the leak.
fn open_window(bus: &Gc<EventBus>, name: &str) -> Gc<Widget> {
    let widget = Gc::new(Widget {
        name: name.to_owned(),
        clicks: RefCell::new(0),
        children: RefCell::new(Vec::new()),
    });
    let observer = GcFn::new(
        widget.clone(),
        |widget: &Gc<Widget>, event: &'static str| {
            if event == "click" {
                *widget.clicks.borrow_mut() += 1;
            }
        },
    );
    bus.observers.borrow_mut().push(observer);
    widget
}

fn main() {
    let bus = Gc::new(EventBus {
        observers: RefCell::new(Vec::new()),
    });

    println!("1. A baseline census (objgraph's show_growth)");
    census_growth();

    println!("2. Open and close 100 windows; a collection should free them");
    for i in 0..100 {
        let widget = open_window(&bus, &format!("window {i}"));
        drop(widget); // the window closes
    }
    for observer in bus.observers.borrow().iter() {
        observer.call("click");
    }
    println!(
        "    collect() found {} unreachable objects",
        pygc::collect()
    );

    println!("3. What grew? (census_growth: type, count now, change)");
    let growth = census_growth();
    for (name, count, delta) in &growth {
        println!("    {name}: {count} (+{delta})");
    }
    let (widget_type, widgets, _) = growth
        .iter()
        .find(|(name, ..)| name.ends_with("Widget"))
        .copied()
        .expect("widgets leaked");
    println!("    -> {widgets} objects of {widget_type} are still alive");

    println!("4. Who keeps one alive? (backref_chain: root first)");
    let leaked = pygc::objects(None)
        .into_iter()
        .find(|o| Gc::type_name(o).ends_with("Widget"))
        .expect("a leaked widget");
    let widget = leaked.downcast::<Widget>().expect("a Widget");
    let chain = backref_chain(&widget, 10).expect("reachable from a root");
    for (depth, object) in chain.iter().enumerate() {
        println!("    {}{}", "  ".repeat(depth), Gc::type_name(object));
    }
    println!(
        "    -> the EventBus holds the observer closure, which captures {:?} \
         ({} clicks): unsubscribe when a window closes",
        widget.name,
        widget.clicks.borrow()
    );

    println!("5. A picture of the bus and three of its observers (to_dot)");
    let small_bus = Gc::new(EventBus {
        observers: RefCell::new(Vec::new()),
    });
    for i in 0..3 {
        drop(open_window(&small_bus, &format!("small {i}")));
    }
    let dot = to_dot(&[unsize!(small_bus.clone() => dyn AnyTrace)], 4);
    std::fs::write("leak.dot", &dot).expect("write leak.dot");
    println!(
        "    wrote leak.dot ({} objects, {} references)",
        dot.lines().filter(|l| l.contains("label=")).count(),
        dot.lines().filter(|l| l.contains(" -> ")).count()
    );
    let rendered = ["svg", "png"].iter().all(|format| {
        Command::new("dot")
            .args([
                &format!("-T{format}"),
                "leak.dot",
                "-o",
                &format!("leak.{format}"),
            ])
            .status()
            .is_ok_and(|status| status.success())
    });
    if rendered {
        println!("    rendered leak.svg and leak.png with Graphviz");
    } else {
        println!(
            "    Graphviz's `dot` is not on PATH: install it (apt-get install graphviz) to render leak.dot"
        );
    }

    println!("6. The fix: drop the observers, and everything is collected");
    bus.observers.borrow_mut().clear();
    small_bus.observers.borrow_mut().clear();
    drop(widget);
    drop(chain);
    pygc::collect();
    let left = census_growth()
        .iter()
        .find(|(name, ..)| name.ends_with("Widget"))
        .map_or(0, |&(_, count, _)| count);
    println!("    widgets alive now: {left}");
}
