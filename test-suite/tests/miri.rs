//! The integration subset CI runs under Miri (`cargo +nightly miri test
//! --test miri`): the derive, Drop reaching collected peers, resurrection,
//! weak clearing and the trashcan, at small sizes.

mod common;

use std::cell::RefCell;

use common::{list, live, preclean};
use pygc::{Gc, Trace};

#[derive(Trace)]
struct Peer {
    other: RefCell<Option<Gc<Peer>>>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(other) = self.other.borrow().as_ref() {
            // Either the peer is intact or the check says it was dropped;
            // never a read of freed memory.
            let _ = Gc::try_deref(other).map(|p| p.other.borrow().is_some());
        }
    }
}

#[test]
fn miri_drop_reaches_collected_peer() {
    preclean();
    let a = Gc::new(Peer {
        other: RefCell::new(None),
    });
    let b = Gc::new(Peer {
        other: RefCell::new(Some(a.clone())),
    });
    *a.other.borrow_mut() = Some(b.clone());
    let weak = Gc::downgrade(&a);
    drop((a, b));
    assert_eq!(pygc::collect(), 2);
    assert!(weak.upgrade().is_none());
}

#[test]
fn miri_cycles_lists_and_trashcan() {
    preclean();
    let l = list();
    l.append(&l);
    drop(l);
    let mut top = list();
    for _ in 0..200 {
        let outer = list();
        outer.append(&top);
        top = outer;
    }
    drop(top);
    assert_eq!(pygc::collect(), 1);
    assert_eq!(live(), 0);
}

#[test]
fn miri_automatic_collection() {
    preclean();
    pygc::set_threshold(50, 2, 2);
    for _ in 0..500 {
        let l = list();
        l.append(&l);
    }
    assert!(live() < 500);
    pygc::collect();
    assert_eq!(live(), 0);
    pygc::set_threshold(2000, 10, 10);
}
