#![doc = include_str!("../README.md")]

pub use pygc_core::*;
pub use pygc_derive::Trace;
