//! Rust names for JSON names that typify mangles.
//!
//! typify snake-cases property names word by word, so an acronym in the plural
//! splits: `requireSignedURLs` becomes `require_signed_ur_ls`. The JSON name stays
//! in a `#[serde(rename)]` string, so renaming the identifier everywhere it occurs
//! (fields, accessors, default functions, our own setters) is safe.

use std::collections::BTreeMap;

use heck::ToSnakeCase;
use serde_json::Value;
use syn::visit_mut::VisitMut;

/// Snake case that keeps a plural acronym together: `requireSignedURLs` ->
/// `require_signed_urls`.
pub fn acronym_aware_snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_uppercase())
            .count();
        let plural = run >= 2
            && chars.get(i + run) == Some(&'s')
            && chars
                .get(i + run + 1)
                .is_none_or(|c| !c.is_ascii_lowercase());
        if plural {
            out.push(chars[i]);
            out.extend(chars[i + 1..i + run].iter().map(|c| c.to_ascii_lowercase()));
            i += run;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out.to_snake_case()
}

/// `(typify's name, better name)` for every property name in the spec where they differ.
pub fn identifier_renames(spec: &Value) -> BTreeMap<String, String> {
    let mut renames = BTreeMap::new();
    collect(spec, &mut renames);
    renames
}

fn collect(v: &Value, renames: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                for name in props.keys() {
                    let typify = name.to_snake_case();
                    let better = acronym_aware_snake(name);
                    if typify != better {
                        renames.insert(typify, better);
                    }
                }
            }
            map.values().for_each(|c| collect(c, renames));
        }
        Value::Array(items) => items.iter().for_each(|c| collect(c, renames)),
        _ => {}
    }
}

/// Renames every identifier containing a mangled name.
pub fn apply_renames(file: &mut syn::File, renames: &BTreeMap<String, String>) {
    struct Renamer<'a>(&'a BTreeMap<String, String>);
    impl VisitMut for Renamer<'_> {
        fn visit_ident_mut(&mut self, ident: &mut proc_macro2::Ident) {
            let s = ident.to_string();
            let mut new = s.clone();
            for (bad, good) in self.0 {
                if new.contains(bad.as_str()) {
                    new = new.replace(bad.as_str(), good);
                }
            }
            if new != s {
                *ident = proc_macro2::Ident::new(&new, ident.span());
            }
        }
    }
    if !renames.is_empty() {
        Renamer(renames).visit_file_mut(file);
    }
}

/// Generated type names that say what the type is, for the names typify builds
/// from a schema path: `(typify's name, name in the SDK)`. Types only, never a
/// JSON name, so the wire is unchanged.
pub const TYPE_RENAMES: &[(&str, &str)] = &[
    // `result` of the v2 listing: one page of images and the next token.
    ("ImagesListResponseV2Result", "V2ListResult"),
    // The `status` of a sourcing-kit connectivity check.
    (
        "SourcingkitConnectivityCheckResponseResultConnectivityStatus",
        "SourcingkitConnectivityStatus",
    ),
];

/// Renames each type of `renames` wherever its identifier occurs whole, in every
/// file; an entry that matches nothing is an error (the spec or typify changed
/// the name, and the table must follow).
pub fn rename_types(files: &mut [&mut syn::File], renames: &[(&str, &str)]) -> Result<(), String> {
    struct Renamer<'a> {
        renames: &'a [(&'a str, &'a str)],
        used: Vec<bool>,
    }
    impl VisitMut for Renamer<'_> {
        fn visit_ident_mut(&mut self, ident: &mut proc_macro2::Ident) {
            if let Some(i) = self.renames.iter().position(|(old, _)| ident == old) {
                self.used[i] = true;
                *ident = proc_macro2::Ident::new(self.renames[i].1, ident.span());
            }
        }
        // typify's doc line for an undescribed type is its name in backticks.
        fn visit_lit_str_mut(&mut self, lit: &mut syn::LitStr) {
            let value = lit.value();
            if let Some((_, new)) = self
                .renames
                .iter()
                .find(|(old, _)| value == format!("`{old}`"))
            {
                *lit = syn::LitStr::new(&format!("`{new}`"), lit.span());
            }
        }
    }
    let mut renamer = Renamer {
        renames,
        used: vec![false; renames.len()],
    };
    for file in files.iter_mut() {
        renamer.visit_file_mut(file);
    }
    let stale: Vec<&str> = renames
        .iter()
        .zip(&renamer.used)
        .filter(|(_, used)| !**used)
        .map(|((old, _), _)| *old)
        .collect();
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "type renames that match no generated type (update TYPE_RENAMES in \
             codegen/src/names.rs): {}",
            stale.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_renames_apply_to_whole_identifiers_in_every_file() {
        let mut types: syn::File = syn::parse_str(
            "#[doc = \"`ImagesListResponseV2Result`\"] pub struct ImagesListResponseV2Result { a: u8 } \
             pub struct ImagesListResponseV2ResultExtra; \
             pub mod open_enums { pub enum SourcingkitConnectivityCheckResponseResultConnectivityStatus { Up } }",
        )
        .unwrap();
        let mut tree: syn::File =
            syn::parse_str("fn send() -> types::ImagesListResponseV2Result { todo!() }").unwrap();
        rename_types(&mut [&mut types, &mut tree], TYPE_RENAMES).unwrap();
        let (types, tree) = (
            quote::quote!(#types).to_string(),
            quote::quote!(#tree).to_string(),
        );
        assert!(types.contains("pub struct V2ListResult {"), "{types}");
        assert!(types.contains("\"`V2ListResult`\""), "{types}");
        assert!(
            types.contains("ImagesListResponseV2ResultExtra"),
            "only whole names: {types}"
        );
        assert!(
            types.contains("pub enum SourcingkitConnectivityStatus"),
            "{types}"
        );
        assert!(tree.contains("types :: V2ListResult"), "{tree}");
    }

    #[test]
    fn a_type_rename_that_matches_nothing_is_an_error() {
        let mut file: syn::File = syn::parse_str("pub struct Other;").unwrap();
        let err = rename_types(&mut [&mut file], &[("Gone", "New")]).unwrap_err();
        assert!(
            err.contains("Gone") && err.contains("TYPE_RENAMES"),
            "{err}"
        );
    }

    #[test]
    fn plural_acronyms_stay_whole() {
        assert_eq!(
            acronym_aware_snake("requireSignedURLs"),
            "require_signed_urls"
        );
        assert_eq!(
            acronym_aware_snake("neverRequireSignedURLs"),
            "never_require_signed_urls"
        );
        assert_eq!(acronym_aware_snake("uploadURL"), "upload_url");
        assert_eq!(acronym_aware_snake("per_page"), "per_page");
        assert_eq!("requireSignedURLs".to_snake_case(), "require_signed_ur_ls");
    }

    #[test]
    fn renames_apply_to_fields_and_derived_identifiers() {
        let spec = serde_json::json!({"properties": {"requireSignedURLs": {}, "id": {}}});
        let renames = identifier_renames(&spec);
        assert_eq!(renames.len(), 1);
        let mut file: syn::File = syn::parse_str(
            "struct A { require_signed_ur_ls: bool } fn default_require_signed_ur_ls() {}",
        )
        .unwrap();
        apply_renames(&mut file, &renames);
        let text = quote::quote!(#file).to_string();
        assert!(text.contains("require_signed_urls : bool"), "{text}");
        assert!(text.contains("fn default_require_signed_urls"), "{text}");
    }
}
