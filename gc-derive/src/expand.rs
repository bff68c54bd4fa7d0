//! Generation of the `unsafe impl Trace`.
//!
//! The impl is sound by construction: `trace` forwards to each non-skipped
//! field exactly once (so every `Gc` the value owns is visited once through
//! its field's own impl), and `may_contain_gc()` is the OR of the same
//! fields' answers (or `true`). Skipping a field only hides edges, which
//! leaks at worst.

use std::collections::HashSet;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{DeriveInput, Generics, Ident, Type, WherePredicate};

use crate::ast::{Container, Data, Field, Style, Variant};
use crate::checks;
use crate::ctxt::Ctxt;
use crate::valid;

/// The whole derive: parse, validate, then generate the impl, or the errors
/// plus a fallback impl (so one mistake does not cascade into "`X: Trace` is
/// not satisfied" errors wherever the type is used).
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::default();
    let cont = Container::from_ast(&cx, input);
    valid::check(&cx, &cont, input);
    match cx.check() {
        Ok(()) => wrap(&impl_trace(&cont)),
        Err(error) => {
            let errors = error.to_compile_error();
            if cont.attrs.krate_invalid {
                // Paths into the crate would not resolve: no fallback.
                errors
            } else {
                let fallback = wrap(&fallback_impl(&cont));
                quote!(#errors #fallback)
            }
        }
    }
}

/// Scopes the generated items so nothing leaks into the user's namespace.
fn wrap(tokens: &TokenStream) -> TokenStream {
    quote! {
        const _: () = {
            #tokens
        };
    }
}

/// The path of the pygc crate: `#[trace(crate = "...")]` or `::pygc`.
fn krate(cont: &Container<'_>) -> TokenStream {
    cont.attrs
        .krate
        .as_ref()
        .map_or_else(|| quote!(::pygc), ToTokens::to_token_stream)
}

/// The real impl.
fn impl_trace(cont: &Container<'_>) -> TokenStream {
    let krate = krate(cont);
    let ident = cont.ident;
    let generics = bounded_generics(cont, &krate);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let traced_fields: Vec<&Field<'_>> = cont.all_fields().filter(|f| !f.attrs.skip).collect();
    // Asserted in every body that names the field types, so each body's
    // report of a missing impl is the targeted one (see `checks`).
    let params: HashSet<&Ident> = cont.generics.type_params().map(|p| &p.ident).collect();
    let checks = checks::field_checks(&params, traced_fields.iter().map(|f| f.ty), &krate);
    let tracer = Ident::new(
        if traced_fields.is_empty() {
            "_tracer"
        } else {
            "tracer"
        },
        Span::mixed_site(),
    );
    let skips_an_owner = cont
        .all_fields()
        .any(|f| f.attrs.skip && !matches!(f.ty, syn::Type::Reference(_) | syn::Type::Ptr(_)));
    let budget = Ident::new("budget", Span::mixed_site());
    let may_contain_gc = if skips_an_owner {
        // A skipped field is not traced, but it may still own `Gc`s (a
        // closure's captures, an `Rc<Gc<_>>`): the type stays tracked, so
        // its deep drops go through the trashcan like every other type
        // that can own a `Gc`. References and raw pointers own nothing.
        Facts::Always
    } else {
        may_contain_gc(cont, &traced_fields, &krate, &budget)
    };
    let value_facts = value_facts(cont, &may_contain_gc, &krate);
    let (budget_param, may_contain_gc_checks) = match may_contain_gc {
        Facts::Fields(_) => (budget.clone(), checks.clone()),
        _ => (
            Ident::new("_budget", Span::mixed_site()),
            TokenStream::new(),
        ),
    };
    let value_facts_checks = match (&cont.data, &may_contain_gc) {
        (Data::Struct(_), Facts::Fields(_)) => checks.clone(),
        _ => TokenStream::new(),
    };
    let may_contain_gc = may_contain_gc.into_tokens();
    let body = if traced_fields.is_empty() {
        TokenStream::new()
    } else {
        trace_body(cont, &krate, &tracer)
    };
    // Without `#[trace(finalize)]` the default (no-op) finalizer stays, and
    // `has_finalizer() == false` lets the collector skip it.
    let has_finalizer = cont.attrs.finalize.is_some();
    let run_finalizer = cont.attrs.finalize.map(|span| {
        quote_spanned! {span=>
            #[inline]
            fn run_finalizer(&self) {
                #krate::Finalize::finalize(self);
            }
        }
    });

    quote! {
        #[automatically_derived]
        unsafe impl #impl_generics #krate::Trace for #ident #ty_generics #where_clause {
            #[inline]
            fn trace(&self, #tracer: &mut #krate::Tracer) {
                #checks
                #body
            }

            #[inline]
            fn may_contain_gc() -> bool {
                <Self as #krate::Trace>::__may_contain_gc_within(#krate::__private::TYPE_NESTING_BUDGET)
            }

            #[inline]
            fn __may_contain_gc_within(#budget_param: u32) -> bool {
                #may_contain_gc_checks
                #may_contain_gc
            }

            #[inline]
            fn has_finalizer() -> bool {
                #has_finalizer
            }

            #[inline]
            fn __value_facts(&self) -> #krate::__private::TypeFacts {
                #value_facts_checks
                #value_facts
            }

            #run_finalizer
        }
    }
}

/// An impl that visits nothing (sound: hiding edges only leaks), emitted next
/// to the errors so uses of the type do not fail too.
fn fallback_impl(cont: &Container<'_>) -> TokenStream {
    let krate = krate(cont);
    let ident = cont.ident;
    let (impl_generics, ty_generics, where_clause) = cont.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        unsafe impl #impl_generics #krate::Trace for #ident #ty_generics #where_clause {
            #[inline]
            fn trace(&self, _tracer: &mut #krate::Tracer) {}
        }
    }
}

/// The type's generics plus the `Trace` bounds: those of
/// `#[trace(bound = "...")]`, or else `T: Trace` for each type parameter
/// that a traced field mentions (outside `PhantomData`), and `T::Assoc:
/// Trace` for each associated type a traced field mentions.
fn bounded_generics(cont: &Container<'_>, krate: &TokenStream) -> Generics {
    let mut generics = cont.generics.clone();
    let predicates: Vec<WherePredicate> = if let Some(bound) = &cont.attrs.bound {
        bound.clone()
    } else {
        let params: HashSet<&Ident> = cont.generics.type_params().map(|p| &p.ident).collect();
        let mut uses = ParamUses {
            params: &params,
            bounded: Vec::new(),
        };
        for field in cont.all_fields().filter(|f| !f.attrs.skip) {
            uses.visit_type(field.ty);
        }
        // `parse2` rather than `parse_quote!`, which would panic on failure
        // (it cannot fail here: a type and a path make a predicate).
        uses.bounded
            .iter()
            .filter_map(|ty| syn::parse2(quote!(#ty: #krate::Trace)).ok())
            .collect()
    };
    if !predicates.is_empty() {
        generics.make_where_clause().predicates.extend(predicates);
    }
    generics
}

/// Finds the types that need a `Trace` bound in a field type.
struct ParamUses<'p> {
    params: &'p HashSet<&'p Ident>,
    /// `T` and `T::Assoc` types, each once, in first-use order.
    bounded: Vec<Type>,
}

impl ParamUses<'_> {
    fn add(&mut self, ty: Type) {
        if !self.bounded.contains(&ty) {
            self.bounded.push(ty);
        }
    }

    fn is_param(&self, ty: &Type) -> bool {
        match ty {
            Type::Path(path) => {
                path.qself.is_none()
                    && path
                        .path
                        .get_ident()
                        .is_some_and(|ident| self.params.contains(ident))
            }
            _ => false,
        }
    }
}

impl<'ast> Visit<'ast> for ParamUses<'_> {
    fn visit_type_path(&mut self, ty: &'ast syn::TypePath) {
        let segments = &ty.path.segments;
        if let Some(qself) = &ty.qself {
            // `<T as Trait>::Assoc`: the projection itself needs the bound.
            if self.is_param(&qself.ty) {
                self.add(Type::Path(ty.clone()));
                return;
            }
        } else if ty.path.leading_colon.is_none()
            && let Some(first) = segments.first()
            && self.params.contains(&first.ident)
        {
            // `T` or `T::Assoc`.
            self.add(Type::Path(ty.clone()));
            if segments.len() > 1 {
                return;
            }
        }
        // `PhantomData<T>` is `Trace` for every `T`: no bound needed.
        if segments
            .last()
            .is_some_and(|last| last.ident == "PhantomData")
        {
            return;
        }
        syn::visit::visit_type_path(self, ty);
    }

    fn visit_type_macro(&mut self, _: &'ast syn::TypeMacro) {}
}

/// Whether a type names the deriving type itself (`Self` or its name).
struct MentionsSelf<'i> {
    ident: &'i Ident,
    found: bool,
}

impl<'ast> Visit<'ast> for MentionsSelf<'_> {
    fn visit_type_path(&mut self, ty: &'ast syn::TypePath) {
        if ty
            .path
            .segments
            .iter()
            .any(|segment| segment.ident == "Self" || segment.ident == *self.ident)
        {
            self.found = true;
            return;
        }
        syn::visit::visit_type_path(self, ty);
    }
}

/// What `may_contain_gc` is made of.
enum Facts<'f> {
    /// No field is traced: `false`.
    Never,
    /// Conservatively `true`.
    Always,
    /// The OR of these traced fields' answers (the expression is built).
    Fields(Vec<(&'f Field<'f>, TokenStream)>),
}

impl Facts<'_> {
    /// The body of `__may_contain_gc_within`.
    fn into_tokens(self) -> TokenStream {
        match self {
            Facts::Never => quote!(false),
            Facts::Always => quote!(true),
            Facts::Fields(terms) => {
                let terms = terms.into_iter().map(|(_, term)| term);
                let budget = Ident::new("budget", Span::mixed_site());
                quote!(#budget == 0 #(|| #terms)*)
            }
        }
    }
}

/// `may_contain_gc`: the OR of the traced fields' answers, each asked with
/// one level less of the nesting budget (so types that contain each other
/// without a `Gc` in between end in a conservative `true`, not an endless
/// recursion).
///
/// A field whose type mentions the deriving type itself (`Box<Self>`,
/// `Vec<Tree>`) makes it `true` at once: `true` is always sound (the object
/// is tracked; tracing still visits only real `Gc`s).
fn may_contain_gc<'f>(
    cont: &Container<'_>,
    traced: &[&'f Field<'f>],
    krate: &TokenStream,
    budget: &Ident,
) -> Facts<'f> {
    if traced.is_empty() {
        return Facts::Never;
    }
    let recursive = traced.iter().any(|field| {
        let mut mentions = MentionsSelf {
            ident: cont.ident,
            found: false,
        };
        mentions.visit_type(field.ty);
        mentions.found
    });
    if recursive {
        return Facts::Always;
    }
    // The trait path keeps its own spans: spanned on the user's type, it
    // would look like user code to lints such as `unused_qualifications`.
    let trace_trait = quote!(#krate::Trace);
    Facts::Fields(
        traced
            .iter()
            .map(|&field| {
                let ty = field.ty;
                let term = quote_spanned!(ty.span()=>
                    <#ty as #trace_trait>::__may_contain_gc_within(#budget - 1));
                (field, term)
            })
            .collect(),
    )
}

/// The body of `__value_facts`. A struct whose answer is made of its
/// fields' asks the fields' values, which is precise through `Box<str>`,
/// `Box<[T]>` and boxed sized values; everything else answers with the
/// static facts.
fn value_facts(cont: &Container<'_>, facts: &Facts<'_>, krate: &TokenStream) -> TokenStream {
    let static_facts = quote!(#krate::__private::TypeFacts::of::<Self>());
    let (Data::Struct(_), Facts::Fields(fields)) = (&cont.data, facts) else {
        return static_facts;
    };
    let trace_trait = quote!(#krate::Trace);
    let terms = fields.iter().map(|(field, _)| {
        let member = &field.member;
        let ty = field.ty;
        quote_spanned!(ty.span()=>
            <#ty as #trace_trait>::__value_facts(&self.#member).may_contain_gc)
    });
    quote! {
        #krate::__private::TypeFacts {
            may_contain_gc: #(#terms)||*,
            ..#static_facts
        }
    }
}

/// The statements of `trace` (at least one field is traced).
fn trace_body(cont: &Container<'_>, krate: &TokenStream, tracer: &Ident) -> TokenStream {
    match &cont.data {
        Data::Struct(fields) => {
            let calls = fields.iter().filter(|f| !f.attrs.skip).map(|field| {
                let member = &field.member;
                let value = quote!(&self.#member);
                trace_call(field.ty, &value, krate, tracer)
            });
            quote!(#(#calls)*)
        }
        Data::Enum(variants) => {
            let arms = variants
                .iter()
                .map(|variant| variant_arm(variant, krate, tracer));
            quote! {
                match self {
                    #(#arms)*
                }
            }
        }
        Data::Union(_) => TokenStream::new(),
    }
}

/// `<FieldTy as Trace>::trace(value, tracer);`, spanned on the field type so
/// a missing impl is reported there.
fn trace_call(ty: &Type, value: &TokenStream, krate: &TokenStream, tracer: &Ident) -> TokenStream {
    // See `may_contain_gc` for why the trait path is built apart.
    let trace_trait = quote!(#krate::Trace);
    quote_spanned! {ty.span()=>
        <#ty as #trace_trait>::trace(#value, #tracer);
    }
}

/// One `match` arm: binds the traced fields by reference and traces them.
fn variant_arm(variant: &Variant<'_>, krate: &TokenStream, tracer: &Ident) -> TokenStream {
    let ident = variant.ident;
    let bindings: Vec<Option<Ident>> = variant
        .fields
        .iter()
        .enumerate()
        .map(|(index, field)| {
            (!field.attrs.skip)
                .then(|| format_ident!("__field{}", index, span = Span::mixed_site()))
        })
        .collect();
    let calls = variant
        .fields
        .iter()
        .zip(&bindings)
        .filter_map(|(field, binding)| {
            let binding = binding.as_ref()?;
            Some(trace_call(
                field.ty,
                &binding.to_token_stream(),
                krate,
                tracer,
            ))
        });
    let pattern = match variant.style {
        Style::Unit => quote!(Self::#ident),
        Style::Tuple => {
            let elems = bindings
                .iter()
                .map(|binding| binding.as_ref().map_or_else(|| quote!(_), |b| quote!(#b)));
            quote!(Self::#ident(#(#elems),*))
        }
        Style::Named => {
            let elems = variant
                .fields
                .iter()
                .zip(&bindings)
                .map(|(field, binding)| {
                    let member = &field.member;
                    let binding = binding.as_ref().map_or_else(|| quote!(_), |b| quote!(#b));
                    quote!(#member: #binding)
                });
            quote!(Self::#ident { #(#elems),* })
        }
    };
    quote! {
        #pattern => {
            #(#calls)*
        }
    }
}

#[cfg(test)]
mod tests {
    use super::derive;

    /// The expansion of `input`, as normalised token text.
    fn expand(input: &str) -> String {
        let input = syn::parse_str(input).expect("test input parses");
        derive(&input).to_string()
    }

    #[test]
    fn default_crate_path_is_absolute() {
        let out = expand("struct S { a: u8 }");
        assert!(out.contains("unsafe impl :: pygc :: Trace for S"), "{out}");
        assert!(out.starts_with("const _ : () ="), "{out}");
        assert!(out.contains("# [automatically_derived]"), "{out}");
    }

    #[test]
    fn crate_attribute_replaces_the_path() {
        let out = expand(r#"#[trace(crate = "renamed")] struct S { a: u8 }"#);
        assert!(out.contains("unsafe impl renamed :: Trace for S"), "{out}");
        assert!(!out.contains("pygc"), "{out}");
    }

    #[test]
    fn bounds_only_for_traced_parameters() {
        let out = expand(
            "struct S<T, U, V> { a: Vec<T>, #[trace(skip)] b: U, c: PhantomData<V>, d: U::Assoc }",
        );
        assert!(out.contains("T : :: pygc :: Trace"), "{out}");
        assert!(out.contains("U :: Assoc : :: pygc :: Trace"), "{out}");
        assert!(!out.contains("U : :: pygc"), "{out}");
        assert!(!out.contains("V : :: pygc"), "{out}");
    }

    #[test]
    fn bound_attribute_replaces_inferred_bounds() {
        let out = expand(r#"#[trace(bound = "T: Clone")] struct S<T: Copy> { a: T }"#);
        assert!(out.contains("where T : Clone"), "{out}");
        assert!(!out.contains("T : :: pygc"), "{out}");
        assert!(out.contains("impl < T : Copy >"), "{out}");
    }

    #[test]
    fn finalize_only_when_asked() {
        let plain = expand("struct S;");
        assert!(!plain.contains("run_finalizer"), "{plain}");
        assert!(
            plain.contains("fn has_finalizer () -> bool { false }"),
            "{plain}"
        );
        let out = expand("#[trace(finalize)] struct S;");
        assert!(
            out.contains("fn has_finalizer () -> bool { true }"),
            "{out}"
        );
        assert!(
            out.contains(":: pygc :: Finalize :: finalize (self)"),
            "{out}"
        );
    }

    #[test]
    fn leaves_only_give_false_and_recursion_or_skip_gives_true() {
        const FALSE: &str = "fn __may_contain_gc_within (_budget : u32) -> bool { false }";
        const TRUE: &str = "fn __may_contain_gc_within (_budget : u32) -> bool { true }";
        assert!(expand("struct S;").contains(FALSE));
        assert!(expand("enum E {}").contains(FALSE));
        let skipped = expand("struct S { #[trace(skip)] a: Rc<u8> }");
        assert!(skipped.contains(TRUE), "{skipped}");
        let borrowed =
            expand("struct S<'a> { #[trace(skip)] a: &'a u8, #[trace(skip)] b: *const u8 }");
        assert!(borrowed.contains(FALSE), "{borrowed}");
        let out = expand("enum Tree { Leaf(u8), Node(Box<Tree>) }");
        assert!(out.contains(TRUE), "{out}");
    }

    #[test]
    fn fields_are_asked_with_one_level_less_of_budget() {
        let out = expand("struct S { a: u8, b: Vec<u8> }");
        assert!(
            out.contains(
                "budget == 0 || < u8 as :: pygc :: Trace > :: __may_contain_gc_within (budget - 1)"
            ),
            "{out}"
        );
        assert!(out.contains("fn __value_facts"), "{out}");
    }

    #[test]
    fn errors_come_with_a_fallback_impl() {
        let out = expand("union U { a: u8 }");
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("unsafe impl :: pygc :: Trace for U"), "{out}");
        // Several mistakes are all reported.
        let out = expand("#[trace(skip, nope)] struct S { #[trace(finalize)] a: *const u8 }");
        assert_eq!(out.matches("compile_error").count(), 4, "{out}");
        // A broken crate path gets no fallback (it would not resolve).
        let out = expand(r#"#[trace(crate = "a b")] struct S;"#);
        assert!(
            out.contains("compile_error") && !out.contains("impl"),
            "{out}"
        );
    }

    #[test]
    fn checks_classify_field_types() {
        let out = expand(
            "struct S<T> { a: T, b: Vec<Box<dyn Shape>>, c: Option<Local>, d: Rc<Foreign>, \
             e: PhantomData<dyn Any>, f: Wrapper<dyn Any>, g: T::Assoc, h: &'static dyn X, \
             #[trace(skip)] i: Skipped }",
        );
        // The assertion statements, each as `assert_<kind> :: < < Type as`.
        let asserts: Vec<&str> = out
            .split("let _ = :: pygc :: __private :: ")
            .skip(1)
            .map(|rest| {
                rest.split(" :: pygc :: __private :: Identity")
                    .next()
                    .unwrap()
            })
            .collect();
        let count = |prefix: &str| asserts.iter().filter(|a| a.starts_with(prefix)).count();
        // Only `trace` names the field types here (the skipped field makes
        // `may_contain_gc` a plain `true`).
        assert_eq!(count("assert_type_param :: < < T as"), 1, "{asserts:?}");
        assert_eq!(
            count("assert_trait_object :: < < dyn Shape as"),
            1,
            "{asserts:?}"
        );
        // `c` (`Local`) and `f` (`Wrapper<dyn Any>`, not looked into).
        assert_eq!(count("assert_type :: < < Local as"), 1, "{asserts:?}");
        assert_eq!(
            count("assert_type :: < < Wrapper < dyn Any > as"),
            1,
            "{asserts:?}"
        );
        assert_eq!(asserts.len(), 4, "{asserts:?}");
        // Every body that names a field type asserts: `trace`,
        // `__may_contain_gc_within` and a struct's `__value_facts`.
        let out = expand("struct S { a: Local }");
        assert_eq!(
            out.matches("__private :: assert_type ::").count(),
            3,
            "{out}"
        );
        let out = expand("enum E { A(Local) }");
        assert_eq!(
            out.matches("__private :: assert_type ::").count(),
            2,
            "{out}"
        );
        // Nothing traced, nothing checked.
        assert!(!expand("struct S { #[trace(skip)] a: File }").contains("assert_"));
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for input in [
            "#[trace] struct S;",
            "#[trace = 1] struct S;",
            "#[trace(a::b)] struct S;",
            "#[trace(bound = 1)] struct S;",
            "#[trace(bound)] struct S;",
            "#[trace(crate)] struct S;",
            "#[trace(skip(1, 2))] struct S;",
            "#[trace(finalize, finalize)] struct S;",
            "enum E { #[trace(skip)] A }",
            "struct S(#[trace(skip, skip)] u8);",
            "struct S { a: [&'static u8; 2], b: (*mut u8,), c: fn(&u8) }",
            "#[repr(packed(2))] struct S(u8);",
        ] {
            let out = expand(input);
            assert!(out.contains("compile_error"), "{input}: {out}");
        }
        // An empty list is harmless.
        assert!(!expand("#[trace()] struct S;").contains("compile_error"));
    }
}
