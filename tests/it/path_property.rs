//! Property test: whatever id a caller passes, the emulator (which decodes the
//! path as Cloudflare does) sees exactly that id, or the SDK refuses it before
//! sending. Ids mix `/`, `\`, `%`, `?`, `#`, `;`, `.`/`..` segments, spaces,
//! control characters and any Unicode.

use cloudflare_images::{Client, ErrorKind};
use cloudflare_images_emulator::fixtures::PIXEL_PNG;
use cloudflare_images_emulator::Emulator;
use proptest::prelude::*;

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/".to_string()),
        Just("\\".to_string()),
        Just("%".to_string()),
        Just("%2F".to_string()),
        Just("?".to_string()),
        Just("#".to_string()),
        Just(";".to_string()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just(" ".to_string()),
        Just("+".to_string()),
        "[a-z0-9]{1,3}",
        any::<char>().prop_map(String::from),
    ]
}

fn id() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 1..8).prop_map(|parts| parts.concat())
}

/// Cloudflare's rules for custom ids, restated independently of the SDK.
fn acceptable_custom_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= 1024
        && !id.chars().any(char::is_control)
        && !id.starts_with('/')
        && !id.ends_with('/')
        && !id.split('/').any(|s| s == "." || s == "..")
        && uuid_like(id).is_none()
}

fn uuid_like(id: &str) -> Option<()> {
    (id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4).then_some(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ids_reach_the_server_exactly_or_not_at_all(ids in prop::collection::vec(id(), 1..4)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let emu = Emulator::start().await.unwrap();
            let client = Client::builder()
                .api_token("any")
                .account_id(emu.account_id())
                .base_url(emu.base_url())
                .build()
                .unwrap();
            for id in &ids {
                let before = emu.request_count();
                let uploaded = client.v1().create().file(PIXEL_PNG, "p.png").id(id.as_str()).send().await;
                if !acceptable_custom_id(id) {
                    let e = uploaded.expect_err("refused");
                    prop_assert_eq!(e.kind(), ErrorKind::InvalidInput, "{:?}: {}", id, e);
                    prop_assert_eq!(emu.request_count(), before, "nothing sent for {:?}", id);
                    // Addressing it: refused before sending, or not found.
                    let before = emu.request_count();
                    match client.v1().get(id.as_str()).send().await {
                        Err(e) if e.kind() == ErrorKind::InvalidInput => {
                            prop_assert_eq!(emu.request_count(), before);
                        }
                        Err(e) => prop_assert!(e.has_code(5404), "{:?}: {}", id, e),
                        Ok(image) => prop_assert!(false, "{:?} addressed {:?}", id, image.id),
                    }
                    continue;
                }
                let image = uploaded.map_err(|e| TestCaseError::fail(format!("{id:?}: {e}")))?;
                prop_assert_eq!(image.id.as_deref(), Some(id.as_str()));
                let got = client.v1().get(id.as_str()).send().await
                    .map_err(|e| TestCaseError::fail(format!("get {id:?}: {e}")))?;
                prop_assert_eq!(got.id.as_deref(), Some(id.as_str()));
                let blob = client.v1().blobs().get(id.as_str()).send().await
                    .map_err(|e| TestCaseError::fail(format!("blob {id:?}: {e}")))?
                    .bytes().await.unwrap();
                prop_assert_eq!(&blob[..], PIXEL_PNG);
                client.v1().delete(id.as_str()).send().await
                    .map_err(|e| TestCaseError::fail(format!("delete {id:?}: {e}")))?;
                let gone = client.v1().get(id.as_str()).send().await.expect_err("deleted");
                prop_assert!(gone.has_code(5404), "{:?}: {}", id, gone);
            }
            // Nothing else was stored or deleted along the way.
            prop_assert_eq!(emu.image_count(), 0);
            Ok(())
        })?;
    }
}
