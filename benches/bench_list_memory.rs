//! Peak memory of streaming a whole v2 listing, for `scripts/bench-list-memory.sh`
//! (which runs it under `/usr/bin/time` against an emulator process and compares
//! 100,000 images with 10,000).
//!
//! ```sh
//! cargo bench --bench bench_list_memory -- seed DIR N   # N images into DIR
//! cargo bench --bench bench_list_memory -- list         # CLOUDFLARE_* from the environment
//! ```

use cloudflare_images::Client;
use cloudflare_images_emulator::{Config, Emulator};
use futures_util::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` adds `--bench` to the arguments it passes on.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| arg != "--bench")
        .collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["seed", dir, n] => {
            let emu = Emulator::start_with(Config {
                data_dir: Some(dir.into()),
                ..Config::default()
            })
            .await?;
            let ids = emu.seed_images(n.parse()?).await;
            println!("seeded {} images in {dir}", ids.len());
            emu.shutdown().await;
        }
        ["list"] => {
            let client = Client::from_env()?;
            // Every image is looked at and dropped: only the pager holds anything.
            let (count, bytes) = client
                .v2()
                .list_all()
                .per_page(1000)
                .prefetch(true)
                .try_fold((0u64, 0u64), |(n, b), image| async move {
                    Ok((n + 1, b + image.id.map_or(0, |id| id.len() as u64)))
                })
                .await?;
            println!("listed {count} images ({bytes} bytes of ids)");
        }
        _ => return Err("usage: bench_list_memory seed DIR N | list".into()),
    }
    Ok(())
}
