//! Parsing of `#[trace(...)]` attributes.
//!
//! Semantic mistakes (an unknown key, a key in the wrong place, a duplicate)
//! are recorded in the [`Ctxt`] and parsing goes on, so every mistake is
//! reported at once. Syntax errors inside one attribute stop that attribute
//! only.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::{Attribute, LitStr, Token, WherePredicate};

use crate::ctxt::Ctxt;

/// The one attribute name the derive reads.
const TRACE: &str = "trace";

/// What the unknown-key error lists as valid.
const VALID_KEYS: &str = "expected `skip` (on a field), or `finalize`, \
     `bound = \"...\"` or `crate = \"...\"` (on the type)";

/// Where an attribute was written: decides which keys are allowed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Type,
    Variant,
    Field,
}

/// `#[trace(...)]` options of the deriving type.
#[derive(Default)]
pub(crate) struct Container {
    /// `#[trace(finalize)]`: the span of `finalize`, for errors about a
    /// missing `Finalize` impl.
    pub(crate) finalize: Option<Span>,
    /// `#[trace(bound = "...")]`: replaces the inferred bounds.
    pub(crate) bound: Option<Vec<WherePredicate>>,
    /// `#[trace(crate = "...")]`: path of the `pygc` crate.
    pub(crate) krate: Option<syn::Path>,
    /// A `crate` value was given but did not parse: paths would not resolve.
    pub(crate) krate_invalid: bool,
}

/// `#[trace(...)]` options of one field.
#[derive(Default)]
pub(crate) struct Field {
    /// `#[trace(skip)]`: the field is not traced and needs no `Trace` impl.
    pub(crate) skip: bool,
}

impl Container {
    /// Parses the attributes written on the type.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut out = Container::default();
        parse_trace_attrs(cx, attrs, Place::Type, |meta, key| {
            match key {
                "finalize" => {
                    reject_value(cx, &meta, key)?;
                    if out.finalize.is_some() {
                        cx.error_spanned_by(&meta.path, "duplicate `#[trace(finalize)]`");
                    }
                    out.finalize = Some(key_span(&meta));
                }
                "bound" => {
                    let lit = string_value(&meta, key, "T: Trace, U: Clone")?;
                    if out.bound.is_some() {
                        cx.error_spanned_by(&meta.path, "duplicate `#[trace(bound = ...)]`");
                    }
                    match lit.parse_with(Punctuated::<WherePredicate, Token![,]>::parse_terminated)
                    {
                        Ok(predicates) => out.bound = Some(predicates.into_iter().collect()),
                        Err(error) => cx.error_spanned_by(
                            &lit,
                            format_args!(
                                "malformed `bound` ({error}): write where-clause \
                                 predicates separated by commas, such as \
                                 `bound = \"T: Trace, U: Clone\"`"
                            ),
                        ),
                    }
                }
                "crate" => {
                    let lit = string_value(&meta, key, "pygc")?;
                    if out.krate.is_some() || out.krate_invalid {
                        cx.error_spanned_by(&meta.path, "duplicate `#[trace(crate = ...)]`");
                    }
                    match lit.parse::<syn::Path>() {
                        Ok(path) => out.krate = Some(path),
                        Err(error) => {
                            out.krate_invalid = true;
                            cx.error_spanned_by(
                                &lit,
                                format_args!(
                                    "malformed `crate` path ({error}): write the path of \
                                     the pygc crate, such as `crate = \"pygc\"` or \
                                     `crate = \"::my_crate::pygc\"`"
                                ),
                            );
                        }
                    }
                }
                _ => unreachable_key(cx, &meta, key, Place::Type)?,
            }
            Ok(())
        });
        out
    }
}

impl Field {
    /// Parses the attributes written on a field.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut out = Field::default();
        parse_trace_attrs(cx, attrs, Place::Field, |meta, key| {
            if key == "skip" {
                reject_value(cx, &meta, key)?;
                if out.skip {
                    cx.error_spanned_by(&meta.path, "duplicate `#[trace(skip)]`");
                }
                out.skip = true;
                Ok(())
            } else {
                unreachable_key(cx, &meta, key, Place::Field)
            }
        });
        out
    }
}

/// Checks the attributes written on an enum variant: none is supported.
pub(crate) fn variant_from_ast(cx: &Ctxt, attrs: &[Attribute]) {
    parse_trace_attrs(cx, attrs, Place::Variant, |meta, key| {
        unreachable_key(cx, &meta, key, Place::Variant)
    });
}

/// Runs `handle(meta, key)` for each `key` of each `#[trace(...)]` in
/// `attrs`, where `key` is the text of a single-identifier key (`""` for a
/// longer path, which no key is). Errors go to `cx`.
fn parse_trace_attrs(
    cx: &Ctxt,
    attrs: &[Attribute],
    place: Place,
    mut handle: impl FnMut(ParseNestedMeta<'_>, &str) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|attr| attr.path().is_ident(TRACE)) {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(ToString::to_string);
            match key.as_deref() {
                Some(key) => handle(meta, key),
                None => unreachable_key(cx, &meta, "", place),
            }
        });
        if let Err(error) = parsed {
            cx.syn_error(error);
        }
    }
}

/// Reports a key that is not valid where it was written, then skips its
/// value so the rest of the attribute is still checked.
fn unreachable_key(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    key: &str,
    place: Place,
) -> syn::Result<()> {
    let message = match (key, place) {
        ("skip", Place::Type) => "`#[trace(skip)]` goes on a field, not on the type: \
             it leaves one field untraced"
            .to_owned(),
        ("finalize" | "bound" | "crate", Place::Field) => {
            format!("`#[trace({key})]` goes on the type, not on a field")
        }
        ("skip" | "finalize" | "bound" | "crate", Place::Variant) => {
            format!(
                "`#[trace({key})]` is not supported on an enum variant: \
                 put `#[trace(skip)]` on the variant's fields, and type options on the enum"
            )
        }
        _ => {
            let shown = path_text(&meta.path);
            format!("unknown `trace` attribute `{shown}`: {VALID_KEYS}")
        }
    };
    cx.error_spanned_by(&meta.path, message);
    skip_value(meta)
}

/// Consumes `= value` or `(...)` after a key, if present.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

/// Reports a flag key such as `skip` given a value, and skips the value.
fn reject_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<()> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            format_args!("`{key}` takes no value: write `#[trace({key})]`"),
        );
        skip_value(meta)?;
    }
    Ok(())
}

/// Parses the string after `key =`.
fn string_value(meta: &ParseNestedMeta<'_>, key: &str, example: &str) -> syn::Result<LitStr> {
    let value = meta.value()?;
    if value.peek(LitStr) {
        value.parse()
    } else {
        Err(value.error(format!(
            "expected a string after `{key} =`, such as `{key} = \"{example}\"`"
        )))
    }
}

/// Span of a key (its path).
fn key_span(meta: &ParseNestedMeta<'_>) -> Span {
    syn::spanned::Spanned::span(&meta.path)
}

/// Source-like text of a key path, for messages.
fn path_text(path: &syn::Path) -> String {
    let segments: Vec<String> = path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    let joined = segments.join("::");
    if path.leading_colon.is_some() {
        format!("::{joined}")
    } else {
        joined
    }
}
