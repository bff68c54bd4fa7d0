//! Compile-time checks with targeted messages for traced fields.
//!
//! A field whose type is not `Trace` fails the field's own
//! `<Field as Trace>` call with `Trace`'s general message. Before that
//! call, the generated bodies assert `Trace` for the parts of the field
//! type the derive can classify, through helper traits of
//! `pygc::__private` whose messages say what to do for that kind of type:
//!
//! - a type parameter: add a `T: Trace` bound (or list it in
//!   `#[trace(bound = "...")]`);
//! - a trait object: make the trait `: Trace`;
//! - any other named type: derive `Trace`, or wrap or skip a foreign type.
//!
//! Only types the field's impl certainly requires to be `Trace` are
//! asserted: the field type itself and, recursively, the element types of
//! tuples, arrays, slices and of the std containers whose `Trace` impl
//! requires `Trace` of their parameters (`Vec<T>`, `Option<T>`, ...).
//! Inside any other generic type nothing is asserted (its impl may not
//! need its parameters to be `Trace`), so a check never fails where the
//! field's own call would not.
//!
//! Each assertion names its type as `<T as Identity>::This`, spanned from
//! the field type's first token to its last: the failing `T: Trace` is then
//! reported on the same span as the field's call, and rustc drops the
//! second (general) report of the same predicate there.

use std::collections::HashSet;

use proc_macro2::{Punct, Spacing, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::{GenericArgument, Ident, PathArguments, Type};

/// How a type found in a field type is asserted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A bare type parameter, `T`.
    TypeParam,
    /// `dyn Trait`.
    TraitObject,
    /// Any other named type (local or foreign).
    Type,
}

impl Kind {
    fn assert_fn(self) -> Ident {
        let name = match self {
            Kind::TypeParam => "assert_type_param",
            Kind::TraitObject => "assert_trait_object",
            Kind::Type => "assert_type",
        };
        Ident::new(name, Span::call_site())
    }
}

/// How many leading type arguments of a std container its `Trace` impl
/// requires to be `Trace`, by the container's name.
fn traced_args(name: &str) -> Option<usize> {
    Some(match name {
        "Box" | "Vec" | "VecDeque" | "LinkedList" | "BinaryHeap" | "BTreeSet" | "HashSet"
        | "Option" | "RefCell" | "Cell" | "OnceCell" | "Mutex" | "RwLock" | "Reverse"
        | "Wrapping" | "Saturating" => 1,
        "Result" | "BTreeMap" | "HashMap" => 2,
        _ => return None,
    })
}

/// Types whose impl needs something else than `Trace` of their parameters
/// (`NoGc`, nothing, or a bound on the type's own definition): the trait
/// system's own message is the right one, nothing is asserted.
fn is_opaque(name: &str) -> bool {
    matches!(name, "PhantomData" | "Rc" | "Arc" | "Cow" | "Gc" | "Weak")
}

/// Finds the types to assert in a field type.
struct Classify<'a> {
    params: &'a HashSet<&'a Ident>,
    found: Vec<(Kind, &'a Type)>,
}

impl<'a> Classify<'a> {
    fn visit(&mut self, ty: &'a Type) {
        match ty {
            Type::Paren(paren) => self.visit(&paren.elem),
            Type::Group(group) => self.visit(&group.elem),
            Type::Array(array) => self.visit(&array.elem),
            Type::Slice(slice) => self.visit(&slice.elem),
            Type::Tuple(tuple) => tuple.elems.iter().for_each(|elem| self.visit(elem)),
            Type::TraitObject(_) => self.found.push((Kind::TraitObject, ty)),
            Type::Path(path) if path.qself.is_none() => self.visit_path(ty, &path.path),
            // References, raw pointers, `fn` pointers, `<T as X>::Y`,
            // macros, `!`, `_`: not classified.
            _ => {}
        }
    }

    fn visit_path(&mut self, ty: &'a Type, path: &'a syn::Path) {
        let Some(first) = path.segments.first() else {
            return;
        };
        if path.leading_colon.is_none() && self.params.contains(&first.ident) {
            if path.segments.len() == 1 && first.arguments.is_none() {
                self.found.push((Kind::TypeParam, ty));
            }
            // `T::Assoc`: not classified.
            return;
        }
        if path.leading_colon.is_none() && first.ident == "Self" {
            return;
        }
        let Some(last) = path.segments.last() else {
            return;
        };
        let name = last.ident.to_string();
        if is_opaque(&name) {
            return;
        }
        let Some(count) = traced_args(&name) else {
            self.found.push((Kind::Type, ty));
            return;
        };
        if let PathArguments::AngleBracketed(args) = &last.arguments {
            args.args
                .iter()
                .filter_map(|arg| match arg {
                    GenericArgument::Type(inner) => Some(inner),
                    _ => None,
                })
                .take(count)
                .for_each(|inner| self.visit(inner));
        }
    }
}

/// The assertions for the traced field types `tys`, as statements.
pub(crate) fn field_checks<'a>(
    params: &HashSet<&Ident>,
    tys: impl IntoIterator<Item = &'a Type>,
    krate: &TokenStream,
) -> TokenStream {
    let mut out = TokenStream::new();
    for field_ty in tys {
        let Some((first, last)) = outer_spans(field_ty) else {
            continue;
        };
        let mut classify = Classify {
            params,
            found: Vec::new(),
        };
        classify.visit(field_ty);
        let mut seen: Vec<(Kind, &Type)> = Vec::new();
        for (kind, ty) in classify.found {
            // The same type twice in one field (`(Foo, Foo)`) is one error.
            if !seen.contains(&(kind, ty)) {
                seen.push((kind, ty));
                out.extend(assertion(kind, ty, first, last, krate));
            }
        }
    }
    out
}

/// The spans of a type's first and last tokens.
fn outer_spans(ty: &Type) -> Option<(Span, Span)> {
    let mut tokens = ty.to_token_stream().into_iter();
    let first = tokens.next()?.span();
    let last = tokens.last().map_or(first, |tt: TokenTree| tt.span());
    Some((first, last))
}

/// `let _ = krate::__private::assert_x::<<ty as Identity>::This>;`, the
/// asserted type spanned from `first` to `last`.
fn assertion(kind: Kind, ty: &Type, first: Span, last: Span, krate: &TokenStream) -> TokenStream {
    let assert_fn = kind.assert_fn();
    let mut open = Punct::new('<', Spacing::Alone);
    open.set_span(first);
    let this = Ident::new("This", last);
    quote! {
        let _ = #krate::__private::#assert_fn::<#open #ty as #krate::__private::Identity>::#this>;
    }
}
