//! Per-request overhead of the SDK against raw `reqwest`, as a ratio measured in
//! one run on the same local emulator (see BENCHMARKS.md):
//!
//! ```sh
//! cargo bench --bench bench_overhead
//! ```
//!
//! Both sides send `GET v1/stats` with the same credentials over a warm
//! connection and decode the envelope; the SDK also goes through its transport
//! (path encoding, deadlines, retry bookkeeping, rate-limit state, bounded body,
//! tracing span with no subscriber). Rounds alternate between the two so drift
//! in the machine's speed hits both; the median of the per-round ratios is
//! printed.

use std::time::{Duration, Instant};

use cloudflare_images::Client;
use cloudflare_images_emulator::Emulator;

const PER_ROUND: usize = 400;
const ROUNDS: usize = 15;

#[derive(serde::Deserialize)]
struct Envelope {
    success: bool,
    result: cloudflare_images::types::ImagesStats,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emu = Emulator::start().await?;
    let sdk = Client::builder()
        .api_token("bench-token")
        .account_id(emu.account_id())
        .base_url(emu.base_url())
        .build()?;
    let raw = cloudflare_images::http_client_builder()?.build()?;
    let url = format!(
        "{}/accounts/{}/images/v1/stats",
        emu.base_url(),
        emu.account_id()
    );

    let raw_round = || async {
        let start = Instant::now();
        for _ in 0..PER_ROUND {
            let body = raw
                .get(&url)
                .bearer_auth("bench-token")
                .header("accept", "application/json")
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            let envelope: Envelope = serde_json::from_slice(&body)?;
            assert!(envelope.success && envelope.result.count.is_some());
        }
        Ok::<Duration, Box<dyn std::error::Error>>(start.elapsed())
    };
    let sdk_round = || async {
        let start = Instant::now();
        for _ in 0..PER_ROUND {
            let stats = sdk.v1().stats().get().send().await?;
            assert!(stats.count.is_some());
        }
        Ok::<Duration, Box<dyn std::error::Error>>(start.elapsed())
    };

    // Warm-up: connections, allocator, caches.
    raw_round().await?;
    sdk_round().await?;
    let mut ratios = Vec::with_capacity(ROUNDS);
    let (mut raw_total, mut sdk_total) = (Duration::ZERO, Duration::ZERO);
    for round in 0..ROUNDS {
        // Alternate which goes first.
        let (r, s) = if round % 2 == 0 {
            let r = raw_round().await?;
            (r, sdk_round().await?)
        } else {
            let s = sdk_round().await?;
            (raw_round().await?, s)
        };
        raw_total += r;
        sdk_total += s;
        ratios.push(s.as_secs_f64() / r.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let per = |d: Duration| d.as_secs_f64() * 1e6 / (ROUNDS * PER_ROUND) as f64;
    println!(
        "raw reqwest: {:.1} µs/request, SDK: {:.1} µs/request",
        per(raw_total),
        per(sdk_total)
    );
    println!(
        "SDK / raw reqwest, median of {ROUNDS} rounds of {PER_ROUND}: {:.3} (min {:.3}, max {:.3})",
        ratios[ROUNDS / 2],
        ratios[0],
        ratios[ROUNDS - 1]
    );
    Ok(())
}
