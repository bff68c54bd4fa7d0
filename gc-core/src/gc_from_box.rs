//! Objects made from values that may be unsized: `Gc<str>`, `Gc<[T]>`, and
//! `Gc<T>` from a `Box<T>` (`Box<dyn Trait>` included). One allocation per
//! object, from the pools when small, like `Rc<str>` and `Rc<[T]>`.
//!
//! Everything goes through [`Gc::from`]`(Box<T>)`: the value's bytes move
//! from the box into the new block. An untracked object has the plain
//! 8-byte header. A tracked one (a slice of values that may hold a `Gc`, or
//! a trait object, conservatively) also carries what the collector needs
//! but only the wide pointer knows: the pointer itself, the concrete type's
//! name and the allocation layout (see [`UnsizedTail`]).

use core::alloc::Layout;
use core::ptr::{self, NonNull};

use crate::gc::Gc;
use crate::header::{GcBox, Header, TRACKED_PREFIX, TrackedHeader};
use crate::heap::heap;
use crate::trace::{Trace, TypeFacts};
use crate::tracked::Tracked;
use crate::vtable::{UnsizedTail, UnsizedVTableOf};

/// `pointer` with its address and provenance replaced by `data`'s, keeping
/// its metadata (length or vtable). Stable Rust has no API for this
/// (`ptr::from_raw_parts` is unstable): a wide raw pointer's first word is
/// its data pointer, which is checked right after.
fn with_data_pointer<T: ?Sized>(pointer: *mut T, data: *mut u8) -> *mut T {
    let mut out = pointer;
    // SAFETY: `out` is a local (wide) pointer at least one data pointer in
    // size; writing a `*mut u8` into its first word is in bounds.
    unsafe { (&raw mut out).cast::<*mut u8>().write(data) };
    assert!(
        ptr::addr_eq(out, data),
        "wide pointers start with their data pointer"
    );
    out
}

/// The facts of the value `boxed` points at.
fn facts_of<T: ?Sized + Trace>(value: &T) -> TypeFacts {
    if size_of::<*const T>() == size_of::<*const ()>() {
        value.__value_facts()
    } else {
        value.__unsized_facts()
    }
}

impl<T: ?Sized + Trace + 'static> From<Box<T>> for Gc<T> {
    /// Moves the value out of the box into a new object (like
    /// `Rc::from(Box<T>)`), also for unsized values: `Gc<str>`, `Gc<[T]>`,
    /// `Gc<dyn Trait>`. A trait object's object is tracked (its concrete
    /// type is not known here); slices are tracked only if their elements
    /// may hold a `Gc`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::{Gc, Trace};
    ///
    /// trait Shape: Trace {
    ///     fn sides(&self) -> u32;
    /// }
    /// #[derive(Trace)]
    /// struct Triangle;
    /// impl Shape for Triangle {
    ///     fn sides(&self) -> u32 {
    ///         3
    ///     }
    /// }
    ///
    /// let boxed: Box<dyn Shape> = Box::new(Triangle);
    /// let shape: Gc<dyn Shape> = Gc::from(boxed);
    /// assert_eq!(shape.sides(), 3);
    ///
    /// let numbers: Gc<[u32]> = Gc::from(vec![1, 2, 3].into_boxed_slice());
    /// assert_eq!(numbers[2], 3);
    /// ```
    fn from(boxed: Box<T>) -> Gc<T> {
        let facts = facts_of(&*boxed);
        let value_layout = Layout::for_value(&*boxed);
        let type_name = (*boxed).__type_name();
        let (box_layout, value_offset) = Layout::new::<Header>()
            .extend(value_layout)
            .expect("Gc value too large");
        let box_layout = box_layout.pad_to_align();
        let heap = heap();
        let raw = Box::into_raw(boxed);
        // From here until the bytes are moved, the value lives in the box's
        // memory; a collection started by the allocation below sees the
        // handles it holds as references from outside (they are).
        let (boxed, node) = if facts.may_contain_gc {
            heap.note_tracked_allocation();
            let align = box_layout.align().max(align_of::<UnsizedTail>());
            let box_offset =
                (UnsizedTail::bytes_before_prefix::<T>() + TRACKED_PREFIX).next_multiple_of(align);
            let layout = Layout::from_size_align(box_offset + box_layout.size(), align)
                .expect("Gc value too large")
                .pad_to_align();
            let base = heap.allocate(layout);
            // SAFETY: the box, its prefix, tail and wide pointer fit in the
            // fresh allocation at these offsets (all 8-aligned).
            unsafe {
                let boxed = base.byte_add(box_offset);
                let prefix = boxed.byte_sub(TRACKED_PREFIX).cast::<TrackedHeader>();
                prefix.write(TrackedHeader::new(&UnsizedVTableOf::<T>::VTABLE));
                prefix.cast::<UnsizedTail>().sub(1).write(UnsizedTail {
                    type_name,
                    box_offset,
                    layout,
                });
                (boxed, Some(prefix))
            }
        } else {
            (heap.allocate(box_layout), None)
        };
        let wide = with_data_pointer(raw as *mut GcBox<T>, boxed.as_ptr());
        if node.is_some() {
            // SAFETY: the slot for the wide pointer is in the allocation,
            // before the tail (see `UnsizedTail`).
            unsafe {
                boxed
                    .byte_sub(TRACKED_PREFIX + UnsizedTail::bytes_before_prefix::<T>())
                    .cast::<*mut GcBox<T>>()
                    .write(wide);
            }
        }
        // SAFETY: `wide` is the new block, sized and aligned for the
        // `GcBox<T>` (same layout rules as `Layout::extend`); the value's
        // bytes move from the box, whose memory is then freed without
        // dropping them (they are the object's now); the object, now fully
        // initialised and on no list, is held by the handle returned below.
        unsafe {
            (&raw mut (*wide).header).write(Header::new(1, 1, Header::bits(facts)));
            ptr::copy_nonoverlapping(
                raw.cast::<u8>(),
                boxed.as_ptr().add(value_offset),
                value_layout.size(),
            );
            if value_layout.size() != 0 {
                std::alloc::dealloc(raw.cast(), value_layout);
            }
            if let Some(prefix) = node {
                heap.gens.list(0).push_back(Tracked::new(prefix));
            }
            Gc::from_box(NonNull::new_unchecked(wide))
        }
    }
}

impl From<&str> for Gc<str> {
    /// One allocation holding the string (like `Rc<str>`).
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let name: Gc<str> = Gc::from("spam");
    /// assert_eq!(&*name, "spam");
    /// assert!(!Gc::is_tracked(&name));
    /// ```
    fn from(s: &str) -> Gc<str> {
        Gc::from(Box::<str>::from(s))
    }
}

impl From<String> for Gc<str> {
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let name: Gc<str> = Gc::from(String::from("eggs"));
    /// assert_eq!(name.len(), 4);
    /// ```
    fn from(s: String) -> Gc<str> {
        Gc::from(s.into_boxed_str())
    }
}

impl<T: Trace + 'static> From<Vec<T>> for Gc<[T]> {
    /// One allocation holding the elements (like `Rc<[T]>`), tracked iff
    /// `T` may hold a `Gc`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let items: Gc<[Gc<u8>]> = Gc::from(vec![Gc::new(1), Gc::new(2)]);
    /// assert!(Gc::is_tracked(&items));
    /// assert_eq!(*items[1], 2);
    /// ```
    fn from(v: Vec<T>) -> Gc<[T]> {
        Gc::from(v.into_boxed_slice())
    }
}

impl<T: Trace + Clone + 'static> From<&[T]> for Gc<[T]> {
    /// Clones the elements into one allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let bytes: Gc<[u8]> = Gc::from(&b"abc"[..]);
    /// assert_eq!(&*bytes, b"abc");
    /// ```
    fn from(s: &[T]) -> Gc<[T]> {
        Gc::from(Box::<[T]>::from(s))
    }
}

impl<T: Trace + 'static> FromIterator<T> for Gc<[T]> {
    /// Collects into one allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// use pygc::Gc;
    /// let squares: Gc<[u32]> = (1..=3).map(|n| n * n).collect();
    /// assert_eq!(&*squares, [1, 4, 9]);
    /// ```
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Gc<[T]> {
        Gc::from(iter.into_iter().collect::<Box<[T]>>())
    }
}
