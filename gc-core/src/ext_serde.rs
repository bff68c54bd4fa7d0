//! Feature `serde`: a `Gc<T>` serializes as its `T` and deserializes into a
//! new object (like serde's `rc` feature: sharing is not preserved, so a
//! value reached twice is written twice, and a cycle cannot be serialized).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::gc::Gc;
use crate::trace::Trace;

impl<T: ?Sized + Trace + Serialize + 'static> Serialize for Gc<T> {
    /// Serializes the value.
    ///
    /// # Panics
    ///
    /// If the cycle collector already dropped the value (a handle a `Drop`
    /// kept past its collection).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de, T: Trace + Deserialize<'de> + 'static> Deserialize<'de> for Gc<T> {
    /// Deserializes a value into a new object.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Gc<T>, D::Error> {
        T::deserialize(deserializer).map(Gc::new)
    }
}

impl<'de> Deserialize<'de> for Gc<str> {
    /// Deserializes a string into one allocation.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Gc<str>, D::Error> {
        String::deserialize(deserializer).map(Gc::from)
    }
}
