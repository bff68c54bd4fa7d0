//! Rejection of inputs the derive cannot implement `Trace` for soundly or
//! usefully. Every problem is recorded; none stops the others from being
//! found.

use proc_macro2::TokenStream;
use syn::{DeriveInput, GenericArgument, PathArguments, Type};

use crate::ast::{Container, Data};
use crate::ctxt::Ctxt;

/// Records every problem of `cont` in `cx`.
pub(crate) fn check(cx: &Ctxt, cont: &Container<'_>, input: &DeriveInput) {
    check_not_packed(cx, input);
    if let Data::Union(data) = &cont.data {
        cx.error_spanned_by(
            data.union_token,
            "`#[derive(Trace)]` does not support unions: the collector cannot know \
             which field holds a value; implement `Trace` by hand, or use an enum",
        );
    }
    for field in cont.all_fields() {
        if !field.attrs.skip {
            check_traceable(cx, field.ty, true);
        }
    }
}

/// Rejects `#[repr(packed)]`: its fields cannot be borrowed for tracing.
fn check_not_packed(cx: &Ctxt, input: &DeriveInput) {
    for attr in input
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("repr"))
    {
        // A malformed `repr` is rustc's to report: parse errors are ignored.
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("packed") {
                cx.error_spanned_by(
                    &meta.path,
                    "`#[derive(Trace)]` does not support `#[repr(packed)]` types: \
                     their fields cannot be borrowed for tracing; implement `Trace` by hand",
                );
            }
            if meta.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in meta.input);
                content.parse::<TokenStream>()?;
            }
            Ok(())
        });
    }
}

/// A pointer kind the collector cannot see through, as found in a field type.
struct Opaque {
    /// How the field is described: "`Rc`", "reference (`&T`)".
    what: &'static str,
    /// `what` with its article: "an `Rc`".
    with_article: &'static str,
    /// How the pointers are named after "see through".
    through: &'static str,
}

const REFERENCE: Opaque = Opaque {
    what: "reference (`&T`)",
    with_article: "a reference (`&T`)",
    through: "references",
};
const PTR_MUT: Opaque = Opaque {
    what: "raw pointer (`*mut T`)",
    with_article: "a raw pointer (`*mut T`)",
    through: "raw pointers",
};
const PTR_CONST: Opaque = Opaque {
    what: "raw pointer (`*const T`)",
    with_article: "a raw pointer (`*const T`)",
    through: "raw pointers",
};
const RC_WEAK: Opaque = Opaque {
    what: "`rc::Weak`",
    with_article: "an `rc::Weak`",
    through: "`rc::Weak`",
};
const SYNC_WEAK: Opaque = Opaque {
    what: "`sync::Weak`",
    with_article: "a `sync::Weak`",
    through: "`sync::Weak`",
};

/// Reports the non-`'static` reference, raw-pointer and `rc`/`sync::Weak`
/// types in a field type, each spanned on its own tokens. `top` is whether
/// `ty` is the field's whole type. (`Rc<T>`/`Arc<T>` are left to the trait
/// system: they are `Trace` for `T: NoGc`, whose message explains the rest.)
fn check_traceable(cx: &Ctxt, ty: &Type, top: bool) {
    let opaque = match ty {
        Type::Reference(reference)
            if reference
                .lifetime
                .as_ref()
                .is_some_and(|lifetime| lifetime.ident == "static") =>
        {
            None
        }
        Type::Reference(_) => Some(&REFERENCE),
        Type::Ptr(ptr) if ptr.mutability.is_some() => Some(&PTR_MUT),
        Type::Ptr(_) => Some(&PTR_CONST),
        Type::Path(path) if path.qself.is_none() => check_path(cx, &path.path),
        Type::Array(array) => {
            check_traceable(cx, &array.elem, false);
            None
        }
        Type::Slice(slice) => {
            check_traceable(cx, &slice.elem, false);
            None
        }
        Type::Tuple(tuple) => {
            for elem in &tuple.elems {
                check_traceable(cx, elem, false);
            }
            None
        }
        Type::Paren(paren) => {
            check_traceable(cx, &paren.elem, top);
            None
        }
        Type::Group(group) => {
            check_traceable(cx, &group.elem, top);
            None
        }
        // Function pointers, trait objects, macros, `_`, `!`: no owned
        // pointer the derive can recognise.
        _ => None,
    };
    if let Some(opaque) = opaque {
        let subject = if top {
            format!("{} fields cannot be traced", opaque.what)
        } else {
            format!("a field holding {} cannot be traced", opaque.with_article)
        };
        cx.error_spanned_by(
            ty,
            format_args!(
                "{subject}: the collector cannot see through {}; add \
                 `#[trace(skip)]` to this field (it will not be traced, so a \
                 cycle through it is never collected)",
                opaque.through
            ),
        );
    }
}

/// Classifies a path type by its last segment, checking its type arguments.
fn check_path(cx: &Ctxt, path: &syn::Path) -> Option<&'static Opaque> {
    let mut segments = path.segments.iter().rev();
    let last = segments.next()?;
    let parent = segments.next().map(|segment| &segment.ident);
    let ident = &last.ident;
    if ident == "Weak" && parent.is_some_and(|p| p == "rc") {
        Some(&RC_WEAK)
    } else if ident == "Weak" && parent.is_some_and(|p| p == "sync") {
        Some(&SYNC_WEAK)
    } else if ident == "PhantomData" {
        // Owns no value of its parameter: anything goes inside.
        None
    } else {
        if let PathArguments::AngleBracketed(args) = &last.arguments {
            for arg in &args.args {
                if let GenericArgument::Type(inner) = arg {
                    check_traceable(cx, inner, false);
                }
            }
        }
        None
    }
}
