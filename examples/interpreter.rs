//! The object model of a small Python-like interpreter on pygc: values
//! (`int`, `str`, `list`, `dict`, functions, instances with an attribute
//! dict), environments with a parent scope, and closures (`GcFn`) that
//! capture their defining environment — so env -> closure -> env is a
//! cycle, as in CPython. A loop makes cyclic garbage every iteration (a
//! closure stored in the scope it captures, a list containing itself, an
//! object whose `__dict__` refers to itself); the automatic collector keeps
//! memory bounded, and a callback (`pygc::add_callback`, Python's
//! `gc.callbacks`) counts the collections and what they freed.
//!
//! Run with `cargo run --release --example interpreter`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use pygc::{CollectPhase, Gc, GcFn, Trace};

/// A Python value.
#[derive(Trace, Clone)]
enum Value {
    Int(i64),
    Str(Gc<str>),
    List(Gc<RefCell<Vec<Value>>>),
    Dict(Gc<RefCell<HashMap<String, Value>>>),
    Func(GcFn<Vec<Value>, Value>),
    Object(Gc<Instance>),
}

/// An instance of a class: its class name and its `__dict__`.
#[derive(Trace)]
struct Instance {
    class: Gc<str>,
    dict: Gc<RefCell<HashMap<String, Value>>>,
}

/// A scope: its variables and the enclosing scope (LEGB lookup).
#[derive(Trace)]
struct Env {
    parent: Option<Gc<Env>>,
    vars: RefCell<HashMap<String, Value>>,
}

impl Env {
    fn new(parent: Option<&Gc<Env>>) -> Gc<Env> {
        Gc::new(Env {
            parent: parent.cloned(),
            vars: RefCell::default(),
        })
    }

    fn get(&self, name: &str) -> Value {
        if let Some(value) = self.vars.borrow().get(name) {
            return value.clone();
        }
        match &self.parent {
            Some(parent) => parent.get(name),
            None => panic!("NameError: name {name:?} is not defined"),
        }
    }

    fn set(&self, name: &str, value: Value) {
        self.vars.borrow_mut().insert(name.to_owned(), value);
    }
}

impl Value {
    fn str(s: &str) -> Value {
        Value::Str(Gc::from(s))
    }

    fn list(items: Vec<Value>) -> Value {
        Value::List(Gc::new(RefCell::new(items)))
    }

    fn int(&self) -> i64 {
        match self {
            Value::Int(n) => *n,
            _ => panic!("TypeError: an int is required"),
        }
    }

    fn call(&self, args: Vec<Value>) -> Value {
        match self {
            Value::Func(f) => f.call(args),
            _ => panic!("TypeError: object is not callable"),
        }
    }

    /// Python's `repr`, with `[...]` / `{...}` for a container already
    /// being printed (a list that contains itself).
    fn repr(&self, seen: &mut Vec<*const ()>) -> String {
        let enter = |seen: &mut Vec<*const ()>, p: *const ()| {
            let fresh = !seen.contains(&p);
            seen.push(p);
            fresh
        };
        let text = match self {
            Value::Int(n) => return n.to_string(),
            Value::Str(s) => return format!("{:?}", &**s).replace('"', "'"),
            Value::Func(_) => return "<function>".into(),
            Value::List(l) => {
                if !enter(seen, Gc::as_ptr(l).cast()) {
                    return "[...]".into();
                }
                let items: Vec<String> = l.borrow().iter().map(|v| v.repr(seen)).collect();
                format!("[{}]", items.join(", "))
            }
            Value::Dict(d) => {
                if !enter(seen, Gc::as_ptr(d).cast()) {
                    return "{...}".into();
                }
                let mut items: Vec<String> = d
                    .borrow()
                    .iter()
                    .map(|(k, v)| format!("'{k}': {}", v.repr(seen)))
                    .collect();
                items.sort();
                format!("{{{}}}", items.join(", "))
            }
            Value::Object(o) => {
                if !enter(seen, Gc::as_ptr(o).cast()) {
                    return format!("<{} ...>", &*o.class);
                }
                format!("<{} {}>", &*o.class, Value::Dict(o.dict.clone()).repr(seen))
            }
        };
        seen.pop();
        text
    }
}

/// ```python
/// def make_counter():
///     count = 0
///     def inc(n):
///         nonlocal count
///         count += n
///         return count
///     return inc
/// ```
///
/// `inc` captures the scope it is defined in, and that scope holds `inc`:
/// scope -> closure -> scope.
fn make_counter(globals: &Gc<Env>) -> Value {
    let scope = Env::new(Some(globals));
    scope.set("count", Value::Int(0));
    let inc = GcFn::new(scope.clone(), |scope: &Gc<Env>, args: Vec<Value>| {
        let count = Value::Int(scope.get("count").int() + args[0].int());
        scope.set("count", count.clone());
        count
    });
    scope.set("inc", Value::Func(inc.clone()));
    Value::Func(inc)
}

/// ```python
/// p = Point(); p.x = i; p.me = p
/// p.norm = lambda: abs(p.x)     # a bound-method-like closure over p
/// ```
fn make_point(i: i64) -> Value {
    let point = Gc::new(Instance {
        class: Gc::from("Point"),
        dict: Gc::new(RefCell::default()),
    });
    let mut dict = point.dict.borrow_mut();
    dict.insert("x".into(), Value::Int(i));
    dict.insert("me".into(), Value::Object(point.clone()));
    let norm = GcFn::new(point.clone(), |p: &Gc<Instance>, _: Vec<Value>| {
        Value::Int(p.dict.borrow()["x"].int().abs())
    });
    dict.insert("norm".into(), Value::Func(norm));
    drop(dict);
    Value::Object(point)
}

/// One iteration of the program's loop body:
///
/// ```python
/// inc = make_counter(); inc(i); total += inc(1)
/// lst = [i, "item"]; lst.append(lst)
/// p = make_point(-i); total += p.norm()
/// ```
fn iteration(globals: &Gc<Env>, i: i64) {
    let inc = make_counter(globals);
    inc.call(vec![Value::Int(i)]);
    let step = inc.call(vec![Value::Int(1)]).int();

    let lst = Value::list(vec![Value::Int(i), Value::str("item")]);
    if let Value::List(l) = &lst {
        l.borrow_mut().push(lst.clone());
    }

    let point = make_point(-i);
    let norm = match &point {
        Value::Object(p) => p.dict.borrow()["norm"].clone(),
        _ => unreachable!(),
    };
    let total = globals.get("total").int() + step + norm.call(vec![]).int();
    globals.set("total", Value::Int(total));
}

fn main() {
    let globals = Env::new(None);
    globals.set("total", Value::Int(0));
    globals.set("__name__", Value::str("__main__"));

    println!("1. The object model: values, scopes, closures, instances");
    let inc = make_counter(&globals);
    inc.call(vec![Value::Int(40)]);
    println!(
        "    inc = make_counter(); inc(40); inc(2) -> {}",
        inc.call(vec![Value::Int(2)]).int()
    );
    let lst = Value::list(vec![Value::Int(1), Value::str("two")]);
    if let Value::List(l) = &lst {
        l.borrow_mut().push(lst.clone());
    }
    println!(
        "    lst = [1, 'two']; lst.append(lst); print(lst) -> {}",
        lst.repr(&mut Vec::new())
    );
    let point = make_point(-7);
    println!(
        "    p = make_point(-7); print(p) -> {}",
        point.repr(&mut Vec::new())
    );
    drop((inc, lst, point));
    println!(
        "    all three are cycles: pygc::collect() freed {} objects",
        pygc::collect()
    );

    println!("2. gc.callbacks: count collections and what they free");
    let totals = Rc::new(Cell::new((0usize, 0usize)));
    let seen = totals.clone();
    let callback = pygc::add_callback(move |phase, info| {
        if phase == CollectPhase::Stop {
            let (runs, freed) = seen.get();
            seen.set((runs + 1, freed + info.collected));
        }
    });

    const ITERATIONS: i64 = 5000;
    println!("3. Run {ITERATIONS} iterations of a loop that makes cyclic garbage");
    let baseline = pygc::heap_stats().bytes_in_use;
    let mut peak = baseline;
    for i in 0..ITERATIONS {
        iteration(&globals, i);
        peak = peak.max(pygc::heap_stats().bytes_in_use);
    }
    let (runs, freed) = totals.get();
    println!(
        "    total = {} (expected {})",
        globals.get("total").int(),
        (0..ITERATIONS).map(|i| 2 * i + 1).sum::<i64>()
    );
    println!(
        "    the callback saw {runs} automatic collections, which freed {freed} objects \
         (each iteration makes 6: scope, closure, list, instance, __dict__, method)"
    );
    let end = pygc::heap_stats().bytes_in_use;
    println!(
        "    heap in use: {} KiB before the loop, peak {} KiB, {} KiB at the end",
        baseline / 1024,
        peak / 1024,
        end / 1024
    );
    let leftover = pygc::collect();
    let bound = 2 * pygc::threshold()[0];
    println!("    a final pygc::collect() found {leftover} objects (young garbage only)");
    assert!(leftover < bound && peak < 4 << 20, "memory not bounded");
    println!(
        "    memory stayed bounded: peak under 4 MiB, and under {bound} objects of garbage left at the end"
    );

    println!("4. The same loop with pygc::disable(): the garbage piles up");
    pygc::disable();
    let before = pygc::heap_stats().bytes_in_use;
    for i in 0..1000 {
        iteration(&globals, i);
    }
    let grown = pygc::heap_stats().bytes_in_use - before;
    pygc::enable();
    println!(
        "    1000 iterations left {} KiB behind; pygc::collect() freed {} objects",
        grown / 1024,
        pygc::collect()
    );

    pygc::remove_callback(callback);
    let (runs, freed) = totals.get();
    println!("5. Totals from the callback: {runs} collections, {freed} objects collected");
}
