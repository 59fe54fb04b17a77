//! Pagination: every image as a stream, page by page with checkpoints, filtered by
//! metadata, against a local Images emulator started in this process (no
//! Cloudflare account needed).
//!
//! Run: `cargo run --example pagination`
//! Against the real API, build the client with `Client::from_env()?` instead.

use cloudflare_images::pagination::MetadataFilter;
use cloudflare_images::types::V2ListSortOrder;
use cloudflare_images::Client;
use cloudflare_images_emulator::Emulator;
use futures_util::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start().await?;
    // 300 images with metadata {"index": i, "even": i % 2 == 0}.
    let seeded = emulator.seed_images(300).await;
    println!(
        "local Images emulator at {}, {} images seeded",
        emulator.base_url(),
        seeded.len()
    );

    let client = Client::builder()
        .api_token("local-token")
        .account_id(emulator.account_id())
        .base_url(emulator.base_url())
        .build()?;

    // v1 (deprecated by Cloudflare): page numbers. The pager is itself a stream.
    #[allow(deprecated)]
    let mut v1 = client.v1().list_all().per_page(100);
    let mut count = 0;
    while let Some(_image) = v1.try_next().await? {
        count += 1;
    }
    println!("v1: {count} images");

    // v2: continuation tokens, page by page. Save `continuation_token` after
    // processing a page to resume there later.
    let mut pages = client
        .v2()
        .list_all()
        .per_page(100)
        .sort_order(V2ListSortOrder::Asc)
        .pages();
    let mut checkpoint = None;
    while let Some(page) = pages.try_next().await? {
        println!(
            "v2 page {}: {} images, next token {}",
            page.number,
            page.images.len(),
            page.continuation_token
                .as_deref()
                .unwrap_or("(none: last page)")
        );
        if page.number == 0 {
            checkpoint = page.continuation_token.clone();
        }
    }

    // Resume from the checkpoint taken after the first page, fetching the next
    // page in the background while the current one is consumed.
    if let Some(token) = checkpoint {
        let rest: Vec<_> = client
            .v2()
            .list_all()
            .per_page(100)
            .sort_order(V2ListSortOrder::Asc)
            .resume_from(token)
            .prefetch(true)
            .try_collect()
            .await?;
        println!("v2 resumed after page 0: {} images", rest.len());
    }

    // Metadata filters: even-numbered images with index below 100.
    let filtered: Vec<_> = client
        .v2()
        .list_all()
        .per_page(1000)
        .filter(MetadataFilter::eq("even", true))
        .filter(MetadataFilter::lt("index", 100))
        .try_collect()
        .await?;
    println!(
        "v2 with meta.even[eq:boolean]=true and meta.index[lt:number]=100: {} images",
        filtered.len()
    );

    // Filters are checked before anything is sent.
    let error = client
        .v2()
        .list_all()
        .filter(MetadataFilter::gt("index", "ten"))
        .try_collect::<Vec<_>>()
        .await
        .err();
    if let Some(e) = error {
        println!("rejected before sending: {e}");
    }
    Ok(())
}
