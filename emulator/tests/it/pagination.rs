//! Both paginations over 25,000 images: every id exactly once, in order.

use std::collections::HashSet;

use crate::common::*;
use serde_json::Value;

const N: usize = 25_000;

fn assert_each_once(seen: &[String], expected: &[String]) {
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no id is returned twice");
    assert_eq!(seen.len(), expected.len());
    assert_eq!(seen, expected, "order matches upload order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_page_pagination_over_25000_images() {
    let ctx = Ctx::new().await;
    let seeded = ctx.emu.seed_images(N).await;
    assert_eq!(seeded.len(), N);
    assert_eq!(ctx.emu.image_count(), N);
    for per_page in [1000usize, 2500, 10_000] {
        let mut seen = Vec::new();
        let mut page = 1;
        loop {
            let answer = ctx
                .get(&format!("v1?page={page}&per_page={per_page}"))
                .await;
            let ids = listed_ids(answer.assert_ok());
            let short = ids.len() < per_page;
            seen.extend(ids);
            if short {
                break;
            }
            page += 1;
            assert!(page <= N / per_page + 2, "pagination terminates");
        }
        assert_each_once(&seen, &seeded);
    }
    // The default page size is 100.
    let first = ctx.get("v1").await;
    assert_eq!(listed_ids(first.assert_ok()), seeded[..100]);
}

async fn walk_v2(ctx: &Ctx, query: &str) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &token {
            Some(t) => format!("v2?{query}&continuation_token={t}"),
            None => format!("v2?{query}"),
        };
        let answer = ctx.get(&url).await;
        let result = answer.assert_ok();
        seen.extend(listed_ids(result));
        pages += 1;
        assert!(pages <= N, "pagination terminates");
        match &result["continuation_token"] {
            Value::String(t) => token = Some(t.clone()),
            Value::Null => break,
            other => panic!("unexpected token {other}"),
        }
    }
    (seen, pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_continuation_pagination_over_25000_images() {
    let ctx = Ctx::new().await;
    let seeded = ctx.emu.seed_images(N).await;
    let newest_first: Vec<String> = seeded.iter().rev().cloned().collect();

    // Default: desc, 1000 per page: 25 pages, the last one without a token.
    let (seen, pages) = walk_v2(&ctx, "").await;
    assert_each_once(&seen, &newest_first);
    assert_eq!(pages, 25);

    let (seen, pages) = walk_v2(&ctx, "sort_order=asc&per_page=777").await;
    assert_each_once(&seen, &seeded);
    assert_eq!(pages, N.div_ceil(777));

    let (seen, _) = walk_v2(&ctx, "sort_order=desc&per_page=10000").await;
    assert_each_once(&seen, &newest_first);

    // With a metadata filter: exactly the even-indexed half.
    let evens: Vec<String> = seeded.iter().step_by(2).cloned().collect();
    let (seen, _) = walk_v2(
        &ctx,
        "sort_order=asc&per_page=5000&meta.even[eq:boolean]=true",
    )
    .await;
    assert_each_once(&seen, &evens);
    let (seen, _) = walk_v2(
        &ctx,
        "sort_order=asc&per_page=1000&meta.index[gte]=1000&meta.index[lt]=3500",
    )
    .await;
    assert_each_once(&seen, &seeded[1000..3500]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_tokens_stay_valid_when_images_change() {
    let ctx = Ctx::new().await;
    let seeded = ctx.emu.seed_images(2500).await;
    let first = ctx.get("v2?sort_order=asc&per_page=1000").await;
    let result = first.assert_ok().clone();
    let token = result["continuation_token"]
        .as_str()
        .expect("token")
        .to_owned();
    // Delete the last image of the page just read and the first of the next page; add one.
    ctx.delete(&format!("v1/{}", seeded[999])).await.assert_ok();
    ctx.delete(&format!("v1/{}", seeded[1000]))
        .await
        .assert_ok();
    let added = ctx.upload_png(&[]).await;
    let mut seen = listed_ids(&result);
    let mut token = Some(token);
    while let Some(t) = token.take() {
        let answer = ctx
            .get(&format!(
                "v2?sort_order=asc&per_page=1000&continuation_token={t}"
            ))
            .await;
        let result = answer.assert_ok();
        seen.extend(listed_ids(result));
        token = result["continuation_token"].as_str().map(str::to_owned);
    }
    let mut expected: Vec<String> = seeded
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1000)
        .map(|(_, id)| id.clone())
        .collect();
    expected.push(added["id"].as_str().expect("id").to_owned());
    assert_each_once(&seen, &expected);
}
