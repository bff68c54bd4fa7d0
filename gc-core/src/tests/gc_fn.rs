//! `GcFn`: closures whose captured environment is traced, so the cycle
//! closure → environment → closure is collected; recursion through a
//! handle stored in the environment; untracked closures.

use core::cell::RefCell;

use crate::{Gc, GcFn, Trace, Tracer, collect};

thread_local! {
    static DROPPED: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

fn dropped() -> Vec<&'static str> {
    let mut names = DROPPED.with(|d| core::mem::take(&mut *d.borrow_mut()));
    names.sort_unstable();
    names
}

fn reset() {
    collect();
    dropped();
}

/// Records its name when dropped.
struct Probe(&'static str);

// SAFETY: owns no `Gc`.
unsafe impl Trace for Probe {
    fn trace(&self, _: &mut Tracer) {}
    fn may_contain_gc() -> bool {
        false
    }
    fn has_finalizer() -> bool {
        false
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        DROPPED.with(|d| d.borrow_mut().push(self.0));
    }
}

/// An interpreter scope: the functions defined in it.
struct Env {
    slots: RefCell<Vec<GcFn<(), u32>>>,
    probe: Probe,
}

impl Env {
    fn new(name: &'static str) -> Gc<Env> {
        Gc::new(Env {
            slots: RefCell::new(Vec::new()),
            probe: Probe(name),
        })
    }
}

// SAFETY: visits the `Gc`s of its functions once each.
unsafe impl Trace for Env {
    fn trace(&self, tracer: &mut Tracer) {
        self.slots.trace(tracer);
    }
    fn has_finalizer() -> bool {
        false
    }
}

#[test]
fn a_closure_capturing_its_environment_is_collected() {
    reset();
    let env = Env::new("env");
    let probe = Probe("closure");
    let f = GcFn::new(env.clone(), move |env: &Gc<Env>, ()| {
        let _ = &probe; // owned by the closure, dropped with it
        env.slots.borrow().len() as u32
    });
    assert!(f.is_tracked());
    env.slots.borrow_mut().push(f.clone());
    assert_eq!(f.call(()), 1);
    assert_eq!(env.probe.0, "env");

    drop(f);
    assert_eq!(collect(), 0, "reachable through `env`");
    assert_eq!(env.slots.borrow()[0].call(()), 1);
    drop(env);
    assert!(dropped().is_empty(), "a cycle is not freed by refcount");
    assert_eq!(collect(), 2, "the environment and the closure");
    assert_eq!(dropped(), ["closure", "env"]);
}

#[test]
fn a_closure_outside_a_cycle_is_freed_by_refcount() {
    reset();
    let env = Env::new("env");
    let probe = Probe("closure");
    let f = GcFn::new(env.clone(), move |env: &Gc<Env>, ()| {
        let _ = &probe;
        env.slots.borrow().len() as u32 + 7
    });
    let g = f.clone();
    drop(env);
    assert_eq!(g.call(()), 7);
    drop(f);
    assert!(dropped().is_empty(), "`g` still shares the function");
    drop(g);
    assert_eq!(dropped(), ["closure", "env"]);
    assert_eq!(collect(), 0);
}

/// `fact(n)` calls itself through the handle stored in its environment.
struct FactEnv {
    fact: RefCell<Option<GcFn<u64, u64>>>,
    calls: core::cell::Cell<u32>,
    _probe: Probe,
}

// SAFETY: visits the one `Gc` of its function once.
unsafe impl Trace for FactEnv {
    fn trace(&self, tracer: &mut Tracer) {
        self.fact.trace(tracer);
    }
    fn has_finalizer() -> bool {
        false
    }
}

#[test]
fn recursive_calls_work_and_the_cycle_is_collected() {
    reset();
    let env = Gc::new(FactEnv {
        fact: RefCell::new(None),
        calls: core::cell::Cell::new(0),
        _probe: Probe("env"),
    });
    let probe = Probe("fact");
    let fact = GcFn::new(env.clone(), move |env: &Gc<FactEnv>, n: u64| {
        let _ = &probe;
        env.calls.set(env.calls.get() + 1);
        if n == 0 {
            return 1;
        }
        // Clone the handle out: no borrow of the cell across the call.
        let me = env.fact.borrow().clone().unwrap();
        n * me.call(n - 1)
    });
    *env.fact.borrow_mut() = Some(fact.clone());
    drop(fact);
    let fact = env.fact.borrow().clone().unwrap();
    assert_eq!(fact.call(10), 3_628_800);
    assert_eq!(env.calls.get(), 11);
    // A collection in the middle of a recursion frees nothing in use.
    let probing = GcFn::new(env.clone(), |env: &Gc<FactEnv>, n: u64| {
        let fact = env.fact.borrow().clone().unwrap();
        assert_eq!(collect(), 0);
        fact.call(n)
    });
    assert_eq!(probing.call(5), 120);
    drop((env, fact, probing));
    assert_eq!(collect(), 2);
    assert_eq!(dropped(), ["env", "fact"]);
}

#[test]
fn a_closure_without_traced_captures_is_untracked() {
    reset();
    let add = GcFn::new(40u32, |base: &u32, (a, b): (u32, u32)| base + a + b);
    assert!(!add.is_tracked(), "an environment of leaves is not tracked");
    assert_eq!(add.call((1, 1)), 42);
    assert_eq!(format!("{add:?}"), "GcFn(u32)");
    assert!(!<GcFn<(), ()> as Trace>::has_finalizer());
    assert!(<GcFn<(), ()> as Trace>::may_contain_gc());

    let probe = Probe("leaf");
    // Captures the whole probe (a use of `probe.0` alone would copy the
    // `&str` out of it).
    let f = GcFn::new((), move |(), ()| {
        let probe = &probe;
        probe.0.len() as u32
    });
    assert!(!f.is_tracked());
    assert_eq!(f.call(()), 4);
    let stored = Gc::new(RefCell::new(vec![f.clone()]));
    assert!(Gc::is_tracked(&stored), "a GcFn field may hold a Gc");
    drop((f, stored));
    assert_eq!(dropped(), ["leaf"]);
}

/// A `Gc` captured by `f` instead of `env` is a hidden edge: the cycle is
/// not found (a leak), nothing reachable is freed, and breaking the cycle
/// by hand frees it.
#[test]
fn a_gc_captured_outside_the_environment_only_leaks() {
    reset();
    let env = Env::new("env");
    let hidden = env.clone();
    let f = GcFn::new((), move |(), ()| hidden.slots.borrow().len() as u32);
    env.slots.borrow_mut().push(f);
    assert_eq!(collect(), 0);
    assert_eq!(env.slots.borrow()[0].call(()), 1);
    let weak = Gc::downgrade(&env);
    drop(env);
    assert_eq!(collect(), 0, "the hidden edge keeps the cycle alive");
    let env = weak.upgrade().unwrap();
    let f = env.slots.borrow_mut().pop().unwrap();
    drop(env);
    assert!(dropped().is_empty(), "`f` still holds the environment");
    drop(f);
    assert_eq!(dropped(), ["env"]);
}
