//! Python-like values shared by the integration tests, with a drop tally.

#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use pygc::{Finalize, Gc, Trace};

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static FINALIZED: Cell<usize> = const { Cell::new(0) };
}

/// Objects created and not yet dropped on this thread.
pub fn live() -> isize {
    LIVE.with(Cell::get)
}

/// Finalizers run on this thread so far.
pub fn finalized() -> usize {
    FINALIZED.with(Cell::get)
}

/// Counts itself in [`live`] while it exists.
pub struct Tally;

impl Tally {
    pub fn new() -> Self {
        LIVE.with(|l| l.set(l.get() + 1));
        Tally
    }
}

impl Default for Tally {
    fn default() -> Self {
        Tally::new()
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        LIVE.with(|l| l.set(l.get() - 1));
    }
}

// SAFETY: a leaf: owns no `Gc`.
unsafe impl Trace for Tally {
    fn trace(&self, _: &mut pygc::Tracer) {}
    fn may_contain_gc() -> bool {
        false
    }
}

/// A Python value.
#[derive(Trace)]
#[trace(finalize)]
pub enum Value {
    Int(i64),
    List(RefCell<Vec<Gc<Value>>>, #[trace(skip)] Tally),
    Dict(RefCell<HashMap<String, Gc<Value>>>, #[trace(skip)] Tally),
    Tuple(Vec<Gc<Value>>, #[trace(skip)] Tally),
    Instance(Instance),
}

/// An instance of a Python class: attributes plus an optional `__del__`.
#[derive(Trace)]
pub struct Instance {
    pub attrs: RefCell<HashMap<String, Gc<Value>>>,
    #[trace(skip)]
    pub del: Cell<Option<fn(&Instance)>>,
    #[trace(skip)]
    tally: Tally,
}

impl Finalize for Value {
    fn finalize(&self) {
        FINALIZED.with(|f| f.set(f.get() + 1));
        if let Value::Instance(inst) = self
            && let Some(del) = inst.del.get()
        {
            del(inst);
        }
    }
}

pub fn list() -> Gc<Value> {
    Gc::new(Value::List(RefCell::new(Vec::new()), Tally::new()))
}

pub fn dict() -> Gc<Value> {
    Gc::new(Value::Dict(RefCell::new(HashMap::new()), Tally::new()))
}

pub fn tuple(items: Vec<Gc<Value>>) -> Gc<Value> {
    Gc::new(Value::Tuple(items, Tally::new()))
}

pub fn instance() -> Gc<Value> {
    Gc::new(Value::Instance(Instance {
        attrs: RefCell::new(HashMap::new()),
        del: Cell::new(None),
        tally: Tally::new(),
    }))
}

impl Value {
    /// `list.append(v)`.
    pub fn append(&self, v: &Gc<Value>) {
        match self {
            Value::List(items, _) => items.borrow_mut().push(v.clone()),
            _ => panic!("not a list"),
        }
    }

    /// `d[k] = v` / `obj.k = v`.
    pub fn set(&self, k: &str, v: &Gc<Value>) {
        match self {
            Value::Dict(map, _) => map.borrow_mut().insert(k.into(), v.clone()),
            Value::Instance(inst) => inst.attrs.borrow_mut().insert(k.into(), v.clone()),
            _ => panic!("no attributes"),
        };
    }

    /// `obj.k` / `d[k]`.
    pub fn get(&self, k: &str) -> Option<Gc<Value>> {
        match self {
            Value::Dict(map, _) => map.borrow().get(k).cloned(),
            Value::Instance(inst) => inst.attrs.borrow().get(k).cloned(),
            _ => None,
        }
    }

    pub fn instance(&self) -> &Instance {
        match self {
            Value::Instance(inst) => inst,
            _ => panic!("not an instance"),
        }
    }
}

/// Collects until nothing more is found, so a test starts from a clean heap.
pub fn preclean() {
    while pygc::collect() > 0 {}
}
