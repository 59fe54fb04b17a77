//! The embedded store: several processes on one data folder, `kill -9` mid-burst, and
//! (ignored, run by hand) the upload-cost and server-memory benchmarks.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use cloudflare_images_emulator::{Config, Emulator};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("cf-images-emu-{name}-{}", uuid::Uuid::new_v4()))
}

/// Removes the folder when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An emulator process; killed (SIGKILL on unix) when dropped.
struct Proc {
    child: Child,
    /// `<base>/accounts/<id>/images`
    api: String,
}

impl Proc {
    fn start(dir: &Path) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cloudflare-images-emulator"))
            .arg("--data-dir")
            .arg(dir)
            .args(["--token", TOKEN])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("base URL line");
        let base = line.trim().to_owned();
        if !base.starts_with("http://127.0.0.1:") {
            // It exited: say why.
            let mut why = String::new();
            if let Some(mut err) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut err, &mut why);
            }
            panic!("the emulator did not start (got {base:?}): {why}");
        }
        // Nothing reads stderr from here on: a full pipe must not block the emulator.
        drop(child.stderr.take());
        Proc {
            child,
            api: format!("{base}/accounts/023e105f4ecef8ad9ca31a8372d0c353/images"),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A distinct "PNG" (the emulator sniffs the magic bytes only) of a few hundred bytes.
fn image_bytes(tag: &str) -> Vec<u8> {
    let mut data = b"\x89PNG\r\n\x1a\n".to_vec();
    for i in 0..(tag.len() % 7 + 3) {
        data.extend_from_slice(format!("{tag}:{i};").as_bytes());
    }
    data
}

/// Uploads through raw multipart; returns the id on 200.
async fn upload(
    http: &reqwest::Client,
    api: &str,
    data: &[u8],
    id: Option<&str>,
) -> Result<String, String> {
    let mut form = Form::new().part(
        "file",
        Part::bytes(data.to_vec())
            .file_name("x.png")
            .mime_str("image/png")
            .expect("mime"),
    );
    if let Some(id) = id {
        form = form.text("id", id.to_owned());
    }
    let resp = http
        .post(format!("{api}/v1"))
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let body: Value = resp.json().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status}: {body}"));
    }
    body["result"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no id in {body}"))
}

async fn blob(http: &reqwest::Client, api: &str, id: &str) -> (u16, Vec<u8>) {
    let resp = http
        .get(format!("{api}/v1/{}/blob", enc(id)))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("blob request");
    let status = resp.status().as_u16();
    (status, resp.bytes().await.expect("blob bytes").to_vec())
}

async fn all_ids(http: &reqwest::Client, api: &str) -> Vec<String> {
    let resp: Value = http
        .get(format!("{api}/v1?per_page=10000"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    resp["result"]["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

/// An acknowledged upload: id and bytes.
type Uploaded = (String, Vec<u8>);

/// Ids that need care in paths; the store must keep them exactly.
fn awkward_id(p: usize, i: usize) -> String {
    let odd = [
        "a/b",
        "x\\y",
        "50%",
        "q?x=1",
        "h#f",
        "s;p",
        "../up",
        "sp ace",
        "ünï/😀",
    ];
    format!("p{p}-{i}-{}", odd[i % odd.len()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_data_dir_lose_and_mix_nothing() {
    let dir = TempDir(temp_dir("two-procs"));
    std::fs::create_dir_all(&dir.0).expect("dir");
    // Both start at once on the empty folder: they race to create the database.
    let procs = std::thread::scope(|s| {
        let a = s.spawn(|| Proc::start(&dir.0));
        let b = s.spawn(|| Proc::start(&dir.0));
        [a.join().expect("start a"), b.join().expect("start b")]
    });
    let http = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for (p, proc_) in procs.iter().enumerate() {
        // 4 concurrent writers per process, 25 uploads each.
        for w in 0..4 {
            let http = http.clone();
            let api = proc_.api.clone();
            tasks.spawn(async move {
                let mut done = Vec::new();
                for k in 0..25 {
                    let i = w * 25 + k;
                    // Every 10th image has the same bytes in both processes (shared blob).
                    let data = if i % 10 == 0 {
                        image_bytes(&format!("shared-{i}"))
                    } else {
                        image_bytes(&format!("proc{p}-img{i}"))
                    };
                    let custom = (i % 3 == 0).then(|| awkward_id(p, i));
                    let id = upload(&http, &api, &data, custom.as_deref())
                        .await
                        .unwrap_or_else(|e| panic!("upload {p}/{i}: {e}"));
                    if let Some(custom) = custom {
                        assert_eq!(id, custom, "ids are stored exactly");
                    }
                    done.push((id, data));
                }
                done
            });
        }
    }
    let mut uploaded: HashMap<String, Vec<u8>> = HashMap::new();
    while let Some(done) = tasks.join_next().await {
        for (id, data) in done.expect("task") {
            assert!(uploaded.insert(id, data).is_none(), "ids are unique");
        }
    }
    assert_eq!(uploaded.len(), 200);
    for proc_ in &procs {
        let mut listed = all_ids(&http, &proc_.api).await;
        listed.sort();
        let mut expected: Vec<String> = uploaded.keys().cloned().collect();
        expected.sort();
        assert_eq!(listed, expected, "both processes see all 200 images");
    }
    for (n, (id, data)) in uploaded.iter().enumerate() {
        let (status, bytes) = blob(&http, &procs[n % 2].api, id).await;
        assert_eq!(status, 200, "{id}");
        assert!(bytes == *data, "bytes of {id} are its own");
    }
    // Deleting one of two images with the same bytes keeps the other's blob.
    let shared: Vec<(&String, &Vec<u8>)> = uploaded
        .iter()
        .filter(|(_, d)| **d == image_bytes("shared-0"))
        .collect();
    assert_eq!(shared.len(), 2);
    let resp = http
        .delete(format!("{}/v1/{}", procs[0].api, enc(shared[0].0)))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 200);
    let (status, bytes) = blob(&http, &procs[1].api, shared[1].0).await;
    assert_eq!(status, 200);
    assert!(bytes == *shared[1].1);
    let (status, _) = blob(&http, &procs[1].api, shared[0].0).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_burst_loses_no_acknowledged_upload() {
    let dir = TempDir(temp_dir("kill9"));
    std::fs::create_dir_all(&dir.0).expect("dir");
    let mut proc_ = Proc::start(&dir.0);
    let http = reqwest::Client::new();
    let acked: Arc<Mutex<Vec<Uploaded>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..4 {
        let http = http.clone();
        let api = proc_.api.clone();
        let acked = acked.clone();
        tasks.spawn(async move {
            for i in 0.. {
                let data = image_bytes(&format!("w{w}-i{i}"));
                let custom = (i % 2 == 0).then(|| format!("w{w}/{i} ü"));
                match upload(&http, &api, &data, custom.as_deref()).await {
                    Ok(id) => acked.lock().expect("lock").push((id, data)),
                    // The process is gone.
                    Err(_) => break,
                }
            }
        });
    }
    // Let a burst build up, then SIGKILL while uploads are in flight.
    let started = Instant::now();
    // (On a loaded machine the fsyncs are slow: wait longer, ask for fewer.)
    while acked.lock().expect("lock").len() < 60 && started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    proc_.kill();
    while tasks.join_next().await.is_some() {}
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 10,
        "only {} uploads acknowledged",
        acked.len()
    );

    let again = Proc::start(&dir.0);
    let listed = all_ids(&http, &again.api).await;
    for (id, data) in &acked {
        assert!(listed.contains(id), "acknowledged {id} survived");
        let (status, bytes) = blob(&http, &again.api, id).await;
        assert_eq!(status, 200, "{id}");
        assert!(bytes == *data, "bytes of {id}");
    }
    // The reopened store takes writes.
    upload(&http, &again.api, &image_bytes("after"), None)
        .await
        .expect("upload after restart");
}

/// Upload cost at 1,000 vs 100,000 stored images. Not a pass/fail check; run by hand:
/// `cargo test --release -p cloudflare-images-emulator --test it -- --ignored --nocapture store::upload_cost`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run by hand (see BENCHMARKS.md)"]
async fn upload_cost_stays_flat_as_the_store_grows() {
    const UPLOADS: usize = 300;
    let http = reqwest::Client::new();
    let mut per_upload = BTreeMap::new();
    for stored in [1_000usize, 100_000] {
        let dir = TempDir(temp_dir("bench"));
        let emu = Emulator::start_with(Config {
            api_token: Some(TOKEN.into()),
            data_dir: Some(dir.0.clone()),
            ..Config::default()
        })
        .await
        .expect("start");
        let seeding = Instant::now();
        let seeded = emu.seed_images(stored).await;
        assert_eq!(seeded.len(), stored);
        let seeding = seeding.elapsed();
        let api = format!("{}/accounts/{}/images", emu.base_url(), emu.account_id());
        // Warm up the connection and caches.
        for i in 0..20 {
            upload(&http, &api, &image_bytes(&format!("warm{i}")), None)
                .await
                .expect("upload");
        }
        let started = Instant::now();
        for i in 0..UPLOADS {
            let custom = (i % 2 == 0).then(|| format!("bench/{stored}/{i}"));
            upload(
                &http,
                &api,
                &image_bytes(&format!("b{stored}-{i}")),
                custom.as_deref(),
            )
            .await
            .expect("upload");
        }
        let mean = started.elapsed() / u32::try_from(UPLOADS).expect("small");
        println!("stored {stored:>7}: seeded in {seeding:?}, mean upload {mean:?}");
        per_upload.insert(stored, mean);
        emu.shutdown().await;
    }
    let ratio = per_upload[&100_000].as_secs_f64() / per_upload[&1_000].as_secs_f64();
    println!("upload cost ratio 100,000 / 1,000 stored images: {ratio:.2}");
}

/// Resident memory of a process, in KiB (Linux only).
#[cfg(target_os = "linux")]
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Server memory after storing 50 MiB vs 250 MiB of images (1 MiB each). Not a pass/fail
/// check; run by hand:
/// `cargo test --release -p cloudflare-images-emulator --test it -- --ignored --nocapture store::server_memory`
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run by hand (see BENCHMARKS.md)"]
async fn server_memory_does_not_grow_with_bytes_stored() {
    let dir = TempDir(temp_dir("rss"));
    std::fs::create_dir_all(&dir.0).expect("dir");
    let proc_ = Proc::start(&dir.0);
    let pid = proc_.child.id();
    let http = reqwest::Client::new();
    let mib = |i: usize| {
        let mut data = image_bytes(&format!("big{i}"));
        data.resize(1 << 20, u8::try_from(i % 251).expect("small"));
        data
    };
    let mut stored = 0;
    for target in [50usize, 250] {
        while stored < target {
            upload(&http, &proc_.api, &mib(stored), None)
                .await
                .expect("upload");
            stored += 1;
        }
        println!("{stored:>4} MiB stored: server RSS {} KiB", rss_kib(pid));
    }
}
