//! The optional integrations (`cargo test --all-features`): serde, and the
//! `Trace` impls of hashbrown, indexmap, smallvec and arrayvec collections.

#[cfg(any(
    feature = "hashbrown",
    feature = "indexmap",
    feature = "smallvec",
    feature = "arrayvec"
))]
use {
    crate::{Gc, Trace, Tracer, collect, unsize},
    core::cell::RefCell,
};

/// Holds a collection; a cycle goes through it when it holds its holder.
#[cfg(any(
    feature = "hashbrown",
    feature = "indexmap",
    feature = "smallvec",
    feature = "arrayvec"
))]
struct Holder<C>(RefCell<C>);

#[cfg(any(
    feature = "hashbrown",
    feature = "indexmap",
    feature = "smallvec",
    feature = "arrayvec"
))]
// SAFETY: visits what the collection owns, through its impl.
unsafe impl<C: Trace> Trace for Holder<C> {
    fn trace(&self, tracer: &mut Tracer) {
        self.0.trace(tracer);
    }
    fn has_finalizer() -> bool {
        false
    }
}

/// A self-cycle through `C`, built by `insert`; checks it is tracked and
/// collected.
#[cfg(any(
    feature = "hashbrown",
    feature = "indexmap",
    feature = "smallvec",
    feature = "arrayvec"
))]
fn cycle_through<C: Trace + Default + 'static>(insert: impl FnOnce(&mut C, Gc<dyn Trace>)) {
    collect();
    let holder = Gc::new(Holder(RefCell::new(C::default())));
    assert!(Gc::is_tracked(&holder));
    insert(
        &mut holder.0.borrow_mut(),
        unsize!(holder.clone() => dyn Trace),
    );
    let weak = Gc::downgrade(&holder);
    drop(holder);
    assert!(
        weak.upgrade().is_some(),
        "refcounting cannot free the cycle"
    );
    assert_eq!(collect(), 1);
    assert!(weak.upgrade().is_none());
}

#[cfg(feature = "hashbrown")]
#[test]
fn hashbrown_maps_and_sets_are_traced() {
    cycle_through::<hashbrown::HashMap<u32, Gc<dyn Trace>>>(|map, g| {
        map.insert(1, g);
    });
    assert!(!Gc::is_tracked(&Gc::new(
        hashbrown::HashMap::<u32, String>::new()
    )));
    assert!(!Gc::is_tracked(&Gc::new(hashbrown::HashSet::<u64>::new())));
}

#[cfg(feature = "indexmap")]
#[test]
fn indexmap_maps_and_sets_are_traced() {
    cycle_through::<indexmap::IndexMap<u32, Gc<dyn Trace>>>(|map, g| {
        map.insert(1, g);
    });
    assert!(!Gc::is_tracked(&Gc::new(
        indexmap::IndexSet::<String>::new()
    )));
}

#[cfg(feature = "smallvec")]
#[test]
fn smallvecs_are_traced() {
    cycle_through::<smallvec::SmallVec<[Gc<dyn Trace>; 2]>>(|vec, g| vec.push(g));
    assert!(!Gc::is_tracked(&Gc::new(
        smallvec::SmallVec::<[u8; 4]>::new()
    )));
}

#[cfg(feature = "arrayvec")]
#[test]
fn arrayvecs_are_traced() {
    cycle_through::<arrayvec::ArrayVec<Gc<dyn Trace>, 2>>(|vec, g| vec.push(g));
    assert!(!Gc::is_tracked(&Gc::new(arrayvec::ArrayString::<8>::new())));
}

#[cfg(feature = "serde")]
#[test]
fn gc_serializes_as_its_value() {
    use crate::Gc;
    use serde_test::{Token, assert_de_tokens, assert_ser_tokens};
    assert_ser_tokens(&Gc::new(5u32), &[Token::U32(5)]);
    assert_de_tokens(&Gc::new(7u32), &[Token::U32(7)]);
    let text: Gc<str> = Gc::from("spam");
    assert_ser_tokens(&text, &[Token::Str("spam")]);
    assert_de_tokens(&text, &[Token::Str("spam")]);
    let list = Gc::new(vec![Gc::new(1u8)]);
    assert_ser_tokens(
        &list,
        &[Token::Seq { len: Some(1) }, Token::U8(1), Token::SeqEnd],
    );
}
