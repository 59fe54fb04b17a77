//! Code that codegen writes itself, beside progenitor's: open enums and the
//! resource tree (`client.v1().variants().create(..).send()`).
//!
//! The tree is emitted from the methods progenitor actually generated (parsed
//! back with syn), so its calls always match their signatures: required values
//! become arguments, optional ones builder setters, and a JSON body is flattened
//! into the request (its required fields as arguments, the rest as setters).

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use serde_json::Value;
use typify::{TypeDetails, TypeSpace};

use crate::tree::Placement;
use crate::Error;

// ---------------------------------------------------------------------------
// Open enums

/// A string enum of the spec, emitted as an open enum.
pub struct OpenEnum {
    pub type_name: String,
    pub description: Option<String>,
    pub values: Vec<String>,
}

/// Every named string enum of the (fixed-up) spec.
pub fn open_enums(spec: &Value) -> Result<Vec<OpenEnum>, Error> {
    let schemas = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .ok_or_else(|| Error("the spec has no components.schemas".into()))?;
    let mut out = Vec::new();
    for (name, s) in schemas {
        if s.get("type").and_then(Value::as_str) != Some("string") {
            continue;
        }
        if let Some(values) = s.get("enum").and_then(Value::as_array) {
            out.push(OpenEnum {
                type_name: heck::ToPascalCase::to_pascal_case(name.as_str()),
                description: s
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                values: values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            });
        }
    }
    Ok(out)
}

fn variant_ident(value: &str) -> syn::Ident {
    let cleaned: String = value
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut name = heck::ToPascalCase::to_pascal_case(cleaned.as_str());
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert(0, 'V');
    }
    format_ident!("{}", name)
}

/// Enums that decode values this version does not know into `Unknown(String)`
/// instead of failing the whole response (quirk 20: none of Cloudflare's enums is
/// marked closed, and new values appear without notice): `(the enums, for the
/// `types` module; the `open_enums` module re-exporting them)`.
pub fn open_enum_tokens(enums: &[OpenEnum]) -> (TokenStream, TokenStream) {
    let defs = enums.iter().map(|e| {
        let name = format_ident!("{}", e.type_name);
        let doc = e.description.clone().unwrap_or_else(|| format!("`{}`", e.type_name));
        let idents: Vec<_> = e.values.iter().map(|v| variant_ident(v)).collect();
        let values = &e.values;
        let docs = values.iter().map(|v| format!("`{v}`"));
        quote! {
            #[doc = #doc]
            ///
            /// Open: a value this version of the SDK does not know decodes as `Unknown`.
            #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
            #[non_exhaustive]
            pub enum #name {
                #( #[doc = #docs] #idents, )*
                /// A value added to the API after this SDK was generated.
                Unknown(::std::string::String),
            }
            impl #name {
                /// The value as it goes on the wire.
                pub fn as_str(&self) -> &str {
                    match self {
                        #( Self::#idents => #values, )*
                        Self::Unknown(other) => other.as_str(),
                    }
                }
            }
            impl ::std::convert::From<&str> for #name {
                fn from(value: &str) -> Self {
                    match value {
                        #( #values => Self::#idents, )*
                        other => Self::Unknown(other.to_string()),
                    }
                }
            }
            impl ::std::convert::From<::std::string::String> for #name {
                fn from(value: ::std::string::String) -> Self {
                    Self::from(value.as_str())
                }
            }
            impl ::std::str::FromStr for #name {
                type Err = ::std::convert::Infallible;
                fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                    Ok(Self::from(value))
                }
            }
            impl ::std::fmt::Display for #name {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.write_str(self.as_str())
                }
            }
            impl ::serde::Serialize for #name {
                fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                    s.serialize_str(self.as_str())
                }
            }
            impl<'de> ::serde::Deserialize<'de> for #name {
                fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                    <::std::string::String as ::serde::Deserialize>::deserialize(d).map(Self::from)
                }
            }
        }
    });
    let names = enums.iter().map(|e| format_ident!("{}", e.type_name));
    (
        quote! { #(#defs)* },
        quote! {
            /// String enums of the API, open to values added after generation (they
            /// are in `types`, with the other types; also here by their former path).
            pub mod open_enums {
                pub use super::types::{#(#names),*};
            }
        },
    )
}

// ---------------------------------------------------------------------------
// Reading progenitor's methods back

/// One positional method progenitor generated.
pub struct Method {
    pub name: String,
    pub params: Vec<(syn::Ident, syn::Type)>,
    /// `X` of `Result<ResponseValue<X>, Error<E>>`.
    pub success: syn::Type,
}

/// Every method of progenitor's `impl Client`.
pub fn progenitor_methods(file: &syn::File) -> Result<Vec<Method>, Error> {
    let mut out = Vec::new();
    for item in &file.items {
        let syn::Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() || imp.self_ty.to_token_stream().to_string() != "Client" {
            continue;
        }
        for it in &imp.items {
            let syn::ImplItem::Fn(f) = it else { continue };
            if f.sig.asyncness.is_none() {
                continue;
            }
            let params = f
                .sig
                .inputs
                .iter()
                .filter_map(|arg| match arg {
                    syn::FnArg::Typed(pt) => match &*pt.pat {
                        syn::Pat::Ident(pi) => Some((pi.ident.clone(), (*pt.ty).clone())),
                        _ => None,
                    },
                    syn::FnArg::Receiver(_) => None,
                })
                .collect();
            let name = f.sig.ident.to_string();
            let success = success_type(&f.sig.output)
                .ok_or_else(|| Error(format!("{name}: unexpected return type from progenitor")))?;
            out.push(Method {
                name,
                params,
                success,
            });
        }
    }
    Ok(out)
}

fn generic_args(ty: &syn::Type) -> Option<(String, Vec<syn::Type>)> {
    let syn::Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    let syn::PathArguments::AngleBracketed(args) = &seg.arguments else {
        return Some((seg.ident.to_string(), vec![]));
    };
    let tys = args
        .args
        .iter()
        .filter_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    Some((seg.ident.to_string(), tys))
}

fn success_type(output: &syn::ReturnType) -> Option<syn::Type> {
    let syn::ReturnType::Type(_, ty) = output else {
        return None;
    };
    let (outer, args) = generic_args(ty)?;
    if outer != "Result" {
        return None;
    }
    let (rv, inner) = generic_args(args.first()?)?;
    (rv == "ResponseValue")
        .then(|| inner.into_iter().next())
        .flatten()
}

// ---------------------------------------------------------------------------
// The tree

/// How a value is kept in a request and handed to progenitor's method.
enum Pass {
    /// `&'a str` kept as `String`.
    Str,
    /// `&'a T` kept as `T`.
    Ref,
    /// `Option<&'a str>` kept as `Option<String>`.
    OptStr,
    /// `Option<&'a T>` kept as `Option<T>`.
    OptRef,
    /// `Option<T>` kept as is.
    OptOwned,
    /// `T` kept as is.
    Owned,
}

fn strip_ref(ty: &syn::Type) -> Option<syn::Type> {
    match ty {
        syn::Type::Reference(r) => Some((*r.elem).clone()),
        _ => None,
    }
}

fn classify(ty: &syn::Type) -> (Pass, syn::Type) {
    let string: syn::Type = syn::parse_quote!(::std::string::String);
    if let Some(inner) = strip_ref(ty) {
        let is_str = inner.to_token_stream().to_string() == "str";
        return if is_str {
            (Pass::Str, string)
        } else {
            (Pass::Ref, inner)
        };
    }
    if let Some((outer, args)) = generic_args(ty) {
        if outer == "Option" {
            if let Some(arg) = args.first() {
                if let Some(inner) = strip_ref(arg) {
                    let is_str = inner.to_token_stream().to_string() == "str";
                    return if is_str {
                        (Pass::OptStr, string)
                    } else {
                        (Pass::OptRef, inner)
                    };
                }
                return (Pass::OptOwned, arg.clone());
            }
        }
    }
    (Pass::Owned, ty.clone())
}

/// A value of a request: its field, how it is set, how it is sent.
struct Field {
    ident: syn::Ident,
    /// Type stored in the request struct.
    stored: TokenStream,
    /// `Some(inner)` for an optional value set by a setter taking `impl Into<inner>`.
    setter: Option<TokenStream>,
    /// Stored value starts as `Default::default()` (a setter replaces it).
    defaulted: bool,
    /// A free-form JSON object of the body: its setter takes any `Serialize`
    /// (checked when sent), as the handwritten upload's `metadata` does.
    json_object: bool,
    doc: Option<String>,
}

fn pascal(parts: &[String]) -> String {
    parts
        .iter()
        .map(|p| heck::ToPascalCase::to_pascal_case(p.as_str()))
        .collect()
}

#[derive(Default)]
struct Node {
    children: BTreeMap<String, Node>,
    methods: Vec<TokenStream>,
    items: Vec<TokenStream>,
}

/// Emits the resource tree over progenitor's methods.
pub fn emit_tree(
    placements: &[Placement],
    methods: &[Method],
    handwritten: &[Placement],
    types: &TypeSpace,
) -> Result<TokenStream, Error> {
    let mut root = Node::default();
    let mut markers = Vec::new();
    for p in placements {
        let node = p
            .resources
            .iter()
            .fold(&mut root, |n, r| n.children.entry(r.clone()).or_default());
        let owner = format_ident!("{}", pascal(&p.resources));
        let method = format_ident!("{}", p.method);
        let doc = method_doc(p);
        let deprecated = p.deprecated.then(
            || quote!(#[deprecated(note = "deprecated by Cloudflare; see the method's docs")]),
        );
        if handwritten.iter().any(|h| h.flat_name() == p.flat_name()) {
            // Named through a marker the handwritten layer implements
            // `runtime::Handwritten` for: a missing or renamed builder fails to
            // compile instead of being a dangling path in this generator.
            let marker = operation_variant(p);
            let marker_doc = format!(
                "`{} {}`: written by hand (multipart); the SDK implements \
                 `runtime::Handwritten` for this marker.",
                p.http.0.to_uppercase(),
                p.http.1
            );
            markers.push(quote! {
                #[doc = #marker_doc]
                #[derive(Debug)]
                pub struct #marker;
            });
            node.methods.push(quote! {
                #[doc = #doc]
                #deprecated
                pub fn #method(&self) -> <handwritten::#marker as crate::runtime::Handwritten>::Builder<'a> {
                    <handwritten::#marker as crate::runtime::Handwritten>::builder(self.client)
                }
            });
            continue;
        }
        let m = methods
            .iter()
            .find(|m| m.name == p.flat_name())
            .ok_or_else(|| Error(format!("progenitor generated no method {}", p.flat_name())))?;
        let (method_fn, request) = emit_operation(p, m, &owner, &method, &doc, deprecated, types)?;
        node.methods.push(method_fn);
        node.items.push(request);
    }

    let mut out = operation_ids(placements);
    out.extend(quote! {
        /// Markers of the operations written by hand, one per operation.
        pub(crate) mod handwritten {
            #(#markers)*
        }
    });
    let mut top = Vec::new();
    for (name, child) in &root.children {
        let ident = format_ident!("{}", name);
        let ty = format_ident!("{}", pascal(std::slice::from_ref(name)));
        let doc = format!("Operations under `/images/{name}`.");
        top.push(quote! {
            #[doc = #doc]
            pub fn #ident(&self) -> #ty<'_> {
                #ty { client: self }
            }
        });
        emit_node(std::slice::from_ref(name), child, &mut out);
    }
    Ok(quote! {
        use crate::api::types;
        use crate::Client;

        impl Client {
            #(#top)*
        }

        #out
    })
}

/// The variant of [`operation_ids`]'s enum for a placement (`v1.variants.get`
/// is `V1VariantsGet`).
fn operation_variant(p: &Placement) -> syn::Ident {
    format_ident!("{}", pascal(&[p.flat_name()]))
}

/// An enum of every operation of the tree, generated and handwritten: the
/// runtime routes on its variants (the batch host serves some), so renaming a
/// node changes a variant and code matching on the old one no longer compiles.
fn operation_ids(placements: &[Placement]) -> TokenStream {
    let variants: Vec<_> = placements.iter().map(operation_variant).collect();
    let names = placements.iter().map(Placement::flat_name);
    let docs = placements
        .iter()
        .map(|p| format!("`{} {}`", p.http.0.to_uppercase(), p.http.1));
    quote! {
        /// Every operation of the API, named by its place in the resource tree.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub(crate) enum OperationId {
            #( #[doc = #docs] #variants, )*
        }
        impl OperationId {
            /// The name spans and errors show (`v1_variants_get`).
            pub(crate) const fn as_str(self) -> &'static str {
                match self {
                    #( Self::#variants => #names, )*
                }
            }
        }
    }
}

fn emit_node(path: &[String], node: &Node, out: &mut TokenStream) {
    let ty = format_ident!("{}", pascal(path));
    let doc = format!("The `{}` resource: see its methods.", path.join("."));
    let children = node.children.keys().map(|name| {
        let mut child_path = path.to_vec();
        child_path.push(name.clone());
        let child_ty = format_ident!("{}", pascal(&child_path));
        let ident = format_ident!("{}", name);
        let doc = format!("The `{}` resource.", child_path.join("."));
        quote! {
            #[doc = #doc]
            pub fn #ident(&self) -> #child_ty<'a> {
                #child_ty { client: self.client }
            }
        }
    });
    let methods = &node.methods;
    let items = &node.items;
    out.extend(quote! {
        #[doc = #doc]
        #[derive(Clone, Copy, Debug)]
        pub struct #ty<'a> {
            client: &'a Client,
        }
        impl<'a> #ty<'a> {
            /// The client this resource sends through.
            pub fn client(&self) -> &'a Client {
                self.client
            }
            #(#children)*
            #(#methods)*
        }
        #(#items)*
    });
    for (name, child) in &node.children {
        let mut child_path = path.to_vec();
        child_path.push(name.clone());
        emit_node(&child_path, child, out);
    }
}

fn method_doc(p: &Placement) -> String {
    format!("{}\n\nSends `{} {}`.", p.docs, p.http.0, p.http.1)
}

/// The type of a named struct of the type space, by its Rust name.
fn find_struct<'a>(types: &'a TypeSpace, name: &str) -> Option<typify::Type<'a>> {
    types.iter_types().find(|t| t.name() == name)
}

fn last_segment(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn emit_operation(
    p: &Placement,
    m: &Method,
    owner: &syn::Ident,
    method: &syn::Ident,
    doc: &str,
    deprecated: Option<TokenStream>,
    types: &TypeSpace,
) -> Result<(TokenStream, TokenStream), Error> {
    let request = format_ident!("{}Request", pascal(&[p.flat_name()]));
    let mut fields: Vec<Field> = Vec::new();
    // How each value joins the operation: path parameter, query parameter, body.
    let mut joins = Vec::new();
    let mut body_build = TokenStream::new();
    let template = &p.http.1;
    let placeholders: Vec<String> = template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect();
    // Only ids show in `Debug`: bodies may carry credentials (sourcing-kit `secret`).
    let mut shown: Vec<syn::Ident> = Vec::new();
    for (ident, ty) in &m.params {
        if ident == "account_id" {
            // The transport fills `{account_id}` from the client.
            continue;
        }
        let (pass, stored) = classify(ty);
        if ident == "body" {
            // Flatten the body struct into the request.
            let name = last_segment(&stored);
            let body_ty = find_struct(types, &name)
                .ok_or_else(|| Error(format!("{}: body type {name} not found", p.flat_name())))?;
            let TypeDetails::Struct(s) = body_ty.details() else {
                return Err(Error(format!(
                    "{}: body type {name} is not an object",
                    p.flat_name()
                )));
            };
            let mut inits = Vec::new();
            for prop in s.properties_info() {
                let prop_ty = types
                    .get_type(&prop.type_id)
                    .map_err(|e| Error(e.to_string()))?;
                let fident = format_ident!("{}", prop.name);
                let doc = prop.description.map(str::to_string);
                match prop_ty.details() {
                    TypeDetails::Option(inner) => {
                        let inner = types
                            .get_type(&inner)
                            .map_err(|e| Error(e.to_string()))?
                            .ident();
                        let json_object = inner.to_string().contains("serde_json :: Map");
                        let full = if json_object {
                            quote!(::std::option::Option<crate::runtime::JsonObject>)
                        } else {
                            prop_ty.ident()
                        };
                        fields.push(Field {
                            ident: fident.clone(),
                            stored: full,
                            setter: Some(inner),
                            defaulted: true,
                            json_object,
                            doc,
                        });
                        if json_object {
                            inits.push(quote!(#fident: #fident
                                .map(crate::runtime::JsonObject::into_map)
                                .transpose()?));
                            continue;
                        }
                    }
                    TypeDetails::Vec(_) | TypeDetails::Map(..) if !prop.required => {
                        // typify skips an empty collection when serializing.
                        let full = prop_ty.ident();
                        fields.push(Field {
                            ident: fident.clone(),
                            stored: full.clone(),
                            setter: Some(full),
                            defaulted: true,
                            json_object: false,
                            doc,
                        });
                    }
                    _ if !prop.required => {
                        // A plain value would always be serialized: a PATCH would
                        // reset what the caller did not set.
                        return Err(Error(format!(
                            "{}: optional body field {} of {name} is not an Option, so it would \
                             always be sent; extend the optional_body_defaults fixup",
                            p.flat_name(),
                            prop.name
                        )));
                    }
                    _ => {
                        fields.push(Field {
                            ident: fident.clone(),
                            stored: prop_ty.ident(),
                            setter: None,
                            defaulted: false,
                            json_object: false,
                            doc,
                        });
                    }
                }
                inits.push(quote!(#fident));
            }
            let body_path = stored.to_token_stream();
            body_build = quote! { let body = #body_path { #(#inits,)* }; };
            joins.push(quote!(operation.json_body(&body)?;));
            continue;
        }
        let stored_tokens = stored.to_token_stream();
        let name = ident.to_string();
        let in_path = placeholders
            .iter()
            .find(|ph| heck::ToSnakeCase::to_snake_case(ph.as_str()) == name);
        let wire = match in_path {
            Some(placeholder) => placeholder.clone(),
            None => p
                .query
                .iter()
                .find(|q| heck::ToSnakeCase::to_snake_case(q.as_str()) == name)
                .cloned()
                .ok_or_else(|| {
                    Error(format!(
                        "{}: parameter {name} is neither in the path {template} nor a query parameter of the spec",
                        p.flat_name()
                    ))
                })?,
        };
        match pass {
            Pass::Str | Pass::Ref | Pass::Owned => {
                joins.push(if in_path.is_some() {
                    quote!(operation.path_param(#wire, &#ident);)
                } else {
                    quote!(operation.query_param(#wire, ::std::option::Option::Some(&#ident));)
                });
                fields.push(Field {
                    ident: ident.clone(),
                    stored: stored_tokens,
                    setter: None,
                    defaulted: false,
                    json_object: false,
                    doc: None,
                });
                shown.push(ident.clone());
            }
            Pass::OptStr | Pass::OptRef | Pass::OptOwned => {
                fields.push(Field {
                    ident: ident.clone(),
                    stored: quote!(::std::option::Option<#stored_tokens>),
                    setter: Some(stored_tokens),
                    defaulted: true,
                    json_object: false,
                    doc: None,
                });
                if in_path.is_some() {
                    return Err(Error(format!(
                        "{}: optional path parameter {name}",
                        p.flat_name()
                    )));
                }
                joins.push(match pass {
                    Pass::OptStr => quote!(operation.query_param(#wire, #ident.as_deref());),
                    _ => quote!(operation.query_param(#wire, #ident.as_ref());),
                });
            }
        }
    }

    let (filter_field, filter_setters, filter_init, filter_join, filter_ident) = if p
        .metadata_filters
    {
        (
            quote!(metadata_filters: ::std::vec::Vec<crate::pagination::MetadataFilter>,),
            quote! {
                /// Adds a metadata filter (`meta.<path>[<op>]=<value>`), checked when sent;
                /// several filters all apply.
                pub fn filter(mut self, filter: crate::pagination::MetadataFilter) -> Self {
                    self.metadata_filters.push(filter);
                    self
                }
                /// Adds several metadata filters.
                pub fn filters(
                    mut self,
                    filters: impl ::std::iter::IntoIterator<Item = crate::pagination::MetadataFilter>,
                ) -> Self {
                    self.metadata_filters.extend(filters);
                    self
                }
            },
            quote!(metadata_filters: ::std::vec::Vec::new(),),
            quote!(operation.query_pairs(&crate::pagination::filter_pairs(&metadata_filters)?);),
            quote!(metadata_filters,),
        )
    } else {
        Default::default()
    };
    let required: Vec<&Field> = fields.iter().filter(|f| f.setter.is_none()).collect();
    let arg_idents: Vec<_> = required.iter().map(|f| &f.ident).collect();
    let arg_types = required.iter().map(|f| &f.stored);
    let field_defs = fields.iter().map(|f| {
        let (i, t) = (&f.ident, &f.stored);
        quote!(#i: #t)
    });
    let field_inits = fields.iter().map(|f| {
        let i = &f.ident;
        if f.defaulted {
            quote!(#i: ::std::default::Default::default())
        } else {
            quote!(#i: #i.into())
        }
    });
    let setters = fields.iter().filter_map(|f| {
        let inner = f.setter.as_ref()?;
        let i = &f.ident;
        let doc = f.doc.clone().unwrap_or_else(|| format!("Sets `{i}`."));
        if f.json_object {
            return Some(quote! {
                #[doc = #doc]
                ///
                /// Takes anything that serializes to a JSON object (a `serde_json::Map`,
                /// a `json!({..})`, a `#[derive(Serialize)]` struct); checked when sent.
                pub fn #i(mut self, value: impl ::serde::Serialize) -> Self {
                    self.#i = ::std::option::Option::Some(crate::runtime::JsonObject::new(&value));
                    self
                }
            });
        }
        let is_option = f.stored.to_string().contains("Option <");
        let assign = if is_option {
            quote!(::std::option::Option::Some(value.into()))
        } else {
            quote!(value.into())
        };
        Some(quote! {
            #[doc = #doc]
            pub fn #i(mut self, value: impl ::std::convert::Into<#inner>) -> Self {
                self.#i = #assign;
                self
            }
        })
    });
    let all_idents: Vec<_> = fields.iter().map(|f| &f.ident).collect();
    let variant = operation_variant(p);
    let http_method = format_ident!("{}", p.http.0.to_uppercase());

    let (ret, finish) = if last_segment(&m.success) == "ByteStream" {
        (
            quote!(crate::Blob),
            quote!(client.execute_blob(operation).await),
        )
    } else {
        let envelope = last_segment(&m.success);
        let env_ty = find_struct(types, &envelope).ok_or_else(|| {
            Error(format!(
                "{}: response type {envelope} not found",
                p.flat_name()
            ))
        })?;
        let TypeDetails::Struct(s) = env_ty.details() else {
            return Err(Error(format!(
                "{}: response {envelope} is not an envelope",
                p.flat_name()
            )));
        };
        let result = s
            .properties_info()
            .find(|pr| pr.name == "result")
            .ok_or_else(|| {
                Error(format!(
                    "{}: response {envelope} has no result",
                    p.flat_name()
                ))
            })?;
        let result_ty = types
            .get_type(&result.type_id)
            .map_err(|e| Error(e.to_string()))?
            .ident();
        (result_ty, quote!(client.execute(operation).await))
    };

    let req_doc = format!(
        "Request built by [`{owner}::{method}`]: set optional values, then [`send`]({request}::send) it."
    );
    let method_fn = quote! {
        #[doc = #doc]
        #deprecated
        pub fn #method(&self, #(#arg_idents: impl ::std::convert::Into<#arg_types>),*) -> #request<'a> {
            #request {
                client: ::std::borrow::Cow::Borrowed(self.client),
                request_options: ::std::default::Default::default(),
                #filter_init
                #(#field_inits,)*
            }
        }
    };
    // Listings get a request that owns its client, which the handwritten pagers
    // keep and send once per page (setting the page or token).
    let listing = p
        .query
        .iter()
        .any(|q| q == "continuation_token" || q == "page");
    let into_owned = listing.then(|| {
        quote! {
            /// The same request, holding a clone of the client instead of a borrow.
            #[allow(dead_code)]
            pub(crate) fn into_owned(self) -> #request<'static> {
                let Self { client, request_options, #filter_ident #(#all_idents,)* } = self;
                #request {
                    client: ::std::borrow::Cow::Owned(client.into_owned()),
                    request_options,
                    #filter_ident
                    #(#all_idents,)*
                }
            }
        }
    });
    let send_doc = "Sends the request and returns the `result` of Cloudflare's envelope.";
    let request_name = request.to_string();
    let shown_names = shown.iter().map(|i| i.to_string());
    let item = quote! {
        #[doc = #req_doc]
        #[derive(Clone)]
        #[must_use = "a request does nothing until it is sent with `.send().await`"]
        pub struct #request<'a> {
            // Owned once detached (`into_owned`) by a stream that outlives the borrow.
            client: ::std::borrow::Cow<'a, Client>,
            request_options: crate::runtime::RequestOptions,
            #filter_field
            #(#field_defs,)*
        }
        impl ::std::fmt::Debug for #request<'_> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(#request_name)
                    #(.field(#shown_names, &self.#shown))*
                    .finish_non_exhaustive()
            }
        }
        impl<'a> #request<'a> {
            #into_owned
            #(#setters)*
            #filter_setters
            /// The deadline for the whole operation, retries and their waits
            /// included, instead of the client's ([`Timeouts::operation`](crate::config::Timeouts::operation)).
            pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self.request_options.timeout = ::std::option::Option::Some(timeout);
                self
            }
            /// The deadline for each attempt instead of the client's
            /// ([`Timeouts::attempt`](crate::config::Timeouts::attempt)).
            pub fn attempt_timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self.request_options.attempt_timeout = ::std::option::Option::Some(timeout);
                self
            }
            #[doc = #send_doc]
            pub async fn send(self) -> crate::Result<#ret> {
                let Self { client, request_options, #filter_ident #(#all_idents,)* } = self;
                #body_build
                let mut operation = crate::runtime::Operation::new(
                    OperationId::#variant,
                    crate::runtime::Method::#http_method,
                    #template,
                );
                #(#joins)*
                #filter_join
                operation.options(request_options);
                #finish
            }
        }
    };
    Ok((method_fn, item))
}
