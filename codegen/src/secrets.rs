//! Keeps credentials out of `Debug`.
//!
//! typify derives `Debug` on every type, so printing a keys list would print the
//! signing keys, and printing a sourcing-kit request its storage credentials.
//! Every property marked `writeOnly` in the spec (credentials sent, never read
//! back) and every property in [`SECRETS`] loses its value in a hand-emitted
//! `Debug` impl: it prints `<redacted>` instead.

use std::collections::BTreeMap;

use quote::{format_ident, quote};
use serde_json::Value;

use crate::names::acronym_aware_snake;
use crate::Error;

/// Secrets the spec does not mark: `(component schema, property, why)`.
pub const SECRETS: &[(&str, &str, &str)] = &[
    (
        "image_keys",
        "value",
        "signing key material for signed URLs",
    ),
    (
        "batch_token",
        "token",
        "a bearer credential for the batch host, good until its expiresAt",
    ),
];

/// Rust type name -> Rust field names to redact.
pub fn secret_fields(spec: &Value) -> Result<BTreeMap<String, Vec<String>>, Error> {
    let schemas = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .ok_or_else(|| Error("the spec has no components.schemas".into()))?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, schema) in schemas {
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            continue;
        };
        for (prop, prop_schema) in props {
            let listed = SECRETS.iter().any(|(s, p, _)| s == name && p == prop);
            if listed || prop_schema.get("writeOnly") == Some(&Value::Bool(true)) {
                out.entry(heck::ToPascalCase::to_pascal_case(name.as_str()))
                    .or_default()
                    .push(acronym_aware_snake(prop));
            }
        }
    }
    for (schema, prop, _) in SECRETS {
        let found = schemas
            .get(*schema)
            .and_then(|s| s.pointer(&format!("/properties/{prop}")))
            .is_some();
        if !found {
            return Err(Error(format!(
                "secrets::SECRETS names {schema}.{prop}, which the spec no longer has"
            )));
        }
    }
    Ok(out)
}

/// Replaces the derived `Debug` of each struct in `mod types` named in `secrets`
/// with one that redacts the secret fields.
pub fn redact(file: &mut syn::File, secrets: &BTreeMap<String, Vec<String>>) -> Result<(), Error> {
    let types_mod = file
        .items
        .iter_mut()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "types" => m.content.as_mut(),
            _ => None,
        })
        .ok_or_else(|| Error("progenitor emitted no `mod types`".into()))?;
    let mut impls = Vec::new();
    let mut seen = 0;
    for item in types_mod.1.iter_mut() {
        let syn::Item::Struct(s) = item else { continue };
        let Some(redacted) = secrets.get(&s.ident.to_string()) else {
            continue;
        };
        seen += 1;
        for attr in &mut s.attrs {
            if attr.path().is_ident("derive") {
                let list: syn::punctuated::Punctuated<syn::Path, syn::Token![,]> = attr
                    .parse_args_with(syn::punctuated::Punctuated::parse_terminated)
                    .map_err(|e| Error(format!("derive on {}: {e}", s.ident)))?;
                let kept: Vec<_> = list.into_iter().filter(|p| !p.is_ident("Debug")).collect();
                *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
            }
        }
        let name = &s.ident;
        let name_str = name.to_string();
        let syn::Fields::Named(fields) = &s.fields else {
            return Err(Error(format!(
                "{name} has secret fields but is not a struct with named fields"
            )));
        };
        let mut missing: Vec<&String> = redacted.iter().collect();
        let entries = fields.named.iter().filter_map(|f| {
            let ident = f.ident.as_ref()?;
            let field = ident.to_string();
            if redacted.contains(&field) {
                missing.retain(|m| **m != field);
                Some(quote!(.field(#field, &"<redacted>")))
            } else {
                Some(quote!(.field(#field, &self.#ident)))
            }
        });
        let entries: Vec<_> = entries.collect();
        if !missing.is_empty() {
            return Err(Error(format!(
                "{name} has no field(s) {missing:?} to redact"
            )));
        }
        let impl_ident = format_ident!("{}", name_str);
        impls.push(syn::parse_quote! {
            impl ::std::fmt::Debug for #impl_ident {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.debug_struct(#name_str) #(#entries)* .finish()
                }
            }
        });
    }
    if seen != secrets.len() {
        return Err(Error(format!(
            "found {seen} of the {} types with secret fields",
            secrets.len()
        )));
    }
    types_mod.1.extend(impls);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_only_and_listed_fields_are_found() {
        let spec = serde_json::json!({"components": {"schemas": {
            "image_keys": {"properties": {"name": {}, "value": {}}},
            "batch_token": {"properties": {"token": {}, "expiresAt": {}}},
            "source_create_request": {"properties": {"bucket": {}, "secret": {"type": "object", "writeOnly": true}}}}}});
        let found = secret_fields(&spec).unwrap();
        assert_eq!(found["ImageKeys"], ["value"]);
        assert_eq!(found["BatchToken"], ["token"]);
        assert_eq!(found["SourceCreateRequest"], ["secret"]);
        let gone = serde_json::json!({"components": {"schemas": {
            "image_keys": {"properties": {"name": {}}},
            "batch_token": {"properties": {"token": {}}}}}});
        assert!(secret_fields(&gone).unwrap_err().0.contains("no longer"));
    }

    #[test]
    fn debug_is_replaced_by_a_redacting_impl() {
        let mut file: syn::File = syn::parse_quote! {
            pub mod types {
                #[derive(Clone, Debug, Default)]
                pub struct ImageKeys { pub name: Option<String>, pub value: Option<String> }
            }
        };
        let secrets = [("ImageKeys".to_string(), vec!["value".to_string()])]
            .into_iter()
            .collect();
        redact(&mut file, &secrets).unwrap();
        let text = quote!(#file).to_string();
        assert!(text.contains("derive (Clone , Default)"), "{text}");
        assert!(
            text.contains(". field (\"value\" , & \"<redacted>\")"),
            "{text}"
        );
        assert!(
            text.contains(". field (\"name\" , & self . name)"),
            "{text}"
        );
    }
}
